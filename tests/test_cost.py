"""Cost of a call from normalised usage and per-million-token prices, exact in Decimal."""

from __future__ import annotations

from decimal import Decimal

import pytest

from otel_llm._cost import ModelPrice, cost_usd
from otel_llm._types import Usage

D = Decimal

# USD per million tokens (shapes of the bundled snapshot: gpt-4o-mini has a cache-read price only,
# claude-haiku-4-5 has cache-read and cache-write prices).
GPT_4O_MINI = ModelPrice(input=D("0.15"), output=D("0.60"), cache_read=D("0.075"))
CLAUDE_HAIKU = ModelPrice(input=D("1.00"), output=D("5.00"), cache_read=D("0.10"), cache_write=D("1.25"))
NO_CACHE_PRICES = ModelPrice(input=D("2.00"), output=D("8.00"))


def test_input_and_output() -> None:
    cost = cost_usd(Usage(input_tokens=1000, output_tokens=500), GPT_4O_MINI)

    assert cost == D("0.00045")  # (1000 * 0.15 + 500 * 0.60) / 1e6


def test_result_is_an_exact_decimal() -> None:
    cost = cost_usd(Usage(input_tokens=1, output_tokens=0), GPT_4O_MINI)

    assert isinstance(cost, Decimal)
    assert cost == D("0.00000015")
    assert str(cost.normalize()) == "1.5E-7"


def test_no_float_drift_over_many_calls() -> None:
    one = cost_usd(Usage(input_tokens=7, output_tokens=3), GPT_4O_MINI)
    assert one is not None

    assert sum([one] * 1_000_000, D(0)) == D("2.85")  # 1e6 * (7 * 0.15 + 3 * 0.60) / 1e6


def test_cache_reads_are_billed_at_the_cache_read_price() -> None:
    # OpenAI: 2006 prompt tokens of which 1920 came from the cache.
    usage = Usage(input_tokens=2006, output_tokens=300, cache_read_input_tokens=1920)

    cost = cost_usd(usage, GPT_4O_MINI)

    assert cost == (86 * D("0.15") + 1920 * D("0.075") + 300 * D("0.60")) / 1_000_000
    assert cost == D("0.0003369")


def test_cache_reads_and_writes_have_their_own_prices() -> None:
    # Anthropic after normalisation: 20 uncached + 1800 read + 250 written = 2070 input tokens.
    usage = Usage(
        input_tokens=2070, output_tokens=503, cache_read_input_tokens=1800, cache_write_input_tokens=250
    )

    cost = cost_usd(usage, CLAUDE_HAIKU)

    assert cost == D("0.0030275")  # (20 * 1.00 + 1800 * 0.10 + 250 * 1.25 + 503 * 5.00) / 1e6


def test_cache_write_without_a_price_is_billed_as_input() -> None:
    usage = Usage(input_tokens=1000, output_tokens=0, cache_write_input_tokens=400)

    assert cost_usd(usage, GPT_4O_MINI) == D("0.00015")  # all 1000 input tokens at 0.15


def test_cache_read_without_a_price_is_billed_as_input() -> None:
    usage = Usage(input_tokens=1000, output_tokens=10, cache_read_input_tokens=900)

    assert cost_usd(usage, NO_CACHE_PRICES) == cost_usd(
        Usage(input_tokens=1000, output_tokens=10), NO_CACHE_PRICES
    )
    assert cost_usd(usage, NO_CACHE_PRICES) == D("0.00208")


def test_zero_cache_prices_are_used_not_replaced_by_the_input_price() -> None:
    free_cache = ModelPrice(input=D("1"), output=D("1"), cache_read=D("0"), cache_write=D("0"))
    usage = Usage(input_tokens=100, output_tokens=0, cache_read_input_tokens=60, cache_write_input_tokens=40)

    assert cost_usd(usage, free_cache) == D(0)


def test_reasoning_tokens_are_already_part_of_output() -> None:
    plain = Usage(input_tokens=100, output_tokens=580)
    with_reasoning = Usage(input_tokens=100, output_tokens=580, reasoning_output_tokens=500)

    assert cost_usd(with_reasoning, GPT_4O_MINI) == cost_usd(plain, GPT_4O_MINI)


def test_zero_tokens_cost_zero_not_unknown() -> None:
    assert cost_usd(Usage(input_tokens=0, output_tokens=0), GPT_4O_MINI) == D(0)


def test_free_model_costs_zero() -> None:
    local = ModelPrice(input=D("0"), output=D("0"))

    assert cost_usd(Usage(input_tokens=5000, output_tokens=800), local) == D(0)


@pytest.mark.parametrize(
    "usage",
    [
        Usage(),
        Usage(input_tokens=100),
        Usage(output_tokens=100),
        Usage(cache_read_input_tokens=50, output_tokens=10),
    ],
    ids=["nothing", "no-output", "no-input", "cache-but-no-input"],
)
def test_unknown_token_counts_give_no_cost(usage: Usage) -> None:
    # Never a silent 0 (providers.md R15).
    assert cost_usd(usage, GPT_4O_MINI) is None


def test_large_counts_stay_exact() -> None:
    usage = Usage(input_tokens=10**12 + 1, output_tokens=3)

    assert cost_usd(usage, GPT_4O_MINI) == D("150000.00000195")
