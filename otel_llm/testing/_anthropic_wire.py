"""Anthropic Messages wire format."""

from __future__ import annotations

from collections.abc import Mapping

from otel_llm.testing._behavior import Behavior
from otel_llm.testing._wire import (
    EVENT_STREAM,
    Exchange,
    JSONObject,
    Route,
    StreamScript,
    collect_text,
    declared_tool,
    header_retry_hints,
    split_chunks,
    split_even,
    sse,
)

# status → (error.type, error.message); "{model}" is filled in.
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
    403: (
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    404: ("not_found_error", "model: {model}"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: (
        "rate_limit_error",
        "This request would exceed the rate limit for your organization. Please try again later.",
    ),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}
_CLIENT_ERROR = _ERRORS[400]
_SERVER_ERROR = _ERRORS[500]
# Anthropic's typical mid-stream failure is an overload (reference §11).
_STREAM_ERROR_STATUS = 529

_NO_KEY = Behavior(
    status=401, error_type="authentication_error", error_message="x-api-key header is required"
)


def _invalid(message: str) -> Behavior:
    return Behavior(status=400, error_type="invalid_request_error", error_message=message)


class AnthropicDialect:
    """Speaks ``POST /anthropic/v1/messages``."""

    stream_content_type = EVENT_STREAM

    @property
    def keep_alive_event(self) -> bytes | None:
        """A ``ping`` event."""
        return _event("ping")

    def check_auth(self, headers: Mapping[str, str]) -> Behavior | None:
        """Require a non-empty ``x-api-key`` or ``Authorization: Bearer`` token.

        The official SDK (2.x) sends API keys as bearer tokens; ``anthropic-version`` is
        recorded, not required.
        """
        if headers.get("x-api-key", "").strip():
            return None
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return None
        return _NO_KEY

    def validate(self, route: Route, body: JSONObject) -> Behavior | None:
        """Require ``model``, ``max_tokens`` and ``messages``, as the real API does."""
        for name in ("model", "max_tokens", "messages"):
            if name not in body:
                return _invalid(f"{name}: Field required")
        if not isinstance(body["model"], str):
            return _invalid("model: Input should be a valid string")
        max_tokens = body["max_tokens"]
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            return _invalid("max_tokens: Input should be a positive integer")
        if not isinstance(body["messages"], list) or not body["messages"]:
            return _invalid("messages: at least one message is required")
        return None

    def wants_stream(self, route: Route, body: JSONObject) -> bool:
        """``"stream": true`` in the body."""
        return body.get("stream") is True

    def message_text(self, body: JSONObject) -> list[str]:
        """Text of ``system`` and of every message's content blocks."""
        texts = collect_text(body.get("system"))
        messages = body.get("messages")
        if isinstance(messages, list):
            texts += [t for m in messages if isinstance(m, dict) for t in collect_text(m.get("content"))]
        return texts

    def forced_tool(self, body: JSONObject) -> tuple[str, JSONObject] | None:
        """``tool_choice: {"type": "tool", "name"}``, answered like the real API: with that tool's call."""
        choice = body.get("tool_choice")
        if not isinstance(choice, dict) or choice.get("type") != "tool":
            return None
        return declared_tool(body.get("tools"), choice.get("name"), lambda tool: tool.get("input_schema"))

    def requested_json(self, body: JSONObject) -> JSONObject | None:
        """``output_config.format`` (or the beta ``output_format``) of type ``json_schema``."""
        config = body.get("output_config")
        spec = config.get("format") if isinstance(config, dict) else body.get("output_format")
        if isinstance(spec, dict) and spec.get("type") == "json_schema":
            schema = spec.get("schema")
            return schema if isinstance(schema, dict) else {}
        return None

    def response_headers(self, serial: int) -> dict[str, str]:
        """``request-id``, as Anthropic sends on every response."""
        return {"request-id": _request_id(serial)}

    def retry_headers(self, behavior: Behavior) -> dict[str, str]:
        """``retry-after`` (and ``retry-after-ms`` when scripted)."""
        return header_retry_hints(behavior)

    def render(self, exchange: Exchange) -> JSONObject:
        """A ``message`` object."""
        content: list[JSONObject] = [{"type": "text", "text": exchange.text}] if exchange.text else []
        content += [
            _tool_use(exchange, index, call.arguments) for index, call in enumerate(exchange.tool_calls)
        ]
        message: JSONObject = {
            "id": _message_id(exchange),
            "type": "message",
            "role": "assistant",
            "model": exchange.model,
            "content": content,
            "stop_reason": _stop_reason(exchange),
            "stop_sequence": None,
        }
        if not exchange.omit_usage:
            message["usage"] = {
                **_input_usage(exchange),
                "output_tokens": exchange.output_tokens,
                "service_tier": "standard",
            }
        return message

    def render_stream(self, exchange: Exchange) -> StreamScript:
        """``message_start`` … ``content_block_delta`` … ``message_stop``.

        Each content block (text, then one per tool call) is a start event, deltas and a stop
        event; the start and stop events of later blocks ride on their first delta's segment, so
        ``cut_stream_after`` and ``stream_error_after`` count deltas only.
        """
        message: JSONObject = {
            "id": _message_id(exchange),
            "type": "message",
            "role": "assistant",
            "model": exchange.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
        }
        if not exchange.omit_usage:
            message["usage"] = {**_input_usage(exchange), "output_tokens": min(1, exchange.output_tokens)}
        blocks: list[tuple[JSONObject, list[JSONObject]]] = []
        if exchange.text:
            deltas = [{"type": "text_delta", "text": piece} for piece in split_chunks(exchange.text)]
            blocks.append(({"type": "text", "text": ""}, deltas))
        for call_index, call in enumerate(exchange.tool_calls):
            fragments = split_even(call.arguments_json())
            deltas = [{"type": "input_json_delta", "partial_json": f} for f in fragments]
            blocks.append((_tool_use(exchange, call_index, {}), deltas))
        head = [_event("message_start", message=message)]
        content: list[bytes] = []
        for index, (block, deltas) in enumerate(blocks):
            start = _event("content_block_start", index=index, content_block=block)
            events = [_event("content_block_delta", index=index, delta=delta) for delta in deltas]
            if index == 0:
                head += [start, _event("ping")]
            else:
                events[0] = _event("content_block_stop", index=index - 1) + start + events[0]
            content += events
        if not blocks:
            head.append(_event("ping"))
        tail = [_event("content_block_stop", index=len(blocks) - 1)] if blocks else []
        delta_event: JSONObject = {"stop_reason": _stop_reason(exchange), "stop_sequence": None}
        usage = (
            {}
            if exchange.omit_usage
            else {
                # Cumulative, like the real API: the last message_delta carries the totals.
                "usage": {**_input_usage(exchange), "output_tokens": exchange.output_tokens}
            }
        )
        tail.append(_event("message_delta", delta=delta_event, **usage))
        tail.append(_event("message_stop"))
        return StreamScript(head=tuple(head), content=tuple(content), tail=tuple(tail))

    def error_body(self, status: int, behavior: Behavior, model: str, serial: int) -> JSONObject:
        """``{"type": "error", "error": {"type", "message"}, "request_id"}``."""
        return {
            "type": "error",
            "error": _error_object(status, behavior, model),
            "request_id": _request_id(serial),
        }

    def stream_error(self, behavior: Behavior, serial: int) -> bytes:
        """An ``event: error`` (defaults to ``overloaded_error``)."""
        error = _error_object(_STREAM_ERROR_STATUS, behavior, "")
        return sse({"type": "error", "error": error}, event="error")


def _stop_reason(exchange: Exchange) -> str:
    if exchange.finish_reason:
        return exchange.finish_reason
    return "tool_use" if exchange.tool_calls else "end_turn"


def _tool_use(exchange: Exchange, call_index: int, tool_input: JSONObject) -> JSONObject:
    call = exchange.tool_calls[call_index]
    return {
        "type": "tool_use",
        "id": call.call_id("toolu_", exchange.serial, call_index),
        "name": call.name,
        "input": tool_input,
    }


def _event(event_type: str, **fields: object) -> bytes:
    return sse({"type": event_type, **fields}, event=event_type)


def _request_id(serial: int) -> str:
    return f"req_fake{serial:06d}"


def _message_id(exchange: Exchange) -> str:
    return f"msg_fake{exchange.serial:06d}"


def _input_usage(exchange: Exchange) -> JSONObject:
    return {
        "input_tokens": exchange.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _error_object(status: int, behavior: Behavior, model: str) -> JSONObject:
    error_type, message = _ERRORS.get(status, _CLIENT_ERROR if status < 500 else _SERVER_ERROR)
    error: JSONObject = {
        "type": behavior.error_type or error_type,
        "message": behavior.error_message or message.replace("{model}", model),
    }
    if behavior.error_code is not None:
        error["details"] = {"error_code": behavior.error_code}
    return error
