"""OpenAI Chat Completions wire format (also every OpenAI-compatible prefix)."""

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

# status → (error.type, error.code, error.message); "{model}" is filled in.
_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("request_forbidden", None, "You are not allowed to access this resource."),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model `{model}` does not exist or you do not have access to it.",
    ),
    409: ("invalid_request_error", None, "The request conflicts with another request."),
    422: ("invalid_request_error", None, "The request could not be processed."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for {model} on requests per min (RPM). Please try again later.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    502: ("server_error", None, "Bad gateway."),
    503: (
        "server_error",
        "server_is_overloaded",
        "The engine is currently overloaded, please try again later.",
    ),
    504: ("server_error", "timeout", "Request timed out."),
}
_CLIENT_ERROR = ("invalid_request_error", None, "Invalid request.")
_SERVER_ERROR = _ERRORS[500]
# What a mid-stream error looks like when the behaviour does not say.
_STREAM_ERROR_STATUS = 500

_NO_KEY = Behavior(
    status=401,
    error_type="invalid_request_error",
    error_code="invalid_api_key",
    error_message=(
        "You didn't provide an API key. You need to provide your API key in an Authorization "
        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
    ),
)


def _missing(name: str) -> Behavior:
    return Behavior(
        status=400,
        error_type="invalid_request_error",
        error_code="missing_required_parameter",
        error_message=f"Missing required parameter: '{name}'.",
    )


def _invalid(name: str, expected: str) -> Behavior:
    return Behavior(
        status=400,
        error_type="invalid_request_error",
        error_code="invalid_type",
        error_message=f"Invalid type for '{name}': expected {expected}.",
    )


class OpenAIDialect:
    """Speaks ``POST {prefix}/v1/chat/completions``."""

    retry_hint_in_headers = True

    def check_auth(self, headers: Mapping[str, str]) -> Behavior | None:
        """Require ``Authorization: Bearer <non-empty>``."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return None
        return _NO_KEY

    def validate(self, route: Route, body: JSONObject) -> Behavior | None:
        """Require a string ``model`` and a non-empty ``messages`` list."""
        for name in ("model", "messages"):
            if name not in body:
                return _missing(name)
        if not isinstance(body["model"], str):
            return _invalid("model", "a string")
        if not isinstance(body["messages"], list) or not body["messages"]:
            return _invalid("messages", "a non-empty array")
        return None

    def wants_stream(self, route: Route, body: JSONObject) -> bool:
        """``"stream": true`` in the body."""
        return body.get("stream") is True

    def message_text(self, body: JSONObject) -> list[str]:
        """Text of every message's ``content`` (strings or text parts)."""
        messages = body.get("messages")
        if not isinstance(messages, list):
            return []
        return [t for m in messages if isinstance(m, dict) for t in collect_text(m.get("content"))]

    def response_headers(self, serial: int) -> dict[str, str]:
        """``x-request-id``, as OpenAI sends on every response."""
        return {"x-request-id": f"req_fake{serial:06d}"}

    def render(self, exchange: Exchange) -> JSONObject:
        """A ``chat.completion`` object."""
        return {
            "id": _completion_id(exchange),
            "object": "chat.completion",
            "created": exchange.created,
            "model": exchange.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": exchange.text,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": exchange.finish_reason or "stop",
                }
            ],
            "usage": _usage(exchange),
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }

    def render_stream(self, exchange: Exchange) -> StreamScript:
        """``chat.completion.chunk`` events, an optional usage chunk and ``[DONE]``."""
        options = exchange.body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True

        def chunk(choices: list[JSONObject], usage: JSONObject | None = None) -> bytes:
            data: JSONObject = {
                "id": _completion_id(exchange),
                "object": "chat.completion.chunk",
                "created": exchange.created,
                "model": exchange.model,
                "service_tier": "default",
                "system_fingerprint": "fp_fake",
                "choices": choices,
            }
            if include_usage:
                data["usage"] = usage
            return sse(data)

        def choice(delta: JSONObject, finish_reason: str | None = None) -> JSONObject:
            return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

        head = (chunk([choice({"role": "assistant", "content": "", "refusal": None})]),)
        content = tuple(chunk([choice({"content": piece})]) for piece in split_chunks(exchange.text))
        tail = [chunk([choice({}, exchange.finish_reason or "stop")])]
        if include_usage:
            tail.append(chunk([], _usage(exchange)))
        tail.append(sse("[DONE]"))
        return StreamScript(head=head, content=content, tail=tuple(tail))

    def error_body(self, status: int, behavior: Behavior, model: str, serial: int) -> JSONObject:
        """``{"error": {"message", "type", "param", "code"}}``."""
        return {"error": _error_object(status, behavior, model)}

    def stream_error(self, behavior: Behavior, serial: int) -> bytes:
        """A ``data: {"error": {...}}`` event without ``choices``."""
        return sse({"error": _error_object(_STREAM_ERROR_STATUS, behavior, "")})


def _completion_id(exchange: Exchange) -> str:
    return f"chatcmpl-fake{exchange.serial:06d}"


def _usage(exchange: Exchange) -> JSONObject:
    return {
        "prompt_tokens": exchange.input_tokens,
        "completion_tokens": exchange.output_tokens,
        "total_tokens": exchange.input_tokens + exchange.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _error_object(status: int, behavior: Behavior, model: str) -> JSONObject:
    fallback = _CLIENT_ERROR if status < 500 else _SERVER_ERROR
    error_type, code, message = _ERRORS.get(status, fallback)
    return {
        "message": behavior.error_message or message.replace("{model}", model),
        "type": behavior.error_type or error_type,
        "param": None,
        "code": behavior.error_code if behavior.error_code is not None else code,
    }
