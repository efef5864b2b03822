"""Circuit breakers per provider and per (provider, model): closed -> open -> half-open -> closed.

A breaker opens on `failure_threshold` consecutive provider faults, or when faults exceed `failure_rate`
of the calls in a rolling `window` that saw at least `min_calls` (one failure among three calls is not
an outage). Each re-opening without a recovery in between doubles the open time, up to a cap, with
jitter so that many clients do not probe at the same instant; quota exhaustion opens it for long.

Two levels, because faults have two scopes: a refused connection or a spent quota makes every model of a
provider unusable (`provider_kinds`, counted by the provider's breaker), while an overloaded or failing
model says nothing about its siblings (counted by that model's breaker). A call needs both to admit it.

Every admission hands out a `Ticket` that comes back with the call's outcome. It remembers the
state episode the call was admitted in, so an outcome that arrives after the breaker has moved on (a slow
call admitted while closed, ending while half-open) is recognised as stale: it neither takes a probe's
slot nor closes the circuit on the probes' behalf.

Pure state machines: time and randomness are injected, and state changes are reported as
`BreakerTransition` events to a listener (telemetry records them; this module never imports it).
A lock makes each decision atomic because one client is shared by threads.
"""

from __future__ import annotations

import enum
import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from otel_llm._exceptions import PROVIDER_FAULT_KINDS, ConfigurationError, ErrorKind
from otel_llm._types import Route

Clock = Callable[[], float]

DEFAULT_COUNTED_KINDS: frozenset[ErrorKind] = PROVIDER_FAULT_KINDS
"""Error kinds a breaker counts unless its policy says otherwise: the provider faults."""


