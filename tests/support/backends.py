"""Run the real collector and Prometheus on loopback, and query Prometheus' HTTP API.

`run_collector()` and `run_prometheus()` start the binaries from `tests.support.tools` on free
127.0.0.1 ports, write their logs into the test's tmp_path, wait (with a deadline) until they report
ready, and always stop them on exit: terminate, then kill if they do not exit in time.

Prometheus runs with a configuration generated per test: the shipped OTLP settings
(collector/prometheus/prometheus.yml), a 1 s rule evaluation interval and the rule files the test
passes. Alert rules are the shipped ones; tests change only data (`write_thresholds()`) and, because
Prometheus cannot read `for:` durations from data, the durations (`write_alert_rules_with_for()`).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
import yaml

from tests.support.tools import REPO_ROOT, require_tool

COLLECTOR_CONFIG = REPO_ROOT / "collector" / "otelcol.yaml"
PROMETHEUS_DIR = REPO_ROOT / "collector" / "prometheus"
SHIPPED_PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
SHIPPED_ALERT_RULES = PROMETHEUS_DIR / "rules" / "otel-llm-alerts.yml"
SHIPPED_THRESHOLDS = PROMETHEUS_DIR / "rules" / "otel-llm-thresholds.yml"

# Cold starts on a loaded CI runner take a few seconds; the deadline only bounds a broken start.
STARTUP_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 10.0
_POLL_INTERVAL_S = 0.1

T = TypeVar("T")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(check: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.25) -> T:
    """Call `check` until it returns something truthy and return that; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# --- collector --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Collector:
    """A running collector: where to send OTLP and where its outputs go."""

    otlp_grpc_endpoint: str
    otlp_http_endpoint: str
    health_url: str
    traces_file: Path
    log_file: Path


@contextmanager
def run_collector(
    config_path: Path,
    env: Mapping[str, str],
    tmp_path: Path,
    *,
    startup_timeout: float = STARTUP_TIMEOUT_S,
) -> Iterator[Collector]:
    """Run `otelcol-llm --config=<config_path>` until the block exits.

    The config reads its endpoints and paths from the environment variables of
    collector/otelcol.yaml (`OTELCOL_*`); this sets them to free loopback ports and files in
    tmp_path, then applies `env` on top (e.g. `OTELCOL_PROMETHEUS_OTLP_ENDPOINT`). The process gets
    no other environment, so a developer's own OTELCOL_* variables cannot change the test.
    """
    binary = require_tool("otelcol-llm")
    grpc_port, http_port, health_port, telemetry_port = (free_port() for _ in range(4))
    traces_file = tmp_path / "otelcol-traces.jsonl"
    process_env = {
        "PATH": os.environ.get("PATH", ""),
        "OTELCOL_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{grpc_port}",
        "OTELCOL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{http_port}",
        "OTELCOL_HEALTH_CHECK_ENDPOINT": f"127.0.0.1:{health_port}",
        "OTELCOL_TELEMETRY_HOST": "127.0.0.1",
        "OTELCOL_TELEMETRY_PORT": str(telemetry_port),
        "OTELCOL_TRACES_FILE": str(traces_file),
        **env,
    }
    collector = Collector(
        otlp_grpc_endpoint=f"127.0.0.1:{grpc_port}",
        otlp_http_endpoint=f"http://127.0.0.1:{http_port}",
        health_url=f"http://127.0.0.1:{health_port}/",
        traces_file=traces_file,
        log_file=tmp_path / "otelcol.log",
    )
    with _running(
        [str(binary), f"--config=file:{config_path}"],
        name="otelcol-llm",
        env=process_env,
        cwd=tmp_path,
        log_file=collector.log_file,
        is_ready=lambda: _http_ok(collector.health_url),
        startup_timeout=startup_timeout,
    ):
        yield collector


# --- Prometheus -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prometheus:
    """A running Prometheus: its base URL, OTLP endpoint (for an `otlp_http` exporter) and files."""

    url: str
    otlp_endpoint: str
    config_file: Path
    log_file: Path

    def api(self) -> PrometheusAPI:
        """Return a client for this server's HTTP API; close it (or use it as a context manager)."""
        return PrometheusAPI(self.url)


