"""The otel-llm exception tree. Foreign exceptions are mapped at the boundary, always `from` the cause.

```
OtelLLMError                         base of everything we raise
├── ConfigurationError               invalid configuration; `.field` names the offending setting
├── ProviderError                    one provider attempt failed; .provider .model .status_code
│   │                                .kind (the low-cardinality `error.type`) .retryable .retry_after
│   ├── AuthenticationError          401/403: the credential is wrong or lacks permission
│   ├── RateLimitError               transient 429; `.retry_after` carries the provider's hint
│   ├── QuotaExceededError           billing/credits/daily quota gone: retrying cannot help
│   ├── BadRequestError              400/404/422: the request itself is wrong (also context length,
│   │                                content filter, unknown model: see `.kind`)
│   ├── ProviderUnavailableError     5xx and provider-wide overload (Anthropic 529)
│   ├── ProviderConnectionError      the connection failed (wraps httpx.TransportError)
│   ├── ProviderTimeoutError         the attempt ran out of time (wraps httpx.TimeoutException)
│   ├── ProviderProtocolError        the provider answered something we cannot parse
│   └── StreamInterruptedError       a stream failed after its first chunk reached the caller;
│                                    `.partial_text` keeps what arrived
├── CircuitOpenError                 the route's circuit breaker is open; `.retry_at` (monotonic)
├── AllRoutesFailedError             every route of the call failed; `.attempts` lists each failure
├── StructuredOutputError            a structured reply did not validate; `.raw_text` keeps it
└── BudgetExceededError              a call's worst-case cost would pass a budget's hard limit; raised
                                     before any request is sent; .budget .scope_value .period
                                     .limit_usd .spent_usd .requested_usd
```
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Literal

import httpx

ErrorKind = Literal[
    "rate_limit",
    "quota_exhausted",
    "overloaded",
    "server_error",
    "timeout",
    "connection",
    "context_length",
    "content_filter",
    "auth",
    "bad_request",
    "not_found",
    "protocol_error",
    "stream_interrupted",
    "circuit_open",
]

PROVIDER_FAULT_KINDS: frozenset[ErrorKind] = frozenset(
    {"overloaded", "server_error", "timeout", "connection", "protocol_error", "stream_interrupted"}
)
"""Error kinds whose cause lies with the provider, not with the request: they say it is unhealthy, and
circuit breakers count them by default. Rate limits are throttling, not ill health; request errors (bad
request, context length, content filter, auth) say nothing about the provider."""
_RETRYABLE: frozenset[str] = frozenset({"rate_limit", "overloaded", "server_error", "timeout", "connection"})
DEFAULT_FALLBACK_KINDS: frozenset[ErrorKind] = frozenset(
    {
        "rate_limit", "quota_exhausted", "overloaded", "server_error", "timeout", "connection",
        "context_length", "auth", "protocol_error", "circuit_open",
    }
)  # fmt: skip
"""Error kinds after which a call moves on to its next route by default.

Request errors (`bad_request`, `not_found`, `content_filter`) are left out: the same request most
likely fails the same way elsewhere, so failing over on them is opt-in (`Client(fallback_on=...)`).
"""


class OtelLLMError(Exception):
    """Base class of every exception otel-llm raises."""


class ConfigurationError(OtelLLMError, ValueError):
    """Raised when configuration is invalid; the message and `.field` name the offending setting."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class ProviderError(OtelLLMError):
    """One attempt against one provider failed.

    Attributes:
        provider: Configured provider key.
        model: Model id of the attempt.
        status_code: HTTP status, when there was a response.
        kind: Low-cardinality error kind, recorded as `error.type`.
        retryable: Whether retrying the same route may succeed; by kind, unless the provider said
            (OpenAI's `x-should-retry`).
        retry_after: Seconds the provider asked us to wait, if it said.
    """

    default_kind: ClassVar[ErrorKind] = "server_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str,
        status_code: int | None = None,
        kind: ErrorKind | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model
        self.status_code = status_code
        self.kind: ErrorKind = kind or self.default_kind
        self.retry_after = retry_after
        self._retryable = retryable

    @property
    def retryable(self) -> bool:
        """Whether a retry on the same route may succeed (a provider's explicit hint wins)."""
        return self._retryable if self._retryable is not None else self.kind in _RETRYABLE

    @property
    def fallback_applies(self) -> bool:
        """Whether another route may succeed by default (see `DEFAULT_FALLBACK_KINDS`)."""
        return self.kind in DEFAULT_FALLBACK_KINDS

    @property
    def is_provider_fault(self) -> bool:
        """Whether the failure says something about the provider's health (breaker input)."""
        return self.kind in PROVIDER_FAULT_KINDS

    def __str__(self) -> str:
        status = f" HTTP {self.status_code}" if self.status_code is not None else ""
        return f"{self.provider}:{self.model}{status} [{self.kind}] {self.args[0]}"


