from __future__ import annotations

import random
from typing import Any

import pytest

from otel_llm import (
    AllRoutesFailedError,
    BadRequestError,
    BreakerPolicy,
    CircuitOpenError,
    CircuitState,
    ProviderError,
    ProviderUnavailableError,
    RateLimitError,
    RetryPolicy,
    Route,
    StopAfterAttempts,
)
from otel_llm._breaker import BreakerBoard, Ticket
from otel_llm._engine import Attempt, CallPlan, FallbackTaken, Finish, PlanEvent, RetryScheduled, Sleep
from otel_llm._policies import NO_RETRY, Exponential
from tests.conftest import FakeClock

A, B, C = Route("a", "m1"), Route("b", "m2"), Route("c", "m3")


def unavailable(route: Route, retry_after: float | None = None) -> ProviderUnavailableError:
    return ProviderUnavailableError(
        "down", provider=route.provider, model=route.model, status_code=503, retry_after=retry_after
    )


def make_plan(
    clock: FakeClock,
    routes: tuple[Route, ...] = (A, B),
    *,
    retry: RetryPolicy | None = None,
    board: BreakerBoard | None = None,
    total: float | None = None,
    events: list[PlanEvent] | None = None,
) -> CallPlan[str]:
    return CallPlan(
        routes,
        retry=retry or RetryPolicy(stop=StopAfterAttempts(2), backoff=Exponential(0.5)),
        breakers=board or BreakerBoard(BreakerPolicy(), clock),
        clock=clock,
        rng=random.Random(0),
        attempt_timeout=30.0,
        total_timeout=total,
        listener=None if events is None else events.append,
    )


def expect_attempt(plan: CallPlan[Any], route: Route) -> Attempt:
    action = plan.next_action()
    assert isinstance(action, Attempt), action
    assert action.route == route
    return action


def test_success_on_first_attempt_finishes() -> None:
    clock = FakeClock()
    plan = make_plan(clock)
    first = expect_attempt(plan, A)
    assert (first.number, first.position, first.timeout) == (1, 0, 30.0)
    plan.record_success("ok")
    assert plan.next_action() == Finish("ok")


def test_retryable_error_sleeps_with_backoff_then_retries_the_same_route() -> None:
    clock, events = FakeClock(), []  # type: ignore[var-annotated]
    plan = make_plan(clock, events=events)
    expect_attempt(plan, A)
    plan.record_failure(unavailable(A))
    assert plan.next_action() == Sleep(0.5)
    assert expect_attempt(plan, A).number == 2
    assert isinstance(events[0], RetryScheduled) and events[0].delay == 0.5


def test_provider_hint_replaces_backoff() -> None:
    clock = FakeClock()
    plan = make_plan(clock)
    expect_attempt(plan, A)
    plan.record_failure(
        RateLimitError("slow down", provider="a", model="m1", status_code=429, retry_after=1.5)
    )
    assert plan.next_action() == Sleep(1.5)


def test_hint_longer_than_the_cap_fails_over_at_once() -> None:
    clock, events = FakeClock(), []  # type: ignore[var-annotated]
    plan = make_plan(clock, retry=RetryPolicy(max_hint=60), events=events)
    expect_attempt(plan, A)
    plan.record_failure(unavailable(A, retry_after=120))
    expect_attempt(plan, B)
    assert events == [FallbackTaken(A, B, "server_error")]


def test_hint_beyond_the_deadline_fails_over_instead_of_sleeping() -> None:
    clock = FakeClock()
    plan = make_plan(clock, total=2.0)
    expect_attempt(plan, A)
    clock.now += 1.0  # the attempt itself took a second: 1.5 s of hint no longer fits
    plan.record_failure(unavailable(A, retry_after=1.5))
    assert expect_attempt(plan, B).timeout == pytest.approx(1.0)


def test_hint_within_the_deadline_is_honoured() -> None:
    clock = FakeClock()
    plan = make_plan(clock, total=2.0)
    expect_attempt(plan, A)
    plan.record_failure(unavailable(A, retry_after=1.5))
    assert plan.next_action() == Sleep(1.5)


def test_request_errors_are_not_retried_failed_over_or_counted_by_default() -> None:
    clock = FakeClock()
    board = BreakerBoard(BreakerPolicy(failure_threshold=1), clock)
    plan = make_plan(clock, board=board)
    expect_attempt(plan, A)
    plan.record_failure(BadRequestError("bad", provider="a", model="m1", status_code=400))
    with pytest.raises(AllRoutesFailedError, match="not failed over after bad_request"):
        plan.next_action()  # the same request would most likely fail on B too
    assert board.get("a", "m1").state is CircuitState.CLOSED


def test_failing_over_on_request_errors_is_opt_in() -> None:
    clock = FakeClock()
    plan: CallPlan[str] = CallPlan(
        (A, B),
        retry=RetryPolicy(),
        breakers=BreakerBoard(BreakerPolicy(), clock),
        clock=clock,
        rng=random.Random(0),
        attempt_timeout=30.0,
        fallback_on={"bad_request"},
    )
    expect_attempt(plan, A)
    plan.record_failure(BadRequestError("bad", provider="a", model="m1", status_code=400))
    expect_attempt(plan, B)


