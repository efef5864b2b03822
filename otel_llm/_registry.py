"""The model registry: what each model can do, how good and fast it is, and what it costs.

The bundled snapshot (`otel_llm/data/models.json`) is read on the first query, never at import or
construction, and never from the network. Overrides (a mapping or a YAML file) patch its entries field by
field or add models; `data=` replaces it.

Example:
    >>> registry = ModelRegistry(overrides={"models": {"openai:gpt-4o-mini": {"latency_tier": 2}}})
    >>> registry.price("openai", "gpt-4o-mini").input
    Decimal('0.15')
    >>> registry.recommend(capabilities=("tools",), local=False, input_tokens=3_000, output_tokens=500).model
    'gemini-2.5-flash-lite'
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Final, Literal

from otel_llm._cost import ModelPrice, PriceTier, cost_usd
from otel_llm._exceptions import ConfigurationError
from otel_llm._types import Usage

logger = logging.getLogger("otel_llm")

Capability = str
"""A model capability: "tools", "vision", "json_schema", "streaming", "embeddings", "reasoning"."""

CAPABILITIES: Final = frozenset({"tools", "vision", "json_schema", "streaming", "embeddings", "reasoning"})
"""Every capability the registry knows."""

Preference = Literal["cost", "quality", "latency"]
"""What `ModelRegistry.recommend` optimises first."""

SCHEMA_VERSION: Final = 2
"""Version of the snapshot format this module reads."""

_RESOURCE: Final = "models.json"
_WILDCARD: Final = "*"
_TOP_LEVEL: Final = frozenset(
    {"schema_version", "snapshot_date", "currency", "unit", "notes", "sources", "models"}
)
_ENTRY_FIELDS: Final = frozenset(
    {
        "context_window",
        "max_output",
        "capabilities",
        "quality_tier",
        "latency_tier",
        "local",
        "retired",
        "price",
        "source_url",
        "note",
    }
)
_PRICE_FIELDS: Final = frozenset({"input", "output", "cache_read", "cache_write", "reasoning", "tiers"})
_TIER_FIELDS: Final = frozenset(
    {"above_input_tokens", "input", "output", "cache_read", "cache_write", "reasoning"}
)
# Ranking criteria per preference, most important first; provider and model id break the last ties.
_CRITERIA: Final[Mapping[str, tuple[str, str, str]]] = {
    "cost": ("cost", "quality", "latency"),
    "quality": ("quality", "cost", "latency"),
    "latency": ("latency", "cost", "quality"),
}


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model at one provider.

    Attributes:
        provider: Provider key (`"openai"`, `"anthropic"`, ...).
        model: Model id as sent on the wire.
        context_window: Input plus output tokens the model accepts; `None` when unknown.
        max_output: Most tokens it generates in one reply; `None` when unknown.
        capabilities: What it supports (see `Capability`).
        quality_tier: 1 (basic) to 5 (frontier); `None` when unrated.
        latency_tier: 1 (fastest) to 5 (slowest); `None` when unrated.
        local: Runs on the caller's own hardware (Ollama): no per-token price, no data leaves.
        price: Its prices; `None` when unknown (calls then record no cost).
        retired: The provider no longer serves it; kept to price past calls, skipped by recommendations.
        source_url: Where its data was checked.
    """

    provider: str
    model: str
    context_window: int | None = None
    max_output: int | None = None
    capabilities: frozenset[Capability] = frozenset()
    quality_tier: int | None = None
    latency_tier: int | None = None
    local: bool = False
    price: ModelPrice | None = None
    retired: bool = False
    source_url: str | None = None


@dataclass(frozen=True, slots=True)
class _Table:
    exact: Mapping[tuple[str, str], ModelInfo]
    listed: tuple[ModelInfo, ...]  # concrete models (no wildcards), sorted by provider and model id
    snapshot_date: datetime.date | None
    snapshot_id: str


