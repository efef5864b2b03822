"""Single-flight: identical concurrent calls run once; failures are shared, interruptions hand over."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest

from otel_llm import _cache
from otel_llm._cache import AsyncSingleFlight, SingleFlight

WAIT = 30.0  # seconds before a stuck test fails instead of hanging


class Abort(BaseException):
    """Interrupts a leader, like KeyboardInterrupt or SystemExit would."""


class Boom(Exception):
    """A failed call."""


@pytest.fixture
def waiting(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Semaphore]:
    """Released each time a thread starts waiting for another's flight."""
    entered = threading.Semaphore(0)
    original = _cache._ThreadFlight.wait

    def counting_wait(self: _cache._ThreadFlight) -> _cache._Outcome | None:
        entered.release()
        return original(self)

    monkeypatch.setattr(_cache._ThreadFlight, "wait", counting_wait)
    yield entered


def run_threads(count: int, target: Callable[[], object]) -> tuple[list[threading.Thread], list[object]]:
    """Start `count` threads calling `target`; each result or exception lands in the returned list."""
    results: list[object] = []
    lock = threading.Lock()

    def call() -> None:
        try:
            outcome: object = target()
        except BaseException as exc:  # collected for the test to inspect
            outcome = exc
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=call) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, results


def join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive()


def acquire(semaphore: threading.Semaphore, times: int) -> None:
    for _ in range(times):
        assert semaphore.acquire(timeout=WAIT)


class Gate:
    """A supplier that counts its runs and blocks each run until it is let through."""

    def __init__(self, outcomes: list[object | BaseException]) -> None:
        self.outcomes = outcomes
        self.runs = 0
        self.started = threading.Semaphore(0)
        self.passes = threading.Semaphore(0)

    def let_through(self) -> None:
        self.passes.release()

    def __call__(self) -> object:
        run = self.runs
        self.runs += 1
        self.started.release()
        assert self.passes.acquire(timeout=WAIT)
        outcome = self.outcomes[run]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


# --- threads -------------------------------------------------------------------------------------------


def test_identical_concurrent_calls_run_once(waiting: threading.Semaphore) -> None:
    flights = SingleFlight()
    answer = object()
    gate = Gate([answer])
    threads, results = run_threads(8, lambda: flights.do("k", gate))
    acquire(gate.started, 1)
    acquire(waiting, 7)
    assert len(flights) == 1
    gate.let_through()
    join(threads)
    assert gate.runs == 1
    assert results == [answer] * 8
    assert len(flights) == 0


def test_different_keys_fly_separately() -> None:
    flights = SingleFlight()
    gates = {key: Gate([key]) for key in ("a", "b")}
    threads = [run_threads(1, lambda key=key: flights.do(key, gates[key])) for key in gates]  # type: ignore[misc]
    for gate in gates.values():
        acquire(gate.started, 1)
    assert len(flights) == 2
    for gate in gates.values():
        gate.let_through()
    for started, _ in threads:
        join(started)
    assert [results for _, results in threads] == [["a"], ["b"]]
    assert len(flights) == 0


def test_the_leaders_exception_reaches_every_waiter_and_nothing_sticks(waiting: threading.Semaphore) -> None:
    flights = SingleFlight()
    error = Boom("provider down")
    gate = Gate([error, "recovered"])
    threads, results = run_threads(5, lambda: flights.do("k", gate))
    acquire(gate.started, 1)
    acquire(waiting, 4)
    gate.let_through()
    join(threads)
    assert gate.runs == 1
    assert all(result is error for result in results)
    assert len(flights) == 0
    gate.let_through()
    assert flights.do("k", gate) == "recovered"  # a failure is never remembered
    assert gate.runs == 2