class CircuitState(str, enum.Enum):
    """State of one breaker."""

    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a provider's breaker opens and how it recovers.

    Attributes:
        failure_threshold: Consecutive counted faults that open the circuit.
        failure_rate: Share of counted faults among the window's calls that opens the circuit;
            `None` disables the rate rule.
        window: Seconds of the rolling window the rate is measured over.
        min_calls: Calls the window must have seen before the rate rule applies.
        recovery_time: Seconds the circuit first stays open; each re-opening without a recovery in
            between doubles it, up to `max_recovery_time`.
        max_recovery_time: Longest open time after repeated failures.
        jitter: Random spread of each open time, as a fraction (0.2 = up to 20 % shorter or longer).
        long_open_kinds: Error kinds that open the circuit at once for `long_open_time` (a spent
            quota does not come back in seconds).
        long_open_time: Seconds the circuit stays open after one of `long_open_kinds`.
        counted_kinds: Error kinds counted as provider faults.
        provider_kinds: Error kinds that make the whole provider unusable (its endpoint or credential):
            the provider's breaker counts these (and `long_open_kinds` among them); the model's
            breaker counts the other `counted_kinds`.
        half_open_probes: Calls admitted at once while half-open; others skip the route.
        success_threshold: Successful probes that close the circuit again.
    """

    failure_threshold: int = 5
    failure_rate: float | None = 0.5
    window: float = 60.0
    min_calls: int = 10
    recovery_time: float = 5.0
    max_recovery_time: float = 60.0
    jitter: float = 0.2
    long_open_kinds: frozenset[ErrorKind] = frozenset({"quota_exhausted"})
    long_open_time: float = 3600.0
    counted_kinds: frozenset[ErrorKind] = field(default=DEFAULT_COUNTED_KINDS)
    provider_kinds: frozenset[ErrorKind] = frozenset({"connection", "quota_exhausted"})
    half_open_probes: int = 1
    success_threshold: int = 1

    def __post_init__(self) -> None:
        for name in ("failure_threshold", "half_open_probes", "success_threshold", "min_calls"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"breaker.{name}", "must be at least 1")
        for name in ("recovery_time", "max_recovery_time", "window", "long_open_time"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"breaker.{name}", "must be positive")
        if self.max_recovery_time < self.recovery_time:
            raise ConfigurationError("breaker.max_recovery_time", "must be at least recovery_time")
        if self.failure_rate is not None and not 0 < self.failure_rate <= 1:
            raise ConfigurationError("breaker.failure_rate", "must be in (0, 1], or None")
        if not 0 <= self.jitter < 1:
            raise ConfigurationError("breaker.jitter", "must be in [0, 1)")


@dataclass(frozen=True, slots=True)
class BreakerTransition:
    """A breaker changed state.

    Attributes:
        provider: The provider key.
        model: The model, for a model's breaker; `None` for the provider's.
        old: State before.
        new: State after.
    """

    provider: str
    model: str | None
    old: CircuitState
    new: CircuitState

    @property
    def key(self) -> str:
        """`"provider"` or `"provider:model"`."""
        return breaker_key(self.provider, self.model)


@dataclass(frozen=True, slots=True)
class Pass:
    """One breaker's admission of one call.

    Attributes:
        episode: The breaker's state episode at admission (it counts state changes).
        probe: Whether the call holds one of the half-open probe slots.
    """

    episode: int
    probe: bool


@dataclass(frozen=True, slots=True)
class Ticket:
    """A call's admission by both breakers of its route; hand it back with the call's outcome."""

    route: Route
    provider: Pass
    model: Pass


def breaker_key(provider: str, model: str | None) -> str:
    """The name of a breaker: `"provider"` for a provider's, `"provider:model"` for a model's."""
    return provider if model is None else f"{provider}:{model}"


TransitionListener = Callable[[BreakerTransition], None]

_BUCKETS = 10  # the window's resolution: memory stays constant however busy the provider is


class _RollingCounts:
    """Calls and faults over the last `window` seconds, in `_BUCKETS` time buckets."""

    def __init__(self, window: float) -> None:
        self._width = window / _BUCKETS
        self._window = window
        self._buckets: deque[list[float]] = deque()  # [bucket start, calls, faults]

    def add(self, now: float, fault: bool) -> None:
        self._prune(now)
        if not self._buckets or now >= self._buckets[-1][0] + self._width:
            self._buckets.append([now, 0, 0])
        bucket = self._buckets[-1]
        bucket[1] += 1
        bucket[2] += fault

    def totals(self, now: float) -> tuple[int, int]:
        self._prune(now)
        return int(sum(b[1] for b in self._buckets)), int(sum(b[2] for b in self._buckets))

    def clear(self) -> None:
        self._buckets.clear()

    def _prune(self, now: float) -> None:
        while self._buckets and self._buckets[0][0] <= now - self._window:
            self._buckets.popleft()


class CircuitBreaker:
    """One breaker. Every pass it hands out must come back in exactly one `record_*` or `cancel` call."""

    def __init__(
        self,
        provider: str,
        model: str | None,
        policy: BreakerPolicy,
        clock: Clock,
        rng: random.Random,
        lock: threading.Lock,
    ) -> None:
        self.provider = provider
        self.model = model
        self.key = breaker_key(provider, model)
        self._policy = policy
        self._clock = clock
        self._rng = rng
        self._lock = lock
        self._state = CircuitState.CLOSED
        self._consecutive = 0
        self._window = _RollingCounts(policy.window)
        self._opens = 0  # openings since the last recovery: each one doubles the open time
        self._probe_successes = 0
        self._probes_in_flight = 0
        self._open_until = 0.0
        self._episode = 0  # bumped on every state change: passes from an earlier episode are stale
        self._closed_pass = Pass(0, probe=False)  # every call admitted while closed shares it

    @property
    def state(self) -> CircuitState:
        """Current state (an open breaker past its recovery time stays open until a call probes it)."""
        return self._state

    @property
    def retry_at(self) -> float:
        """Clock time from which an open breaker admits a probe."""
        return self._open_until

    def try_acquire(self) -> tuple[Pass | None, BreakerTransition | None]:
        """Admit a call (a pass) or refuse it (`None`); also returns the transition the admission caused."""
        # Lock-free while closed, the common case: the pass is read before the state, so a state change
        # in between leaves it stale, and its outcome ignored, rather than wrong.
        closed_pass = self._closed_pass
        if self._state is CircuitState.CLOSED:
            return closed_pass, None
        with self._lock:
            return self._acquire_locked()

    def _acquire_locked(self) -> tuple[Pass | None, BreakerTransition | None]:
        if self._state is CircuitState.CLOSED:
            return self._closed_pass, None
        transition = None
        if self._state is CircuitState.OPEN:
            if self._clock() < self._open_until:
                return None, None
            transition = self._move(CircuitState.HALF_OPEN)
        if self._probes_in_flight >= self._policy.half_open_probes:
            return None, transition
        self._probes_in_flight += 1
        return Pass(self._episode, probe=True), transition

    def record_success(self, admitted: Pass) -> BreakerTransition | None:
        """The call `admitted` succeeded."""
        with self._lock:
            if admitted.episode != self._episode:
                return None  # stale: it says nothing about the state the breaker is in now
            if not admitted.probe:
                self._consecutive = 0
                self._window.add(self._clock(), fault=False)
                return None
            self._probes_in_flight -= 1
            self._probe_successes += 1
            if self._probe_successes >= self._policy.success_threshold:
                return self._move(CircuitState.CLOSED)
            return None

    def record_error(self, admitted: Pass, kind: ErrorKind) -> BreakerTransition | None:
        """The call `admitted` failed with an error of `kind`; the policy decides what that means."""
        with self._lock:
            current = admitted.episode == self._episode
            if current and admitted.probe:
                self._probes_in_flight -= 1
            if kind in self._policy.long_open_kinds:
                # A spent quota is news whenever it arrives, even from a call admitted long ago.
                return self._open(self._policy.long_open_time)
            if not current:
                return None
            if kind not in self._policy.counted_kinds:
                if not admitted.probe:
                    self._window.add(self._clock(), fault=False)
                return None
            if admitted.probe:
                return self._open(self._next_open_time())
            return self._count_fault()

    def cancel(self, admitted: Pass) -> None:
        """The call `admitted` was not sent after all: give back its probe slot, record nothing."""
        with self._lock:
            if admitted.probe and admitted.episode == self._episode:
                self._probes_in_flight -= 1

    def reset(self) -> BreakerTransition | None:
        """Close the breaker by hand."""
        with self._lock:
            self._probes_in_flight = 0
            return self._move(CircuitState.CLOSED) if self._state is not CircuitState.CLOSED else None

    def _count_fault(self) -> BreakerTransition | None:
        now = self._clock()
        self._consecutive += 1
        self._window.add(now, fault=True)
        calls, faults = self._window.totals(now)
        rate = self._policy.failure_rate
        tripped = self._consecutive >= self._policy.failure_threshold or (
            rate is not None and calls >= self._policy.min_calls and faults / calls > rate
        )
        return self._open(self._next_open_time()) if tripped else None

    def _next_open_time(self) -> float:
        policy = self._policy
        base = min(policy.recovery_time * 2.0 ** min(self._opens, 30), policy.max_recovery_time)
        return base * (1 + policy.jitter * self._rng.uniform(-1.0, 1.0))

    def _open(self, duration: float) -> BreakerTransition | None:
        # Re-opening extends the open time, never shortens it.
        self._open_until = max(self._open_until, self._clock() + duration)
        self._opens += 1
        return self._move(CircuitState.OPEN) if self._state is not CircuitState.OPEN else None

    def _move(self, new: CircuitState) -> BreakerTransition:
        self._episode += 1
        if new is CircuitState.CLOSED:
            self._closed_pass = Pass(self._episode, probe=False)
        old, self._state = self._state, new
        self._probe_successes = 0
        if new is not CircuitState.HALF_OPEN:
            self._probes_in_flight = 0
        if new is CircuitState.CLOSED:
            self._consecutive = 0
            self._opens = 0
            self._open_until = 0.0
            self._window.clear()
        return BreakerTransition(self.provider, self.model, old, new)


class BreakerBoard:
    """The breakers of one client, created on first use: one per provider and one per (provider, model).

    The route-level methods (`admit`, `record_*`) keep the two levels consistent; each level applies
    the policy to its own share of the error kinds.
    """

    def __init__(
        self,
        policy: BreakerPolicy,
        clock: Clock,
        listener: TransitionListener | None = None,
        rng: random.Random | None = None,
    ) -> None:
        provider_kinds = policy.provider_kinds
        self._provider_policy = replace(
            policy,
            counted_kinds=policy.counted_kinds & provider_kinds,
            long_open_kinds=policy.long_open_kinds & provider_kinds,
        )
        self._model_policy = replace(
            policy,
            counted_kinds=policy.counted_kinds - provider_kinds,
            long_open_kinds=policy.long_open_kinds - provider_kinds,
        )
        self._clock = clock
        self._listener = listener
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._breakers: dict[tuple[str, str | None], CircuitBreaker] = {}
        self._tickets: dict[Route, Ticket] = {}  # the last ticket per route, reused while it fits

    def get(self, provider: str, model: str | None = None) -> CircuitBreaker:
        """The breaker of `provider` (`model=None`) or of one of its models."""
        breaker = self._breakers.get((provider, model))
        if breaker is None:
            policy = self._provider_policy if model is None else self._model_policy
            with self._lock:
                breaker = self._breakers.setdefault(
                    (provider, model),
                    CircuitBreaker(provider, model, policy, self._clock, self._rng, threading.Lock()),
                )
        return breaker

    def admit(self, route: Route) -> Ticket | CircuitBreaker:
        """Admit a call on `route`: its ticket, or the breaker that refused it."""
        ticket = self._tickets.get(route)
        if ticket is not None:
            # Both breakers closed in the episodes of the last ticket: it is this call's ticket too.
            provider, model = self.get(route.provider), self.get(route.provider, route.model)
            if (
                provider._closed_pass is ticket.provider
                and model._closed_pass is ticket.model
                and provider._state is CircuitState.CLOSED
                and model._state is CircuitState.CLOSED
            ):
                return ticket
        provider = self.get(route.provider)
        provider_pass, transition = provider.try_acquire()
        self.notify(transition)
        if provider_pass is None:
            return provider
        model = self.get(route.provider, route.model)
        model_pass, transition = model.try_acquire()
        self.notify(transition)
        if model_pass is None:
            provider.cancel(provider_pass)
            return model
        ticket = Ticket(route, provider_pass, model_pass)
        if not (provider_pass.probe or model_pass.probe):
            self._tickets[route] = ticket
        return ticket

    def record_success(self, ticket: Ticket) -> None:
        """The call admitted with `ticket` succeeded."""
        route = ticket.route
        self.notify(self.get(route.provider).record_success(ticket.provider))
        self.notify(self.get(route.provider, route.model).record_success(ticket.model))

    def record_error(self, ticket: Ticket, kind: ErrorKind) -> None:
        """The call admitted with `ticket` failed with an error of `kind`."""
        route = ticket.route
        self.notify(self.get(route.provider).record_error(ticket.provider, kind))
        self.notify(self.get(route.provider, route.model).record_error(ticket.model, kind))

    def cancel(self, ticket: Ticket) -> None:
        """The call admitted with `ticket` ended without an outcome: give back its slots, record nothing."""
        route = ticket.route
        self.get(route.provider).cancel(ticket.provider)
        self.get(route.provider, route.model).cancel(ticket.model)

    def is_open(self, route: Route) -> bool:
        """Whether `route` would be refused now (a preview for routing; admits nothing)."""
        now = self._clock()
        for key in ((route.provider, None), (route.provider, route.model)):
            breaker = self._breakers.get(key)
            if breaker is not None and breaker.state is CircuitState.OPEN and now < breaker.retry_at:
                return True
        return False

    def breakers(self) -> tuple[CircuitBreaker, ...]:
        """Every breaker created so far."""
        return tuple(self._breakers.values())

    def states(self) -> dict[str, CircuitState]:
        """Current state of every breaker created so far, by key (`"provider"` or `"provider:model"`)."""
        return {breaker.key: breaker.state for breaker in self.breakers()}

    def reset(self, key: str) -> None:
        """Close breakers by hand: `"provider"` closes the provider's and all its models'."""
        provider, _, model = key.partition(":")
        for breaker in self.breakers():
            if breaker.provider == provider and (not model or breaker.model == model):
                self.notify(breaker.reset())

    def notify(self, transition: BreakerTransition | None) -> None:
        """Report a transition to the listener (called outside the breaker's lock)."""
        if transition is not None and self._listener is not None:
            self._listener(transition)
