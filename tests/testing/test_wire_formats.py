"""Response shapes per provider, checked with plain httpx."""

from __future__ import annotations

import httpx
import pytest

from otel_llm.testing import Behavior, FakeProviderServer

from ._helpers import call, content_pieces, has_terminator, parse_sse, stream_events

# ---------------------------------------------------------------- OpenAI


def test_openai_completion_shape(server: FakeProviderServer, http: httpx.Client) -> None:
    response = call(server, http, "openai")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert body["model"] == "gpt-4o"
    assert body["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello from openai gpt-4o.",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert body["usage"] == {
        "prompt_tokens": 3,  # "Say hello please"
        "completion_tokens": 4,  # "Hello from openai gpt-4o."
        "total_tokens": 7,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def test_openai_stream_with_usage(server: FakeProviderServer, http: httpx.Client) -> None:
    response, events = stream_events(server, http, "openai")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["connection"] == "close"
    assert "content-length" not in response.headers
    assert events[-1].data == "[DONE]"
    chunks = [e.json() for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    pieces = content_pieces("openai", events)
    assert len(pieces) > 1
    assert "".join(pieces) == "Hello from openai gpt-4o."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 3
    assert chunks[-1]["usage"]["completion_tokens"] == 4
    assert all(c["usage"] is None for c in chunks[:-1])


def test_openai_stream_without_include_usage(server: FakeProviderServer, http: httpx.Client) -> None:
    _, events = stream_events(server, http, "openai", include_usage=False)

    chunks = [e.json() for e in events[:-1]]
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert events[-1].data == "[DONE]"


def test_openai_counts_text_parts_and_system_messages(server: FakeProviderServer, http: httpx.Client) -> None:
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "one two three"},
                    {"type": "image_url", "image_url": {"url": "data:,"}},
                ],
            },
        ],
    }
    response = http.post(
        server.base_url("openai") + "/chat/completions",
        json=body,
        headers={"authorization": "Bearer k"},
    )

    assert response.json()["usage"]["prompt_tokens"] == 5


def test_openai_compatible_prefix(server: FakeProviderServer, http: httpx.Client) -> None:
    assert server.base_url("together") == server.url + "/together/v1"
    server.set_behavior("together", Behavior(text="from together"))

    response = call(server, http, "together", model="meta-llama/Llama-3-8b")
    openai_response = call(server, http, "openai")

    assert response.json()["choices"][0]["message"]["content"] == "from together"
    assert response.json()["model"] == "meta-llama/Llama-3-8b"
    assert openai_response.json()["choices"][0]["message"]["content"] == "Hello from openai gpt-4o."
    assert [r.provider for r in server.requests] == ["together", "openai"]


def test_openai_missing_messages_is_400(server: FakeProviderServer, http: httpx.Client) -> None:
    response = http.post(
        server.base_url("openai") + "/chat/completions",
        json={"model": "gpt-4o"},
        headers={"authorization": "Bearer k"},
    )

    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "Missing required parameter: 'messages'.",
        "type": "invalid_request_error",
        "param": None,
        "code": "missing_required_parameter",
    }


# ---------------------------------------------------------------- Anthropic


def test_anthropic_message_shape(server: FakeProviderServer, http: httpx.Client) -> None:
    response = call(server, http, "anthropic")

    assert response.status_code == 200
    assert response.headers["request-id"].startswith("req_")
    body = response.json()
    assert body["id"].startswith("msg_")
    assert body == {
        "id": body["id"],
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [{"type": "text", "text": "Hello from anthropic claude-test."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 3,
            "output_tokens": 4,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "standard",
        },
    }


def test_anthropic_stream_event_sequence(server: FakeProviderServer, http: httpx.Client) -> None:
    _, events = stream_events(server, http, "anthropic")

    names = [e.event for e in events]
    pieces = content_pieces("anthropic", events)
    assert len(pieces) > 1
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * len(pieces),
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(e.json()["type"] == e.event for e in events)
    start = events[0].json()["message"]
    assert start["content"] == []
    assert start["stop_reason"] is None
    assert start["usage"]["input_tokens"] == 3
    assert "".join(pieces) == "Hello from anthropic claude-test."
    delta = events[-2].json()
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == 4
    assert delta["usage"]["input_tokens"] == 3


def test_anthropic_counts_system_and_blocks(server: FakeProviderServer, http: httpx.Client) -> None:
    body = {
        "model": "claude-test",
        "max_tokens": 10,
        "system": [{"type": "text", "text": "You are terse."}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "a b"}]},
            {"role": "assistant", "content": "c"},
        ],
    }
    response = http.post(server.base_url("anthropic") + "/v1/messages", json=body, headers={"x-api-key": "k"})

    assert response.json()["usage"]["input_tokens"] == 6


