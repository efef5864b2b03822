"""`python -m otel_llm.demo`: a routed workload against fake providers, with an injected outage.

Needs no keys and no services: the fake provider server runs in-process on loopback. The summary is read
back from otel-llm's own metrics (what a dashboard would show); latency percentiles are measured around
each call. With `OTEL_EXPORTER_OTLP_ENDPOINT` set, traces and metrics also go there over OTLP.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import TextIO

from otel_llm import BreakerPolicy, Client, RetryPolicy, StopAfterAttempts, configure
from otel_llm.policies import Exponential, FullJitter
from otel_llm.telemetry import MetricsReadback
from otel_llm.telemetry import _instruments as inst
from otel_llm.testing import Behavior, FakeProviderServer

CHAIN = ("openai:gpt-4o-mini", "anthropic:claude-haiku-4-5", "gemini:gemini-2.5-flash")
LATENCY = {"openai": 0.02, "anthropic": 0.03, "gemini": 0.025}
RECOVERY_TIME = 1.0


def main(out: TextIO = sys.stdout, calls_per_phase: int = 15) -> int:
    """Run the demo workload and print the summary; returns the process exit code."""
    logging.basicConfig(level=logging.WARNING, stream=out, format="  log %(levelname)s %(name)s: %(message)s")
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        # No collector to talk to: keep telemetry in-process instead of retrying a dead endpoint.
        os.environ.setdefault("OTEL_TRACES_EXPORTER", "none")
        os.environ.setdefault("OTEL_METRICS_EXPORTER", "none")
    readback = MetricsReadback()
    providers = configure(service_name="otel-llm-demo", metric_readers=[readback.reader])
    durations: list[float] = []
    with FakeProviderServer() as server:
        for provider, latency in LATENCY.items():
            server.set_behavior(provider, Behavior(latency=latency, chunk_delay=0.005))
        client = Client(
            providers={p: {"base_url": server.base_url(p), "api_key": f"demo-key-{p}"} for p in LATENCY},
            retry=RetryPolicy(stop=StopAfterAttempts(2), backoff=FullJitter(Exponential(0.05, maximum=0.2))),
            breaker=BreakerPolicy(failure_threshold=3, recovery_time=RECOVERY_TIME),
            timeout=5.0,
        )
        with client:
            run_workload(client, server, durations, calls_per_phase, out)
    print_summary(readback, durations, out)
    providers.shutdown()
    return 0


def run_workload(
    client: Client, server: FakeProviderServer, durations: list[float], calls: int, out: TextIO
) -> None:
    """Healthy traffic, then an OpenAI outage, then its recovery; a few streams and hints on the way."""
    messages = [{"role": "user", "content": "Summarise the incident report in one sentence."}]

    def chat() -> None:
        _timed(durations, lambda: client.chat(CHAIN[0], messages, fallbacks=CHAIN[1:], max_tokens=64))

    def stream() -> None:
        _timed(durations, lambda: list(client.stream(CHAIN[0], messages, fallbacks=CHAIN[1:])))

    print("phase 1: healthy providers", file=out)
    for i in range(calls):
        (stream if i % 5 == 0 else chat)()
    _timed(durations, lambda: client.chat("gemini:gemini-2.0-flash", messages))
    _timed(durations, lambda: client.chat("gemini:gemini-exp-unpriced", messages))  # no known price

    print("phase 2: openai outage (HTTP 503) and one anthropic rate limit with retry-after-ms", file=out)
    server.set_behavior("openai", Behavior(status=503, latency=LATENCY["openai"]))
    server.enqueue("anthropic", Behavior(status=429, retry_after_ms=150))
    for i in range(calls):
        (stream if i % 5 == 0 else chat)()

    print(f"phase 3: openai recovers; its breaker probes after {RECOVERY_TIME:.0f}s", file=out)
    server.set_behavior("openai", Behavior(latency=LATENCY["openai"], chunk_delay=0.005))
    time.sleep(RECOVERY_TIME)
    for i in range(calls):
        (stream if i % 5 == 0 else chat)()


def _timed(durations: list[float], call: Callable[[], object]) -> None:
    started = time.perf_counter()
    call()
    durations.append(time.perf_counter() - started)


def print_summary(readback: MetricsReadback, durations: list[float], out: TextIO) -> None:
    """Print what the telemetry says about the run."""
    calls: Counter[str] = Counter()
    for point in readback.points(inst.OPERATION_DURATION.name):
        outcome = "failed" if inst.ERROR_TYPE in point.attributes else "served"
        calls[f"{point.attributes[inst.PROVIDER_NAME]} {outcome}"] += point.count or 0
    attempts: Counter[str] = Counter()
    for point in readback.points(inst.ATTEMPTS.name):
        outcome = str(point.attributes.get(inst.ERROR_TYPE, "ok"))
        attempts[f"{point.attributes[inst.PROVIDER_NAME]} {outcome}"] += int(point.value)
    fallbacks: Counter[str] = Counter()
    for point in readback.points(inst.FALLBACKS.name):
        attributes = point.attributes
        route = f"{attributes[inst.PROVIDER_NAME]} -> {attributes[inst.FALLBACK_TO_PROVIDER]}"
        fallbacks[f"{route} ({attributes[inst.ERROR_TYPE]})"] += int(point.value)
    transitions: dict[str, Counter[str]] = defaultdict(Counter)
    for point in readback.points(inst.CIRCUIT_TRANSITIONS.name):
        transitions[str(point.attributes[inst.PROVIDER_NAME])][
            str(point.attributes[inst.CIRCUIT_STATE_ATTR])
        ] += int(point.value)
    tokens: Counter[str] = Counter()
    for point in readback.points(inst.TOKEN_USAGE.name):
        tokens[str(point.attributes[inst.TOKEN_TYPE])] += int(point.value)
    cost: defaultdict[str, float] = defaultdict(float)
    for point in readback.points(inst.COST.name):
        cost[str(point.attributes[inst.PROVIDER_NAME])] += point.value
    unpriced = sum(int(p.value) for p in readback.points(inst.UNPRICED_CALLS.name))
    retries = sum(int(p.value) for p in readback.points(inst.RETRIES.name))

    print("\n== otel-llm demo summary (from the SDK's own metrics) ==", file=out)
    _section(out, "calls by serving provider", calls)
    _section(out, "attempts by provider and outcome", attempts)
    _section(out, "fallbacks", fallbacks)
    print(f"retries: {retries}", file=out)
    print("breaker transitions (state entered):", file=out)
    for provider, states in sorted(transitions.items()):
        print(f"  {provider}: " + ", ".join(f"{state} x{n}" for state, n in sorted(states.items())), file=out)
    print(f"tokens: input {tokens['input']}, output {tokens['output']}", file=out)
    print(
        f"cost: ${sum(cost.values()):.6f} ("
        + ", ".join(f"{p} ${c:.6f}" for p, c in sorted(cost.items()))
        + f"); unpriced calls: {unpriced}",
        file=out,
    )
    if len(durations) >= 2:
        cuts = statistics.quantiles(durations, n=20)
        print(f"latency per call: p50 {cuts[9] * 1000:.1f} ms, p95 {cuts[18] * 1000:.1f} ms", file=out)


def _section(out: TextIO, title: str, counts: Counter[str]) -> None:
    print(f"{title}:", file=out)
    for key, value in sorted(counts.items()):
        print(f"  {key}: {value}", file=out)


if __name__ == "__main__":
    raise SystemExit(main())
