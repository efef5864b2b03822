"""Named chains: a routing strategy over candidate routes, from bundled presets and user configuration.

```yaml
chains:
  fast:
    strategy: latency            # default: priority
    routes: [openai:gpt-4.1-mini, gemini:gemini-2.5-flash, anthropic:claude-haiku-4-5]
    tolerance: 0.2               # the strategy's options sit beside it
```

Options per strategy: `latency` takes `tolerance`; `balanced` takes `weights` (`cost`, `latency`,
`quality`); `weighted_round_robin` takes `weights` per route (unlisted routes weigh 1); `local_first`
takes `inner` (another strategy's name) and that strategy's options. Nine presets ship in
`otel_llm/data/chains.yaml`; a user chain of the same name replaces a preset whole. Every invalid value
raises `ConfigurationError` naming its full path (`chains.fast.routes[2]`), when the chains are loaded
rather than at the first call. YAML is imported only when a file is read.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from otel_llm._config import parse_route
from otel_llm._exceptions import ConfigurationError
from otel_llm._routing import (
    BalancedStrategy,
    BalancedWeights,
    CostStrategy,
    LatencyStrategy,
    LeastInFlightStrategy,
    LocalFirstStrategy,
    PriorityStrategy,
    QualityStrategy,
    RoutingStrategy,
    WeightedRoundRobinStrategy,
)
from otel_llm._types import Route

_PRESETS = "chains.yaml"
_CHAIN_KEYS = frozenset({"strategy", "routes"})


@dataclass(frozen=True, slots=True)
class ChainConfig:
    """A named chain: candidate routes and how to order them per call.

    Attributes:
        name: The chain's name.
        routes: Candidate routes in configured order.
        strategy: Name of the routing strategy.
        options: The strategy's options as configured (`tolerance`, `weights`, `inner`).
    """

    name: str
    routes: tuple[Route, ...]
    strategy: str = "priority"
    options: Mapping[str, object] = field(default_factory=dict)


def load_chains(
    source: str | os.PathLike[str] | Mapping[str, object] | None = None,
) -> dict[str, ChainConfig]:
    """The preset chains merged with the user's.

    Args:
        source: A YAML file's path or an already parsed mapping, of the shape
            `{"chains": {name: {"strategy": ..., "routes": [...], ...options}}}`; other top-level keys
            are left to their owners. `None` loads the presets alone.

    Returns:
        Chains by name; a user chain replaces the preset of the same name.

    Raises:
        ConfigurationError: The file cannot be read or parsed, or a value is invalid.

    Example:
        >>> chains = load_chains("chains.yaml")
        >>> strategy = build_strategy(chains["cost_optimized"])
    """
    text = resources.files("otel_llm.data").joinpath(_PRESETS).read_text(encoding="utf-8")
    chains = parse_chains(_yaml_mapping(text, f"otel_llm/data/{_PRESETS}"))
    if source is not None:
        chains.update(parse_chains(source if isinstance(source, Mapping) else _read_file(source)))
    return chains


def parse_chains(data: Mapping[str, object]) -> dict[str, ChainConfig]:
    """The chains of a configuration mapping; a mapping without `chains` has none.

    Args:
        data: `{"chains": {name: {"strategy": ..., "routes": [...], ...options}}}`.

    Returns:
        Chains by name, in configured order.

    Raises:
        ConfigurationError: A value is invalid; the error names its path.
    """
    chains = data.get("chains", {})
    if not isinstance(chains, Mapping):
        raise ConfigurationError(
            "chains", f"expected a mapping of names to chains, got {type(chains).__name__}"
        )
    result: dict[str, ChainConfig] = {}
    for name, raw in chains.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError("chains", f"chain names must be non-empty strings, got {name!r}")
        result[name] = _parse_chain(name, raw)
    return result


def build_strategy(config: ChainConfig) -> RoutingStrategy:
    """A new strategy object for `config`.

    Weighted round robin keeps its rotation in the object: build one per client and reuse it.

    Args:
        config: The chain.

    Returns:
        The strategy, its options applied.

    Raises:
        ConfigurationError: The strategy is unknown or an option is invalid.
    """
    path = f"chains.{config.name}"
    return _build(config.strategy, config.options, f"{path}.strategy", path, config.routes)


def _read_file(path: str | os.PathLike[str]) -> Mapping[str, object]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(os.fspath(path), f"cannot read the chains file: {exc}") from exc
    return _yaml_mapping(text, os.fspath(path))


def _yaml_mapping(text: str, origin: str) -> Mapping[str, object]:
    import yaml  # only configuration files need it

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(origin, f"invalid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(origin, f"expected a mapping at the top level, got {type(data).__name__}")
    return data


def _parse_chain(name: str, raw: object) -> ChainConfig:
    path = f"chains.{name}"
    if not isinstance(raw, Mapping):
        raise ConfigurationError(path, f"expected a mapping with `routes`, got {type(raw).__name__}")
    strategy = raw.get("strategy", "priority")
    if not isinstance(strategy, str):
        raise ConfigurationError(
            f"{path}.strategy", f"expected a strategy name, got {type(strategy).__name__}"
        )
    items = raw.get("routes")
    if not isinstance(items, (list, tuple)) or not items:
        raise ConfigurationError(f"{path}.routes", 'expected a non-empty list of "provider:model"')
    routes: list[Route] = []
    for i, item in enumerate(items):
        route = parse_route(item, f"{path}.routes[{i}]")
        if route in routes:
            raise ConfigurationError(f"{path}.routes[{i}]", f"{route} is listed twice")
        routes.append(route)
    options = {str(key): value for key, value in raw.items() if key not in _CHAIN_KEYS}
    config = ChainConfig(name, tuple(routes), strategy, options)
    build_strategy(config)  # so that a bad option fails at load time, not at the first call
    return config


_Builder = Callable[[Mapping[str, object], str, tuple[Route, ...]], RoutingStrategy]


@dataclass(frozen=True, slots=True)
class _Spec:
    options: frozenset[str]
    build: _Builder


def _build(
    strategy: str, options: Mapping[str, object], name_field: str, path: str, routes: tuple[Route, ...]
) -> RoutingStrategy:
    spec = _SPECS.get(strategy)
    if spec is None:
        known = ", ".join(sorted(_SPECS))
        raise ConfigurationError(name_field, f"unknown strategy {strategy!r}; expected one of {known}")
    for key in options:
        if key not in spec.options:
            raise ConfigurationError(f"{path}.{key}", f"not an option of the {strategy!r} strategy")
    return spec.build(options, path, routes)


def _number(value: object, field: str, *, positive: bool) -> float:
    """A finite number: positive, or else non-negative (a bool is not a number here)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
        or (positive and value == 0)
    ):
        raise ConfigurationError(field, f"must be a {'positive' if positive else 'non-negative'} number")
    return float(value)


