"""Routing strategies: the order in which one call tries its candidate routes.

A `Router` turns a call's candidates (a named chain, or a model plus its fallbacks) into a
`RoutingDecision`, the ordered routes the engine then walks with its retries and breakers. Under every
strategy, in this order:

1. **Capability filter** (R14): a route is dropped, with the reason, when its known facts lack a
   required capability (`"capability:vision"`), when its context window cannot hold the estimated
   input plus the expected output (`"context_window"`), or when it cannot write the expected output
   (`"max_output"`). A route without facts is kept: an unknown model is not an unfit one, and neither
   is a model whose entry lists no capabilities (a catch-all such as `ollama:*`).
2. **Health**: routes the breakers would refuse now go to the end, in their configured order since
   nothing ranks them better; the engine skips them or waits for the first to reopen (R8).
3. The **strategy** orders the available routes.

When the filter drops every candidate the decision is empty rather than an exception, because only the
caller knows what to call that failure; `RoutingDecision.require_routes` raises the usual
`ConfigurationError` listing each route's reason.

Pure: randomness comes from the router's injected `random.Random`, latency and load from a
`RouteStatsBoard`; no clock, no I/O, no telemetry. A decision is O(N log N) in its candidates.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, NamedTuple, Protocol

from otel_llm._cost import ModelPrice
from otel_llm._exceptions import ConfigurationError
from otel_llm._registry import ModelInfo
from otel_llm._route_stats import RouteStatsBoard
from otel_llm._types import Route

Facts = Callable[[Route], ModelInfo | None]
"""What is known about a route's model, or `None` when nothing is; the same answer every time (a
router remembers it per route)."""
Availability = Callable[[Route], bool]
"""Whether the route's circuit breakers would admit a call now (a preview: it changes no state)."""

_STREAMING = frozenset({"streaming"})
_UNSEEN: Final[Any] = object()  # a route the router has not looked up yet


@dataclass(frozen=True, slots=True)
class RequestProfile:
    """What routing knows about one request before it is sent.

    Attributes:
        estimated_input_tokens: Input tokens, estimated (prompt, tools, images).
        expected_output_tokens: Output tokens to plan for: `max_tokens`, or what such calls usually use.
        capabilities: Capabilities the request needs (`"tools"`, `"vision"`, `"json_schema"`, ...).
        stream: Whether the call is a stream (`"streaming"` is then required, and latency means time
            to first token).
        cached_input_tokens: Part of the input expected to be read from the prompt cache, priced as such.
    """

    estimated_input_tokens: int = 0
    expected_output_tokens: int = 0
    capabilities: frozenset[str] = frozenset()
    stream: bool = False
    cached_input_tokens: int = 0


class Candidate(NamedTuple):
    """A route that passed the capability filter, with its facts (`None` when unknown)."""

    route: Route
    info: ModelInfo | None


@dataclass(frozen=True, slots=True)
class DroppedRoute:
    """A candidate the capability filter removed.

    Attributes:
        route: The route.
        reason: `"context_window"`, `"max_output"`, or `"capability:<names>"` (comma-separated).
    """

    route: Route
    reason: str


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """The order in which a call tries its routes.

    Attributes:
        routes: Routes to try, in order: available ones first, then `unavailable`.
        strategy: Name of the strategy that ordered them.
        dropped: Candidates the capability filter removed, in candidate order.
        unavailable: Routes the breakers would refuse now (the tail of `routes`).
    """

    routes: tuple[Route, ...]
    strategy: str
    dropped: tuple[DroppedRoute, ...] = ()
    unavailable: tuple[Route, ...] = ()

    def require_routes(self, field: str = "model") -> tuple[Route, ...]:
        """The routes, or an error explaining why none is left.

        Args:
            field: Setting named in the error (the call's `model`, or a chain's path).

        Returns:
            `routes`, never empty.

        Raises:
            ConfigurationError: The capability filter dropped every candidate (or there was none).
        """
        if self.routes:
            return self.routes
        reasons = "; ".join(f"{d.route} ({d.reason})" for d in self.dropped) or "no candidate"
        raise ConfigurationError(field, f"no route can serve this request: {reasons}")


