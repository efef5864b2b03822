"""The official openai SDK parses tool calls, structured output, embeddings, Azure and compat quirks."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolUnionParam
from pydantic import BaseModel

from otel_llm.testing import Behavior, FakeProviderServer

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOLS: list[ChatCompletionToolUnionParam] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
CALLS: list[dict[str, object]] = [
    {"name": "get_weather", "arguments": {"city": "Paris"}},
    {"name": "get_weather", "arguments": {"city": "Lyon"}},
]


class Weather(BaseModel):
    city: str
    temperature: float
    tags: list[str]


@pytest.fixture
def client(server: FakeProviderServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url("openai"), api_key="sk-test", max_retries=0) as client:
        yield client


@pytest.fixture
def azure(server: FakeProviderServer) -> Iterator[openai.AzureOpenAI]:
    with openai.AzureOpenAI(
        azure_endpoint=server.base_url("azure"), api_version="2024-10-21", api_key="az-test", max_retries=0
    ) as client:
        yield client


# ---------------------------------------------------------------- tool calls


def test_tool_calls(server: FakeProviderServer, client: openai.OpenAI) -> None:
    server.set_behavior("openai", Behavior(tool_calls=CALLS))

    completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, tools=TOOLS)

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [(c.type, c.id) for c in calls] == [("function", calls[0].id), ("function", calls[1].id)]
    assert calls[0].id != calls[1].id
    functions = [c.function for c in calls if c.type == "function"]
    assert [(f.name, json.loads(f.arguments)) for f in functions] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Lyon"}),
    ]
    assert server.requests[0].body["tools"][0]["function"]["name"] == "get_weather"


def test_tool_calls_stream(server: FakeProviderServer, client: openai.OpenAI) -> None:
    server.set_behavior("openai", Behavior(text="Checking.", tool_calls=CALLS))

    with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES, tools=TOOLS) as stream:
        argument_deltas = [e for e in stream if e.type == "tool_calls.function.arguments.delta"]
        final = stream.get_final_completion()

    assert len(argument_deltas) >= 4  # arguments arrive in several fragments per call
    message = final.choices[0].message
    assert message.content == "Checking."
    assert final.choices[0].finish_reason == "tool_calls"
    functions = [c.function for c in message.tool_calls or []]
    assert [json.loads(f.arguments) for f in functions] == [{"city": "Paris"}, {"city": "Lyon"}]


def test_tool_calls_raw_stream_chunks(server: FakeProviderServer, client: openai.OpenAI) -> None:
    server.set_behavior("openai", Behavior(tool_calls=CALLS[:1]))

    with client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, tools=TOOLS, stream=True
    ) as stream:
        fragments = [tc for chunk in stream for tc in (chunk.choices[0].delta.tool_calls or [])]

    assert fragments[0].id and fragments[0].function and fragments[0].function.name == "get_weather"
    assert all(f.id is None and f.index == 0 for f in fragments[1:])
    assert json.loads("".join(f.function.arguments or "" for f in fragments if f.function)) == {
        "city": "Paris"
    }


# ---------------------------------------------------------------- structured output


def test_parse_json_schema(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(model="gpt-4o", messages=MESSAGES, response_format=Weather)

    assert completion.choices[0].message.parsed == Weather(city="example", temperature=1.0, tags=["example"])


def test_parse_json_schema_stream(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES, response_format=Weather) as stream:
        final = stream.get_final_completion()

    assert final.choices[0].message.parsed == Weather(city="example", temperature=1.0, tags=["example"])


def test_json_object_mode(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, response_format={"type": "json_object"}
    )

    assert json.loads(completion.choices[0].message.content or "") == {"message": "Hello from openai gpt-4o."}


def test_invalid_json_can_be_scripted(server: FakeProviderServer, client: openai.OpenAI) -> None:
    server.set_behavior("openai", Behavior(text='{"city": '))

    with pytest.raises(ValueError):
        client.chat.completions.parse(model="gpt-4o", messages=MESSAGES, response_format=Weather)


# ---------------------------------------------------------------- embeddings


def test_embeddings_default_encoding_is_base64(server: FakeProviderServer, client: openai.OpenAI) -> None:
    response = client.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])
    reference = client.embeddings.create(
        model="text-embedding-3-small", input=["a b", "c"], encoding_format="float"
    )

    # Without encoding_format the SDK asks for base64 and decodes it into floats.
    assert server.requests[0].body["encoding_format"] == "base64"
    assert [d.embedding for d in response.data] == [d.embedding for d in reference.data]
    assert [len(d.embedding) for d in response.data] == [8, 8]
    assert (response.usage.prompt_tokens, response.usage.total_tokens) == (3, 3)
    assert response.model == "text-embedding-3-small"


def test_embeddings_explicit_base64(client: openai.OpenAI) -> None:
    reference = client.embeddings.create(model="m", input="hello", encoding_format="float", dimensions=5)
    response = client.embeddings.create(model="m", input="hello", encoding_format="base64", dimensions=5)

    encoded = response.data[0].embedding
    assert isinstance(encoded, str)  # asked for explicitly, the SDK hands base64 over untouched
    raw = base64.b64decode(encoded)
    assert list(struct.unpack("<5f", raw)) == reference.data[0].embedding


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kind", "error_class", "code"),
    [
        ("rate_limit", openai.RateLimitError, "rate_limit_exceeded"),
        ("quota_exhausted", openai.RateLimitError, "insufficient_quota"),
        ("context_length", openai.BadRequestError, "context_length_exceeded"),
        ("content_filter", openai.BadRequestError, "content_policy_violation"),
        ("auth", openai.AuthenticationError, "invalid_api_key"),
        ("overloaded", openai.InternalServerError, "server_is_overloaded"),
    ],
)
def test_error_recipes(
    server: FakeProviderServer,
    client: openai.OpenAI,
    kind: str,
    error_class: type[openai.APIStatusError],
    code: str,
) -> None:
    server.enqueue("openai", Behavior.error(kind))

    with pytest.raises(error_class) as info:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    assert info.value.code == code


# ---------------------------------------------------------------- Azure


def test_azure_completion(server: FakeProviderServer, azure: openai.AzureOpenAI) -> None:
    completion = azure.chat.completions.create(model="my-gpt-4o", messages=MESSAGES)

    assert completion.choices[0].message.content == "Hello from azure my-gpt-4o."
    request = server.requests[0]
    assert request.path == "/azure/openai/deployments/my-gpt-4o/chat/completions"
    assert request.headers["api-key"] == "az-test"
    assert request.model == "my-gpt-4o"


def test_azure_stream_with_empty_first_chunk(azure: openai.AzureOpenAI) -> None:
    with azure.chat.completions.create(
        model="my-gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ) as stream:
        chunks = list(stream)

    assert chunks[0].choices == []
    assert "prompt_filter_results" in (chunks[0].model_extra or {})
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from azure my-gpt-4o."
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4


def test_azure_tool_call_stream(server: FakeProviderServer, azure: openai.AzureOpenAI) -> None:
    server.set_behavior("azure", Behavior(tool_calls=CALLS[:1]))

    with azure.chat.completions.stream(model="my-gpt-4o", messages=MESSAGES, tools=TOOLS) as stream:
        final = stream.get_final_completion()

    calls = final.choices[0].message.tool_calls or []
    assert [json.loads(c.function.arguments) for c in calls] == [{"city": "Paris"}]


def test_azure_embeddings(server: FakeProviderServer, azure: openai.AzureOpenAI) -> None:
    response = azure.embeddings.create(model="my-embedding", input=["x", "y"])

    assert len(response.data) == 2
    assert server.requests[0].path == "/azure/openai/deployments/my-embedding/embeddings"


def test_azure_content_filter_error(server: FakeProviderServer, azure: openai.AzureOpenAI) -> None:
    server.enqueue("azure", Behavior.error("content_filter", provider="azure"))

    with pytest.raises(openai.BadRequestError) as info:
        azure.chat.completions.create(model="my-gpt-4o", messages=MESSAGES)

    assert info.value.code == "content_filter"
    assert isinstance(info.value.body, dict)
    assert info.value.body["innererror"]["code"] == "ResponsibleAIPolicyViolation"


def test_azure_rate_limit(server: FakeProviderServer, azure: openai.AzureOpenAI) -> None:
    server.enqueue("azure", Behavior.error("rate_limit", provider="azure", retry_after=3))

    with pytest.raises(openai.RateLimitError) as info:
        azure.chat.completions.create(model="my-gpt-4o", messages=MESSAGES)

    assert info.value.response.headers["x-ms-retry-after-ms"] == "3000"


# ---------------------------------------------------------------- OpenAI-compatible quirks


def test_openrouter_cost_and_keep_alives(server: FakeProviderServer) -> None:
    server.set_behavior("openrouter", Behavior(keep_alive=2))

    with (
        openai.OpenAI(base_url=server.base_url("openrouter"), api_key="or", max_retries=0) as client,
        client.chat.completions.create(model="openai/gpt-4o", messages=MESSAGES, stream=True) as stream,
    ):
        chunks = list(stream)

    usage = chunks[-1].usage
    assert usage is not None
    assert (usage.model_extra or {})["cost"] > 0
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "Hello from openrouter openai/gpt-4o."
    )


def test_openrouter_mid_stream_error(server: FakeProviderServer) -> None:
    server.set_behavior("openrouter", Behavior(stream_error_after=1, error_message="Provider disconnected"))

    with (
        openai.OpenAI(base_url=server.base_url("openrouter"), api_key="or", max_retries=0) as client,
        pytest.raises(openai.APIError, match="Provider disconnected"),
        client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as stream,
    ):
        list(stream)


def test_openrouter_credits_error(server: FakeProviderServer) -> None:
    server.enqueue("openrouter", Behavior.error("quota_exhausted", provider="openrouter"))

    with (
        openai.OpenAI(base_url=server.base_url("openrouter"), api_key="or", max_retries=0) as client,
        pytest.raises(openai.APIStatusError) as info,
    ):
        client.chat.completions.create(model="m", messages=MESSAGES)

    assert info.value.status_code == 402


def test_together_usage_on_finish_chunk(server: FakeProviderServer) -> None:
    with (
        openai.OpenAI(base_url=server.base_url("together"), api_key="t", max_retries=0) as client,
        client.chat.completions.create(
            model="meta-llama/Llama-3-8b", messages=MESSAGES, stream=True
        ) as stream,
    ):
        chunks = list(stream)

    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
