"""The official SDKs must parse the fake server's answers exactly as they parse the real APIs'."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from otel_llm.testing import Behavior, FakeProviderServer

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello please"}]


@pytest.fixture
def openai_client(server: FakeProviderServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url("openai"), api_key="sk-test", max_retries=0) as client:
        yield client


@pytest.fixture
def anthropic_client(server: FakeProviderServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=server.base_url("anthropic"), api_key="sk-ant-test", max_retries=0
    ) as client:
        yield client


# ---------------------------------------------------------------- openai


def test_openai_sdk_completion(openai_client: openai.OpenAI) -> None:
    completion = openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "Hello from openai gpt-4o."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (3, 4)
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 0
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 0


def test_openai_sdk_stream_with_usage(openai_client: openai.OpenAI) -> None:
    with openai_client.chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    ) as stream:
        chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert text == "Hello from openai gpt-4o."
    assert finish == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (3, 4)


def test_openai_sdk_rate_limit_error(server: FakeProviderServer, openai_client: openai.OpenAI) -> None:
    server.enqueue("openai", Behavior(status=429, retry_after=2, retry_after_ms=2000))

    with pytest.raises(openai.RateLimitError) as info:
        openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    error = info.value
    assert error.status_code == 429
    assert error.code == "rate_limit_exceeded"
    assert error.type == "requests"
    assert error.response.headers["retry-after-ms"] == "2000"
    assert error.request_id == error.response.headers["x-request-id"]
    assert isinstance(error.body, dict)
    assert error.body["message"].startswith("Rate limit reached for gpt-4o")


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, openai.BadRequestError),
        (404, openai.NotFoundError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_openai_sdk_typed_errors(
    server: FakeProviderServer,
    openai_client: openai.OpenAI,
    status: int,
    error_class: type[openai.APIStatusError],
) -> None:
    server.enqueue("openai", Behavior(status=status))

    with pytest.raises(error_class) as info:
        openai_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    assert info.value.status_code == status


def test_openai_sdk_authentication_error(server: FakeProviderServer) -> None:
    with (
        openai.OpenAI(
            base_url=server.base_url("openai"),
            api_key="sk-test",
            max_retries=0,
            default_headers={"Authorization": "Basic nope"},
        ) as client,
        pytest.raises(openai.AuthenticationError) as info,
    ):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    assert info.value.code == "invalid_api_key"


def test_openai_sdk_mid_stream_error(server: FakeProviderServer, openai_client: openai.OpenAI) -> None:
    server.enqueue("openai", Behavior(stream_error_after=2, error_message="engine exploded"))
    seen: list[str] = []

    with (
        pytest.raises(openai.APIError, match="engine exploded"),
        openai_client.chat.completions.create(
            model="gpt-4o",
            messages=MESSAGES,
            stream=True,
        ) as stream,
    ):
        for chunk in stream:
            seen.append(chunk.choices[0].delta.content or "")

    assert "".join(seen) == "Hello from"


def test_openai_sdk_against_compatible_prefix(server: FakeProviderServer) -> None:
    with openai.OpenAI(base_url=server.base_url("together"), api_key="t", max_retries=0) as client:
        completion = client.chat.completions.create(model="meta-llama/Llama-3-8b", messages=MESSAGES)

    assert completion.choices[0].message.content == "Hello from together meta-llama/Llama-3-8b."
    assert server.requests[0].provider == "together"


# ---------------------------------------------------------------- anthropic


def test_anthropic_sdk_message(server: FakeProviderServer, anthropic_client: anthropic.Anthropic) -> None:
    message = anthropic_client.messages.create(
        model="claude-test",
        max_tokens=64,
        messages=[{"role": "user", "content": "Say hello please"}],
    )

    assert message.type == "message"
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from anthropic claude-test."
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (3, 4)
    assert message.usage.cache_read_input_tokens == 0
    assert server.requests[0].headers["anthropic-version"]


def test_anthropic_sdk_stream(anthropic_client: anthropic.Anthropic) -> None:
    with anthropic_client.messages.stream(
        model="claude-test",
        max_tokens=64,
        messages=[{"role": "user", "content": "Say hello please"}],
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()

    assert len(pieces) > 1
    assert "".join(pieces) == "Hello from anthropic claude-test."
    assert final.content[0].type == "text"
    assert final.content[0].text == "Hello from anthropic claude-test."
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (3, 4)


def test_anthropic_sdk_overloaded(server: FakeProviderServer, anthropic_client: anthropic.Anthropic) -> None:
    server.enqueue("anthropic", Behavior(status=529))

    with pytest.raises(anthropic.InternalServerError) as info:
        anthropic_client.messages.create(
            model="claude-test",
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
        )

    error = info.value
    assert isinstance(error, anthropic.APIStatusError)
    assert error.status_code == 529
    assert error.type == "overloaded_error"
    assert error.api_message == "Overloaded"
    assert error.request_id == error.response.headers["request-id"]
    assert isinstance(error.body, dict)
    assert error.body["type"] == "error"


def test_anthropic_sdk_rate_limit_with_error_code(
    server: FakeProviderServer, anthropic_client: anthropic.Anthropic
) -> None:
    server.enqueue(
        "anthropic", Behavior(status=429, retry_after=30, error_code="enforced_spend_limit_reached")
    )

    with pytest.raises(anthropic.RateLimitError) as info:
        anthropic_client.messages.create(
            model="claude-test",
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
        )

    assert info.value.error_code == "enforced_spend_limit_reached"
    assert info.value.response.headers["retry-after"] == "30"


def test_anthropic_sdk_authentication_error(server: FakeProviderServer) -> None:
    with (
        anthropic.Anthropic(
            base_url=server.base_url("anthropic"),
            api_key="sk-ant-test",
            max_retries=0,
            default_headers={"Authorization": "Basic nope"},
        ) as client,
        pytest.raises(anthropic.AuthenticationError),
    ):
        client.messages.create(
            model="claude-test", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        )


def test_anthropic_sdk_mid_stream_error(
    server: FakeProviderServer, anthropic_client: anthropic.Anthropic
) -> None:
    server.enqueue("anthropic", Behavior(stream_error_after=1))
    seen: list[str] = []

    with (
        pytest.raises(anthropic.APIStatusError) as info,
        anthropic_client.messages.stream(
            model="claude-test",
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
        ) as stream,
    ):
        seen.extend(stream.text_stream)

    assert seen == ["Hello"]
    assert info.value.type == "overloaded_error"
