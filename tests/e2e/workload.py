"""The e2e workload: the SDK configured only from OTEL_* variables, driven against fake providers.

Run as `python -m tests.e2e.workload` with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a collector. It ends
with the OpenAI breaker open (long recovery time), so the breaker alert has something to see.
Prints the API keys it used, one per line, so the test can search the exported traces for them.
"""

from __future__ import annotations

import contextlib
import time

import otel_llm
import otel_llm.policies
from otel_llm.testing import Behavior, FakeProviderServer

CHAIN = ("openai:gpt-4o-mini", "anthropic:claude-haiku-4-5", "gemini:gemini-2.5-flash")
KEYS = {
    "openai": "sk-e2e-openai-0123456789abcdefghij",
    "anthropic": "sk-ant-e2e-0123456789abcdefghij",
    "gemini": "AIzaE2Etest0123456789abcdefghijklmnopq",
}
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Status of the outage?"}]


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


def _call(client: otel_llm.Client, *, stream: bool) -> None:
    if stream:
        list(client.stream(CHAIN[0], MESSAGES, fallbacks=CHAIN[1:]))
    else:
        client.chat(CHAIN[0], MESSAGES, fallbacks=CHAIN[1:], max_tokens=64)


if __name__ == "__main__":
    main()
