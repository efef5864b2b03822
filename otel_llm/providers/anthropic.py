"""Anthropic Messages API (`POST /v1/messages`).

Wire reference: docs.anthropic.com/en/api/messages and .../messages-streaming. Anthropic's `input_tokens`
excludes cache reads and writes, so normalised input is the sum of all three (GenAI semconv rule).

Structured output is emulated, as the API (version 2023-06-01, no beta headers) has no JSON mode. A
`JsonSchema` becomes one extra tool whose `input_schema` is the schema, forced with `tool_choice`; the model's
input to that tool *is* the answer, so it comes back as the response text (JSON) with finish reason `stop`,
never as a tool call. Forcing the answer tool overrides the caller's `tool_choice`: on Anthropic one request
cannot both demand a schema-shaped answer and let the model call tools. `"json"` only adds an instruction
to the system prompt and leaves the text as the model wrote it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import httpx

from otel_llm._exceptions import ErrorKind, ProviderError
from otel_llm._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    ContentPart,
    EmbeddingsRequest,
    JsonSchema,
    Message,
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
    provider_error,
)

API_VERSION = "2023-06-01"
# Anthropic requires max_tokens; this default applies only when the caller sets none.
DEFAULT_MAX_TOKENS = 1024

JSON_INSTRUCTION = "Respond with one JSON object only: no text before or after it, no Markdown code fences."
"""Appended to the system prompt for `response_format="json"`."""
_ANSWER_TOOL_DESCRIPTION = "Give your final answer by calling this tool; its input is the answer."

_EMPTY_EVENTS = frozenset({"ping", "content_block_stop"})
"""Events that carry nothing a response is made of."""
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
        if request.response_format == "json":
            system = f"{system}\n\n{JSON_INSTRUCTION}" if system else JSON_INSTRUCTION
        tools = [_tool(t) for t in request.tools]
        tool_choice = _tool_choice(request.tool_choice)
        schema = _answer_schema(request)
        if schema is not None:
            tools.append(
                {
                    "name": schema.name,
                    "description": _ANSWER_TOOL_DESCRIPTION,
                    "input_schema": dict(schema.schema),
                }
            )
            # One forced call, so the answer is exactly one tool_use block (and one JSON text when streamed).
            tool_choice = {"type": "tool", "name": schema.name, "disable_parallel_tool_use": True}
        body: dict[str, object] = {
            "model": request.model,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            "messages": _messages(request.messages),
        }
        optional = {
            "system": system or None,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stop_sequences": list(request.stop) if request.stop else None,
            "tools": tools or None,
            "tool_choice": tool_choice,
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

    def parse_payload(self, payload: Mapping[str, object], request: ChatRequest) -> ChatResponse:
        """Parse a `message` object; the structured-output tool's input becomes the text."""
        schema = _answer_schema(request)
        texts: list[str] = []
        calls: list[ToolCall] = []
        for i, raw_block in enumerate(arr(payload.get("content"), "content")):
            block = obj(raw_block, f"content[{i}]")
            kind = block.get("type")
            if kind == "text":
                texts.append(opt_str(block.get("text"), f"content[{i}].text") or "")
            elif kind == "tool_use":
                name = opt_str(block.get("name"), f"content[{i}].name") or ""
                arguments = obj(block.get("input", {}), f"content[{i}].input")
                if schema is not None and name == schema.name:
                    texts.append(json.dumps(arguments, ensure_ascii=False))
                else:
                    call_id = opt_str(block.get("id"), f"content[{i}].id") or ""
                    calls.append(ToolCall.from_object(call_id, name, arguments))
        reason = opt_str(payload.get("stop_reason"), "stop_reason")
        if reason == "tool_use" and schema is not None and not calls:
            reason = "end_turn"  # the only tool used was the structured answer
        return ChatResponse(
            text="".join(texts),
            model=opt_str(payload.get("model"), "model"),
            id=opt_str(payload.get("id"), "id"),
            finish_reasons=(_FINISH_REASONS.get(reason, reason),) if reason else (),
            usage=_usage(payload.get("usage")),
            tool_calls=tuple(calls),
        )

    def parse_stream_event(self, event: StreamEvent, request: ChatRequest) -> ChatChunk | None:
        """Parse one event of the `message_start` ... `message_stop` sequence."""
        if event.event in _EMPTY_EVENTS:
            return None  # not even decoded
        payload = obj(decode_json(event.data, "stream event"), "stream event")
        return self.parse_stream_payload(payload, event.event, request)

    def parse_stream_payload(
        self, payload: Mapping[str, object], event: str | None, request: ChatRequest
    ) -> ChatChunk | None:
        """Parse one decoded event; its kind is the SSE event name, else the payload's `type`."""
        kind = event or opt_str(payload.get("type"), "type")
        if kind in _EMPTY_EVENTS:
            return None
        if kind == "message_start":
            message = obj(payload.get("message"), "message")
            return ChatChunk(
                id=opt_str(message.get("id"), "message.id"),
                model=opt_str(message.get("model"), "message.model"),
                usage=_usage(message.get("usage")),
            )
        if kind == "content_block_start":
            return _block_start(payload, request)
        if kind == "content_block_delta":
            return _block_delta(payload, request)
        if kind == "message_delta":
            delta = obj(payload.get("delta", {}), "delta")
            reason = opt_str(delta.get("stop_reason"), "delta.stop_reason")
            if reason == "tool_use" and _answer_schema(request) is not None:
                # The answer tool is forced and alone (disable_parallel_tool_use): no real tool was called.
                reason = "end_turn"
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
            message = str(error["message"])  # "prompt is too long: ..." is classified by error_for_status
        return error_for_status(response, request, self.name, message, kind)


