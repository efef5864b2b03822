"""Every retry, backoff, breaker and fallback policy of the public API.

The most used ones (`RetryPolicy`, `StopAfterAttempts`, `Exponential`, ...) are also exported by
`otel_llm` itself.

Example:
    >>> from otel_llm.policies import DecorrelatedJitter, RetryPolicy, StopAfterAttempts, StopAfterDelay
    >>> stop = StopAfterAttempts(4) | StopAfterDelay(20)
    >>> RetryPolicy(stop=stop, backoff=DecorrelatedJitter(0.2, maximum=5))
"""

from otel_llm._breaker import DEFAULT_COUNTED_KINDS, BreakerPolicy, CircuitState
from otel_llm._exceptions import DEFAULT_FALLBACK_KINDS
from otel_llm._policies import (
    NO_RETRY,
    Backoff,
    DecorrelatedJitter,
    Exponential,
    Fibonacci,
    FullJitter,
    Linear,
    RetryPolicy,
    StopAfterAttempts,
    StopAfterDelay,
    StopAny,
    StopCondition,
)

__all__ = [
    "DEFAULT_COUNTED_KINDS",
    "DEFAULT_FALLBACK_KINDS",
    "NO_RETRY",
    "Backoff",
    "BreakerPolicy",
    "CircuitState",
    "DecorrelatedJitter",
    "Exponential",
    "Fibonacci",
    "FullJitter",
    "Linear",
    "RetryPolicy",
    "StopAfterAttempts",
    "StopAfterDelay",
    "StopAny",
    "StopCondition",
]
