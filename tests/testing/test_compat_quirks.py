"""OpenAI-compatible quirks, keep-alives and usage-less replies, checked with plain httpx."""

from __future__ import annotations

import time

import httpx
import pytest

from otel_llm.testing import Behavior, FakeProviderServer

from ._helpers import ALL_WIRES, build_request, call, content_pieces, has_terminator, stream_events

# ---------------------------------------------------------------- OpenRouter


def test_openrouter_usage_cost(server: FakeProviderServer, http: httpx.Client) -> None:
    body = call(server, http, "openrouter").json()

    usage = body["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (3, 4)
    # 1 $/M input tokens, 2 $/M output tokens
    assert usage["cost"] == pytest.approx(3e-6 + 8e-6)
    assert usage["cost_details"] == {"upstream_inference_cost": None}
    assert usage["prompt_tokens_details"]["cache_write_tokens"] == 0
    assert body["provider"] == "FakeUpstream"


def test_openrouter_always_ends_streams_with_usage(server: FakeProviderServer, http: httpx.Client) -> None:
    _, events = stream_events(server, http, "openrouter", include_usage=False)

    last = events[-2].json()
    assert last["choices"] == []
    assert last["usage"]["cost"] > 0
    assert events[-1].data == "[DONE]"


def test_openrouter_keep_alive_comments(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openrouter", Behavior(keep_alive=2))

    response, events = stream_events(server, http, "openrouter")

    assert response.content.startswith(b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\ndata: ")
    assert "".join(content_pieces("openrouter", events)) == "Hello from openrouter gpt-4o."


def test_openrouter_mid_stream_error(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openrouter", Behavior(stream_error_after=1, error_message="Provider disconnected"))

    _, events = stream_events(server, http, "openrouter")

    last = events[-1].json()
    assert last["error"] == {"code": 500, "message": "Provider disconnected"}
    assert last["choices"][0]["finish_reason"] == "error"


# ---------------------------------------------------------------- Together, Mistral, Groq, DeepSeek


@pytest.mark.parametrize("provider", ["together", "mistral"])
def test_usage_on_the_finish_chunk_unasked(
    server: FakeProviderServer, http: httpx.Client, provider: str
) -> None:
    _, events = stream_events(server, http, provider, include_usage=False)

    chunks = [e.json() for e in events[:-1]]
    finish = chunks[-1]
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert finish["usage"]["completion_tokens"] == 4
    assert all("usage" not in c for c in chunks[:-1])


def test_groq_usage_in_x_groq(server: FakeProviderServer, http: httpx.Client) -> None:
    _, events = stream_events(server, http, "groq", include_usage=False)

    finish = events[-2].json()
    assert finish["x_groq"]["usage"]["prompt_tokens"] == 3


def test_deepseek_cache_fields(server: FakeProviderServer, http: httpx.Client) -> None:
    usage = call(server, http, "deepseek").json()["usage"]

    assert (usage["prompt_cache_hit_tokens"], usage["prompt_cache_miss_tokens"]) == (0, 3)


def test_vllm_needs_no_key(server: FakeProviderServer, http: httpx.Client) -> None:
    assert call(server, http, "vllm", headers={"authorization": ""}).status_code == 200


# ---------------------------------------------------------------- keep-alives


@pytest.mark.parametrize("provider", ["openai", "together", "gemini", "azure"])
def test_keep_alive_comments(server: FakeProviderServer, http: httpx.Client, provider: str) -> None:
    server.set_behavior(provider, Behavior(keep_alive=3))

    response, events = stream_events(server, http, provider)

    assert response.content.startswith(b": keep-alive\n\n" * 3 + b"data: ")
    assert has_terminator(provider, events)


def test_anthropic_keep_alives_are_pings(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("anthropic", Behavior(keep_alive=2))

    _, events = stream_events(server, http, "anthropic")

    assert [e.event for e in events[:3]] == ["ping", "ping", "message_start"]
    assert has_terminator("anthropic", events)


def test_ollama_has_no_keep_alive(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("ollama", Behavior(keep_alive=3))

    response, events = stream_events(server, http, "ollama")

    assert response.content.startswith(b'{"model"')
    assert has_terminator("ollama", events)


def test_keep_alives_are_spaced_by_chunk_delay(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openrouter", Behavior(keep_alive=3, chunk_delay=0.05, text="hi"))
    arrivals: list[tuple[float, str]] = []

    response = http.send(build_request(server, http, "openrouter", stream=True), stream=True)
    try:
        for line in response.iter_lines():
            if line:
                arrivals.append((time.monotonic(), line))
    finally:
        response.close()

    comments = [t for t, line in arrivals if line.startswith(":")]
    first_data = next(t for t, line in arrivals if line.startswith("data:"))
    assert len(comments) == 3
    assert first_data - comments[0] >= 3 * 0.05 * 0.8


def test_keep_alive_is_validated() -> None:
    with pytest.raises(ValueError, match="keep_alive"):
        Behavior(keep_alive=-1)


# ---------------------------------------------------------------- usage-less replies


@pytest.mark.parametrize("wire", ALL_WIRES)
def test_omit_usage(server: FakeProviderServer, http: httpx.Client, wire: str) -> None:
    server.set_behavior(wire, Behavior(omit_usage=True))

    body = call(server, http, wire).json()
    response, events = stream_events(server, http, wire)

    usage_keys = {"usage", "usageMetadata", "prompt_eval_count", "eval_count"}
    assert not usage_keys & set(body)
    assert b"usage" not in response.content.replace(b'"usage":null', b"")
    assert b"prompt_eval_count" not in response.content
    assert has_terminator(wire, events)
    assert content_pieces(wire, events)


def test_omit_usage_on_openrouter(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openrouter", Behavior(omit_usage=True))

    response, _ = stream_events(server, http, "openrouter")

    assert b"usage" not in response.content
