"""Spending budgets: hard and soft limits per hour, day or month, kept in memory, SQLite or Redis.

Before a call is sent, its worst-case cost is reserved against every budget it counts against, in one
atomic step, so concurrent calls cannot overshoot a hard limit; afterwards the reservation is settled
with the actual cost, or released when the call failed. Pick the store by how widely a budget is shared:
`MemoryBudgetStore` (one process, the default), `SQLiteBudgetStore` (the processes of one host) or
`RedisBudgetStore` (many hosts; `pip install 'otel-llm[redis]'`).

Example:
    >>> from decimal import Decimal
    >>> from otel_llm.budgets import Budget, BudgetLedger, SQLiteBudgetStore
    >>> budgets = [
    ...     Budget("monthly", limit_usd=Decimal("500"), period="month"),
    ...     Budget("team-daily", limit_usd=Decimal("20"), soft_limit_usd=Decimal("15"), period="day",
    ...            scope="team", downgrade_to="cheap"),
    ... ]
    >>> ledger = BudgetLedger(budgets, SQLiteBudgetStore("budgets.sqlite3"))
    >>> reservation = ledger.reserve({"team": "search"}, Decimal("0.04"))  # BudgetExceededError if full
    >>> ledger.settle(reservation, Decimal("0.0061"))  # or ledger.release(reservation) on failure
    >>> [(s.budget, s.scope_value, s.spent_usd) for s in ledger.status()]
    [('monthly', None, Decimal('0.0061')), ('team-daily', 'search', Decimal('0.0061'))]
"""

from otel_llm._budget import (
    Budget,
    BudgetCharge,
    BudgetLedger,
    BudgetPeriod,
    BudgetStatus,
    Reservation,
    worst_case_cost,
)
from otel_llm._budget_stores import BudgetStore, MemoryBudgetStore, RedisBudgetStore, SQLiteBudgetStore
from otel_llm._exceptions import BudgetExceededError

__all__ = [
    "Budget",
    "BudgetCharge",
    "BudgetExceededError",
    "BudgetLedger",
    "BudgetPeriod",
    "BudgetStatus",
    "BudgetStore",
    "MemoryBudgetStore",
    "RedisBudgetStore",
    "Reservation",
    "SQLiteBudgetStore",
    "worst_case_cost",
]
