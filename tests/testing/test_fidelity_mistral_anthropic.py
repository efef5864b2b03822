"""The official mistralai SDK, and the anthropic SDK on tool use and structured output."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import pytest
from mistralai.client import Mistral
from mistralai.client.errors import SDKError
from mistralai.client.models import UserMessage

from otel_llm.testing import Behavior, FakeProviderServer

CALL: dict[str, object] = {"name": "get_weather", "arguments": {"city": "Paris"}}


@pytest.fixture(scope="module")
def mistral(_module_server: FakeProviderServer) -> Iterator[Mistral]:
    with Mistral(api_key="m-test", server_url=_module_server.url + "/mistral") as client:
        yield client


@pytest.fixture(scope="module")
def claude(_module_server: FakeProviderServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=_module_server.base_url("anthropic"), api_key="sk-ant-test", max_retries=0
    ) as client:
        yield client


# ---------------------------------------------------------------- mistralai


def test_mistral_complete(server: FakeProviderServer, mistral: Mistral) -> None:
    response = mistral.chat.complete(
        model="mistral-small-latest", messages=[UserMessage(content="Say hello please")]
    )

    message = response.choices[0].message
    assert message is not None
    assert message.content == "Hello from mistral mistral-small-latest."
    assert response.choices[0].finish_reason == "stop"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (3, 4)
    assert server.requests[0].headers["authorization"] == "Bearer m-test"
    assert server.requests[0].path == "/mistral/v1/chat/completions"


def test_mistral_stream_has_usage_on_the_last_chunk(mistral: Mistral) -> None:
    with mistral.chat.stream(
        model="mistral-small-latest", messages=[UserMessage(content="Say hello please")]
    ) as events:
        chunks = [event.data for event in events]

    text = "".join(str(c.choices[0].delta.content or "") for c in chunks if c.choices)
    assert text == "Hello from mistral mistral-small-latest."
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4


def test_mistral_embeddings(server: FakeProviderServer, mistral: Mistral) -> None:
    response = mistral.embeddings.create(model="mistral-embed", inputs=["a b", "c"])

    assert [len(d.embedding or []) for d in response.data] == [8, 8]
    assert response.usage.prompt_tokens == 3
    assert response.id.startswith("embd-")
    assert server.requests[0].path == "/mistral/v1/embeddings"


def test_mistral_tool_call(server: FakeProviderServer, mistral: Mistral) -> None:
    server.set_behavior("mistral", Behavior(tool_calls=[CALL]))

    response = mistral.chat.complete(
        model="mistral-small-latest", messages=[UserMessage(content="Weather in Paris?")]
    )

    message = response.choices[0].message
    assert message is not None
    calls = message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather"]
    arguments = calls[0].function.arguments
    assert (json.loads(arguments) if isinstance(arguments, str) else arguments) == {"city": "Paris"}
    assert response.choices[0].finish_reason == "tool_calls"


def test_mistral_error(server: FakeProviderServer, mistral: Mistral) -> None:
    server.enqueue("mistral", Behavior.error("rate_limit", provider="mistral", retry_after=0))

    with pytest.raises(SDKError) as info:
        mistral.chat.complete(model="mistral-small-latest", messages=[UserMessage(content="hi")])

    assert info.value.status_code == 429
    assert info.value.headers["retry-after"] == "0"


# ---------------------------------------------------------------- anthropic


def test_anthropic_tool_use(server: FakeProviderServer, claude: anthropic.Anthropic) -> None:
    server.set_behavior("anthropic", Behavior(text="Let me check.", tool_calls=[CALL]))

    message = claude.messages.create(
        model="claude-test",
        max_tokens=64,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
    )

    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["text", "tool_use"]
    block = message.content[1]
    assert block.type == "tool_use"
    assert (block.name, block.input) == ("get_weather", {"city": "Paris"})
    assert server.requests[0].body["tools"][0]["name"] == "get_weather"


def test_anthropic_tool_use_stream(server: FakeProviderServer, claude: anthropic.Anthropic) -> None:
    server.set_behavior("anthropic", Behavior(text="Let me check.", tool_calls=[CALL, CALL]))

    with claude.messages.stream(
        model="claude-test",
        max_tokens=64,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
    ) as stream:
        json_deltas = [e for e in stream if e.type == "input_json"]
        final = stream.get_final_message()

    assert len(json_deltas) >= 4  # partial_json arrives in fragments
    assert final.stop_reason == "tool_use"
    tool_uses = [b for b in final.content if b.type == "tool_use"]
    assert [b.input for b in tool_uses] == [{"city": "Paris"}, {"city": "Paris"}]
    assert tool_uses[0].id != tool_uses[1].id
    assert final.content[0].type == "text" and final.content[0].text == "Let me check."


def test_anthropic_structured_output(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="claude-test",
        max_tokens=64,
        messages=[{"role": "user", "content": "Weather?"}],
        output_config={
            "format": {
                "type": "json_schema",
                "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
            }
        },
    )

    assert message.content[0].type == "text"
    assert json.loads(message.content[0].text) == {"ok": True}


@pytest.mark.parametrize(
    ("kind", "error_class"),
    [
        ("quota_exhausted", anthropic.RateLimitError),
        ("context_length", anthropic.BadRequestError),
        ("auth", anthropic.AuthenticationError),
        ("not_found", anthropic.NotFoundError),
    ],
)
def test_anthropic_error_recipes(
    server: FakeProviderServer,
    claude: anthropic.Anthropic,
    kind: str,
    error_class: type[anthropic.APIStatusError],
) -> None:
    server.enqueue("anthropic", Behavior.error(kind, provider="anthropic"))

    with pytest.raises(error_class) as info:
        claude.messages.create(
            model="claude-test", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        )

    if kind == "quota_exhausted":
        assert info.value.error_code == "enforced_spend_limit_reached"
    if kind == "context_length":
        assert "prompt is too long" in str(info.value.api_message)
