"""Ollama native ``/api/chat`` wire format: NDJSON streams, durations in nanoseconds."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from otel_llm.testing._behavior import Behavior
from otel_llm.testing._wire import (
    Exchange,
    JSONObject,
    Route,
    StreamScript,
    collect_text,
    header_retry_hints,
    ndjson,
    split_chunks,
)

NDJSON = "application/x-ndjson"
# status → message; "{model}" is filled in.
_ERRORS: dict[int, str] = {
    400: "invalid request",
    401: "unauthorized",
    403: "forbidden",
    404: 'model "{model}" not found, try pulling it first',
    429: "too many requests",
    500: "an error was encountered while running the model: unexpected EOF",
    503: "server busy, please try again.  maximum pending requests exceeded",
}
_STREAM_ERROR_STATUS = 500
# Synthetic timings (nanoseconds), deterministic so tests can assert them.
LOAD_DURATION = 1_000_000
PROMPT_EVAL_NS_PER_TOKEN = 1_000_000
EVAL_NS_PER_TOKEN = 10_000_000


def _invalid(message: str) -> Behavior:
    return Behavior(status=400, error_message=message)


class OllamaDialect:
    """Speaks ``POST /ollama/api/chat``; no credentials needed, streams unless ``"stream": false``."""

    stream_content_type = NDJSON
    keep_alive_event: bytes | None = None

    def check_auth(self, headers: Mapping[str, str]) -> Behavior | None:
        """A local Ollama needs no key."""
        return None

    def validate(self, route: Route, body: JSONObject) -> Behavior | None:
        """Require a string ``model``; ``messages``, when present, must be a list."""
        if not isinstance(body.get("model"), str) or not body["model"]:
            return _invalid("model is required")
        if not isinstance(body.get("messages", []), list):
            return _invalid("messages must be an array")
        return None

    def wants_stream(self, route: Route, body: JSONObject) -> bool:
        """Streaming is the default: only ``"stream": false`` asks for one object."""
        return body.get("stream") is not False

    def message_text(self, body: JSONObject) -> list[str]:
        """Text of every message's ``content``."""
        messages = body.get("messages")
        if not isinstance(messages, list):
            return []
        return [t for m in messages if isinstance(m, dict) for t in collect_text(m.get("content"))]

    def forced_tool(self, body: JSONObject) -> tuple[str, JSONObject] | None:
        """Not modelled for this wire format: scripted ``Behavior.tool_calls`` only."""
        return None

    def requested_json(self, body: JSONObject) -> JSONObject | None:
        """``format: "json"`` (any JSON) or ``format: <JSON schema>``."""
        value = body.get("format")
        if value == "json":
            return {}
        return value if isinstance(value, dict) else None

    def response_headers(self, serial: int) -> dict[str, str]:
        """No provider-specific headers."""
        return {}

    def retry_headers(self, behavior: Behavior) -> dict[str, str]:
        """``retry-after`` when scripted."""
        return header_retry_hints(behavior)

    def render(self, exchange: Exchange) -> JSONObject:
        """The single, final chat object."""
        return _final(exchange, exchange.text, with_calls=True)

    def render_stream(self, exchange: Exchange) -> StreamScript:
        """One object per chunk, tool calls whole in one object, then the ``done: true`` object."""
        content = [
            ndjson(_chunk(exchange, _message(exchange, piece))) for piece in split_chunks(exchange.text)
        ]
        if exchange.tool_calls:
            content.append(ndjson(_chunk(exchange, _message(exchange, "", with_calls=True))))
        return StreamScript(head=(), content=tuple(content), tail=(ndjson(_final(exchange, "")),))

    def error_body(self, status: int, behavior: Behavior, model: str, serial: int) -> JSONObject:
        """``{"error": "..."}``."""
        return {"error": _message_for(status, behavior, model)}

    def stream_error(self, behavior: Behavior, serial: int) -> bytes:
        """An NDJSON ``{"error": "..."}`` line."""
        return ndjson({"error": _message_for(_STREAM_ERROR_STATUS, behavior, "")})


def created_at(exchange: Exchange) -> str:
    """RFC 3339 time with a ``Z``, as Ollama writes it."""
    moment = datetime.datetime.fromtimestamp(exchange.created, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def _message(exchange: Exchange, text: str, *, with_calls: bool = False) -> JSONObject:
    message: JSONObject = {"role": "assistant", "content": text}
    if with_calls and exchange.tool_calls:
        message["tool_calls"] = [
            {"function": {"name": call.name, "arguments": call.arguments}} for call in exchange.tool_calls
        ]
    return message


def _chunk(exchange: Exchange, message: JSONObject) -> JSONObject:
    return {"model": exchange.model, "created_at": created_at(exchange), "message": message, "done": False}


def _final(exchange: Exchange, text: str, *, with_calls: bool = False) -> JSONObject:
    prompt_eval = exchange.input_tokens * PROMPT_EVAL_NS_PER_TOKEN
    evaluation = exchange.output_tokens * EVAL_NS_PER_TOKEN
    final: JSONObject = {
        "model": exchange.model,
        "created_at": created_at(exchange),
        "message": _message(exchange, text, with_calls=with_calls),
        "done": True,
        "done_reason": exchange.finish_reason or "stop",
        "total_duration": LOAD_DURATION + prompt_eval + evaluation,
        "load_duration": LOAD_DURATION,
    }
    if not exchange.omit_usage:
        final["prompt_eval_count"] = exchange.input_tokens
    final["prompt_eval_duration"] = prompt_eval
    if not exchange.omit_usage:
        final["eval_count"] = exchange.output_tokens
    final["eval_duration"] = evaluation
    return final


def _message_for(status: int, behavior: Behavior, model: str) -> str:
    default = _ERRORS.get(status, _ERRORS[400] if status < 500 else _ERRORS[500])
    return behavior.error_message or default.replace("{model}", model)
