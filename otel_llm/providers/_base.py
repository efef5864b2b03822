"""What every provider implements, and the pieces of wire handling they share.

Provider methods are pure: no client, no sleeping, no spans, no environment reads. A parser never lets a
KeyError, TypeError or AttributeError escape: the typed getters below raise `MalformedResponse`, which
`parsing()` turns into `ProviderProtocolError` naming the provider, status and a body excerpt.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

import httpx

from otel_llm._exceptions import (
    AuthenticationError,
    BadRequestError,
    ErrorKind,
    ProviderConnectionError,
    ProviderError,
    ProviderProtocolError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    QuotaExceededError,
    RateLimitError,
)
from otel_llm._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    StreamEvent,
)

Framing = Literal["sse", "ndjson"]


class Provider(Protocol):
    """A wire format spoken to one configured endpoint."""

    name: str
    """The configured provider key (`"openai"`, `"together"`, ...)."""
    semconv_name: str
    """The `gen_ai.provider.name` value for this endpoint."""
    server_address: str
    server_port: int
    framing: Framing
    """How a streamed body is framed: server-sent events, or one JSON object per line."""

    def build_request(self, request: ChatRequest) -> httpx.Request:
        """Translate a chat request into an HTTP request."""
        ...

    def parse_response(self, response: httpx.Response, request: ChatRequest) -> ChatResponse:
        """Parse a successful, fully read, non-streaming response."""
        ...

    def parse_payload(self, payload: Mapping[str, object], request: ChatRequest) -> ChatResponse:
        """Parse a non-streaming response's decoded JSON body (what instrumentation reads from SDK objects).

        Raises:
            MalformedResponse: `payload` does not have the documented shape.
        """
        ...

    def parse_stream_event(self, event: StreamEvent, request: ChatRequest) -> ChatChunk | None:
        """Parse one server-sent event; `None` for events that carry nothing (keep-alives)."""
        ...

    def parse_stream_payload(
        self, payload: Mapping[str, object], event: str | None, request: ChatRequest
    ) -> ChatChunk | None:
        """Parse one streamed event's decoded JSON (`event`: its SSE event name, where the wire has one).

        Raises:
            MalformedResponse: `payload` does not have the documented shape.
            ProviderError: The event is the provider's mid-stream error.
        """
        ...

    def classify_error(
        self, response: httpx.Response, request: ChatRequest | EmbeddingsRequest
    ) -> ProviderError:
        """Map an unsuccessful (fully read) response to our exception tree."""
        ...


@runtime_checkable
class EmbeddingsProvider(Provider, Protocol):
    """A provider that also offers embeddings."""

    def build_embeddings_request(self, request: EmbeddingsRequest) -> httpx.Request:
        """Translate an embeddings request into an HTTP request."""
        ...

    def parse_embeddings_response(
        self, response: httpx.Response, request: EmbeddingsRequest
    ) -> EmbeddingsResponse:
        """Parse a successful, fully read embeddings response."""
        ...


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how a provider is reached; providers receive it from configuration.

    Attributes:
        name: Configured provider key.
        base_url: Base URL the wire paths are appended to.
        api_key: The credential, or `None` for endpoints without auth.
        semconv_name: `gen_ai.provider.name` to report.
    """

    name: str
    base_url: str
    api_key: str | None = field(repr=False)  # never printed: reprs end up in logs and tracebacks
    semconv_name: str


class EndpointProvider(ABC):
    """Shared constructor for providers: endpoint fields plus `server.address`/`server.port`."""

    framing: Framing = "sse"

    def __init__(self, endpoint: Endpoint) -> None:
        url = httpx.URL(endpoint.base_url)
        self.name = endpoint.name
        self.semconv_name = endpoint.semconv_name
        self.server_address = url.host
        self.server_port = url.port or (443 if url.scheme == "https" else 80)
        self._base_url = endpoint.base_url.rstrip("/")
        self._api_key = endpoint.api_key
        self._urls: dict[str, httpx.URL] = {}

    def parse_response(self, response: httpx.Response, request: ChatRequest) -> ChatResponse:
        """Parse a successful, fully read, non-streaming response: its JSON body, by `parse_payload`."""
        with parsing(self.name, request, response.status_code, response.content):
            return self.parse_payload(obj(decode_json(response.content), "body"), request)

    @abstractmethod
    def parse_payload(self, payload: Mapping[str, object], request: ChatRequest) -> ChatResponse:
        """Parse a non-streaming response's decoded JSON body; each wire format implements it."""

    def _url(self, path: str) -> httpx.URL:
        """The parsed URL of `path` under the base URL, parsed once: parsing costs ~20 us per request."""
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self._base_url + path)
        return url


