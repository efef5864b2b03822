"""MockProviders: the fake providers in-process, through our clients, without a socket."""

from __future__ import annotations

import socket

import pytest

import otel_llm
from otel_llm import AllRoutesFailedError, StreamInterruptedError
from otel_llm.providers import BUILTIN
from otel_llm.testing import Behavior, MockProviders

USER = [{"role": "user", "content": "Say hello to the mock."}]


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("MockProviders must not open a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def client(mock: MockProviders) -> otel_llm.Client:
    return otel_llm.Client(transport=mock, providers=mock.provider_settings(), sleep=lambda seconds: None)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_provider_answers_in_process(name: str) -> None:
    mock = MockProviders()
    with client(mock) as c:
        reply = c.chat(f"{name}:model-x", USER)
        streamed = "".join(chunk.delta for chunk in c.stream(f"{name}:model-x", USER))
    assert reply.text == f"Hello from {name} model-x."
    assert streamed == reply.text
    assert [r.provider for r in mock.requests] == [name, name]


def test_scripted_failures_drive_retries_and_fallbacks() -> None:
    mock = MockProviders()
    mock.set_behavior("openai", Behavior.error("overloaded", provider="openai"))
    mock.enqueue("anthropic", Behavior.error("rate_limit", provider="anthropic", retry_after=0.0))
    with client(mock) as c:
        reply = c.chat("openai:gpt-4o-mini", USER, fallbacks=["anthropic:claude-haiku-4-5"])
    assert reply.route == otel_llm.Route("anthropic", "claude-haiku-4-5")
    assert [r.provider for r in mock.requests] == ["openai"] * 3 + ["anthropic"] * 2


def test_a_cut_stream_is_interrupted_with_its_partial_text() -> None:
    mock = MockProviders()
    mock.enqueue("openai", Behavior(text="one two three four", cut_stream_after=2))
    with client(mock) as c, pytest.raises(StreamInterruptedError) as info:
        list(c.stream("openai:gpt-4o-mini", USER))
    assert info.value.partial_text.split() == ["one", "two"]


def test_tool_calls_and_quota_errors_are_scriptable() -> None:
    mock = MockProviders()
    mock.enqueue("gemini", Behavior(tool_calls=[{"name": "lookup", "arguments": {"q": "x"}}]))
    mock.enqueue("gemini", Behavior.error("quota_exhausted", provider="gemini"))
    with client(mock) as c:
        assert c.chat("gemini:g", USER).tool_calls[0].name == "lookup"
        with pytest.raises(AllRoutesFailedError) as info:
            c.chat("gemini:g", USER)
    assert info.value.kind == "quota_exhausted"


@pytest.mark.anyio
async def test_async_clients_use_it_too() -> None:
    mock = MockProviders()
    async with otel_llm.AsyncClient(transport=mock, providers=mock.provider_settings()) as c:
        reply = await c.chat("mistral:small", USER)
        vectors = (await c.embed("ollama:nomic", ["a", "b"])).vectors
    assert reply.text == "Hello from mistral small."
    assert len(vectors) == 2
