"""Budget ledger semantics over the in-memory store: limits, scopes, windows, settle and release."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from otel_llm._budget import Budget, BudgetLedger, worst_case_cost
from otel_llm._budget_stores import Increment, MemoryBudgetStore
from otel_llm._cost import ModelPrice, PriceTier
from otel_llm._exceptions import BudgetExceededError, ConfigurationError, OtelLLMError, ProviderError
from otel_llm.budgets import BudgetStatus

D = Decimal


def utc(when: str) -> datetime:
    return datetime.fromisoformat(when).replace(tzinfo=timezone.utc)


class WallClock:
    """A wall clock (Unix seconds) that only moves when set."""

    def __init__(self, when: str) -> None:
        self.now = utc(when).timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, when: str) -> None:
        self.now = utc(when).timestamp()


@pytest.fixture
def wall() -> WallClock:
    return WallClock("2025-06-15T12:30:00")


def ledger(wall: WallClock, *budgets: Budget) -> BudgetLedger:
    return BudgetLedger(budgets, MemoryBudgetStore(), wall_clock=wall)


def spent(led: BudgetLedger) -> dict[tuple[str, str | None], Decimal]:
    return {(s.budget, s.scope_value): s.spent_usd for s in led.status()}


# --- Budget validation ------------------------------------------------------------------------


def test_a_budget_keeps_its_settings() -> None:
    budget = Budget(
        "team-daily",
        period="day",
        limit_usd=D("50"),
        soft_limit_usd=D("40"),
        scope="team",
        downgrade_to="cheap",
    )
    assert (budget.name, budget.period, budget.limit_usd, budget.soft_limit_usd) == (
        "team-daily",
        "day",
        D("50"),
        D("40"),
    )
    assert (budget.scope, budget.downgrade_to) == ("team", "cheap")
    assert Budget("soft.only_1", period="month", soft_limit_usd=D("0.5")).limit_usd is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "budget.name"),
        ({"name": "a:b"}, "budget.name"),
        ({"name": 7}, "budget.name"),
        ({"period": "week"}, "budget.period"),
        ({"scope": "team name"}, "budget.scope"),
        ({"scope": ""}, "budget.scope"),
        ({"scope": 3}, "budget.scope"),
        ({"limit_usd": 10.0}, "budget.limit_usd"),
        ({"limit_usd": 10}, "budget.limit_usd"),
        ({"limit_usd": D("NaN")}, "budget.limit_usd"),
        ({"limit_usd": D("Infinity")}, "budget.limit_usd"),
        ({"limit_usd": D("0")}, "budget.limit_usd"),
        ({"limit_usd": D("-1")}, "budget.limit_usd"),
        ({"limit_usd": D("9007199.254740992")}, "budget.limit_usd"),
        ({"limit_usd": None, "soft_limit_usd": D("-0.01")}, "budget.soft_limit_usd"),
        ({"limit_usd": None}, "budget.limit_usd"),
        ({"soft_limit_usd": D("10")}, "budget.soft_limit_usd"),
        ({"soft_limit_usd": D("11")}, "budget.soft_limit_usd"),
        ({"downgrade_to": "cheap"}, "budget.downgrade_to"),
        ({"soft_limit_usd": D("5"), "downgrade_to": ""}, "budget.downgrade_to"),
    ],
)
def test_an_invalid_budget_names_the_offending_field(kwargs: dict[str, Any], field: str) -> None:
    settings: dict[str, Any] = {"name": "daily", "period": "day", "limit_usd": D("10"), **kwargs}
    with pytest.raises(ConfigurationError) as info:
        Budget(**settings)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert isinstance(info.value, ValueError)


def test_the_largest_limit_compares_exactly_in_every_store_so_it_is_allowed() -> None:
    assert Budget("max", period="day", limit_usd=D("9007199.254740991")).limit_usd == D("9007199.254740991")


def test_budget_names_are_unique_within_a_ledger() -> None:
    budget = Budget("daily", period="day", limit_usd=D("1"))
    with pytest.raises(ConfigurationError) as info:
        BudgetLedger([budget, Budget("other", period="hour", limit_usd=D("1")), budget])
    assert info.value.field == "budgets"
    assert "['daily']" in str(info.value)


# --- reserve: hard limits ---------------------------------------------------------------------


def test_a_reservation_counts_against_every_applicable_budget(wall: WallClock) -> None:
    daily = Budget("daily", period="day", limit_usd=D("10"))
    team = Budget("team", period="hour", limit_usd=D("5"), scope="team")
    led = ledger(wall, daily, team)
    assert led.budgets == (daily, team)

    reservation = led.reserve({"team": "search"}, D("1.25"))

    assert reservation.amount_usd == D("1.25")
    assert reservation.amount_nanos == 1_250_000_000
    assert [(c.budget, c.scope_value, c.committed_usd) for c in reservation.charges] == [
        (daily, None, D("1.25")),
        (team, "search", D("1.25")),
    ]
    assert [(c.window_start, c.window_end) for c in reservation.charges] == [
        (utc("2025-06-15T00:00:00"), utc("2025-06-16T00:00:00")),
        (utc("2025-06-15T12:00:00"), utc("2025-06-15T13:00:00")),
    ]
    assert [c.key for c in reservation.charges] == [
        "daily:day:2025-06-15:*",
        "team:hour:2025-06-15T12:team=search",
    ]
    assert spent(led) == {("daily", None): D("1.25"), ("team", "search"): D("1.25")}
    assert led.open_reservations == 1


def test_amounts_round_up_to_whole_nano_dollars(wall: WallClock) -> None:
    led = ledger(wall, Budget("daily", period="day", limit_usd=D("1")))
    assert led.reserve({}, D("0.0000000001")).amount_nanos == 1
    assert led.reserve({}, D("0.000000002")).amount_nanos == 2


def test_the_hard_limit_admits_up_to_itself_and_refuses_before_anything_is_held(wall: WallClock) -> None:
    led = ledger(wall, Budget("daily", period="day", limit_usd=D("1")))
    led.reserve({}, D("0.6"))
    led.reserve({}, D("0.4"))  # exactly at the limit

    with pytest.raises(BudgetExceededError) as info:
        led.reserve({}, D("0.000000001"))

    error = info.value
    assert (error.budget, error.scope_value, error.period) == ("daily", None, "day")
    assert (error.limit_usd, error.spent_usd, error.requested_usd) == (D("1"), D("1"), D("1E-9"))
    assert str(error) == "budget 'daily' (day) exceeded: spent $1 + requested $0.000000001 > limit $1"
    assert spent(led) == {("daily", None): D("1")}
    assert led.open_reservations == 2


def test_budget_exceeded_is_raised_before_any_request_so_it_is_no_provider_error() -> None:
    error = BudgetExceededError(
        budget="b",
        scope_value="search",
        period="hour",
        limit_usd=D("2"),
        spent_usd=D("1.5"),
        requested_usd=D("0.75"),
    )
    assert isinstance(error, OtelLLMError)
    assert not isinstance(error, ProviderError)
    assert str(error) == "budget 'b' for 'search' (hour) exceeded: spent $1.5 + requested $0.75 > limit $2"


def test_in_flight_reservations_count_so_concurrent_calls_cannot_overshoot(wall: WallClock) -> None:
    led = ledger(wall, Budget("daily", period="day", limit_usd=D("10")))
    first = led.reserve({}, D("6"))
    with pytest.raises(BudgetExceededError) as info:
        led.reserve({}, D("6"))
    assert info.value.spent_usd == D("6")

    led.settle(first, D("3"))

    led.reserve({}, D("6"))
    assert spent(led) == {("daily", None): D("9")}


def test_a_reservation_is_all_or_nothing_across_budgets(wall: WallClock) -> None:
    led = ledger(
        wall,
        Budget("global", period="month", limit_usd=D("100")),
        Budget("team", period="day", limit_usd=D("1"), scope="team"),
    )
    led.reserve({"team": "search"}, D("0.9"))

    with pytest.raises(BudgetExceededError) as info:
        led.reserve({"team": "search"}, D("0.2"))

    assert (info.value.budget, info.value.scope_value) == ("team", "search")
    assert spent(led) == {("global", None): D("0.9"), ("team", "search"): D("0.9")}


def test_a_zero_amount_is_never_refused_even_by_an_overspent_budget(wall: WallClock) -> None:
    led = ledger(wall, Budget("daily", period="day", limit_usd=D("1")))
    led.settle(led.reserve({}, D("0.5")), D("1.5"))  # the call cost more than its worst case

    with pytest.raises(BudgetExceededError):
        led.reserve({}, D("0.01"))
    free = led.reserve({}, D("0"))

    assert free.amount_usd == 0
    assert free.charges[0].committed_usd == D("1.5")
    led.settle(free, D("0"))
    assert spent(led) == {("daily", None): D("1.5")}


@pytest.mark.parametrize("amount", [D("-0.01"), D("NaN"), D("Infinity"), 0.5])
def test_a_reservation_amount_must_be_a_finite_non_negative_decimal(wall: WallClock, amount: Any) -> None:
    led = ledger(wall, Budget("daily", period="day", limit_usd=D("1")))
    with pytest.raises(ValueError, match="amount must be a finite, non-negative Decimal"):
        led.reserve({}, amount)
    assert led.open_reservations == 0


def test_a_ledger_without_applicable_budgets_reserves_nothing(wall: WallClock) -> None:
    led = ledger(wall, Budget("team", period="day", limit_usd=D("1"), scope="team"))
    reservation = led.reserve({"project": "x"}, D("5"))
    assert reservation.charges == ()
    led.settle(reservation, D("4"))
    assert led.status() == ()


def test_the_default_store_is_in_memory() -> None:
    led = BudgetLedger([Budget("daily", period="day", limit_usd=D("1"))])
    led.release(led.reserve({}, D("1")))
    assert [s.spent_usd for s in led.status()] == [0]


# --- settle and release -----------------------------------------------------------------------


def test_settle_replaces_the_reservation_by_the_actual_cost(wall: WallClock) -> None:
    led = ledger(wall, Budget("daily", period="day", limit_usd=D("10")))
    led.settle(led.reserve({}, D("2")), D("0.123456789"))
    led.settle(led.reserve({}, D("2")), D("2"))
    assert spent(led) == {("daily", None): D("2.123456789")}
    assert led.open_reservations == 0


def test_settle_may_exceed_the_reservation_and_rounds_up(wall: WallClock) -> None:
    led = ledger(wall, Budget("daily", period="day", limit_usd=D("1")))
    led.settle(led.reserve({}, D("0.5")), D("1.0000000001"))
    assert spent(led) == {("daily", None): D("1.000000001")}


def test_an_unknown_actual_cost_keeps_the_reservation_as_spent(wall: WallClock) -> None:
    led = ledger(wall, Budget("daily", period="day", limit_usd=D("1")))
    led.settle(led.reserve({}, D("0.75")), None)
    assert spent(led) == {("daily", None): D("0.75")}
    assert led.open_reservations == 0


def test_release_gives_the_reservation_back(wall: WallClock) -> None:
    led = ledger(wall, Budget("daily", period="day", limit_usd=D("1")))
    kept = led.reserve({}, D("0.25"))
    led.release(led.reserve({}, D("0.75")))
    assert spent(led) == {("daily", None): D("0.25")}
    assert led.open_reservations == 1
    led.release(kept)
    assert spent(led) == {("daily", None): D("0")}


@pytest.mark.parametrize(
    ("first", "second"),
    [("settle", "settle"), ("settle", "release"), ("release", "release"), ("release", "settle")],
)
def test_a_reservation_closes_exactly_once(wall: WallClock, first: str, second: str) -> None:
    led = ledger(wall, Budget("daily", period="day", limit_usd=D("1")))
    reservation = led.reserve({}, D("0.5"))

    def close(how: str) -> None:
        if how == "settle":
            led.settle(reservation, D("0.25"))
        else:
            led.release(reservation)

    close(first)
    with pytest.raises(ValueError, match=f"reservation {reservation.id} is not open"):
        close(second)
    assert spent(led) == {("daily", None): D("0.25") if first == "settle" else D("0")}


def test_a_reservation_of_another_ledger_is_refused(wall: WallClock) -> None:
    budget = Budget("daily", period="day", limit_usd=D("1"))
    store = MemoryBudgetStore()
    one = BudgetLedger([budget], store, wall_clock=wall)
    other = BudgetLedger([budget], store, wall_clock=wall)
    reservation = one.reserve({}, D("0.5"))
    other.reserve({}, D("0.25"))  # same id in the other ledger

    with pytest.raises(ValueError, match="not open"):
        other.release(reservation)
    assert one.open_reservations == other.open_reservations == 1


def test_an_invalid_actual_cost_changes_nothing(wall: WallClock) -> None:
    led = ledger(wall, Budget("daily", period="day", limit_usd=D("1")))
    reservation = led.reserve({}, D("0.5"))
    with pytest.raises(ValueError, match="actual must be a finite, non-negative Decimal"):
        led.settle(reservation, D("-0.1"))
    assert led.open_reservations == 1
    led.settle(reservation, D("0.1"))
    assert spent(led) == {("daily", None): D("0.1")}


class FlakyStore(MemoryBudgetStore):
    """Fails the next `add` once, as a store whose server is briefly unreachable would."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next_add = False

    def add(self, increments: Sequence[Increment], now: float) -> None:
        if self.fail_next_add:
            self.fail_next_add = False
            raise ConnectionError("store unreachable")
        super().add(increments, now)