class AuthenticationError(ProviderError):
    """Raised on 401/403 or a provider's invalid-key answer."""

    default_kind = "auth"


class RateLimitError(ProviderError):
    """Raised on a transient 429; `.retry_after` carries the provider's hint when it gave one."""

    default_kind = "rate_limit"


class QuotaExceededError(ProviderError):
    """Raised when billing, credits or a daily quota are exhausted; retrying cannot help."""

    default_kind = "quota_exhausted"


class BadRequestError(ProviderError):
    """Raised when the provider rejects the request itself (also context length, content filter)."""

    default_kind = "bad_request"


class ProviderUnavailableError(ProviderError):
    """Raised on 5xx answers and provider-wide overload."""

    default_kind = "server_error"


class ProviderConnectionError(ProviderError):
    """Raised when the connection to the provider fails."""

    default_kind = "connection"


class ProviderTimeoutError(ProviderError):
    """Raised when an attempt runs out of time."""

    default_kind = "timeout"


class ProviderProtocolError(ProviderError):
    """Raised when the provider's answer cannot be parsed (malformed JSON, wrong shape, truncation)."""

    default_kind = "protocol_error"


class StreamInterruptedError(ProviderError):
    """Raised when a stream fails after its first chunk reached the caller.

    Such a call is never retried or failed over: the caller already holds part of the answer.

    Attributes:
        partial_text: The text received before the failure.
    """

    default_kind = "stream_interrupted"

    def __init__(self, message: str, *, provider: str, model: str, partial_text: str) -> None:
        super().__init__(message, provider=provider, model=model)
        self.partial_text = partial_text


class CircuitOpenError(OtelLLMError):
    """Raised for a route skipped because its provider's circuit breaker is open.

    Attributes:
        provider: The provider whose breaker is open.
        retry_at: Monotonic time at which the breaker admits a probe.
    """

    kind: ClassVar[ErrorKind] = "circuit_open"

    def __init__(self, provider: str, retry_at: float) -> None:
        super().__init__(f"circuit breaker for {provider!r} is open")
        self.provider = provider
        self.retry_at = retry_at


class StructuredOutputError(OtelLLMError):
    """Raised when a structured-output reply is a refusal or does not validate into the wanted type.

    Attributes:
        raw_text: The model's reply as received, so nothing is lost.
    """

    def __init__(self, message: str, *, raw_text: str) -> None:
        super().__init__(message)
        self.raw_text = raw_text


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    """One failed (or skipped) attempt of a call.

    Attributes:
        route: `provider:model` of the attempt.
        error: Why it failed.
    """

    route: str
    error: ProviderError | CircuitOpenError


class AllRoutesFailedError(OtelLLMError):
    """Raised when every route of a call failed or was skipped.

    Attributes:
        attempts: Every attempt in order, with its error.
    """

    def __init__(self, attempts: Sequence[FailedAttempt], reason: str = "all routes failed") -> None:
        summary = "; ".join(f"{a.route} -> {a.error.kind}" for a in attempts) or "no attempt made"
        super().__init__(f"{reason}: {summary}")
        self.attempts = tuple(attempts)

    @property
    def kind(self) -> ErrorKind | None:
        """The kind of the last failure: the call's `error.type`."""
        return self.attempts[-1].error.kind if self.attempts else None


@contextlib.contextmanager
def map_transport_errors(provider: str, model: str) -> Iterator[None]:
    """Translate httpx transport failures into our exception tree."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ProviderTimeoutError(
            f"timed out: {type(exc).__name__}", provider=provider, model=model
        ) from exc
    except httpx.TransportError as exc:
        raise ProviderConnectionError(
            f"connection failed: {type(exc).__name__}", provider=provider, model=model
        ) from exc


class BudgetExceededError(OtelLLMError):
    """Raised before a call is sent when its worst-case cost would take a budget past its hard limit.

    Nothing was reserved and no request left, so this is not a `ProviderError`.

    Attributes:
        budget: The budget's name.
        scope_value: The call's value of the budget's scope attribute; `None` for a global budget.
        period: The budget's period: `"hour"`, `"day"` or `"month"`.
        limit_usd: The hard limit in US dollars.
        spent_usd: The window's spending before this call: settled costs plus reservations in flight.
        requested_usd: The call's worst-case cost, which did not fit.
    """

    def __init__(
        self,
        *,
        budget: str,
        scope_value: str | None,
        period: str,
        limit_usd: Decimal,
        spent_usd: Decimal,
        requested_usd: Decimal,
    ) -> None:
        scope = "" if scope_value is None else f" for {scope_value!r}"
        super().__init__(
            f"budget {budget!r}{scope} ({period}) exceeded: spent ${spent_usd:f} + requested"
            f" ${requested_usd:f} > limit ${limit_usd:f}"
        )
        self.budget = budget
        self.scope_value = scope_value
        self.period = period
        self.limit_usd = limit_usd
        self.spent_usd = spent_usd
        self.requested_usd = requested_usd
