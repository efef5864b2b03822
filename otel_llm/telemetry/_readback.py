"""Reading otel-llm's own metrics back in-process: for summaries (the demo) and for users' tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricReader


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One data point of one metric.

    Attributes:
        name: Metric name.
        attributes: Metric attributes of the point.
        value: Counter or gauge value; for histograms the sum.
        count: For histograms, the number of recordings; otherwise `None`.
    """

    name: str
    attributes: Mapping[str, object]
    value: float
    count: int | None = None


class MetricsReadback:
    """An in-memory metric reader; pass `.reader` to `configure(metric_readers=[...])`."""

    def __init__(self) -> None:
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        self._reader = InMemoryMetricReader()

    @property
    def reader(self) -> MetricReader:
        """The underlying OpenTelemetry reader."""
        return self._reader

    def points(self, name: str | None = None) -> list[MetricPoint]:
        """Current cumulative data points, optionally of one metric only."""
        from opentelemetry.sdk.metrics.export import HistogramDataPoint, NumberDataPoint

        data = self._reader.get_metrics_data()
        points: list[MetricPoint] = []
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if name is not None and metric.name != name:
                        continue
                    for point in metric.data.data_points:
                        attributes = dict(point.attributes or {})
                        if isinstance(point, HistogramDataPoint):
                            points.append(MetricPoint(metric.name, attributes, point.sum, point.count))
                        elif isinstance(point, NumberDataPoint):
                            points.append(MetricPoint(metric.name, attributes, float(point.value)))
        return points
