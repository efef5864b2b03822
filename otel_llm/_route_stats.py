"""Per-route observations that routing strategies consult: latency, calls in flight, recent errors.

Latency is a time-decayed average: every sample is weighted by `0.5 ** (age / half_life)`, so a route's
estimate follows its recent behaviour and a burst of samples at one instant counts sample by sample.
Two tracks are kept per route because they measure different things: time to first token (streams) and
time per whole call (everything else). A route never observed on a track is not assumed to be instant:
it starts from a prior, the median estimate of the observed routes on the board, else a configured
default, so a new route cannot take all the traffic just for being new (R12). A timeout adds a
penalty sample, longer than the time waited, since the real latency was at least that.

Every update is O(1) (the error window is bucketed, the percentile sample bounded); percentiles are
computed only when a snapshot is taken. One lock per board makes each update atomic: a client is shared
by threads. State is per process. Pure: the clock is injected, nothing here does I/O.
"""

from __future__ import annotations

import math
import statistics
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from otel_llm._exceptions import ConfigurationError, ErrorKind
from otel_llm._types import Route

Clock = Callable[[], float]

_ERROR_BUCKETS = 10  # the error window's resolution: memory stays constant however busy the route is


@dataclass(frozen=True, slots=True)
class RouteStatsPolicy:
    """How route observations are aggregated.

    Attributes:
        half_life: Seconds after which a latency sample weighs half as much as a new one.
        default_latency: Prior whole-call latency, in seconds, while no route on the board has one.
        default_ttft: Prior time to first token, in seconds, while no route on the board has one.
        timeout_penalty: A timeout counts as a latency sample of this many times the time waited.
        error_window: Seconds of the rolling window the error rate is measured over.
        sample_size: Recent samples per track kept for percentiles.
    """

    half_life: float = 120.0
    default_latency: float = 2.0
    default_ttft: float = 0.5
    timeout_penalty: float = 2.0
    error_window: float = 60.0
    sample_size: int = 256

    def __post_init__(self) -> None:
        for name in ("half_life", "default_latency", "default_ttft", "error_window"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigurationError(f"route_stats.{name}", "must be a positive number of seconds")
        if not (math.isfinite(self.timeout_penalty) and self.timeout_penalty >= 1):
            raise ConfigurationError("route_stats.timeout_penalty", "must be at least 1")
        if self.sample_size < 1:
            raise ConfigurationError("route_stats.sample_size", "must be at least 1")


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """One latency track of a route (whole calls, or time to first token).

    Attributes:
        estimate: Seconds routing assumes: the decayed average, or the prior when `observed` is false.
        observed: Whether the route has a sample on this track.
        samples: Recent samples behind the percentiles (bounded by `RouteStatsPolicy.sample_size`).
        p50: Median of the recent samples; `None` without samples.
        p95: 95th percentile of the recent samples; `None` without samples.
        p99: 99th percentile of the recent samples; `None` without samples.
    """

    estimate: float
    observed: bool
    samples: int
    p50: float | None
    p95: float | None
    p99: float | None


@dataclass(frozen=True, slots=True)
class RouteSnapshot:
    """What the board knows about one route at one instant (for a health endpoint).

    Attributes:
        route: The route.
        latency: Whole-call latency (non-streaming calls).
        ttft: Time to first token (streams).
        in_flight: Calls on the route right now.
        calls: Outcomes recorded in the error window.
        errors: Failures among them.
        last_error: Kind of the most recent failure, ever.
        last_error_at: Clock time of that failure.
    """

    route: Route
    latency: LatencyStats
    ttft: LatencyStats
    in_flight: int
    calls: int
    errors: int
    last_error: ErrorKind | None
    last_error_at: float | None

    @property
    def error_rate(self) -> float | None:
        """Share of failures in the error window; `None` when the window saw no call."""
        return self.errors / self.calls if self.calls else None


class _Track:
    """A decayed latency average and a bounded sample of recent values."""

    __slots__ = ("_at", "_sum", "_weight", "mean", "sample")

    def __init__(self, sample_size: int) -> None:
        self._sum = 0.0
        self._weight = 0.0
        self._at = 0.0
        self.mean: float | None = None
        self.sample: deque[float] = deque(maxlen=sample_size)

    def add(self, now: float, value: float, waited: float, half_life: float) -> None:
        if self.mean is None:
            self._sum, self._weight = value, 1.0
        else:
            # Decaying the sum and the weight alike keeps the mean unchanged until the next sample.
            decay = 0.5 ** (max(now - self._at, 0.0) / half_life)
            self._sum = self._sum * decay + value
            self._weight = self._weight * decay + 1.0
        self._at = now
        self.mean = self._sum / self._weight
        self.sample.append(waited)

    def stats(self, prior: float) -> LatencyStats:
        ordered = sorted(self.sample)
        return LatencyStats(
            estimate=prior if self.mean is None else self.mean,
            observed=self.mean is not None,
            samples=len(ordered),
            p50=_percentile(ordered, 0.50),
            p95=_percentile(ordered, 0.95),
            p99=_percentile(ordered, 0.99),
        )


class _Bucket:
    __slots__ = ("calls", "errors", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self.calls = 0
        self.errors = 0


class _ErrorWindow:
    """Calls and failures over the last `span` seconds, with running totals (O(1) per update)."""

    __slots__ = ("_buckets", "_span", "_width", "calls", "errors")

    def __init__(self, span: float) -> None:
        self._span = span
        self._width = span / _ERROR_BUCKETS
        self._buckets: deque[_Bucket] = deque()
        self.calls = 0
        self.errors = 0

    def add(self, now: float, error: bool) -> None:
        self.prune(now)
        if not self._buckets or now >= self._buckets[-1].start + self._width:
            self._buckets.append(_Bucket(now))
        bucket = self._buckets[-1]
        bucket.calls += 1
        bucket.errors += error
        self.calls += 1
        self.errors += error

    def prune(self, now: float) -> None:
        while self._buckets and self._buckets[0].start <= now - self._span:
            old = self._buckets.popleft()
            self.calls -= old.calls
            self.errors -= old.errors


class _RouteState:
    __slots__ = ("in_flight", "last_error", "last_error_at", "tracks", "window")

    def __init__(self, policy: RouteStatsPolicy) -> None:
        # Indexed by `stream`: [False] whole-call latency, [True] time to first token.
        self.tracks = (_Track(policy.sample_size), _Track(policy.sample_size))
        self.window = _ErrorWindow(policy.error_window)
        self.in_flight = 0
        self.last_error: ErrorKind | None = None
        self.last_error_at: float | None = None


class RouteStatsBoard:
    """The observations of one client, keyed by route; routes are tracked from their first update.

    Args:
        clock: Monotonic clock, in seconds.
        policy: Aggregation settings; the defaults when `None`.

    Example:
        >>> board = RouteStatsBoard(clock=lambda: 0.0)
        >>> route = Route("openai", "gpt-4.1-mini")
        >>> with board.tracking(route):
        ...     board.record_success(route, 0.8)
        >>> board.expected_latencies([route], stream=False)
        [0.8]
    """

    def __init__(self, clock: Clock, policy: RouteStatsPolicy | None = None) -> None:
        self._clock = clock
        self._policy = policy or RouteStatsPolicy()
        self._lock = threading.Lock()
        self._routes: dict[Route, _RouteState] = {}
        # Per track (indexed by `stream`): samples so far, and the prior with the sample count it saw.
        # A prior changes only with a sample on its track, so it is recomputed at most once per sample.
        self._samples = [0, 0]
        self._priors = [(0, self._policy.default_latency), (0, self._policy.default_ttft)]

    def record_success(self, route: Route, seconds: float, *, stream: bool = False) -> None:
        """A call on `route` succeeded.

        Args:
            route: Where the call went.
            seconds: Time to first token for a stream, the whole call's latency otherwise.
            stream: Whether the call was a stream.
        """
        with self._lock:
            state = self._state(route)
            now = self._clock()
            state.window.add(now, error=False)
            self._observe(state, stream, now, seconds, seconds)

    def record_failure(self, route: Route, kind: ErrorKind, elapsed: float, *, stream: bool = False) -> None:
        """A call on `route` failed with an error of `kind` after `elapsed` seconds.

        Every failure counts in the error rate; a timeout also adds a latency sample of
        `elapsed * timeout_penalty` (the percentiles keep `elapsed`, the time callers actually waited).
        Other failures leave latency alone: an instant 500 says nothing about how fast answers are.

        Args:
            route: Where the call went.
            kind: The failure's error kind.
            elapsed: Seconds from sending to the failure.
            stream: Whether the call was a stream (the timeout then counts on the first-token track).
        """
        with self._lock:
            state = self._state(route)
            now = self._clock()
            state.window.add(now, error=True)
            state.last_error, state.last_error_at = kind, now
            if kind == "timeout":
                self._observe(state, stream, now, elapsed * self._policy.timeout_penalty, elapsed)

    def acquire(self, route: Route) -> None:
        """A call on `route` starts; pair it with `release` (or use `tracking`)."""
        with self._lock:
            self._state(route).in_flight += 1

    def release(self, route: Route) -> None:
        """A call on `route` that `acquire` counted has ended.

        Raises:
            RuntimeError: `route` has no call in flight (an unpaired release is a bug in the caller).
        """
        with self._lock:
            state = self._routes.get(route)
            if state is None or state.in_flight == 0:
                raise RuntimeError(f"release() without acquire() for {route}")
            state.in_flight -= 1

    @contextmanager
    def tracking(self, route: Route) -> Iterator[None]:
        """Count a call on `route` as in flight for the duration of the block, however it ends."""
        self.acquire(route)
        try:
            yield
        finally:
            self.release(route)

    def in_flight_counts(self, routes: Sequence[Route]) -> list[int]:
        """Calls in flight on each of `routes`, in order (0 for routes never seen)."""
        get = self._routes.get
        with self._lock:
            return [state.in_flight if (state := get(route)) is not None else 0 for route in routes]

    def expected_latencies(self, routes: Sequence[Route], *, stream: bool) -> list[float]:
        """The latency routing assumes for each of `routes`, in order, with the prior for unobserved ones.

        Args:
            routes: The routes to estimate.
            stream: Estimate time to first token (streams) rather than whole-call latency.

        Returns:
            Seconds per route.
        """
        get = self._routes.get
        with self._lock:
            means = [None if (state := get(route)) is None else state.tracks[stream].mean for route in routes]
            # The prior costs a median over the board: only worth it when some route needs it.
            prior = self._prior(stream) if None in means else 0.0
        return [prior if mean is None else mean for mean in means]

    def snapshot(self, route: Route) -> RouteSnapshot:
        """What the board knows about `route` now (priors and zeros for a route never seen)."""
        with self._lock:
            state = self._routes.get(route) or _RouteState(self._policy)
            return self._snapshot(route, state)

    def snapshots(self) -> dict[Route, RouteSnapshot]:
        """A snapshot of every route the board has seen."""
        with self._lock:
            return {route: self._snapshot(route, state) for route, state in self._routes.items()}

    def _state(self, route: Route) -> _RouteState:
        state = self._routes.get(route)
        if state is None:
            state = self._routes[route] = _RouteState(self._policy)
        return state

    def _snapshot(self, route: Route, state: _RouteState) -> RouteSnapshot:
        state.window.prune(self._clock())
        return RouteSnapshot(
            route=route,
            latency=state.tracks[False].stats(self._prior(stream=False)),
            ttft=state.tracks[True].stats(self._prior(stream=True)),
            in_flight=state.in_flight,
            calls=state.window.calls,
            errors=state.window.errors,
            last_error=state.last_error,
            last_error_at=state.last_error_at,
        )

    def _observe(self, state: _RouteState, stream: bool, now: float, value: float, waited: float) -> None:
        state.tracks[stream].add(now, value, waited, self._policy.half_life)
        self._samples[stream] += 1

    def _prior(self, stream: bool) -> float:
        seen, prior = self._priors[stream]
        if seen != self._samples[stream]:
            prior = statistics.median(
                [mean for state in self._routes.values() if (mean := state.tracks[stream].mean) is not None]
            )
            self._priors[stream] = (self._samples[stream], prior)
        return prior


def _percentile(ordered: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return None
    return ordered[math.ceil(q * len(ordered)) - 1]
