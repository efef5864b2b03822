"""Cost of a call from its usage and a model's prices. Pure arithmetic in `Decimal` (no float drift).

Input tokens include cached ones (semconv normalisation), so uncached input is what remains after the
cache reads and writes, each of which has its own price; output includes reasoning tokens, billed at the
output price unless the model prices them apart. Long-context tiers reprice the whole call once its input
exceeds a threshold, as Gemini and Anthropic bill.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from otel_llm._types import Usage

_PER_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class PriceTier:
    """Prices of a whole call whose input exceeds a threshold, in US dollars per million tokens.

    Attributes:
        above_input_tokens: The tier applies when the call's input tokens (cached ones included) exceed
            this many.
        input: Uncached input.
        output: Output, reasoning included unless `reasoning` is set.
        cache_read: Input read from the prompt cache; `None` bills it as the tier's input.
        cache_write: Input written to the prompt cache; `None` bills it as the tier's input.
        reasoning: Reasoning output; `None` bills it as the tier's output.
    """

    above_input_tokens: int
    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    reasoning: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Prices of one model in US dollars per million tokens.

    Attributes:
        input: Uncached input.
        output: Output, reasoning included unless `reasoning` is set.
        cache_read: Input read from the prompt cache; `None` bills it as plain input.
        cache_write: Input written to the prompt cache; `None` bills it as plain input.
        reasoning: Reasoning output; `None` bills it as plain output.
        tiers: Long-context prices; the tier with the highest threshold below a call's input applies to
            the whole call.
    """

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    reasoning: Decimal | None = None
    tiers: tuple[PriceTier, ...] = ()

    def at(self, input_tokens: int) -> ModelPrice:
        """The flat prices that apply to a call with `input_tokens` input tokens (cached ones included).

        Args:
            input_tokens: All input tokens of the call.

        Returns:
            The applicable tier's prices (without tiers), or these prices when no tier applies; read
            only their flat fields.
        """
        # Kept allocation-free when no tier applies: routing prices every candidate of every call.
        if not self.tiers:
            return self
        applicable = [tier for tier in self.tiers if input_tokens > tier.above_input_tokens]
        if not applicable:
            return self
        tier = max(applicable, key=lambda t: t.above_input_tokens)
        return ModelPrice(tier.input, tier.output, tier.cache_read, tier.cache_write, tier.reasoning)


def cost_usd(usage: Usage, price: ModelPrice) -> Decimal | None:
    """The cost of `usage` at `price`, or `None` when the token counts are unknown.

    Args:
        usage: Normalised token counts of one call.
        price: The model's prices; its tier is chosen by the call's input tokens.

    Returns:
        The cost in US dollars, exact; `None` (never a silent 0) when input or output is unknown.
    """
    if usage.input_tokens is None or usage.output_tokens is None:
        return None
    rates = price.at(usage.input_tokens)
    cache_read = usage.cache_read_input_tokens or 0
    cache_write = usage.cache_write_input_tokens or 0
    uncached = max(usage.input_tokens - cache_read - cache_write, 0)
    reasoning = min(usage.reasoning_output_tokens or 0, usage.output_tokens)
    total = (
        uncached * rates.input
        + cache_read * (rates.input if rates.cache_read is None else rates.cache_read)
        + cache_write * (rates.input if rates.cache_write is None else rates.cache_write)
        + (usage.output_tokens - reasoning) * rates.output
        + reasoning * (rates.output if rates.reasoning is None else rates.reasoning)
    )
    return total / _PER_MILLION
