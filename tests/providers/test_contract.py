"""What every provider guarantees, whatever its wire format: key handling, status fallbacks, Retry-After."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from otel_llm._exceptions import (
    AuthenticationError,
    BadRequestError,
    ProviderError,
    ProviderProtocolError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    QuotaExceededError,
    RateLimitError,
)
from otel_llm._types import ChatRequest, Message, StreamEvent
from otel_llm.providers import Provider
from otel_llm.providers.anthropic import AnthropicMessages
from otel_llm.providers.gemini import GeminiGenerateContent
from otel_llm.providers.openai import OpenAIChat

from ._support import chat_request, endpoint, http_response, parse_event

# A key with characters that URL encoding would change, to catch it in any form.
SECRET = "sk-proj-Abc/123+xyz=="

PROVIDERS: dict[str, Callable[[str | None], Provider]] = {
    "openai": lambda key: OpenAIChat(endpoint("openai", "https://api.openai.com/v1", "openai", key)),
    "anthropic": lambda key: AnthropicMessages(
        endpoint("anthropic", "https://api.anthropic.com", "anthropic", key)
    ),
    "gemini": lambda key: GeminiGenerateContent(
        endpoint("gemini", "https://generativelanguage.googleapis.com/v1beta", "gcp.gemini", key)
    ),
}
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}


@pytest.fixture(params=sorted(PROVIDERS))
def name(request: pytest.FixtureRequest) -> str:
    value = request.param
    assert isinstance(value, str)
    return value


@pytest.fixture
def provider(name: str) -> Provider:
    return PROVIDERS[name](SECRET)


@pytest.fixture
def request_(name: str) -> ChatRequest:
    return chat_request(MODELS[name])


def test_provider_reports_its_names_and_server(provider: Provider, name: str) -> None:
    assert provider.name == name
    assert (
        provider.semconv_name == {"openai": "openai", "anthropic": "anthropic", "gemini": "gcp.gemini"}[name]
    )
    assert provider.server_port == 443
    assert provider.server_address.endswith((".openai.com", ".anthropic.com", ".googleapis.com"))


def test_server_port_from_base_url() -> None:
    assert OpenAIChat(endpoint("vllm", "http://gpu-box:8000/v1", "openai")).server_port == 8000
    assert OpenAIChat(endpoint("local", "http://localhost/v1", "openai")).server_address == "localhost"
    assert OpenAIChat(endpoint("local", "http://localhost/v1", "openai")).server_port == 80


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
def test_key_travels_only_in_a_header(provider: Provider, request_: ChatRequest, stream: bool) -> None:
    request = ChatRequest(
        model=request_.model,
        messages=(Message("system", "s"), Message("user", "u")),
        temperature=0.1,
        max_tokens=10,
        stream=stream,
    )

    built = provider.build_request(request)

    url = str(built.url)
    assert SECRET not in url
    assert "Abc%2F123" not in url
    assert "key" not in built.url.params
    assert SECRET.encode() not in built.content
    assert [v for v in built.headers.values() if SECRET in v], "the key must be sent in a header"


def test_no_key_sends_no_credential_header(name: str, request_: ChatRequest) -> None:
    built = PROVIDERS[name](None).build_request(request_)

    assert not {"authorization", "x-api-key", "x-goog-api-key", "api-key"} & set(built.headers.keys())


def test_every_request_is_a_json_post(provider: Provider, request_: ChatRequest) -> None:
    built = provider.build_request(request_)

    assert built.method == "POST"
    assert built.headers["content-type"] == "application/json"
    assert built.url.scheme == "https"


# --- classification when the body says nothing ----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls", "kind", "retryable"),
    [
        (400, BadRequestError, "bad_request", False),
        (401, AuthenticationError, "auth", False),
        (402, QuotaExceededError, "quota_exhausted", False),
        (403, AuthenticationError, "auth", False),
        (404, BadRequestError, "not_found", False),
        (408, ProviderTimeoutError, "timeout", True),
        (409, ProviderUnavailableError, "server_error", True),
        (422, BadRequestError, "bad_request", False),
        (429, RateLimitError, "rate_limit", True),
        (500, ProviderUnavailableError, "server_error", True),
        (502, ProviderUnavailableError, "server_error", True),
        (503, ProviderUnavailableError, "overloaded", True),
        (504, ProviderUnavailableError, "server_error", True),
        (529, ProviderUnavailableError, "overloaded", True),
    ],
)
@pytest.mark.parametrize(
    "body",
    [b"", b"{}", b"[]", b"null", b"<html><body>Bad Gateway</body></html>", b"\xff\xfe", b'{"error": 5}'],
    ids=["empty", "object", "array", "null", "html", "not-utf8", "odd-error"],
)
def test_status_decides_when_the_body_does_not(
    provider: Provider,
    request_: ChatRequest,
    status: int,
    cls: type[ProviderError],
    kind: str,
    retryable: bool,
    body: bytes,
) -> None:
    error = provider.classify_error(http_response(status, body), request_)

    assert type(error) is cls
    assert error.kind == kind
    assert error.retryable is retryable
    assert error.status_code == status
    assert error.provider == provider.name
    assert error.model == request_.model
    assert str(status) in str(error)


# --- Retry-After -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({}, None, id="none"),
        pytest.param({"retry-after-ms": "1500"}, 1.5, id="retry-after-ms"),
        pytest.param({"x-ms-retry-after-ms": "2500"}, 2.5, id="x-ms-retry-after-ms"),
        pytest.param({"retry-after": "7"}, 7.0, id="seconds"),
        pytest.param({"retry-after": "0.5"}, 0.5, id="fractional-seconds"),
        pytest.param({"retry-after": "0"}, 0.0, id="zero-means-now"),
        pytest.param(
            {"retry-after": "Wed, 21 Oct 2026 07:28:30 GMT", "date": "Wed, 21 Oct 2026 07:28:00 GMT"},
            30.0,
            id="http-date",
        ),
        pytest.param(
            {"retry-after": "Wed, 21 Oct 2026 07:27:00 GMT", "date": "Wed, 21 Oct 2026 07:28:00 GMT"},
            0.0,
            id="http-date-in-the-past",
        ),
        pytest.param({"retry-after": "Wed, 21 Oct 2026 07:28:30 GMT"}, None, id="http-date-without-date"),
        pytest.param({"retry-after": "soon"}, None, id="garbage"),
        pytest.param(
            {"retry-after": "soon", "date": "Wed, 21 Oct 2026 07:28:00 GMT"}, None, id="garbage-with-date"
        ),
        pytest.param({"retry-after": "-3"}, None, id="negative"),
        pytest.param(
            {"retry-after-ms": "1500", "x-ms-retry-after-ms": "2500", "retry-after": "7"}, 1.5, id="ms-first"
        ),
        pytest.param({"x-ms-retry-after-ms": "2500", "retry-after": "7"}, 2.5, id="azure-ms-before-seconds"),
        pytest.param({"retry-after-ms": "later", "retry-after": "7"}, 7.0, id="invalid-ms-falls-back"),
        pytest.param(
            {"retry-after-ms": "-1", "x-ms-retry-after-ms": "900"}, 0.9, id="negative-ms-falls-back"
        ),
        pytest.param(
            {
                "retry-after-ms": "20",
                "retry-after": "Wed, 21 Oct 2026 07:28:30 GMT",
                "date": "Wed, 21 Oct 2026 07:28:00 GMT",
            },
            0.02,
            id="ms-before-http-date",
        ),
    ],
)
def test_retry_after_from_headers(
    provider: Provider, request_: ChatRequest, headers: dict[str, str], expected: float | None
) -> None:
    error = provider.classify_error(http_response(429, b"{}", headers=headers), request_)

    assert isinstance(error, RateLimitError)
    if expected is None:
        assert error.retry_after is None
    else:
        assert error.retry_after == pytest.approx(expected)


def test_retry_after_on_an_overload(provider: Provider, request_: ChatRequest) -> None:
    error = provider.classify_error(http_response(503, b"{}", headers={"retry-after": "10"}), request_)

    assert isinstance(error, ProviderUnavailableError)
    assert error.retry_after == 10.0


# --- malformed input that no parser may trip over ----------------------------------------------------


def test_deeply_nested_json_body_is_a_protocol_error(provider: Provider, request_: ChatRequest) -> None:
    body = b"[" * 100_000 + b"]" * 100_000

    with pytest.raises(ProviderProtocolError) as caught:
        provider.parse_response(http_response(200, body), request_)

    assert caught.value.status_code == 200


@pytest.mark.parametrize("data", ["", "not json", "[]", "null", "42", '{"unterminated": '], ids=repr)
def test_malformed_stream_event_is_a_protocol_error(
    provider: Provider, request_: ChatRequest, data: str
) -> None:
    # Anthropic names its event types; the others rely on the payload alone.
    event = StreamEvent(data=data, event="message_start" if provider.name == "anthropic" else None)

    with pytest.raises(ProviderProtocolError) as caught:
        parse_event(provider, request_, event)

    assert caught.value.provider == provider.name
    assert caught.value.kind == "protocol_error"


def test_error_classification_never_raises_on_a_deeply_nested_body(
    provider: Provider, request_: ChatRequest
) -> None:
    body = b'{"error": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    error = provider.classify_error(http_response(500, body), request_)

    assert isinstance(error, ProviderUnavailableError)