class MalformedResponse(ValueError):
    """A response did not have the shape its provider documents; `parsing()` maps it."""


@contextlib.contextmanager
def parsing(
    provider: str, request: ChatRequest | EmbeddingsRequest, status_code: int, body: bytes | str
) -> Iterator[None]:
    """Turn `MalformedResponse` raised inside the block into `ProviderProtocolError`."""
    try:
        yield
    except MalformedResponse as exc:
        raise ProviderProtocolError(
            f"{exc}; body starts {excerpt(body)!r}",
            provider=provider,
            model=request.model,
            status_code=status_code,
        ) from exc


def excerpt(body: bytes | str, limit: int = 200) -> str:
    """A short, printable start of a body for error messages."""
    if isinstance(body, bytes):
        return body[:limit].decode("utf-8", errors="replace")
    return body[:limit]


def decode_json(data: bytes | str, what: str = "body") -> object:
    """Parse JSON or raise `MalformedResponse`."""
    try:
        return json.loads(data)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise MalformedResponse(f"{what} is not valid JSON") from exc
    except RecursionError as exc:  # absurdly nested input exhausts the parser's stack
        raise MalformedResponse(f"{what} is nested too deeply") from exc


def encode_json(payload: Mapping[str, object]) -> bytes:
    """Compact JSON for request bodies."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def obj(value: object, path: str) -> Mapping[str, object]:
    """`value` as a JSON object, or `MalformedResponse` naming `path`."""
    if not isinstance(value, dict):
        raise MalformedResponse(f"expected an object at {path}")
    return value


def arr(value: object, path: str) -> list[object]:
    """`value` as a JSON array, or `MalformedResponse` naming `path`."""
    if not isinstance(value, list):
        raise MalformedResponse(f"expected an array at {path}")
    return value


def opt_str(value: object, path: str) -> str | None:
    """`value` as an optional string."""
    if value is None or isinstance(value, str):
        return value
    raise MalformedResponse(f"expected a string at {path}")


def opt_int(value: object, path: str) -> int | None:
    """`value` as an optional non-negative integer (token counts)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise MalformedResponse(f"expected a non-negative integer at {path}")


def opt_money(value: object, path: str) -> Decimal | None:
    """`value` as an optional non-negative amount of money (a JSON number), exactly as sent."""
    if value is None:
        return None
    if (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    ):
        return Decimal(str(value))  # str() keeps the digits the provider sent, without binary noise
    raise MalformedResponse(f"expected a non-negative number at {path}")


def vector(value: object, path: str) -> tuple[float, ...]:
    """`value` as an embedding vector: a non-empty array of numbers."""
    items = arr(value, path)
    if not items or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in items):
        raise MalformedResponse(f"expected a non-empty array of numbers at {path}")
    return tuple(float(x) for x in items)  # type: ignore[arg-type]  # checked just above


def add_counts(*counts: int | None) -> int | None:
    """Sum of the known counts; `None` when none is known (missing never means zero)."""
    known = [c for c in counts if c is not None]
    return sum(known) if known else None


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """The provider's delay hint from response headers, most precise source first.

    `retry-after-ms` (OpenAI, Azure) > `x-ms-retry-after-ms` (Azure) > `retry-after` (seconds or an
    HTTP date, measured against the response's own `Date` header so no clock is read).
    """
    for name, scale in (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001)):
        value = _non_negative_float(headers.get(name))
        if value is not None:
            return value * scale
    raw = headers.get("retry-after")
    if raw is None:
        return None
    seconds = _non_negative_float(raw)
    if seconds is not None:
        return seconds
    return _http_date_delta(raw, headers.get("date"))