@contextmanager
def run_prometheus(
    tmp_path: Path,
    rule_files: Sequence[Path] = (),
    *,
    evaluation_interval: str = "1s",
    extra_args: Sequence[str] = (),
    startup_timeout: float = STARTUP_TIMEOUT_S,
) -> Iterator[Prometheus]:
    """Run Prometheus 3 with its OTLP receiver until the block exits.

    Args:
        tmp_path: Directory for the generated config, the TSDB and the log.
        rule_files: Rule files to load, e.g. `rule_files_for_tests(...)`.
        evaluation_interval: Global rule evaluation interval; 1 s keeps alert tests short.
        extra_args: More command-line flags (feature flags, log level).
        startup_timeout: Seconds to wait for `/-/ready` before giving up.
    """
    binary = require_tool("prometheus")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(
        yaml.safe_dump(_prometheus_test_config(rule_files, evaluation_interval), sort_keys=False),
        encoding="utf-8",
    )
    server = Prometheus(
        url=url,
        otlp_endpoint=f"{url}/api/v1/otlp",
        config_file=config_file,
        log_file=tmp_path / "prometheus.log",
    )
    args = [
        str(binary),
        f"--config.file={config_file}",
        f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-otlp-receiver",
        *extra_args,
    ]
    with _running(
        args,
        name="prometheus",
        env={"PATH": os.environ.get("PATH", "")},
        cwd=tmp_path,
        log_file=server.log_file,
        is_ready=lambda: _http_ok(f"{url}/-/ready"),
        startup_timeout=startup_timeout,
    ):
        yield server


