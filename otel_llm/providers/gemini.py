"""Google Gemini API `generateContent` / `streamGenerateContent?alt=sse` (Google AI Studio).

Wire reference: ai.google.dev/api/generate-content. The key travels in the `x-goog-api-key` header, never
in the query string (`?key=` leaks into logs and `url.full`). A prompt blocked by safety filters comes back
as HTTP 200 without candidates; that is a content-filter error, not a success. Thinking tokens are billed
as output but reported separately from `candidatesTokenCount`, so normalised output is their sum.
"""

from __future__ import annotations

import re
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

_FINISH_REASONS: Mapping[str, str] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
    "OTHER": "error",
}

_STATUSES: Mapping[str, ErrorKind] = {
    "UNAVAILABLE": "overloaded",
    "INTERNAL": "server_error",
    "DEADLINE_EXCEEDED": "server_error",
    "UNAUTHENTICATED": "auth",
    "PERMISSION_DENIED": "auth",
    "NOT_FOUND": "not_found",
    # Per-minute and per-day quotas share this status; only the error details tell them apart.
    "RESOURCE_EXHAUSTED": "rate_limit",
}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")  # google.protobuf.Duration in JSON: "37s", "1.5s"


class GeminiGenerateContent(EndpointProvider):
    """`{base_url}/models/{model}:generateContent` (base URL ends in the API version, e.g. `/v1beta`)."""

    def build_request(self, request: ChatRequest) -> httpx.Request:
        """Translate a chat request; system messages become `systemInstruction`."""
        system = [{"text": m.content} for m in request.messages if m.role == "system"]
        contents = [
            {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]}
            for m in request.messages
            if m.role != "system"
        ]
        config = {
            "temperature": request.temperature,
            "topP": request.top_p,
            "maxOutputTokens": request.max_tokens,
            "stopSequences": list(request.stop) if request.stop else None,
            "seed": request.seed,
        }
        body: dict[str, object] = {"contents": contents}
        if system:
            body["systemInstruction"] = {"parts": system}
        generation_config = {k: v for k, v in config.items() if v is not None}
        if generation_config:
            body["generationConfig"] = generation_config
        method = "streamGenerateContent?alt=sse" if request.stream else "generateContent"
        headers = {"content-type": "application/json", "x-otel-llm-attempt": str(request.attempt)}
        if self._api_key:
            headers["x-goog-api-key"] = self._api_key
        return httpx.Request(
            "POST",
            self._url(f"/models/{request.model}:{method}"),
            headers=headers,
            content=encode_json(body),
        )

    def parse_response(self, response: httpx.Response, request: ChatRequest) -> ChatResponse:
        """Parse a `GenerateContentResponse`; a blocked prompt raises a content-filter error."""
        with parsing(self.name, request, response.status_code, response.content):
            payload = obj(decode_json(response.content), "body")
            self._raise_if_blocked(payload, request)
            text, reasons = _candidates(payload)
            return ChatResponse(
                text=text,
                model=opt_str(payload.get("modelVersion"), "modelVersion"),
                id=opt_str(payload.get("responseId"), "responseId"),
                finish_reasons=reasons,
                usage=_usage(payload.get("usageMetadata")),
            )

    def parse_stream_event(self, event: StreamEvent, request: ChatRequest) -> ChatChunk | None:
        """Parse one streamed `GenerateContentResponse`; the one with a finish reason ends the stream."""
        payload = obj(decode_json(event.data, "stream event"), "stream event")
        if "error" in payload:
            status, message = _error_fields(payload)
            raise provider_error(
                _STATUSES.get(status, "server_error"), message, provider=self.name, model=request.model
            )
        self._raise_if_blocked(payload, request)
        text, reasons = _candidates(payload)
        raw_usage = payload.get("usageMetadata")
        return ChatChunk(
            delta=text,
            finish_reason=reasons[0] if reasons else None,
            usage=_usage(raw_usage) if raw_usage is not None else None,
            id=opt_str(payload.get("responseId"), "responseId"),
            model=opt_str(payload.get("modelVersion"), "modelVersion"),
            final=bool(reasons),
        )

    def classify_error(
        self, response: httpx.Response, request: ChatRequest | EmbeddingsRequest
    ) -> ProviderError:
        """Classify `{"error": {"code", "message", "status", "details"}}` bodies."""
        try:
            payload = obj(decode_json(response.content), "body")
        except MalformedResponse:
            payload = {}
        status, message = _error_fields(payload)
        kind = _STATUSES.get(status)
        details = str(payload.get("error", ""))
        if "API_KEY_INVALID" in details:
            kind = "auth"  # Gemini answers a bad key with 400 INVALID_ARGUMENT
        elif status == "RESOURCE_EXHAUSTED":
            kind = "quota_exhausted" if "PerDay" in details else "rate_limit"
        elif "exceeds the maximum number of tokens" in message:
            kind = "context_length"
        return error_for_status(response, request, self.name, message, kind, _retry_delay(payload))

    def _raise_if_blocked(self, payload: Mapping[str, object], request: ChatRequest) -> None:
        feedback = payload.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason") and not payload.get("candidates"):
            raise provider_error(
                "content_filter",
                f"prompt blocked: {feedback['blockReason']}",
                provider=self.name,
                model=request.model,
                status_code=200,
            )


def _candidates(payload: Mapping[str, object]) -> tuple[str, tuple[str, ...]]:
    texts: list[str] = []
    reasons: list[str] = []
    for i, raw in enumerate(arr(payload.get("candidates", []), "candidates")):
        candidate = obj(raw, f"candidates[{i}]")
        content = obj(candidate.get("content", {}), f"candidates[{i}].content")
        calls_tool = False
        for j, raw_part in enumerate(arr(content.get("parts", []), f"candidates[{i}].content.parts")):
            part = obj(raw_part, f"candidates[{i}].content.parts[{j}]")
            calls_tool = calls_tool or "functionCall" in part
            if i == 0 and not part.get("thought"):
                texts.append(opt_str(part.get("text"), "part.text") or "")
        reason = opt_str(candidate.get("finishReason"), f"candidates[{i}].finishReason")
        if reason:
            # Gemini finishes a function call with STOP; the parts say it is a tool call.
            reasons.append(
                "tool_call" if calls_tool and reason == "STOP" else _FINISH_REASONS.get(reason, reason)
            )
    return "".join(texts), tuple(reasons)


def _retry_delay(payload: Mapping[str, object]) -> float | None:
    """`google.rpc.RetryInfo.retryDelay` from the error details: Gemini's only delay hint."""
    error = payload.get("error")
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _error_fields(payload: Mapping[str, object]) -> tuple[str, str]:
    error = payload.get("error")
    if not isinstance(error, dict):
        return "", ""
    status, message = error.get("status"), error.get("message")
    return (status if isinstance(status, str) else "", message if isinstance(message, str) else "")


def _usage(raw: object) -> Usage:
    if raw is None:
        return Usage()
    usage = obj(raw, "usageMetadata")
    thoughts = opt_int(usage.get("thoughtsTokenCount"), "usageMetadata.thoughtsTokenCount")
    return Usage(
        input_tokens=opt_int(usage.get("promptTokenCount"), "usageMetadata.promptTokenCount"),
        output_tokens=add_counts(
            opt_int(usage.get("candidatesTokenCount"), "usageMetadata.candidatesTokenCount"), thoughts
        ),
        cache_read_input_tokens=opt_int(
            usage.get("cachedContentTokenCount"), "usageMetadata.cachedContentTokenCount"
        ),
        reasoning_output_tokens=thoughts,
    )