def test_a_failed_settle_leaves_the_reservation_open_to_retry(wall: WallClock) -> None:
    store = FlakyStore()
    led = BudgetLedger([Budget("daily", period="day", limit_usd=D("1"))], store, wall_clock=wall)
    reservation = led.reserve({}, D("0.5"))
    store.fail_next_add = True

    with pytest.raises(ConnectionError):
        led.settle(reservation, D("0.2"))
    assert led.open_reservations == 1

    led.settle(reservation, D("0.2"))
    assert spent(led) == {("daily", None): D("0.2")}
    assert led.open_reservations == 0


class CountingStore(MemoryBudgetStore):
    def __init__(self) -> None:
        super().__init__()
        self.adds = 0

    def add(self, increments: Sequence[Increment], now: float) -> None:
        self.adds += 1
        super().add(increments, now)


def test_settling_at_the_reserved_amount_needs_no_store_write(wall: WallClock) -> None:
    store = CountingStore()
    led = BudgetLedger([Budget("daily", period="day", limit_usd=D("1"))], store, wall_clock=wall)
    led.settle(led.reserve({}, D("0.5")), D("0.5"))
    led.settle(led.reserve({}, D("0.25")), None)
    assert store.adds == 0
    led.settle(led.reserve({}, D("0.1")), D("0.05"))
    assert store.adds == 1


