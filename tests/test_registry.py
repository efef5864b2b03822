"""The model registry: the bundled snapshot (lazy, valid, complete), queries, overrides and validation."""

from __future__ import annotations

import datetime
import importlib.resources
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict

import httpx
import pytest

from otel_llm import Client
from otel_llm._cost import ModelPrice, PriceTier, cost_usd
from otel_llm._exceptions import ConfigurationError
from otel_llm._registry import CAPABILITIES, ModelInfo, ModelRegistry
from otel_llm._types import Usage
from otel_llm.providers import BUILTIN
from tests.wire import PROVIDERS, openai_body

D = Decimal

# The models routing presets name, plus every model the former price table held.
REQUIRED = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4.1"),
    ("openai", "gpt-4.1-mini"),
    ("openai", "gpt-4.1-nano"),
    ("openai", "o4-mini"),
    ("openai", "text-embedding-3-small"),
    ("openai", "text-embedding-3-large"),
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-haiku-4-5"),
    ("anthropic", "claude-opus-4-1"),
    ("gemini", "gemini-2.5-pro"),
    ("gemini", "gemini-2.5-flash"),
    ("gemini", "gemini-2.5-flash-lite"),
    ("gemini", "gemini-2.0-flash"),
    ("gemini", "gemini-embedding-001"),
    ("mistral", "mistral-large-latest"),
    ("mistral", "mistral-small-latest"),
    ("mistral", "codestral-latest"),
    ("deepseek", "deepseek-chat"),
    ("deepseek", "deepseek-reasoner"),
    ("ollama", "llama3.2"),
    ("ollama", "qwen2.5-coder"),
    ("ollama", "*"),
]


def bundled_raw() -> dict[str, Any]:
    text = importlib.resources.files("otel_llm.data").joinpath("models.json").read_text(encoding="utf-8")
    raw = json.loads(text)
    assert isinstance(raw, dict)
    return raw


def bundled_entries() -> list[tuple[str, dict[str, Any]]]:
    return list(bundled_raw()["models"].items())


class Mix(TypedDict):
    input_tokens: int
    output_tokens: int


def registry(models: Mapping[str, object], **options: Any) -> ModelRegistry:
    return ModelRegistry(data={"snapshot_date": "2026-11-01", "models": models}, **options)


def priced(input: str, output: str, **fields: object) -> dict[str, object]:
    return {"input": input, "output": output, **fields}


class ResourceSpy:
    """Wraps `importlib.resources.files` to count package-data reads."""

    def __init__(self) -> None:
        self.calls: list[object] = []
        self._real = importlib.resources.files
        self._lock = threading.Lock()

    def __call__(self, anchor: Any) -> Any:
        with self._lock:
            self.calls.append(anchor)
        return self._real(anchor)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> ResourceSpy:
    spy = ResourceSpy()
    monkeypatch.setattr(importlib.resources, "files", spy)
    return spy


# --- loading ---------------------------------------------------------------------------------------


def test_importing_otel_llm_does_not_import_the_registry() -> None:
    code = "import sys, otel_llm; print('otel_llm._registry' in sys.modules, 'yaml' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["False", "False"]


def test_constructing_reads_nothing(spy: ResourceSpy) -> None:
    ModelRegistry()
    ModelRegistry(overrides="/no/such/overrides.yaml")  # the file is read at the first query too

    assert spy.calls == []


def test_first_lookup_loads_the_snapshot_once(spy: ResourceSpy) -> None:
    models = ModelRegistry()

    assert models.price("openai", "gpt-4o-mini") is not None
    assert models.get("anthropic", "claude-haiku-4-5") is not None
    assert models.snapshot_date is not None
    assert models.models()

    assert len(spy.calls) == 1


