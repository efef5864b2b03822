"""Shared fixtures: strict telemetry, in-memory OpenTelemetry providers, a fake clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

# Internal telemetry failures must fail tests instead of being logged away.
os.environ.setdefault("OTEL_LLM_TELEMETRY_STRICT", "1")

LIVE_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any(os.environ.get(key) for key in LIVE_KEYS):
        return
    skip = pytest.mark.skip(reason="live provider tests need an API key in the environment")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


class FakeClock:
    """A monotonic clock that only moves when told to; `sleep` advances it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@dataclass
class Captured:
    """In-memory OpenTelemetry providers and what they recorded."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    spans_exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def spans(self) -> list[ReadableSpan]:
        return list(self.spans_exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        matches = [s for s in self.spans() if s.name == name]
        assert len(matches) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans()]}"
        return matches[0]

    def metrics(self) -> dict[str, list[tuple[dict[str, object], float]]]:
        """Metric name -> [(attributes, value or histogram sum)]."""
        data: MetricsData | None = self.reader.get_metrics_data()
        result: dict[str, list[tuple[dict[str, object], float]]] = {}
        if data is None:
            return result
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    points = result.setdefault(metric.name, [])
                    for point in metric.data.data_points:
                        value = getattr(point, "value", None)
                        if value is None:
                            value = point.sum  # type: ignore[union-attr]  # histogram points
                        points.append((dict(point.attributes or {}), float(value)))
        return result


@pytest.fixture
def captured() -> Iterator[Captured]:
    recorded = new_captured()
    yield recorded
    recorded.tracer_provider.shutdown()
    recorded.meter_provider.shutdown()


def new_captured() -> Captured:
    """Fresh in-memory providers (the `captured` fixture gives one set per test)."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    return Captured(tracer_provider, MeterProvider(metric_readers=[reader]), exporter, reader)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