def test_anthropic_requires_max_tokens(server: FakeProviderServer, http: httpx.Client) -> None:
    response = http.post(
        server.base_url("anthropic") + "/v1/messages",
        json={"model": "claude-test", "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": "k"},
    )

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error"
    assert body["error"] == {"type": "invalid_request_error", "message": "max_tokens: Field required"}
    assert body["request_id"] == response.headers["request-id"]


# ---------------------------------------------------------------- Gemini


def test_gemini_generate_content_shape(server: FakeProviderServer, http: httpx.Client) -> None:
    response = call(server, http, "gemini")

    assert response.status_code == 200
    body = response.json()
    assert body["candidates"] == [
        {
            "content": {
                "parts": [{"text": "Hello from gemini gemini-2.0-flash."}],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ]
    usage = body["usageMetadata"]
    assert (usage["promptTokenCount"], usage["candidatesTokenCount"]) == (3, 4)
    assert usage["totalTokenCount"] == 7
    assert body["modelVersion"] == "gemini-2.0-flash"
    assert body["responseId"]


def test_gemini_stream_shape(server: FakeProviderServer, http: httpx.Client) -> None:
    response, events = stream_events(server, http, "gemini")

    assert response.headers["content-type"].startswith("text/event-stream")
    assert b"\r\n\r\n" in response.content  # Gemini frames events with CRLF
    assert all(e.event is None for e in events)
    pieces = content_pieces("gemini", events)
    assert len(pieces) > 1
    assert "".join(pieces) == "Hello from gemini gemini-2.0-flash."
    bodies = [e.json() for e in events]
    assert all("usageMetadata" not in b for b in bodies[:-1])
    assert bodies[-1]["candidates"][0]["finishReason"] == "STOP"
    assert bodies[-1]["usageMetadata"]["candidatesTokenCount"] == 4
    assert has_terminator("gemini", events)


def test_gemini_counts_system_instruction(server: FakeProviderServer, http: httpx.Client) -> None:
    body = {
        "systemInstruction": {"parts": [{"text": "be nice"}]},
        "contents": [
            {"role": "user", "parts": [{"text": "a"}, {"text": "b c"}]},
            {"role": "model", "parts": [{"text": "d"}]},
        ],
    }
    response = http.post(
        server.base_url("gemini") + "/models/gemini-2.0-flash:generateContent",
        json=body,
        headers={"x-goog-api-key": "k"},
    )

    assert response.json()["usageMetadata"]["promptTokenCount"] == 6


def test_gemini_stream_requires_alt_sse(server: FakeProviderServer, http: httpx.Client) -> None:
    response = http.post(
        server.base_url("gemini") + "/models/gemini-2.0-flash:streamGenerateContent",
        json={"contents": [{"parts": [{"text": "hi"}]}]},
        headers={"x-goog-api-key": "k"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_gemini_model_comes_from_the_path(server: FakeProviderServer, http: httpx.Client) -> None:
    call(server, http, "gemini", model="gemini-2.5-pro")

    assert server.requests[0].model == "gemini-2.5-pro"
    assert server.requests[0].path == "/gemini/v1beta/models/gemini-2.5-pro:generateContent"


# ---------------------------------------------------------------- all providers


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_text_and_finish_reason_overrides(
    server: FakeProviderServer, http: httpx.Client, provider: str
) -> None:
    native = {"openai": "length", "anthropic": "max_tokens", "gemini": "MAX_TOKENS"}[provider]
    server.set_behavior(provider, Behavior(text="one two three four five", finish_reason=native))

    body = call(server, http, provider).json()
    _, events = stream_events(server, http, provider)

    assert "".join(content_pieces(provider, events)) == "one two three four five"
    assert len(content_pieces(provider, events)) == 5
    if provider == "openai":
        assert body["choices"][0]["finish_reason"] == native
        assert body["usage"]["completion_tokens"] == 5
    elif provider == "anthropic":
        assert body["stop_reason"] == native
        assert body["usage"]["output_tokens"] == 5
    else:
        assert body["candidates"][0]["finishReason"] == native
        assert body["usageMetadata"]["candidatesTokenCount"] == 5


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_input_tokens_are_at_least_one(server: FakeProviderServer, http: httpx.Client, provider: str) -> None:
    body = call(server, http, provider, text="   ").json()

    tokens = {
        "openai": lambda: body["usage"]["prompt_tokens"],
        "anthropic": lambda: body["usage"]["input_tokens"],
        "gemini": lambda: body["usageMetadata"]["promptTokenCount"],
    }[provider]()
    assert tokens == 1


def test_sse_parser_keeps_multiline_data() -> None:
    events = parse_sse(b"event: x\ndata: a\ndata: b\n\n: comment\n\ndata: c\r\n\r\ndata: cut")

    assert [(e.event, e.data) for e in events] == [("x", "a\nb"), (None, "c")]
