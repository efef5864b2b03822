"""OpenAI Chat Completions wire format (also every OpenAI-compatible prefix and its quirks)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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
    sse_comment,
)

# status → (error.type, error.code, error.message); "{model}" is filled in.
ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    402: ("insufficient_credits", None, "Insufficient credits."),
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
_SERVER_ERROR = ERRORS[500]
# What a mid-stream error looks like when the behaviour does not say.
STREAM_ERROR_STATUS = 500
# OpenRouter-style usage.cost: USD per token for input and output.
_COST_PER_INPUT_TOKEN = 1e-6
_COST_PER_OUTPUT_TOKEN = 2e-6

_NO_KEY = Behavior(
    status=401,
    error_type="invalid_request_error",
    error_code="invalid_api_key",
    error_message=(
        "You didn't provide an API key. You need to provide your API key in an Authorization "
        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
    ),
)


@dataclass(frozen=True, slots=True)
class Quirks:
    """How an OpenAI-compatible provider departs from OpenAI (reference §4).

    Attributes:
        auth_required: Reject requests without a bearer token.
        usage_in_finish_chunk: Streams carry usage on the ``finish_reason`` chunk, unasked.
        always_stream_usage: Streams always end with a usage chunk, ``include_usage`` or not.
        usage_cost: Usage has ``cost`` (USD) and ``cost_details``, like OpenRouter.
        groq_usage: Streams carry usage in ``x_groq.usage`` on the finish chunk.
        deepseek_cache: Usage has ``prompt_cache_hit_tokens``/``prompt_cache_miss_tokens``.
        keep_alive_comment: Text of the SSE comment sent as a keep-alive.
        openrouter_errors: Error bodies are ``{"error": {"code": <status>, "message", "metadata"}}``.
    """

    auth_required: bool = True
    usage_in_finish_chunk: bool = False
    always_stream_usage: bool = False
    usage_cost: bool = False
    groq_usage: bool = False
    deepseek_cache: bool = False
    keep_alive_comment: str = "keep-alive"
    openrouter_errors: bool = False


QUIRKS: dict[str, Quirks] = {
    "openrouter": Quirks(
        always_stream_usage=True,
        usage_cost=True,
        keep_alive_comment="OPENROUTER PROCESSING",
        openrouter_errors=True,
    ),
    "together": Quirks(usage_in_finish_chunk=True),
    "mistral": Quirks(usage_in_finish_chunk=True),
    "groq": Quirks(groq_usage=True),
    "deepseek": Quirks(deepseek_cache=True),
    "ollama": Quirks(auth_required=False),
    "vllm": Quirks(auth_required=False),
}


def missing(name: str) -> Behavior:
    """The 400 for a missing required body field."""
    return Behavior(
        status=400,
        error_type="invalid_request_error",
        error_code="missing_required_parameter",
        error_message=f"Missing required parameter: '{name}'.",
    )


def invalid(name: str, expected: str) -> Behavior:
    """The 400 for a body field of the wrong type."""
    return Behavior(
        status=400,
        error_type="invalid_request_error",
        error_code="invalid_type",
        error_message=f"Invalid type for '{name}': expected {expected}.",
    )


class OpenAIDialect:
    """Speaks ``POST {prefix}/v1/chat/completions``.

    Args:
        quirks: The provider's departures from OpenAI.
    """

    stream_content_type = EVENT_STREAM

    def __init__(self, quirks: Quirks | None = None) -> None:
        self.quirks = quirks or Quirks()

    @property
    def keep_alive_event(self) -> bytes | None:
        """An SSE comment."""
        return sse_comment(self.quirks.keep_alive_comment)

    def check_auth(self, headers: Mapping[str, str]) -> Behavior | None:
        """Require ``Authorization: Bearer <non-empty>`` (unless the provider needs no key)."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if not self.quirks.auth_required or (scheme.lower() == "bearer" and token.strip()):
            return None
        return _NO_KEY

    def validate_route(self, route: Route) -> Behavior | None:
        """Reject what the path or query lacks (nothing, except on Azure)."""
        return None

    def validate(self, route: Route, body: JSONObject) -> Behavior | None:
        """Require a string ``model`` and a non-empty ``messages`` list."""
        for name in ("model", "messages"):
            if name not in body:
                return missing(name)
        if not isinstance(body["model"], str):
            return invalid("model", "a string")
        if not isinstance(body["messages"], list) or not body["messages"]:
            return invalid("messages", "a non-empty array")
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

    def forced_tool(self, body: JSONObject) -> tuple[str, JSONObject] | None:
        """``tool_choice: {"type": "function", "function": {"name"}}``."""
        choice = body.get("tool_choice")
        function = choice.get("function") if isinstance(choice, dict) else None
        if not isinstance(function, dict):
            return None
        return declared_tool(
            [t.get("function") for t in body.get("tools", []) if isinstance(t, dict)]
            if isinstance(body.get("tools"), list)
            else None,
            function.get("name"),
            lambda tool: tool.get("parameters"),
        )

    def requested_json(self, body: JSONObject) -> JSONObject | None:
        """``response_format`` ``json_object`` (any JSON) or ``json_schema`` (its ``schema``)."""
        response_format = body.get("response_format")
        if not isinstance(response_format, dict):
            return None
        if response_format.get("type") == "json_object":
            return {}
        if response_format.get("type") == "json_schema":
            spec = response_format.get("json_schema")
            schema = spec.get("schema") if isinstance(spec, dict) else None
            return schema if isinstance(schema, dict) else {}
        return None

    def response_headers(self, serial: int) -> dict[str, str]:
        """``x-request-id``, as OpenAI sends on every response."""
        return {"x-request-id": f"req_fake{serial:06d}"}

    def retry_headers(self, behavior: Behavior) -> dict[str, str]:
        """``retry-after`` and ``retry-after-ms``."""
        return header_retry_hints(behavior)

    def render(self, exchange: Exchange) -> JSONObject:
        """A ``chat.completion`` object."""
        message: JSONObject = {
            "role": "assistant",
            "content": exchange.text if exchange.text or not exchange.tool_calls else None,
            "refusal": None,
            "annotations": [],
        }
        if exchange.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.call_id("call_", exchange.serial, index),
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json()},
                }
                for index, call in enumerate(exchange.tool_calls)
            ]
        choice: JSONObject = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": finish_reason(exchange),
        }
        self.decorate_choice(choice, exchange)
        body: JSONObject = {
            "id": _completion_id(exchange),
            "object": "chat.completion",
            "created": exchange.created,
            "model": exchange.model,
            "choices": [choice],
        }
        if not exchange.omit_usage:
            body["usage"] = self.usage(exchange)
        body.update(self.extra_fields(exchange))
        return body

    def render_stream(self, exchange: Exchange) -> StreamScript:
        """``chat.completion.chunk`` events, an optional usage chunk and ``[DONE]``."""
        quirks = self.quirks
        options = exchange.body.get("stream_options")
        asked = isinstance(options, dict) and options.get("include_usage") is True
        usage_chunk = not exchange.omit_usage and (asked or quirks.always_stream_usage)
        usage_on_finish = not exchange.omit_usage and quirks.usage_in_finish_chunk and not usage_chunk
        extra = self.extra_fields(exchange)

        def chunk(choices: list[JSONObject], usage: JSONObject | None = None, **more: object) -> bytes:
            data: JSONObject = {
                "id": _completion_id(exchange),
                "object": "chat.completion.chunk",
                "created": exchange.created,
                "model": exchange.model,
                **extra,
                "choices": choices,
            }
            if usage_chunk or usage is not None:
                data["usage"] = usage
            data.update(more)
            return sse(data)

        def choice(delta: JSONObject, finish_reason: str | None = None) -> JSONObject:
            result = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            self.decorate_choice(result, exchange, streamed=True)
            return result

        first_content = "" if exchange.text or not exchange.tool_calls else None
        head = (
            *self.stream_prelude(exchange),
            chunk([choice({"role": "assistant", "content": first_content, "refusal": None})]),
        )
        content = [chunk([choice({"content": piece})]) for piece in split_chunks(exchange.text)]
        for index, call in enumerate(exchange.tool_calls):
            opening = {
                "index": index,
                "id": call.call_id("call_", exchange.serial, index),
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            content.append(chunk([choice({"tool_calls": [opening]})]))
            content.extend(
                chunk([choice({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})])
                for fragment in split_even(call.arguments_json())
            )
        usage = self.usage(exchange)
        finish: JSONObject = {}
        if quirks.groq_usage and not exchange.omit_usage:
            finish["x_groq"] = {"id": f"req_fake{exchange.serial:06d}", "usage": usage}
        final = choice({}, finish_reason(exchange))
        tail = [chunk([final], usage if usage_on_finish else None, **finish)]
        if usage_chunk:
            tail.append(chunk([], usage))
        tail.append(sse("[DONE]"))
        return StreamScript(head=head, content=tuple(content), tail=tuple(tail))

    def error_body(self, status: int, behavior: Behavior, model: str, serial: int) -> JSONObject:
        """``{"error": {"message", "type", "param", "code"}}`` (OpenRouter: ``code`` = status)."""
        return {"error": self.error_object(status, behavior, model)}

    def stream_error(self, behavior: Behavior, serial: int) -> bytes:
        """A ``data: {"error": {...}}`` event (OpenRouter adds ``finish_reason: "error"``)."""
        data: JSONObject = {"error": self.error_object(STREAM_ERROR_STATUS, behavior, "")}
        if self.quirks.openrouter_errors:
            data["choices"] = [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]
        return sse(data)

    # Hooks for Azure and the OpenAI-compatible quirks.

    def decorate_choice(self, choice: JSONObject, exchange: Exchange, *, streamed: bool = False) -> None:
        """Add provider-specific fields to a choice (Azure content filter results)."""

    def stream_prelude(self, exchange: Exchange) -> tuple[bytes, ...]:
        """Events before the role chunk (Azure ``prompt_filter_results``)."""
        return ()

    def extra_fields(self, exchange: Exchange) -> JSONObject:
        """Top-level fields of responses and chunks besides the standard ones."""
        fields: JSONObject = {"service_tier": "default", "system_fingerprint": "fp_fake"}
        if self.quirks.openrouter_errors:
            fields["provider"] = "FakeUpstream"
        return fields

    def usage(self, exchange: Exchange) -> JSONObject:
        """The ``usage`` object, with the provider's extra fields."""
        usage: JSONObject = {
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
        if self.quirks.usage_cost:
            usage["cost"] = round(
                exchange.input_tokens * _COST_PER_INPUT_TOKEN
                + exchange.output_tokens * _COST_PER_OUTPUT_TOKEN,
                12,
            )
            usage["is_byok"] = False
            usage["cost_details"] = {"upstream_inference_cost": None}
            usage["prompt_tokens_details"]["cache_write_tokens"] = 0
        if self.quirks.deepseek_cache:
            usage["prompt_cache_hit_tokens"] = 0
            usage["prompt_cache_miss_tokens"] = exchange.input_tokens
        return usage

    def error_object(self, status: int, behavior: Behavior, model: str) -> JSONObject:
        """The object under ``"error"``."""
        fallback = _CLIENT_ERROR if status < 500 else _SERVER_ERROR
        error_type, code, message = ERRORS.get(status, fallback)
        text = behavior.error_message or message.replace("{model}", model)
        if self.quirks.openrouter_errors:
            error: JSONObject = {"code": status, "message": text}
            if status == 403:
                error["metadata"] = {
                    "reasons": ["violence"],
                    "flagged_input": "...",
                    "provider_name": "FakeUpstream",
                    "model_slug": model,
                }
            return error
        return {
            "message": text,
            "type": behavior.error_type or error_type,
            "param": None,
            "code": behavior.error_code if behavior.error_code is not None else code,
        }


def _completion_id(exchange: Exchange) -> str:
    return f"chatcmpl-fake{exchange.serial:06d}"


def finish_reason(exchange: Exchange) -> str:
    """The reply's ``finish_reason``: the scripted one, else ``tool_calls`` or ``stop``."""
    if exchange.finish_reason:
        return exchange.finish_reason
    return "tool_calls" if exchange.tool_calls else "stop"
