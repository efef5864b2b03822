"""What routing learns from a request before sending it: its size and the capabilities it relies on."""

from __future__ import annotations

from otel_llm._call_routing import TYPICAL_OUTPUT_TOKENS, request_profile
from otel_llm._inputs import parse_messages, parse_response_format, parse_tools
from otel_llm._types import ChatRequest, EmbeddingsRequest, JsonSchema

TOOL = {"name": "lookup", "description": "Look it up", "parameters": {"type": "object"}}
IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}


def chat(**fields: object) -> ChatRequest:
    messages = fields.pop("messages", [{"role": "user", "content": "x" * 400}])
    return ChatRequest(model="m", messages=parse_messages(messages), **fields)  # type: ignore[arg-type]


def test_a_plain_chat_needs_nothing_and_plans_for_typical_output() -> None:
    profile = request_profile(chat())
    assert profile.capabilities == frozenset()
    assert profile.estimated_input_tokens == 100
    assert profile.expected_output_tokens == TYPICAL_OUTPUT_TOKENS
    assert not profile.stream


def test_tools_schemas_images_and_streams_are_required_capabilities() -> None:
    request = chat(
        messages=[{"role": "user", "content": [{"type": "text", "text": "what is this"}, IMAGE]}],
        tools=parse_tools([TOOL]),
        response_format=parse_response_format(JsonSchema("answer", {"type": "object"})),
        max_tokens=64,
        stream=True,
    )
    profile = request_profile(request)
    assert profile.capabilities == {"tools", "json_schema", "vision"}
    assert profile.expected_output_tokens == 64
    assert profile.stream


def test_json_mode_without_a_schema_needs_no_schema_support() -> None:
    assert request_profile(chat(response_format=parse_response_format("json"))).capabilities == frozenset()


def test_embeddings_need_an_embeddings_model_and_produce_no_output() -> None:
    profile = request_profile(EmbeddingsRequest(model="m", inputs=("a" * 40, "b" * 40)))
    assert profile.capabilities == {"embeddings"}
    assert (profile.estimated_input_tokens, profile.expected_output_tokens) == (20, 0)