# --- scopes -----------------------------------------------------------------------------------


def test_a_scoped_budget_is_one_budget_per_attribute_value(wall: WallClock) -> None:
    led = ledger(wall, Budget("team", period="day", limit_usd=D("1"), scope="team"))
    led.reserve({"team": "search"}, D("1"))
    led.reserve({"team": "ads"}, D("0.5"))

    with pytest.raises(BudgetExceededError) as info:
        led.reserve({"team": "search"}, D("0.01"))
    assert info.value.scope_value == "search"
    led.reserve({"team": "ads"}, D("0.5"))
    assert spent(led) == {("team", "ads"): D("1"), ("team", "search"): D("1")}


def test_calls_without_the_scope_attribute_do_not_count_against_it(wall: WallClock) -> None:
    led = ledger(
        wall,
        Budget("global", period="day", limit_usd=D("10")),
        Budget("team", period="day", limit_usd=D("1"), scope="team"),
    )
    reservation = led.reserve({"project": "x"}, D("2"))
    assert [c.budget.name for c in reservation.charges] == ["global"]
    assert spent(led) == {("global", None): D("2")}


def test_status_reports_global_budgets_and_every_scope_value_seen(wall: WallClock) -> None:
    led = ledger(
        wall,
        Budget("team", period="hour", limit_usd=D("4"), soft_limit_usd=D("2"), scope="team"),
        Budget("monthly", period="month", soft_limit_usd=D("2")),
    )
    assert [(s.budget, s.scope_value, s.spent_usd) for s in led.status()] == [("monthly", None, D("0"))]
    led.reserve({"team": "search"}, D("3"))
    led.reserve({"team": "ads"}, D("1"))

    assert led.status() == (
        BudgetStatus(
            budget="team",
            scope_value="ads",
            period="hour",
            window_start=utc("2025-06-15T12:00:00"),
            window_end=utc("2025-06-15T13:00:00"),
            spent_usd=D("1"),
            limit_usd=D("4"),
            soft_limit_usd=D("2"),
            remaining_usd=D("3"),
            utilisation=0.25,
        ),
        BudgetStatus(
            budget="team",
            scope_value="search",
            period="hour",
            window_start=utc("2025-06-15T12:00:00"),
            window_end=utc("2025-06-15T13:00:00"),
            spent_usd=D("3"),
            limit_usd=D("4"),
            soft_limit_usd=D("2"),
            remaining_usd=D("1"),
            utilisation=0.75,
        ),
        BudgetStatus(
            budget="monthly",
            scope_value=None,
            period="month",
            window_start=utc("2025-06-01T00:00:00"),
            window_end=utc("2025-07-01T00:00:00"),
            spent_usd=D("4"),
            limit_usd=None,
            soft_limit_usd=D("2"),
            remaining_usd=D("0"),
            utilisation=2.0,
        ),
    )


