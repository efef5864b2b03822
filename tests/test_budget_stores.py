"""The budget stores: one contract for all three, their own guarantees, and no overshoot under concurrency.

The Redis cases run against a real redis-server on loopback (marked `e2e`); the SQLite cases against
real files, across several real processes too.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_llm._budget import Budget, BudgetLedger, Reservation
from otel_llm._budget_stores import (
    AddOutcome,
    BudgetStore,
    Increment,
    MemoryBudgetStore,
    RedisBudgetStore,
    SQLiteBudgetStore,
)
from otel_llm._exceptions import BudgetExceededError, ConfigurationError
from tests.support.backends import wait_for
from tests.support.budget_processes import WALL_CLOCK, spend
from tests.support.redis_server import run_redis_server

NOW = WALL_CLOCK
LATER = NOW + 3600
StoreFactory = Callable[[], MemoryBudgetStore | SQLiteBudgetStore | RedisBudgetStore]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(
    scope="module",
    params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.e2e)],
)
def make_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> StoreFactory:
    """A factory of fresh, empty stores of one kind (module-scoped, so hypothesis tests may use it)."""
    if request.param == "memory":
        return MemoryBudgetStore
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("sqlite")
        return lambda: SQLiteBudgetStore(folder / f"{uuid.uuid4().hex}.sqlite3")
    url: str = request.getfixturevalue("redis_url")
    return lambda: RedisBudgetStore(url, key_prefix=f"test:{uuid.uuid4().hex}:")


@pytest.fixture
def store(make_store: StoreFactory) -> Iterator[BudgetStore]:
    store = make_store()
    yield store
    store.close()


def inc(key: str, amount: int, limit: int | None = None, expires_at: float = LATER) -> Increment:
    return Increment(key, amount, expires_at, limit)


# --- the contract -----------------------------------------------------------------------------


def test_absent_counters_read_zero(store: BudgetStore) -> None:
    assert store.totals(["a", "b"], NOW) == (0, 0)
    assert store.totals([], NOW) == ()


def test_a_checked_add_increments_every_counter(store: BudgetStore) -> None:
    assert store.add_within_limits([inc("a", 5, 10), inc("b", 7)], NOW) == AddOutcome((5, 7))
    outcome = store.add_within_limits([inc("a", 5, 10), inc("b", 7)], NOW)
    assert outcome.accepted
    assert outcome.totals == (10, 14)
    assert store.totals(["b", "a"], NOW) == (14, 10)


def test_a_checked_add_is_all_or_nothing(store: BudgetStore) -> None:
    store.add_within_limits([inc("a", 8)], NOW)

    outcome = store.add_within_limits([inc("a", 1, 10), inc("b", 3, 2), inc("c", 1, 0)], NOW)

    assert outcome == AddOutcome((8, 0, 0), refused=1)
    assert not outcome.accepted
    assert store.totals(["a", "b", "c"], NOW) == (8, 0, 0)


def test_a_limit_admits_up_to_itself(store: BudgetStore) -> None:
    assert store.add_within_limits([inc("a", 10, 10)], NOW).accepted
    assert store.add_within_limits([inc("a", 1, 10)], NOW) == AddOutcome((10,), refused=0)


def test_zero_and_negative_increments_are_never_refused(store: BudgetStore) -> None:
    store.add([inc("a", 20)], NOW)
    assert store.add_within_limits([inc("a", 0, 5)], NOW) == AddOutcome((20,))
    assert store.add_within_limits([inc("a", -3, 5)], NOW) == AddOutcome((17,))


def test_an_unconditional_add_ignores_limits_and_may_subtract(store: BudgetStore) -> None:
    store.add([inc("a", 20, 5), inc("b", 1)], NOW)
    store.add([inc("a", -25), inc("c", -1)], NOW)
    assert store.totals(["a", "b", "c"], NOW) == (-5, 1, -1)


def test_empty_operations_do_nothing(store: BudgetStore) -> None:
    assert store.add_within_limits([], NOW) == AddOutcome(())
    store.add([], NOW)


def test_counters_are_exact_integers(store: BudgetStore) -> None:
    store.add([inc("a", 2**62)], NOW)
    assert store.add_within_limits([inc("a", 1)], NOW) == AddOutcome((2**62 + 1,))
    assert store.add_within_limits([inc("a", 1, 2**53)], NOW) == AddOutcome((2**62 + 1,), refused=0)


def test_counters_expire_after_their_time(store: BudgetStore) -> None:
    # Memory and SQLite compare `expires_at` with the caller's `now`; Redis turns it into a real TTL.
    store.add_within_limits([inc("a", 10, 10, expires_at=NOW + 0.1)], NOW)
    store.add([inc("b", 4, expires_at=NOW + 60)], NOW)
    assert store.totals(["a", "b"], NOW + 0.05) == (10, 4)

    time.sleep(0.15)

    assert store.totals(["a", "b"], NOW + 0.2) == (0, 4)
    assert store.add_within_limits([inc("a", 10, 10)], NOW + 0.2).accepted


def test_concurrent_checked_adds_never_overshoot(store: BudgetStore) -> None:
    threads, attempts, limit = 8, 25, 100
    start = threading.Barrier(threads)
    accepted: list[int] = []

    def work() -> None:
        start.wait()
        accepted.append(
            sum(store.add_within_limits([inc("a", 3, limit)], NOW).accepted for _ in range(attempts))
        )

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sum(accepted) == 33  # 33 x 3 = 99; a 34th would make 102
    assert store.totals(["a"], NOW) == (99,)


def test_a_store_is_a_context_manager(make_store: StoreFactory) -> None:
    with make_store() as store:
        store.add([inc("a", 1)], NOW)
        assert store.totals(["a"], NOW) == (1,)


# --- property: no overshoot, nothing lost -----------------------------------------------------

# One step of a call: reserve `amount` nano-dollars for a team, or close an open reservation (picked
# by index) by settling a percentage of its amount, settling an unknown cost, or releasing it.
Step = tuple[str, int, int]
steps = st.lists(
    st.tuples(
        st.sampled_from(["reserve", "settle", "settle_unknown", "release"]),
        st.integers(0, 40),
        st.integers(0, 100),
    ),
    max_size=40,
)


def nanos(amount: Decimal) -> int:
    return int(amount.scaleb(9))


@settings(max_examples=60, deadline=None)
@given(limit=st.integers(1, 60), team_limit=st.integers(1, 40), program=steps)
def test_any_interleaving_keeps_every_budget_within_its_limit_and_loses_nothing(
    make_store: StoreFactory, limit: int, team_limit: int, program: list[Step]
) -> None:
    budgets = [
        Budget("global", period="day", limit_usd=Decimal(limit).scaleb(-9)),
        Budget("team", period="hour", limit_usd=Decimal(team_limit).scaleb(-9), scope="team"),
    ]
    store = make_store()
    ledger = BudgetLedger(budgets, store, wall_clock=lambda: NOW)
    open_: list[tuple[Reservation, str]] = []
    model = {"global": 0, "a": 0, "b": 0}  # settled plus reserved, per counter
    settled = 0
    try:
        for op, amount, number in program:
            if op == "reserve":
                team = "ab"[number % 2]
                fits = amount == 0 or (
                    model["global"] + amount <= limit and model[team] + amount <= team_limit
                )
                try:
                    reservation = ledger.reserve({"team": team}, Decimal(amount).scaleb(-9))
                except BudgetExceededError:
                    assert not fits
                    continue
                assert fits
                open_.append((reservation, team))
                model["global"] += amount
                model[team] += amount
            elif open_:
                reservation, team = open_.pop(amount % len(open_))
                reserved = reservation.amount_nanos
                actual = {"settle": reserved * number // 100, "settle_unknown": reserved, "release": 0}[op]
                if op == "release":
                    ledger.release(reservation)
                else:
                    ledger.settle(reservation, None if op == "settle_unknown" else Decimal(actual).scaleb(-9))
                model["global"] += actual - reserved
                model[team] += actual - reserved
                settled += actual
            status = {s.scope_value or "global": nanos(s.spent_usd) for s in ledger.status()}
            assert status == {key: value for key, value in model.items() if key in status}
            assert status["global"] <= limit
            assert all(status.get(team, 0) <= team_limit for team in "ab")
        assert ledger.open_reservations == len(open_)
        for reservation, _ in open_:
            ledger.release(reservation)
        assert ledger.open_reservations == 0
        assert nanos(ledger.status()[0].spent_usd) == settled
    finally:
        store.close()


@settings(max_examples=20, deadline=None)
@given(
    limit=st.integers(1, 200),
    programs=st.lists(
        st.lists(
            st.tuples(
                st.sampled_from(["settle", "settle_unknown", "release"]),
                st.integers(0, 30),
                st.integers(0, 100),
            ),
            max_size=30,
        ),
        min_size=2,
        max_size=6,
    ),
)
def test_concurrent_threads_never_overshoot_and_lose_no_reservation(
    make_store: StoreFactory, limit: int, programs: list[list[Step]]
) -> None:
    store = make_store()
    ledger = BudgetLedger(
        [Budget("global", period="day", limit_usd=Decimal(limit).scaleb(-9))], store, wall_clock=lambda: NOW
    )
    start = threading.Barrier(len(programs))
    settled: list[int] = []
    committed: list[int] = []
    errors: list[BaseException] = []

    def run(program: list[Step]) -> None:
        try:
            start.wait()
            for op, amount, percent in program:
                try:
                    reservation = ledger.reserve({}, Decimal(amount).scaleb(-9))
                except BudgetExceededError:
                    continue
                committed.append(nanos(reservation.charges[0].committed_usd))
                if op == "release":
                    ledger.release(reservation)
                elif op == "settle_unknown":
                    ledger.settle(reservation, None)
                    settled.append(amount)
                else:
                    ledger.settle(reservation, Decimal(amount * percent // 100).scaleb(-9))
                    settled.append(amount * percent // 100)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(program,)) for program in programs]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert max(committed, default=0) <= limit
        assert ledger.open_reservations == 0
        assert [nanos(s.spent_usd) for s in ledger.status()] == [sum(settled)]
        assert sum(settled) <= limit
    finally:
        store.close()


# --- SQLite -----------------------------------------------------------------------------------


def test_sqlite_budgets_are_shared_by_every_store_on_the_file(tmp_path: Path) -> None:
    with SQLiteBudgetStore(tmp_path / "b.sqlite3") as one, SQLiteBudgetStore(tmp_path / "b.sqlite3") as two:
        one.add_within_limits([inc("a", 6, 10)], NOW)
        assert two.add_within_limits([inc("a", 6, 10)], NOW) == AddOutcome((6,), refused=0)
        two.add([inc("a", -2)], NOW)
        assert one.totals(["a"], NOW) == (4,)


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    with SQLiteBudgetStore(tmp_path / "b.sqlite3"):
        connection = sqlite3.connect(tmp_path / "b.sqlite3")
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        connection.close()


def test_sqlite_waits_for_another_writer_and_gives_up_after_the_busy_timeout(tmp_path: Path) -> None:
    with SQLiteBudgetStore(tmp_path / "b.sqlite3", busy_timeout=0.2) as store:
        other = sqlite3.connect(tmp_path / "b.sqlite3", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            store.add_within_limits([inc("a", 1, 10)], NOW)
        assert time.monotonic() - started >= 0.2
        assert store.totals(["a"], NOW) == (0,)  # readers are not blocked in WAL mode
        other.execute("ROLLBACK")
        other.close()
        assert store.add_within_limits([inc("a", 1, 10)], NOW).accepted


def test_sqlite_rolls_a_failed_write_back(tmp_path: Path) -> None:
    with SQLiteBudgetStore(tmp_path / "b.sqlite3") as store:
        with pytest.raises(OverflowError):
            store.add([inc("a", 5), inc("b", 2**70)], NOW)
        with pytest.raises(OverflowError):
            store.add_within_limits([inc("a", 5), inc("b", 2**70)], NOW)
        assert store.totals(["a", "b"], NOW) == (0, 0)
        store.add([inc("a", 5)], NOW)
        assert store.totals(["a"], NOW) == (5,)


def test_sqlite_close_closes_every_threads_connection(tmp_path: Path) -> None:
    store = SQLiteBudgetStore(tmp_path / "b.sqlite3")
    worker = threading.Thread(target=store.add, args=([inc("a", 1)], NOW))
    worker.start()
    worker.join()
    assert store.totals(["a"], NOW) == (1,)

    store.close()

    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        store.totals(["a"], NOW)


def test_sqlite_needs_a_positive_busy_timeout(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        SQLiteBudgetStore(tmp_path / "b.sqlite3", busy_timeout=0)
    assert info.value.field == "busy_timeout"


def test_sqlite_needs_a_file_shared_by_its_threads() -> None:
    with pytest.raises(ConfigurationError) as info:
        SQLiteBudgetStore(":memory:")
    assert info.value.field == "path"


def test_sqlite_processes_sharing_a_budget_never_overshoot(tmp_path: Path) -> None:
    processes, attempts, limit, amount = 4, 40, Decimal("1"), Decimal("0.02")
    context = multiprocessing.get_context("spawn")  # forking a process that runs threads is unsafe
    start = context.Barrier(processes)
    results = context.Queue()
    path = tmp_path / "shared.sqlite3"
    SQLiteBudgetStore(path).close()  # create the schema before the race
    workers = [
        context.Process(target=spend, args=(path, limit, amount, attempts, start, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    accepted, refused, settled = (sum(column) for column in list(zip(*outcomes, strict=True))[:3])
    assert refused > 0  # the processes did compete for the last of the budget
    assert max(highest for *_, highest in outcomes) <= nanos(limit)
    with SQLiteBudgetStore(path) as store:
        ledger = BudgetLedger(
            [Budget("shared", period="day", limit_usd=limit)], store, wall_clock=lambda: NOW
        )
        assert [nanos(s.spent_usd) for s in ledger.status()] == [settled]
    assert settled <= nanos(limit)
    assert accepted + refused == processes * attempts


# --- Redis ------------------------------------------------------------------------------------


def test_redis_needs_a_url_or_a_client() -> None:
    with pytest.raises(ConfigurationError) as info:
        RedisBudgetStore()
    assert info.value.field == "url"
    with pytest.raises(ConfigurationError):
        RedisBudgetStore("redis://127.0.0.1:1/0", client=redis.Redis())


def test_redis_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ImportError, match=r"pip install 'otel-llm\[redis\]'"):
        RedisBudgetStore("redis://127.0.0.1:1/0")


@pytest.mark.e2e
def test_redis_keys_carry_the_prefix_and_expire_with_their_window(redis_url: str) -> None:
    admin = redis.Redis.from_url(redis_url, decode_responses=True)
    with admin, RedisBudgetStore(client=admin, key_prefix="p:") as store:
        assert store.add_within_limits([inc("a", 5, 10, expires_at=NOW + 100)], NOW) == AddOutcome((5,))
        store.add([inc("b", -1, expires_at=NOW - 5)], NOW)  # already past its window
        assert admin.get("p:a") == "5"
        assert 99_000 < admin.pttl("p:a") <= 100_000
        assert admin.pttl("p:b") in (-2, 0, 1)  # gone, or about to go


@pytest.mark.e2e
def test_redis_closes_only_the_connections_it_opened(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as admin:
        baseline = len(admin.client_list())
        owned = RedisBudgetStore(redis_url)
        owned.totals(["a"], NOW)
        lent_client = redis.Redis.from_url(redis_url)
        lent = RedisBudgetStore(client=lent_client)
        lent.totals(["a"], NOW)
        assert len(admin.client_list()) == baseline + 2

        owned.close()
        lent.close()

        wait_for(
            lambda: len(admin.client_list()) == baseline + 1, timeout=5, what="the owned connection to close"
        )
        lent_client.close()
