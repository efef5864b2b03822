"""The bundled prices against an independent dataset: genai-prices (pydantic/genai-prices, MIT).

For every bundled model genai-prices also knows, the input, output and cache prices, long-context tiers
included, must equal its current ones. A deliberate difference is listed in `DIFFERENCES` with its reason;
an entry that no longer differs fails the suite, so no exception outlives its cause.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from genai_prices import data_snapshot
from genai_prices import types as genai

from otel_llm._cost import ModelPrice
from otel_llm._registry import ModelInfo, ModelRegistry

# Our provider keys and genai-prices' provider ids; Ollama has no counterpart (local models are free).
PROVIDER_IDS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "mistral": "mistral",
    "deepseek": "deepseek",
}

# Noon UTC today: current prices, outside DeepSeek's peak windows (01:00-04:00 and 06:00-10:00 UTC), since
# the snapshot bundles its off-peak rates.
NOW = datetime.datetime.combine(datetime.date.today(), datetime.time(12), tzinfo=datetime.timezone.utc)

_LEGACY_DEEPSEEK = (
    "genai-prices still bills the alias at DeepSeek V3 rates (0.27/0.07/1.10 standard, 0.135/0.035/0.55 "
    "off-peak); from 2026-04-24 until its retirement on 2026-07-24 it served, and was billed as, "
    "deepseek-v4-flash at 0.14/0.0028/0.28"
)
DIFFERENCES: dict[tuple[str, str], str] = {
    ("mistral", "mistral-large-latest"): (
        "genai-prices matches the alias to Mistral Large 2 (2.00/6.00), since retired; from 2025-12-02 it "
        "serves Mistral Large 3 (mistral-large-2512), whose prices (0.50/0.05/1.50) we bundle"
    ),
    ("mistral", "codestral-latest"): (
        "genai-prices matches the alias to Codestral 25.01, which has no cache price; it serves "
        "codestral-2508, whose cached input costs 0.03"
    ),
    ("deepseek", "deepseek-chat"): _LEGACY_DEEPSEEK,
    ("deepseek", "deepseek-reasoner"): _LEGACY_DEEPSEEK,
}

# Hosted bundled models genai-prices does not know, so the contract cannot shrink unnoticed.
UNKNOWN_TO_GENAI_PRICES: frozenset[tuple[str, str]] = frozenset()

Prices = dict[int, dict[str, Decimal | None]]
"""Effective prices per call size (input tokens): base prices and those above each tier threshold."""


def genai_model(info: ModelInfo) -> genai.ModelInfo | None:
    provider_id = PROVIDER_IDS.get(info.provider)
    if provider_id is None:
        return None
    try:
        _, model = data_snapshot.get_snapshot().find_provider_model(info.model, None, provider_id, None)
    except LookupError:
        return None
    return model


BUNDLED = ModelRegistry().models(include_retired=True)
COMPARED = [(info, model) for info in BUNDLED if (model := genai_model(info)) is not None]


def key(info: ModelInfo) -> tuple[str, str]:
    return (info.provider, info.model)


def genai_at(value: object, input_tokens: int) -> Decimal | None:
    """A genai-prices price at a call size: tiers apply to the whole call above their start, as ours."""
    if isinstance(value, genai.TieredPrices):
        exceeded = [tier for tier in value.tiers if input_tokens > tier.start]
        return max(exceeded, key=lambda tier: tier.start).price if exceeded else value.base
    assert value is None or isinstance(value, Decimal)
    return value


def thresholds(value: object) -> set[int]:
    return {tier.start for tier in value.tiers} if isinstance(value, genai.TieredPrices) else set()


def both_prices(info: ModelInfo, model: genai.ModelInfo) -> tuple[Prices, Prices]:
    assert info.price is not None
    theirs = model.get_prices(NOW)
    fields = {
        "input": theirs.input_mtok,
        "output": theirs.output_mtok,
        "cache_read": theirs.cache_read_mtok,
        "cache_write": theirs.cache_write_mtok,
    }
    starts = {tier.above_input_tokens for tier in info.price.tiers}.union(*map(thresholds, fields.values()))
    sizes = [0, *(start + 1 for start in sorted(starts))]
    ours: Prices = {}
    genai_prices: Prices = {}
    for size in sizes:
        flat: ModelPrice = info.price.at(size)
        ours[size] = {
            "input": flat.input,
            "output": flat.output,
            "cache_read": flat.cache_read,
            "cache_write": flat.cache_write,
        }
        genai_prices[size] = {name: genai_at(value, size) for name, value in fields.items()}
        # genai-prices omits the output price of embedding models, which bill no output.
        genai_prices[size]["output"] = genai_prices[size]["output"] or Decimal(0)
    return ours, genai_prices


@pytest.mark.parametrize(
    ("info", "model"), COMPARED, ids=lambda v: f"{v.provider}:{v.model}" if isinstance(v, ModelInfo) else ""
)
def test_bundled_prices_equal_genai_prices(info: ModelInfo, model: genai.ModelInfo) -> None:
    ours, theirs = both_prices(info, model)
    reason = DIFFERENCES.get(key(info))

    if reason is None:
        assert ours == theirs
    else:
        assert ours != theirs, f"stale exception, the prices agree now; remove it: {reason}"


def test_the_contract_covers_the_hosted_models() -> None:
    hosted = {key(info) for info in BUNDLED if not info.local}
    compared = {key(info) for info, _ in COMPARED}

    assert len(compared) >= 20
    assert hosted - compared == UNKNOWN_TO_GENAI_PRICES


def test_every_allowed_difference_names_a_compared_model() -> None:
    assert set(DIFFERENCES) <= {key(info) for info, _ in COMPARED}
    assert all(reason for reason in DIFFERENCES.values())
