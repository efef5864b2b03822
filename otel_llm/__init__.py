"""otel-llm: observable, reliable LLM calls.

A thin routing client over provider wire formats (fallback chains, retries, circuit breakers, cost)
whose every call becomes OpenTelemetry GenAI spans and metrics.

Example:
    >>> import otel_llm
    >>> otel_llm.configure(service_name="chat-api")  # OTLP exporters from OTEL_* variables
    >>> with otel_llm.Client() as client:
    ...     reply = client.chat("openai:gpt-4o-mini", [{"role": "user", "content": "Hi"}],
    ...                         fallbacks=["anthropic:claude-haiku-4-5"])
"""

from otel_llm._async_client import AsyncChatStream, AsyncClient
from otel_llm._breaker import BreakerPolicy, CircuitState
from otel_llm._client import ChatStream, Client
from otel_llm._config import ProviderSettings, Timeout
from otel_llm._exceptions import (
    AllRoutesFailedError,
    AuthenticationError,
    BadRequestError,
    CircuitOpenError,
    ConfigurationError,
    OtelLLMError,
    ProviderConnectionError,
    ProviderError,
    ProviderProtocolError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    QuotaExceededError,
    RateLimitError,
    StreamInterruptedError,
)
from otel_llm._policies import Exponential, FullJitter, RetryPolicy, StopAfterAttempts, StopAfterDelay
from otel_llm._types import NOT_GIVEN, ChatChunk, ChatResponse, Message, Route, Usage
from otel_llm._version import __version__
from otel_llm.telemetry import TelemetryProviders, configure

__all__ = [
    "NOT_GIVEN",
    "AllRoutesFailedError",
    "AsyncChatStream",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BreakerPolicy",
    "ChatChunk",
    "ChatResponse",
    "ChatStream",
    "CircuitOpenError",
    "CircuitState",
    "Client",
    "ConfigurationError",
    "Exponential",
    "FullJitter",
    "Message",
    "OtelLLMError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderProtocolError",
    "ProviderSettings",
    "ProviderTimeoutError",
    "ProviderUnavailableError",
    "QuotaExceededError",
    "RateLimitError",
    "RetryPolicy",
    "Route",
    "StopAfterAttempts",
    "StopAfterDelay",
    "StreamInterruptedError",
    "TelemetryProviders",
    "Timeout",
    "Usage",
    "__version__",
    "configure",
]
