"""Anthropic Messages API (`POST /v1/messages`).

Wire reference: docs.anthropic.com/en/api/messages and .../messages-streaming. Anthropic's `input_tokens`
excludes cache reads and writes, so normalised input is the sum of all three (GenAI semconv rule).
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from otel_llm._exceptions import ErrorKind, ProviderError
from otel_llm._types import ChatChunk, ChatRequest, ChatResponse, EmbeddingsRequest, StreamEvent, Usage
from otel_llm.providers._base import (
    EndpointProvider,
    MalformedResponse,
    add_counts,
    arr,
    decode_json,
    encode_json,
    error_for_status,
    obj,
    opt_int,
    opt_str,
    parsing,
    provider_error,
)

API_VERSION = "2023-06-01"
# Anthropic requires max_tokens; this default applies only when the caller sets none.
DEFAULT_MAX_TOKENS = 1024

_FINISH_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_call",
    "refusal": "content_filter",
}

_ERROR_TYPES: Mapping[str, ErrorKind] = {
    "overloaded_error": "overloaded",
    "rate_limit_error": "rate_limit",
    "authentication_error": "auth",
    "permission_error": "auth",
    "not_found_error": "not_found",
    "request_too_large": "context_length",
    "billing_error": "quota_exhausted",
    "api_error": "server_error",
    "timeout_error": "server_error",
}


class AnthropicMessages(EndpointProvider):
    """Messages API over `{base_url}/v1/messages` with an `x-api-key` header."""

    def build_request(self, request: ChatRequest) -> httpx.Request:
        """Translate a chat request; system messages move to the top-level `system` field."""
        system = "\n\n".join(m.text for m in request.messages if m.role == "system")
        body: dict[str, object] = {
            "model": request.model,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            "messages": [
                {"role": m.role, "content": m.content} for m in request.messages if m.role != "system"
            ],
        }
        optional = {
            "system": system or None,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stop_sequences": list(request.stop) if request.stop else None,
            "stream": True if request.stream else None,
        }
        body.update((k, v) for k, v in optional.items() if v is not None)
        headers = {
            "content-type": "application/json",
            "anthropic-version": API_VERSION,
            "x-otel-llm-attempt": str(request.attempt),
        }
        if self._api_key:
            headers["x-api-key"] = self._api_key
        return httpx.Request("POST", self._url("/v1/messages"), headers=headers, content=encode_json(body))

    def parse_response(self, response: httpx.Response, request: ChatRequest) -> ChatResponse:
        """Parse a `message` object."""
        with parsing(self.name, request, response.status_code, response.content):
            payload = obj(decode_json(response.content), "body")
            texts = []
            for i, raw_block in enumerate(arr(payload.get("content"), "content")):
                block = obj(raw_block, f"content[{i}]")
                if block.get("type") == "text":
                    texts.append(opt_str(block.get("text"), f"content[{i}].text") or "")
            reason = opt_str(payload.get("stop_reason"), "stop_reason")
            return ChatResponse(
                text="".join(texts),
                model=opt_str(payload.get("model"), "model"),
                id=opt_str(payload.get("id"), "id"),
                finish_reasons=(_FINISH_REASONS.get(reason, reason),) if reason else (),
                usage=_usage(payload.get("usage")),
            )

    def parse_stream_event(self, event: StreamEvent, request: ChatRequest) -> ChatChunk | None:
        """Parse one event of the `message_start` ... `message_stop` sequence."""
        kind = event.event
        if kind in ("ping", "content_block_start", "content_block_stop"):
            return None
        payload = obj(decode_json(event.data, "stream event"), "stream event")
        kind = kind or opt_str(payload.get("type"), "type")
        if kind == "message_start":
            message = obj(payload.get("message"), "message")
            return ChatChunk(
                id=opt_str(message.get("id"), "message.id"),
                model=opt_str(message.get("model"), "message.model"),
                usage=_usage(message.get("usage")),
            )
        if kind == "content_block_delta":
            delta = obj(payload.get("delta"), "delta")
            if delta.get("type") == "text_delta":
                return ChatChunk(delta=opt_str(delta.get("text"), "delta.text") or "")
            return None
        if kind == "message_delta":
            delta = obj(payload.get("delta", {}), "delta")
            reason = opt_str(delta.get("stop_reason"), "delta.stop_reason")
            # message_delta usage is cumulative and may omit input counts: merged by the accumulator.
            raw_usage = payload.get("usage")
            return ChatChunk(
                finish_reason=_FINISH_REASONS.get(reason, reason) if reason else None,
                usage=_usage(raw_usage) if raw_usage is not None else None,
            )
        if kind == "message_stop":
            return ChatChunk(final=True)
        if kind == "error":
            error = obj(payload.get("error"), "error")
            error_type = opt_str(error.get("type"), "error.type") or ""
            raise provider_error(
                _ERROR_TYPES.get(error_type, "server_error"),
                opt_str(error.get("message"), "error.message") or error_type,
                provider=self.name,
                model=request.model,
            )
        return None  # event types added after this module was written carry nothing we use

    def classify_error(
        self, response: httpx.Response, request: ChatRequest | EmbeddingsRequest
    ) -> ProviderError:
        """Classify `{"type": "error", "error": {"type", "message"}}` bodies."""
        message, kind = "", None
        try:
            error = obj(obj(decode_json(response.content), "body").get("error"), "error")
        except MalformedResponse:
            error = {}
        error_type = error.get("type")
        if isinstance(error_type, str):
            kind = _ERROR_TYPES.get(error_type)
        details = error.get("details")
        if isinstance(details, dict) and details.get("error_code") == "enforced_spend_limit_reached":
            kind = "quota_exhausted"  # a 429 that no wait will fix
        if isinstance(error.get("message"), str):
            message = str(error["message"])
            if kind is None and "prompt is too long" in message:
                kind = "context_length"
        return error_for_status(response, request, self.name, message, kind)


def _usage(raw: object) -> Usage:
    if raw is None:
        return Usage()
    usage = obj(raw, "usage")
    uncached = opt_int(usage.get("input_tokens"), "usage.input_tokens")
    cache_read = opt_int(usage.get("cache_read_input_tokens"), "usage.cache_read_input_tokens")
    cache_write = opt_int(usage.get("cache_creation_input_tokens"), "usage.cache_creation_input_tokens")
    return Usage(
        input_tokens=add_counts(uncached, cache_read, cache_write),
        output_tokens=opt_int(usage.get("output_tokens"), "usage.output_tokens"),
        cache_read_input_tokens=cache_read,
        cache_write_input_tokens=cache_write,
    )
