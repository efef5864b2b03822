from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import pytest

from otel_llm import BreakerPolicy, CircuitState, ConfigurationError
from otel_llm._breaker import BreakerBoard, BreakerTransition, CircuitBreaker, Ticket
from otel_llm._exceptions import ErrorKind
from otel_llm._types import Route
from tests.conftest import FakeClock

FAULT: ErrorKind = "server_error"
ROUTE = Route("p", "m")


def make_board(clock: FakeClock, **policy: Any) -> tuple[BreakerBoard, list[BreakerTransition]]:
    events: list[BreakerTransition] = []
    policy.setdefault("jitter", 0.0)  # exact times; jitter has its own test
    board = BreakerBoard(BreakerPolicy(**policy), clock, events.append, random.Random(1))
    return board, events


def admit(board: BreakerBoard, route: Route = ROUTE) -> Ticket | None:
    """The call's ticket, or `None` if a breaker refused it."""
    admission = board.admit(route)
    return admission if isinstance(admission, Ticket) else None


def call(board: BreakerBoard, kind: str | None = FAULT, route: Route = ROUTE) -> None:
    """One admitted call ending in success (kind None) or an error of `kind`."""
    ticket = admit(board, route)
    assert ticket is not None
    if kind is None:
        board.record_success(ticket)
    else:
        board.record_error(ticket, kind)  # type: ignore[arg-type]


def test_opens_after_consecutive_faults_and_refuses_calls(clock: FakeClock) -> None:
    board, events = make_board(clock, failure_threshold=3, recovery_time=10)
    for _ in range(3):
        call(board)
    assert board.get("p", "m").state is CircuitState.OPEN
    assert events == [BreakerTransition("p", "m", CircuitState.CLOSED, CircuitState.OPEN)]
    assert not admit(board)
    assert board.get("p", "m").retry_at == clock.now + 10


def test_a_success_resets_the_consecutive_count(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=2, failure_rate=None)
    call(board)
    call(board, None)
    call(board)
    assert board.get("p", "m").state is CircuitState.CLOSED


def test_opens_on_the_failure_rate_once_the_window_has_enough_calls(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=100, failure_rate=0.5, min_calls=10, window=60)
    for _ in range(5):  # alternating: never two faults in a row, but a 50 %+ fault rate
        call(board)
        call(board, None)
        clock.now += 1
    assert board.get("p", "m").state is CircuitState.CLOSED  # exactly 50 % is not more than the rate
    call(board)
    assert board.get("p", "m").state is CircuitState.OPEN


def test_the_rate_needs_min_calls_and_forgets_old_calls(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=100, failure_rate=0.5, min_calls=4, window=10)
    call(board)
    call(board)
    call(board, None)
    assert board.get("p", "m").state is CircuitState.CLOSED  # 2 of 3 is a high rate, but too few calls
    clock.now += 11  # those calls leave the window
    for kind in (None, None, None, FAULT):
        call(board, kind)
    assert board.get("p", "m").state is CircuitState.CLOSED  # 1 fault in 4 recent calls


def test_only_counted_kinds_count(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=1)
    for kind in ("bad_request", "rate_limit", "context_length", "content_filter", "auth"):
        call(board, kind)
    assert board.get("p", "m").state is CircuitState.CLOSED
    call(board, "timeout")
    assert board.get("p", "m").state is CircuitState.OPEN


def test_counted_kinds_are_configurable(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=1, counted_kinds=frozenset({"rate_limit"}))
    call(board, "server_error")
    assert board.get("p", "m").state is CircuitState.CLOSED
    call(board, "rate_limit")
    assert board.get("p", "m").state is CircuitState.OPEN


def test_quota_exhaustion_opens_at_once_for_long(clock: FakeClock) -> None:
    board, _ = make_board(clock, long_open_time=3600)
    call(board, "quota_exhausted")
    assert board.get("p").state is CircuitState.OPEN  # a spent quota stops every model of the provider
    assert board.get("p").retry_at == clock.now + 3600
    assert not admit(board, Route("p", "other"))


def test_half_open_admits_one_probe_and_closes_on_success(clock: FakeClock) -> None:
    board, events = make_board(clock, failure_threshold=1, recovery_time=5)
    call(board)
    clock.now += 5
    probe = admit(board)
    assert probe is not None
    assert board.get("p", "m").state is CircuitState.HALF_OPEN
    assert not admit(board)  # others skip the route while the probe runs
    board.record_success(probe)
    assert board.get("p", "m").state is CircuitState.CLOSED
    assert [(e.old, e.new) for e in events] == [
        (CircuitState.CLOSED, CircuitState.OPEN),
        (CircuitState.OPEN, CircuitState.HALF_OPEN),
        (CircuitState.HALF_OPEN, CircuitState.CLOSED),
    ]


def test_each_failed_probe_doubles_the_open_time_up_to_the_cap(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=1, recovery_time=5, max_recovery_time=15)
    call(board)
    opened_for = []
    for _ in range(3):
        opened_for.append(board.get("p", "m").retry_at - clock.now)
        clock.now = board.get("p", "m").retry_at
        call(board)  # the probe fails
    assert opened_for == [5, 10, 15]
    clock.now = board.get("p", "m").retry_at
    call(board, None)  # recovery resets the growth
    call(board)
    assert board.get("p", "m").retry_at - clock.now == 5


