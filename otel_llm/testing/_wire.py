"""What every provider dialect shares: the exchange it answers, stream scripts, text helpers."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from otel_llm.testing._behavior import Behavior

# JSON decoded from or encoded to the wire has no static shape.
JSONObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Route:
    """Where a request path points: provider key, dialect and what the path itself says.

    Attributes:
        provider: Provider key (the first path segment).
        dialect: Wire format spoken on this route.
        model: Model named by the path (Gemini), else ``None``.
        action: Path-level operation (Gemini ``generateContent``/``streamGenerateContent``).
        query: Decoded query parameters, last value wins.
    """

    provider: str
    dialect: Dialect
    model: str | None = None
    action: str | None = None
    query: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Exchange:
    """Everything a dialect needs to render one successful reply.

    Attributes:
        provider: Provider key of the route.
        model: Requested model.
        body: The decoded request body.
        text: Reply text.
        finish_reason: Provider-native finish reason override, or ``None`` for normal stop.
        input_tokens: Words in the request's message text (at least 1).
        output_tokens: Words in the reply text.
        serial: Server-wide request number, used to build deterministic ids.
        created: Unix time of the reply.
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


@dataclass(frozen=True, slots=True)
class StreamScript:
    """A stream as framed byte segments, split where truncation and errors may strike.

    Attributes:
        head: Events before the first content chunk (role chunk, ``message_start``, ...).
        content: One event per content chunk; ``cut_stream_after``/``stream_error_after`` count these.
        tail: Events after the content, ending with the terminal event.
    """

    head: tuple[bytes, ...]
    content: tuple[bytes, ...]
    tail: tuple[bytes, ...]


class Dialect(Protocol):
    """One provider wire format, as spoken by the fake server."""

    retry_hint_in_headers: bool

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
        """Every piece of message text in the request (for deterministic token counts)."""
        ...

    def response_headers(self, serial: int) -> dict[str, str]:
        """Headers this provider always sends (request ids)."""
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


def split_chunks(text: str) -> list[str]:
    """Split text into word-sized stream chunks that join back to exactly ``text``."""
    pieces: list[str] = re.findall(r"\s*\S+", text)
    rest = text[len("".join(pieces)) :]
    if pieces:
        pieces[-1] += rest
    elif rest:
        pieces.append(rest)
    return pieces


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
