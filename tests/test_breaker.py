from __future__ import annotations

import pytest

from otel_llm import BreakerPolicy, CircuitState, ConfigurationError
from otel_llm._breaker import BreakerBoard, BreakerTransition
from tests.conftest import FakeClock


def make_board(clock: FakeClock, **policy: int | float) -> tuple[BreakerBoard, list[BreakerTransition]]:
    events: list[BreakerTransition] = []
    board = BreakerBoard(BreakerPolicy(**policy), clock, events.append)  # type: ignore[arg-type]
    return board, events


def admit(board: BreakerBoard, key: str = "p") -> bool:
    admitted, transition = board.get(key).try_acquire()
    board.notify(transition)
    return admitted


def fail(board: BreakerBoard, key: str = "p") -> None:
    assert admit(board, key)
    board.notify(board.get(key).record_failure())


def test_opens_after_consecutive_failures_and_refuses_calls(clock: FakeClock) -> None:
    board, events = make_board(clock, failure_threshold=3, recovery_time=10)
    for _ in range(3):
        fail(board)
    assert board.get("p").state is CircuitState.OPEN
    assert events == [BreakerTransition("p", CircuitState.CLOSED, CircuitState.OPEN)]
    assert not admit(board)
    assert board.get("p").retry_at == clock.now + 10


def test_success_resets_the_consecutive_count(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=2)
    fail(board)
    assert admit(board)
    board.get("p").record_success()
    fail(board)
    assert board.get("p").state is CircuitState.CLOSED


def test_half_open_admits_one_probe_and_closes_on_success(clock: FakeClock) -> None:
    board, events = make_board(clock, failure_threshold=1, recovery_time=5)
    fail(board)
    clock.now += 5
    assert admit(board)  # the probe
    assert board.get("p").state is CircuitState.HALF_OPEN
    assert not admit(board)  # others skip the route while the probe runs
    board.notify(board.get("p").record_success())
    assert board.get("p").state is CircuitState.CLOSED
    assert [(e.old, e.new) for e in events] == [
        (CircuitState.CLOSED, CircuitState.OPEN),
        (CircuitState.OPEN, CircuitState.HALF_OPEN),
        (CircuitState.HALF_OPEN, CircuitState.CLOSED),
    ]


def test_failed_probe_reopens_for_a_full_recovery_time(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=1, recovery_time=5)
    fail(board)
    clock.now += 5
    fail(board)
    assert board.get("p").state is CircuitState.OPEN
    assert board.get("p").retry_at == clock.now + 5


def test_neutral_result_frees_the_probe_slot(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=1, recovery_time=1)
    fail(board)
    clock.now += 1
    assert admit(board)
    board.get("p").record_neutral()
    assert board.get("p").state is CircuitState.HALF_OPEN
    assert admit(board)


def test_late_failure_counts_only_while_closed(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=2)
    board.notify(board.get("p").record_late_failure())
    board.notify(board.get("p").record_late_failure())
    assert board.get("p").state is CircuitState.OPEN
    assert board.get("p").record_late_failure() is None


def test_manual_reset_closes(clock: FakeClock) -> None:
    board, events = make_board(clock, failure_threshold=1)
    fail(board)
    board.notify(board.get("p").reset())
    assert board.get("p").state is CircuitState.CLOSED
    assert events[-1].new is CircuitState.CLOSED
    assert board.get("p").reset() is None


def test_breakers_are_independent_per_key(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=1)
    fail(board, "a")
    assert admit(board, "b")
    assert board.states() == {"a": CircuitState.OPEN, "b": CircuitState.CLOSED}


@pytest.mark.parametrize(
    ("field", "value"),
    [("failure_threshold", 0), ("half_open_probes", 0), ("success_threshold", 0), ("recovery_time", 0)],
)
def test_invalid_policy_names_the_field(field: str, value: float) -> None:
    with pytest.raises(ConfigurationError, match=f"breaker.{field}"):
        BreakerPolicy(**{field: value})  # type: ignore[arg-type]


def test_closing_can_require_several_successful_probes(clock: FakeClock) -> None:
    board, _ = make_board(clock, failure_threshold=1, recovery_time=1, success_threshold=2)
    fail(board)
    clock.now += 1
    for expected in (CircuitState.HALF_OPEN, CircuitState.CLOSED):
        assert admit(board)
        board.notify(board.get("p").record_success())
        assert board.get("p").state is expected
