"""Named chains: presets, user configuration (mapping or YAML), validation paths, built strategies."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from otel_llm._chains import ChainConfig, build_strategy, load_chains, parse_chains
from otel_llm._cost import ModelPrice
from otel_llm._exceptions import ConfigurationError
from otel_llm._registry import ModelInfo
from otel_llm._route_stats import RouteStatsBoard
from otel_llm._routing import RequestProfile, Router, RoutingStrategy
from otel_llm._types import Route
from tests.conftest import FakeClock

PRESETS = {
    "high_quality": "quality",
    "cost_optimized": "cost",
    "fast_latency": "latency",
    "local_only": "priority",
    "code_generation": "priority",
    "long_context": "cost",
    "balanced": "balanced",
    "analysis": "quality",
    "simple_tasks": "cost",
}
# The models the registry is guaranteed to describe.
KNOWN_MODELS = {
    "openai": {"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o4-mini"},
    "anthropic": {"claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5"},
    "gemini": {"gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.0-flash"},
    "mistral": {"mistral-large-latest", "mistral-small-latest", "codestral-latest"},
    "deepseek": {"deepseek-v4-flash", "deepseek-v4-pro"},
    "ollama": {"llama3.2", "qwen2.5-coder"},
}


def chain(**body: object) -> dict[str, object]:
    return {"chains": {"x": {"routes": ["p:a", "p:b"], **body}}}


def leaders(
    strategy: RoutingStrategy, routes: tuple[Route, ...], count: int, **facts: ModelInfo
) -> list[str]:
    known = {Route("p", name): info for name, info in facts.items()}
    router = Router(
        facts=known.get, stats=RouteStatsBoard(FakeClock()), available=lambda _: True, rng=random.Random(1)
    )
    profile = RequestProfile(estimated_input_tokens=1_000, expected_output_tokens=1_000)
    return [router.decide(routes, profile, strategy).routes[0].model for _ in range(count)]


def priced(name: str, price: str, *, local: bool = False) -> ModelInfo:
    return ModelInfo("p", name, local=local, price=ModelPrice(Decimal(price), Decimal(price)))


# --- presets ---------------------------------------------------------------------------------------


def test_the_nine_presets_ship_with_their_strategies() -> None:
    chains = load_chains()
    assert {name: config.strategy for name, config in chains.items()} == PRESETS
    for name, config in chains.items():
        assert config.name == name
        assert build_strategy(config).name == config.strategy


def test_presets_only_use_models_the_registry_describes() -> None:
    for config in load_chains().values():
        assert len(config.routes) >= 2
        for route in config.routes:
            assert route.model in KNOWN_MODELS.get(route.provider, set()), f"{config.name}: {route}"


def test_only_the_local_preset_and_last_resorts_use_local_models() -> None:
    # Cost strategies try free local models first: a preset must not fail on machines without Ollama.
    for config in load_chains().values():
        local = [route for route in config.routes if route.provider == "ollama"]
        if config.name != "local_only":
            assert config.strategy == "priority" or not local, config.name
            assert not local or config.routes[-1] == local[0], config.name


# --- user chains -----------------------------------------------------------------------------------


def test_a_user_mapping_adds_chains_and_replaces_presets_whole() -> None:
    chains = load_chains(
        {
            "chains": {
                "cost_optimized": {"routes": ["openai:gpt-4o-mini"]},
                "mine": {"strategy": "latency", "routes": ["openai:gpt-4.1-mini", "gemini:gemini-2.5-flash"]},
            }
        }
    )
    assert set(chains) == set(PRESETS) | {"mine"}
    assert chains["cost_optimized"] == ChainConfig("cost_optimized", (Route("openai", "gpt-4o-mini"),))
    assert chains["mine"].routes == (Route("openai", "gpt-4.1-mini"), Route("gemini", "gemini-2.5-flash"))


def test_a_yaml_file_is_read_with_options_beside_the_strategy(tmp_path: Path) -> None:
    path = tmp_path / "chains.yaml"
    path.write_text(
        "registry: {}\n"  # other sections belong to other readers
        "chains:\n"
        "  rotate:\n"
        "    strategy: weighted_round_robin\n"
        "    routes: [p:a, 'p:b']\n"
        "    weights: {'p:a': 3}\n"
    )
    config = load_chains(path)["rotate"]
    assert config.options == {"weights": {"p:a": 3}}
    assert Counter(leaders(build_strategy(config), config.routes, 8)) == {"a": 6, "b": 2}
    assert load_chains(str(path))["rotate"] == config


def test_an_empty_file_or_a_mapping_without_chains_adds_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n")
    assert load_chains(path) == load_chains() == load_chains({"registry": {}})
    assert parse_chains({}) == {}


def test_unreadable_or_malformed_files_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigurationError, match=r"missing\.yaml: cannot read the chains file"):
        load_chains(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("chains: [unclosed\n")
    with pytest.raises(ConfigurationError, match=r"broken\.yaml: invalid YAML"):
        load_chains(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(
        ConfigurationError, match=r"list\.yaml: expected a mapping at the top level, got list"
    ):
        load_chains(listed)


def test_yaml_is_imported_only_when_chains_are_loaded() -> None:
    code = "import sys, otel_llm._chains; print('yaml' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        ({"chains": ["x"]}, "chains", "expected a mapping of names to chains, got list"),
        ({"chains": {"": {"routes": ["p:a"]}}}, "chains", "chain names must be non-empty strings"),
        ({"chains": {1: {"routes": ["p:a"]}}}, "chains", "chain names must be non-empty strings, got 1"),
        ({"chains": {"x": ["p:a"]}}, "chains.x", "expected a mapping with `routes`, got list"),
        ({"chains": {"x": {"strategy": "cost"}}}, "chains.x.routes", "expected a non-empty list"),
        ({"chains": {"x": {"routes": []}}}, "chains.x.routes", "expected a non-empty list"),
        ({"chains": {"x": {"routes": "p:a"}}}, "chains.x.routes", "expected a non-empty list"),
        ({"chains": {"x": {"routes": ["p:a", "p:b", "nocolon"]}}}, "chains.x.routes[2]", "provider:model"),
        ({"chains": {"x": {"routes": ["p:a", 7]}}}, "chains.x.routes[1]", "got int"),
        ({"chains": {"x": {"routes": ["p:a", "p:a"]}}}, "chains.x.routes[1]", "p:a is listed twice"),
        (chain(strategy=3), "chains.x.strategy", "expected a strategy name, got int"),
        (
            chain(strategy="fastest"),
            "chains.x.strategy",
            "unknown strategy 'fastest'; expected one of balanced",
        ),
        (chain(strategy="cost", tolerance=0.1), "chains.x.tolerance", "not an option of the 'cost' strategy"),
        (chain(stratgy="cost"), "chains.x.stratgy", "not an option of the 'priority' strategy"),
        (chain(strategy="latency", tolerance=-1), "chains.x.tolerance", "must be a non-negative number"),
        (chain(strategy="latency", tolerance=True), "chains.x.tolerance", "must be a non-negative number"),
        (chain(strategy="latency", tolerance="0.1"), "chains.x.tolerance", "must be a non-negative number"),
        (chain(strategy="latency", tolerance=float("inf")), "chains.x.tolerance", "non-negative number"),
        (chain(strategy="balanced", weights=[1, 2]), "chains.x.weights", "expected a mapping, got list"),
        (
            chain(strategy="balanced", weights={"speed": 1}),
            "chains.x.weights.speed",
            "expected cost, latency",
        ),
        (chain(strategy="balanced", weights={"cost": -1}), "chains.x.weights.cost", "non-negative number"),
        (
            chain(strategy="balanced", weights={"cost": 0, "latency": 0, "quality": 0}),
            "chains.x.weights",
            "at least one weight must be positive",
        ),
        (chain(strategy="weighted_round_robin", weights={"a": 1}), "chains.x.weights[a]", "provider:model"),
        (
            chain(strategy="weighted_round_robin", weights={"p:zzz": 1}),
            "chains.x.weights[p:zzz]",
            "not one of the chain's routes",
        ),
        (
            chain(strategy="weighted_round_robin", weights={"p:a": 0}),
            "chains.x.weights[p:a]",
            "positive number",
        ),
        (chain(strategy="local_first", inner=5), "chains.x.inner", "expected the name of another strategy"),
        (chain(strategy="local_first", inner="local_first"), "chains.x.inner", "another strategy"),
        (chain(strategy="local_first", inner="nope"), "chains.x.inner", "unknown strategy 'nope'"),
        (
            chain(strategy="local_first", inner="cost", tolerance=1),
            "chains.x.tolerance",
            "the 'cost' strategy",
        ),
        (chain(strategy="local_first", speed=1), "chains.x.speed", "not an option of the 'local_first'"),
    ],
)
def test_invalid_values_name_their_full_path(data: dict[str, object], field: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_chains(data)
    assert caught.value.field == field
    assert problem in str(caught.value)


def test_a_hand_built_config_is_checked_when_its_strategy_is_built() -> None:
    with pytest.raises(ConfigurationError, match=r"^chains\.mine\.strategy: unknown strategy"):
        build_strategy(ChainConfig("mine", (Route("p", "a"),), "magic"))


# --- built strategies ------------------------------------------------------------------------------


def build(**body: object) -> tuple[RoutingStrategy, tuple[Route, ...]]:
    config = parse_chains(chain(**body))["x"]
    return build_strategy(config), config.routes


def test_each_build_has_its_own_rotation() -> None:
    config = parse_chains(chain(strategy="weighted_round_robin", weights={"p:b": 2}))["x"]
    first, second = build_strategy(config), build_strategy(config)
    assert leaders(first, config.routes, 3) == ["b", "a", "b"]
    assert leaders(second, config.routes, 1) == ["b"]


def test_balanced_weights_and_latency_tolerance_take_effect() -> None:
    strategy, routes = build(strategy="balanced", weights={"cost": 1, "latency": 0, "quality": 0})
    assert leaders(strategy, routes, 1, a=priced("a", "9"), b=priced("b", "1")) == ["b"]
    strategy, routes = build(strategy="latency", tolerance=0)
    assert strategy.name == "latency"
    assert leaders(strategy, routes, 3) == ["a", "a", "a"]  # equal priors, no band: configured order


def test_local_first_applies_its_inner_strategy_and_options() -> None:
    strategy, routes = build(strategy="local_first", inner="cost")
    facts = {"a": priced("a", "9", local=True), "b": priced("b", "1")}
    assert (strategy.name, leaders(strategy, routes, 1, **facts)) == ("local_first", ["a"])
    strategy, routes = build(strategy="local_first", inner="latency", tolerance=0.5)
    assert strategy.name == "local_first"
    assert leaders(strategy, routes, 1, **facts) == ["a"]


@pytest.mark.parametrize(
    "name",
    [
        "priority",
        "cost",
        "quality",
        "least_in_flight",
        "latency",
        "balanced",
        "weighted_round_robin",
        "local_first",
    ],
)
def test_every_strategy_builds_with_default_options(name: str) -> None:
    strategy, routes = build(strategy=name)
    router = Router(
        facts=lambda _: None,
        stats=RouteStatsBoard(FakeClock()),
        available=lambda _: True,
        rng=random.Random(),
    )
    decision = router.decide(routes, RequestProfile(), strategy)
    assert (decision.strategy, set(decision.routes)) == (name, set(routes))
