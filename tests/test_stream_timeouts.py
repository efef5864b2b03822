"""Time-to-first-chunk and idle-gap timeouts for streams, against the fake server over real sockets.

The bounds are loose on purpose (a 0.2 s limit against 0.6 s of delay): the assertions are about which
error and which route, not about milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import otel_llm
from otel_llm import ConfigurationError, RetryPolicy, StopAfterAttempts, StreamInterruptedError, Timeout
from otel_llm.testing import Behavior, FakeProviderServer

USER = [{"role": "user", "content": "one two three four five six"}]


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        yield fake


def client(server: FakeProviderServer, timeout: Timeout) -> otel_llm.Client:
    providers = {
        name: {"base_url": server.base_url(name), "api_key": "k"} for name in ("openai", "anthropic")
    }
    return otel_llm.Client(providers=providers, timeout=timeout, retry=RetryPolicy(stop=StopAfterAttempts(1)))


def test_keep_alives_do_not_count_as_the_first_chunk(server: FakeProviderServer) -> None:
    # OpenAI sends only keep-alive comments for 0.6 s: bytes arrive, content does not.
    server.enqueue("openai", Behavior(keep_alive=6, chunk_delay=0.1))
    with client(server, Timeout(attempt=5, first_chunk=0.2)) as c:
        stream = c.stream("openai:gpt-4o-mini", USER, fallbacks=["anthropic:claude-haiku-4-5"])
        text = "".join(chunk.delta for chunk in stream)
    assert stream.response is not None and stream.response.route == otel_llm.Route(
        "anthropic", "claude-haiku-4-5"
    )
    assert text.startswith("Hello from anthropic")


def test_a_silent_server_times_out_before_the_first_chunk_too(server: FakeProviderServer) -> None:
    server.enqueue("openai", Behavior(latency=0.6))
    with client(server, Timeout(attempt=5, first_chunk=0.2)) as c:
        stream = c.stream("openai:gpt-4o-mini", USER, fallbacks=["anthropic:claude-haiku-4-5"])
        list(stream)
    assert stream.response is not None and stream.response.route == otel_llm.Route(
        "anthropic", "claude-haiku-4-5"
    )


def test_an_idle_gap_after_the_first_chunk_interrupts_the_stream(server: FakeProviderServer) -> None:
    # Every event comes 0.6 s after the previous one: the first content is within first_chunk, the
    # second one breaks the 0.2 s idle limit. Already streaming, the call cannot fall back.
    server.enqueue("openai", Behavior(text="one two three four", chunk_delay=0.6))
    timeout = Timeout(attempt=5, first_chunk=1.5, idle=0.2)
    with client(server, timeout) as c, pytest.raises(StreamInterruptedError) as info:
        list(c.stream("openai:gpt-4o-mini", USER, fallbacks=["anthropic:claude-haiku-4-5"]))
    assert getattr(info.value.__cause__, "kind", None) == "timeout"
    # "two" arrived 0.6 s after "one": it is kept (nothing received is lost), and the stream stops there
    # instead of waiting for the rest.
    assert info.value.partial_text.split() == ["one", "two"]


def test_generous_limits_leave_a_slow_stream_alone(server: FakeProviderServer) -> None:
    server.enqueue("openai", Behavior(text="one two three", chunk_delay=0.05))
    with client(server, Timeout(attempt=5, first_chunk=2, idle=2)) as c:
        stream = c.stream("openai:gpt-4o-mini", USER)
        assert "".join(chunk.delta for chunk in stream).split() == ["one", "two", "three"]


@pytest.mark.parametrize("field", ["first_chunk", "idle"])
def test_invalid_stream_limits_name_the_field(field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        otel_llm.Client(timeout=Timeout(**{field: 0}))
    assert info.value.field == f"timeout.{field}"
