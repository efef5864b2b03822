"""Telemetry: the only package that talks to OpenTelemetry.

`_instruments` defines every metric, `_handler` records spans and metrics, `_setup` installs the SDK.
"""

from otel_llm.telemetry._handler import CallRecorder, RouteTarget, Telemetry
from otel_llm.telemetry._setup import TelemetryProviders, configure

__all__ = ["CallRecorder", "RouteTarget", "Telemetry", "TelemetryProviders", "configure"]
