"""What every provider dialect shares: the exchange it answers, stream scripts, text helpers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from otel_llm.testing._behavior import Behavior

# JSON decoded from or encoded to the wire has no static shape.
JSONObject = dict[str, Any]

EVENT_STREAM = "text/event-stream; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Route:
    """Where a request path points: provider key, dialect and what the path itself says.

    Attributes:
        provider: Provider key (the first path segment).
        dialect: Wire format spoken on this route.
        model: Model named by the path (Gemini model, Azure deployment), else ``None``.
        action: Path-level operation (Gemini ``generateContent``, ``batchEmbedContents``, ...).
        query: Decoded query parameters, last value wins.
    """

    provider: str
    dialect: Dialect
    model: str | None = None
    action: str | None = None
    query: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One scripted tool call, validated.

    Attributes:
        name: Function name.
        arguments: Function arguments (a JSON object).
        id: Call id to send, or ``None`` for a deterministic provider-styled one.
    """

    name: str
    arguments: JSONObject
    id: str | None = None

    @classmethod
    def from_mapping(cls, call: Mapping[str, object]) -> ToolCall:
        """Build from a ``Behavior.tool_calls`` entry (already checked by ``Behavior``)."""
        name, arguments, call_id = call.get("name"), call.get("arguments", {}), call.get("id")
        if not isinstance(name, str) or not isinstance(arguments, Mapping):
            raise ValueError(f"invalid tool call {call!r}")
        return cls(name=name, arguments=dict(arguments), id=call_id if isinstance(call_id, str) else None)

    def call_id(self, prefix: str, serial: int, index: int) -> str:
        """The id to send: the scripted one, else ``{prefix}fake{serial}x{index}``."""
        return self.id or f"{prefix}fake{serial:06d}x{index}"

    def arguments_json(self) -> str:
        """The arguments as the JSON string OpenAI-style APIs send."""
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Exchange:
    """Everything a dialect needs to render one successful reply.

    Attributes:
        provider: Provider key of the route.
        model: Requested model (or deployment).
        body: The decoded request body.
        text: Reply text (``""`` for a tool-call-only reply).
        finish_reason: Provider-native finish reason override, or ``None`` for the natural one.
        input_tokens: Words in the request's message text (at least 1).
        output_tokens: Words in the reply text and tool-call arguments.
        serial: Server-wide request number, used to build deterministic ids.
        created: Unix time of the reply.
        tool_calls: Tool calls to reply with.
        omit_usage: Leave token usage out of the reply.
        embedding_dimensions: Default embedding vector length.
        block_reason: Gemini prompt block reason (reply without candidates).
        action: The route's path-level operation, if any.
    """

    provider: str
    model: str
    body: JSONObject
    text: str
    finish_reason: str | None
    input_tokens: int
    output_tokens: int
    serial: int
    created: int
    tool_calls: tuple[ToolCall, ...] = ()
    omit_usage: bool = False
    embedding_dimensions: int = 8
    block_reason: str | None = None
    action: str | None = None


@dataclass(frozen=True, slots=True)
class StreamScript:
    """A stream as framed byte segments, split where truncation and errors may strike.

    Attributes:
        head: Events before the first content chunk (role chunk, ``message_start``, ...).
        content: One segment per content chunk (text delta or tool-call fragment);
            ``cut_stream_after``/``stream_error_after`` count these. A segment may carry
            structural events (a block start) glued in front of its chunk.
        tail: Events after the content, ending with the terminal event.
    """

    head: tuple[bytes, ...]
    content: tuple[bytes, ...]
    tail: tuple[bytes, ...]