def test_an_interrupted_leader_hands_over_to_a_waiter(waiting: threading.Semaphore) -> None:
    flights = SingleFlight()
    gate = Gate([Abort(), "second run"])
    threads, results = run_threads(4, lambda: flights.do("k", gate))
    acquire(gate.started, 1)
    acquire(waiting, 3)
    gate.let_through()  # the leader is interrupted
    acquire(gate.started, 1)  # a waiter took over
    acquire(waiting, 2)  # and the other two wait for its run
    gate.let_through()
    join(threads)
    assert gate.runs == 2
    assert sorted(map(repr, results)) == sorted([repr(Abort())] + ["'second run'"] * 3)
    assert len(flights) == 0


def test_calls_that_do_not_overlap_each_run() -> None:
    flights = SingleFlight()
    runs: list[int] = []

    def supplier() -> int:
        runs.append(len(runs) + 1)
        return runs[-1]

    assert [flights.do("k", supplier) for _ in range(3)] == [1, 2, 3]


# --- asyncio -------------------------------------------------------------------------------------------


class AsyncGate:
    """An async supplier that counts its runs and blocks each until released."""

    def __init__(self, outcomes: list[object | BaseException]) -> None:
        self.outcomes = outcomes
        self.runs = 0
        self.release = asyncio.Event()

    async def __call__(self) -> object:
        run = self.runs
        self.runs += 1
        await self.release.wait()
        outcome = self.outcomes[run]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


async def settle() -> None:
    """Let every ready task run until it blocks (no I/O is involved)."""
    for _ in range(10):
        await asyncio.sleep(0)


@pytest.mark.anyio
async def test_identical_concurrent_tasks_run_once() -> None:
    flights = AsyncSingleFlight()
    answer = object()
    gate = AsyncGate([answer])
    tasks = [asyncio.create_task(flights.do("k", gate)) for _ in range(8)]
    await settle()
    assert len(flights) == 1
    gate.release.set()
    assert await asyncio.gather(*tasks) == [answer] * 8
    assert gate.runs == 1
    assert len(flights) == 0


@pytest.mark.anyio
async def test_the_async_leaders_exception_reaches_every_waiter() -> None:
    flights = AsyncSingleFlight()
    error = Boom("provider down")
    gate = AsyncGate([error, "recovered"])
    tasks = [asyncio.create_task(flights.do("k", gate)) for _ in range(4)]
    await settle()
    gate.release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(result is error for result in results)
    assert gate.runs == 1
    assert len(flights) == 0
    assert await flights.do("k", gate) == "recovered"


@pytest.mark.anyio
async def test_a_cancelled_async_leader_hands_over_to_a_waiter() -> None:
    flights = AsyncSingleFlight()
    gate = AsyncGate(["never", "second run"])
    leader = asyncio.create_task(flights.do("k", gate))
    await settle()
    waiters = [asyncio.create_task(flights.do("k", gate)) for _ in range(3)]
    await settle()
    leader.cancel()
    await settle()
    assert len(flights) == 1 and gate.runs == 2  # a waiter leads the second run
    gate.release.set()
    assert await asyncio.gather(*waiters) == ["second run"] * 3
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert len(flights) == 0


@pytest.mark.anyio
async def test_a_cancelled_waiter_leaves_the_flight_alone() -> None:
    flights = AsyncSingleFlight()
    gate = AsyncGate(["answer"])
    leader = asyncio.create_task(flights.do("k", gate))
    await settle()
    quitter, stayer = (asyncio.create_task(flights.do("k", gate)) for _ in range(2))
    await settle()
    quitter.cancel()
    await settle()
    gate.release.set()
    assert [await leader, await stayer] == ["answer", "answer"]
    assert quitter.cancelled()
    assert gate.runs == 1
    assert len(flights) == 0


@pytest.mark.anyio
async def test_a_cancelled_lone_leader_leaves_no_flight_behind() -> None:
    flights = AsyncSingleFlight()
    leader = asyncio.create_task(flights.do("k", AsyncGate(["never"])))
    await settle()
    assert len(flights) == 1
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert len(flights) == 0
