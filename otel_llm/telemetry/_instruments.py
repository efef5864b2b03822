"""The single definition of every metric otel-llm emits: name, instrument, unit, buckets, attributes.

Dashboards, alert rules and the collector configuration are tested against this module (through
`InstrumentSpec.prometheus_series`), so renaming anything here is a breaking change that needs a
CHANGELOG entry.

Names follow the OpenTelemetry GenAI semantic conventions where they define one (the "legacy" metric set
of the pinned registry, which today's backends consume); our own metrics live under `otel_llm.*`.
Units are chosen so the Prometheus names carry no surprise suffix: annotations such as `{USD}` or
`{state}` are dropped by the translation, whereas a bare `USD` would become `_USD` and a gauge unit `1`
would become `_ratio` on the collector path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from otel_llm._attribution import METRIC_ATTRIBUTION_KEYS

# --- attribute keys -------------------------------------------------------------------------------
# Semantic-convention keys (registry: shared/semconv/model/gen-ai/registry.yaml, core error/server).
OPERATION_NAME: Final = "gen_ai.operation.name"
PROVIDER_NAME: Final = "gen_ai.provider.name"
REQUEST_MODEL: Final = "gen_ai.request.model"
RESPONSE_MODEL: Final = "gen_ai.response.model"
TOKEN_TYPE: Final = "gen_ai.token.type"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"

# otel-llm's own keys: the semantic conventions have no notion of routes, fallbacks or breakers.
ROUTE_POSITION: Final = "otel_llm.route.position"
FALLBACK_TO_PROVIDER: Final = "otel_llm.fallback.to_provider"
CIRCUIT_STATE_ATTR: Final = "otel_llm.circuit.state"
ATTRIBUTION_PREFIX: Final = "otel_llm.attribution."
"""Span attributes `otel_llm.attribution.<key>` carry `otel_llm.attribution(...)`; some become labels."""
ATTRIBUTION_LABELS: Final = frozenset(ATTRIBUTION_PREFIX + key for key in METRIC_ATTRIBUTION_KEYS)
BUDGET_NAME: Final = "otel_llm.budget.name"
BUDGET_PERIOD: Final = "otel_llm.budget.period"
BUDGET_LIMIT_KIND: Final = "otel_llm.budget.limit_kind"
"""`hard` (calls are refused beyond it) or `soft` (calls are flagged, and may be downgraded)."""
CACHE_RESULT: Final = "otel_llm.cache.result"
"""`hit` (served from the cache), `miss` (sent; stored on success) or `coalesced` (waited for an
identical call in flight)."""
ROUTING_STRATEGY: Final = "otel_llm.routing.strategy"
ROUTING_CHAIN: Final = "otel_llm.routing.chain"
OTHER_VALUE: Final = "_other"
"""The label value standing for every attribution value beyond a key's first `MAX_LABEL_VALUES`."""
MAX_LABEL_VALUES: Final = 100

# --- bucket boundaries (GenAI semconv docs; they are not in the registry YAML) ---------------------
DURATION_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
TOKEN_BUCKETS: Final = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip

# Values of the breaker state gauge; the alert rules compare against OPEN.
CIRCUIT_STATE_VALUES: Final = {"closed": 0, "half_open": 1, "open": 2}

InstrumentKind = Literal["counter", "histogram", "observable_gauge"]


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """One metric: everything needed to create it and to predict its Prometheus series.

    Attributes:
        name: OpenTelemetry instrument name.
        kind: Instrument type.
        unit: UCUM unit or annotation.
        description: Human description, exported with the metric.
        attributes: The complete, low-cardinality set of metric attributes it may carry.
        buckets: Explicit histogram bucket boundaries (histograms only).
        integer: Whether values are integers (token counts).
    """

    name: str
    kind: InstrumentKind
    unit: str
    description: str
    attributes: frozenset[str]
    buckets: tuple[float, ...] | None = None
    integer: bool = False

    def prometheus_name(self) -> str:
        """Base Prometheus name under the default `UnderscoreEscapingWithSuffixes` translation.

        This is the name produced by the collector's exporters and by Prometheus' OTLP receiver.
        """
        name = _escape(self.name)
        suffix = _UNIT_SUFFIXES.get(self.unit, "" if _is_annotation(self.unit) else self.unit)
        if suffix and suffix not in name.split("_"):
            name = f"{name}_{suffix}"
        if self.kind == "counter":
            name = f"{name}_total"
        return name

    def prometheus_series(self) -> tuple[str, ...]:
        """All series names this metric produces in Prometheus."""
        base = self.prometheus_name()
        if self.kind == "histogram":
            return (f"{base}_bucket", f"{base}_sum", f"{base}_count")
        return (base,)

    def prometheus_labels(self) -> frozenset[str]:
        """Label names of the metric attributes (resource labels such as `job` come on top)."""
        return frozenset(_escape(key) for key in self.attributes)


