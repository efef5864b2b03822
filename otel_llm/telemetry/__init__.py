"""Telemetry: the only package that talks to OpenTelemetry.

`_instruments` defines every metric, `_handler` records spans and metrics, `_setup` installs the SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from otel_llm.telemetry._route import RouteTarget

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from otel_llm.telemetry._handler import CallRecorder, Telemetry
    from otel_llm.telemetry._readback import MetricPoint, MetricsReadback
    from otel_llm.telemetry._setup import TelemetryProviders, configure

# Loaded on first access (PEP 562): importing OpenTelemetry costs ~40 ms, paid when the first client
# is built rather than by every `import otel_llm`; SDK set-up and read-back are needed once, if at all.
_LAZY = {
    "CallRecorder": "otel_llm.telemetry._handler",
    "Telemetry": "otel_llm.telemetry._handler",
    "MeterProvider": "opentelemetry.metrics",
    "TracerProvider": "opentelemetry.trace",
    "MetricPoint": "otel_llm.telemetry._readback",
    "MetricsReadback": "otel_llm.telemetry._readback",
    "TelemetryProviders": "otel_llm.telemetry._setup",
    "configure": "otel_llm.telemetry._setup",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_llm.telemetry' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
