from __future__ import annotations

import random

import pytest

from otel_llm import (
    ConfigurationError,
    Exponential,
    FullJitter,
    RetryPolicy,
    StopAfterAttempts,
    StopAfterDelay,
)
from otel_llm._policies import RetryState


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