class ModelRegistry:
    """Models keyed by (provider key, model id): capabilities, tiers, limits and prices.

    Loaded on the first query from the bundled snapshot (or `data`), patched by `overrides`; thread-safe.
    A model id `"*"` describes every other model of its provider (local Ollama models cost nothing).

    Args:
        data: A whole snapshot replacing the bundled one (`{"snapshot_date": ..., "models": {...}}`).
        overrides: A mapping, or the path of a YAML file, shaped `{"models": {"provider:model": {...}}}`:
            each entry patches the fields of a known model (`price` field by field) or adds a model,
            starting from its provider's `"*"` entry if there is one.
        stale_after_days: Age in days beyond which the snapshot is stale: loading it logs one warning.
        today: Today's date, injectable for tests.

    Raises:
        ConfigurationError: `stale_after_days` is negative. Invalid data raises it at the first query
            (or `load()`), naming the field, e.g. `models.openai:gpt-x.price.input`.

    Example:
        >>> registry = ModelRegistry(overrides="models.yaml")
        >>> registry.cheapest(capabilities=("vision",), input_tokens=20_000, output_tokens=1_000)
    """

    def __init__(
        self,
        *,
        data: Mapping[str, object] | None = None,
        overrides: Mapping[str, object] | str | os.PathLike[str] | None = None,
        stale_after_days: int = 120,
        today: Callable[[], datetime.date] = datetime.date.today,
    ) -> None:
        _int(stale_after_days, "stale_after_days", 0)
        self._data = data
        self._overrides = overrides
        self._stale_after_days = stale_after_days
        self._today = today
        self._table: _Table | None = None
        self._lock = threading.Lock()

    # --- snapshot --------------------------------------------------------------------------------

    def load(self) -> None:
        """Read and validate the snapshot and overrides now (at start-up) rather than at the first query.

        Raises:
            ConfigurationError: The data is invalid; `.field` names the offending value.
        """
        self._loaded()

    @property
    def snapshot_date(self) -> datetime.date | None:
        """Date of the snapshot; `None` when a custom snapshot has none."""
        return self._loaded().snapshot_date

    @property
    def snapshot_id(self) -> str:
        """Short content hash of the effective data (snapshot plus overrides), for spans and logs."""
        return self._loaded().snapshot_id

    @property
    def age_days(self) -> int | None:
        """Days from the snapshot date to today; `None` when the snapshot has no date."""
        snapshot_date = self._loaded().snapshot_date
        return None if snapshot_date is None else (self._today() - snapshot_date).days

    # --- lookups ---------------------------------------------------------------------------------

    def get(self, provider: str, model: str) -> ModelInfo | None:
        """What the registry knows about `model` at `provider`.

        Args:
            provider: Provider key.
            model: Model id as sent on the wire.

        Returns:
            The model's entry, its provider's `"*"` entry under the asked id, or `None` if unknown.
        """
        exact = self._loaded().exact
        info = exact.get((provider, model))
        if info is not None:
            return info
        wildcard = exact.get((provider, _WILDCARD))
        return None if wildcard is None else dataclasses.replace(wildcard, model=model)

    def price(self, provider: str, model: str) -> ModelPrice | None:
        """The price of `model` at `provider`.

        Args:
            provider: Provider key.
            model: Model id as sent on the wire.

        Returns:
            Its prices (its provider's `"*"` entry's if it has none), or `None` if unknown: a call then
            records no cost, never a silent 0.
        """
        exact = self._loaded().exact
        info = exact.get((provider, model)) or exact.get((provider, _WILDCARD))
        return None if info is None else info.price

    def call_cost_usd(self, provider: str, model: str, usage: Usage) -> Decimal | None:
        """What a finished call cost: the provider's billed amount, else `usage` at the model's prices.

        The billed amount (OpenRouter reports one) beats any list price; prices include tiers.

        Returns:
            US dollars, or `None` when neither a billed amount nor a price and the token counts are known.
        """
        if usage.billed_cost_usd is not None:
            return usage.billed_cost_usd  # what the provider billed beats any list price
        price = self.price(provider, model)
        return None if price is None else cost_usd(usage, price)

    def expected_cost_usd(
        self,
        provider: str,
        model: str,
        *,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int = 0,
    ) -> Decimal | None:
        """Expected cost of one call with this token mix, long-context tiers included.

        Args:
            provider: Provider key.
            model: Model id.
            input_tokens: Input tokens, cached ones included.
            output_tokens: Output tokens, reasoning included.
            cached_input_tokens: Part of the input expected from the prompt cache.

        Returns:
            US dollars, or `None` when the model has no known price.

        Raises:
            ConfigurationError: A token count is negative, or more input is cached than sent.
        """
        usage = _usage(input_tokens, output_tokens, cached_input_tokens)
        price = self.price(provider, model)
        return None if price is None else cost_usd(usage, price)

    # --- queries ---------------------------------------------------------------------------------

    def models(
        self,
        *,
        provider: str | Collection[str] | None = None,
        capabilities: Iterable[Capability] = (),
        min_context: int | None = None,
        local: bool | None = None,
        include_retired: bool = False,
    ) -> tuple[ModelInfo, ...]:
        """Known models matching every filter, sorted by provider and model id (`"*"` entries excluded).

        Args:
            provider: Only the models of this provider key, or of these.
            capabilities: Only models with all of these.
            min_context: Only models whose known context window holds this many tokens.
            local: Only local (`True`) or only hosted (`False`) models.
            include_retired: Also models the provider no longer serves.

        Returns:
            The matching models.

        Raises:
            ConfigurationError: An unknown capability, or a negative `min_context`.
        """
        providers = (
            None if provider is None else frozenset([provider] if isinstance(provider, str) else provider)
        )
        wanted = _capabilities(capabilities)
        floor = None if min_context is None else _int(min_context, "min_context", 0)
        return tuple(
            info
            for info in self._loaded().listed
            if (providers is None or info.provider in providers)
            and wanted <= info.capabilities
            and (floor is None or (info.context_window is not None and info.context_window >= floor))
            and (local is None or info.local is local)
            and (include_retired or not info.retired)
        )

    def cheapest(
        self,
        *,
        provider: str | Collection[str] | None = None,
        capabilities: Iterable[Capability] = (),
        min_context: int | None = None,
        local: bool | None = None,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int = 0,
    ) -> ModelInfo | None:
        """The model with the lowest expected cost for this token mix (not the lowest list price).

        Unpriced models never win; local models cost nothing (pass `local=False` for hosted ones).
        Arguments are those of `recommend`.
        """
        return self.recommend(
            provider=provider,
            capabilities=capabilities,
            min_context=min_context,
            local=local,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_input_tokens=cached_input_tokens,
            prefer="cost",
        )

    def fastest(
        self,
        *,
        provider: str | Collection[str] | None = None,
        capabilities: Iterable[Capability] = (),
        min_context: int | None = None,
        local: bool | None = None,
    ) -> ModelInfo | None:
        """The model with the lowest latency tier; unrated models never win. Filters as in `models`."""
        return self.recommend(
            provider=provider,
            capabilities=capabilities,
            min_context=min_context,
            local=local,
            input_tokens=0,
            output_tokens=0,
            prefer="latency",
        )

    def best(
        self,
        *,
        provider: str | Collection[str] | None = None,
        capabilities: Iterable[Capability] = (),
        min_context: int | None = None,
        local: bool | None = None,
    ) -> ModelInfo | None:
        """The model with the highest quality tier; unrated models never win. Filters as in `models`."""
        return self.recommend(
            provider=provider,
            capabilities=capabilities,
            min_context=min_context,
            local=local,
            input_tokens=0,
            output_tokens=0,
            prefer="quality",
        )

    def recommend(
        self,
        *,
        capabilities: Iterable[Capability] = (),
        min_context: int | None = None,
        min_quality: int | None = None,
        max_cost_usd: Decimal | None = None,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int = 0,
        prefer: Preference = "cost",
        provider: str | Collection[str] | None = None,
        local: bool | None = None,
    ) -> ModelInfo | None:
        """The best model for a call: filtered by needs, then ranked by `prefer` and the other criteria.

        Retired models, models whose known context window cannot hold the call, and models lacking a
        value for the preferred criterion (price, quality or latency tier) are skipped. Embedding models
        are chosen only when `"embeddings"` is asked for. Ties go to the next criteria (cost, quality,
        latency), then to provider and model id.

        Args:
            capabilities: Everything the model must support.
            min_context: Context window the model must have.
            min_quality: Lowest acceptable quality tier.
            max_cost_usd: Highest acceptable expected cost of the call; unpriced models then never match.
            input_tokens: Expected input tokens, cached ones included.
            output_tokens: Expected output tokens (e.g. `max_tokens`, or observed per route).
            cached_input_tokens: Part of the input expected from the prompt cache.
            prefer: `"cost"` (expected cost for this token mix), `"quality"` or `"latency"`.
            provider: Only the models of this provider key, or of these.
            local: Only local (`True`) or only hosted (`False`) models.

        Returns:
            The chosen model, or `None` if none fits.

        Raises:
            ConfigurationError: An unknown capability or preference, or a negative count.
        """
        if prefer not in _CRITERIA:
            raise ConfigurationError("prefer", f"expected one of {sorted(_CRITERIA)}, got {prefer!r}")
        usage = _usage(input_tokens, output_tokens, cached_input_tokens)
        wanted = _capabilities(capabilities)
        quality_floor = None if min_quality is None else _int(min_quality, "min_quality", 1, 5)
        ranked: list[tuple[tuple[tuple[bool, Decimal], ...], ModelInfo]] = []
        for info in self.models(provider=provider, capabilities=wanted, min_context=min_context, local=local):
            cost = None if info.price is None else cost_usd(usage, info.price)
            rank = _rank(prefer, info, cost)
            preferred_known = not rank[0][0]  # so unpriced models are never the cheapest
            if (
                preferred_known
                and ("embeddings" in info.capabilities) is ("embeddings" in wanted)
                and (info.context_window is None or info.context_window >= input_tokens + output_tokens)
                and (quality_floor is None or (info.quality_tier or 0) >= quality_floor)
                and (max_cost_usd is None or (cost is not None and cost <= max_cost_usd))
            ):
                ranked.append((rank, info))
        # `min` keeps the first of equals, and models come sorted by provider and model id.
        return min(ranked, key=lambda pair: pair[0])[1] if ranked else None

    # --- loading ---------------------------------------------------------------------------------

    def _loaded(self) -> _Table:
        table = self._table
        if table is None:
            with self._lock:
                table = self._table
                if table is None:
                    table = self._table = self._load()
        return table

    def _load(self) -> _Table:
        raw = self._data if self._data is not None else _read_bundled()
        if not isinstance(raw, Mapping):
            raise ConfigurationError("snapshot", "expected a mapping")
        models = raw.get("models")
        if not isinstance(models, Mapping):
            raise ConfigurationError("models", "expected a mapping of 'provider:model' keys")
        if self._overrides is not None:
            models = _merge(models, _read_overrides(self._overrides))
        table = _parse(raw, models)
        age = None if table.snapshot_date is None else (self._today() - table.snapshot_date).days
        if age is not None and age > self._stale_after_days:
            logger.warning(
                "otel_llm model registry: snapshot %s is %d days old (stale after %d); prices may be out "
                "of date: upgrade otel-llm or pass overrides",
                table.snapshot_date,
                age,
                self._stale_after_days,
            )
        return table