_UNIT_SUFFIXES: Final = {"s": "seconds", "ms": "milliseconds", "By": "bytes", "%": "percent"}


def _is_annotation(unit: str) -> bool:
    return unit.startswith("{") and unit.endswith("}")


def _escape(name: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-zA-Z0-9_:]", "_", name))


_CALL_ATTRIBUTES: Final = (
    frozenset({OPERATION_NAME, PROVIDER_NAME, REQUEST_MODEL, RESPONSE_MODEL, SERVER_ADDRESS, SERVER_PORT})
    | ATTRIBUTION_LABELS
)

OPERATION_DURATION: Final = InstrumentSpec(
    name="gen_ai.client.operation.duration",
    kind="histogram",
    unit="s",
    description="GenAI operation duration, one record per logical call (retries and fallbacks included).",
    attributes=_CALL_ATTRIBUTES | {ERROR_TYPE},
    buckets=DURATION_BUCKETS,
)
TOKEN_USAGE: Final = InstrumentSpec(
    name="gen_ai.client.token.usage",
    kind="histogram",
    unit="{token}",
    description="Number of input and output tokens used, recorded on the route that served the call.",
    attributes=_CALL_ATTRIBUTES | {TOKEN_TYPE},
    buckets=TOKEN_BUCKETS,
    integer=True,
)
TIME_TO_FIRST_CHUNK: Final = InstrumentSpec(
    name="gen_ai.client.operation.time_to_first_chunk",
    kind="histogram",
    unit="s",
    description="Time from the start of a streaming call to the first content chunk.",
    attributes=_CALL_ATTRIBUTES,
    buckets=DURATION_BUCKETS,
)
COST: Final = InstrumentSpec(
    name="otel_llm.cost.usd",
    kind="counter",
    unit="{USD}",
    description="Cost of calls in US dollars, from the provider's report or the model registry's prices.",
    attributes=frozenset({OPERATION_NAME, PROVIDER_NAME, REQUEST_MODEL}) | ATTRIBUTION_LABELS,
)
UNPRICED_CALLS: Final = InstrumentSpec(
    name="otel_llm.cost.unpriced",
    kind="counter",
    unit="{call}",
    description="Calls whose model has no known price; their cost is absent, never recorded as 0.",
    attributes=frozenset({OPERATION_NAME, PROVIDER_NAME, REQUEST_MODEL}) | ATTRIBUTION_LABELS,
)
ATTEMPTS: Final = InstrumentSpec(
    name="otel_llm.attempts",
    kind="counter",
    unit="{attempt}",
    description="Provider attempts (each retry and fallback hop), with error.type on failure.",
    attributes=frozenset({PROVIDER_NAME, REQUEST_MODEL, ERROR_TYPE, ROUTE_POSITION}),
)
RETRIES: Final = InstrumentSpec(
    name="otel_llm.retries",
    kind="counter",
    unit="{retry}",
    description="Retries scheduled on the same route, by the error that caused them.",
    attributes=frozenset({PROVIDER_NAME, REQUEST_MODEL, ERROR_TYPE}),
)
FALLBACKS: Final = InstrumentSpec(
    name="otel_llm.fallbacks",
    kind="counter",
    unit="{fallback}",
    description="Fallbacks from one route to the next, by the provider left and the reason.",
    attributes=frozenset({PROVIDER_NAME, REQUEST_MODEL, FALLBACK_TO_PROVIDER, ERROR_TYPE}),
)
CIRCUIT_STATE: Final = InstrumentSpec(
    name="otel_llm.circuit.state",
    kind="observable_gauge",
    unit="{state}",
    description=(
        "Circuit breaker state per provider, and per model when gen_ai.request.model is set: "
        "0 closed, 1 half-open, 2 open."
    ),
    attributes=frozenset({PROVIDER_NAME, REQUEST_MODEL}),
)
CIRCUIT_TRANSITIONS: Final = InstrumentSpec(
    name="otel_llm.circuit.transitions",
    kind="counter",
    unit="{transition}",
    description="Circuit breaker state changes per provider (and model), by the state entered.",
    attributes=frozenset({PROVIDER_NAME, REQUEST_MODEL, CIRCUIT_STATE_ATTR}),
)

