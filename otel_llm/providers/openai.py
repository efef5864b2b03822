"""OpenAI Chat Completions, also spoken by every OpenAI-compatible server (vLLM, Together, Groq, ...).

Wire reference: platform.openai.com API reference, `POST /v1/chat/completions`.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from otel_llm._exceptions import ErrorKind, ProviderError
from otel_llm._types import ChatChunk, ChatRequest, ChatResponse, SSEEvent, Usage
from otel_llm.providers._base import (
    EndpointProvider,
    MalformedResponse,
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

# https://platform.openai.com/docs/api-reference/chat/object (finish_reason)
_FINISH_REASONS: Mapping[str, str] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_call",
    "function_call": "tool_call",
    "content_filter": "content_filter",
    "error": "error",  # OpenRouter, mid-stream
}

# Structured `error.code` values that refine the status-based classification.
_ERROR_CODES: Mapping[str, ErrorKind] = {
    "insufficient_quota": "quota_exhausted",
    "context_length_exceeded": "context_length",
    "content_policy_violation": "content_filter",
    "content_filter": "content_filter",
    "model_not_found": "not_found",
    "invalid_api_key": "auth",
}


class OpenAIChat(EndpointProvider):
    """Chat Completions over `{base_url}/chat/completions` with a bearer key."""

    def build_request(self, request: ChatRequest) -> httpx.Request:
        """Translate a chat request into `POST /chat/completions`."""
        body: dict[str, object] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        optional = {
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": request.max_tokens,
            "stop": list(request.stop) if request.stop else None,
            "seed": request.seed,
        }
        body.update((k, v) for k, v in optional.items() if v is not None)
        if request.stream:
            # Without include_usage a stream reports no tokens at all; always ask for them.
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        headers = {"content-type": "application/json", "x-otel-llm-attempt": str(request.attempt)}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        return httpx.Request(
            "POST", self._url("/chat/completions"), headers=headers, content=encode_json(body)
        )

    def parse_response(self, response: httpx.Response, request: ChatRequest) -> ChatResponse:
        """Parse a `chat.completion` object."""
        with parsing(self.name, request, response.status_code, response.content):
            payload = obj(decode_json(response.content), "body")
            choices = arr(payload.get("choices"), "choices")
            texts: list[str] = []
            reasons: list[str] = []
            for i, raw_choice in enumerate(choices):
                choice = obj(raw_choice, f"choices[{i}]")
                message = obj(choice.get("message"), f"choices[{i}].message")
                texts.append(opt_str(message.get("content"), f"choices[{i}].message.content") or "")
                reason = opt_str(choice.get("finish_reason"), f"choices[{i}].finish_reason")
                if reason is not None:
                    reasons.append(_FINISH_REASONS.get(reason, reason))
            return ChatResponse(
                text=texts[0] if texts else "",
                model=opt_str(payload.get("model"), "model"),
                id=opt_str(payload.get("id"), "id"),
                finish_reasons=tuple(reasons),
                usage=_usage(payload.get("usage")),
            )

    def parse_stream_event(self, event: SSEEvent, request: ChatRequest) -> ChatChunk | None:
        """Parse one `chat.completion.chunk` event (or the `[DONE]` terminator)."""
        if event.data == "[DONE]":
            return ChatChunk(final=True)
        payload = obj(decode_json(event.data, "stream event"), "stream event")
        if "error" in payload:
            raise provider_error(
                _error_kind(payload) or "server_error",
                _error_message(payload),
                provider=self.name,
                model=request.model,
            )
        delta_text = ""
        finish: str | None = None
        # Azure sends chunks with `choices: []` (prompt filter results); the usage chunk has none too.
        for i, raw_choice in enumerate(arr(payload.get("choices", []), "choices")):
            choice = obj(raw_choice, f"choices[{i}]")
            if choice.get("index", 0) != 0:
                continue
            delta = obj(choice.get("delta", {}), f"choices[{i}].delta")
            delta_text = opt_str(delta.get("content"), "delta.content") or ""
            reason = opt_str(choice.get("finish_reason"), "finish_reason")
            finish = _FINISH_REASONS.get(reason, reason) if reason else None
        raw_usage = payload.get("usage")
        return ChatChunk(
            delta=delta_text,
            finish_reason=finish,
            usage=_usage(raw_usage) if raw_usage is not None else None,
            id=opt_str(payload.get("id"), "id"),
            model=opt_str(payload.get("model"), "model"),
        )

    def classify_error(self, response: httpx.Response, request: ChatRequest) -> ProviderError:
        """Classify `{"error": {"message", "type", "code"}}` bodies by status and code."""
        try:
            payload = obj(decode_json(response.content), "body")
        except MalformedResponse:
            payload = {}
        message = _error_message(payload) if "error" in payload else ""
        return error_for_status(response, request, self.name, message, _error_kind(payload))


def _error_kind(payload: Mapping[str, object]) -> ErrorKind | None:
    error = payload.get("error")
    if not isinstance(error, dict):
        return None
    for field in ("code", "type"):
        code = error.get(field)
        if isinstance(code, str) and code in _ERROR_CODES:
            return _ERROR_CODES[code]
    return None


def _error_message(payload: Mapping[str, object]) -> str:
    error = payload.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return str(error)[:200]


def _usage(raw: object) -> Usage:
    if raw is None:
        return Usage()
    usage = obj(raw, "usage")
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    prompt = obj(prompt_details, "usage.prompt_tokens_details")
    completion = obj(completion_details, "usage.completion_tokens_details")
    return Usage(
        input_tokens=opt_int(usage.get("prompt_tokens"), "usage.prompt_tokens"),
        output_tokens=opt_int(usage.get("completion_tokens"), "usage.completion_tokens"),
        cache_read_input_tokens=opt_int(prompt.get("cached_tokens"), "cached_tokens"),
        cache_write_input_tokens=opt_int(prompt.get("cache_write_tokens"), "cache_write_tokens"),
        reasoning_output_tokens=opt_int(completion.get("reasoning_tokens"), "reasoning_tokens"),
    )