# --- soft limits ------------------------------------------------------------------------------


def test_the_soft_limit_is_reported_once_crossed_and_never_refuses(wall: WallClock) -> None:
    led = ledger(wall, Budget("daily", period="day", soft_limit_usd=D("1"), downgrade_to="cheap"))

    below = led.reserve({}, D("0.6"))
    at = led.reserve({}, D("0.4"))
    crossing = led.reserve({}, D("0.5"))
    beyond = led.reserve({}, D("100"))

    flags = [
        (c.soft_limit_exceeded, c.soft_limit_crossed)
        for r in (below, at, crossing, beyond)
        for c in r.charges
    ]
    assert flags == [(False, False), (False, False), (True, True), (True, False)]
    assert [r.downgrade_to for r in (below, at, crossing, beyond)] == [None, None, "cheap", "cheap"]
    assert crossing.soft_limits_exceeded == crossing.charges


def test_releasing_below_the_soft_limit_lets_it_be_crossed_again(wall: WallClock) -> None:
    led = ledger(wall, Budget("daily", period="day", limit_usd=D("2"), soft_limit_usd=D("1")))
    first = led.reserve({}, D("1.5"))
    led.release(first)
    again = led.reserve({}, D("1.5"))
    assert again.charges[0].soft_limit_crossed
    assert again.downgrade_to is None  # this budget names no chain


