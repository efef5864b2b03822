"""Anthropic Messages wire format."""

from __future__ import annotations

from collections.abc import Mapping

from otel_llm.testing._behavior import Behavior
from otel_llm.testing._wire import (
    Exchange,
    JSONObject,
    Route,
    StreamScript,
    collect_text,
    split_chunks,
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

    retry_hint_in_headers = True

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

    def response_headers(self, serial: int) -> dict[str, str]:
        """``request-id``, as Anthropic sends on every response."""
        return {"request-id": _request_id(serial)}

    def render(self, exchange: Exchange) -> JSONObject:
        """A ``message`` object."""
        return {
            "id": _message_id(exchange),
            "type": "message",
            "role": "assistant",
            "model": exchange.model,
            "content": [{"type": "text", "text": exchange.text}] if exchange.text else [],
            "stop_reason": exchange.finish_reason or "end_turn",
            "stop_sequence": None,
            "usage": {
                **_input_usage(exchange),
                "output_tokens": exchange.output_tokens,
                "service_tier": "standard",
            },
        }

    def render_stream(self, exchange: Exchange) -> StreamScript:
        """``message_start`` … ``content_block_delta`` … ``message_stop``."""
        message: JSONObject = {
            "id": _message_id(exchange),
            "type": "message",
            "role": "assistant",
            "model": exchange.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**_input_usage(exchange), "output_tokens": min(1, exchange.output_tokens)},
        }
        pieces = split_chunks(exchange.text)
        head = [_event("message_start", message=message)]
        if pieces:
            block = {"type": "text", "text": ""}
            head.append(_event("content_block_start", index=0, content_block=block))
        head.append(_event("ping"))
        content = tuple(
            _event("content_block_delta", index=0, delta={"type": "text_delta", "text": piece})
            for piece in pieces
        )
        tail = [_event("content_block_stop", index=0)] if pieces else []
        tail.append(
            _event(
                "message_delta",
                delta={"stop_reason": exchange.finish_reason or "end_turn", "stop_sequence": None},
                # Cumulative, like the real API: the last message_delta carries the totals.
                usage={**_input_usage(exchange), "output_tokens": exchange.output_tokens},
            )
        )
        tail.append(_event("message_stop"))
        return StreamScript(head=tuple(head), content=content, tail=tuple(tail))

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
