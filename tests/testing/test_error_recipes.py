"""``Behavior.error``: every error kind in each provider's real shape, checked with plain httpx."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import httpx
import pytest

from otel_llm.testing import Behavior, FakeProviderServer

from ._helpers import ALL_WIRES, call, stream_events

# (kind, provider) → (status, a predicate on the body's error)
OPENAI_CASES: list[tuple[str, str, int, str | None, str | None]] = [
    # kind, provider, status, error.type, error.code
    ("rate_limit", "openai", 429, "requests", "rate_limit_exceeded"),
    ("quota_exhausted", "openai", 429, "insufficient_quota", "insufficient_quota"),
    ("overloaded", "openai", 503, "server_error", "server_is_overloaded"),
    ("server_error", "openai", 500, "server_error", None),
    ("context_length", "openai", 400, "invalid_request_error", "context_length_exceeded"),
    ("content_filter", "openai", 400, "invalid_request_error", "content_policy_violation"),
    ("auth", "openai", 401, "invalid_request_error", "invalid_api_key"),
    ("not_found", "openai", 404, "invalid_request_error", "model_not_found"),
    ("bad_request", "openai", 400, "invalid_request_error", None),
    ("content_filter", "azure", 400, None, "content_filter"),
    ("auth", "azure", 401, None, "401"),
    ("not_found", "azure", 404, None, "DeploymentNotFound"),
    ("quota_exhausted", "together", 402, "credit_limit", None),
    ("context_length", "together", 403, "invalid_request_error", None),
    ("overloaded", "together", 503, "server_error", "server_is_overloaded"),
    ("quota_exhausted", "mistral", 429, "insufficient_quota", "insufficient_quota"),
]


@pytest.mark.parametrize(("kind", "provider", "status", "error_type", "code"), OPENAI_CASES)
def test_openai_shaped_errors(
    server: FakeProviderServer,
    http: httpx.Client,
    kind: str,
    provider: str,
    status: int,
    error_type: str | None,
    code: str | None,
) -> None:
    server.set_behavior(provider, Behavior.error(kind, provider=provider))

    response = call(server, http, provider)

    assert response.status_code == status
    error = response.json()["error"]
    assert (error["type"], error["code"]) == (error_type, code)
    assert error["message"]


def test_openai_rate_limit_hints(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openai", Behavior.error("rate_limit", provider="openai", retry_after=1.5))

    headers = call(server, http, "openai").headers

    assert (headers["retry-after"], headers["retry-after-ms"]) == ("1.5", "1500")
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"] == "1.5s"


def test_quota_exhausted_has_no_retry_hint(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openai", Behavior.error("quota_exhausted"))

    response = call(server, http, "openai")

    assert "retry-after" not in response.headers
    assert response.json()["error"]["message"].startswith("You exceeded your current quota")


@pytest.mark.parametrize(
    ("kind", "status", "error_type", "message_part"),
    [
        ("rate_limit", 429, "rate_limit_error", "rate limit"),
        ("quota_exhausted", 429, "rate_limit_error", "spend limit"),
        ("overloaded", 529, "overloaded_error", "Overloaded"),
        ("server_error", 500, "api_error", "Internal server error"),
        (
            "context_length",
            400,
            "invalid_request_error",
            "prompt is too long: 215000 tokens > 200000 maximum",
        ),
        ("content_filter", 400, "invalid_request_error", "content filtering"),
        ("auth", 401, "authentication_error", "invalid x-api-key"),
        ("not_found", 404, "not_found_error", "claude-test"),
    ],
)
def test_anthropic_errors(
    server: FakeProviderServer, http: httpx.Client, kind: str, status: int, error_type: str, message_part: str
) -> None:
    server.set_behavior("anthropic", Behavior.error(kind, provider="anthropic"))

    response = call(server, http, "anthropic")

    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"] == error_type
    assert message_part in error["message"]
    if kind == "quota_exhausted":
        assert error["details"] == {"error_code": "enforced_spend_limit_reached"}
        assert "retry-after" not in response.headers


def test_anthropic_rate_limit_headers(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("anthropic", Behavior.error("rate_limit", provider="anthropic", retry_after=30))

    headers = call(server, http, "anthropic").headers

    assert headers["retry-after"] == "30"
    assert "retry-after-ms" not in headers
    assert headers["anthropic-ratelimit-requests-remaining"] == "0"
    reset = datetime.datetime.fromisoformat(
        headers["anthropic-ratelimit-requests-reset"].replace("Z", "+00:00")
    )
    assert reset > datetime.datetime.now(datetime.timezone.utc)


def gemini_details(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["@type"].rsplit(".", 1)[-1]: d for d in body["error"]["details"]}


def test_gemini_rate_limit_and_daily_quota(server: FakeProviderServer, http: httpx.Client) -> None:
    server.enqueue(
        "gemini",
        Behavior.error("rate_limit", provider="gemini", retry_after=37),
        Behavior.error("quota_exhausted", provider="gemini"),
    )

    minute = call(server, http, "gemini")
    day = call(server, http, "gemini")

    assert (minute.status_code, day.status_code) == (429, 429)
    assert "retry-after" not in minute.headers
    per_minute = gemini_details(minute.json())
    assert per_minute["RetryInfo"]["retryDelay"] == "37s"
    violation = per_minute["QuotaFailure"]["violations"][0]
    assert "PerMinute" in violation["quotaId"]
    assert violation["quotaDimensions"]["model"] == "gemini-2.0-flash"
    per_day = gemini_details(day.json())
    assert "RetryInfo" not in per_day
    assert "PerDay" in per_day["QuotaFailure"]["violations"][0]["quotaId"]
    assert day.json()["error"]["status"] == "RESOURCE_EXHAUSTED"


@pytest.mark.parametrize(
    ("kind", "status", "rpc_status", "message_part"),
    [
        ("overloaded", 503, "UNAVAILABLE", "overloaded"),
        ("server_error", 500, "INTERNAL", "internal"),
        ("context_length", 400, "INVALID_ARGUMENT", "exceeds the maximum number of tokens"),
        ("auth", 400, "INVALID_ARGUMENT", "API key not valid"),
        ("not_found", 404, "NOT_FOUND", "gemini-2.0-flash"),
    ],
)
def test_gemini_errors(
    server: FakeProviderServer, http: httpx.Client, kind: str, status: int, rpc_status: str, message_part: str
) -> None:
    server.set_behavior("gemini", Behavior.error(kind, provider="gemini"))

    response = call(server, http, "gemini")

    assert response.status_code == status
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (status, rpc_status)
    assert message_part in error["message"]
    if kind == "auth":
        assert gemini_details(response.json())["ErrorInfo"]["reason"] == "API_KEY_INVALID"


def test_gemini_blocked_prompt_is_http_200(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("gemini", Behavior.error("content_filter", provider="gemini"))

    response = call(server, http, "gemini")
    _, events = stream_events(server, http, "gemini")

    assert response.status_code == 200
    body = response.json()
    assert "candidates" not in body
    assert body["promptFeedback"]["blockReason"] == "SAFETY"
    assert body["usageMetadata"] == {
        "promptTokenCount": 3,
        "totalTokenCount": 3,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 3}],
    }
    assert [e.json()["promptFeedback"]["blockReason"] for e in events] == ["SAFETY"]


def test_gemini_other_block_reasons(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("gemini", Behavior(block_reason="PROHIBITED_CONTENT"))

    assert call(server, http, "gemini").json()["promptFeedback"]["blockReason"] == "PROHIBITED_CONTENT"


@pytest.mark.parametrize(
    ("wire", "native"),
    [
        ("openai", "content_filter"),
        ("azure", "content_filter"),
        ("anthropic", "refusal"),
        ("gemini", "SAFETY"),
    ],
)
def test_output_content_filter(
    server: FakeProviderServer, http: httpx.Client, wire: str, native: str
) -> None:
    server.set_behavior(wire, Behavior.error("content_filter_output", provider=wire))

    response = call(server, http, wire)

    assert response.status_code == 200
    body = response.json()
    if wire in ("openai", "azure"):
        assert body["choices"][0]["finish_reason"] == native
    elif wire == "anthropic":
        assert (body["stop_reason"], body["content"]) == (native, [])
    else:
        candidate = body["candidates"][0]
        assert candidate["finishReason"] == native
        assert "content" not in candidate
        assert any(r.get("blocked") for r in candidate["safetyRatings"])


@pytest.mark.parametrize(
    ("kind", "status", "message_part"),
    [
        ("quota_exhausted", 402, "credits"),
        ("context_length", 400, "maximum context length"),
        ("content_filter", 403, "moderation"),
        ("server_error", 502, "Provider returned error"),
        ("auth", 401, "No auth credentials found"),
    ],
)
def test_openrouter_errors(
    server: FakeProviderServer, http: httpx.Client, kind: str, status: int, message_part: str
) -> None:
    server.set_behavior("openrouter", Behavior.error(kind, provider="openrouter"))

    response = call(server, http, "openrouter")

    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == status
    assert message_part in error["message"]
    if status == 403:
        assert error["metadata"]["reasons"] == ["violence"]


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        ("not_found", 404, 'model "llama3.2" not found, try pulling it first'),
        ("overloaded", 503, "server busy, please try again.  maximum pending requests exceeded"),
        ("context_length", 400, "the input length exceeds the context length"),
        ("rate_limit", 429, "too many requests, please try again later"),
    ],
)
def test_ollama_errors(
    server: FakeProviderServer, http: httpx.Client, kind: str, status: int, message: str
) -> None:
    server.set_behavior("ollama", Behavior.error(kind, provider="ollama"))

    response = call(server, http, "ollama")

    assert (response.status_code, response.json()) == (status, {"error": message})


@pytest.mark.parametrize("wire", ALL_WIRES)
@pytest.mark.parametrize("kind", [k for k in Behavior.error_kinds if not k.startswith("content_filter")])
def test_every_kind_renders_for_every_wire(
    server: FakeProviderServer, http: httpx.Client, wire: str, kind: str
) -> None:
    server.set_behavior(wire, Behavior.error(kind, provider=wire))

    response = call(server, http, wire)

    assert response.status_code >= 400
    assert "error" in response.json()


@pytest.mark.parametrize("kind", ["content_filter", "content_filter_output"])
def test_ollama_has_no_content_filter(kind: str) -> None:
    with pytest.raises(ValueError, match="ollama has no"):
        Behavior.error(kind, provider="ollama")


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown error kind"):
        Behavior.error("gremlins")


def test_recipes_compose_with_replace(server: FakeProviderServer, http: httpx.Client) -> None:
    behavior = dataclasses.replace(Behavior.error("overloaded", provider="anthropic"), error_message="busy")
    server.set_behavior("anthropic", behavior)

    error = call(server, http, "anthropic").json()["error"]

    assert error == {"type": "overloaded_error", "message": "busy"}


def test_error_kinds_are_sorted_and_documented() -> None:
    assert list(Behavior.error_kinds) == sorted(Behavior.error_kinds)
    doc = Behavior.error.__doc__ or ""
    assert all(f"``{kind}``" in doc for kind in Behavior.error_kinds)