class RoutingContext:
    """What a strategy may consult while ordering one request's candidates.

    Attributes:
        profile: What the request needs.
        stats: The client's route statistics.
        rng: The router's random source.
    """

    __slots__ = ("profile", "rng", "stats")

    def __init__(self, profile: RequestProfile, stats: RouteStatsBoard, rng: random.Random) -> None:
        self.profile = profile
        self.stats = stats
        self.rng = rng

    def expected_cost(self, info: ModelInfo | None) -> float | None:
        """US dollars the request is expected to cost on a model (R11), `None` when unpriced.

        The profile's token mix is priced with the model's own input, cache-read and output prices
        (and tiers), so models with skewed input/output prices rank correctly. A local model without a
        price is free. A float, because it ranks routes and bills nothing: exact `Decimal` pricing of
        every candidate would be most of a decision's time.
        """
        if info is None:
            return None
        price = info.price
        if price is None:
            return 0.0 if info.local else None
        profile = self.profile
        tokens = profile.estimated_input_tokens
        uncached_rate, cached_rate, output_rate = _float_rates(price.at(tokens))
        cached = min(profile.cached_input_tokens, tokens)
        return (
            uncached_rate * (tokens - cached)
            + cached_rate * cached
            + output_rate * profile.expected_output_tokens
        ) / 1e6

    def expected_latencies(self, candidates: Sequence[Candidate]) -> list[float]:
        """Seconds each candidate is expected to take (time to first token for streams), priors included."""
        return self.stats.expected_latencies([c.route for c in candidates], stream=self.profile.stream)

    def in_flight_counts(self, candidates: Sequence[Candidate]) -> list[int]:
        """Calls in flight on each candidate's route."""
        return self.stats.in_flight_counts([c.route for c in candidates])


class RoutingStrategy(Protocol):
    """Orders the available candidates of one request."""

    @property
    def name(self) -> str:
        """The strategy's name, recorded with each decision."""
        ...

    def order(self, candidates: list[Candidate], ctx: RoutingContext) -> list[Candidate]:
        """The candidates in the order to try them.

        Args:
            candidates: Available, capable candidates in configured order; the strategy may reorder
                this list in place and return it.
            ctx: The request's profile, the route statistics and the random source.

        Returns:
            A permutation of `candidates`.
        """
        ...


class Router:
    """Decides the order of a call's routes; one per client.

    Args:
        facts: Model facts per route (the model registry's lookup).
        stats: The client's route statistics.
        available: Breaker admission preview per route.
        rng: Random source of the randomised strategies.

    Example:
        >>> board = RouteStatsBoard(clock=time.monotonic)
        >>> router = Router(facts={}.get, stats=board, available=lambda route: True, rng=random.Random())
        >>> profile = RequestProfile(estimated_input_tokens=900, expected_output_tokens=300)
        >>> router.decide([Route("openai", "gpt-4.1-mini")], profile, CostStrategy()).require_routes()
        (Route(provider='openai', model='gpt-4.1-mini'),)
    """

    def __init__(
        self, *, facts: Facts, stats: RouteStatsBoard, available: Availability, rng: random.Random
    ) -> None:
        self._facts = facts
        self._known: dict[
            Route, ModelInfo | None
        ] = {}  # facts per route: looking them up is most of a decision
        self._stats = stats
        self._available = available
        self._rng = rng

    def decide(
        self, candidates: Sequence[Route], profile: RequestProfile, strategy: RoutingStrategy
    ) -> RoutingDecision:
        """Filter, health-sort and order `candidates` for one request.

        Args:
            candidates: Routes in configured order.
            profile: What the request needs.
            strategy: How to order the available routes.

        Returns:
            The decision; its `routes` are empty when the filter dropped every candidate.
        """
        required = (profile.capabilities | _STREAMING) if profile.stream else profile.capabilities
        window = profile.estimated_input_tokens + profile.expected_output_tokens
        output = profile.expected_output_tokens
        ready: list[Candidate] = []
        waiting: list[Route] = []
        dropped: list[DroppedRoute] = []
        known, available = self._known, self._available
        for route in candidates:
            info = known.get(route, _UNSEEN)
            if info is _UNSEEN:
                info = known[route] = self._facts(route)
            reason = None if info is None else _unfit(info, required, window, output)
            if reason is not None:
                dropped.append(DroppedRoute(route, reason))
            elif available(route):
                ready.append(Candidate(route, info))
            else:
                waiting.append(route)
        ordered = strategy.order(ready, RoutingContext(profile, self._stats, self._rng))
        return RoutingDecision(
            routes=tuple([c.route for c in ordered] + waiting),
            strategy=strategy.name,
            dropped=tuple(dropped),
            unavailable=tuple(waiting),
        )


def _unfit(info: ModelInfo, required: frozenset[str], window: int, output: int) -> str | None:
    # No capabilities at all means they are unknown (a provider's catch-all entry such as `ollama:*`),
    # not that the model can do nothing.
    if info.capabilities and not required <= info.capabilities:
        return "capability:" + ",".join(sorted(required - info.capabilities))
    if info.context_window is not None and info.context_window < window:
        return "context_window"
    if info.max_output is not None and info.max_output < output:
        return "max_output"
    return None