def test_jitter_spreads_open_times(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=1, recovery_time=10, jitter=0.2)
    times = set()
    for model in range(30):
        call(board, route=Route("p", str(model)))
        times.add(round(board.get("p", str(model)).retry_at - clock.now, 6))
    assert len(times) > 20 and min(times) >= 8 and max(times) <= 12


def test_a_neutral_result_frees_the_probe_slot(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=1, recovery_time=1)
    call(board)
    clock.now += 1
    call(board, "bad_request")
    assert board.get("p", "m").state is CircuitState.HALF_OPEN
    assert admit(board)


def test_an_outcome_from_before_a_state_change_is_stale(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=1, recovery_time=1)
    slow = admit(board)  # admitted while closed, still running
    call(board)  # opens the breaker
    clock.now += 1
    probe = admit(board)
    assert slow is not None and probe is not None
    board.record_success(slow)  # neither closes the circuit nor frees the probe's slot
    board.record_error(slow, FAULT)  # nor re-opens it
    assert board.get("p", "m").state is CircuitState.HALF_OPEN
    assert not admit(board)
    board.record_success(probe)
    assert board.get("p", "m").state is CircuitState.CLOSED


def test_a_spent_quota_opens_the_provider_even_when_reported_late(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=1, recovery_time=1)
    slow = admit(board)
    call(board, "connection")  # opens the provider's breaker for 1 s
    assert slow is not None
    board.record_error(slow, "quota_exhausted")
    assert board.get("p").retry_at == clock.now + 3600


def test_manual_reset_closes(clock: FakeClock) -> None:
    board, events = make_board(clock, failure_threshold=1)
    call(board)
    call(board, "connection", Route("p", "n"))
    call(board, route=Route("q", "m"))
    board.reset("p:m")
    assert board.states() == {
        "p": CircuitState.OPEN,
        "p:m": CircuitState.CLOSED,
        "p:n": CircuitState.CLOSED,
        "q": CircuitState.CLOSED,
        "q:m": CircuitState.OPEN,
    }
    assert events[-1].new is CircuitState.CLOSED
    board.reset("p")  # a provider's reset closes its models' breakers too
    assert board.states()["p"] is CircuitState.CLOSED
    assert board.states()["q:m"] is CircuitState.OPEN
    assert board.get("p", "m").reset() is None


def test_a_failing_model_leaves_its_siblings_and_other_providers_alone(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=1)
    call(board, "overloaded", Route("a", "big"))
    assert not admit(board, Route("a", "big"))
    assert admit(board, Route("a", "small"))
    assert admit(board, Route("b", "big"))
    assert board.states()["a"] is CircuitState.CLOSED


def test_connection_faults_stop_every_model_of_the_provider(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=2)
    call(board, "connection", Route("a", "big"))
    call(board, "connection", Route("a", "small"))  # faults of the provider add up across its models
    assert board.states()["a"] is CircuitState.OPEN
    assert board.admit(Route("a", "other")) is board.get("a")
    assert board.is_open(Route("a", "other"))
    assert not board.is_open(Route("b", "big"))


def test_a_refusal_by_the_model_gives_back_the_providers_probe_slot(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=1, recovery_time=5, max_recovery_time=600)
    call(board, "overloaded", Route("a", "big"))  # model open for 5 s
    clock.now += 5
    call(board, "overloaded", Route("a", "big"))  # its probe fails: open for 10 s
    call(board, "connection", Route("a", "small"))  # provider open for 5 s
    clock.now += 5
    assert board.admit(Route("a", "big")) is board.get("a", "big")  # provider probed, model refused
    assert board.get("a").state is CircuitState.HALF_OPEN
    assert admit(board, Route("a", "small"))  # the provider's single probe slot was given back


def test_closing_can_require_several_successful_probes(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=1, recovery_time=1, success_threshold=2)
    call(board)
    clock.now += 1
    for expected in (CircuitState.HALF_OPEN, CircuitState.CLOSED):
        call(board, None)
        assert board.get("p", "m").state is expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("failure_threshold", 0),
        ("half_open_probes", 0),
        ("success_threshold", 0),
        ("min_calls", 0),
        ("recovery_time", 0),
        ("window", 0),
        ("max_recovery_time", 1),
        ("failure_rate", 1.5),
        ("jitter", 1.0),
    ],
)
def test_invalid_policy_names_the_field(field: str, value: float) -> None:
    with pytest.raises(ConfigurationError, match=f"breaker.{field}"):
        BreakerPolicy(**{field: value})  # type: ignore[arg-type]


class RacingLock:
    """A lock that lets another thread's work (`race`) happen just before it is taken."""

    def __init__(self) -> None:
        self._inner = threading.RLock()
        self.race: Callable[[], object] | None = None

    def __enter__(self) -> None:
        race, self.race = self.race, None
        if race is not None:
            race()
        self._inner.acquire()

    def __exit__(self, *exc: object) -> None:
        self._inner.release()


def test_a_breaker_closed_by_another_thread_meanwhile_admits_a_plain_call(clock: FakeClock) -> None:
    lock = RacingLock()
    breaker = CircuitBreaker("p", "m", BreakerPolicy(failure_threshold=1), clock, random.Random(0), lock)  # type: ignore[arg-type]
    admitted, _ = breaker.try_acquire()
    assert admitted is not None
    breaker.record_error(admitted, FAULT)
    lock.race = breaker.reset  # closed by hand between the lock-free look and the locked one
    admitted, _ = breaker.try_acquire()
    assert admitted is not None and not admitted.probe
    assert breaker.state is CircuitState.CLOSED
