"""Google Gemini API `generateContent` / `streamGenerateContent?alt=sse` (Google AI Studio).

Wire reference: ai.google.dev/api/generate-content. The key travels in the `x-goog-api-key` header, never
in the query string (`?key=` leaks into logs and `url.full`). A prompt blocked by safety filters comes back
as HTTP 200 without candidates; that is a content-filter error, not a success. Thinking tokens are billed
as output but reported separately from `candidatesTokenCount`, so normalised output is their sum.

Gemini gives function calls no ids; they get deterministic ones (`call_<n>`, by position in the response),
and tool results are matched back by function name, so our ids never travel to Gemini. Embeddings use
`embedContent` for one input and `batchEmbedContents` for several; neither reports token usage.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import httpx

from otel_llm._exceptions import ErrorKind, ProviderError
from otel_llm._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    ContentPart,
    EmbeddingsRequest,
    EmbeddingsResponse,
    Message,
    ResponseFormat,
    StreamEvent,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)
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
    vector,
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

_CALLING_MODES: Mapping[str, str] = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
# Image types by URL extension, for `fileData.mimeType` when the caller gave none.
_IMAGE_TYPES: Mapping[str, str] = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "heic": "image/heic",
    "heif": "image/heif",
    "gif": "image/gif",
}
# Gemini 3 rejects a replayed functionCall part without the `thoughtSignature` it was sent with, and
# `ToolCall` has nowhere to keep one. Google documents this value as the stand-in for a signature the
# client does not have (ai.google.dev/gemini-api/docs/thought-signatures); it costs the model its
# earlier reasoning, not the call.
_SIGNATURE_STAND_IN = "skip_thought_signature_validator"
_SIGNED_MODELS = re.compile(r"(^|/)gemini-3")


class GeminiGenerateContent(EndpointProvider):
    """`{base_url}/models/{model}:generateContent` (base URL ends in the API version, e.g. `/v1beta`)."""

    def build_request(self, request: ChatRequest) -> httpx.Request:
        """Translate a chat request; system messages become `systemInstruction`."""
        system = [{"text": m.text} for m in request.messages if m.role == "system"]
        config = {
            "temperature": request.temperature,
            "topP": request.top_p,
            "maxOutputTokens": request.max_tokens,
            "stopSequences": list(request.stop) if request.stop else None,
            "seed": request.seed,
            **_response_format(request.response_format),
        }
        body: dict[str, object] = {"contents": _contents(request)}
        if system:
            body["systemInstruction"] = {"parts": system}
        if request.tools:
            body["tools"] = [{"functionDeclarations": [_function(t) for t in request.tools]}]
        if request.tool_choice is not None:
            body["toolConfig"] = {"functionCallingConfig": _calling_config(request.tool_choice)}
        generation_config = {k: v for k, v in config.items() if v is not None}
        if generation_config:
            body["generationConfig"] = generation_config
        method = "streamGenerateContent?alt=sse" if request.stream else "generateContent"
        return httpx.Request(
            "POST",
            self._url(f"/models/{request.model}:{method}"),
            headers=self._headers(request.attempt),
            content=encode_json(body),
        )

    def build_embeddings_request(self, request: EmbeddingsRequest) -> httpx.Request:
        """`:embedContent` for one input, `:batchEmbedContents` for several."""
        options = {} if request.dimensions is None else {"outputDimensionality": request.dimensions}
        contents = [{"parts": [{"text": text}]} for text in request.inputs]
        body: dict[str, object]
        if len(contents) == 1:
            method, body = "embedContent", {"content": contents[0], **options}
        else:
            model = f"models/{request.model}"
            method = "batchEmbedContents"
            body = {"requests": [{"model": model, "content": content, **options} for content in contents]}
        return httpx.Request(
            "POST",
            self._url(f"/models/{request.model}:{method}"),
            headers=self._headers(request.attempt),
            content=encode_json(body),
        )

    def parse_embeddings_response(
        self, response: httpx.Response, request: EmbeddingsRequest
    ) -> EmbeddingsResponse:
        """Parse `{embedding: {values}}` or `{embeddings: [{values}]}`; usage stays unknown."""
        with parsing(self.name, request, response.status_code, response.content):
            payload = obj(decode_json(response.content), "body")
            if len(request.inputs) == 1:
                embedding = obj(payload.get("embedding"), "embedding")
                vectors: tuple[tuple[float, ...], ...] = (
                    vector(embedding.get("values"), "embedding.values"),
                )
            else:
                vectors = tuple(
                    vector(obj(item, f"embeddings[{i}]").get("values"), f"embeddings[{i}].values")
                    for i, item in enumerate(arr(payload.get("embeddings"), "embeddings"))
                )
            if len(vectors) != len(request.inputs):
                raise MalformedResponse(f"expected {len(request.inputs)} embeddings, got {len(vectors)}")
            # Gemini reports neither tokens nor the model for embeddings: both stay unknown, never 0.
            return EmbeddingsResponse(vectors=vectors)

    def _headers(self, attempt: int) -> dict[str, str]:
        headers = {"content-type": "application/json", "x-otel-llm-attempt": str(attempt)}
        if self._api_key:
            headers["x-goog-api-key"] = self._api_key
        return headers

    def parse_payload(self, payload: Mapping[str, object], request: ChatRequest) -> ChatResponse:
        """Parse a `GenerateContentResponse`; a blocked prompt raises a content-filter error."""
        self._raise_if_blocked(payload, request)
        text, reasons, calls = _candidates(payload)
        return ChatResponse(
            text=text,
            model=opt_str(payload.get("modelVersion"), "modelVersion"),
            id=opt_str(payload.get("responseId"), "responseId"),
            finish_reasons=reasons,
            usage=_usage(payload.get("usageMetadata")),
            tool_calls=calls,
        )

    def parse_stream_event(self, event: StreamEvent, request: ChatRequest) -> ChatChunk | None:
        """Parse one streamed `GenerateContentResponse`; the one with a finish reason ends the stream."""
        return self.parse_stream_payload(
            obj(decode_json(event.data, "stream event"), "stream event"), None, request
        )

    def parse_stream_payload(
        self, payload: Mapping[str, object], event: str | None, request: ChatRequest
    ) -> ChatChunk | None:
        """Parse one decoded streamed `GenerateContentResponse` (a mid-stream error object raises)."""
        if "error" in payload:
            status, message = _error_fields(payload)
            raise provider_error(
                _STATUSES.get(status, "server_error"), message, provider=self.name, model=request.model
            )
        self._raise_if_blocked(payload, request)
        text, reasons, calls = _candidates(payload)
        raw_usage = payload.get("usageMetadata")
        # Function calls arrive whole, never in fragments: each is one complete delta. Parsing is stateless,
        # so the index counts calls within this event only (calls split across events would share index 0),
        # and a final event without functionCall parts reports `stop`, not `tool_call`.
        return ChatChunk(
            delta=text,
            tool_calls=tuple(
                ToolCallDelta(
                    index=i, id=call.id, name=call.name, arguments=call.raw_arguments, complete=True
                )
                for i, call in enumerate(calls)
            ),
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
        # "... exceeds the maximum number of tokens ..." (400 INVALID_ARGUMENT) is classified by
        # error_for_status from the message.
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


def _candidates(payload: Mapping[str, object]) -> tuple[str, tuple[str, ...], tuple[ToolCall, ...]]:
    """Text and function calls of the first candidate, and every candidate's finish reason."""
    texts: list[str] = []
    reasons: list[str] = []
    calls: list[ToolCall] = []
    for i, raw in enumerate(arr(payload.get("candidates", []), "candidates")):
        candidate = obj(raw, f"candidates[{i}]")
        content = obj(candidate.get("content", {}), f"candidates[{i}].content")
        calls_tool = False
        for j, raw_part in enumerate(arr(content.get("parts", []), f"candidates[{i}].content.parts")):
            path = f"candidates[{i}].content.parts[{j}]"
            part = obj(raw_part, path)
            if "functionCall" in part:
                calls_tool = True
                if i == 0:
                    calls.append(_function_call(part["functionCall"], len(calls), f"{path}.functionCall"))
            elif i == 0 and not part.get("thought"):
                texts.append(opt_str(part.get("text"), "part.text") or "")
        reason = opt_str(candidate.get("finishReason"), f"candidates[{i}].finishReason")
        if reason:
            # Gemini finishes a function call with STOP; the parts say it is a tool call.
            reasons.append(
                "tool_call" if calls_tool and reason == "STOP" else _FINISH_REASONS.get(reason, reason)
            )
    return "".join(texts), tuple(reasons), tuple(calls)