# Float rates per price object (kept alongside it, so an id is never mistaken for a new object's): the
# conversion from Decimal is most of pricing a candidate, and prices belong to long-lived registries.
_RATES: dict[int, tuple[ModelPrice, float, float, float]] = {}
_MAX_RATES: Final = 4096


def _float_rates(price: ModelPrice) -> tuple[float, float, float]:
    """Input, cache-read and output prices of `price` as floats (per million tokens)."""
    entry = _RATES.get(id(price))
    if entry is None or entry[0] is not price:
        if len(_RATES) >= _MAX_RATES:
            _RATES.clear()
        read = price.input if price.cache_read is None else price.cache_read
        entry = _RATES[id(price)] = (price, float(price.input), float(read), float(price.output))
    return entry[1], entry[2], entry[3]


def _cost_key(cost: float | None) -> tuple[bool, float]:
    """Cheapest first, unpriced last."""
    return (cost is None, 0.0 if cost is None else cost)


class PriorityStrategy:
    """Keeps the configured order."""

    name: ClassVar[str] = "priority"

    def order(self, candidates: list[Candidate], ctx: RoutingContext) -> list[Candidate]:
        """The candidates as configured."""
        return candidates


class CostStrategy:
    """Cheapest expected cost first (R11): free local models, then priced ones, then unpriced ones.

    Equal costs keep the configured order.
    """

    name: ClassVar[str] = "cost"

    def order(self, candidates: list[Candidate], ctx: RoutingContext) -> list[Candidate]:
        """The candidates by expected cost."""
        candidates.sort(key=lambda c: _cost_key(ctx.expected_cost(c.info)))
        return candidates


class QualityStrategy:
    """Highest quality tier first, then cheapest; unrated models after rated ones."""

    name: ClassVar[str] = "quality"

    def order(self, candidates: list[Candidate], ctx: RoutingContext) -> list[Candidate]:
        """The candidates by quality tier, then expected cost."""

        def key(c: Candidate) -> tuple[bool, int, bool, float]:
            tier = None if c.info is None else c.info.quality_tier
            return (tier is None, -(tier or 0), *_cost_key(ctx.expected_cost(c.info)))

        candidates.sort(key=key)
        return candidates


class LatencyStrategy:
    """Fastest expected latency first (R12), with a tolerance band against herding.

    Each latency is stretched by a random factor in `[1, 1 + tolerance)` before sorting: routes within
    the band of each other trade places at random, so near-equal routes share the traffic, while a
    route more than the band slower never comes first. Unobserved routes use the board's prior.

    Args:
        tolerance: Relative width of the band (0.1: routes within 10 % count as equally fast).

    Raises:
        ConfigurationError: `tolerance` is negative or not finite.
    """

    name: ClassVar[str] = "latency"

    def __init__(self, tolerance: float = 0.1) -> None:
        if not (math.isfinite(tolerance) and tolerance >= 0):
            raise ConfigurationError("tolerance", "must be a non-negative number")
        self.tolerance = tolerance

    def order(self, candidates: list[Candidate], ctx: RoutingContext) -> list[Candidate]:
        """The candidates by jittered expected latency."""
        rnd, band = ctx.rng.random, self.tolerance
        keys = [seconds * (1.0 + band * rnd()) for seconds in ctx.expected_latencies(candidates)]
        return [candidates[i] for i in sorted(range(len(candidates)), key=keys.__getitem__)]


@dataclass(frozen=True, slots=True)
class BalancedWeights:
    """Weights of the balanced score's parts; only their ratios matter.

    Attributes:
        cost: Weight of expected cost.
        latency: Weight of expected latency.
        quality: Weight of the quality tier.
    """

    cost: float = 1.0
    latency: float = 1.0
    quality: float = 1.0

    def __post_init__(self) -> None:
        values = (self.cost, self.latency, self.quality)
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise ConfigurationError("weights", "must be non-negative numbers")
        if not any(values):
            raise ConfigurationError("weights", "at least one weight must be positive")