def _mapping(value: object, field: str) -> Mapping[object, object]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(field, f"expected a mapping, got {type(value).__name__}")
    return value


def _latency(options: Mapping[str, object], path: str, routes: tuple[Route, ...]) -> RoutingStrategy:
    if "tolerance" not in options:
        return LatencyStrategy()
    return LatencyStrategy(_number(options["tolerance"], f"{path}.tolerance", positive=False))


def _balanced(options: Mapping[str, object], path: str, routes: tuple[Route, ...]) -> RoutingStrategy:
    if "weights" not in options:
        return BalancedStrategy()
    weights: dict[str, float] = {}
    for key, value in _mapping(options["weights"], f"{path}.weights").items():
        field = f"{path}.weights.{key}"
        if key not in ("cost", "latency", "quality"):
            raise ConfigurationError(field, "expected cost, latency or quality")
        weights[str(key)] = _number(value, field, positive=False)
    try:
        return BalancedStrategy(BalancedWeights(**weights))
    except ConfigurationError as exc:  # each weight passed above: all of them are zero
        raise ConfigurationError(f"{path}.weights", "at least one weight must be positive") from exc


def _round_robin(options: Mapping[str, object], path: str, routes: tuple[Route, ...]) -> RoutingStrategy:
    weights: dict[Route, float] = {}
    for key, value in _mapping(options.get("weights", {}), f"{path}.weights").items():
        field = f"{path}.weights[{key}]"
        route = parse_route(key, field)
        if route not in routes:
            raise ConfigurationError(field, "not one of the chain's routes")
        weights[route] = _number(value, field, positive=True)
    return WeightedRoundRobinStrategy(weights)


def _local_first(options: Mapping[str, object], path: str, routes: tuple[Route, ...]) -> RoutingStrategy:
    inner = options.get("inner", "priority")
    if not isinstance(inner, str) or inner == "local_first":
        raise ConfigurationError(f"{path}.inner", "expected the name of another strategy")
    rest = {key: value for key, value in options.items() if key != "inner"}
    return LocalFirstStrategy(_build(inner, rest, f"{path}.inner", path, routes))


def _plain(strategy: Callable[[], RoutingStrategy]) -> _Spec:
    return _Spec(frozenset(), lambda options, path, routes: strategy())


_INNER_SPECS: dict[str, _Spec] = {
    "priority": _plain(PriorityStrategy),
    "cost": _plain(CostStrategy),
    "quality": _plain(QualityStrategy),
    "least_in_flight": _plain(LeastInFlightStrategy),
    "latency": _Spec(frozenset({"tolerance"}), _latency),
    "balanced": _Spec(frozenset({"weights"}), _balanced),
    "weighted_round_robin": _Spec(frozenset({"weights"}), _round_robin),
}
_SPECS: Mapping[str, _Spec] = MappingProxyType(
    {
        **_INNER_SPECS,
        # Takes its inner strategy's options too; the inner strategy checks them.
        "local_first": _Spec(
            frozenset({"inner"}).union(*(spec.options for spec in _INNER_SPECS.values())), _local_first
        ),
    }
)