def _function_call(raw: object, position: int, path: str) -> ToolCall:
    call = obj(raw, path)
    args = call.get("args")  # absent for a function without parameters
    return ToolCall.from_object(
        opt_str(call.get("id"), f"{path}.id") or f"call_{position}",
        opt_str(call.get("name"), f"{path}.name") or "",
        {} if args is None else obj(args, f"{path}.args"),
    )


def _contents(request: ChatRequest) -> list[dict[str, object]]:
    """`contents` turns; consecutive tool results share one `user` turn, as Gemini expects."""
    signed = bool(_SIGNED_MODELS.search(request.model))
    # Tool messages must name their function; callers that set only tool_call_id get it from the latest
    # call with that id (our Gemini ids are positions, so every turn reuses `call_0`).
    names: dict[str, str] = {}
    contents: list[dict[str, object]] = []
    responses: list[object] | None = None
    for message in request.messages:
        if message.role == "system":
            continue
        if message.role != "tool":
            responses = None
            names.update((call.id, call.name) for call in message.tool_calls)
            contents.append(_content(message, signed))
            continue
        if responses is None:
            responses = []
            contents.append({"role": "user", "parts": responses})
        name = message.name or names.get(message.tool_call_id or "", "")
        responses.append({"functionResponse": {"name": name, "response": _function_response(message.text)}})
    return contents


