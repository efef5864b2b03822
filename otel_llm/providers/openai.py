"""OpenAI Chat Completions, also spoken by every OpenAI-compatible server (vLLM, Together, Groq, ...).

Wire reference: platform.openai.com API reference, `POST /v1/chat/completions`.
"""

from __future__ import annotations

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
    Endpoint,
    EndpointProvider,
    MalformedResponse,
    arr,
    decode_json,
    encode_json,
    error_for_status,
    obj,
    opt_int,
    opt_money,
    opt_str,
    parsing,
    provider_error,
    vector,
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

# Structured `error.code` values that refine the status-based classification. Mid-stream error events
# carry no status, so the transient codes are listed too (developers.openai.com/docs/guides/error-codes).
_ERROR_CODES: Mapping[str, ErrorKind] = {
    "rate_limit_exceeded": "rate_limit",
    "server_is_overloaded": "overloaded",
    "slow_down": "overloaded",
    "insufficient_quota": "quota_exhausted",
    "context_length_exceeded": "context_length",
    "content_policy_violation": "content_filter",
    "content_filter": "content_filter",
    "model_not_found": "not_found",
    "invalid_api_key": "auth",
}


class OpenAIChat(EndpointProvider):
    """Chat Completions over `{base_url}/chat/completions` with a bearer key.

    Args:
        endpoint: Where the server is and how to authenticate.
        stream_usage_option: Send `stream_options.include_usage` on streams. Servers that reject
            unknown fields (Mistral: 422 `extra_forbidden`) report usage in the last chunk unasked.
        seed_field: Body field carrying the seed (`seed`; Mistral: `random_seed`).
    """

    def __init__(
        self, endpoint: Endpoint, *, stream_usage_option: bool = True, seed_field: str = "seed"
    ) -> None:
        super().__init__(endpoint)
        self._stream_usage_option = stream_usage_option
        self._seed_field = seed_field

    def build_request(self, request: ChatRequest) -> httpx.Request:
        """Translate a chat request into `POST /chat/completions`."""
        body: dict[str, object] = {
            "model": request.model,
            "messages": [_message(m) for m in request.messages],
        }
        optional = {
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": request.max_tokens,
            "stop": list(request.stop) if request.stop else None,
            self._seed_field: request.seed,
            "tools": [_tool(t) for t in request.tools] or None,
            "tool_choice": _tool_choice(request.tool_choice),
            "response_format": _response_format(request.response_format),
        }
        body.update((k, v) for k, v in optional.items() if v is not None)
        if request.stream:
            body["stream"] = True
            if self._stream_usage_option:  # without it, OpenAI streams report no tokens at all
                body["stream_options"] = {"include_usage": True}
        return httpx.Request(
            "POST", self._chat_url(request), headers=self._headers(request.attempt), content=encode_json(body)
        )

    def build_embeddings_request(self, request: EmbeddingsRequest) -> httpx.Request:
        """Translate an embeddings request into `POST /embeddings` (float vectors)."""
        body: dict[str, object] = {
            "model": request.model,
            "input": list(request.inputs),
            "encoding_format": "float",
        }
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        return httpx.Request(
            "POST",
            self._url("/embeddings"),
            headers=self._headers(request.attempt),
            content=encode_json(body),
        )

    def parse_embeddings_response(
        self, response: httpx.Response, request: EmbeddingsRequest
    ) -> EmbeddingsResponse:
        """Parse `{data: [{index, embedding}], model, usage}`; vectors come back in input order."""
        with parsing(self.name, request, response.status_code, response.content):
            payload = obj(decode_json(response.content), "body")
            items = []
            for i, raw in enumerate(arr(payload.get("data"), "data")):
                item = obj(raw, f"data[{i}]")
                index = opt_int(item.get("index", i), f"data[{i}].index")
                items.append(
                    (i if index is None else index, vector(item.get("embedding"), f"data[{i}].embedding"))
                )
            if len(items) != len(request.inputs):
                raise MalformedResponse(f"expected {len(request.inputs)} embeddings, got {len(items)}")
            usage = obj(payload.get("usage", {}), "usage")
            return EmbeddingsResponse(
                vectors=tuple(v for _, v in sorted(items, key=lambda pair: pair[0])),
                model=opt_str(payload.get("model"), "model"),
                usage=Usage(input_tokens=opt_int(usage.get("prompt_tokens"), "usage.prompt_tokens")),
            )

    def _chat_url(self, request: ChatRequest) -> httpx.URL:
        return self._url("/chat/completions")

    def _headers(self, attempt: int) -> dict[str, str]:
        headers = {"content-type": "application/json", "x-otel-llm-attempt": str(attempt)}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        return headers

    def parse_payload(self, payload: Mapping[str, object], request: ChatRequest) -> ChatResponse:
        """Parse a `chat.completion` object."""
        choices = arr(payload.get("choices"), "choices")
        reasons: list[str] = []
        first: Mapping[str, object] = {}
        for i, raw_choice in enumerate(choices):
            choice = obj(raw_choice, f"choices[{i}]")
            message = obj(choice.get("message"), f"choices[{i}].message")
            first = first or message
            reason = opt_str(choice.get("finish_reason"), f"choices[{i}].finish_reason")
            if reason is not None:
                reasons.append(_FINISH_REASONS.get(reason, reason))
        return ChatResponse(
            text=opt_str(first.get("content"), "choices[0].message.content") or "",
            model=opt_str(payload.get("model"), "model"),
            id=opt_str(payload.get("id"), "id"),
            finish_reasons=tuple(reasons),
            usage=_usage(payload.get("usage")),
            tool_calls=_tool_calls(first.get("tool_calls")),
            refusal=opt_str(first.get("refusal"), "choices[0].message.refusal"),
        )

    def parse_stream_event(self, event: StreamEvent, request: ChatRequest) -> ChatChunk | None:
        """Parse one `chat.completion.chunk` event (or the `[DONE]` terminator)."""
        if event.data == "[DONE]":
            return ChatChunk(final=True)
        return self.parse_stream_payload(
            obj(decode_json(event.data, "stream event"), "stream event"), None, request
        )

    def parse_stream_payload(
        self, payload: Mapping[str, object], event: str | None, request: ChatRequest
    ) -> ChatChunk | None:
        """Parse one decoded `chat.completion.chunk` (a mid-stream error object raises its error)."""
        if "error" in payload:
            raise provider_error(
                _error_kind(payload) or "server_error",
                _error_message(payload),
                provider=self.name,
                model=request.model,
            )
        delta_text = ""
        tool_deltas: tuple[ToolCallDelta, ...] = ()
        finish: str | None = None
        # Azure sends chunks with `choices: []` (prompt filter results); the usage chunk has none too.
        for i, raw_choice in enumerate(arr(payload.get("choices", []), "choices")):
            choice = obj(raw_choice, f"choices[{i}]")
            if choice.get("index", 0) != 0:
                continue
            delta = obj(choice.get("delta", {}), f"choices[{i}].delta")
            delta_text = opt_str(delta.get("content"), "delta.content") or ""
            tool_deltas = _tool_call_deltas(delta.get("tool_calls"))
            reason = opt_str(choice.get("finish_reason"), "finish_reason")
            finish = _FINISH_REASONS.get(reason, reason) if reason else None
        raw_usage = payload.get("usage")
        groq = payload.get("x_groq")
        if raw_usage is None and isinstance(groq, dict):
            raw_usage = groq.get("usage")  # Groq has reported streamed usage under x_groq
        return ChatChunk(
            delta=delta_text,
            tool_calls=tool_deltas,
            finish_reason=finish,
            usage=_usage(raw_usage) if raw_usage is not None else None,
            id=opt_str(payload.get("id"), "id"),
            model=opt_str(payload.get("model"), "model"),
        )

    def classify_error(
        self, response: httpx.Response, request: ChatRequest | EmbeddingsRequest
    ) -> ProviderError:
        """Classify `{"error": {"message", "type", "code"}}` bodies by status and code."""
        try:
            payload = obj(decode_json(response.content), "body")
        except MalformedResponse:
            payload = {}
        message = _error_message(payload) if "error" in payload else ""
        return error_for_status(response, request, self.name, message, _error_kind(payload))