def test_concurrent_first_queries_load_once(spy: ResourceSpy) -> None:
    models = ModelRegistry()
    barrier = threading.Barrier(8)
    results: list[ModelPrice | None] = []

    def query() -> None:
        barrier.wait()
        results.append(models.price("openai", "gpt-4o-mini"))

    threads = [threading.Thread(target=query) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(spy.calls) == 1
    assert len(results) == 8
    assert len(set(results)) == 1


def test_load_validates_eagerly() -> None:
    models = registry({"openai:gpt-x": {"price": {"input": "1"}}})

    with pytest.raises(ConfigurationError) as caught:
        models.load()

    assert caught.value.field == "models.openai:gpt-x.price.output"


def test_a_failed_load_is_retried_and_fails_again() -> None:
    models = registry({"openai:gpt-x": {"quality_tier": 9}})

    for _ in range(2):
        with pytest.raises(ConfigurationError):
            models.get("openai", "gpt-x")


# --- the bundled snapshot --------------------------------------------------------------------------


def test_snapshot_metadata() -> None:
    raw = bundled_raw()
    models = ModelRegistry()

    assert raw["schema_version"] == 2
    assert models.snapshot_date == datetime.date.fromisoformat(raw["snapshot_date"])
    assert len(models.snapshot_id) == 12
    int(models.snapshot_id, 16)
    assert raw["currency"] == "USD"


def test_sources_name_their_url_and_licence() -> None:
    sources = bundled_raw()["sources"]

    assert sources
    for source in sources:
        assert source["url"].startswith("https://")
        assert source["license"]
    assert any("genai-prices" in source["name"] and source["license"] == "MIT" for source in sources)


@pytest.mark.parametrize(("provider", "model"), REQUIRED, ids=lambda v: str(v))
def test_required_models_are_bundled_and_priced(provider: str, model: str) -> None:
    info = ModelRegistry().get(provider, model)

    assert info is not None
    assert (info.provider, info.model) == (provider, model)
    assert info.price is not None


@pytest.mark.parametrize(("key", "fields"), bundled_entries(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_bundled_entry_parses_completely(key: str, fields: dict[str, Any]) -> None:
    provider, _, model = key.partition(":")
    info = ModelRegistry().get(provider, model)
    assert info is not None
    price = fields["price"]

    def optional(key: str) -> Decimal | None:
        return Decimal(price[key]) if key in price else None

    assert info.price is not None
    assert (info.price.input, info.price.output) == (Decimal(price["input"]), Decimal(price["output"]))
    assert (info.price.cache_read, info.price.cache_write) == (
        optional("cache_read"),
        optional("cache_write"),
    )
    assert info.price.reasoning == optional("reasoning")
    assert len(info.price.tiers) == len(price.get("tiers", []))
    assert info.capabilities == frozenset(fields.get("capabilities", []))
    assert info.local is fields.get("local", False)
    assert info.source_url is not None and info.source_url.startswith("https://")
    # Sanity of the transcription: cache reads are discounted input, tiers cost more.
    if info.price.cache_read is not None:
        assert info.price.cache_read < info.price.input
    for tier in info.price.tiers:
        assert tier.input > info.price.input
        assert tier.output > info.price.output


@pytest.mark.parametrize(
    "info", ModelRegistry().models(include_retired=True), ids=lambda i: f"{i.provider}:{i.model}"
)
def test_every_concrete_model_is_described_for_routing(info: ModelInfo) -> None:
    assert info.provider in BUILTIN
    assert info.context_window is not None
    assert info.quality_tier is not None
    assert info.latency_tier is not None
    assert info.capabilities
    # An embedding model does nothing else; a chat model streams.
    assert ("embeddings" in info.capabilities) is ("streaming" not in info.capabilities)
    assert info.local is (info.provider == "ollama")
    assert info.local is (info.price == ModelPrice(D(0), D(0)))


def test_long_context_tiers_where_providers_bill_them() -> None:
    models = ModelRegistry()

    for provider, model in [("gemini", "gemini-2.5-pro"), ("anthropic", "claude-sonnet-4-5")]:
        price = models.price(provider, model)
        assert price is not None
        assert [tier.above_input_tokens for tier in price.tiers] == [200_000]


def test_retired_models_still_price_calls_but_are_not_listed() -> None:
    models = ModelRegistry()
    retired = [info for info in models.models(include_retired=True) if info.retired]

    assert retired
    assert not set(retired) & set(models.models())
    assert all(models.price(info.provider, info.model) == info.price for info in retired)


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "gpt-unknown"),
        ("openai", "claude-haiku-4-5"),  # known, but under another provider
        ("together", "gpt-4o-mini"),
        ("openai", "GPT-4O-MINI"),
        ("openai", ""),
        ("openai", "*"),
    ],
)
def test_unknown_model_has_no_price_and_no_info(provider: str, model: str) -> None:
    models = ModelRegistry()

    assert models.price(provider, model) is None
    assert models.get(provider, model) is None


def test_local_ollama_models_are_free_through_the_wildcard() -> None:
    models = ModelRegistry()
    info = models.get("ollama", "mistral-nemo:12b")

    assert info is not None
    assert (info.model, info.local, info.price) == ("mistral-nemo:12b", True, ModelPrice(D(0), D(0)))
    assert models.price("ollama", "mistral-nemo:12b") == ModelPrice(D(0), D(0))
    assert all(i.model != "*" for i in models.models())


def test_bundled_price_feeds_the_cost_formula() -> None:
    price = ModelRegistry().price("openai", "gpt-4o-mini")
    assert price is not None

    assert (
        cost_usd(Usage(input_tokens=1_000_000, output_tokens=1_000_000), price) == price.input + price.output
    )