def test_the_first_exceeded_budget_with_a_chain_decides_the_downgrade(wall: WallClock) -> None:
    led = ledger(
        wall,
        Budget("plain", period="day", soft_limit_usd=D("1")),
        Budget("team", period="day", soft_limit_usd=D("5"), scope="team", downgrade_to="team-cheap"),
        Budget("global", period="month", soft_limit_usd=D("1"), downgrade_to="cheapest"),
    )
    reservation = led.reserve({"team": "search"}, D("2"))
    assert [c.budget.name for c in reservation.soft_limits_exceeded] == ["plain", "global"]
    assert reservation.downgrade_to == "cheapest"
    reservation = led.reserve({"team": "search"}, D("4"))
    assert reservation.downgrade_to == "team-cheap"


# --- windows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "before", "after", "start", "end"),
    [
        (
            "hour",
            "2025-06-15T12:59:59.999999",
            "2025-06-15T13:00:00",
            "2025-06-15T13:00:00",
            "2025-06-15T14:00:00",
        ),
        (
            "day",
            "2025-06-15T23:59:59.999999",
            "2025-06-16T00:00:00",
            "2025-06-16T00:00:00",
            "2025-06-17T00:00:00",
        ),
        ("month", "2025-01-31T23:59:59", "2025-02-01T00:00:00", "2025-02-01T00:00:00", "2025-03-01T00:00:00"),
        ("month", "2024-02-29T23:59:59", "2024-03-01T00:00:00", "2024-03-01T00:00:00", "2024-04-01T00:00:00"),
        ("month", "2025-12-31T23:59:59", "2026-01-01T00:00:00", "2026-01-01T00:00:00", "2026-02-01T00:00:00"),
        ("day", "2024-12-31T23:00:00", "2025-01-01T00:00:00", "2025-01-01T00:00:00", "2025-01-02T00:00:00"),
    ],
)
def test_windows_roll_over_at_utc_calendar_boundaries(
    period: Any, before: str, after: str, start: str, end: str
) -> None:
    wall = WallClock(before)
    led = ledger(wall, Budget("b", period=period, limit_usd=D("1")))
    led.reserve({}, D("1"))
    with pytest.raises(BudgetExceededError):
        led.reserve({}, D("1"))

    wall.set(after)
    reservation = led.reserve({}, D("1"))

    assert (reservation.charges[0].window_start, reservation.charges[0].window_end) == (utc(start), utc(end))
    assert [(s.window_start, s.spent_usd) for s in led.status()] == [(utc(start), D("1"))]