def _content(message: Message, signed: bool) -> dict[str, object]:
    if isinstance(message.content, tuple):
        parts = [_part(part) for part in message.content]
    elif message.content or not message.tool_calls:
        parts = [{"text": message.content}]
    else:
        parts = []  # a turn that only calls functions
    for call in message.tool_calls:
        part: dict[str, object] = {"functionCall": {"name": call.name, "args": dict(call.arguments)}}
        if signed:
            part["thoughtSignature"] = _SIGNATURE_STAND_IN
        parts.append(part)
    return {"role": "model" if message.role == "assistant" else "user", "parts": parts}


def _part(part: ContentPart) -> dict[str, object]:
    if isinstance(part, TextPart):
        return {"text": part.text}
    if part.url is None:
        return {"inlineData": {"mimeType": part.media_type, "data": part.data}}
    # Gemini fetches only URIs it supports (Files API uploads, YouTube links and, depending on the model,
    # public web URLs); others fail with INVALID_ARGUMENT. `mimeType` is optional on this API, so one that
    # neither the caller nor the URL's extension gives is left out rather than guessed.
    file_data = {"fileUri": part.url}
    media_type = part.media_type or _image_type(part.url)
    if media_type:
        file_data["mimeType"] = media_type
    return {"fileData": file_data}


def _image_type(url: str) -> str | None:
    name = url.split("#", 1)[0].split("?", 1)[0].rsplit("/", 1)[-1]
    return _IMAGE_TYPES.get(name.rsplit(".", 1)[-1].lower()) if "." in name else None


def _function_response(text: str) -> dict[str, object]:
    """A tool result as the object `functionResponse.response` must be: JSON objects as they are."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = None
    return value if isinstance(value, dict) else {"content": text}


def _function(tool: Tool) -> dict[str, object]:
    # `parametersJsonSchema` takes the JSON schema as is; `parameters` takes only an OpenAPI subset and
    # rejects common schemas (empty `properties`, `additionalProperties`, `$ref`, type lists).
    declaration: dict[str, object] = {"name": tool.name, "parametersJsonSchema": dict(tool.parameters)}
    if tool.description:
        declaration["description"] = tool.description
    return declaration


def _calling_config(choice: str) -> dict[str, object]:
    mode = _CALLING_MODES.get(choice)
    if mode is not None:
        return {"mode": mode}
    return {"mode": "ANY", "allowedFunctionNames": [choice]}


def _response_format(response_format: ResponseFormat | None) -> dict[str, object]:
    if response_format is None:
        return {}
    if response_format == "json":
        return {"responseMimeType": "application/json"}
    # `responseJsonSchema` takes JSON Schema; the older `responseSchema` takes only an OpenAPI subset.
    return {"responseMimeType": "application/json", "responseJsonSchema": dict(response_format.schema)}


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
