"""Spending budgets: reserve a call's worst-case cost before sending it, settle with the actual cost after.

A budget caps the money spent in a calendar window (UTC hour, day or month), either globally or per
value of one call attribute (one budget per team, say). `BudgetLedger.reserve()` checks every budget the
call counts against and reserves the amount in all of them in one atomic store operation: a reservation
that would take any of them past its hard limit is refused before a request leaves, and concurrent calls
cannot overshoot, because each one sees the reservations of the calls still in flight (the bug of
checking recorded spend before the call and recording it after). `settle()` then replaces the reserved
amount by the actual cost, `release()` gives it back when the call failed.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Literal, cast

from otel_llm._budget_stores import MAX_EXACT_NANOS, NANOS_PER_USD, BudgetStore, Increment, MemoryBudgetStore
from otel_llm._cost import ModelPrice, cost_usd
from otel_llm._exceptions import BudgetExceededError, ConfigurationError
from otel_llm._types import Usage

BudgetPeriod = Literal["hour", "day", "month"]
"""A budget's window: a calendar hour, day or month in UTC."""

_PERIODS: tuple[BudgetPeriod, ...] = ("hour", "day", "month")
_STAMPS: dict[BudgetPeriod, str] = {"hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d", "month": "%Y-%m"}
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_MAX_LIMIT_USD = Decimal(MAX_EXACT_NANOS - 1) / NANOS_PER_USD
_SETTLE_GRACE_S = 3600.0
"""How long a window's counter outlives the window: a call reserved just before the window ended still
finds its counter when it settles."""


@dataclass(frozen=True, slots=True)
class Budget:
    """A cap on the money spent per calendar window (UTC), globally or per value of one attribute.

    Attributes:
        name: Unique among a ledger's budgets; letters, digits, `_`, `.` and `-`.
        limit_usd: Hard limit: a call whose worst-case cost would take the window's spending (in-flight
            reservations included) above it fails with `BudgetExceededError` before it is sent.
        soft_limit_usd: Soft limit, below the hard one: crossing it is reported (event, metric) and may
            switch calls to `downgrade_to`. At least one of the two limits is required.
        period: `"hour"`, `"day"` or `"month"`, calendar windows in UTC.
        scope: `None` for one budget over every call, or an attribute name (`"team"`) for one budget per
            value of that attribute; calls without the attribute do not count against it.
        downgrade_to: Name of a cheaper chain to use while the soft limit is exceeded.

    Raises:
        ConfigurationError: A field is invalid; `.field` names it (`budget.limit_usd`, ...).

    Example:
        >>> Budget("team-daily", limit_usd=Decimal("50"), soft_limit_usd=Decimal("40"), period="day",
        ...        scope="team", downgrade_to="cheap")
    """

    name: str
    _: KW_ONLY
    period: BudgetPeriod
    limit_usd: Decimal | None = None
    soft_limit_usd: Decimal | None = None
    scope: str | None = None
    downgrade_to: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ConfigurationError("budget.name", f"{self.name!r}: use letters, digits, '_', '.' and '-'")
        if self.period not in _PERIODS:
            raise ConfigurationError("budget.period", f"{self.name}: expected one of {_PERIODS}")
        if self.scope is not None and (not isinstance(self.scope, str) or not _NAME.fullmatch(self.scope)):
            raise ConfigurationError("budget.scope", f"{self.name}: expected None or an attribute name")
        _check_limit(self.name, "limit_usd", self.limit_usd)
        _check_limit(self.name, "soft_limit_usd", self.soft_limit_usd)
        if self.limit_usd is None and self.soft_limit_usd is None:
            raise ConfigurationError(
                "budget.limit_usd", f"{self.name}: give limit_usd, soft_limit_usd or both"
            )
        if (
            self.limit_usd is not None
            and self.soft_limit_usd is not None
            and self.soft_limit_usd >= self.limit_usd
        ):
            raise ConfigurationError("budget.soft_limit_usd", f"{self.name}: must be below limit_usd")
        if self.downgrade_to is not None and (not self.downgrade_to or self.soft_limit_usd is None):
            raise ConfigurationError(
                "budget.downgrade_to", f"{self.name}: a chain name, and only with soft_limit_usd"
            )


def _check_limit(name: str, field: str, value: Decimal | None) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ConfigurationError(f"budget.{field}", f"{name}: expected a finite Decimal, e.g. Decimal('50')")
    if not 0 < value <= _MAX_LIMIT_USD:
        raise ConfigurationError(
            f"budget.{field}", f"{name}: must be above 0 and at most {_MAX_LIMIT_USD:.0f}"
        )


