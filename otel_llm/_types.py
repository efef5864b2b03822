"""Value types shared by the client, the engine, the providers and telemetry.

Everything here is a frozen, slotted dataclass: values cross thread and task boundaries freely and can
never be mutated behind the telemetry's back.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final, Literal

Operation = Literal["chat"]


class NotGiven(enum.Enum):
    """Type of `NOT_GIVEN`: "use the client default", distinct from an explicit `None`."""

    NOT_GIVEN = enum.auto()

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> Literal[False]:
        return False


NOT_GIVEN: Final = NotGiven.NOT_GIVEN


@dataclass(frozen=True, slots=True)
class Route:
    """One place a call can be sent: a configured provider and the model id on its wire.

    Attributes:
        provider: Key of a configured provider (`"openai"`, `"anthropic"`, a custom name, ...).
        model: Model id exactly as the provider expects it.
    """

    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message.

    Attributes:
        role: `"system"`, `"user"`, `"assistant"` or `"tool"`.
        content: The message text.
    """

    role: str
    content: str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A provider-neutral chat request; each provider translates it to its wire format.

    Attributes:
        model: Model id on the provider's wire (no `provider:` prefix).
        messages: The conversation, system messages included.
        temperature: Sampling temperature.
        top_p: Nucleus sampling mass.
        max_tokens: Upper bound on generated tokens.
        stop: Stop sequences.
        seed: Sampling seed, where supported.
        stream: Whether the response is streamed.
        attempt: 1-based attempt number, sent as a header so provider logs can tell retries apart.
    """

    model: str
    messages: tuple[Message, ...]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] | None = None
    seed: int | None = None
    stream: bool = False
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage normalised across providers (GenAI semconv rules).

    `None` always means "the provider did not say", never zero.

    Attributes:
        input_tokens: All input tokens, cached ones included.
        output_tokens: All output tokens, reasoning ones included.
        cache_read_input_tokens: Subset of input read from the provider's prompt cache.
        cache_write_input_tokens: Subset of input written to the provider's prompt cache.
        reasoning_output_tokens: Subset of output spent on reasoning.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_write_input_tokens: int | None = None
    reasoning_output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """The result of a chat call.

    Attributes:
        text: The generated text.
        model: Model that actually answered, as reported by the provider.
        id: Provider response id.
        finish_reasons: Normalised finish reasons (`stop`, `length`, `tool_call`, ...), one per choice.
        usage: Token usage.
        route: The route that served the call (after any fallback); set by the client.
        cost_usd: Cost in US dollars, or `None` when the model has no known price.
    """

    text: str
    model: str | None = None
    id: str | None = None
    finish_reasons: tuple[str, ...] = ()
    usage: Usage = field(default_factory=Usage)
    route: Route | None = None
    cost_usd: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ChatChunk:
    """One decoded piece of a streamed response.

    Attributes:
        delta: Text added by this chunk (may be empty).
        finish_reason: Normalised finish reason, on the chunk that ends a choice.
        usage: Usage reported so far; the last non-empty value wins (never summed).
        id: Response id, when the chunk carries it.
        model: Answering model, when the chunk carries it.
        final: Whether this chunk is the provider's end-of-stream marker. A stream that ends
            without one was cut short and is an error.
    """

    delta: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    id: str | None = None
    model: str | None = None
    final: bool = False


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One server-sent event, after WHATWG field parsing.

    Attributes:
        data: The event's data lines joined with newlines.
        event: The event type, if the server sent one (Anthropic does).
    """

    data: str
    event: str | None = None


MessageInput = Message | Mapping[str, str]
"""A message as callers may pass it: a `Message` or `{"role": ..., "content": ...}`."""