def _message(message: Message) -> dict[str, object]:
    wire: dict[str, object] = {"role": message.role}
    if isinstance(message.content, str):
        wire["content"] = message.content
    else:
        wire["content"] = [_part(part) for part in message.content]
    if message.tool_calls:
        wire["content"] = wire["content"] or None  # an assistant turn that only calls tools
        wire["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.raw_arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        wire["tool_call_id"] = message.tool_call_id
    return wire


def _part(part: ContentPart) -> dict[str, object]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    url = part.url if part.url is not None else f"data:{part.media_type};base64,{part.data}"
    return {"type": "image_url", "image_url": {"url": url}}


def _tool(tool: Tool) -> dict[str, object]:
    function: dict[str, object] = {"name": tool.name, "parameters": dict(tool.parameters)}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _tool_choice(choice: str | None) -> object:
    if choice is None or choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def _response_format(response_format: ResponseFormat | None) -> object:
    if response_format is None:
        return None
    if response_format == "json":
        return {"type": "json_object"}
    schema = response_format
    return {
        "type": "json_schema",
        "json_schema": {"name": schema.name, "schema": dict(schema.schema), "strict": schema.strict},
    }


def _tool_calls(raw: object) -> tuple[ToolCall, ...]:
    if raw is None:
        return ()
    calls = []
    for i, item in enumerate(arr(raw, "tool_calls")):
        call = obj(item, f"tool_calls[{i}]")
        function = obj(call.get("function"), f"tool_calls[{i}].function")
        calls.append(
            ToolCall.from_json(
                opt_str(call.get("id"), f"tool_calls[{i}].id") or "",
                opt_str(function.get("name"), f"tool_calls[{i}].function.name") or "",
                opt_str(function.get("arguments"), f"tool_calls[{i}].function.arguments") or "",
            )
        )
    return tuple(calls)


def _tool_call_deltas(raw: object) -> tuple[ToolCallDelta, ...]:
    if raw is None:
        return ()
    deltas = []
    for i, item in enumerate(arr(raw, "delta.tool_calls")):
        call = obj(item, f"delta.tool_calls[{i}]")
        function = obj(call.get("function", {}), f"delta.tool_calls[{i}].function")
        index = opt_int(call.get("index", i), f"delta.tool_calls[{i}].index")
        deltas.append(
            ToolCallDelta(
                index=i if index is None else index,
                id=opt_str(call.get("id"), f"delta.tool_calls[{i}].id"),
                name=opt_str(function.get("name"), f"delta.tool_calls[{i}].function.name"),
                arguments=opt_str(function.get("arguments"), f"delta.tool_calls[{i}].function.arguments")
                or "",
            )
        )
    return tuple(deltas)


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
        cache_read_input_tokens=opt_int(
            # DeepSeek names its cache hits differently; either way they are a subset of prompt_tokens.
            prompt.get("cached_tokens", usage.get("prompt_cache_hit_tokens")),
            "cached_tokens",
        ),
        cache_write_input_tokens=opt_int(prompt.get("cache_write_tokens"), "cache_write_tokens"),
        reasoning_output_tokens=opt_int(completion.get("reasoning_tokens"), "reasoning_tokens"),
        billed_cost_usd=opt_money(usage.get("cost"), "usage.cost"),  # OpenRouter: credits are US dollars
    )
