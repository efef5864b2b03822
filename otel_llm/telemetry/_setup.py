"""`configure()`: OpenTelemetry SDK set-up from the standard `OTEL_*` environment variables.

The only module that imports the OpenTelemetry SDK and exporters, lazily, so `import otel_llm` stays cheap
and applications that bring their own SDK set-up never load ours.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import metrics, trace

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace.export import SpanExporter

_DEFAULT_PROTOCOL = "http/protobuf"  # the OTLP exporter spec's default


@dataclass(frozen=True, slots=True)
class TelemetryProviders:
    """The providers `configure()` installed or found.

    Attributes:
        tracer_provider: The global tracer provider now in effect.
        meter_provider: The global meter provider now in effect.
        installed: Whether `configure()` created them (so `shutdown()` is ours to call).
    """

    tracer_provider: trace.TracerProvider
    meter_provider: metrics.MeterProvider
    installed: bool

    def shutdown(self) -> None:
        """Flush and shut down providers that `configure()` created; others are left alone."""
        if not self.installed:
            return
        for provider in (self.tracer_provider, self.meter_provider):
            shutdown = getattr(provider, "shutdown", None)
            if callable(shutdown):
                shutdown()


def configure(
    *,
    service_name: str | None = None,
    span_processors: Sequence[SpanProcessor] = (),
    metric_readers: Sequence[MetricReader] = (),
    metric_export_interval: float | None = None,
) -> TelemetryProviders:
    """Install OpenTelemetry tracing and metrics with OTLP exporters, unless the application already did.

    Exporters follow the standard variables: `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER` (`otlp`
    by default, `none` to disable), `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL`
    (`http/protobuf` by default, or `grpc`), `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME`,
    `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_METRIC_EXPORT_INTERVAL`. With `OTEL_SDK_DISABLED=true` nothing is
    installed.

    Args:
        service_name: `service.name` when `OTEL_SERVICE_NAME` is not set.
        span_processors: Extra span processors (e.g. an in-memory exporter for tests or a summary).
        metric_readers: Extra metric readers.
        metric_export_interval: Seconds between metric exports (default: the SDK's, 60 s).

    Returns:
        The providers in effect, with `shutdown()` to flush on exit.

    Example:
        >>> providers = otel_llm.configure(service_name="chat-api")
        >>> ...
        >>> providers.shutdown()
    """
    current_tracer = trace.get_tracer_provider()
    current_meter = metrics.get_meter_provider()
    if _sdk_disabled() or _already_configured(current_tracer, current_meter):
        return TelemetryProviders(current_tracer, current_meter, installed=False)

    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Attributes passed to Resource.create() override the environment's, so `service_name` is only a
    # default: it applies when neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES names the service.
    named_by_env = bool(os.environ.get("OTEL_SERVICE_NAME")) or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    resource = Resource.create({} if named_by_env or not service_name else {"service.name": service_name})

    tracer_provider = TracerProvider(resource=resource)
    if _exporter_enabled("OTEL_TRACES_EXPORTER"):
        tracer_provider.add_span_processor(BatchSpanProcessor(_span_exporter()))
    for processor in span_processors:
        tracer_provider.add_span_processor(processor)

    readers: list[MetricReader] = list(metric_readers)
    if _exporter_enabled("OTEL_METRICS_EXPORTER"):
        interval_ms = None if metric_export_interval is None else metric_export_interval * 1000
        readers.append(PeriodicExportingMetricReader(_metric_exporter(), export_interval_millis=interval_ms))
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)

    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    return TelemetryProviders(tracer_provider, meter_provider, installed=True)


def _sdk_disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def _already_configured(tracer: trace.TracerProvider, meter: metrics.MeterProvider) -> bool:
    # Until an application installs providers, the API hands out proxies (no public class for the
    # meter one, hence the name check); anything else means "someone configured OpenTelemetry".
    unset_tracer = isinstance(tracer, trace.ProxyTracerProvider)
    unset_meter = type(meter).__name__ == "_ProxyMeterProvider"
    return not (unset_tracer and unset_meter)


def _exporter_enabled(variable: str) -> bool:
    names = {name.strip().lower() for name in os.environ.get(variable, "otlp").split(",")}
    return "otlp" in names


def _protocol(signal: str) -> str:
    return (
        os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or _DEFAULT_PROTOCOL
    ).strip()


def _span_exporter() -> SpanExporter:
    if _protocol("TRACES") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter

        return GrpcSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def _metric_exporter() -> MetricExporter:
    if _protocol("METRICS") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        return GrpcMetricExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter()
