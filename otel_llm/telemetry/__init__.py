"""Telemetry: the only package that talks to OpenTelemetry.

`_instruments` defines every metric, `_handler` records spans and metrics, `_setup` installs the SDK.
"""

from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from otel_llm.telemetry._handler import CallRecorder, RouteTarget, Telemetry
from otel_llm.telemetry._readback import MetricPoint, MetricsReadback
from otel_llm.telemetry._setup import TelemetryProviders, configure

__all__ = [
    "CallRecorder",
    "MeterProvider",
    "MetricPoint",
    "MetricsReadback",
    "RouteTarget",
    "Telemetry",
    "TelemetryProviders",
    "TracerProvider",
    "configure",
]