def _non_negative_float(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


def _http_date_delta(target: str, now: str | None) -> float | None:
    if now is None:
        return None
    try:
        delta = email.utils.parsedate_to_datetime(target) - email.utils.parsedate_to_datetime(now)
    except (TypeError, ValueError):
        return None
    return max(delta.total_seconds(), 0.0)


_CLASS_FOR_KIND: Mapping[str, type[ProviderError]] = {
    "quota_exhausted": QuotaExceededError,
    "auth": AuthenticationError,
    "rate_limit": RateLimitError,
    "overloaded": ProviderUnavailableError,
    "server_error": ProviderUnavailableError,
    "timeout": ProviderTimeoutError,
    "connection": ProviderConnectionError,
    "protocol_error": ProviderProtocolError,
}


def kind_for_status(status: int) -> ErrorKind:
    """The error kind an HTTP status means when the body does not say more."""
    if status == 402:
        return "quota_exhausted"
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limit"
    if status == 408:
        return "timeout"
    if status == 404:
        return "not_found"
    if status in (503, 529):
        return "overloaded"
    if status == 409 or status >= 500:
        return "server_error"
    return "bad_request"


def provider_error(
    kind: ErrorKind,
    message: str,
    *,
    provider: str,
    model: str,
    status_code: int | None = None,
    retry_after: float | None = None,
    retryable: bool | None = None,
) -> ProviderError:
    """The exception of the class that matches `kind` (request-side kinds are `BadRequestError`)."""
    cls = _CLASS_FOR_KIND.get(kind, BadRequestError)
    return cls(
        message or kind,
        provider=provider,
        model=model,
        status_code=status_code,
        kind=kind,
        retry_after=retry_after,
        retryable=retryable,
    )


# Providers signal these two kinds reliably only in prose, sometimes under an unexpected status
# (Together: 403 for an over-long prompt; OpenRouter: 400 without a code). Used only when the
# structured error code said nothing, and only for statuses that reject the request itself.
_MESSAGE_KINDS: tuple[tuple[re.Pattern[str], ErrorKind], ...] = (
    (
        re.compile(
            r"maximum context length|context window|context length|prompt is too long|too many tokens"
            r"|exceeds the maximum number of tokens|exceeds the available context size"
            r"|tokens \+ `?max_new_tokens`? must be",
            re.IGNORECASE,
        ),
        "context_length",
    ),
    (
        # Anthropic: 400 `invalid_request_error` "Output blocked by content filtering policy".
        re.compile(
            r"flagged for moderation|content (management |filtering )?policy|safety system", re.IGNORECASE
        ),
        "content_filter",
    ),
)
_REQUEST_STATUSES = frozenset({400, 403, 413, 422})


def kind_from_message(message: str) -> ErrorKind | None:
    """The error kind a provider's message states, for the kinds only prose reveals."""
    for pattern, kind in _MESSAGE_KINDS:
        if pattern.search(message):
            return kind
    return None


def error_for_status(
    response: httpx.Response,
    request: ChatRequest | EmbeddingsRequest,
    provider: str,
    message: str,
    kind: ErrorKind | None = None,
    body_retry_after: float | None = None,
) -> ProviderError:
    """The exception for an HTTP error response.

    Args:
        response: The error response.
        request: The request that failed.
        provider: Configured provider key.
        message: The provider's error message.
        kind: Refinement of the status from the error body.
        body_retry_after: A delay hint from the error body (Gemini `RetryInfo`); headers win.
    """
    header_hint = retry_after_seconds(response.headers)
    if kind is None and response.status_code in _REQUEST_STATUSES:
        kind = kind_from_message(message)
    should_retry = response.headers.get("x-should-retry", "").lower()  # OpenAI's explicit override
    return provider_error(
        kind or kind_for_status(response.status_code),
        message or f"HTTP {response.status_code}",
        provider=provider,
        model=request.model,
        status_code=response.status_code,
        retry_after=header_hint if header_hint is not None else body_retry_after,
        retryable={"true": True, "false": False}.get(should_retry),
    )