# --- reading and merging -------------------------------------------------------------------------


def _read_bundled() -> object:
    text = resources.files("otel_llm.data").joinpath(_RESOURCE).read_text(encoding="utf-8")
    loaded: object = json.loads(text)
    return loaded


def _read_overrides(overrides: Mapping[str, object] | str | os.PathLike[str]) -> object:
    if not isinstance(overrides, str | os.PathLike):
        return overrides  # a mapping, whose shape `_merge` checks
    import yaml  # deferred: only override files need it

    try:
        with open(overrides, encoding="utf-8") as file:
            loaded: object = yaml.safe_load(file)
    except OSError as exc:
        raise ConfigurationError("overrides", f"cannot read {os.fspath(overrides)!r}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError("overrides", f"{os.fspath(overrides)!r} is not valid YAML: {exc}") from exc
    return loaded


def _merge(models: Mapping[object, object], overrides: object) -> dict[object, object]:
    """Bundled entries patched field by field (`price` too); new keys start from their provider's `*`."""
    if not isinstance(overrides, Mapping) or set(overrides) - {"models"}:
        raise ConfigurationError("overrides", "expected a mapping with one key, 'models'")
    patches = overrides.get("models", {})
    if not isinstance(patches, Mapping):
        raise ConfigurationError("models", "expected a mapping of 'provider:model' keys")
    merged = dict(models)
    for key, patch in patches.items():
        if not isinstance(patch, Mapping):
            raise ConfigurationError(f"models.{key}", "expected a mapping of fields")
        wildcard = f"{str(key).partition(':')[0]}:{_WILDCARD}"
        base = merged[key] if key in merged else merged.get(wildcard)
        entry: dict[object, object] = dict(base) if isinstance(base, Mapping) else {}
        for name, value in patch.items():
            current = entry.get(name)
            if name == "price" and isinstance(value, Mapping) and isinstance(current, Mapping):
                entry[name] = {**current, **value}
            else:
                entry[name] = value
        merged[key] = entry
    return merged


# --- parsing -------------------------------------------------------------------------------------


def _parse(raw: Mapping[object, object], models: Mapping[object, object]) -> _Table:
    unknown = sorted(str(key) for key in set(raw) - _TOP_LEVEL)
    if unknown:
        raise ConfigurationError(unknown[0], "unknown field")
    version = raw.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ConfigurationError("schema_version", f"expected {SCHEMA_VERSION}, got {version!r}")
    if raw.get("currency", "USD") != "USD":
        raise ConfigurationError("currency", f"expected 'USD', got {raw.get('currency')!r}")
    snapshot_date = _optional_date(raw.get("snapshot_date"), "snapshot_date")
    exact: dict[tuple[str, str], ModelInfo] = {}
    for key, fields in models.items():
        info = _parse_entry(key, fields)
        exact[(info.provider, info.model)] = info
    listed = tuple(sorted((i for i in exact.values() if i.model != _WILDCARD), key=_sort_key))
    content = [
        str(snapshot_date),
        [dataclasses.asdict(info) for info in sorted(exact.values(), key=_sort_key)],
    ]
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=_canonical)
    snapshot_id = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    return _Table(exact, listed, snapshot_date, snapshot_id)


