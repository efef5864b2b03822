"""How calls become span attributes: request parameters, `error.type`, messages in the semconv shape."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.util.types import AttributeValue

from otel_llm._exceptions import AllRoutesFailedError, BudgetExceededError, CircuitOpenError, ProviderError
from otel_llm._types import ChatRequest, EmbeddingsRequest, Message, TextPart, ToolCall


def error_type_of(error: BaseException) -> str:
    """Low-cardinality `error.type`: our error kind, else the exception's qualified class name."""
    if isinstance(error, (ProviderError, CircuitOpenError)):
        return error.kind
    if isinstance(error, AllRoutesFailedError) and error.kind is not None:
        return error.kind
    if isinstance(error, BudgetExceededError):
        return "budget_exceeded"
    cls = type(error)
    return f"{cls.__module__}.{cls.__qualname__}"


def request_attributes(request: ChatRequest | EmbeddingsRequest) -> dict[str, AttributeValue | None]:
    if isinstance(request, EmbeddingsRequest):
        return {}
    return {
        "gen_ai.request.temperature": request.temperature,
        "gen_ai.request.top_p": request.top_p,
        "gen_ai.request.max_tokens": request.max_tokens,
        "gen_ai.request.seed": request.seed,
        "gen_ai.request.stop_sequences": list(request.stop) if request.stop else None,
        "gen_ai.request.stream": True if request.stream else None,
        "gen_ai.output.type": "json" if request.response_format is not None else None,
    }


def semconv_message(message: Message) -> dict[str, Any]:
    """A message in the GenAI semconv shape (gen-ai-input-messages.json)."""
    parts: list[dict[str, Any]] = []
    if message.role == "tool":
        parts.append({"type": "tool_call_response", "id": message.tool_call_id, "response": message.text})
    elif isinstance(message.content, str):
        if message.content:
            parts.append({"type": "text", "content": message.content})
    else:
        for part in message.content:
            if isinstance(part, TextPart):
                parts.append({"type": "text", "content": part.text})
            elif part.url is not None:
                parts.append({"type": "uri", "modality": "image", "uri": part.url})
            else:
                parts.append(
                    {"type": "blob", "modality": "image", "mime_type": part.media_type, "content": part.data}
                )
    parts += [tool_call_part(call) for call in message.tool_calls]
    return {"role": message.role, "parts": parts}


def tool_call_part(call: ToolCall) -> dict[str, Any]:
    return {"type": "tool_call", "id": call.id, "name": call.name, "arguments": dict(call.arguments)}


def compact_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
