"""`configure()` installs global providers, so each case runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from otel_llm.telemetry import _setup


def run_python(code: str, **env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    clean.update(env)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


REPORT = """
    import json
    from opentelemetry import metrics, trace
    tp, mp = trace.get_tracer_provider(), metrics.get_meter_provider()
    print(json.dumps({
        "installed": providers.installed,
        "tracer": type(tp).__module__ + "." + type(tp).__name__,
        "same": tp is providers.tracer_provider and mp is providers.meter_provider,
        "service": tp.resource.attributes.get("service.name") if hasattr(tp, "resource") else None,
    }))
    providers.shutdown()
"""


def test_installs_sdk_providers_from_the_environment() -> None:
    report = run_python(
        "import otel_llm\nproviders = otel_llm.configure(service_name='chat-api')\n"
        + textwrap.dedent(REPORT),
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="none",
    )
    assert report == {
        "installed": True,
        "tracer": "opentelemetry.sdk.trace.TracerProvider",
        "same": True,
        "service": "chat-api",
    }


def test_otel_service_name_wins_over_the_argument() -> None:
    report = run_python(
        "import otel_llm\nproviders = otel_llm.configure(service_name='chat-api')\n"
        + textwrap.dedent(REPORT),
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="none",
        OTEL_SERVICE_NAME="from-env",
    )
    assert report["service"] == "from-env"


def test_service_name_in_resource_attributes_wins_over_the_argument() -> None:
    report = run_python(
        "import otel_llm\nproviders = otel_llm.configure(service_name='chat-api')\n"
        + textwrap.dedent(REPORT),
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="none",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=prod,service.name=from-attrs",
    )
    assert report["service"] == "from-attrs"


def test_leaves_an_application_s_own_providers_alone() -> None:
    code = """
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        trace.set_tracer_provider(TracerProvider(resource=Resource.create({"service.name": "theirs"})))
        metrics.set_meter_provider(MeterProvider())
        import otel_llm
        providers = otel_llm.configure(service_name="ours")
    """
    report = run_python(textwrap.dedent(code) + textwrap.dedent(REPORT))
    assert report["installed"] is False
    assert report["same"] is True
    assert report["service"] == "theirs"


def test_sdk_disabled_installs_nothing() -> None:
    report = run_python(
        "import otel_llm\nproviders = otel_llm.configure()\n" + textwrap.dedent(REPORT),
        OTEL_SDK_DISABLED="true",
    )
    assert report["installed"] is False
    assert report["tracer"] == "opentelemetry.trace.ProxyTracerProvider"


@pytest.mark.parametrize(
    ("protocol", "module"),
    [
        ("grpc", "opentelemetry.exporter.otlp.proto.grpc"),
        ("http/protobuf", "opentelemetry.exporter.otlp.proto.http"),
    ],
)
def test_otlp_protocol_selects_the_exporter(
    monkeypatch: pytest.MonkeyPatch, protocol: str, module: str
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    span_exporter, metric_exporter = _setup._span_exporter(), _setup._metric_exporter()
    try:
        assert type(span_exporter).__module__.startswith(module)
        assert type(metric_exporter).__module__.startswith(module)
    finally:
        span_exporter.shutdown()
        metric_exporter.shutdown()