def test_a_month_window_spans_the_whole_calendar_month(wall: WallClock) -> None:
    wall.set("2025-02-01T00:00:00")
    led = ledger(wall, Budget("m", period="month", limit_usd=D("1")))
    led.reserve({}, D("0.5"))
    wall.set("2025-02-28T23:59:59")
    with pytest.raises(BudgetExceededError):
        led.reserve({}, D("0.6"))


def test_a_settle_after_the_window_ended_charges_the_window_it_reserved_in(wall: WallClock) -> None:
    store = MemoryBudgetStore()
    wall.set("2025-06-15T12:59:59")
    led = BudgetLedger([Budget("h", period="hour", limit_usd=D("1"))], store, wall_clock=wall)
    reservation = led.reserve({}, D("0.5"))

    wall.set("2025-06-15T13:30:00")
    led.settle(reservation, D("0.2"))

    assert store.totals([reservation.charges[0].key], wall()) == (200_000_000,)
    assert spent(led) == {("h", None): D("0")}


def test_windows_are_utc_whatever_the_local_time_zone(
    wall: WallClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: local date differs from the UTC date
    time.tzset()
    try:
        wall.set("2025-06-15T20:00:00")
        reservation = ledger(wall, Budget("d", period="day", limit_usd=D("1"))).reserve({}, D("0"))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert reservation.charges[0].window_start == utc("2025-06-15T00:00:00")


# --- worst case -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (ModelPrice(input=D("3"), output=D("15")), D("0.018")),  # 1000 x 3 + 1000 x 15 per million
        (ModelPrice(input=D("3"), output=D("15"), cache_read=D("0.3")), D("0.018")),
        (ModelPrice(input=D("3"), output=D("15"), cache_write=D("3.75")), D("0.01875")),
        (ModelPrice(input=D("3"), output=D("15"), cache_write=D("1")), D("0.018")),
        (ModelPrice(input=D("3"), output=D("15"), reasoning=D("20")), D("0.023")),
        (ModelPrice(input=D("3"), output=D("15"), reasoning=D("10")), D("0.018")),
        (
            ModelPrice(input=D("1"), output=D("2"), tiers=(PriceTier(500, input=D("2"), output=D("4")),)),
            D("0.006"),
        ),
        (ModelPrice(input=D("0"), output=D("0")), D("0")),
    ],
)
def test_the_worst_case_bills_every_input_token_at_its_dearest_rate(
    price: ModelPrice, expected: Decimal
) -> None:
    assert worst_case_cost(price, 1000, 1000) == expected


@pytest.mark.parametrize(("input_tokens", "output_tokens"), [(-1, 10), (10, -1)])
def test_the_worst_case_needs_non_negative_token_counts(input_tokens: int, output_tokens: int) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        worst_case_cost(ModelPrice(input=D("1"), output=D("1")), input_tokens, output_tokens)


def test_a_worst_case_reservation_then_settle_with_actual_usage(wall: WallClock) -> None:
    price = ModelPrice(input=D("0.15"), output=D("0.6"))
    led = ledger(wall, Budget("daily", period="day", limit_usd=D("0.01")))
    reservation = led.reserve({}, worst_case_cost(price, 2000, 4096))
    assert reservation.amount_usd == D("0.0027576")
    led.settle(reservation, D("0.00045"))
    assert spent(led) == {("daily", None): D("0.00045")}