def _sort_key(info: ModelInfo) -> tuple[str, str]:
    return (info.provider, info.model)


def _canonical(value: object) -> object:
    """JSON form of what `json` cannot encode itself: capability sets sorted, prices as strings."""
    return sorted(value) if isinstance(value, frozenset) else str(value)


def _parse_entry(key: object, fields: object) -> ModelInfo:
    where = f"models.{key}"
    provider, _, model = key.partition(":") if isinstance(key, str) else ("", "", "")
    if not provider or not model:
        raise ConfigurationError(where, "expected a 'provider:model' key")
    if not isinstance(fields, Mapping):
        raise ConfigurationError(where, "expected a mapping of fields")
    unknown = sorted(str(name) for name in set(fields) - _ENTRY_FIELDS)
    if unknown:
        raise ConfigurationError(f"{where}.{unknown[0]}", "unknown field")
    _optional_str(fields.get("note"), f"{where}.note")
    price = fields.get("price")
    return ModelInfo(
        provider=provider,
        model=model,
        context_window=_optional_int(fields.get("context_window"), f"{where}.context_window", 1),
        max_output=_optional_int(fields.get("max_output"), f"{where}.max_output", 1),
        capabilities=_parse_capabilities(fields.get("capabilities", []), f"{where}.capabilities"),
        quality_tier=_optional_int(fields.get("quality_tier"), f"{where}.quality_tier", 1, 5),
        latency_tier=_optional_int(fields.get("latency_tier"), f"{where}.latency_tier", 1, 5),
        local=_bool(fields.get("local", False), f"{where}.local"),
        price=None if price is None else _parse_price(price, f"{where}.price"),
        retired=_bool(fields.get("retired", False), f"{where}.retired"),
        source_url=_optional_str(fields.get("source_url"), f"{where}.source_url"),
    )


