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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from otel_llm._attribution import attribution
from otel_llm._breaker import BreakerPolicy, CircuitState
from otel_llm._client import ChatStream, Client
from otel_llm._config import ProviderSettings, Timeout
from otel_llm._exceptions import (
    AllRoutesFailedError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
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
    StructuredOutputError,
)
from otel_llm._policies import RetryPolicy, StopAfterAttempts, StopAfterDelay
from otel_llm._types import NOT_GIVEN, ChatChunk, ChatResponse, Message, Route, Tool, ToolCall, Usage
from otel_llm._version import __version__

if TYPE_CHECKING:
    from otel_llm_instrumentation.decorator import llm_call

    from otel_llm._async_client import AsyncChatStream, AsyncClient
    from otel_llm.telemetry._setup import TelemetryProviders, configure

# Loaded on first access (PEP 562): most programs use one kind of client and call configure() once,
# so the others need not pay for importing the asyncio shell or the SDK set-up module.
_LAZY = {
    "AsyncChatStream": "otel_llm._async_client",
    "AsyncClient": "otel_llm._async_client",
    "TelemetryProviders": "otel_llm.telemetry._setup",
    "configure": "otel_llm.telemetry._setup",
    "llm_call": "otel_llm_instrumentation.decorator",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_llm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "NOT_GIVEN",
    "AllRoutesFailedError",
    "AsyncChatStream",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BreakerPolicy",
    "BudgetExceededError",
    "ChatChunk",
    "ChatResponse",
    "ChatStream",
    "CircuitOpenError",
    "CircuitState",
    "Client",
    "ConfigurationError",
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
    "StructuredOutputError",
    "TelemetryProviders",
    "Timeout",
    "Tool",
    "ToolCall",
    "Usage",
    "__version__",
    "attribution",
    "configure",
    "llm_call",
]
