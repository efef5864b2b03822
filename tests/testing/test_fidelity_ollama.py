"""The official ollama client parses the fake server's native Ollama answers."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import ollama
import pytest

from otel_llm.testing import Behavior, FakeProviderServer

MODEL = "llama3.2"
MESSAGES = [{"role": "user", "content": "Say hello please"}]


@pytest.fixture(scope="module")
def client(_module_server: FakeProviderServer) -> Iterator[ollama.Client]:
    # ollama.Client has close() but no __enter__; closing() also keeps mypy off its untyped close().
    with contextlib.closing(ollama.Client(host=_module_server.base_url("ollama"))) as client:
        yield client


def test_chat(server: FakeProviderServer, client: ollama.Client) -> None:
    response = client.chat(model=MODEL, messages=MESSAGES)

    assert response.message.role == "assistant"
    assert response.message.content == "Hello from ollama llama3.2."
    assert (response.done, response.done_reason) == (True, "stop")
    assert (response.prompt_eval_count, response.eval_count) == (3, 4)
    assert response.load_duration == 1_000_000
    assert response.total_duration is not None and response.total_duration > response.load_duration
    assert server.requests[0].path == "/ollama/api/chat"
    assert server.requests[0].body["stream"] is False


def test_chat_stream(server: FakeProviderServer, client: ollama.Client) -> None:
    parts = list(client.chat(model=MODEL, messages=MESSAGES, stream=True))

    assert "".join(p.message.content or "" for p in parts) == "Hello from ollama llama3.2."
    assert [p.done for p in parts] == [False] * (len(parts) - 1) + [True]
    assert parts[-1].eval_count == 4
    assert server.requests[0].stream is True


def test_embed(client: ollama.Client) -> None:
    response = client.embed(model="nomic-embed-text", input=["a b", "c"])

    assert [len(v) for v in response.embeddings] == [8, 8]
    assert response.prompt_eval_count == 3
    assert response.model == "nomic-embed-text"


def test_tool_call(server: FakeProviderServer, client: ollama.Client) -> None:
    server.set_behavior(
        "ollama", Behavior(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    )

    def get_weather(city: str) -> str:
        """Get the weather.

        Args:
            city: The city.

        Returns:
            The weather.
        """
        return "sunny"

    response = client.chat(model=MODEL, messages=MESSAGES, tools=[get_weather])
    streamed = [
        call
        for part in client.chat(model=MODEL, messages=MESSAGES, tools=[get_weather], stream=True)
        for call in part.message.tool_calls or []
    ]

    calls = response.message.tool_calls or []
    assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert [c.function.name for c in streamed] == ["get_weather"]
    assert server.requests[0].body["tools"][0]["function"]["name"] == "get_weather"


def test_json_format(client: ollama.Client) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}

    response = client.chat(model=MODEL, messages=MESSAGES, format=schema)

    assert json.loads(response.message.content or "") == {"answer": 1}


def test_model_not_found(server: FakeProviderServer, client: ollama.Client) -> None:
    server.enqueue("ollama", Behavior.error("not_found", provider="ollama"))

    with pytest.raises(ollama.ResponseError) as info:
        client.chat(model="llama9", messages=MESSAGES)

    assert info.value.status_code == 404
    assert info.value.error == 'model "llama9" not found, try pulling it first'


def test_mid_stream_error(server: FakeProviderServer, client: ollama.Client) -> None:
    server.enqueue("ollama", Behavior(stream_error_after=2, error_message="runner crashed"))
    seen: list[str] = []

    with pytest.raises(ollama.ResponseError, match="runner crashed"):
        for part in client.chat(model=MODEL, messages=MESSAGES, stream=True):
            seen.append(part.message.content or "")

    assert "".join(seen) == "Hello from"