def _answer_schema(request: ChatRequest) -> JsonSchema | None:
    """The schema whose emulation tool carries the answer, if the request asks for one."""
    return request.response_format if isinstance(request.response_format, JsonSchema) else None


def _messages(messages: tuple[Message, ...]) -> list[dict[str, object]]:
    """Conversation turns; consecutive tool results share one `user` turn, as roles must alternate."""
    wire: list[dict[str, object]] = []
    results: list[object] | None = None
    for message in messages:
        if message.role == "system":
            continue
        if message.role != "tool":
            results = None
            wire.append(_message(message))
            continue
        if results is None:
            results = []
            wire.append({"role": "user", "content": results})
        results.append(
            {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id or "",
                "content": _content(message.content),
            }
        )
    return wire


def _message(message: Message) -> dict[str, object]:
    if not message.tool_calls:
        return {"role": message.role, "content": _content(message.content)}
    content = message.content
    blocks = [_part(part) for part in content] if isinstance(content, tuple) else []
    if isinstance(content, str) and content:
        blocks.append({"type": "text", "text": content})  # empty text blocks are rejected
    blocks.extend(
        {"type": "tool_use", "id": call.id, "name": call.name, "input": dict(call.arguments)}
        for call in message.tool_calls
    )
    return {"role": message.role, "content": blocks}


def _content(content: str | tuple[ContentPart, ...]) -> object:
    return content if isinstance(content, str) else [_part(part) for part in content]


def _part(part: ContentPart) -> dict[str, object]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if part.url is not None:
        return {"type": "image", "source": {"type": "url", "url": part.url}}  # Anthropic fetches it
    return {"type": "image", "source": {"type": "base64", "media_type": part.media_type, "data": part.data}}


def _tool(tool: Tool) -> dict[str, object]:
    wire: dict[str, object] = {"name": tool.name, "input_schema": dict(tool.parameters)}
    if tool.description:
        wire["description"] = tool.description
    return wire


def _tool_choice(choice: str | None) -> dict[str, object] | None:
    if choice is None:
        return None
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    return {"type": "tool", "name": choice}


def _block_start(payload: Mapping[str, object], request: ChatRequest) -> ChatChunk | None:
    """A `tool_use` block opens a tool call (its input follows as deltas); other blocks carry nothing."""
    block = obj(payload.get("content_block"), "content_block")
    if block.get("type") != "tool_use" or _answer_schema(request) is not None:
        return None
    delta = ToolCallDelta(
        index=_block_index(payload),
        id=opt_str(block.get("id"), "content_block.id"),
        name=opt_str(block.get("name"), "content_block.name"),
    )
    return ChatChunk(tool_calls=(delta,))


def _block_delta(payload: Mapping[str, object], request: ChatRequest) -> ChatChunk | None:
    delta = obj(payload.get("delta"), "delta")
    kind = delta.get("type")
    if kind == "text_delta":
        return ChatChunk(delta=opt_str(delta.get("text"), "delta.text") or "")
    if kind != "input_json_delta":
        return None  # thinking and signature deltas are not output text
    fragment = opt_str(delta.get("partial_json"), "delta.partial_json") or ""
    if _answer_schema(request) is not None:
        return ChatChunk(delta=fragment)  # the forced answer tool's input is the JSON answer
    return ChatChunk(tool_calls=(ToolCallDelta(index=_block_index(payload), arguments=fragment),))


def _block_index(payload: Mapping[str, object]) -> int:
    """The content block index: fragments of one tool call are joined by it."""
    index = opt_int(payload.get("index"), "index")
    if index is None:
        raise MalformedResponse("expected a content block index at index")
    return index


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
