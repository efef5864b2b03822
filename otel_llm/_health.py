"""`client.health()`: one typed snapshot of what a client knows about its routes, breakers and budgets.

Everything here is read from in-process state (breakers, route statistics, the budget ledger) — no
provider is called. `HealthSnapshot.to_json()` is what the optional HTTP endpoint serves.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from otel_llm._breaker import CircuitBreaker, CircuitState
from otel_llm._budget import BudgetStatus
from otel_llm._exceptions import ErrorKind
from otel_llm._route_stats import LatencyStats, RouteSnapshot

HealthStatus = Literal["ok", "degraded", "down"]


@dataclass(frozen=True, slots=True)
class BreakerHealth:
    """One circuit breaker.

    Attributes:
        key: `"provider"` or `"provider:model"`.
        state: Closed, half-open or open.
        retry_in_s: Seconds until an open breaker admits a probe; `None` unless open.
    """

    key: str
    state: CircuitState
    retry_in_s: float | None


@dataclass(frozen=True, slots=True)
class RouteHealth:
    """One route as recent calls saw it.

    Attributes:
        route: `"provider:model"`.
        breaker: The route's own (model) breaker state; its provider's breaker is in `breakers`.
        calls: Calls in the recent error window.
        error_rate: Share of them that failed; `None` without calls.
        last_error: Kind of the most recent failure, if any.
        in_flight: Calls on the route right now.
        latency: Whole-call latency percentiles (non-streaming calls).
        time_to_first_token: Time-to-first-token percentiles (streams).
    """

    route: str
    breaker: CircuitState
    calls: int
    error_rate: float | None
    last_error: ErrorKind | None
    in_flight: int
    latency: LatencyStats
    time_to_first_token: LatencyStats


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """A client's health at one instant.

    Attributes:
        status: `"down"` when every known route is refused by an open breaker, `"degraded"` when any
            breaker is not closed or a hard budget is spent, else `"ok"`.
        routes: Every route used so far.
        breakers: Every breaker created so far.
        budgets: Every budget window seen so far.
    """

    status: HealthStatus
    routes: tuple[RouteHealth, ...]
    breakers: tuple[BreakerHealth, ...]
    budgets: tuple[BudgetStatus, ...]

    def to_json(self) -> str:
        """The snapshot as a JSON document (what the health endpoint serves)."""
        return json.dumps(_plain(self), sort_keys=True)


def health_snapshot(
    breakers: Iterable[CircuitBreaker],
    routes: Mapping[str, RouteSnapshot],
    budgets: tuple[BudgetStatus, ...],
    now: float,
) -> HealthSnapshot:
    """Assemble a snapshot from breakers, route statistics (keyed by route) and budget windows."""
    breaker_health = tuple(
        BreakerHealth(
            breaker.key,
            breaker.state,
            max(breaker.retry_at - now, 0.0) if breaker.state is CircuitState.OPEN else None,
        )
        for breaker in breakers
    )
    states = {health.key: health.state for health in breaker_health}
    route_health = tuple(
        RouteHealth(
            route=key,
            breaker=states.get(key, CircuitState.CLOSED),
            calls=snapshot.calls,
            error_rate=snapshot.error_rate,
            last_error=snapshot.last_error,
            in_flight=snapshot.in_flight,
            latency=snapshot.latency,
            time_to_first_token=snapshot.ttft,
        )
        for key, snapshot in sorted(routes.items())
    )
    return HealthSnapshot(_status(route_health, states, budgets), route_health, breaker_health, budgets)


def _status(
    routes: tuple[RouteHealth, ...], states: Mapping[str, CircuitState], budgets: tuple[BudgetStatus, ...]
) -> HealthStatus:
    def refused(route: str) -> bool:
        provider = route.partition(":")[0]
        return CircuitState.OPEN in (states.get(route), states.get(provider))

    if routes and all(refused(route.route) for route in routes):
        return "down"
    spent = any(b.limit_usd is not None and b.remaining_usd <= 0 for b in budgets)
    if spent or any(state is not CircuitState.CLOSED for state in states.values()):
        return "degraded"
    return "ok"


def _plain(value: object) -> object:
    """JSON-ready form of the snapshot's value types."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    slots = getattr(type(value), "__slots__", None)
    if slots is not None:
        return {name: _plain(getattr(value, name)) for name in slots}
    return value
