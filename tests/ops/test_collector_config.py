"""collector/otelcol.yaml: valid for the built distribution, canonical component names, safe traces."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import yaml

from tests.support.backends import COLLECTOR_CONFIG
from tests.support.tools import REPO_ROOT, require_tool

# Deprecated aliases of components our distribution still accepts (contrib issue #45339); the
# shipped config must use the canonical names so it keeps working when the aliases go away.
DEPRECATED_TYPES = {
    "exporters": {"otlp", "otlphttp", "loadbalancing", "prometheusremotewrite"},
    "connectors": {"spanmetrics"},
    "processors": {"memorylimiter", "tailsampling"},
    "extensions": {"healthcheck", "filestorage"},
}


def _config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(COLLECTOR_CONFIG.read_text(encoding="utf-8"))
    return config


def test_validates_with_the_built_collector_and_default_env() -> None:
    binary = require_tool("otelcol-llm")
    # Only PATH: every ${env:...} in the file must have a default.
    result = subprocess.run(
        [str(binary), "validate", f"--config=file:{COLLECTOR_CONFIG}"],
        env={"PATH": os.environ.get("PATH", "")},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_component_types_are_known_to_the_distribution() -> None:
    binary = require_tool("otelcol-llm")
    result = subprocess.run(
        [str(binary), "components"], capture_output=True, text=True, timeout=60, check=True
    )
    available = yaml.safe_load(result.stdout)
    config = _config()
    for section in ("receivers", "processors", "exporters", "extensions", "connectors"):
        names = {component["name"] for component in available.get(section) or []}
        used = {key.split("/", 1)[0] for key in config.get(section) or {}}
        assert used <= names, f"{section}: {sorted(used - names)} not in the distribution"


def test_uses_canonical_component_names() -> None:
    config = _config()
    for section, deprecated in DEPRECATED_TYPES.items():
        used = {key.split("/", 1)[0] for key in config.get(section) or {}}
        assert not used & deprecated, f"{section}: deprecated type names {sorted(used & deprecated)}"


def test_every_endpoint_and_path_is_configurable_with_a_loopback_default() -> None:
    config = _config()
    endpoints = [
        config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"],
        config["receivers"]["otlp"]["protocols"]["http"]["endpoint"],
        config["extensions"]["health_check"]["endpoint"],
        config["exporters"]["otlp_http/prometheus"]["endpoint"],
    ]
    for endpoint in endpoints:
        assert endpoint.startswith("${env:") and ":-" in endpoint, endpoint
        default = endpoint.split(":-", 1)[1]
        assert "127.0.0.1" in default, f"{endpoint} must default to loopback, not every interface"
    assert "0.0.0.0" not in yaml.safe_dump(config)
    assert config["exporters"]["file/traces"]["path"].startswith("${env:")


def test_pipelines_limit_memory_first_and_redact_traces_before_export() -> None:
    pipelines = _config()["service"]["pipelines"]
    for name, pipeline in pipelines.items():
        assert pipeline["processors"][0] == "memory_limiter", name
    traces = pipelines["traces"]["processors"]
    assert traces.index("transform/genai_redact") < traces.index("redaction") < traces.index("batch")
    assert pipelines["metrics"]["exporters"] == ["otlp_http/prometheus"]
    assert pipelines["traces"]["exporters"] == ["file/traces"]


def test_redaction_covers_prompts_and_api_keys() -> None:
    processors = _config()["processors"]
    statements = [
        statement
        for block in processors["transform/genai_redact"]["trace_statements"]
        for statement in block["statements"]
    ]
    deletes = [s for s in statements if s.startswith("delete_matching_keys")]
    for key in ("input", "output", "system_instructions"):
        assert all(key in s for s in deletes), key
    blocked = processors["redaction"]["blocked_values"]
    assert any(pattern.startswith("sk-") for pattern in blocked)
    assert any(pattern.startswith("AIza") for pattern in blocked)
    assert processors["redaction"]["allow_all_keys"] is True