@dataclass(frozen=True, slots=True)
class BudgetCharge:
    """One budget window a reservation counts against.

    Attributes:
        budget: The budget.
        scope_value: The call's value of `budget.scope`, or `None` for a global budget.
        window_start: Start of the window (UTC).
        window_end: End of the window (UTC), exclusive.
        key: The store counter of the window.
        committed_usd: The window's spending right after the reservation: settled costs plus every
            reservation in flight (all processes sharing the store), this one included.
        soft_limit_exceeded: `committed_usd` is above the soft limit: the call may be downgraded.
        soft_limit_crossed: This reservation took the window above its soft limit (report it once).
    """

    budget: Budget
    scope_value: str | None
    window_start: datetime
    window_end: datetime
    key: str
    committed_usd: Decimal
    soft_limit_exceeded: bool
    soft_limit_crossed: bool


@dataclass(frozen=True, slots=True, eq=False)
class Reservation:
    """Money held for one call until it is settled or released; from `BudgetLedger.reserve()`.

    Attributes:
        id: Unique within its ledger.
        amount_nanos: The amount held in every charged window, in nano-dollars (rounded up).
        charges: The budget windows it counts against, in the ledger's budget order.
    """

    id: int
    amount_nanos: int
    charges: tuple[BudgetCharge, ...]

    @property
    def amount_usd(self) -> Decimal:
        """The amount held in every charged window, in US dollars."""
        return _usd(self.amount_nanos)

    @property
    def soft_limits_exceeded(self) -> tuple[BudgetCharge, ...]:
        """The charged windows above their soft limit."""
        return tuple(charge for charge in self.charges if charge.soft_limit_exceeded)

    @property
    def downgrade_to(self) -> str | None:
        """The chain to switch to: the first `downgrade_to` among the exceeded soft limits, if any."""
        return next((c.budget.downgrade_to for c in self.soft_limits_exceeded if c.budget.downgrade_to), None)


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """The state of one budget window, for health snapshots and gauges.

    Attributes:
        budget: The budget's name.
        scope_value: The attribute value of a scoped budget, `None` for a global one.
        period: The budget's period.
        window_start: Start of the current window (UTC).
        window_end: End of the current window (UTC), exclusive.
        spent_usd: Settled costs plus the reservations of calls in flight (all processes sharing the store).
        limit_usd: The hard limit, if any.
        soft_limit_usd: The soft limit, if any.
        remaining_usd: What is left below the budget's ceiling (the hard limit, else the soft limit),
            never negative.
        utilisation: `spent_usd` divided by the ceiling; above 1 when settled costs exceeded their
            reservations or for a soft-only budget past its limit.
    """

    budget: str
    scope_value: str | None
    period: BudgetPeriod
    window_start: datetime
    window_end: datetime
    spent_usd: Decimal
    limit_usd: Decimal | None
    soft_limit_usd: Decimal | None
    remaining_usd: Decimal
    utilisation: float