def test_every_route_failing_raises_with_every_attempt() -> None:
    clock = FakeClock()
    plan = make_plan(clock, retry=RetryPolicy(stop=StopAfterAttempts(1)))
    for route in (A, B):
        expect_attempt(plan, route)
        plan.record_failure(unavailable(route))
    with pytest.raises(AllRoutesFailedError) as info:
        plan.next_action()
    assert [a.route for a in info.value.attempts] == ["a:m1", "b:m2"]
    assert info.value.kind == "server_error"


def test_open_breaker_skips_the_route_and_says_why() -> None:
    clock, events = FakeClock(), []  # type: ignore[var-annotated]
    board = BreakerBoard(BreakerPolicy(failure_threshold=1, recovery_time=30), clock)
    ticket = board.admit(A)
    assert isinstance(ticket, Ticket)
    board.record_error(ticket, "server_error")
    plan = make_plan(clock, board=board, events=events)
    expect_attempt(plan, B)
    assert events == [FallbackTaken(A, B, "circuit_open")]
    assert isinstance(plan.failures[0].error, CircuitOpenError)


def test_provider_faults_open_the_breaker_across_calls() -> None:
    clock = FakeClock()
    board = BreakerBoard(BreakerPolicy(failure_threshold=2), clock)
    for _ in range(2):
        plan = make_plan(clock, routes=(A,), retry=RetryPolicy(stop=StopAfterAttempts(1)), board=board)
        expect_attempt(plan, A)
        plan.record_failure(unavailable(A))
    assert board.get("a", "m1").state is CircuitState.OPEN


def test_deadline_already_passed_raises() -> None:
    clock = FakeClock()
    plan = make_plan(clock, total=1.0)
    expect_attempt(plan, A)
    plan.record_failure(unavailable(A))
    clock.now += 5
    with pytest.raises(AllRoutesFailedError, match="deadline exceeded"):
        while True:
            action = plan.next_action()
            if isinstance(action, Attempt):
                plan.record_failure(unavailable(action.route))


def test_attempts_are_bounded_by_routes_times_attempts_per_route() -> None:
    clock = FakeClock()
    plan = make_plan(clock, routes=(A, B, C), retry=RetryPolicy(stop=StopAfterAttempts(3)))
    attempts = 0
    with pytest.raises(AllRoutesFailedError):
        while True:
            action = plan.next_action()
            if isinstance(action, Attempt):
                attempts += 1
                plan.record_failure(unavailable(action.route))
            elif isinstance(action, Sleep):
                clock.sleep(action.seconds)
    assert attempts == 9


def test_recording_without_an_attempt_is_a_programming_error() -> None:
    plan = make_plan(FakeClock())
    with pytest.raises(RuntimeError):
        plan.record_success("x")


def test_no_retry_on_a_route_whose_breaker_the_failure_just_opened() -> None:
    clock, events = FakeClock(), []  # type: ignore[var-annotated]
    board = BreakerBoard(BreakerPolicy(failure_threshold=1), clock)
    plan = make_plan(clock, board=board, events=events)
    expect_attempt(plan, A)
    plan.record_failure(unavailable(A))
    expect_attempt(plan, B)
    assert events == [FallbackTaken(A, B, "server_error")]


def stream_cut_by(error: ProviderError | None, board: BreakerBoard, clock: FakeClock) -> None:
    """A streaming call that commits to A, then ends with `error` (`None`: completes)."""
    plan: CallPlan[str] = CallPlan(
        [A], retry=NO_RETRY, breakers=board, clock=clock, rng=random.Random(0), attempt_timeout=30.0,
        streaming=True,
    )  # fmt: skip
    expect_attempt(plan, A)
    plan.record_success("first chunk")
    plan.record_stream_end(error)
    plan.record_stream_end(None)  # a second end records nothing


def test_a_stream_cut_mid_way_counts_for_the_breaker_only_if_the_provider_is_at_fault() -> None:
    clock = FakeClock()
    board = BreakerBoard(BreakerPolicy(failure_threshold=2), clock)
    stream_cut_by(BadRequestError("bad", provider="a", model="m1"), board, clock)
    stream_cut_by(unavailable(A), board, clock)
    assert board.get("a", "m1").state is CircuitState.CLOSED
    stream_cut_by(unavailable(A), board, clock)  # its first chunk did not count as a success
    assert board.get("a", "m1").state is CircuitState.OPEN


def test_a_half_open_probe_stream_closes_the_breaker_only_when_it_completes() -> None:
    clock = FakeClock()
    board = BreakerBoard(BreakerPolicy(failure_threshold=1, recovery_time=1, jitter=0), clock)
    stream_cut_by(unavailable(A), board, clock)
    clock.now += 1
    stream_cut_by(None, board, clock)
    assert board.get("a", "m1").state is CircuitState.CLOSED


def test_each_error_says_whether_fallback_applies_by_default() -> None:
    assert not BadRequestError("bad", provider="a", model="m", kind="content_filter").fallback_applies
    assert unavailable(A).fallback_applies
    assert RateLimitError("slow", provider="a", model="m").fallback_applies


def test_an_abandoned_probe_gives_its_slot_back() -> None:
    clock = FakeClock()
    board = BreakerBoard(BreakerPolicy(failure_threshold=1, recovery_time=1, jitter=0), clock)
    stream_cut_by(unavailable(A), board, clock)  # opens A's breaker
    clock.now += 1
    plan = make_plan(clock, board=board)
    expect_attempt(plan, A)  # the half-open probe...
    plan.record_abandoned()  # ...is cancelled
    plan.record_abandoned()  # nothing in flight any more: no effect
    expect_attempt(make_plan(clock, board=board), A)  # the next call may probe