class Dialect(Protocol):
    """One provider wire format (and operation), as spoken by the fake server."""

    @property
    def stream_content_type(self) -> str:
        """``Content-Type`` of streamed replies."""
        ...

    @property
    def keep_alive_event(self) -> bytes | None:
        """The framed keep-alive this provider sends while a stream idles, if it has one."""
        ...

    def check_auth(self, headers: Mapping[str, str]) -> Behavior | None:
        """Return the 401 behaviour when the request lacks credentials, else ``None``."""
        ...

    def validate(self, route: Route, body: JSONObject) -> Behavior | None:
        """Return a 4xx behaviour when the request is invalid, else ``None``."""
        ...

    def wants_stream(self, route: Route, body: JSONObject) -> bool:
        """Whether the request asks for a streamed response."""
        ...

    def message_text(self, body: JSONObject) -> list[str]:
        """Every piece of input text in the request (for deterministic token counts)."""
        ...

    def forced_tool(self, body: JSONObject) -> tuple[str, JSONObject] | None:
        """The tool the request forces the model to call, with its input schema, or ``None``."""
        ...

    def requested_json(self, body: JSONObject) -> JSONObject | None:
        """The JSON schema the request asks the reply to follow (``{}``: any JSON), or ``None``."""
        ...

    def response_headers(self, serial: int) -> dict[str, str]:
        """Headers this provider always sends (request ids)."""
        ...

    def retry_headers(self, behavior: Behavior) -> dict[str, str]:
        """Headers carrying the behaviour's retry hints (empty if they travel in the body)."""
        ...

    def render(self, exchange: Exchange) -> JSONObject:
        """The non-streamed response body."""
        ...

    def render_stream(self, exchange: Exchange) -> StreamScript:
        """The streamed response."""
        ...

    def error_body(self, status: int, behavior: Behavior, model: str, serial: int) -> JSONObject:
        """The provider's error body for an HTTP error status."""
        ...

    def stream_error(self, behavior: Behavior, serial: int) -> bytes:
        """The provider's framed mid-stream error event."""
        ...


def dump(obj: object) -> str:
    """Compact JSON, as providers send it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def sse(data: object, event: str | None = None, newline: str = "\n") -> bytes:
    """Frame one server-sent event; ``data`` that is not a string is JSON-encoded."""
    payload = data if isinstance(data, str) else dump(data)
    lines = [] if event is None else [f"event: {event}"]
    lines.extend(f"data: {line}" for line in payload.split("\n"))
    return (newline.join(lines) + newline + newline).encode()


def sse_comment(text: str) -> bytes:
    """Frame one SSE comment line (a keep-alive that parsers skip)."""
    return f": {text}\n\n".encode()


def ndjson(data: object) -> bytes:
    """Frame one newline-delimited JSON line."""
    return (dump(data) + "\n").encode()


def split_chunks(text: str) -> list[str]:
    """Split text into word-sized stream chunks that join back to exactly ``text``."""
    pieces: list[str] = re.findall(r"\s*\S+", text)
    rest = text[len("".join(pieces)) :]
    if pieces:
        pieces[-1] += rest
    elif rest:
        pieces.append(rest)
    return pieces


def split_even(text: str, parts: int = 3) -> list[str]:
    """Split text into at most ``parts`` non-empty pieces of similar length (tool-call fragments)."""
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def count_words(texts: list[str]) -> int:
    """Whitespace-separated words across ``texts``."""
    return sum(len(t.split()) for t in texts)


def collect_text(value: object) -> list[str]:
    """Text inside a message ``content``: a string, or blocks/parts with ``text``/``content``."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in collect_text(item)]
    if isinstance(value, dict):
        text = value.get("text")
        if isinstance(text, str):
            return [text]
        return collect_text(value.get("content"))
    return []


def format_number(value: float) -> str:
    """Render seconds for a header: ``"2"`` for whole numbers, ``"1.5"`` otherwise."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def header_retry_hints(behavior: Behavior) -> dict[str, str]:
    """``retry-after`` / ``retry-after-ms`` headers for the behaviour's hints."""
    headers: dict[str, str] = {}
    if behavior.retry_after is not None:
        headers["retry-after"] = format_number(behavior.retry_after)
    if behavior.retry_after_ms is not None:
        headers["retry-after-ms"] = format_number(behavior.retry_after_ms)
    return headers


def declared_tool(
    tools: object, name: object, schema_of: Callable[[JSONObject], object]
) -> tuple[str, JSONObject] | None:
    """The declared tool called `name` and its input schema (``{}`` when it has none)."""
    if not isinstance(tools, list) or not isinstance(name, str):
        return None
    for tool in tools:
        if isinstance(tool, dict) and tool.get("name") == name:
            schema = schema_of(tool)
            return name, schema if isinstance(schema, dict) else {}
    return None
