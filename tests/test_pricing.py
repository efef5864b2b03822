"""The price table: the bundled snapshot (loaded lazily, fully valid) and validation of custom tables."""

from __future__ import annotations

import datetime
import importlib.resources
import json
from decimal import Decimal
from typing import Any

import pytest

from otel_llm._cost import ModelPrice, cost_usd
from otel_llm._exceptions import ConfigurationError
from otel_llm._pricing import PriceTable
from otel_llm._types import Usage
from otel_llm.providers import BUILTIN


def bundled_raw() -> dict[str, Any]:
    text = importlib.resources.files("otel_llm.data").joinpath("prices.json").read_text(encoding="utf-8")
    raw = json.loads(text)
    assert isinstance(raw, dict)
    return raw


def bundled_entries() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (provider, model, fields)
        for provider, entry in bundled_raw()["providers"].items()
        for model, fields in entry["models"].items()
    ]


class ResourceSpy:
    """Wraps `importlib.resources.files` to count package-data reads."""

    def __init__(self) -> None:
        self.calls: list[object] = []
        self._real = importlib.resources.files

    def __call__(self, anchor: Any) -> Any:
        self.calls.append(anchor)
        return self._real(anchor)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> ResourceSpy:
    spy = ResourceSpy()
    monkeypatch.setattr(importlib.resources, "files", spy)
    return spy


# --- the bundled snapshot --------------------------------------------------------------------------


def test_constructing_reads_nothing(spy: ResourceSpy) -> None:
    PriceTable()

    assert spy.calls == []


def test_first_lookup_loads_the_snapshot_once(spy: ResourceSpy) -> None:
    table = PriceTable()

    assert table.price("openai", "gpt-4o-mini") is not None
    assert table.price("anthropic", "claude-haiku-4-5") is not None
    assert table.snapshot_date is not None

    assert len(spy.calls) == 1


def test_snapshot_date_is_an_iso_date() -> None:
    snapshot_date = PriceTable().snapshot_date

    assert snapshot_date is not None
    assert datetime.date.fromisoformat(snapshot_date) <= datetime.date(2100, 1, 1)


@pytest.mark.parametrize(
    ("provider", "model", "fields"), bundled_entries(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_bundled_price_parses(provider: str, model: str, fields: dict[str, Any]) -> None:
    price = PriceTable().price(provider, model)

    def optional(key: str) -> Decimal | None:
        return Decimal(fields[key]) if key in fields else None

    assert price == ModelPrice(
        input=Decimal(fields["input"]),
        output=Decimal(fields["output"]),
        cache_read=optional("cache_read"),
        cache_write=optional("cache_write"),
    )
    # Sanity of the transcription: cache reads are discounted input; nothing is negative.
    assert price.input >= 0
    assert price.output >= 0
    if price.cache_read is not None:
        assert price.cache_read < price.input


def test_bundled_snapshot_prices_only_known_providers() -> None:
    # Every priced provider exists; providers without prices (Azure deployments, Ollama, the compatible
    # services) record unpriced calls until the model registry covers them.
    raw = bundled_raw()

    assert set(raw["providers"]) <= set(BUILTIN)
    assert all(entry["models"] for entry in raw["providers"].values())
    assert all(entry["source_url"].startswith("https://") for entry in raw["providers"].values())


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "gpt-unknown"),
        ("openai", "claude-haiku-4-5"),  # priced, but under another provider
        ("together", "gpt-4o-mini"),
        ("openai", "GPT-4O-MINI"),
        ("openai", ""),
    ],
)
def test_unknown_model_has_no_price(provider: str, model: str) -> None:
    assert PriceTable().price(provider, model) is None


def test_bundled_price_feeds_the_cost_formula() -> None:
    price = PriceTable().price("openai", "gpt-4o-mini")
    assert price is not None

    assert (
        cost_usd(Usage(input_tokens=1_000_000, output_tokens=1_000_000), price) == price.input + price.output
    )


# --- custom tables ---------------------------------------------------------------------------------


