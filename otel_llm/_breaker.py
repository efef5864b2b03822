"""Per-provider circuit breakers: closed -> open -> half-open (bounded probes) -> closed.

A breaker opens on `failure_threshold` consecutive provider faults, or when faults exceed `failure_rate`
of the calls in a rolling `window` that saw at least `min_calls` (one failure among three calls is not
an outage). Each re-opening without a recovery in between doubles the open time, up to a cap, with
jitter so that many clients do not probe at the same instant; quota exhaustion opens it for long.

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
from dataclasses import dataclass, field

from otel_llm._exceptions import PROVIDER_FAULT_KINDS, ConfigurationError, ErrorKind

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
        key: The breaker's key (the provider name).
        old: State before.
        new: State after.
    """

    key: str
    old: CircuitState
    new: CircuitState


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
    """One breaker. Every admitted call must end in exactly one `record_*` call."""

    def __init__(
        self, key: str, policy: BreakerPolicy, clock: Clock, rng: random.Random, lock: threading.Lock
    ) -> None:
        self.key = key
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

    @property
    def state(self) -> CircuitState:
        """Current state (an open breaker past its recovery time stays open until a call probes it)."""
        return self._state

    @property
    def retry_at(self) -> float:
        """Clock time from which an open breaker admits a probe."""
        return self._open_until

    def try_acquire(self) -> tuple[bool, BreakerTransition | None]:
        """Admit a call or refuse it; also returns the transition the admission caused, if any."""
        with self._lock:
            if self._state is CircuitState.CLOSED:
                return True, None
            transition = None
            if self._state is CircuitState.OPEN:
                if self._clock() < self._open_until:
                    return False, None
                transition = self._move(CircuitState.HALF_OPEN)
            if self._probes_in_flight >= self._policy.half_open_probes:
                return False, transition
            self._probes_in_flight += 1
            return True, transition

    def record_success(self) -> BreakerTransition | None:
        """An admitted call succeeded."""
        with self._lock:
            self._consecutive = 0
            if self._state is not CircuitState.HALF_OPEN:
                self._window.add(self._clock(), fault=False)
                return None
            self._probes_in_flight -= 1
            self._probe_successes += 1
            if self._probe_successes >= self._policy.success_threshold:
                return self._move(CircuitState.CLOSED)
            return None

    def record_error(self, kind: ErrorKind) -> BreakerTransition | None:
        """An admitted call failed with an error of `kind`; the policy decides what that means."""
        with self._lock:
            probing = self._state is CircuitState.HALF_OPEN
            if probing:
                self._probes_in_flight -= 1
            if kind in self._policy.long_open_kinds:
                return self._open(self._policy.long_open_time)
            if kind not in self._policy.counted_kinds:
                if not probing:
                    self._window.add(self._clock(), fault=False)
                return None
            if probing:
                return self._open(self._next_open_time())
            return self._count_fault()

    def record_late_failure(self, kind: ErrorKind) -> BreakerTransition | None:
        """A call already recorded as a success failed afterwards (a stream cut mid-way).

        It counts towards opening a closed breaker but holds no probe slot, so it never touches the
        half-open bookkeeping.
        """
        with self._lock:
            if self._state is not CircuitState.CLOSED or kind not in self._policy.counted_kinds:
                return None
            return self._count_fault()

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
        old, self._state = self._state, new
        self._probe_successes = 0
        if new is not CircuitState.HALF_OPEN:
            self._probes_in_flight = 0
        if new is CircuitState.CLOSED:
            self._consecutive = 0
            self._opens = 0
            self._open_until = 0.0
            self._window.clear()
        return BreakerTransition(self.key, old, new)


class BreakerBoard:
    """The breakers of one client, created on first use, one per provider."""

    def __init__(
        self,
        policy: BreakerPolicy,
        clock: Clock,
        listener: TransitionListener | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._listener = listener
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, key: str) -> CircuitBreaker:
        """The breaker for `key`."""
        breaker = self._breakers.get(key)
        if breaker is None:
            with self._lock:
                breaker = self._breakers.setdefault(
                    key, CircuitBreaker(key, self._policy, self._clock, self._rng, threading.Lock())
                )
        return breaker

    def states(self) -> dict[str, CircuitState]:
        """Current state of every breaker created so far."""
        return {key: breaker.state for key, breaker in list(self._breakers.items())}

    def notify(self, transition: BreakerTransition | None) -> None:
        """Report a transition to the listener (called outside the breaker's lock)."""
        if transition is not None and self._listener is not None:
            self._listener(transition)
