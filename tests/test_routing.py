"""Routing decisions: the capability filter, health ordering and every strategy."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otel_llm._cost import ModelPrice
from otel_llm._exceptions import ConfigurationError
from otel_llm._registry import ModelInfo
from otel_llm._route_stats import RouteStatsBoard
from otel_llm._routing import (
    BalancedStrategy,
    BalancedWeights,
    CostStrategy,
    LatencyStrategy,
    LeastInFlightStrategy,
    LocalFirstStrategy,
    PriorityStrategy,
    QualityStrategy,
    RequestProfile,
    Router,
    RoutingDecision,
    RoutingStrategy,
    WeightedRoundRobinStrategy,
)
from otel_llm._types import Route
from tests.conftest import FakeClock

ALL_CAPS = frozenset({"tools", "vision", "json_schema", "streaming"})
PLAIN = RequestProfile()


def r(name: str) -> Route:
    return Route("p", name)


def model(
    name: str,
    *,
    price: tuple[str, str] | None = ("1", "1"),
    cache_read: str | None = None,
    caps: frozenset[str] = ALL_CAPS,
    window: int | None = None,
    max_output: int | None = None,
    tier: int | None = None,
    local: bool = False,
) -> ModelInfo:
    prices = None
    if price is not None:
        prices = ModelPrice(Decimal(price[0]), Decimal(price[1]), Decimal(cache_read) if cache_read else None)
    return ModelInfo("p", name, window, max_output, caps, tier, None, local, prices)


def router(
    infos: Sequence[ModelInfo] = (),
    *,
    board: RouteStatsBoard | None = None,
    down: Sequence[Route] = (),
    seed: int = 0,
) -> Router:
    facts = {Route(i.provider, i.model): i for i in infos}
    return Router(
        facts=facts.get,
        stats=board or RouteStatsBoard(FakeClock()),
        available=lambda route: route not in down,
        rng=random.Random(seed),
    )


def names(decision: RoutingDecision) -> list[str]:
    return [route.model for route in decision.routes]


def decide(
    infos: Sequence[ModelInfo],
    strategy: RoutingStrategy,
    profile: RequestProfile = PLAIN,
    *,
    board: RouteStatsBoard | None = None,
    seed: int = 0,
) -> list[str]:
    candidates = [Route(i.provider, i.model) for i in infos]
    return names(router(infos, board=board, seed=seed).decide(candidates, profile, strategy))


# --- the capability filter -------------------------------------------------------------------------


def test_routes_lacking_a_needed_capability_are_dropped_with_the_reason() -> None:
    infos = [
        model("text", caps=frozenset({"streaming"})),
        model("vision", caps=frozenset({"vision", "streaming"})),
        model("full"),
    ]
    profile = RequestProfile(capabilities=frozenset({"vision", "tools"}))
    decision = router(infos).decide([r("text"), r("vision"), r("full")], profile, PriorityStrategy())
    assert names(decision) == ["full"]
    assert [(d.route.model, d.reason) for d in decision.dropped] == [
        ("text", "capability:tools,vision"),
        ("vision", "capability:tools"),
    ]


def test_a_stream_needs_the_streaming_capability() -> None:
    infos = [model("batch", caps=frozenset({"tools"})), model("live")]
    decision = router(infos).decide([r("batch"), r("live")], RequestProfile(stream=True), PriorityStrategy())
    assert names(decision) == ["live"]
    assert decision.dropped[0].reason == "capability:streaming"
    assert names(router(infos).decide([r("batch")], RequestProfile(), PriorityStrategy())) == ["batch"]


def test_the_context_window_must_hold_input_and_expected_output() -> None:
    infos = [model("small", window=8_000), model("exact", window=10_000), model("big", window=200_000)]
    profile = RequestProfile(estimated_input_tokens=9_000, expected_output_tokens=1_000)
    decision = router(infos).decide([r("small"), r("exact"), r("big")], profile, PriorityStrategy())
    assert names(decision) == ["exact", "big"]
    assert [(d.route.model, d.reason) for d in decision.dropped] == [("small", "context_window")]


def test_the_model_must_write_the_expected_output() -> None:
    infos = [model("short", max_output=4_096), model("long", max_output=32_000)]
    profile = RequestProfile(expected_output_tokens=8_000)
    decision = router(infos).decide([r("short"), r("long")], profile, PriorityStrategy())
    assert (names(decision), decision.dropped[0].reason) == (["long"], "max_output")


def test_routes_without_facts_are_kept() -> None:
    profile = RequestProfile(estimated_input_tokens=10**9, capabilities=frozenset({"vision"}), stream=True)
    decision = router([]).decide([r("mystery")], profile, CostStrategy())
    assert (names(decision), decision.dropped) == (["mystery"], ())


def test_an_empty_decision_explains_itself_when_routes_are_required() -> None:
    infos = [model("a", window=1_000), model("b", caps=frozenset({"streaming"}))]
    profile = RequestProfile(estimated_input_tokens=5_000, capabilities=frozenset({"tools"}))
    decision = router(infos).decide([r("a"), r("b")], profile, PriorityStrategy())
    assert decision.routes == ()
    with pytest.raises(
        ConfigurationError, match=r"^chains\.x: .*p:a \(context_window\); p:b \(capability:tools\)"
    ):
        decision.require_routes("chains.x")
    with pytest.raises(ConfigurationError, match=r"^model: no route can serve this request: no candidate$"):
        router([]).decide([], profile, PriorityStrategy()).require_routes()


def test_an_entry_listing_no_capabilities_is_taken_as_unknown() -> None:
    profile = RequestProfile(capabilities=frozenset({"tools"}), stream=True)
    decision = router([model("catch-all", caps=frozenset())]).decide(
        [r("catch-all")], profile, PriorityStrategy()
    )
    assert decision.routes == (r("catch-all"),)


def test_require_routes_returns_the_routes() -> None:
    decision = router([]).decide([r("a"), r("b")], RequestProfile(), PriorityStrategy())
    assert decision.require_routes() == (r("a"), r("b"))
    assert decision.strategy == "priority"


# --- health ----------------------------------------------------------------------------------------


def test_unavailable_routes_go_last_in_configured_order() -> None:
    infos = [model("a", price=("3", "3")), model("b", price=("2", "2")), model("c", price=("1", "1"))]
    decision = router(infos, down=[r("c"), r("a")]).decide(
        [r("a"), r("b"), r("c")], RequestProfile(), CostStrategy()
    )
    assert names(decision) == ["b", "a", "c"]
    assert decision.unavailable == (r("a"), r("c"))


# --- strategies ------------------------------------------------------------------------------------


def test_priority_keeps_the_configured_order() -> None:
    assert decide([model("b"), model("a"), model("c")], PriorityStrategy()) == ["b", "a", "c"]


def test_cost_follows_the_requests_token_mix() -> None:
    # Cheap input and dear output against the reverse: which wins depends on the request (R11).
    infos = [model("cheap_in", price=("0.1", "10")), model("cheap_out", price=("1", "1"))]
    long_prompt = RequestProfile(estimated_input_tokens=10_000, expected_output_tokens=100)
    long_answer = RequestProfile(estimated_input_tokens=100, expected_output_tokens=10_000)
    assert decide(infos, CostStrategy(), long_prompt) == ["cheap_in", "cheap_out"]
    assert decide(infos, CostStrategy(), long_answer) == ["cheap_out", "cheap_in"]


def test_cost_prices_the_cached_prefix_at_the_cache_read_price() -> None:
    infos = [model("no_cache", price=("1", "1")), model("cache", price=("2", "1"), cache_read="0.1")]
    uncached = RequestProfile(estimated_input_tokens=10_000, expected_output_tokens=10)
    cached = RequestProfile(
        estimated_input_tokens=10_000, expected_output_tokens=10, cached_input_tokens=9_000
    )
    assert decide(infos, CostStrategy(), uncached) == ["no_cache", "cache"]
    assert decide(infos, CostStrategy(), cached) == ["cache", "no_cache"]


def test_cost_puts_free_local_models_first_and_unpriced_ones_last() -> None:
    infos = [
        model("unpriced", price=None),
        model("dear", price=("5", "15")),
        model("local", price=None, local=True),
        model("cheap", price=("0.1", "0.4")),
    ]
    profile = RequestProfile(estimated_input_tokens=1_000, expected_output_tokens=500)
    assert decide(infos, CostStrategy(), profile) == ["local", "cheap", "dear", "unpriced"]
    decision = router(infos).decide([r("unknown"), r("dear")], profile, CostStrategy())
    assert names(decision) == ["dear", "unknown"]


def test_cost_ties_keep_the_configured_order() -> None:
    assert decide([model("b"), model("a")], CostStrategy(), RequestProfile(10, 10)) == ["b", "a"]


def test_quality_ranks_by_tier_then_cost_with_unrated_models_last() -> None:
    infos = [
        model("unrated", price=("0.01", "0.01")),
        model("good_dear", tier=4, price=("5", "5")),
        model("best", tier=5, price=("10", "10")),
        model("good_cheap", tier=4, price=("1", "1")),
    ]
    profile = RequestProfile(estimated_input_tokens=100, expected_output_tokens=100)
    assert decide(infos, QualityStrategy(), profile) == ["best", "good_cheap", "good_dear", "unrated"]
    decision = router(infos).decide([r("unknown"), r("best")], profile, QualityStrategy())
    assert names(decision) == ["best", "unknown"]


def observed(latencies: Mapping[str, float], *, stream: bool = False) -> RouteStatsBoard:
    board = RouteStatsBoard(FakeClock())
    for name, seconds in latencies.items():
        board.record_success(r(name), seconds, stream=stream)
    return board


def test_latency_puts_the_fastest_first() -> None:
    board = observed({"slow": 3.0, "fast": 0.5, "mid": 1.0})
    infos = [model("slow"), model("fast"), model("mid")]
    assert decide(infos, LatencyStrategy(tolerance=0.0), board=board) == ["fast", "mid", "slow"]


def test_latency_of_streams_means_time_to_first_token() -> None:
    board = observed({"a": 0.2, "b": 0.9}, stream=True)
    board.record_success(r("a"), 9.0)
    board.record_success(r("b"), 1.0)
    infos = [model("a"), model("b")]
    assert decide(infos, LatencyStrategy(0.0), RequestProfile(stream=True), board=board) == ["a", "b"]
    assert decide(infos, LatencyStrategy(0.0), RequestProfile(), board=board) == ["b", "a"]


def test_latency_shares_near_ties_and_never_leads_with_a_clearly_slower_route() -> None:
    board = observed({"a": 1.00, "b": 1.05, "c": 2.0})
    infos = [model("a"), model("b"), model("c")]
    leaders = Counter(decide(infos, LatencyStrategy(0.2), board=board, seed=seed)[0] for seed in range(200))
    assert leaders["a"] > 20
    assert leaders["b"] > 20
    assert "c" not in leaders


def test_balanced_weights_select_what_matters() -> None:
    board = observed({"cheap_slow": 5.0, "dear_fast": 0.2, "mid": 1.0})
    infos = [
        model("cheap_slow", price=("0.1", "0.1"), tier=2),
        model("dear_fast", price=("10", "10"), tier=3),
        model("mid", price=("1", "1"), tier=5),
    ]
    profile = RequestProfile(estimated_input_tokens=1_000, expected_output_tokens=1_000)

    def balanced(cost: float, latency: float, quality: float) -> list[str]:
        strategy = BalancedStrategy(BalancedWeights(cost, latency, quality))
        return decide(infos, strategy, profile, board=board)

    assert balanced(1, 0, 0) == ["cheap_slow", "mid", "dear_fast"]
    assert balanced(0, 1, 0) == ["dear_fast", "mid", "cheap_slow"]
    assert balanced(0, 0, 1) == ["mid", "dear_fast", "cheap_slow"]
    # Equal weights: "mid" is never the worst at anything.
    assert decide(infos, BalancedStrategy(), profile, board=board)[0] == "mid"


def test_balanced_counts_unknown_prices_and_tiers_as_the_worst() -> None:
    infos = [model("unknown", price=None), model("known", price=("50", "50"), tier=1)]
    profile = RequestProfile(estimated_input_tokens=1_000, expected_output_tokens=1_000)
    assert decide(infos, BalancedStrategy(BalancedWeights(1, 0, 0)), profile) == ["known", "unknown"]
    assert decide(infos, BalancedStrategy(BalancedWeights(0, 0, 1)), profile) == ["known", "unknown"]
    assert decide([model("b"), model("a")], BalancedStrategy(), profile) == ["b", "a"]  # ties keep order
    decision = router([]).decide([r("y"), r("x")], profile, BalancedStrategy())  # nothing known at all
    assert names(decision) == ["y", "x"]


@pytest.mark.parametrize(
    "weights", [(-1.0, 1.0, 1.0), (1.0, float("nan"), 1.0), (0.0, 0.0, 0.0)], ids=["negative", "nan", "zero"]
)
def test_balanced_weights_are_checked(weights: tuple[float, float, float]) -> None:
    with pytest.raises(ConfigurationError, match=r"^weights: "):
        BalancedWeights(*weights)


def test_local_first_moves_local_models_up_and_keeps_the_inner_order() -> None:
    infos = [
        model("cloud_dear", price=("9", "9")),
        model("local_b", price=("1", "1"), local=True),
        model("cloud_cheap", price=("1", "1")),
        model("local_a", price=("0", "0"), local=True),
    ]
    profile = RequestProfile(estimated_input_tokens=100, expected_output_tokens=100)
    assert decide(infos, LocalFirstStrategy(), profile) == ["local_b", "local_a", "cloud_dear", "cloud_cheap"]
    assert decide(infos, LocalFirstStrategy(CostStrategy()), profile) == [
        "local_a",
        "local_b",
        "cloud_cheap",
        "cloud_dear",
    ]
    decision = router(infos).decide([r("unknown"), r("local_a")], profile, LocalFirstStrategy())
    assert names(decision) == ["local_a", "unknown"]


def test_latency_tolerance_is_checked() -> None:
    with pytest.raises(ConfigurationError, match=r"^tolerance: "):
        LatencyStrategy(-0.1)


def leaders(
    strategy: RoutingStrategy, routes: Sequence[Route], count: int, *, board: RouteStatsBoard | None = None
) -> list[str]:
    chooser = router(board=board)
    return [chooser.decide(routes, RequestProfile(), strategy).routes[0].model for _ in range(count)]


def test_smooth_round_robin_interleaves_by_weight() -> None:
    strategy = WeightedRoundRobinStrategy({r("a"): 5, r("b"): 1, r("c"): 1})
    assert leaders(strategy, [r("a"), r("b"), r("c")], 14) == list("aabacaa" * 2)


def test_round_robin_ranks_the_others_by_how_overdue_they_are() -> None:
    strategy = WeightedRoundRobinStrategy({r("a"): 1, r("b"): 3, r("c"): 2})
    decision = router().decide([r("a"), r("b"), r("c")], RequestProfile(), strategy)
    assert names(decision) == ["b", "c", "a"]


def test_round_robin_without_available_candidates_changes_nothing() -> None:
    strategy = WeightedRoundRobinStrategy()
    decision = router(down=[r("a"), r("b")]).decide([r("a"), r("b")], RequestProfile(), strategy)
    assert names(decision) == ["a", "b"]
    assert leaders(strategy, [r("a"), r("b")], 2) == ["a", "b"]


@pytest.mark.parametrize("weight", [0.0, -2.0, float("inf")])
def test_round_robin_weights_are_checked(weight: float) -> None:
    with pytest.raises(ConfigurationError, match=r"^weights\[p:a\]: "):
        WeightedRoundRobinStrategy({r("a"): weight})


@given(st.lists(st.integers(1, 8), min_size=1, max_size=6), st.integers(0, 3))
def test_smooth_round_robin_shares_match_weights_over_every_cycle(weights: list[int], cycles: int) -> None:
    routes = [r(str(i)) for i in range(len(weights))]
    strategy = WeightedRoundRobinStrategy(dict(zip(routes, map(float, weights), strict=True)))
    leaders(strategy, routes, cycles)  # start anywhere: every window of one cycle is exact
    counts = Counter(leaders(strategy, routes, sum(weights)))
    assert counts == {str(i): w for i, w in enumerate(weights)}


def busy(counts: Sequence[int]) -> RouteStatsBoard:
    board = RouteStatsBoard(FakeClock())
    for i, count in enumerate(counts):
        for _ in range(count):
            board.acquire(r(str(i)))
    return board


def test_least_in_flight_with_two_routes_picks_the_idler_one() -> None:
    board = busy([3, 1])
    for seed in range(20):
        decision = router(board=board, seed=seed).decide(
            [r("0"), r("1")], RequestProfile(), LeastInFlightStrategy()
        )
        assert names(decision) == ["1", "0"]


def test_least_in_flight_spreads_equal_load_instead_of_herding() -> None:
    routes = [r(str(i)) for i in range(4)]
    counts = Counter(leaders(LeastInFlightStrategy(), routes, 400, board=busy([0, 0, 0, 0])))
    assert set(counts) == {"0", "1", "2", "3"}
    assert min(counts.values()) > 60  # a quarter each, give or take


def test_least_in_flight_ranks_the_others_by_load() -> None:
    routes = [r(str(i)) for i in range(5)]
    loads = [4, 0, 3, 1, 2]
    decision = router(board=busy(loads)).decide(routes, RequestProfile(), LeastInFlightStrategy())
    rest = [loads[int(name)] for name in names(decision)[1:]]
    assert rest == sorted(rest)


def test_least_in_flight_with_one_candidate() -> None:
    assert leaders(LeastInFlightStrategy(), [r("only")], 1) == ["only"]


@given(st.lists(st.integers(0, 5), min_size=2, max_size=8), st.integers(0, 2**32))
def test_least_in_flight_never_leads_with_the_busier_of_its_samples(counts: list[int], seed: int) -> None:
    # The leader beat at least one other route, so it is never busier than every other one.
    routes = [r(str(i)) for i in range(len(counts))]
    decision = router(board=busy(counts), seed=seed).decide(routes, RequestProfile(), LeastInFlightStrategy())
    leader = int(decision.routes[0].model)
    assert any(counts[leader] <= c for i, c in enumerate(counts) if i != leader)


# --- properties over every strategy ----------------------------------------------------------------

STRATEGIES: list[Callable[[], RoutingStrategy]] = [
    PriorityStrategy,
    CostStrategy,
    QualityStrategy,
    LatencyStrategy,
    BalancedStrategy,
    LocalFirstStrategy,
    WeightedRoundRobinStrategy,
    LeastInFlightStrategy,
    lambda: LocalFirstStrategy(LatencyStrategy(0.5)),
    lambda: BalancedStrategy(BalancedWeights(1, 0, 2)),
]

infos_strategy = st.builds(
    model,
    st.just(""),
    price=st.none() | st.tuples(st.sampled_from(["0", "0.1", "2", "15"]), st.sampled_from(["0", "0.4", "8"])),
    caps=st.frozensets(st.sampled_from(sorted(ALL_CAPS))),
    window=st.none() | st.sampled_from([4_000, 32_000, 1_000_000]),
    max_output=st.none() | st.sampled_from([2_000, 16_000]),
    tier=st.none() | st.integers(1, 5),
    local=st.booleans(),
)


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[Route], dict[Route, ModelInfo | None], set[Route], RequestProfile]:
    count = draw(st.integers(0, 10))
    routes = [r(f"m{i}") for i in range(count)]
    facts = {route: draw(st.none() | infos_strategy) for route in routes}
    down = {route for route in routes if draw(st.booleans())}
    profile = RequestProfile(
        estimated_input_tokens=draw(st.integers(0, 40_000)),
        expected_output_tokens=draw(st.integers(0, 20_000)),
        capabilities=draw(st.frozensets(st.sampled_from(sorted(ALL_CAPS)), max_size=2)),
        stream=draw(st.booleans()),
        cached_input_tokens=draw(st.integers(0, 1_000)),
    )
    return routes, facts, down, profile


@given(scenarios(), st.sampled_from(STRATEGIES), st.lists(st.floats(0.01, 10.0), max_size=10), st.integers())
def test_every_decision_is_a_health_sorted_permutation_of_the_fit_candidates(
    scenario: tuple[list[Route], dict[Route, ModelInfo | None], set[Route], RequestProfile],
    make: Callable[[], RoutingStrategy],
    latencies: list[float],
    seed: int,
) -> None:
    routes, facts, down, profile = scenario
    board = RouteStatsBoard(FakeClock())
    for route, seconds in zip(routes, latencies, strict=False):  # routes past the latencies stay unobserved
        board.record_success(route, seconds, stream=profile.stream)
        board.acquire(route)
    chooser = Router(facts=facts.get, stats=board, available=lambda x: x not in down, rng=random.Random(seed))
    decision = chooser.decide(routes, profile, make())
    dropped = {d.route for d in decision.dropped}
    assert sorted(decision.routes, key=routes.index) == [x for x in routes if x not in dropped]
    assert all(facts[d.route] is not None for d in decision.dropped)
    available_flags = [route not in down for route in decision.routes]
    assert available_flags == sorted(available_flags, reverse=True)
    assert decision.unavailable == tuple(x for x in routes if x in down and x not in dropped)
    required = profile.capabilities | ({"streaming"} if profile.stream else set())
    for route in decision.routes:
        info = facts[route]
        if info is not None:
            assert not info.capabilities or required <= info.capabilities  # none listed: unknown
            assert info.context_window is None or info.context_window >= (
                profile.estimated_input_tokens + profile.expected_output_tokens
            )


@given(st.lists(st.floats(0.05, 30.0), min_size=2, max_size=8), st.integers())
def test_a_new_route_does_not_win_just_for_being_new(latencies: list[float], seed: int) -> None:
    board = observed({f"old{i}": seconds for i, seconds in enumerate(latencies)})
    # Listed first, so configured order would favour it on a tie.
    routes = [r("new")] + [r(f"old{i}") for i in range(len(latencies))]
    decision = router(board=board, seed=seed).decide(routes, RequestProfile(), LatencyStrategy(0.0))
    fastest = min(range(len(latencies)), key=latencies.__getitem__)
    prior = board.expected_latencies([r("new")], stream=False)[0]
    if latencies[fastest] < prior:
        assert decision.routes.index(r(f"old{fastest}")) < decision.routes.index(r("new"))
    # Nor is it starved: observed routes slower than the prior rank behind it.
    assert decision.routes[-1] != r("new") or max(latencies) <= prior


def test_expected_costs_stay_right_when_the_rate_cache_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    import otel_llm._routing as routing
    from otel_llm._routing import RoutingContext

    monkeypatch.setattr(routing, "_MAX_RATES", 1)
    cheap, dear = model("cheap", price=("1", "2")), model("dear", price=("3", "4"))
    profile = RequestProfile(estimated_input_tokens=1_000_000, expected_output_tokens=1_000_000)
    ctx = RoutingContext(profile, RouteStatsBoard(lambda: 0.0), random.Random(0))
    assert [ctx.expected_cost(info) for info in (cheap, dear, cheap)] == [3.0, 7.0, 3.0]
