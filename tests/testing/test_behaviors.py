"""Scripted behaviours: errors, retry hints, ordering, streams cut or failing, raw bodies, timing."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from otel_llm.testing import Behavior, FakeProviderServer

from ._helpers import (
    PROVIDERS,
    build_request,
    call,
    content_pieces,
    has_terminator,
    parse_sse,
    stream_events,
)


def reply_text(provider: str, response: httpx.Response) -> str:
    body = response.json()
    if provider == "anthropic":
        return str(body["content"][0]["text"])
    if provider == "gemini":
        return str(body["candidates"][0]["content"]["parts"][0]["text"])
    return str(body["choices"][0]["message"]["content"])


# ---------------------------------------------------------------- error bodies


@pytest.mark.parametrize(
    ("status", "error_type", "code"),
    [
        (400, "invalid_request_error", None),
        (404, "invalid_request_error", "model_not_found"),
        (429, "requests", "rate_limit_exceeded"),
        (500, "server_error", None),
        (503, "server_error", "server_is_overloaded"),
        (418, "invalid_request_error", None),
        (599, "server_error", None),
    ],
)
def test_openai_error_bodies(
    server: FakeProviderServer,
    http: httpx.Client,
    status: int,
    error_type: str,
    code: str | None,
) -> None:
    server.set_behavior("openai", Behavior(status=status))

    response = call(server, http, "openai")

    assert response.status_code == status
    assert response.headers["x-request-id"]
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"], error["param"]) == (error_type, code, None)
    assert error["message"]


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (504, "timeout_error"),
        (529, "overloaded_error"),
    ],
)
def test_anthropic_error_bodies(
    server: FakeProviderServer, http: httpx.Client, status: int, error_type: str
) -> None:
    server.set_behavior("anthropic", Behavior(status=status))

    response = call(server, http, "anthropic")

    assert response.status_code == status
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert body["error"]["message"]
    assert body["request_id"] == response.headers["request-id"]


@pytest.mark.parametrize(
    ("status", "rpc_status"),
    [
        (400, "INVALID_ARGUMENT"),
        (403, "PERMISSION_DENIED"),
        (404, "NOT_FOUND"),
        (429, "RESOURCE_EXHAUSTED"),
        (500, "INTERNAL"),
        (503, "UNAVAILABLE"),
        (504, "DEADLINE_EXCEEDED"),
    ],
)
def test_gemini_error_bodies(
    server: FakeProviderServer, http: httpx.Client, status: int, rpc_status: str
) -> None:
    server.set_behavior("gemini", Behavior(status=status))

    response = call(server, http, "gemini")

    assert response.status_code == status
    assert response.json() == {
        "error": {
            "code": status,
            "message": response.json()["error"]["message"],
            "status": rpc_status,
            "details": [],
        }
    }


def test_529_status_line(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("anthropic", Behavior(status=529))

    response = call(server, http, "anthropic")

    assert (response.status_code, response.reason_phrase) == (529, "Overloaded")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_custom_error_fields(server: FakeProviderServer, http: httpx.Client, provider: str) -> None:
    behavior = Behavior(
        status=429, error_type="custom_type", error_message="custom message", error_code="custom_code"
    )
    server.set_behavior(provider, behavior)

    body = call(server, http, provider).json()

    if provider == "openai":
        assert body["error"] == {
            "message": "custom message",
            "type": "custom_type",
            "param": None,
            "code": "custom_code",
        }
    elif provider == "anthropic":
        assert body["error"] == {
            "type": "custom_type",
            "message": "custom message",
            "details": {"error_code": "custom_code"},
        }
    else:
        error = body["error"]
        assert (error["status"], error["message"], error["code"]) == ("custom_type", "custom message", 429)
        assert error["details"][0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
        assert error["details"][0]["reason"] == "custom_code"


# ---------------------------------------------------------------- headers


@pytest.mark.parametrize("provider", ["openai", "anthropic", "together"])
def test_retry_after_headers(server: FakeProviderServer, http: httpx.Client, provider: str) -> None:
    server.enqueue(provider, Behavior(status=429, retry_after=1.5, retry_after_ms=1500))
    server.enqueue(provider, Behavior(status=429, retry_after=2))

    first = call(server, http, provider)
    second = call(server, http, provider)

    assert (first.headers["retry-after"], first.headers["retry-after-ms"]) == ("1.5", "1500")
    assert second.headers["retry-after"] == "2"
    assert "retry-after-ms" not in second.headers


def test_gemini_retry_hint_is_retry_info(server: FakeProviderServer, http: httpx.Client) -> None:
    server.enqueue("gemini", Behavior(status=429, retry_after=37), Behavior(status=429, retry_after_ms=1500))

    first = call(server, http, "gemini")
    second = call(server, http, "gemini")

    assert "retry-after" not in first.headers  # the real Gemini API has no rate-limit headers
    retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}
    assert first.json()["error"]["details"] == [retry_info]
    assert second.json()["error"]["details"][0]["retryDelay"] == "1.500s"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_extra_headers_win(server: FakeProviderServer, http: httpx.Client, provider: str) -> None:
    server.set_behavior(
        provider,
        Behavior(headers={"X-RateLimit-Remaining-Requests": "0", "x-request-id": "mine"}),
    )

    response = call(server, http, provider)
    _, events = stream_events(server, http, provider)

    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.headers["x-request-id"] == "mine"
    assert has_terminator(provider, events)


# ---------------------------------------------------------------- ordering


def test_enqueued_behaviors_are_fifo_then_persistent(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("anthropic", Behavior(status=500))
    server.enqueue("anthropic", Behavior(status=429), Behavior(status=529))
    server.enqueue("anthropic", Behavior(status=200))

    statuses = [call(server, http, "anthropic").status_code for _ in range(5)]

    assert statuses == [429, 529, 200, 500, 500]


def test_model_specific_behavior_wins_over_any(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openai", Behavior(status=503))
    server.set_behavior("openai", Behavior(text="mini is fine"), model="gpt-4o-mini")

    assert call(server, http, "openai", model="gpt-4o").status_code == 503
    mini = call(server, http, "openai", model="gpt-4o-mini")
    assert (mini.status_code, reply_text("openai", mini)) == (200, "mini is fine")


def test_one_shot_for_model_before_one_shot_for_any(server: FakeProviderServer, http: httpx.Client) -> None:
    server.enqueue("gemini", Behavior(status=500))
    server.enqueue("gemini", Behavior(status=429), model="gemini-2.0-flash")
    server.set_behavior("gemini", Behavior(text="persistent"), model="gemini-2.0-flash")

    statuses = [call(server, http, "gemini").status_code for _ in range(3)]
    other = call(server, http, "gemini", model="gemini-2.5-pro")

    assert statuses == [429, 500, 200]
    assert (other.status_code, reply_text("gemini", other)) == (200, "Hello from gemini gemini-2.5-pro.")


def test_behaviors_are_per_provider(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openai", Behavior(status=503))

    assert call(server, http, "openai").status_code == 503
    assert call(server, http, "anthropic").status_code == 200
    assert call(server, http, "together").status_code == 200


def test_set_behavior_replaces_and_reset_clears(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openai", Behavior(status=503))
    server.set_behavior("openai", Behavior(status=502))
    server.enqueue("openai", Behavior(status=429))
    assert call(server, http, "openai").status_code == 429
    assert call(server, http, "openai").status_code == 502

    server.reset()

    assert call(server, http, "openai").status_code == 200
    assert len(server.requests) == 1


def test_rejected_requests_do_not_consume_behaviors(server: FakeProviderServer, http: httpx.Client) -> None:
    server.enqueue("openai", Behavior(status=429))

    unauthorized = call(server, http, "openai", headers={"authorization": ""})
    scripted = call(server, http, "openai")

    assert (unauthorized.status_code, scripted.status_code) == (401, 429)


# ---------------------------------------------------------------- streams


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("after", [0, 2])
def test_cut_stream_after(server: FakeProviderServer, http: httpx.Client, provider: str, after: int) -> None:
    server.set_behavior(provider, Behavior(text="a b c d e", cut_stream_after=after))

    response, events = stream_events(server, http, provider)

    assert response.status_code == 200  # EOF after a 200: the client sees a clean end of body
    assert content_pieces(provider, events) == ["a", " b", " c", " d", " e"][:after]
    assert not has_terminator(provider, events)
    # Cut between events, not inside one (Gemini has no head events, so after=0 is empty).
    assert response.content == b"" or response.content.endswith((b"\n\n", b"\r\n\r\n"))


def test_cut_stream_after_more_chunks_than_exist_still_drops_terminator(
    server: FakeProviderServer, http: httpx.Client
) -> None:
    server.set_behavior("openai", Behavior(text="a b", cut_stream_after=10))

    _, events = stream_events(server, http, "openai")

    assert content_pieces("openai", events) == ["a", " b"]
    assert not has_terminator("openai", events)


def test_openai_stream_error_after(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openai", Behavior(text="a b c", stream_error_after=2))

    _, events = stream_events(server, http, "openai")

    assert content_pieces("openai", events) == ["a", " b"]
    assert events[-1].event is None
    assert events[-1].json() == {
        "error": {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }


def test_anthropic_stream_error_after(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("anthropic", Behavior(text="a b c", stream_error_after=1))

    _, events = stream_events(server, http, "anthropic")

    assert content_pieces("anthropic", events) == ["a"]
    assert events[0].event == "message_start"
    assert events[-1].event == "error"
    assert events[-1].json() == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }


def test_gemini_stream_error_after(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior(
        "gemini",
        Behavior(text="a b c", stream_error_after=0, error_type="INTERNAL", error_message="boom"),
    )

    _, events = stream_events(server, http, "gemini")

    assert len(events) == 1
    assert events[0].json() == {
        "error": {"code": 503, "message": "boom", "status": "INTERNAL", "details": []}
    }


@pytest.mark.parametrize("provider", PROVIDERS)
def test_error_status_on_stream_request_is_a_plain_error(
    server: FakeProviderServer, http: httpx.Client, provider: str
) -> None:
    server.set_behavior(provider, Behavior(status=429, retry_after=1))

    response = call(server, http, provider, stream=True)

    assert response.status_code == 429
    assert response.headers["content-type"] == "application/json"
    assert "error" in response.json()


def test_empty_text_stream(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("anthropic", Behavior(text=""))

    _, events = stream_events(server, http, "anthropic")
    body = call(server, http, "anthropic").json()

    assert [e.event for e in events] == ["message_start", "ping", "message_delta", "message_stop"]
    assert body["content"] == []
    assert body["usage"]["output_tokens"] == 0


# ---------------------------------------------------------------- raw bodies


@pytest.mark.parametrize("provider", PROVIDERS)
def test_raw_body(server: FakeProviderServer, http: httpx.Client, provider: str) -> None:
    server.set_behavior(provider, Behavior(raw_body=b'{"choices": [', retry_after=3))

    response = call(server, http, provider)

    assert response.status_code == 200
    assert response.content == b'{"choices": ['
    assert response.headers["content-type"] == "application/json"


def test_raw_body_with_status_and_content_type(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior(
        "openai", Behavior(status=502, raw_body=b"<html>Bad Gateway</html>", content_type="text/html")
    )

    response = call(server, http, "openai", stream=True)

    assert (response.status_code, response.headers["content-type"]) == (502, "text/html")
    assert response.text == "<html>Bad Gateway</html>"


def test_raw_body_can_be_a_malformed_stream(server: FakeProviderServer, http: httpx.Client) -> None:
    raw = b'data: {"choices": [{"delta": {"content": "hi"\n\ndata: [DONE]\n\n'
    server.set_behavior("openai", Behavior(raw_body=raw, content_type="text/event-stream"))

    response = call(server, http, "openai", stream=True)

    assert response.content == raw
    assert parse_sse(response.content)[-1].data == "[DONE]"


# ---------------------------------------------------------------- timing


def test_latency_delays_the_response(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openai", Behavior(latency=0.2))

    started = time.monotonic()
    response = call(server, http, "openai")

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.18


def test_latency_applies_to_errors(server: FakeProviderServer, http: httpx.Client) -> None:
    server.enqueue("anthropic", Behavior(status=529, latency=0.15))

    started = time.monotonic()
    response = call(server, http, "anthropic")

    assert response.status_code == 529
    assert time.monotonic() - started >= 0.13


def test_stream_events_arrive_incrementally(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openai", Behavior(text="a b c d", chunk_delay=0.05))
    arrivals: list[float] = []

    response = http.send(build_request(server, http, "openai", stream=True), stream=True)
    try:
        for line in response.iter_lines():
            if line.startswith("data:"):
                arrivals.append(time.monotonic())
    finally:
        response.close()

    # 1 role + 4 content + finish + usage + [DONE] = 8 events, 7 gaps of 50 ms.
    assert len(arrivals) == 8
    assert arrivals[-1] - arrivals[0] >= 7 * 0.05 * 0.8


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": 99},
        {"status": 600},
        {"latency": -1},
        {"chunk_delay": -0.1},
        {"retry_after": -1},
        {"cut_stream_after": -1},
        {"cut_stream_after": 1, "stream_error_after": 1},
        {"content_type": "text/plain"},
    ],
)
def test_behavior_rejects_invalid_fields(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Behavior(**kwargs)


def test_behavior_is_frozen_and_hashable() -> None:
    behavior = Behavior(status=429, headers={"a": "b"})

    with pytest.raises(AttributeError):
        behavior.status = 200  # type: ignore[misc]
    assert hash(behavior) == hash(Behavior(status=429, headers={"a": "c"}))
    assert behavior != Behavior(status=429, headers={"a": "c"})
