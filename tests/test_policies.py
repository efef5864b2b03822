from __future__ import annotations

import random

import pytest

from otel_llm import BadRequestError, ConfigurationError, ProviderUnavailableError
from otel_llm._policies import RetryState
from otel_llm.policies import (
    DecorrelatedJitter,
    Exponential,
    Fibonacci,
    FullJitter,
    Linear,
    RetryPolicy,
    StopAfterAttempts,
    StopAfterDelay,
)


def test_exponential_grows_and_caps() -> None:
    backoff = Exponential(0.5, maximum=3.0)
    rng = random.Random(1)
    assert [backoff(n, rng) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff(10_000, rng) == 3.0  # no overflow for absurd retry numbers


def test_full_jitter_stays_within_the_wrapped_backoff() -> None:
    jitter = FullJitter(Exponential(1.0, maximum=8.0))
    rng = random.Random(7)
    delays = [jitter(3, rng) for _ in range(500)]
    assert all(0.0 <= d <= 4.0 for d in delays)
    assert max(delays) > 3.0 and min(delays) < 1.0  # actually spread, not constant


def test_stop_conditions_combine_with_or() -> None:
    stop = StopAfterAttempts(3) | StopAfterDelay(10)
    assert not stop(RetryState(attempts_on_route=2, elapsed=9.9))
    assert stop(RetryState(attempts_on_route=3, elapsed=0))
    assert stop(RetryState(attempts_on_route=1, elapsed=10))


def test_default_policy_retries_three_times_with_jitter() -> None:
    policy = RetryPolicy()
    assert not policy.stop(RetryState(2, 0.0))
    assert policy.stop(RetryState(3, 0.0))
    assert isinstance(policy.backoff, FullJitter)


@pytest.mark.parametrize(
    "build",
    [
        lambda: StopAfterAttempts(0),
        lambda: StopAfterDelay(0),
        lambda: Exponential(-1),
        lambda: Exponential(1, multiplier=0.5),
    ],
)
def test_invalid_values_raise_configuration_errors(build: object) -> None:
    with pytest.raises(ConfigurationError, match="retry"):
        build()  # type: ignore[operator]


def test_linear_and_fibonacci_grow_gently_and_cap() -> None:
    rng = random.Random(0)
    assert [Linear(0.5, step=0.5, maximum=2.0)(n, rng) for n in range(1, 6)] == [0.5, 1.0, 1.5, 2.0, 2.0]
    assert [Fibonacci(1.0, maximum=6.0)(n, rng) for n in range(1, 8)] == [1, 1, 2, 3, 5, 6, 6]
    assert Fibonacci(1.0, maximum=6.0)(10_000, rng) == 6.0


def test_decorrelated_jitter_stays_between_initial_and_the_cap_and_spreads() -> None:
    backoff = DecorrelatedJitter(0.5, maximum=8.0)
    rng = random.Random(3)
    delays = [backoff(n, rng) for n in range(1, 8) for _ in range(50)]
    assert all(0.5 <= d <= 8.0 for d in delays)
    assert len({round(d, 3) for d in delays}) > 100
    later = [backoff(6, rng) for _ in range(200)]
    first = [backoff(1, rng) for _ in range(200)]
    assert sum(later) / len(later) > sum(first) / len(first)  # it still grows on average


@pytest.mark.parametrize(
    "build",
    [lambda: Linear(-1), lambda: Fibonacci(1, maximum=-1), lambda: DecorrelatedJitter(2, maximum=1)],
)
def test_invalid_backoffs_raise(build: object) -> None:
    with pytest.raises(ConfigurationError, match=r"retry\.backoff"):
        build()  # type: ignore[operator]


def test_retry_on_overrides_which_kinds_are_retried() -> None:
    overloaded = ProviderUnavailableError("busy", provider="p", model="m", kind="overloaded")
    conflict = BadRequestError("busy", provider="p", model="m", kind="bad_request")
    default, custom = RetryPolicy(), RetryPolicy(retry_on=frozenset({"bad_request"}))
    assert (default.retries(overloaded), default.retries(conflict)) == (True, False)
    assert (custom.retries(overloaded), custom.retries(conflict)) == (False, True)
