"""The decision engine: which route to try, whether to retry, how long to wait, when to fall back.

A `CallPlan` is a pure state machine. Clients drive it (sync and async alike) and do the I/O:

    while True:
        match plan.next_action():
            case Attempt(route=route): send; then plan.record_success(result) or plan.record_failure(exc)
            case Sleep(seconds=seconds): ...sleep...
            case Finish(result=result): return result

Retry, fallback and breaker decisions are reported as events to a listener; telemetry subscribes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from otel_llm._breaker import BreakerBoard, Clock, Ticket
from otel_llm._exceptions import (
    DEFAULT_FALLBACK_KINDS,
    AllRoutesFailedError,
    CircuitOpenError,
    ErrorKind,
    FailedAttempt,
    ProviderError,
)
from otel_llm._policies import RetryPolicy, RetryState
from otel_llm._types import Route

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Attempt:
    """Send the request to `route` now.

    Attributes:
        route: Where to send it.
        number: 1-based attempt number across the whole call.
        position: Index of the route in the call's fallback chain.
        timeout: Seconds this attempt may take (never beyond the call's deadline).
    """

    route: Route
    number: int
    position: int
    timeout: float


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait before retrying the same route."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Finish(Generic[T]):
    """The call succeeded with `result`."""

    result: T


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """A failed attempt will be retried on the same route after `delay` seconds."""

    route: Route
    error: ProviderError
    delay: float


@dataclass(frozen=True, slots=True)
class FallbackTaken:
    """The call moves from one route to the next because of `reason`."""

    from_route: Route
    to_route: Route
    reason: ErrorKind


PlanEvent = RetryScheduled | FallbackTaken
PlanListener = Callable[[PlanEvent], None]


class CallPlan(Generic[T]):
    """Decisions for one logical call over an ordered fallback chain.

    Raises `AllRoutesFailedError` from `next_action` once no route is left or the deadline has passed.

    A `streaming` call succeeds as a call at its first chunk (no failover after that), but whether the
    route served it well is known only when the stream ends: the breakers hear of it through
    `record_stream_end`, so a stream cut mid-way counts as the fault it is, and a half-open probe holds
    its slot until its stream has proven the route.
    """

    def __init__(
        self,
        routes: Sequence[Route],
        *,
        retry: RetryPolicy,
        breakers: BreakerBoard,
        clock: Clock,
        rng: random.Random,
        attempt_timeout: float,
        total_timeout: float | None = None,
        fallback_on: Collection[ErrorKind] = DEFAULT_FALLBACK_KINDS,
        listener: PlanListener | None = None,
        streaming: bool = False,
    ) -> None:
        self._routes = tuple(routes)
        self._retry = retry
        self._breakers = breakers
        self._clock = clock
        self._rng = rng
        self._attempt_timeout = attempt_timeout
        self._start = clock()
        self._deadline = None if total_timeout is None else self._start + total_timeout
        self._fallback_on = frozenset(fallback_on)
        self._listener = listener
        self._stop_reason: str | None = None
        self._position = 0
        self._attempts_on_route = 0
        self._number = 0
        self._failures: list[FailedAttempt] = []
        self._streaming = streaming
        self._in_flight: Ticket | None = None
        self._stream_ticket: Ticket | None = None
        self._pending_sleep: Sleep | None = None
        self._finish: Finish[T] | None = None

    @property
    def failures(self) -> tuple[FailedAttempt, ...]:
        """Every failed or skipped attempt so far."""
        return tuple(self._failures)

    def next_action(self) -> Attempt | Sleep | Finish[T]:
        """What the client must do next."""
        if self._finish is not None:
            return self._finish
        if self._pending_sleep is not None:
            sleep, self._pending_sleep = self._pending_sleep, None
            return sleep
        if self._stop_reason is not None:
            raise AllRoutesFailedError(self._failures, reason=self._stop_reason)
        while self._position < len(self._routes):
            route = self._routes[self._position]
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                raise AllRoutesFailedError(self._failures, reason="deadline exceeded")
            admission = self._breakers.admit(route)
            if not isinstance(admission, Ticket):
                self._failures.append(
                    FailedAttempt(str(route), CircuitOpenError(admission.key, admission.retry_at))
                )
                self._advance("circuit_open")
                continue
            self._in_flight = admission
            self._number += 1
            self._attempts_on_route += 1
            timeout = self._attempt_timeout if remaining is None else min(self._attempt_timeout, remaining)
            return Attempt(route, self._number, self._position, timeout)
        raise AllRoutesFailedError(self._failures)

    def record_success(self, result: T) -> None:
        """The current attempt succeeded (for a stream: its first chunk arrived)."""
        ticket = self._take_in_flight()
        if self._streaming:
            self._stream_ticket = ticket
        else:
            self._breakers.record_success(ticket)
        self._finish = Finish(result)

    def record_failure(self, error: ProviderError) -> None:
        """The current attempt failed; decide between retrying the route and falling back."""
        ticket = self._take_in_flight()
        route = ticket.route
        self._breakers.record_error(ticket, error.kind)  # the policy decides what counts
        self._failures.append(FailedAttempt(str(route), error))
        # A failure that just opened a breaker makes a retry on this route pointless.
        delay = None if self._breakers.is_open(route) else self._retry_delay(error)
        if delay is None:
            if error.kind in self._fallback_on:
                self._advance(error.kind)
            else:
                self._stop_reason = f"not failed over after {error.kind}"
            return
        self._pending_sleep = Sleep(delay)
        self._emit(RetryScheduled(route, error, delay))

    def record_abandoned(self) -> None:
        """The current attempt ended without an outcome (cancelled, or a non-provider error).

        Its breaker slots are given back and nothing is recorded: a cancelled half-open probe must not
        keep its slot, or the breaker would refuse every call from then on.
        """
        ticket, self._in_flight = self._in_flight, None
        if ticket is not None:
            self._breakers.cancel(ticket)

    def record_stream_end(self, error: ProviderError | None) -> None:
        """The committed stream ended: completed or closed by the caller (`None`), or failed mid-way.

        No retry follows, only breaker input; a stream that never committed records nothing here.
        """
        ticket, self._stream_ticket = self._stream_ticket, None
        if ticket is None:
            return
        if error is None:
            self._breakers.record_success(ticket)
        else:
            self._breakers.record_error(ticket, error.kind)

    def _retry_delay(self, error: ProviderError) -> float | None:
        if not self._retry.retries(error):
            return None
        if self._retry.stop(RetryState(self._attempts_on_route, self._clock() - self._start)):
            return None
        if error.retry_after is not None:
            if error.retry_after > self._retry.max_hint:
                return None  # a long hint means "go elsewhere", not "wait here"
            delay = error.retry_after
        else:
            delay = self._retry.backoff(self._attempts_on_route, self._rng)
        remaining = self._remaining()
        if remaining is not None and delay >= remaining:
            return None
        return delay

    def _advance(self, reason: ErrorKind) -> None:
        from_route = self._routes[self._position]
        self._position += 1
        self._attempts_on_route = 0
        if self._position < len(self._routes):
            self._emit(FallbackTaken(from_route, self._routes[self._position], reason))

    def _remaining(self) -> float | None:
        return None if self._deadline is None else self._deadline - self._clock()

    def _take_in_flight(self) -> Ticket:
        ticket, self._in_flight = self._in_flight, None
        if ticket is None:
            raise RuntimeError("record_* called without an attempt in flight")
        return ticket

    def _emit(self, event: PlanEvent) -> None:
        if self._listener is not None:
            self._listener(event)
