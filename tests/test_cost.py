"""Cost of a call from normalised usage and per-million-token prices, exact in Decimal."""

from __future__ import annotations

from decimal import Decimal

import pytest

from otel_llm._cost import ModelPrice, PriceTier, cost_usd
from otel_llm._types import Usage

D = Decimal

# USD per million tokens (shapes of the bundled snapshot: gpt-4o-mini has a cache-read price only,
# claude-haiku-4-5 has cache-read and cache-write prices).
GPT_4O_MINI = ModelPrice(input=D("0.15"), output=D("0.60"), cache_read=D("0.075"))
CLAUDE_HAIKU = ModelPrice(input=D("1.00"), output=D("5.00"), cache_read=D("0.10"), cache_write=D("1.25"))
NO_CACHE_PRICES = ModelPrice(input=D("2.00"), output=D("8.00"))
# Shapes of the long-context tiers: Gemini 2.5 Pro (no cache-write price) and Claude Sonnet 4.5.
GEMINI_PRO = ModelPrice(
    input=D("1.25"),
    output=D("10.00"),
    cache_read=D("0.125"),
    tiers=(PriceTier(200_000, input=D("2.50"), output=D("15.00"), cache_read=D("0.25")),),
)
CLAUDE_SONNET = ModelPrice(
    input=D("3.00"),
    output=D("15.00"),
    cache_read=D("0.30"),
    cache_write=D("3.75"),
    tiers=(
        PriceTier(200_000, input=D("6.00"), output=D("22.50"), cache_read=D("0.60"), cache_write=D("7.50")),
    ),
)


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


# --- reasoning prices ------------------------------------------------------------------------------

THINKING = ModelPrice(input=D("1"), output=D("2"), reasoning=D("3"))


def test_reasoning_tokens_have_their_own_price_when_given() -> None:
    usage = Usage(input_tokens=100, output_tokens=580, reasoning_output_tokens=500)

    assert cost_usd(usage, THINKING) == D("0.001760")  # (100 * 1 + 80 * 2 + 500 * 3) / 1e6


def test_unreported_reasoning_is_billed_as_output() -> None:
    usage = Usage(input_tokens=100, output_tokens=580)

    assert cost_usd(usage, THINKING) == D("0.00126")  # (100 * 1 + 580 * 2) / 1e6


def test_reasoning_beyond_the_output_count_is_capped_at_the_output() -> None:
    # A provider reporting more reasoning than output must not produce a negative answer-token count.
    usage = Usage(input_tokens=0, output_tokens=10, reasoning_output_tokens=50)

    assert cost_usd(usage, THINKING) == D("0.00003")  # all 10 output tokens at the reasoning price


# --- long-context tiers ----------------------------------------------------------------------------


def test_input_at_the_threshold_keeps_the_base_prices() -> None:
    usage = Usage(input_tokens=200_000, output_tokens=1_000)

    assert cost_usd(usage, GEMINI_PRO) == D("0.26")  # (200000 * 1.25 + 1000 * 10) / 1e6


def test_input_above_the_threshold_reprices_the_whole_call() -> None:
    usage = Usage(input_tokens=200_001, output_tokens=1_000)

    assert cost_usd(usage, GEMINI_PRO) == D("0.5150025")  # (200001 * 2.50 + 1000 * 15) / 1e6


def test_tier_uses_its_own_cache_prices() -> None:
    usage = Usage(
        input_tokens=300_000,
        output_tokens=2_000,
        cache_read_input_tokens=100_000,
        cache_write_input_tokens=50_000,
    )

    # (150000 * 6 + 100000 * 0.60 + 50000 * 7.50 + 2000 * 22.50) / 1e6
    assert cost_usd(usage, CLAUDE_SONNET) == D("1.38")


def test_tier_without_a_cache_price_bills_cache_at_the_tier_input() -> None:
    usage = Usage(input_tokens=250_000, output_tokens=0, cache_write_input_tokens=10_000)

    assert cost_usd(usage, GEMINI_PRO) == D("0.625")  # all 250000 input tokens at the tier's 2.50


def test_tier_is_chosen_by_all_input_tokens_cached_ones_included() -> None:
    # 190k of the 210k input tokens come from the cache: the call is still a long-context one.
    usage = Usage(input_tokens=210_000, output_tokens=0, cache_read_input_tokens=190_000)

    assert cost_usd(usage, GEMINI_PRO) == D("0.0975")  # (20000 * 2.50 + 190000 * 0.25) / 1e6


def test_the_highest_exceeded_threshold_wins_whatever_the_tier_order() -> None:
    tiers = (
        PriceTier(500_000, input=D("5"), output=D("50")),
        PriceTier(100_000, input=D("2"), output=D("20")),
    )
    price = ModelPrice(input=D("1"), output=D("10"), tiers=tiers)

    assert cost_usd(Usage(input_tokens=100_000, output_tokens=1), price) == D("0.10001")
    assert cost_usd(Usage(input_tokens=300_000, output_tokens=1), price) == D("0.60002")
    assert cost_usd(Usage(input_tokens=600_000, output_tokens=1), price) == D("3.00005")


def test_at_gives_the_flat_prices_of_a_call_size() -> None:
    assert GEMINI_PRO.at(1_000) is GEMINI_PRO  # no tier applies: the base prices, as they are
    assert GEMINI_PRO.at(1_000_000) == ModelPrice(input=D("2.50"), output=D("15.00"), cache_read=D("0.25"))
    assert GPT_4O_MINI.at(10**9) == GPT_4O_MINI


def test_tier_reasoning_price_applies_above_the_threshold() -> None:
    price = ModelPrice(
        input=D("1"), output=D("2"), tiers=(PriceTier(1_000, input=D("1"), output=D("2"), reasoning=D("4")),)
    )
    usage_small = Usage(input_tokens=1_000, output_tokens=100, reasoning_output_tokens=100)
    usage_large = Usage(input_tokens=1_001, output_tokens=100, reasoning_output_tokens=100)

    assert cost_usd(usage_small, price) == D("0.0012")  # (1000 * 1 + 100 * 2) / 1e6
    assert cost_usd(usage_large, price) == D("0.001401")  # (1001 * 1 + 100 * 4) / 1e6