class BudgetLedger:
    """Reserves, settles and releases calls' costs against a set of budgets kept in a store.

    Thread-safe, and safe in asyncio code: no method awaits, and the default in-memory store only holds
    a lock for microseconds (SQLite and Redis stores block on I/O: call them from a worker thread).
    The ledger remembers each scope value it has seen, for `status()`: scope budgets by attributes of
    bounded cardinality.

    Args:
        budgets: The budgets; names must be unique.
        store: Where the counters live; the default keeps them in this process.
        wall_clock: Unix time in seconds; decides which window a reservation falls into.

    Raises:
        ConfigurationError: Two budgets share a name (`.field` is `budgets`).

    Example:
        >>> ledger = BudgetLedger([Budget("daily", limit_usd=Decimal("20"), period="day")])
        >>> reservation = ledger.reserve({"team": "search"}, Decimal("0.02"))
        >>> ledger.settle(reservation, Decimal("0.0031"))
    """

    def __init__(
        self,
        budgets: Sequence[Budget],
        store: BudgetStore | None = None,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        names = [budget.name for budget in budgets]
        if duplicates := sorted({name for name in names if names.count(name) > 1}):
            raise ConfigurationError("budgets", f"budget names must be unique: {duplicates}")
        self._budgets = tuple(budgets)
        self._store: BudgetStore = MemoryBudgetStore() if store is None else store
        self._clock = wall_clock
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._open: dict[int, Reservation] = {}
        self._scope_values: dict[str, set[str]] = {b.name: set() for b in budgets if b.scope is not None}

    @property
    def budgets(self) -> tuple[Budget, ...]:
        """The ledger's budgets, in order."""
        return self._budgets

    @property
    def open_reservations(self) -> int:
        """How many reservations are neither settled nor released yet (calls in flight)."""
        with self._lock:
            return len(self._open)

    def reserve(self, attributes: Mapping[str, str], amount: Decimal) -> Reservation:
        """Hold `amount` in every budget the call counts against, or in none.

        A zero amount (a free or local model) is never refused, even by an exhausted budget.

        Args:
            attributes: The call's attributes; a scoped budget applies when its attribute is present.
            amount: The call's worst-case cost in US dollars (see `worst_case_cost()`); rounded up to
                whole nano-dollars.

        Returns:
            The reservation, to be settled or released exactly once.

        Raises:
            BudgetExceededError: The amount would take a budget above its hard limit; nothing was held.
            ValueError: The amount is negative or not finite.
        """
        nanos = _nanos(amount, "amount")
        now = self._clock()
        windows = [
            _Window.of(budget, attributes[budget.scope] if budget.scope else None, now)
            for budget in self._budgets
            if budget.scope is None or budget.scope in attributes
        ]
        outcome = self._store.add_within_limits(
            [Increment(w.key, nanos, w.expires_at, _limit_nanos(w.budget.limit_usd)) for w in windows], now
        )
        if outcome.refused is not None:
            refused = windows[outcome.refused]
            raise BudgetExceededError(
                budget=refused.budget.name,
                scope_value=refused.scope_value,
                period=refused.budget.period,
                # The store refuses only increments that carry a limit.
                limit_usd=cast(Decimal, refused.budget.limit_usd),
                spent_usd=_usd(outcome.totals[outcome.refused]),
                requested_usd=_usd(nanos),
            )
        charges = tuple(
            window.charge(total, nanos) for window, total in zip(windows, outcome.totals, strict=True)
        )
        with self._lock:
            reservation = Reservation(next(self._ids), nanos, charges)
            self._open[reservation.id] = reservation
            for window in windows:
                if window.scope_value is not None:
                    self._scope_values[window.budget.name].add(window.scope_value)
        return reservation

    def settle(self, reservation: Reservation, actual: Decimal | None) -> None:
        """Replace the reserved amount by the call's actual cost.

        Args:
            reservation: From `reserve()`, neither settled nor released yet.
            actual: The actual cost in US dollars (rounded up to whole nano-dollars); it may exceed the
                reservation. `None` (cost unknown, e.g. a model without a price) keeps the reserved
                amount as spent: a budget must never under-count money, and the worst case is the best
                bound we have.

        Raises:
            ValueError: The reservation is not open (already settled or released, or from another
                ledger), or `actual` is negative or not finite; nothing changed.
        """
        delta = 0 if actual is None else _nanos(actual, "actual") - reservation.amount_nanos
        self._close(reservation, delta)

    def release(self, reservation: Reservation) -> None:
        """Give the reserved amount back: the call failed without being billed.

        Args:
            reservation: From `reserve()`, neither settled nor released yet.

        Raises:
            ValueError: The reservation is not open (already settled or released, or from another
                ledger); nothing changed.
        """
        self._close(reservation, -reservation.amount_nanos)

    def status(self) -> tuple[BudgetStatus, ...]:
        """Return the current window of every global budget and of every scope value this ledger has seen.

        Returns:
            One status per budget and scope value, in budget order, scope values sorted.
        """
        now = self._clock()
        with self._lock:
            windows = [
                _Window.of(budget, value, now)
                for budget in self._budgets
                for value in ([None] if budget.scope is None else sorted(self._scope_values[budget.name]))
            ]
        totals = self._store.totals([window.key for window in windows], now)
        return tuple(window.status(total) for window, total in zip(windows, totals, strict=True))

    def _close(self, reservation: Reservation, delta: int) -> None:
        with self._lock:
            if self._open.get(reservation.id) is not reservation:
                raise ValueError(f"reservation {reservation.id} is not open: already settled or released")
            del self._open[reservation.id]
        if delta == 0:
            return
        increments = [Increment(c.key, delta, _expires_at(c.window_end)) for c in reservation.charges]
        try:
            self._store.add(increments, self._clock())
        except BaseException:
            # The store applies all or nothing: the reservation is still open and may be closed again.
            with self._lock:
                self._open[reservation.id] = reservation
            raise


@dataclass(frozen=True, slots=True)
class _Window:
    """The current window of one budget (and scope value) and its store key."""

    budget: Budget
    scope_value: str | None
    start: datetime
    end: datetime
    key: str

    @classmethod
    def of(cls, budget: Budget, scope_value: str | None, now: float) -> _Window:
        moment = datetime.fromtimestamp(now, tz=timezone.utc)
        if budget.period == "hour":
            start = moment.replace(minute=0, second=0, microsecond=0)
            end = start + timedelta(hours=1)
        elif budget.period == "day":
            start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
            end = start + timedelta(days=1)
        else:
            start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            end = (start + timedelta(days=32)).replace(day=1)
        # Names and scope attributes contain no ':', so the value, last, cannot make two keys collide.
        scope = "*" if budget.scope is None else f"{budget.scope}={scope_value}"
        key = f"{budget.name}:{budget.period}:{start.strftime(_STAMPS[budget.period])}:{scope}"
        return cls(budget, scope_value, start, end, key)

    @property
    def expires_at(self) -> float:
        return _expires_at(self.end)

    def charge(self, total: int, amount: int) -> BudgetCharge:
        soft = _limit_nanos(self.budget.soft_limit_usd)
        return BudgetCharge(
            budget=self.budget,
            scope_value=self.scope_value,
            window_start=self.start,
            window_end=self.end,
            key=self.key,
            committed_usd=_usd(total),
            soft_limit_exceeded=soft is not None and total > soft,
            soft_limit_crossed=soft is not None and total - amount <= soft < total,
        )

    def status(self, total: int) -> BudgetStatus:
        spent = _usd(total)
        # Validated: every budget has a hard or a soft limit.
        ceiling = cast(Decimal, self.budget.limit_usd or self.budget.soft_limit_usd)
        return BudgetStatus(
            budget=self.budget.name,
            scope_value=self.scope_value,
            period=self.budget.period,
            window_start=self.start,
            window_end=self.end,
            spent_usd=spent,
            limit_usd=self.budget.limit_usd,
            soft_limit_usd=self.budget.soft_limit_usd,
            remaining_usd=max(ceiling - spent, Decimal(0)),
            utilisation=float(spent / ceiling),
        )


def worst_case_cost(price: ModelPrice, input_tokens: int, max_output_tokens: int) -> Decimal:
    """The most a call can cost: every input and every allowed output token at its dearest rate.

    Cost is linear in how input splits into plain, cache-read and cache-write tokens and output into
    plain and reasoning tokens, so the worst case is one of the extremes: all input at one rate, all
    output at one rate. Each is priced with `cost_usd()` (tiers included) and the dearest wins.

    Args:
        price: The model's prices.
        input_tokens: The estimated input tokens.
        max_output_tokens: The request's output cap (or the model's maximum output when it set none).

    Returns:
        The cost in US dollars.

    Raises:
        ValueError: A token count is negative.
    """
    if input_tokens < 0 or max_output_tokens < 0:
        raise ValueError("token counts must not be negative")
    input_splits = ((None, None), (input_tokens, None), (None, input_tokens))  # (cache read, cache write)
    costs = (
        cost_usd(
            Usage(
                input_tokens=input_tokens,
                output_tokens=max_output_tokens,
                cache_read_input_tokens=cache_read,
                cache_write_input_tokens=cache_write,
                reasoning_output_tokens=reasoning,
            ),
            price,
        )
        for (cache_read, cache_write), reasoning in itertools.product(input_splits, (None, max_output_tokens))
    )
    # cost_usd() returns None only for unknown token counts, which these are not; filter() drops the
    # None for the type checker (and zeros, which the default brings back).
    return max(filter(None, costs), default=Decimal(0))


def _nanos(amount: Decimal, what: str) -> int:
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0:
        raise ValueError(f"{what} must be a finite, non-negative Decimal, got {amount!r}")
    return int((amount * NANOS_PER_USD).to_integral_value(rounding=ROUND_CEILING))


def _limit_nanos(limit: Decimal | None) -> int | None:
    # Rounded down: a limit never admits more than it says.
    return None if limit is None else int((limit * NANOS_PER_USD).to_integral_value(rounding=ROUND_FLOOR))


def _usd(nanos: int) -> Decimal:
    return Decimal(nanos).scaleb(-9).normalize()


def _expires_at(window_end: datetime) -> float:
    return window_end.timestamp() + _SETTLE_GRACE_S