def _parse_price(value: object, where: str) -> ModelPrice:
    fields = _fields(value, where, _PRICE_FIELDS)
    tiers_raw = fields.get("tiers", [])
    if not isinstance(tiers_raw, list | tuple):
        raise ConfigurationError(f"{where}.tiers", "expected a list of tiers")
    tiers: list[PriceTier] = []
    for index, tier_raw in enumerate(tiers_raw):
        tier_where = f"{where}.tiers.{index}"
        tier_fields = _fields(tier_raw, tier_where, _TIER_FIELDS)
        threshold = _int(tier_fields.get("above_input_tokens"), f"{tier_where}.above_input_tokens", 1)
        if tiers and threshold <= tiers[-1].above_input_tokens:
            raise ConfigurationError(f"{tier_where}.above_input_tokens", "tiers must be in increasing order")
        tiers.append(PriceTier(threshold, *_rates(tier_fields, tier_where)))
    return ModelPrice(*_rates(fields, where), tiers=tuple(tiers))


def _rates(
    fields: Mapping[object, object], where: str
) -> tuple[Decimal, Decimal, Decimal | None, Decimal | None, Decimal | None]:
    return (
        _decimal(fields.get("input"), f"{where}.input"),
        _decimal(fields.get("output"), f"{where}.output"),
        _optional_decimal(fields.get("cache_read"), f"{where}.cache_read"),
        _optional_decimal(fields.get("cache_write"), f"{where}.cache_write"),
        _optional_decimal(fields.get("reasoning"), f"{where}.reasoning"),
    )


