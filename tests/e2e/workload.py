"""The e2e workload: the SDK configured only from OTEL_* variables, driven against fake providers.

Run as `python -m tests.e2e.workload` with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a collector. It ends
with the OpenAI breaker open (long recovery time), so the breaker alert has something to see. Before
the outage, a second client spends against budgets (soft limit crossed, a hard limit refusing), answers
repeated questions from its cache and routes through a named chain, so that every instrument has data.
Prints the API keys it used, one per line, so the test can search the exported traces for them.
"""

from __future__ import annotations

import contextlib
import time
from decimal import Decimal

import otel_llm
import otel_llm.policies
from otel_llm.budgets import Budget
from otel_llm.testing import Behavior, FakeProviderServer
from otel_llm.types import CacheConfig

CHAIN = ("openai:gpt-4o-mini", "anthropic:claude-haiku-4-5", "gemini:gemini-2.5-flash")
KEYS = {
    "openai": "sk-e2e-openai-0123456789abcdefghij",
    "anthropic": "sk-ant-e2e-0123456789abcdefghij",
    "gemini": "AIzaE2Etest0123456789abcdefghijklmnopq",
}
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Status of the outage?"}]
BUDGETS = [
    # Each search call reserves about $0.00004 (gpt-4o-mini, 64 output tokens): the soft limit is crossed
    # after a few calls. Every feature gets its own $0.00001 a day, below one call's worst case: calls
    # for a feature are refused.
    Budget("team-daily", period="day", scope="team", soft_limit_usd=Decimal("0.0001"), limit_usd=Decimal(1)),
    Budget("feature-daily", period="day", scope="feature", limit_usd=Decimal("0.00001")),
]
CHAINS = {"chains": {"support": {"strategy": "cost", "routes": list(CHAIN)}}}


def main() -> None:
    providers = otel_llm.configure(service_name="otel-llm-e2e")
    with FakeProviderServer() as server:
        for name in KEYS:
            server.set_behavior(name, Behavior(latency=0.01))
        client = otel_llm.Client(
            providers={
                name: {"base_url": server.base_url(name), "api_key": key} for name, key in KEYS.items()
            },
            retry=otel_llm.RetryPolicy(
                stop=otel_llm.StopAfterAttempts(2),
                backoff=otel_llm.policies.FullJitter(otel_llm.policies.Exponential(0.01)),
            ),
            breaker=otel_llm.BreakerPolicy(failure_threshold=3, recovery_time=600, max_recovery_time=600),
        )
        with client:
            # Healthy traffic spread over several metric exports, so rate() and increase() see growth.
            for i in range(12):
                _call(client, stream=i % 4 == 0)
                time.sleep(0.15)
            _spend_cache_and_route(server)
            client.chat("gemini:gemini-exp-unpriced", MESSAGES)  # a model with no known price
            server.enqueue("anthropic", Behavior(status=429, retry_after_ms=50))
            # OpenAI goes down: retries, then its breaker opens and calls fail over. Calls that have no
            # fallback fail outright, spread over the outage so error rates have samples to work on.
            server.set_behavior("openai", Behavior(status=503))
            for i in range(16):
                _call(client, stream=i % 4 == 0)
                if i % 3 == 0:
                    with contextlib.suppress(otel_llm.AllRoutesFailedError):
                        client.chat("openai:gpt-4o-mini", MESSAGES)
                time.sleep(0.15)
            time.sleep(1.0)  # more exports with the breaker open
    providers.shutdown()
    print("\n".join(KEYS.values()))


def _spend_cache_and_route(server: FakeProviderServer) -> None:
    """Budgets, the cache and a named chain, on a client of their own (the outage must not be cached)."""
    with otel_llm.Client(
        providers={name: {"base_url": server.base_url(name), "api_key": key} for name, key in KEYS.items()},
        budgets=BUDGETS,
        cache=CacheConfig(),
        chains=CHAINS,
    ) as client:
        for i in range(6):
            with otel_llm.attribution(team="search"):
                client.chat(CHAIN[0], MESSAGES, max_tokens=64)  # the first is sent, the rest are hits
                client.chat("chain:support", [{"role": "user", "content": f"Question {i}"}], max_tokens=64)
            with otel_llm.attribution(feature="bulk"), contextlib.suppress(otel_llm.BudgetExceededError):
                client.chat(CHAIN[0], [{"role": "user", "content": f"Summarise {i}"}], max_tokens=64)
            time.sleep(0.15)


def _call(client: otel_llm.Client, *, stream: bool) -> None:
    if stream:
        list(client.stream(CHAIN[0], MESSAGES, fallbacks=CHAIN[1:]))
    else:
        client.chat(CHAIN[0], MESSAGES, fallbacks=CHAIN[1:], max_tokens=64)


if __name__ == "__main__":
    main()