def test_the_client_prices_calls_with_its_registry() -> None:
    models = registry({"openai:gpt-4o-mini": {"price": priced("1", "2")}})
    transport = httpx.MockTransport(
        lambda r: httpx.Response(200, json=openai_body(prompt=1000, completion=500))
    )

    with Client(transport=transport, providers=PROVIDERS, registry=models) as client:
        reply = client.chat("openai:gpt-4o-mini", [{"role": "user", "content": "hi"}])

    assert reply.cost_usd == D("0.002")  # (1000 * 1 + 500 * 2) / 1e6


# --- staleness -------------------------------------------------------------------------------------


def test_fresh_snapshot_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    models = registry({}, today=lambda: datetime.date(2027, 3, 1))  # 120 days after the snapshot

    with caplog.at_level(logging.WARNING, logger="otel_llm"):
        models.load()

    assert models.age_days == 120
    assert caplog.records == []


def test_stale_snapshot_warns_once_on_first_load(caplog: pytest.LogCaptureFixture) -> None:
    models = registry({}, today=lambda: datetime.date(2027, 3, 2))

    with caplog.at_level(logging.WARNING, logger="otel_llm"):
        models.load()
        models.get("openai", "gpt-4o")
        models.models()

    assert models.age_days == 121
    assert [(r.name, r.levelno) for r in caplog.records] == [("otel_llm", logging.WARNING)]
    assert "121 days old" in caplog.records[0].getMessage()


def test_staleness_threshold_is_configurable(caplog: pytest.LogCaptureFixture) -> None:
    models = registry({}, stale_after_days=10, today=lambda: datetime.date(2026, 11, 12))

    with caplog.at_level(logging.WARNING, logger="otel_llm"):
        models.load()

    assert len(caplog.records) == 1


def test_snapshot_without_a_date_has_no_age(caplog: pytest.LogCaptureFixture) -> None:
    models = ModelRegistry(data={"models": {}}, stale_after_days=0)

    with caplog.at_level(logging.WARNING, logger="otel_llm"):
        assert models.age_days is None
        assert models.snapshot_date is None

    assert caplog.records == []


