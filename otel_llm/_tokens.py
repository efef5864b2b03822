"""Token estimates for responses whose provider reported no usage (some compatible servers, cut streams).

A deliberately simple rule, about four characters per token for English text in current tokenizers,
rounded up: close enough to keep cost and budgets from silently reading zero, and always marked
`Usage.estimated` so telemetry and callers can tell it from a provider's count.
"""

from __future__ import annotations

import dataclasses

from otel_llm._types import ChatRequest, ChatResponse, EmbeddingsRequest

_CHARS_PER_TOKEN = 4


def with_estimated_usage(request: ChatRequest, response: ChatResponse) -> ChatResponse:
    """`response` with estimated input/output counts where the provider gave none."""
    usage = response.usage
    if usage.input_tokens is not None and usage.output_tokens is not None:
        return response
    input_text = "".join(m.text for m in request.messages)
    output_text = response.text + "".join(call.raw_arguments for call in response.tool_calls)
    estimated = dataclasses.replace(
        usage,
        input_tokens=usage.input_tokens if usage.input_tokens is not None else _estimate(input_text),
        output_tokens=usage.output_tokens if usage.output_tokens is not None else _estimate(output_text),
        estimated=True,
    )
    return dataclasses.replace(response, usage=estimated)


def _estimate(text: str) -> int:
    return -(-len(text) // _CHARS_PER_TOKEN)  # ceiling division; an empty text is 0 tokens


def estimate_input_tokens(request: ChatRequest | EmbeddingsRequest) -> int:
    """Tokens the request's input is likely to count, before sending it (budgets, routing)."""
    if isinstance(request, EmbeddingsRequest):
        return sum(_estimate(text) for text in request.inputs)
    text = sum(len(m.text) for m in request.messages)
    tools = sum(len(t.name) + len(t.description or "") + len(str(t.parameters)) for t in request.tools)
    return -(-(text + tools) // _CHARS_PER_TOKEN)
