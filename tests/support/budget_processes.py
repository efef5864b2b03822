"""A worker process spending from a budget kept in a shared SQLite file (for the store's process tests).

It lives in its own small module because `multiprocessing` workers start with the "spawn" method
(forking a process that runs threads is unsafe) and must import the function they run.
"""

from __future__ import annotations

from decimal import Decimal
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Protocol

from otel_llm._budget import Budget, BudgetLedger
from otel_llm._budget_stores import SQLiteBudgetStore
from otel_llm._exceptions import BudgetExceededError

# Noon UTC: the window cannot roll over while the processes run.
WALL_CLOCK = 1_750_000_000.0 - 1_750_000_000.0 % 86_400 + 43_200


class ResultQueue(Protocol):
    def put(self, obj: tuple[int, int, int, int], /) -> None: ...


def spend(
    path: Path, limit: Decimal, amount: Decimal, attempts: int, start: Barrier, results: ResultQueue
) -> None:
    """Try `attempts` reservations of `amount`; settle each accepted one with a cost at most `amount`.

    Puts (accepted, refused, settled nano-dollars, highest committed nano-dollars seen) on `results`.
    """
    budget = Budget("shared", period="day", limit_usd=limit)
    accepted = refused = settled = highest = 0
    with SQLiteBudgetStore(path) as store:
        ledger = BudgetLedger([budget], store, wall_clock=lambda: WALL_CLOCK)
        start.wait()
        for attempt in range(attempts):
            try:
                reservation = ledger.reserve({}, amount)
            except BudgetExceededError:
                refused += 1
                continue
            accepted += 1
            highest = max(highest, int(reservation.charges[0].committed_usd * 10**9))
            actual = amount * (attempt % 4 + 1) / 4  # a quarter to all of the worst case
            ledger.settle(reservation, actual)
            settled += int(actual * 10**9)
    results.put((accepted, refused, settled, highest))