@pytest.mark.parametrize("days", [-1, 1.5, True, "120"])
def test_invalid_staleness_threshold(days: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ModelRegistry(stale_after_days=days)

    assert caught.value.field == "stale_after_days"


# --- snapshot id -----------------------------------------------------------------------------------


def test_snapshot_id_is_a_content_hash() -> None:
    models = {"acme:fast": {"price": priced("1", "2")}}
    same = {"acme:fast": {"price": priced("1", "2")}}
    other = {"acme:fast": {"price": priced("1", "3")}}

    assert registry(models).snapshot_id == registry(same).snapshot_id
    assert registry(models).snapshot_id != registry(other).snapshot_id
    assert ModelRegistry().snapshot_id == ModelRegistry().snapshot_id


def test_snapshot_id_covers_the_overrides() -> None:
    patched = ModelRegistry(overrides={"models": {"openai:gpt-4o": {"latency_tier": 5}}})

    assert patched.snapshot_id != ModelRegistry().snapshot_id


# --- custom snapshots ------------------------------------------------------------------------------


def test_custom_snapshot_replaces_the_bundled_one(spy: ResourceSpy) -> None:
    models = ModelRegistry(
        data={
            "snapshot_date": "2025-06-30",
            "models": {"acme:fast": {"price": priced("1.5", "2", cache_read="0.5")}},
        }
    )

    assert models.price("acme", "fast") == ModelPrice(D("1.5"), D("2"), cache_read=D("0.5"))
    assert models.price("openai", "gpt-4o-mini") is None
    assert models.snapshot_date == datetime.date(2025, 6, 30)
    assert spy.calls == []


def test_model_without_fields_is_known_but_unpriced_and_unrated() -> None:
    info = registry({"acme:new": {}}).get("acme", "new")

    assert info == ModelInfo("acme", "new")


def test_free_model_price_is_zero_not_unknown() -> None:
    models = registry({"ollama:llama3.2": {"price": priced("0", "0")}})

    assert models.price("ollama", "llama3.2") == ModelPrice(D(0), D(0))


def test_every_field_of_an_entry() -> None:
    entry = {
        "context_window": 1000,
        "max_output": 100,
        "capabilities": ["tools", "reasoning"],
        "quality_tier": 5,
        "latency_tier": 1,
        "local": True,
        "retired": True,
        "source_url": "https://example.com/pricing",
        "note": "a comment, not data",
        "price": priced(
            "1",
            "2",
            cache_read="0.1",
            cache_write="1.25",
            reasoning="3",
            tiers=[
                {"above_input_tokens": 500, "input": "2", "output": "4"},
                {
                    "above_input_tokens": 800,
                    "input": "3",
                    "output": "6",
                    "cache_read": "0.3",
                    "reasoning": "7",
                },
            ],
        ),
    }

    info = registry({"acme:m": entry}).get("acme", "m")

    assert info == ModelInfo(
        provider="acme",
        model="m",
        context_window=1000,
        max_output=100,
        capabilities=frozenset({"tools", "reasoning"}),
        quality_tier=5,
        latency_tier=1,
        local=True,
        retired=True,
        source_url="https://example.com/pricing",
        price=ModelPrice(
            D("1"),
            D("2"),
            cache_read=D("0.1"),
            cache_write=D("1.25"),
            reasoning=D("3"),
            tiers=(
                PriceTier(500, D("2"), D("4")),
                PriceTier(800, D("3"), D("6"), cache_read=D("0.3"), reasoning=D("7")),
            ),
        ),
    )


# --- queries ---------------------------------------------------------------------------------------

CATALOGUE: dict[str, object] = {
    # Input-cheap, output-dear and the reverse: list-price sums (11 vs 6) misorder them for input-heavy calls.
    "acme:reader": {
        "capabilities": ["tools"],
        "quality_tier": 3,
        "latency_tier": 2,
        "price": priced("1", "10"),
    },
    "acme:writer": {
        "capabilities": ["tools"],
        "quality_tier": 3,
        "latency_tier": 3,
        "price": priced("3", "3"),
    },
    "beta:genius": {
        "capabilities": ["tools", "vision", "reasoning"],
        "context_window": 100_000,
        "quality_tier": 5,
        "latency_tier": 4,
        "price": priced("5", "20", cache_read="0.5"),
    },
    "beta:sprinter": {
        "capabilities": ["streaming"],
        "quality_tier": 2,
        "latency_tier": 1,
        "price": priced("2", "2"),
    },
    "beta:mystery": {"capabilities": ["tools", "vision"], "context_window": 1_000_000},  # unrated, unpriced
    "beta:old": {
        "capabilities": ["tools"],
        "quality_tier": 5,
        "latency_tier": 1,
        "retired": True,
        "price": priced("0", "0"),
    },
    "home:tiny": {
        "capabilities": ["tools"],
        "context_window": 8_000,
        "local": True,
        "quality_tier": 1,
        "latency_tier": 2,
        "price": priced("0", "0"),
    },
    "home:*": {"local": True, "price": priced("0", "0")},
    "acme:embed": {
        "capabilities": ["embeddings"],
        "quality_tier": 3,
        "latency_tier": 1,
        "price": priced("0.01", "0"),
    },
}


@pytest.fixture
def catalogue() -> ModelRegistry:
    return registry(CATALOGUE)


def names(infos: tuple[ModelInfo, ...]) -> list[str]:
    return [f"{info.provider}:{info.model}" for info in infos]


def name(info: ModelInfo | None) -> str | None:
    return None if info is None else f"{info.provider}:{info.model}"


def test_models_lists_concrete_current_models_sorted(catalogue: ModelRegistry) -> None:
    assert names(catalogue.models()) == [
        "acme:embed",
        "acme:reader",
        "acme:writer",
        "beta:genius",
        "beta:mystery",
        "beta:sprinter",
        "home:tiny",
    ]
    assert "beta:old" in names(catalogue.models(include_retired=True))


def test_models_filters(catalogue: ModelRegistry) -> None:
    assert names(catalogue.models(provider="beta")) == ["beta:genius", "beta:mystery", "beta:sprinter"]
    assert names(catalogue.models(provider=["home", "acme"], local=False)) == [
        "acme:embed",
        "acme:reader",
        "acme:writer",
    ]
    assert names(catalogue.models(capabilities=("tools", "vision"))) == ["beta:genius", "beta:mystery"]
    assert names(catalogue.models(capabilities="vision")) == ["beta:genius", "beta:mystery"]
    assert names(catalogue.models(capabilities=iter(["reasoning"]))) == ["beta:genius"]
    # An unknown context window never satisfies a minimum.
    assert names(catalogue.models(min_context=50_000)) == ["beta:genius", "beta:mystery"]
    assert names(catalogue.models(local=True)) == ["home:tiny"]


@pytest.mark.parametrize(
    ("input_tokens", "output_tokens", "expected"),
    [
        (10_000, 100, "acme:reader"),  # 0.011 vs 0.0303: the input price dominates
        (100, 10_000, "acme:writer"),  # 0.1001 vs 0.0303: the output price dominates
    ],
)
def test_cheapest_ranks_by_expected_cost_of_the_token_mix(
    catalogue: ModelRegistry, input_tokens: int, output_tokens: int, expected: str
) -> None:
    chosen = catalogue.cheapest(provider="acme", input_tokens=input_tokens, output_tokens=output_tokens)

    assert name(chosen) == expected


def test_cheapest_counts_the_cache_read_discount(catalogue: ModelRegistry) -> None:
    mix: Mix = {"input_tokens": 50_000, "output_tokens": 0}

    assert name(catalogue.cheapest(capabilities=["vision"], **mix)) == "beta:genius"  # only priced one
    # Uncached, genius costs 0.25 and cheaper models win; cached, 45k of 50k tokens cost a tenth.
    assert name(catalogue.cheapest(capabilities=["tools"], local=False, **mix)) == "acme:reader"
    assert catalogue.expected_cost_usd("beta", "genius", **mix) == D("0.25")
    assert catalogue.expected_cost_usd("beta", "genius", cached_input_tokens=45_000, **mix) == D("0.0475")
    assert catalogue.expected_cost_usd("acme", "reader", cached_input_tokens=45_000, **mix) == D("0.05")
    assert (
        name(catalogue.cheapest(capabilities=["tools"], local=False, cached_input_tokens=45_000, **mix))
        == "beta:genius"
    )


def test_cheapest_applies_long_context_tiers() -> None:
    models = registry(
        {
            "acme:tiered": {
                "price": priced("1", "1", tiers=[{"above_input_tokens": 1_000, "input": "4", "output": "4"}])
            },
            "acme:flat": {"price": priced("2", "2")},
        }
    )

    assert name(models.cheapest(input_tokens=1_000, output_tokens=0)) == "acme:tiered"
    assert name(models.cheapest(input_tokens=1_001, output_tokens=0)) == "acme:flat"


def test_unpriced_models_are_never_cheapest(catalogue: ModelRegistry) -> None:
    # The only model with a million-token window has no price.
    assert catalogue.cheapest(min_context=500_000, input_tokens=1, output_tokens=1) is None
    assert catalogue.expected_cost_usd("beta", "mystery", input_tokens=1, output_tokens=1) is None


def test_free_local_models_win_on_cost_unless_excluded(catalogue: ModelRegistry) -> None:
    assert name(catalogue.cheapest(input_tokens=100, output_tokens=100)) == "home:tiny"
    assert name(catalogue.cheapest(local=False, input_tokens=100, output_tokens=100)) == "beta:sprinter"


def test_fastest_and_best_skip_unrated_models(catalogue: ModelRegistry) -> None:
    assert name(catalogue.fastest()) == "beta:sprinter"
    assert name(catalogue.fastest(capabilities=["tools"])) == "acme:reader"  # beats home:tiny on quality
    assert name(catalogue.best()) == "beta:genius"
    assert name(catalogue.best(local=True)) == "home:tiny"
    assert catalogue.best(min_context=500_000) is None  # only the unrated model is that large
    assert catalogue.fastest(provider="nobody") is None


def test_ties_go_to_the_next_criteria_then_to_the_name() -> None:
    models = registry(
        {
            "b:one": {"quality_tier": 3, "latency_tier": 2, "price": priced("1", "1")},
            "a:two": {"quality_tier": 3, "latency_tier": 2, "price": priced("1", "1")},
            "c:three": {"quality_tier": 4, "latency_tier": 2, "price": priced("1", "1")},
            "d:four": {"quality_tier": 3, "latency_tier": 1, "price": priced("1", "1")},
        }
    )

    assert (
        name(models.cheapest(input_tokens=10, output_tokens=10)) == "c:three"
    )  # quality breaks the cost tie
    assert name(models.fastest()) == "d:four"
    assert name(models.fastest(provider=["a", "b", "c"])) == "c:three"
    assert name(models.fastest(provider=["a", "b"])) == "a:two"


def test_recommend_filters_then_ranks(catalogue: ModelRegistry) -> None:
    mix: Mix = {"input_tokens": 1_000, "output_tokens": 1_000}

    assert name(catalogue.recommend(local=False, **mix)) == "beta:sprinter"  # 0.004, the cheapest
    assert name(catalogue.recommend(capabilities=["tools"], min_quality=4, **mix)) == "beta:genius"
    assert name(catalogue.recommend(prefer="quality", **mix)) == "beta:genius"
    # Equally fast, the free local model wins on cost; among hosted ones, on cost too.
    assert name(catalogue.recommend(prefer="latency", capabilities=["tools"], **mix)) == "home:tiny"
    assert (
        name(catalogue.recommend(prefer="latency", capabilities=["tools"], local=False, **mix))
        == "acme:reader"
    )
    # acme:reader (0.011) and beta:genius (0.025) cost too much; acme:writer is the best of the rest.
    assert name(catalogue.recommend(prefer="quality", max_cost_usd=D("0.01"), **mix)) == "acme:writer"
    assert catalogue.recommend(min_quality=5, max_cost_usd=D("0.01"), **mix) is None


def test_recommend_skips_models_too_small_for_the_call(catalogue: ModelRegistry) -> None:
    assert (
        name(catalogue.recommend(capabilities=["tools"], input_tokens=7_000, output_tokens=1_000))
        == "home:tiny"
    )
    assert (
        name(catalogue.recommend(capabilities=["tools"], input_tokens=7_000, output_tokens=1_001))
        == "acme:reader"
    )


def test_recommend_never_picks_a_retired_model(catalogue: ModelRegistry) -> None:
    # beta:old would win every ranking: free, fastest and best.
    for prefer in ("cost", "quality", "latency"):
        chosen = catalogue.recommend(provider="beta", prefer=prefer, input_tokens=1, output_tokens=1)
        assert chosen is not None and not chosen.retired
    assert name(catalogue.best(provider="beta")) == "beta:genius"


def test_embedding_models_are_chosen_only_for_embeddings(catalogue: ModelRegistry) -> None:
    # acme:embed is the cheapest model of all, but a chat call never gets it.
    assert name(catalogue.cheapest(provider="acme", input_tokens=100, output_tokens=100)) == "acme:writer"
    assert (
        name(catalogue.cheapest(capabilities=["embeddings"], input_tokens=100, output_tokens=0))
        == "acme:embed"
    )


def test_recommend_on_the_bundled_snapshot_prefers_hosted_models_when_asked() -> None:
    chosen = ModelRegistry().recommend(
        capabilities=("tools",), local=False, input_tokens=3_000, output_tokens=500
    )

    assert chosen is not None
    assert not chosen.local and not chosen.retired and "tools" in chosen.capabilities


@pytest.mark.parametrize(
    ("call", "field"),
    [
        pytest.param(lambda r: r.models(capabilities=["telepathy"]), "capabilities", id="unknown-capability"),
        pytest.param(lambda r: r.models(min_context=-1), "min_context", id="negative-min-context"),
        pytest.param(
            lambda r: r.cheapest(input_tokens=-1, output_tokens=0), "input_tokens", id="negative-input"
        ),
        pytest.param(
            lambda r: r.cheapest(input_tokens=1, output_tokens=-1), "output_tokens", id="negative-output"
        ),
        pytest.param(
            lambda r: r.cheapest(input_tokens=10, output_tokens=0, cached_input_tokens=11),
            "cached_input_tokens",
            id="more-cached-than-input",
        ),
        pytest.param(
            lambda r: r.recommend(input_tokens=1, output_tokens=1, prefer="vibes"),
            "prefer",
            id="unknown-preference",
        ),
        pytest.param(
            lambda r: r.recommend(input_tokens=1, output_tokens=1, min_quality=6),
            "min_quality",
            id="min-quality",
        ),
        pytest.param(
            lambda r: r.expected_cost_usd("acme", "reader", input_tokens=1.5, output_tokens=1),
            "input_tokens",
            id="fractional-tokens",
        ),
    ],
)
def test_invalid_query_arguments_name_the_argument(catalogue: ModelRegistry, call: Any, field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        call(catalogue)

    assert caught.value.field == field


def test_capability_names_are_the_documented_ones() -> None:
    assert (
        frozenset({"tools", "vision", "json_schema", "streaming", "embeddings", "reasoning"}) == CAPABILITIES
    )


# --- overrides -------------------------------------------------------------------------------------


def test_override_patches_fields_and_keeps_the_rest() -> None:
    base = ModelRegistry().get("openai", "gpt-4o-mini")
    patched = ModelRegistry(
        overrides={"models": {"openai:gpt-4o-mini": {"latency_tier": 5, "price": {"input": "0.20"}}}}
    ).get("openai", "gpt-4o-mini")
    assert base is not None and base.price is not None

    assert patched is not None
    assert patched.latency_tier == 5
    assert patched.price == ModelPrice(D("0.20"), base.price.output, cache_read=base.price.cache_read)
    assert (patched.capabilities, patched.context_window) == (base.capabilities, base.context_window)


def test_override_can_unprice_a_model_or_replace_its_tiers() -> None:
    models = ModelRegistry(
        overrides={
            "models": {
                "openai:gpt-4o": {"price": None},
                "gemini:gemini-2.5-pro": {"price": {"tiers": []}},
            }
        }
    )

    assert models.price("openai", "gpt-4o") is None
    price = models.price("gemini", "gemini-2.5-pro")
    assert price is not None and price.tiers == ()


def test_override_adds_models() -> None:
    models = ModelRegistry(
        overrides={
            "models": {"acme:new": {"quality_tier": 4, "capabilities": ["tools"], "price": priced("1", "2")}}
        }
    )

    assert models.get("acme", "new") == ModelInfo(
        "acme", "new", capabilities=frozenset({"tools"}), quality_tier=4, price=ModelPrice(D("1"), D("2"))
    )
    assert models.get("openai", "gpt-4o") == ModelRegistry().get("openai", "gpt-4o")


def test_new_model_of_a_wildcard_provider_starts_from_the_wildcard() -> None:
    info = ModelRegistry(
        overrides={"models": {"ollama:phi4": {"quality_tier": 2, "context_window": 16_384}}}
    ).get("ollama", "phi4")

    assert info is not None
    assert (info.local, info.price, info.quality_tier) == (True, ModelPrice(D(0), D(0)), 2)


def test_overrides_from_a_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(
        """
models:
  openai:gpt-4o-mini:
    price: {input: "0.30"}
  vllm:llama-70b:
    context_window: 131072
    capabilities: [tools, streaming]
    price: {input: "0", output: "0"}
""",
        encoding="utf-8",
    )

    models = ModelRegistry(overrides=path)
    price = models.price("openai", "gpt-4o-mini")

    assert price is not None and price.input == D("0.30")
    assert models.get("vllm", "llama-70b") == ModelInfo(
        "vllm",
        "llama-70b",
        context_window=131072,
        capabilities=frozenset({"tools", "streaming"}),
        price=ModelPrice(D(0), D(0)),
    )
    assert ModelRegistry(overrides=str(path)).snapshot_id == models.snapshot_id


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("models: [unclosed", "not valid YAML"), (None, "cannot read")],
    ids=["bad-yaml", "missing-file"],
)
def test_unreadable_override_file(tmp_path: Path, text: str | None, fragment: str) -> None:
    path = tmp_path / "models.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigurationError) as caught:
        ModelRegistry(overrides=path).load()

    assert caught.value.field == "overrides"
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param(["models"], "overrides", id="not-a-mapping"),
        pytest.param({"model": {}}, "overrides", id="unknown-root-key"),
        pytest.param({"models": ["openai:gpt-4o"]}, "models", id="models-not-a-mapping"),
        pytest.param(
            {"models": {"openai:gpt-4o": "cheap"}}, "models.openai:gpt-4o", id="entry-not-a-mapping"
        ),
        pytest.param(
            {"models": {"openai:gpt-x": {"price": {"input": 0.5, "output": "1"}}}},
            "models.openai:gpt-x.price.input",
            id="float-price",
        ),
        pytest.param(
            {"models": {"openai:gpt-4o": {"price": {"cache_reed": "1"}}}},
            "models.openai:gpt-4o.price.cache_reed",
            id="typo-in-price",
        ),
        pytest.param({"models": {"gpt-4o": {}}}, "models.gpt-4o", id="key-without-provider"),
        pytest.param(
            {"models": {"openai:gpt-4o": {"capabilities": ["tools", "mind-reading"]}}},
            "models.openai:gpt-4o.capabilities",
            id="unknown-capability",
        ),
    ],
)
def test_invalid_overrides_name_the_field(overrides: Any, field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ModelRegistry(overrides=overrides).load()

    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


# --- validation ------------------------------------------------------------------------------------

MODEL = "models.openai:gpt-x"


def one(fields: object) -> dict[str, object]:
    return {"models": {"openai:gpt-x": fields}}


def with_price(**price: object) -> dict[str, object]:
    return one({"price": price})


def with_tiers(*tiers: object) -> dict[str, object]:
    return with_price(input="1", output="1", tiers=list(tiers))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param(["models"], "snapshot", id="not-a-mapping"),
        pytest.param({}, "models", id="no-models"),
        pytest.param({"models": ["openai:gpt-x"]}, "models", id="models-not-a-mapping"),
        pytest.param({"models": {}, "prices": {}}, "prices", id="unknown-top-level-field"),
        pytest.param({"models": {}, "schema_version": 1}, "schema_version", id="old-schema"),
        pytest.param({"models": {}, "schema_version": True}, "schema_version", id="schema-bool"),
        pytest.param({"models": {}, "currency": "EUR"}, "currency", id="not-usd"),
        pytest.param({"models": {}, "snapshot_date": "yesterday"}, "snapshot_date", id="date-not-iso"),
        pytest.param({"models": {}, "snapshot_date": 20261101}, "snapshot_date", id="date-not-a-string"),
        pytest.param({"models": {"openai": {}}}, "models.openai", id="key-without-model"),
        pytest.param({"models": {":gpt-x": {}}}, "models.:gpt-x", id="key-without-provider"),
        pytest.param({"models": {7: {}}}, "models.7", id="key-not-a-string"),
        pytest.param(one("0.15"), MODEL, id="entry-not-a-mapping"),
        pytest.param(one({"price_usd": "1"}), f"{MODEL}.price_usd", id="unknown-entry-field"),
        pytest.param(one({"context_window": 0}), f"{MODEL}.context_window", id="context-zero"),
        pytest.param(one({"context_window": "128k"}), f"{MODEL}.context_window", id="context-string"),
        pytest.param(one({"max_output": True}), f"{MODEL}.max_output", id="max-output-bool"),
        pytest.param(one({"quality_tier": 6}), f"{MODEL}.quality_tier", id="quality-above-5"),
        pytest.param(one({"latency_tier": 0}), f"{MODEL}.latency_tier", id="latency-below-1"),
        pytest.param(one({"capabilities": "tools"}), f"{MODEL}.capabilities", id="capabilities-string"),
        pytest.param(one({"capabilities": [1]}), f"{MODEL}.capabilities", id="capability-not-a-string"),
        pytest.param(one({"local": "yes"}), f"{MODEL}.local", id="local-not-bool"),
        pytest.param(one({"retired": 1}), f"{MODEL}.retired", id="retired-not-bool"),
        pytest.param(one({"source_url": ""}), f"{MODEL}.source_url", id="source-url-empty"),
        pytest.param(one({"note": 3}), f"{MODEL}.note", id="note-not-a-string"),
        pytest.param(one({"price": "0.15"}), f"{MODEL}.price", id="price-not-a-mapping"),
        pytest.param(with_price(output="0.60"), f"{MODEL}.price.input", id="input-missing"),
        pytest.param(with_price(input="0.15"), f"{MODEL}.price.output", id="output-missing"),
        pytest.param(with_price(input=None, output="1"), f"{MODEL}.price.input", id="input-null"),
        pytest.param(with_price(input=0.15, output="1"), f"{MODEL}.price.input", id="input-float"),
        pytest.param(with_price(input=1, output="1"), f"{MODEL}.price.input", id="input-int"),
        pytest.param(with_price(input="cheap", output="1"), f"{MODEL}.price.input", id="input-not-decimal"),
        pytest.param(with_price(input="", output="1"), f"{MODEL}.price.input", id="input-empty"),
        pytest.param(with_price(input="-0.15", output="1"), f"{MODEL}.price.input", id="input-negative"),
        pytest.param(with_price(input="NaN", output="1"), f"{MODEL}.price.input", id="input-nan"),
        pytest.param(with_price(input="Infinity", output="1"), f"{MODEL}.price.input", id="input-infinite"),
        pytest.param(with_price(input="1", output="1 USD"), f"{MODEL}.price.output", id="output-not-decimal"),
        pytest.param(
            with_price(input="1", output="1", cache_read="free"),
            f"{MODEL}.price.cache_read",
            id="cache-read-text",
        ),
        pytest.param(
            with_price(input="1", output="1", cache_write=1.25),
            f"{MODEL}.price.cache_write",
            id="cache-write-float",
        ),
        pytest.param(
            with_price(input="1", output="1", cache_write="-1"),
            f"{MODEL}.price.cache_write",
            id="cache-write-neg",
        ),
        pytest.param(
            with_price(input="1", output="1", reasoning="x"), f"{MODEL}.price.reasoning", id="reasoning-text"
        ),
        pytest.param(
            with_price(input="1", output="1", tiers={"above_input_tokens": 1}),
            f"{MODEL}.price.tiers",
            id="tiers-not-a-list",
        ),
        pytest.param(with_tiers("200k"), f"{MODEL}.price.tiers.0", id="tier-not-a-mapping"),
        pytest.param(
            with_tiers({"input": "2", "output": "2"}),
            f"{MODEL}.price.tiers.0.above_input_tokens",
            id="tier-without-threshold",
        ),
        pytest.param(
            with_tiers({"above_input_tokens": 0, "input": "2", "output": "2"}),
            f"{MODEL}.price.tiers.0.above_input_tokens",
            id="tier-threshold-zero",
        ),
        pytest.param(
            with_tiers({"above_input_tokens": 10, "input": "2"}),
            f"{MODEL}.price.tiers.0.output",
            id="tier-no-output",
        ),
        pytest.param(
            with_tiers({"above_input_tokens": 10, "input": "2", "output": "2", "threshold": 5}),
            f"{MODEL}.price.tiers.0.threshold",
            id="tier-unknown-field",
        ),
        pytest.param(
            with_tiers(
                {"above_input_tokens": 10, "input": "2", "output": "2"},
                {"above_input_tokens": 10, "input": "3", "output": "3"},
            ),
            f"{MODEL}.price.tiers.1.above_input_tokens",
            id="tiers-not-increasing",
        ),
    ],
)
def test_invalid_snapshot_names_the_field(data: Any, field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ModelRegistry(data=data).price("openai", "gpt-x")

    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_one_bad_model_invalidates_the_snapshot() -> None:
    data = {
        "models": {
            "openai:gpt-ok": {"price": priced("1", "1")},
            "anthropic:claude-bad": {"price": priced("1", "x")},
        }
    }

    with pytest.raises(ConfigurationError) as caught:
        ModelRegistry(data=data).price("openai", "gpt-ok")

    assert caught.value.field == "models.anthropic:claude-bad.price.output"