def _fields(value: object, where: str, known: frozenset[str]) -> Mapping[object, object]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(where, "expected a mapping")
    unknown = sorted(str(name) for name in set(value) - known)
    if unknown:
        raise ConfigurationError(f"{where}.{unknown[0]}", "unknown field")
    return value


def _parse_capabilities(value: object, where: str) -> frozenset[Capability]:
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise ConfigurationError(where, "expected a list of capability names")
    return _capabilities(value, where)


def _capabilities(names: Iterable[Capability], where: str = "capabilities") -> frozenset[Capability]:
    wanted = frozenset([names] if isinstance(names, str) else names)
    unknown = sorted(wanted - CAPABILITIES)
    if unknown:
        raise ConfigurationError(where, f"unknown capability {unknown[0]!r} (known: {sorted(CAPABILITIES)})")
    return wanted


def _decimal(value: object, where: str) -> Decimal:
    if not isinstance(value, str):
        raise ConfigurationError(where, "expected a decimal string (USD per million tokens)")
    try:
        price = Decimal(value)
    except InvalidOperation as exc:
        raise ConfigurationError(where, f"not a decimal: {value!r}") from exc
    if not price.is_finite() or price < 0:
        raise ConfigurationError(where, f"must be a non-negative price, got {value!r}")
    return price


def _optional_decimal(value: object, where: str) -> Decimal | None:
    return None if value is None else _decimal(value, where)


def _int(value: object, where: str, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(where, f"expected an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ConfigurationError(where, f"must be {bounds}, got {value}")
    return value


def _optional_int(value: object, where: str, minimum: int, maximum: int | None = None) -> int | None:
    return None if value is None else _int(value, where, minimum, maximum)


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(where, f"expected true or false, got {value!r}")
    return value


def _optional_str(value: object, where: str) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigurationError(where, f"expected a non-empty string, got {value!r}")
    return value


def _optional_date(value: object, where: str) -> datetime.date | None:
    if value is None:
        return None
    problem = f"expected an ISO date string (YYYY-MM-DD), got {value!r}"
    if not isinstance(value, str):
        raise ConfigurationError(where, problem)
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigurationError(where, problem) from exc


# --- ranking -------------------------------------------------------------------------------------


def _usage(input_tokens: int, output_tokens: int, cached_input_tokens: int) -> Usage:
    _int(input_tokens, "input_tokens", 0)
    _int(output_tokens, "output_tokens", 0)
    _int(cached_input_tokens, "cached_input_tokens", 0, input_tokens)
    return Usage(
        input_tokens=input_tokens, output_tokens=output_tokens, cache_read_input_tokens=cached_input_tokens
    )


def _rank(prefer: str, info: ModelInfo, cost: Decimal | None) -> tuple[tuple[bool, Decimal], ...]:
    """The criteria in `prefer`'s order, each a value to minimise; unknown values rank after known ones."""
    values = {
        "cost": cost,
        "quality": None if info.quality_tier is None else Decimal(-info.quality_tier),
        "latency": None if info.latency_tier is None else Decimal(info.latency_tier),
    }
    return tuple(
        (value is None, Decimal(0) if value is None else value)
        for value in (values[name] for name in _CRITERIA[prefer])
    )
