"""Retry policy: when to stop and how long to wait. Small composable values, pure (randomness injected).

RetryPolicy(stop=StopAfterAttempts(3) | StopAfterDelay(30), backoff=FullJitter(Exponential(0.5, maximum=8)))
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Protocol

from otel_llm._exceptions import ConfigurationError, ErrorKind, ProviderError


@dataclass(frozen=True, slots=True)
class RetryState:
    """What a stop condition may look at.

    Attributes:
        attempts_on_route: Attempts made so far on the current route.
        elapsed: Seconds since the call started.
    """

    attempts_on_route: int
    elapsed: float


class StopCondition(Protocol):
    """Decides that no further attempt is made on the current route."""

    def __call__(self, state: RetryState) -> bool:
        """Whether to stop retrying."""
        ...

    def __or__(self, other: StopCondition) -> StopCondition:
        """Stop when either condition says so."""
        ...


class _Combinable:
    def __or__(self, other: StopCondition) -> StopCondition:
        return StopAny((self, other))  # type: ignore[arg-type]  # subclasses are StopConditions


@dataclass(frozen=True, slots=True)
class StopAfterAttempts(_Combinable):
    """Stop after `attempts` attempts on one route (1 = never retry)."""

    attempts: int

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigurationError("retry.stop.attempts", "must be at least 1")

    def __call__(self, state: RetryState) -> bool:
        return state.attempts_on_route >= self.attempts


@dataclass(frozen=True, slots=True)
class StopAfterDelay(_Combinable):
    """Stop retrying once `seconds` have passed since the call started."""

    seconds: float

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ConfigurationError("retry.stop.seconds", "must be positive")

    def __call__(self, state: RetryState) -> bool:
        return state.elapsed >= self.seconds


@dataclass(frozen=True, slots=True)
class StopAny(_Combinable):
    """Stop when any of `conditions` says so."""

    conditions: tuple[StopCondition, ...]

    def __call__(self, state: RetryState) -> bool:
        return any(condition(state) for condition in self.conditions)


class Backoff(Protocol):
    """Delay before retry number `retry` (1-based)."""

    def __call__(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait."""
        ...


@dataclass(frozen=True, slots=True)
class Exponential:
    """`initial * multiplier ** (retry - 1)`, capped at `maximum`."""

    initial: float = 0.5
    maximum: float = 8.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < 0 or self.multiplier < 1:
            raise ConfigurationError("retry.backoff", "initial and maximum must be >= 0, multiplier >= 1")

    def __call__(self, retry: int, rng: random.Random) -> float:
        # min() before the power would still overflow for huge retry numbers; cap the exponent.
        return min(self.initial * self.multiplier ** min(retry - 1, 64), self.maximum)


@dataclass(frozen=True, slots=True)
class Linear:
    """`initial + step * (retry - 1)`, capped at `maximum`."""

    initial: float = 0.5
    step: float = 0.5
    maximum: float = 8.0

    def __post_init__(self) -> None:
        if self.initial < 0 or self.step < 0 or self.maximum < 0:
            raise ConfigurationError("retry.backoff", "initial, step and maximum must be >= 0")

    def __call__(self, retry: int, rng: random.Random) -> float:
        return min(self.initial + self.step * (retry - 1), self.maximum)


@dataclass(frozen=True, slots=True)
class Fibonacci:
    """`initial` times the Fibonacci numbers (1, 1, 2, 3, 5, ...), capped: gentler growth than doubling."""

    initial: float = 0.5
    maximum: float = 8.0

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < 0:
            raise ConfigurationError("retry.backoff", "initial and maximum must be >= 0")

    def __call__(self, retry: int, rng: random.Random) -> float:
        previous, current = 0, 1
        for _ in range(min(retry, 64) - 1):  # the cap is reached long before 64 steps
            previous, current = current, previous + current
        return min(self.initial * current, self.maximum)


@dataclass(frozen=True, slots=True)
class DecorrelatedJitter:
    """Each delay drawn between `initial` and three times the previous one, capped ("decorrelated jitter").

    Spreads clients apart like full jitter while still growing. The chain of previous delays is redrawn
    from `rng` on each call, so the policy stays a pure function of the retry number.
    """

    initial: float = 0.5
    maximum: float = 8.0

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < self.initial:
            raise ConfigurationError("retry.backoff", "need 0 <= initial <= maximum")

    def __call__(self, retry: int, rng: random.Random) -> float:
        delay = self.initial
        for _ in range(min(retry, 64)):
            delay = min(self.maximum, rng.uniform(self.initial, delay * 3))
        return delay


@dataclass(frozen=True, slots=True)
class FullJitter:
    """A uniformly random delay between 0 and the wrapped backoff: "full jitter" de-synchronises clients."""

    backoff: Backoff = field(default_factory=Exponential)

    def __call__(self, retry: int, rng: random.Random) -> float:
        return rng.uniform(0.0, self.backoff(retry, rng))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to retry a failed attempt on the same route, and how long to wait first.

    Only retryable errors (rate limits, overload, 5xx, timeouts, connection failures) are retried.
    A provider's delay hint (`retry-after`, `retry-after-ms`) replaces the computed backoff; a hint
    longer than `max_hint` (or than the time left) means "fail over now" rather than sleep.

    Attributes:
        stop: When to give up on a route and fall back to the next.
        backoff: Delay before each retry when the provider gives no hint: `Exponential`, `Linear`,
            `Fibonacci`, `DecorrelatedJitter`, or any of them wrapped in `FullJitter`.
        max_hint: Longest provider delay hint worth waiting for, in seconds.
        retry_on: Error kinds retried on the same route; `None` (the default) retries the transient
            kinds (rate limits, overload, 5xx, timeouts, connection failures) and follows a provider's
            explicit hint (`x-should-retry`).

    Example:
        >>> RetryPolicy(stop=StopAfterAttempts(3) | StopAfterDelay(30), backoff=FullJitter(Exponential(0.5)))
    """

    stop: StopCondition = field(default_factory=lambda: StopAfterAttempts(3))
    backoff: Backoff = field(default_factory=FullJitter)
    max_hint: float = 60.0
    retry_on: frozenset[ErrorKind] | None = None

    def retries(self, error: ProviderError) -> bool:
        """Whether `error` may be retried on the same route (stop conditions aside)."""
        return error.retryable if self.retry_on is None else error.kind in self.retry_on


NO_RETRY = RetryPolicy(stop=StopAfterAttempts(1))
"""A policy that never retries on the same route (fallbacks still apply)."""