_BUDGET_ATTRIBUTES: Final = frozenset({BUDGET_NAME, BUDGET_PERIOD}) | ATTRIBUTION_LABELS
BUDGET_SPENT: Final = InstrumentSpec(
    name="otel_llm.budget.spent",
    kind="observable_gauge",
    unit="{USD}",
    description=(
        "Spending in the current budget window (settled costs plus reservations in flight); scoped "
        "budgets only where their scope is an allowed attribution label."
    ),
    attributes=_BUDGET_ATTRIBUTES,
)
BUDGET_LIMIT: Final = InstrumentSpec(
    name="otel_llm.budget.limit",
    kind="observable_gauge",
    unit="{USD}",
    description="Budget limits in US dollars, hard and soft.",
    attributes=_BUDGET_ATTRIBUTES | {BUDGET_LIMIT_KIND},
)
BUDGET_UTILIZATION: Final = InstrumentSpec(
    name="otel_llm.budget.utilization",
    kind="observable_gauge",
    unit="{ratio}",
    description="Spending over the budget's ceiling (its hard limit, else its soft limit); 1 means spent.",
    attributes=_BUDGET_ATTRIBUTES,
)
BUDGET_REJECTIONS: Final = InstrumentSpec(
    name="otel_llm.budget.rejections",
    kind="counter",
    unit="{call}",
    description="Calls refused before sending because their worst-case cost exceeded a hard limit.",
    attributes=_BUDGET_ATTRIBUTES,
)
BUDGET_SOFT_LIMIT_EXCEEDED: Final = InstrumentSpec(
    name="otel_llm.budget.soft_limit_exceeded",
    kind="counter",
    unit="{call}",
    description="Calls made while a budget was past its soft limit.",
    attributes=_BUDGET_ATTRIBUTES,
)
CACHE_REQUESTS: Final = InstrumentSpec(
    name="otel_llm.cache.requests",
    kind="counter",
    unit="{request}",
    description="Cache lookups of cacheable calls, by result: hit, miss or coalesced.",
    attributes=frozenset({OPERATION_NAME, CACHE_RESULT}),
)
CACHE_SAVINGS: Final = InstrumentSpec(
    name="otel_llm.cache.savings",
    kind="counter",
    unit="{USD}",
    description="What calls answered from the cache would have cost, at the price of their first answer.",
    attributes=frozenset({OPERATION_NAME, PROVIDER_NAME, REQUEST_MODEL}),
)
ROUTING_DECISIONS: Final = InstrumentSpec(
    name="otel_llm.routing.decisions",
    kind="counter",
    unit="{decision}",
    description="Routing decisions of named chains, by chain, strategy and the route ranked first.",
    attributes=frozenset({ROUTING_CHAIN, ROUTING_STRATEGY, PROVIDER_NAME, REQUEST_MODEL}),
)

ALL_INSTRUMENTS: Final = (
    OPERATION_DURATION,
    TOKEN_USAGE,
    TIME_TO_FIRST_CHUNK,
    COST,
    UNPRICED_CALLS,
    ATTEMPTS,
    RETRIES,
    FALLBACKS,
    CIRCUIT_STATE,
    CIRCUIT_TRANSITIONS,
    BUDGET_SPENT,
    BUDGET_LIMIT,
    BUDGET_UTILIZATION,
    BUDGET_REJECTIONS,
    BUDGET_SOFT_LIMIT_EXCEEDED,
    CACHE_REQUESTS,
    CACHE_SAVINGS,
    ROUTING_DECISIONS,
)
