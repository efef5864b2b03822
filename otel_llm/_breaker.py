"""Per-provider circuit breakers: closed -> open -> half-open (bounded probes) -> closed.

Pure state machines: time comes from an injected clock, and state changes are reported as
`BreakerTransition` events to a listener (telemetry records them; this module never imports it).
A lock makes each decision atomic because one client is shared by threads.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from dataclasses import dataclass

from otel_llm._exceptions import ConfigurationError

Clock = Callable[[], float]


class CircuitState(str, enum.Enum):
    """State of one breaker."""

    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a provider's breaker opens and how it recovers.

    Attributes:
        failure_threshold: Consecutive provider faults (5xx, overload, timeouts, connection errors)
            that open the circuit. Request errors (400, auth, content filter) never count.
        recovery_time: Seconds the circuit stays open before admitting a probe.
        half_open_probes: Calls admitted at once while half-open; others skip the route.
        success_threshold: Successful probes that close the circuit again.
    """

    failure_threshold: int = 5
    recovery_time: float = 30.0
    half_open_probes: int = 1
    success_threshold: int = 1

    def __post_init__(self) -> None:
        for name in ("failure_threshold", "half_open_probes", "success_threshold"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"breaker.{name}", "must be at least 1")
        if self.recovery_time <= 0:
            raise ConfigurationError("breaker.recovery_time", "must be positive")


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


class CircuitBreaker:
    """One breaker. Every admitted call must end in exactly one `record_*` call."""

    def __init__(self, key: str, policy: BreakerPolicy, clock: Clock, lock: threading.Lock) -> None:
        self.key = key
        self._policy = policy
        self._clock = clock
        self._lock = lock
        self._state = CircuitState.CLOSED
        self._failures = 0
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
            self._failures = 0
            if self._state is not CircuitState.HALF_OPEN:
                return None
            self._probes_in_flight -= 1
            self._probe_successes += 1
            if self._probe_successes >= self._policy.success_threshold:
                return self._move(CircuitState.CLOSED)
            return None

    def record_failure(self) -> BreakerTransition | None:
        """An admitted call failed through the provider's fault."""
        with self._lock:
            if self._state is CircuitState.HALF_OPEN:
                self._probes_in_flight -= 1
                return self._open()
            self._failures += 1
            if self._state is CircuitState.CLOSED and self._failures >= self._policy.failure_threshold:
                return self._open()
            return None

    def record_late_failure(self) -> BreakerTransition | None:
        """A call already recorded as a success failed afterwards (a stream cut mid-way).

        It counts towards opening a closed breaker but holds no probe slot, so it never touches the
        half-open bookkeeping.
        """
        with self._lock:
            if self._state is not CircuitState.CLOSED:
                return None
            self._failures += 1
            return self._open() if self._failures >= self._policy.failure_threshold else None

    def record_neutral(self) -> None:
        """An admitted call ended in a way that says nothing about the provider (e.g. a 400)."""
        with self._lock:
            if self._state is CircuitState.HALF_OPEN:
                self._probes_in_flight -= 1

    def reset(self) -> BreakerTransition | None:
        """Close the breaker by hand."""
        with self._lock:
            self._failures = 0
            self._probes_in_flight = 0
            return self._move(CircuitState.CLOSED) if self._state is not CircuitState.CLOSED else None

    def _open(self) -> BreakerTransition:
        self._open_until = self._clock() + self._policy.recovery_time
        return self._move(CircuitState.OPEN)

    def _move(self, new: CircuitState) -> BreakerTransition:
        old, self._state = self._state, new
        self._probe_successes = 0
        if new is not CircuitState.HALF_OPEN:
            self._probes_in_flight = 0
        if new is CircuitState.CLOSED:
            self._failures = 0
        return BreakerTransition(self.key, old, new)


class BreakerBoard:
    """The breakers of one client, created on first use, one per provider."""

    def __init__(
        self, policy: BreakerPolicy, clock: Clock, listener: TransitionListener | None = None
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._listener = listener
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, key: str) -> CircuitBreaker:
        """The breaker for `key`."""
        breaker = self._breakers.get(key)
        if breaker is None:
            with self._lock:
                breaker = self._breakers.setdefault(
                    key, CircuitBreaker(key, self._policy, self._clock, threading.Lock())
                )
        return breaker

    def states(self) -> dict[str, CircuitState]:
        """Current state of every breaker created so far."""
        return {key: breaker.state for key, breaker in list(self._breakers.items())}

    def notify(self, transition: BreakerTransition | None) -> None:
        """Report a transition to the listener (called outside the breaker's lock)."""
        if transition is not None and self._listener is not None:
            self._listener(transition)
