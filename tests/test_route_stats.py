"""Route statistics: decayed latency with priors, timeouts, in-flight counts, error window, percentiles."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otel_llm._exceptions import ConfigurationError
from otel_llm._route_stats import RouteStatsBoard, RouteStatsPolicy
from otel_llm._types import Route
from tests.conftest import FakeClock

A, B, C, NEW = (Route("p", name) for name in ("a", "b", "c", "new"))


def latency(board: RouteStatsBoard, route: Route, *, stream: bool = False) -> float:
    return board.expected_latencies([route], stream=stream)[0]


def test_an_empty_board_assumes_the_configured_defaults(clock: FakeClock) -> None:
    board = RouteStatsBoard(clock, RouteStatsPolicy(default_latency=3.0, default_ttft=0.7))
    assert board.expected_latencies([A, B], stream=False) == [3.0, 3.0]
    assert board.expected_latencies([A], stream=True) == [0.7]


def test_an_unobserved_route_starts_from_the_median_of_the_observed_ones(clock: FakeClock) -> None:
    board = RouteStatsBoard(clock)
    board.record_success(A, 1.0)
    assert latency(board, NEW) == 1.0
    board.record_success(B, 3.0)
    board.record_success(C, 10.0)
    assert latency(board, NEW) == 3.0
    # The first-token track has its own prior: nothing observed there yet.
    assert latency(board, NEW, stream=True) == RouteStatsPolicy().default_ttft


def test_samples_at_one_instant_weigh_alike(clock: FakeClock) -> None:
    board = RouteStatsBoard(clock)
    for seconds in (1.0, 2.0, 6.0):
        board.record_success(A, seconds)
    assert latency(board, A) == pytest.approx(3.0)


def test_an_older_sample_weighs_half_after_one_half_life(clock: FakeClock) -> None:
    board = RouteStatsBoard(clock, RouteStatsPolicy(half_life=60.0))
    board.record_success(A, 4.0)
    clock.now += 60.0
    board.record_success(A, 1.0)
    assert latency(board, A) == pytest.approx((4.0 * 0.5 + 1.0) / 1.5)
    # Without new samples the estimate holds: decay only reweighs old against new.
    clock.now += 3600.0
    assert latency(board, A) == pytest.approx(2.0)


def test_the_estimate_follows_a_route_that_got_slower(clock: FakeClock) -> None:
    board = RouteStatsBoard(clock, RouteStatsPolicy(half_life=10.0))
    for _ in range(50):
        board.record_success(A, 0.5)
        clock.now += 1.0
    for _ in range(60):
        board.record_success(A, 5.0)
        clock.now += 1.0
    assert latency(board, A) > 4.9


def test_streams_and_whole_calls_are_separate_tracks(clock: FakeClock) -> None:
    board = RouteStatsBoard(clock)
    board.record_success(A, 0.2, stream=True)
    board.record_success(A, 4.0)
    assert latency(board, A, stream=True) == 0.2
    assert latency(board, A) == 4.0


def test_a_timeout_adds_a_penalty_sample(clock: FakeClock) -> None:
    board = RouteStatsBoard(clock, RouteStatsPolicy(timeout_penalty=3.0))
    board.record_success(A, 1.0)
    board.record_failure(A, "timeout", 5.0)
    assert latency(board, A) == pytest.approx((1.0 + 15.0) / 2)
    board.record_failure(B, "timeout", 2.0, stream=True)
    assert latency(board, B, stream=True) == 6.0
    snapshot = board.snapshot(A)
    assert (snapshot.latency.samples, snapshot.latency.p99) == (2, 5.0)  # percentiles keep the real wait


def test_other_failures_leave_latency_alone(clock: FakeClock) -> None:
    board = RouteStatsBoard(clock)
    board.record_success(A, 2.0)
    board.record_failure(A, "server_error", 0.01)
    board.record_failure(B, "rate_limit", 0.01)
    assert latency(board, A) == 2.0
    assert board.snapshot(B).latency.observed is False
    assert latency(board, B) == 2.0  # still the prior: an instant 429 does not make B look fast


def test_the_error_rate_covers_a_rolling_window(clock: FakeClock) -> None:
    board = RouteStatsBoard(clock, RouteStatsPolicy(error_window=60.0))
    board.record_success(A, 1.0)
    board.record_failure(A, "overloaded", 1.0)
    clock.now += 30.0
    board.record_success(A, 1.0)
    board.record_success(A, 1.0)
    snapshot = board.snapshot(A)
    assert (snapshot.calls, snapshot.errors, snapshot.error_rate) == (4, 1, 0.25)
    clock.now += 31.0  # the first two outcomes leave the window
    snapshot = board.snapshot(A)
    assert (snapshot.calls, snapshot.errors, snapshot.error_rate) == (2, 0, 0.0)
    clock.now += 60.0
    assert board.snapshot(A).error_rate is None


def test_the_last_error_is_kept_beyond_the_window(clock: FakeClock) -> None:
    board = RouteStatsBoard(clock)
    board.record_failure(A, "rate_limit", 0.1)
    clock.now += 5.0
    board.record_failure(A, "overloaded", 0.1)
    clock.now += 3600.0
    snapshot = board.snapshot(A)
    assert (snapshot.last_error, snapshot.last_error_at) == ("overloaded", 1005.0)


def test_in_flight_counts_follow_acquire_and_release(clock: FakeClock) -> None:
    board = RouteStatsBoard(clock)
    board.acquire(A)
    board.acquire(A)
    board.acquire(B)
    assert board.in_flight_counts([A, B, C]) == [2, 1, 0]
    board.release(A)
    assert board.snapshot(A).in_flight == 1


def test_tracking_releases_even_when_the_call_fails(clock: FakeClock) -> None:
    board = RouteStatsBoard(clock)
    with pytest.raises(KeyError), board.tracking(A):
        assert board.in_flight_counts([A]) == [1]
        raise KeyError("boom")
    assert board.in_flight_counts([A]) == [0]


def test_an_unpaired_release_is_an_error(clock: FakeClock) -> None:
    board = RouteStatsBoard(clock)
    with pytest.raises(RuntimeError, match="p:a"):
        board.release(A)
    with board.tracking(A):
        pass
    with pytest.raises(RuntimeError):
        board.release(A)


def test_percentiles_describe_the_recent_bounded_sample(clock: FakeClock) -> None:
    board = RouteStatsBoard(clock, RouteStatsPolicy(sample_size=100))
    for value in range(1, 201):
        board.record_success(A, float(value))
    stats = board.snapshot(A).latency
    assert (stats.samples, stats.p50, stats.p95, stats.p99) == (100, 150.0, 195.0, 199.0)
    assert stats.observed


def test_a_route_never_seen_has_priors_and_no_samples(clock: FakeClock) -> None:
    board = RouteStatsBoard(clock)
    board.record_success(A, 1.5)
    snapshot = board.snapshot(NEW)
    assert snapshot.latency.estimate == 1.5
    assert (snapshot.latency.observed, snapshot.latency.samples, snapshot.latency.p50) == (False, 0, None)
    assert (snapshot.in_flight, snapshot.calls, snapshot.error_rate, snapshot.last_error) == (
        0,
        0,
        None,
        None,
    )
    assert list(board.snapshots()) == [A]


def test_snapshots_cover_every_route_seen(clock: FakeClock) -> None:
    board = RouteStatsBoard(clock)
    board.record_success(A, 1.0, stream=True)
    board.acquire(B)
    snapshots = board.snapshots()
    assert set(snapshots) == {A, B}
    assert snapshots[A].ttft.estimate == 1.0
    assert snapshots[B].in_flight == 1


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("half_life", 0.0),
        ("default_latency", -1.0),
        ("default_ttft", float("nan")),
        ("error_window", float("inf")),
        ("timeout_penalty", 0.5),
        ("sample_size", 0),
    ],
)
def test_invalid_policies_are_refused(setting: str, value: float) -> None:
    changes: dict[str, Any] = {setting: value}
    with pytest.raises(ConfigurationError, match=f"route_stats.{setting}"):
        RouteStatsPolicy(**changes)


def test_updates_from_many_threads_are_not_lost(clock: FakeClock) -> None:
    board = RouteStatsBoard(clock)

    def work() -> None:
        for _ in range(500):
            with board.tracking(A):
                board.record_success(A, 1.0)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    snapshot = board.snapshot(A)
    assert (snapshot.in_flight, snapshot.calls) == (0, 4000)


@given(st.lists(st.floats(0.01, 100.0), min_size=1, max_size=12))
def test_a_new_route_is_assumed_neither_faster_nor_slower_than_every_observed_one(
    observed: list[float],
) -> None:
    board = RouteStatsBoard(FakeClock())
    for i, seconds in enumerate(observed):
        board.record_success(Route("p", str(i)), seconds)
    assert min(observed) <= latency(board, NEW) <= max(observed)
