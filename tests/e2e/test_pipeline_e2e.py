"""The whole product on real parts: SDK -> OTLP -> built collector -> Prometheus 3 -> dashboard and alerts.

A subprocess runs `tests.e2e.workload`: the SDK configured only from OTEL_* variables, calling the fake
provider server through an OpenAI outage that trips its breaker and forces fallbacks. Then, against the
real Prometheus HTTP API:
1. the expected series exist with the expected labels (names derived from telemetry/_instruments.py);
2. every PromQL expression of the shipped dashboard returns data;
3. the breaker-open, spend and unpriced-calls alerts fire (thresholds lowered through test data,
   `for:` shortened; expressions as shipped: see tests.support.backends);
4. the collector's trace file holds semconv spans, and no API key string.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from otel_llm.telemetry import _instruments as inst
from tests.support.backends import (
    COLLECTOR_CONFIG,
    PrometheusAPI,
    rule_files_for_tests,
    run_collector,
    run_prometheus,
    wait_for,
)
from tests.support.dashboards import dashboard_queries, parse_variable_query, substitute_grafana_macros
from tests.support.tools import REPO_ROOT, require_tool

pytestmark = pytest.mark.e2e

JOB = "otel-llm-e2e"
DASHBOARD = REPO_ROOT / "dashboards" / "llm-overview.json"
WORKLOAD_TIMEOUT_S = 60
INGEST_TIMEOUT_S = 30


@dataclass(frozen=True)
class Run:
    api: PrometheusAPI
    traces_file: Path
    keys: list[str]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    for tool in ("otelcol-llm", "prometheus"):
        require_tool(tool)
    tmp_path = tmp_path_factory.mktemp("pipeline")
    rule_files = rule_files_for_tests(
        tmp_path, thresholds={"otel_llm:threshold:spend_usd_per_hour": 0.000001}, for_duration="0s"
    )
    with (
        run_prometheus(tmp_path, rule_files) as prometheus,
        run_collector(
            COLLECTOR_CONFIG, {"OTELCOL_PROMETHEUS_OTLP_ENDPOINT": prometheus.otlp_endpoint}, tmp_path
        ) as collector,
        prometheus.api() as api,
    ):
        keys = _run_workload(collector.otlp_http_endpoint)
        wait_for(
            lambda: (
                api.query(f'otel_llm_circuit_state{{job="{JOB}", gen_ai_provider_name="openai"}} == 2')
                or None
            ),
            timeout=INGEST_TIMEOUT_S,
            what="the workload's final metrics in Prometheus",
        )
        yield Run(api, collector.traces_file, keys)


def _run_workload(otlp_endpoint: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp_endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_SERVICE_NAME=JOB,
        OTEL_METRIC_EXPORT_INTERVAL="500",
        OTEL_BSP_SCHEDULE_DELAY="200",
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_ONLY",  # the collector must delete it
    )
    result = subprocess.run(
        [sys.executable, "-m", "tests.e2e.workload"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=WORKLOAD_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.split()


def test_expected_series_exist_with_expected_labels(run: Run) -> None:
    resource_labels = {
        "job",
        "instance",
        "service_name",
        "service_instance_id",
        "service_namespace",
        "__name__",
    }
    for spec in inst.ALL_INSTRUMENTS:
        if spec is inst.TIME_TO_FIRST_CHUNK:
            continue  # checked below, with the streaming calls
        for name in spec.prometheus_series():
            series = run.api.series(f'{name}{{job="{JOB}"}}')
            assert series, f"no series {name}"
            for labels in series:
                extra = set(labels) - spec.prometheus_labels() - resource_labels - {"le"}
                assert not extra, f"{name} has undeclared labels {extra}"

    def values(expr: str, label: str) -> set[str]:
        return {sample["metric"].get(label, "") for sample in run.api.query(expr)}

    calls = f'gen_ai_client_operation_duration_seconds_count{{job="{JOB}"}}'
    assert values(calls, "gen_ai_provider_name") >= {"openai", "anthropic", "gcp.gemini"}
    assert values(calls, "gen_ai_operation_name") == {"chat"}
    # Calls without a fallback after the outage tripped the breaker fail fast, without a request.
    assert "circuit_open" in values(calls, "error_type")
    assert values(f'gen_ai_client_token_usage_sum{{job="{JOB}"}}', "gen_ai_token_type") == {"input", "output"}
    assert values(f'otel_llm_fallbacks_total{{job="{JOB}"}}', "error_type") >= {"overloaded", "circuit_open"}
    assert values(f'otel_llm_retries_total{{job="{JOB}"}}', "error_type") >= {"overloaded", "rate_limit"}
    assert values(f'otel_llm_circuit_transitions_total{{job="{JOB}"}}', "otel_llm_circuit_state") == {"open"}
    assert values(f'otel_llm_cost_unpriced_total{{job="{JOB}"}}', "gen_ai_request_model") == {
        "gemini-exp-unpriced"
    }
    # Budgets, the cache and a named chain (the workload's second client).
    assert values(f'otel_llm_cache_requests_total{{job="{JOB}"}}', "otel_llm_cache_result") == {"hit", "miss"}
    assert values(f'otel_llm_budget_rejections_total{{job="{JOB}"}}', "otel_llm_attribution_feature") == {
        "bulk"
    }
    assert values(f'otel_llm_budget_soft_limit_exceeded_total{{job="{JOB}"}}', "otel_llm_budget_name") == {
        "team-daily"
    }
    assert values(f'otel_llm_routing_decisions_total{{job="{JOB}"}}', "otel_llm_routing_chain") == {"support"}
    ttfc = f'gen_ai_client_operation_time_to_first_chunk_seconds_count{{job="{JOB}"}}'
    assert values(ttfc, "gen_ai_provider_name") >= {"openai", "anthropic"}


def test_every_dashboard_query_returns_data(run: Run) -> None:
    queries = dashboard_queries(DASHBOARD)
    assert queries
    empty = []
    for query in queries:
        if query.source == "variable":  # label_values(selector, label): the dropdown must list values
            variable = parse_variable_query(query.expr)
            assert variable.expr is not None and variable.label is not None
            listed = {s.get(variable.label) for s in run.api.series(substitute_grafana_macros(variable.expr))}
            if not listed - {None}:
                empty.append(f"variable {query.title}: {query.expr}")
            continue
        expr = substitute_grafana_macros(query.expr, rate_interval="1m")
        if not run.api.query(expr):
            empty.append(f"{query.title} [{query.ref_id}]: {expr}")
    assert empty == []


def test_breaker_spend_and_unpriced_alerts_fire(run: Run) -> None:
    expected = {"LLMCircuitBreakerOpen", "LLMSpendPerHourHigh", "LLMUnpricedCalls"}

    def firing() -> dict[str, dict[str, Any]] | None:
        alerts = {
            alert["labels"]["alertname"]: alert
            for alert in run.api.alerts()
            if alert["state"] == "firing" and alert["labels"].get("job") == JOB
        }
        return alerts if expected <= alerts.keys() else None

    alerts = wait_for(firing, timeout=INGEST_TIMEOUT_S, what=f"alerts {sorted(expected)} firing")
    assert alerts["LLMCircuitBreakerOpen"]["labels"]["gen_ai_provider_name"] == "openai"
    assert alerts["LLMSpendPerHourHigh"]["labels"]["severity"] == "page"
    assert alerts["LLMUnpricedCalls"]["labels"]["gen_ai_request_model"] == "gemini-exp-unpriced"
    healthy = [r["name"] for g in run.api.rule_groups() for r in g["rules"] if r["health"] != "ok"]
    assert healthy == []


def test_trace_file_holds_semconv_spans_and_no_api_key(run: Run) -> None:
    deadline = time.monotonic() + INGEST_TIMEOUT_S
    spans: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not any(s["name"] == "chat gpt-4o-mini" for s in spans):
        time.sleep(0.5)
        spans = list(_spans(run.traces_file))
    text = run.traces_file.read_text()
    assert run.keys and not [key for key in run.keys if key in text]

    calls = [s for s in spans if s["name"] == "chat gpt-4o-mini"]
    assert calls, "no call spans exported"
    served = [s for s in calls if "gen_ai.usage.input_tokens" in s["attributes"]]
    for span in served:
        attributes = span["attributes"]
        assert span["kind"] == 3  # SPAN_KIND_CLIENT
        assert attributes["gen_ai.operation.name"] == "chat"
        assert attributes["gen_ai.provider.name"] in {"openai", "anthropic", "gcp.gemini"}
        assert attributes["server.address"] == "127.0.0.1"
        assert "gen_ai.input.messages" not in attributes  # captured by the SDK, deleted by the collector
    assert {s["attributes"]["gen_ai.provider.name"] for s in served} >= {"openai", "anthropic"}
    failed = [s for s in calls if s["attributes"].get("error.type") == "circuit_open"]
    assert failed and all(s["status"].get("code") == 2 for s in failed)  # STATUS_CODE_ERROR
    attempts = [s for s in spans if s["name"] == "otel_llm.attempt"]
    assert {s["attributes"].get("error.type") for s in attempts} >= {"overloaded", None}


def _spans(path: Path) -> Iterator[dict[str, Any]]:
    """Spans of the collector's OTLP/JSON file, attributes flattened to plain values."""
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        for resource_spans in json.loads(line).get("resourceSpans", []):
            for scope_spans in resource_spans.get("scopeSpans", []):
                for span in scope_spans.get("spans", []):
                    span["attributes"] = {a["key"]: _value(a["value"]) for a in span.get("attributes", [])}
                    span.setdefault("status", {})
                    yield span


def _value(value: dict[str, Any]) -> Any:
    if "arrayValue" in value:
        return [_value(v) for v in value["arrayValue"].get("values", [])]
    ((kind, raw),) = value.items()
    return int(raw) if kind == "intValue" else raw
