"""Smoke test of the shipped backend configuration with the real binaries.

OpenTelemetry SDK --OTLP/HTTP--> otelcol-llm (collector/otelcol.yaml) --otlp_http--> Prometheus 3
                                                                     --file-->      traces JSON lines

Proves the pipeline end to end: the metric arrives in Prometheus under the name and labels the
contract predicts (resource attributes promoted as configured), and the span reaches the trace
file with prompts deleted and an API key masked.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_llm.telemetry import _instruments
from tests.support.backends import COLLECTOR_CONFIG, run_collector, run_prometheus, wait_for
from tests.support.tools import require_tool

pytestmark = pytest.mark.e2e

TEST_BUDGET_S = 60.0
SERVICE = "otel-llm-e2e-smoke"
SPAN_NAME = "chat gpt-4o-mini"
# Shaped like real keys so the collector's patterns match; not credentials. The OpenAI-style key
# is masked by the transform processor, the AWS-style one only by the redaction processor, so
# both layers are exercised.
FAKE_API_KEY = "sk-proj-" + "x" * 40
FAKE_AWS_KEY_ID = "AKIA" + "X" * 16
# The Prometheus name the contract predicts for the call counter.
OPERATION_COUNT = next(
    name for name in _instruments.OPERATION_DURATION.prometheus_series() if name.endswith("_count")
)
CALL_ATTRIBUTES = {
    _instruments.OPERATION_NAME: "chat",
    _instruments.PROVIDER_NAME: "openai",
    _instruments.REQUEST_MODEL: "gpt-4o-mini",
}


def test_metric_reaches_prometheus_and_span_reaches_the_trace_file(tmp_path: Path) -> None:
    require_tool("otelcol-llm")
    require_tool("prometheus")
    deadline = time.monotonic() + TEST_BUDGET_S

    def remaining() -> float:
        return max(deadline - time.monotonic(), 1.0)

    with (
        run_prometheus(tmp_path, startup_timeout=20) as prometheus,
        run_collector(
            COLLECTOR_CONFIG,
            {"OTELCOL_PROMETHEUS_OTLP_ENDPOINT": prometheus.otlp_endpoint},
            tmp_path,
            startup_timeout=20,
        ) as collector,
    ):
        resource = Resource.create({"service.name": SERVICE, "service.instance.id": "smoke-1"})
        _export_one_call(collector.otlp_http_endpoint, resource)

        series = OPERATION_COUNT
        with prometheus.api() as api:
            samples = wait_for(
                lambda: api.query(f'{series}{{job="{SERVICE}"}}'),
                timeout=remaining(),
                what=f"{series} in Prometheus",
            )
        labels = samples[0]["metric"]
        assert float(samples[0]["value"][1]) == 1
        assert labels["gen_ai_provider_name"] == "openai"
        assert labels["gen_ai_request_model"] == "gpt-4o-mini"
        assert labels["service_name"] == SERVICE  # promoted by the shipped prometheus.yml
        assert labels["instance"] == "smoke-1"

        span = wait_for(
            lambda: _find_span(collector.traces_file, SPAN_NAME),
            timeout=remaining(),
            what=f"span {SPAN_NAME!r} in {collector.traces_file}",
        )
    attributes = {item["key"]: item["value"] for item in span["attributes"]}
    assert attributes[_instruments.REQUEST_MODEL] == {"stringValue": "gpt-4o-mini"}
    assert "gen_ai.input.messages" not in attributes, "prompts must be deleted by the collector"
    traces = collector.traces_file.read_text(encoding="utf-8")
    assert FAKE_API_KEY not in traces
    assert FAKE_AWS_KEY_ID not in traces
    assert "otel_llm.test.leaked_key_id" in attributes, "masked, not dropped: allow_all_keys keeps keys"


def _export_one_call(endpoint: str, resource: Resource) -> None:
    """Record one call's duration and span with the OTel SDK and flush both synchronously."""
    # A long interval: the explicit shutdown below exports, so nothing races the assertions.
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics", timeout=10),
        export_interval_millis=3_600_000,
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    spec = _instruments.OPERATION_DURATION
    histogram = meter_provider.get_meter("otel-llm-e2e").create_histogram(
        spec.name,
        unit=spec.unit,
        description=spec.description,
        explicit_bucket_boundaries_advisory=list(spec.buckets or ()),
    )
    histogram.record(0.42, CALL_ATTRIBUTES)

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", timeout=10))
    )
    with tracer_provider.get_tracer("otel-llm-e2e").start_as_current_span(SPAN_NAME) as span:
        span.set_attributes(CALL_ATTRIBUTES)
        span.set_attribute("gen_ai.input.messages", '[{"role": "user", "parts": [{"content": "secret"}]}]')
        span.set_attribute("otel_llm.test.leaked_header", f"Authorization: Bearer {FAKE_API_KEY}")
        span.set_attribute("otel_llm.test.leaked_key_id", FAKE_AWS_KEY_ID)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def _find_span(traces_file: Path, name: str) -> dict[str, Any] | None:
    if not traces_file.exists():
        return None
    for line in traces_file.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        for resource_spans in json.loads(line).get("resourceSpans", []):
            for scope_spans in resource_spans.get("scopeSpans", []):
                for span in scope_spans.get("spans", []):
                    if span.get("name") == name:
                        found: dict[str, Any] = span
                        return found
    return None
