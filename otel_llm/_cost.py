"""Cost of a call from its usage and a model's prices. Pure arithmetic in `Decimal` (no float drift).

Input tokens include cached ones (semconv normalisation), so uncached input is what remains after the
cache reads and writes, each of which has its own price; output includes reasoning tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from otel_llm._types import Usage

_PER_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Prices of one model in US dollars per million tokens.

    Attributes:
        input: Uncached input.
        output: Output, reasoning included.
        cache_read: Input read from the prompt cache; `None` bills it as plain input.
        cache_write: Input written to the prompt cache; `None` bills it as plain input.
    """

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None


def cost_usd(usage: Usage, price: ModelPrice) -> Decimal | None:
    """The cost of `usage` at `price`, or `None` when the token counts are unknown."""
    if usage.input_tokens is None or usage.output_tokens is None:
        return None
    cache_read = usage.cache_read_input_tokens or 0
    cache_write = usage.cache_write_input_tokens or 0
    uncached = max(usage.input_tokens - cache_read - cache_write, 0)
    total = (
        uncached * price.input
        + cache_read * (price.input if price.cache_read is None else price.cache_read)
        + cache_write * (price.input if price.cache_write is None else price.cache_write)
        + usage.output_tokens * price.output
    )
    return total / _PER_MILLION