def _prometheus_test_config(rule_files: Sequence[Path], evaluation_interval: str) -> dict[str, Any]:
    # OTLP and storage settings come from the shipped config so the tests exercise what users run
    # (promoted resource attributes, translation strategy, out-of-order window).
    shipped = yaml.safe_load(SHIPPED_PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    return {
        "global": {"scrape_interval": "15s", "evaluation_interval": evaluation_interval},
        "rule_files": [str(path) for path in rule_files],
        "otlp": shipped["otlp"],
        "storage": shipped.get("storage", {}),
    }


class PrometheusAPIError(RuntimeError):
    """Prometheus answered a request with `"status": "error"` or a body that is not its API's JSON."""


class PrometheusAPI:
    """A small synchronous client for the parts of `/api/v1` the tests use."""

    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self._client = httpx.Client(base_url=base_url, timeout=timeout)

    def close(self) -> None:
        """Close the underlying HTTP client."""
        self._client.close()

    def __enter__(self) -> PrometheusAPI:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Evaluate an instant query now; return the samples (`{"metric": {...}, "value": [t, v]}`)."""
        data = self._get("/api/v1/query", {"query": expr})
        if data["resultType"] == "vector":
            result: list[dict[str, Any]] = data["result"]
            return result
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        raise PrometheusAPIError(f"query {expr!r} returned a {data['resultType']}, not a vector")

    def series(self, match: str) -> list[dict[str, str]]:
        """Return the label sets of the series matching the selector `match`."""
        result: list[dict[str, str]] = self._get("/api/v1/series", {"match[]": match})
        return result

    def label_values(self, name: str) -> list[str]:
        """Return every value of label `name` (`__name__` lists metric names)."""
        result: list[str] = self._get(f"/api/v1/label/{name}/values", {})
        return result

    def alerts(self) -> list[dict[str, Any]]:
        """Return the pending and firing alerts."""
        alerts: list[dict[str, Any]] = self._get("/api/v1/alerts", {})["alerts"]
        return alerts

    def rule_groups(self) -> list[dict[str, Any]]:
        """Return the loaded rule groups with each rule's health and last error."""
        groups: list[dict[str, Any]] = self._get("/api/v1/rules", {})["groups"]
        return groups

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        response = self._client.get(path, params=dict(params))
        try:
            body = response.json()
        except ValueError as exc:
            raise PrometheusAPIError(f"GET {path}: HTTP {response.status_code}, not JSON") from exc
        if body.get("status") != "success":
            raise PrometheusAPIError(
                f"GET {path} {dict(params)}: {body.get('errorType')}: {body.get('error')}"
            )
        return body["data"]


# --- rule files for tests ---------------------------------------------------------------------

_ALERT_LINE = re.compile(r"^\s*-\s*alert:\s*(?P<name>\S+)\s*$")
_RECORD_LINE = re.compile(r"^\s*-\s*record:")
_FOR_LINE = re.compile(r"^(?P<prefix>\s*for:\s*)(?P<value>\S+)(?P<suffix>\s*(#.*)?)$")


def write_alert_rules_with_for(
    dest: Path,
    durations: str | Mapping[str, str],
    source: Path = SHIPPED_ALERT_RULES,
) -> Path:
    """Write a copy of the shipped alert rules in which ONLY `for:` durations differ.

    Expressions, labels, annotations, recording rules and even the file's formatting are copied
    unchanged; the copy is then parsed and compared with the original to prove it.

    Args:
        dest: Where to write the copy.
        durations: One duration for every alert that has a `for:`, or alert name -> duration for
            some of them (the others keep theirs).
        source: The rule file to copy.

    Returns:
        `dest`.

    Raises:
        ValueError: An alert named in `durations` does not exist or has no `for:`.
    """
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    replaced: set[str] = set()
    current_alert: str | None = None
    out: list[str] = []
    for line in lines:
        if match := _ALERT_LINE.match(line.rstrip("\n")):
            current_alert = match["name"]
        elif _RECORD_LINE.match(line):
            current_alert = None
        elif current_alert and (match := _FOR_LINE.match(line.rstrip("\n"))):
            new = durations if isinstance(durations, str) else durations.get(current_alert)
            if new is not None:
                line = f"{match['prefix']}{new}{match['suffix']}\n"
                replaced.add(current_alert)
        out.append(line)
    if not isinstance(durations, str) and (missing := set(durations) - replaced):
        raise ValueError(f"no alert with a `for:` named {sorted(missing)} in {source}")
    dest.write_text("".join(out), encoding="utf-8")
    _assert_only_for_changed(source, dest)
    return dest


def _assert_only_for_changed(original: Path, copy: Path) -> None:
    def without_for(path: Path) -> Any:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in document["groups"]:
            for rule in group["rules"]:
                rule.pop("for", None)
        return document

    if without_for(original) != without_for(copy):
        raise AssertionError(f"{copy} differs from {original} in more than `for:` durations")


def write_thresholds(dest: Path, overrides: Mapping[str, float], source: Path = SHIPPED_THRESHOLDS) -> Path:
    """Write a thresholds file: the shipped one with some recorded values replaced.

    Args:
        dest: Where to write it.
        overrides: Recording rule name -> value, e.g. `{"otel_llm:threshold:spend_usd_per_hour": 0.01}`.
        source: The thresholds file to start from.

    Returns:
        `dest`.

    Raises:
        ValueError: A name in `overrides` is not a threshold of `source`.
    """
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    seen: set[str] = set()
    for group in document["groups"]:
        for rule in group["rules"]:
            if rule.get("record") in overrides:
                rule["expr"] = f"vector({overrides[rule['record']]!r})"
                seen.add(rule["record"])
    if missing := set(overrides) - seen:
        raise ValueError(f"{source} has no thresholds named {sorted(missing)}")
    dest.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return dest


def rule_files_for_tests(
    tmp_path: Path, *, thresholds: Mapping[str, float], for_duration: str = "0s"
) -> list[Path]:
    """Rule files for a test Prometheus: lowered thresholds and the shipped alerts with short `for:`."""
    return [
        write_thresholds(tmp_path / "otel-llm-thresholds.yml", thresholds),
        write_alert_rules_with_for(tmp_path / "otel-llm-alerts.yml", for_duration),
    ]


# --- process management -----------------------------------------------------------------------


@contextmanager
def _running(
    args: list[str],
    *,
    name: str,
    env: Mapping[str, str],
    cwd: Path,
    log_file: Path,
    is_ready: Callable[[], bool],
    startup_timeout: float,
) -> Iterator[subprocess.Popen[bytes]]:
    with log_file.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=dict(env), cwd=cwd)
        try:
            _wait_until_ready(process, name, log_file, is_ready, startup_timeout)
            yield process
        finally:
            _stop(process)


def _wait_until_ready(
    process: subprocess.Popen[bytes],
    name: str,
    log_file: Path,
    is_ready: Callable[[], bool],
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"{name} exited with {process.returncode} before it was ready:\n{_tail(log_file)}"
            )
        if is_ready():
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{name} not ready after {timeout:.0f} s:\n{_tail(log_file)}")
        time.sleep(_POLL_INTERVAL_S)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


def _tail(log_file: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(log {log_file} unreadable: {exc})"
