"""The bundled price table, loaded lazily on the first cost computation (never at import, never online)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from importlib import resources

from otel_llm._cost import ModelPrice
from otel_llm._exceptions import ConfigurationError

_RESOURCE = "prices.json"


class PriceTable:
    """Model prices keyed by (provider key, model id), from the bundled snapshot or a given mapping."""

    def __init__(self, data: Mapping[str, object] | None = None) -> None:
        self._data = data
        self._prices: dict[tuple[str, str], ModelPrice] | None = None
        self._lock = threading.Lock()

    @property
    def snapshot_date(self) -> str | None:
        """Date of the price snapshot."""
        value = self._load_raw().get("snapshot_date")
        return value if isinstance(value, str) else None

    def price(self, provider: str, model: str) -> ModelPrice | None:
        """The price of `model` at `provider`, or `None` if unknown."""
        prices = self._prices
        if prices is None:
            with self._lock:
                prices = self._prices = self._prices or _parse(self._load_raw())
        # A "*" entry prices every model of a provider (local Ollama models cost nothing per token).
        return prices.get((provider, model)) or prices.get((provider, "*"))

    def _load_raw(self) -> Mapping[str, object]:
        if self._data is None:
            text = resources.files("otel_llm.data").joinpath(_RESOURCE).read_text(encoding="utf-8")
            self._data = json.loads(text)
        return self._data


def _parse(raw: Mapping[str, object]) -> dict[tuple[str, str], ModelPrice]:
    result: dict[tuple[str, str], ModelPrice] = {}
    providers = raw.get("providers")
    if not isinstance(providers, dict):
        raise ConfigurationError("prices.providers", "expected a mapping of providers")
    for provider, entry in providers.items():
        models = entry.get("models") if isinstance(entry, dict) else None
        if not isinstance(models, dict):
            raise ConfigurationError(f"prices.providers.{provider}.models", "expected a mapping")
        for model, fields in models.items():
            where = f"prices.providers.{provider}.models.{model}"
            if not isinstance(fields, dict):
                raise ConfigurationError(where, "expected a mapping of prices")
            result[(provider, model)] = ModelPrice(
                input=_decimal(fields.get("input"), f"{where}.input"),
                output=_decimal(fields.get("output"), f"{where}.output"),
                cache_read=_optional_decimal(fields.get("cache_read"), f"{where}.cache_read"),
                cache_write=_optional_decimal(fields.get("cache_write"), f"{where}.cache_write"),
            )
    return result


def _decimal(value: object, field: str) -> Decimal:
    if not isinstance(value, str):
        raise ConfigurationError(field, "expected a decimal string (USD per million tokens)")
    try:
        price = Decimal(value)
    except InvalidOperation as exc:
        raise ConfigurationError(field, f"not a decimal: {value!r}") from exc
    if not price.is_finite() or price < 0:
        raise ConfigurationError(field, f"must be a non-negative price, got {value!r}")
    return price


def _optional_decimal(value: object, field: str) -> Decimal | None:
    return None if value is None else _decimal(value, field)