def test_custom_table_replaces_the_snapshot(spy: ResourceSpy) -> None:
    table = PriceTable(
        {
            "snapshot_date": "2025-06-30",
            "providers": {"acme": {"models": {"fast": {"input": "1.5", "output": "2", "cache_read": "0.5"}}}},
        }
    )

    assert table.price("acme", "fast") == ModelPrice(Decimal("1.5"), Decimal("2"), cache_read=Decimal("0.5"))
    assert table.price("openai", "gpt-4o-mini") is None
    assert table.snapshot_date == "2025-06-30"
    assert spy.calls == []


def test_custom_table_without_date_or_models() -> None:
    table = PriceTable({"providers": {}})

    assert table.snapshot_date is None
    assert table.price("openai", "gpt-4o-mini") is None


def test_free_model_price_is_zero_not_unknown() -> None:
    table = PriceTable({"providers": {"ollama": {"models": {"llama3.2": {"input": "0", "output": "0"}}}}})

    assert table.price("ollama", "llama3.2") == ModelPrice(Decimal(0), Decimal(0))


def _table(fields: object) -> dict[str, object]:
    return {"providers": {"openai": {"models": {"gpt-x": fields}}}}


MODEL_FIELD = "prices.providers.openai.models.gpt-x"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({}, "prices.providers", id="no-providers"),
        pytest.param({"providers": ["openai"]}, "prices.providers", id="providers-not-a-mapping"),
        pytest.param({"providers": {"openai": {}}}, "prices.providers.openai.models", id="no-models"),
        pytest.param(
            {"providers": {"openai": ["gpt-x"]}},
            "prices.providers.openai.models",
            id="provider-not-a-mapping",
        ),
        pytest.param(
            {"providers": {"openai": {"models": ["gpt-x"]}}},
            "prices.providers.openai.models",
            id="models-not-a-mapping",
        ),
        pytest.param(_table("0.15"), MODEL_FIELD, id="model-not-a-mapping"),
        pytest.param(_table({"output": "0.60"}), f"{MODEL_FIELD}.input", id="input-missing"),
        pytest.param(_table({"input": "0.15"}), f"{MODEL_FIELD}.output", id="output-missing"),
        pytest.param(_table({"input": None, "output": "1"}), f"{MODEL_FIELD}.input", id="input-null"),
        pytest.param(_table({"input": 0.15, "output": "1"}), f"{MODEL_FIELD}.input", id="input-float"),
        pytest.param(_table({"input": 1, "output": "1"}), f"{MODEL_FIELD}.input", id="input-int"),
        pytest.param(
            _table({"input": "cheap", "output": "1"}), f"{MODEL_FIELD}.input", id="input-not-decimal"
        ),
        pytest.param(_table({"input": "", "output": "1"}), f"{MODEL_FIELD}.input", id="input-empty"),
        pytest.param(_table({"input": "-0.15", "output": "1"}), f"{MODEL_FIELD}.input", id="input-negative"),
        pytest.param(_table({"input": "NaN", "output": "1"}), f"{MODEL_FIELD}.input", id="input-nan"),
        pytest.param(
            _table({"input": "Infinity", "output": "1"}), f"{MODEL_FIELD}.input", id="input-infinite"
        ),
        pytest.param(
            _table({"input": "1", "output": "1 USD"}), f"{MODEL_FIELD}.output", id="output-not-decimal"
        ),
        pytest.param(
            _table({"input": "1", "output": "1", "cache_read": "free"}),
            f"{MODEL_FIELD}.cache_read",
            id="cache-read-not-decimal",
        ),
        pytest.param(
            _table({"input": "1", "output": "1", "cache_write": 1.25}),
            f"{MODEL_FIELD}.cache_write",
            id="cache-write-float",
        ),
        pytest.param(
            _table({"input": "1", "output": "1", "cache_write": "-1"}),
            f"{MODEL_FIELD}.cache_write",
            id="cache-write-negative",
        ),
    ],
)
def test_invalid_table_names_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PriceTable(data).price("openai", "gpt-x")

    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_one_bad_model_invalidates_the_table() -> None:
    data = {
        "providers": {
            "openai": {"models": {"gpt-ok": {"input": "1", "output": "1"}}},
            "anthropic": {"models": {"claude-bad": {"input": "1", "output": "x"}}},
        }
    }

    with pytest.raises(ConfigurationError) as caught:
        PriceTable(data).price("openai", "gpt-ok")

    assert caught.value.field == "prices.providers.anthropic.models.claude-bad.output"