class BalancedStrategy:
    """Lowest weighted score of cost, latency and quality first.

    Each part is scaled to [0, 1] across the candidates (0 best, 1 worst; an unknown price or an
    unrated model counts as the worst), then weighted. Cost and latency are compared on a log scale,
    because what matters between models is the ratio: $0.001 against $0.002 is as big a step as $1
    against $2. Equal scores keep the configured order.

    Args:
        weights: Weights of the parts; equal by default.
    """

    name: ClassVar[str] = "balanced"

    def __init__(self, weights: BalancedWeights | None = None) -> None:
        self.weights = weights or BalancedWeights()

    def order(self, candidates: list[Candidate], ctx: RoutingContext) -> list[Candidate]:
        """The candidates by weighted score."""
        weights, n = self.weights, len(candidates)
        costs: list[float | None] = [0.0] * n  # pricing is the costly part: skipped when it weighs nothing
        if weights.cost:
            expected = [ctx.expected_cost(c.info) for c in candidates]
            costs = [None if cost is None else math.log1p(cost * 1e6) for cost in expected]  # micro-$
        millis = [math.log1p(seconds * 1e3) for seconds in ctx.expected_latencies(candidates)]
        tiers = [
            None if c.info is None or c.info.quality_tier is None else -c.info.quality_tier
            for c in candidates
        ]
        cost_low, cost_scale = _scale(costs, weights.cost)
        latency_low, latency_scale = _scale(millis, weights.latency)
        tier_low, tier_scale = _scale(tiers, weights.quality)
        scores = [
            (weights.cost if cost is None else (cost - cost_low) * cost_scale)
            + (ms - latency_low) * latency_scale
            + (weights.quality if tier is None else (tier - tier_low) * tier_scale)
            for cost, ms, tier in zip(costs, millis, tiers, strict=True)
        ]
        return [candidates[i] for i in sorted(range(n), key=scores.__getitem__)]


def _scale(values: Sequence[float | None], weight: float) -> tuple[float, float]:
    """The offset and factor mapping the known values onto [0, weight] (lowest 0, highest `weight`)."""
    known = [v for v in values if v is not None]
    if not known:
        return 0.0, 0.0
    low = min(known)
    span = max(known) - low
    return low, (weight / span if span else 0.0)


class LocalFirstStrategy:
    """Local models first, then the rest, each group in the inner strategy's order.

    Args:
        inner: Orders the candidates before the local ones are moved up; configured order by default.
    """

    name: ClassVar[str] = "local_first"

    def __init__(self, inner: RoutingStrategy | None = None) -> None:
        self.inner = inner or PriorityStrategy()

    def order(self, candidates: list[Candidate], ctx: RoutingContext) -> list[Candidate]:
        """The inner order, local models moved to the front."""
        ordered = self.inner.order(candidates, ctx)
        return [c for c in ordered if c.info is not None and c.info.local] + [
            c for c in ordered if c.info is None or not c.info.local
        ]


class WeightedRoundRobinStrategy:
    """Smooth weighted round robin (nginx's): each route leads a share of the calls set by its weight.

    Deterministic and evenly interleaved: weights 5, 1, 1 lead in the order a a b a c a a, not
    a a a a a b c. Routes after the leader follow by how overdue they are. The state is per strategy
    instance and per process; a lock keeps it consistent across threads.

    Args:
        weights: Weight per route; a route not listed weighs 1.

    Raises:
        ConfigurationError: A weight is not a positive finite number.
    """

    name: ClassVar[str] = "weighted_round_robin"

    def __init__(self, weights: Mapping[Route, float] | None = None) -> None:
        self._weights = dict(weights or {})
        for route, weight in self._weights.items():
            if not (math.isfinite(weight) and weight > 0):
                raise ConfigurationError(f"weights[{route}]", "must be a positive number")
        self._current: dict[Route, float] = {}
        self._lock = threading.Lock()

    def order(self, candidates: list[Candidate], ctx: RoutingContext) -> list[Candidate]:
        """The next candidate in the rotation, then the others by how overdue they are."""
        if not candidates:
            return candidates
        weights, current = self._weights, self._current
        values: list[float] = []
        with self._lock:
            total = 0.0
            for c in candidates:
                weight = weights.get(c.route, 1.0)
                value = current[c.route] = current.get(c.route, 0.0) + weight
                values.append(value)
                total += weight
            best = values.index(max(values))  # the first of equals: configured order breaks ties
            values[best] = current[candidates[best].route] = values[best] - total
        ranked = sorted(range(len(candidates)), key=lambda i: -values[i] if i != best else -math.inf)
        return [candidates[i] for i in ranked]


class LeastInFlightStrategy:
    """Randomised least-busy (R13): the less busy of two random candidates leads.

    Picking the global minimum sends every simultaneous call to the same idle route; two random
    choices spread them while still avoiding busy routes; equal loads are shared evenly. The others
    follow by calls in flight.
    """

    name: ClassVar[str] = "least_in_flight"

    def order(self, candidates: list[Candidate], ctx: RoutingContext) -> list[Candidate]:
        """The power-of-two-choices winner, then the others by load."""
        n = len(candidates)
        if n < 2:
            return candidates
        counts = ctx.in_flight_counts(candidates)
        first = ctx.rng.randrange(n)
        second = ctx.rng.randrange(n - 1)
        second += second >= first  # two distinct samples without building a list
        winner = second if counts[second] < counts[first] else first  # a tie goes to a random one
        rest = sorted((i for i in range(n) if i != winner), key=counts.__getitem__)
        return [candidates[winner]] + [candidates[i] for i in rest]
