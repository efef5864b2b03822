"""Value types shared by the client, the engine, the providers and telemetry.

Everything here is a frozen, slotted dataclass: values cross thread and task boundaries freely and can
never be mutated behind the telemetry's back. Mappings inside them (tool arguments, JSON schemas) are
treated as read-only by convention.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final, Literal

Operation = Literal["chat", "embeddings"]
ToolChoice = Literal["auto", "none", "required"] | str
"""`"auto"`, `"none"`, `"required"`, or the name of the one tool the model must call."""


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
class TextPart:
    """A piece of text in a multi-part message."""

    text: str


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image in a message: either a URL the provider fetches, or inline base64 data.

    Attributes:
        url: An `http(s)` URL (exclusive with `data`).
        data: Base64-encoded image bytes (exclusive with `url`).
        media_type: MIME type of `data` (`image/png`, ...); required with `data`.
    """

    url: str | None = None
    data: str | None = None
    media_type: str | None = None


ContentPart = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A model's request to call a tool.

    Attributes:
        id: Call id, echoed in the tool result message (`Message.tool_call_id`).
        name: Tool name.
        arguments: Parsed arguments; empty when `raw_arguments` is not a JSON object.
        raw_arguments: Arguments exactly as the provider sent them (JSON text).
    """

    id: str
    name: str
    arguments: Mapping[str, object] = field(default_factory=dict)
    raw_arguments: str = "{}"

    @classmethod
    def from_json(cls, id: str, name: str, raw_arguments: str) -> ToolCall:
        """A call whose arguments arrived as JSON text (OpenAI, streamed fragments joined).

        Models occasionally emit invalid JSON; the call is kept with empty `arguments` and the text in
        `raw_arguments` rather than failing the whole response.
        """
        try:
            parsed = json.loads(raw_arguments) if raw_arguments.strip() else {}
        except (ValueError, RecursionError):
            parsed = {}
        return cls(id, name, parsed if isinstance(parsed, dict) else {}, raw_arguments)

    @classmethod
    def from_object(cls, id: str, name: str, arguments: Mapping[str, object]) -> ToolCall:
        """A call whose arguments arrived as an object (Anthropic, Gemini, Ollama)."""
        return cls(id, name, dict(arguments), json.dumps(arguments, separators=(",", ":")))


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message.

    Attributes:
        role: `"system"`, `"user"`, `"assistant"` or `"tool"`.
        content: Text, or parts (text and images).
        tool_calls: Tool calls an assistant message made (to send a conversation back).
        tool_call_id: For `role="tool"`: the call this message answers.
        name: For `role="tool"`: the tool's name (Gemini needs it).
    """

    role: str
    content: str | tuple[ContentPart, ...] = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None

    @property
    def text(self) -> str:
        """The text of the message, parts joined."""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content if isinstance(part, TextPart))


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call.

    Attributes:
        name: Function name.
        description: What it does, for the model.
        parameters: JSON schema of its arguments (an object schema).
    """

    name: str
    description: str | None = None
    parameters: Mapping[str, object] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True, slots=True)
class JsonSchema:
    """Structured output: the reply must be JSON matching `schema`.

    Attributes:
        name: Schema name (some providers require one).
        schema: The JSON schema.
        strict: Ask the provider to enforce the schema exactly, where it can.
    """

    name: str
    schema: Mapping[str, object]
    strict: bool = True


ResponseFormat = JsonSchema | Literal["json"]
"""`"json"` asks for any JSON object; a `JsonSchema` for JSON matching a schema."""


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
        tools: Functions the model may call.
        tool_choice: Whether and which tool the model must call.
        response_format: Structured output wanted, if any.
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
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
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
        estimated: The counts are otel-llm's estimate, because the provider reported none.
        billed_cost_usd: Cost the provider itself reported for the call (OpenRouter), in US dollars;
            it takes precedence over the model registry's prices.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_write_input_tokens: int | None = None
    reasoning_output_tokens: int | None = None
    estimated: bool = False
    billed_cost_usd: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """The result of a chat call.

    Attributes:
        text: The generated text.
        model: Model that actually answered, as reported by the provider.
        id: Provider response id.
        finish_reasons: Normalised finish reasons (`stop`, `length`, `tool_call`, ...), one per choice.
        usage: Token usage.
        tool_calls: Tools the model asked to call.
        refusal: The model's refusal message, when it declined (OpenAI structured outputs).
        route: The route that served the call (after any fallback); set by the client.
        cost_usd: Cost in US dollars, or `None` when the model has no known price.
        cached: Served from the client's response cache: nothing was sent, and `cost_usd` is 0.
    """

    text: str
    model: str | None = None
    id: str | None = None
    finish_reasons: tuple[str, ...] = ()
    usage: Usage = field(default_factory=Usage)
    tool_calls: tuple[ToolCall, ...] = ()
    refusal: str | None = None
    route: Route | None = None
    cost_usd: Decimal | None = None
    cached: bool = False


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call; fragments with the same `index` form one call.

    Attributes:
        index: Position of the call in the response.
        id: Call id (on the first fragment).
        name: Tool name (on the first fragment).
        arguments: A piece of the arguments' JSON text.
        complete: The fragment is a whole call (Gemini, Ollama send calls whole, numbered per event):
            it is added as a new call instead of being merged by `index`.
    """

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    complete: bool = False


@dataclass(frozen=True, slots=True)
class ChatChunk:
    """One decoded piece of a streamed response.

    Attributes:
        delta: Text added by this chunk (may be empty).
        tool_calls: Tool-call fragments carried by this chunk.
        finish_reason: Normalised finish reason, on the chunk that ends a choice.
        usage: Usage reported so far; the last non-empty value wins (never summed).
        id: Response id, when the chunk carries it.
        model: Answering model, when the chunk carries it.
        final: Whether this chunk is the provider's end-of-stream marker. A stream that ends
            without one was cut short and is an error.
    """

    delta: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: str | None = None
    usage: Usage | None = None
    id: str | None = None
    model: str | None = None
    final: bool = False


@dataclass(frozen=True, slots=True)
class EmbeddingsRequest:
    """A provider-neutral embeddings request.

    Attributes:
        model: Model id on the provider's wire.
        inputs: Texts to embed.
        dimensions: Requested vector size, where the model supports shortening.
        attempt: 1-based attempt number.
    """

    model: str
    inputs: tuple[str, ...]
    dimensions: int | None = None
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class EmbeddingsResponse:
    """The result of an embeddings call.

    Attributes:
        vectors: One vector per input, in input order.
        model: Model that answered, as reported by the provider.
        usage: Token usage (input tokens only).
        route: The route that served the call; set by the client.
        cost_usd: Cost in US dollars, or `None` when unknown.
        cached: Served from the client's response cache: nothing was sent, and `cost_usd` is 0.
    """

    vectors: tuple[tuple[float, ...], ...]
    model: str | None = None
    usage: Usage = field(default_factory=Usage)
    route: Route | None = None
    cost_usd: Decimal | None = None
    cached: bool = False


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One framed event of a streamed body: a server-sent event, or one NDJSON line.

    Attributes:
        data: The event's data (for SSE, data lines joined with newlines).
        event: The SSE event type, if the server sent one (Anthropic does).
    """

    data: str
    event: str | None = None


MessageInput = Message | Mapping[str, object]
"""A message as callers may pass it: a `Message` or `{"role": ..., "content": ...}`."""
