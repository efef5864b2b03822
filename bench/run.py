"""`make bench`: what otel-llm costs a caller, measured in one run.

- Import time of `otel_llm` versus `httpx`, each in fresh interpreters (median of several), and the time
  until a first `Client()` exists (when the OpenTelemetry API gets imported).
- The decision core alone, in microseconds (p50): a routing decision over 10 routes for each strategy
  (filters, ordering, then the plan up to its first attempt; the slowest strategy is the headline) and
  one breaker admission with its outcome.
- The `openai` SDK on `httpx.MockTransport`, plain and under `OpenAIInstrumentor` (what instrumenting
  existing code costs a call), beside the floor: the same span and metric points written with the bare
  OpenTelemetry SDK.
- Per-call latency of `Client.chat` versus a raw `httpx.Client.post` of the same request, both over
  `httpx.MockTransport` returning the same body, so the difference is otel-llm's own work: request
  building, parsing, the engine, cost and telemetry. Telemetry is on, with real SDK providers: spans go
  to a batch processor with a discarding exporter and metrics to an in-memory reader.

Prints a table and writes bench/results.json. Targets: import <= 150 ms, overhead <= 0.3 ms p50 and
<= 1 ms p99, instrumentor overhead <= 0.1 ms p50.
"""

from __future__ import annotations

import gc
import json
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import otel_llm
from otel_llm._breaker import BreakerBoard, BreakerPolicy, Ticket
from otel_llm._engine import CallPlan
from otel_llm._policies import RetryPolicy
from otel_llm._registry import ModelRegistry
from otel_llm._route_stats import RouteStatsBoard
from otel_llm._routing import (
    BalancedStrategy,
    CostStrategy,
    LatencyStrategy,
    LeastInFlightStrategy,
    LocalFirstStrategy,
    PriorityStrategy,
    QualityStrategy,
    RequestProfile,
    Router,
    RoutingStrategy,
    WeightedRoundRobinStrategy,
)
from otel_llm._types import Route

RESULTS = Path(__file__).with_name("results.json")
TARGETS = {
    "import_ms": 150.0,
    "overhead_p50_ms": 0.3,
    "overhead_p99_ms": 1.0,
    "router_decision_us": 50.0,
    "breaker_check_us": 5.0,
    "openai_instrumented_overhead_p50_ms": 0.1,
}
DECISIONS = 20_000
CALLS = 6000
ROUNDS = 6  # raw and SDK batches alternate, so transient machine load hits both alike
WARMUP = 500
IMPORT_RUNS = 9

BODY = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hello there!"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }
).encode()
MESSAGES = [{"role": "user", "content": "Say hello."}]


class _Discard(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _transport() -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, content=BODY))


def fresh_interpreter_ms(statement: str) -> float:
    """Median wall time of `statement` in a fresh interpreter."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = [
        float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(IMPORT_RUNS)
    ]
    return statistics.median(runs) * 1000


def interleaved_timings_ms(*calls: Callable[[], object]) -> list[list[float]]:
    """Per-call wall times of each callable, measured in alternating batches after a warm-up."""
    for call in calls:
        for _ in range(WARMUP):
            call()
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(ROUNDS):
        for call, into in zip(calls, samples, strict=True):
            gc.collect()
            for _ in range(CALLS // ROUNDS):
                started = time.perf_counter_ns()
                call()
                into.append((time.perf_counter_ns() - started) / 1e6)
    return samples


# Ten priced routes of the bundled registry, so the cost, quality and balanced strategies have facts.
BENCH_ROUTES = [
    Route(*text.split(":"))
    for text in (
        "openai:gpt-4o-mini", "openai:gpt-4.1", "openai:gpt-4.1-mini", "openai:gpt-4.1-nano",
        "anthropic:claude-haiku-4-5", "anthropic:claude-sonnet-4-5", "gemini:gemini-2.5-flash",
        "gemini:gemini-2.5-pro", "mistral:mistral-small-latest", "deepseek:deepseek-v4-flash",
    )
]  # fmt: skip
STRATEGIES: dict[str, Callable[[], RoutingStrategy]] = {
    "priority": PriorityStrategy,
    "cost": CostStrategy,
    "quality": QualityStrategy,
    "latency": LatencyStrategy,
    "balanced": BalancedStrategy,
    "local_first": LocalFirstStrategy,
    "weighted_round_robin": WeightedRoundRobinStrategy,
    "least_in_flight": LeastInFlightStrategy,
}


def p50_us(operation: Callable[[], object]) -> float:
    for _ in range(WARMUP):
        operation()
    samples = []
    for _ in range(DECISIONS):
        started = time.perf_counter_ns()
        operation()
        samples.append((time.perf_counter_ns() - started) / 1e3)
    return percentile(samples, 0.50)


def decision_us() -> tuple[dict[str, float], float]:
    """p50 microseconds of a routing decision over 10 routes, per strategy, and of one breaker
    admission + outcome (provider and model level).

    A decision is what a call over a named chain pays before its first attempt: the router's filters
    and strategy over the chain's routes, then the engine's plan up to that attempt.
    """
    clock = time.monotonic
    board = BreakerBoard(BreakerPolicy(), clock)
    registry = ModelRegistry()
    registry.load()
    stats = RouteStatsBoard(clock)
    router = Router(
        facts=lambda route: registry.get(route.provider, route.model),
        stats=stats,
        available=lambda route: not board.is_open(route),
        rng=random.Random(0),
    )
    profile = RequestProfile(estimated_input_tokens=900, expected_output_tokens=300)
    retry, rng = RetryPolicy(), random.Random(0)

    def decide(strategy: RoutingStrategy) -> Callable[[], object]:
        def decision() -> object:
            routes = router.decide(BENCH_ROUTES, profile, strategy).routes
            plan: CallPlan[object] = CallPlan(
                routes, retry=retry, breakers=board, clock=clock, rng=rng, attempt_timeout=30.0
            )
            action = plan.next_action()
            plan.record_success(action)
            return plan.next_action()

        return decision

    def check() -> object:
        # Both levels: the provider's breaker and the model's.
        ticket = board.admit(BENCH_ROUTES[0])
        assert isinstance(ticket, Ticket)
        board.record_success(ticket)
        return ticket

    by_strategy = {name: p50_us(decide(make())) for name, make in STRATEGIES.items()}
    return by_strategy, p50_us(check)


def instrumentor_overhead_ms(
    tracer_provider: TracerProvider, meter_provider: MeterProvider
) -> dict[str, float]:
    """p50 of an `openai` SDK chat call on `httpx.MockTransport`, plain and under `OpenAIInstrumentor`.

    All run interleaved on one instrumented client: the plain call goes through the original method the
    instrumentor wrapped, so the difference is the instrumentor's work alone. A third series is the floor
    under it: the plain call followed by the very telemetry the instrumentor records (its span with every
    attribute, its metric points with theirs) written straight to the OpenTelemetry SDK, which any
    OpenTelemetry-based instrumentation of this call pays, however it is written.
    """
    import openai
    from otel_llm_instrumentation.openai import OpenAIInstrumentor

    # The SDK's own client type is its httpx fork (`httpx2`); it accepts a plain httpx client too.
    http_client = httpx.Client(transport=_transport())
    client = openai.OpenAI(api_key="sk-bench", http_client=http_client)  # type: ignore[arg-type]
    completions = client.chat.completions

    def call() -> object:
        return completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]

    floor = _telemetry_written_directly(call, tracer_provider, meter_provider)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        original = completions.create.__wrapped__  # type: ignore[attr-defined]  # set by wrapt

        def plain() -> object:
            return original(model="gpt-4o-mini", messages=MESSAGES)

        plain_samples, instrumented, floored = interleaved_timings_ms(plain, call, lambda: (plain(), floor()))
    finally:
        instrumentor.uninstrument()
        client.close()
    plain_p50 = percentile(plain_samples, 0.50)
    return {
        "openai_sdk_p50_ms": round(plain_p50, 4),
        "openai_instrumented_p50_ms": round(percentile(instrumented, 0.50), 4),
        "openai_instrumented_overhead_p50_ms": round(percentile(instrumented, 0.50) - plain_p50, 4),
        "otel_sdk_floor_p50_ms": round(percentile(floored, 0.50) - plain_p50, 4),
    }


def _telemetry_written_directly(
    call: Callable[[], object], tracer_provider: TracerProvider, meter_provider: MeterProvider
) -> Callable[[], None]:
    """A function writing to the given providers what one instrumented `call` records, with the bare SDK.

    The call runs once under the instrumentor with in-memory providers, to see exactly what it records.
    """
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, use_span
    from otel_llm_instrumentation.openai import OpenAIInstrumentor

    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    seen_spans = TracerProvider()
    seen_spans.add_span_processor(SimpleSpanProcessor(spans))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=seen_spans, meter_provider=MeterProvider(metric_readers=[reader]))
    try:
        call()
    finally:
        instrumentor.uninstrument()
    [span] = spans.get_finished_spans()
    name, attributes = span.name, dict(span.attributes or {})
    meter = meter_provider.get_meter("bench.floor")
    points: list[tuple[Callable[[float, dict[str, Any]], None], float, dict[str, Any]]] = []
    data = reader.get_metrics_data()
    for scope in (scope for r in (data.resource_metrics if data else ()) for scope in r.scope_metrics):
        for metric in scope.metrics:
            if hasattr(metric.data, "is_monotonic"):  # a sum: a counter's points
                record = meter.create_counter(f"floor.{metric.name}").add
            else:
                record = meter.create_histogram(f"floor.{metric.name}").record
            for point in metric.data.data_points:
                value = point.value if hasattr(point, "value") else point.sum
                points.append((record, float(value), dict(point.attributes or {})))
    tracer = tracer_provider.get_tracer("bench.floor")

    def write() -> None:
        with use_span(tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes), end_on_exit=True):
            for record, value, point_attributes in points:
                record(value, point_attributes)

    return write


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(_Discard()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    client = otel_llm.Client(
        transport=_transport(),
        providers={"openai": {"api_key": "sk-bench"}},
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    raw = httpx.Client(transport=_transport())
    payload = json.dumps({"model": "gpt-4o-mini", "messages": MESSAGES}).encode()
    headers = {"authorization": "Bearer sk-bench", "content-type": "application/json"}

    def raw_call() -> object:
        return json.loads(
            raw.post("https://api.openai.com/v1/chat/completions", content=payload, headers=headers).content
        )

    raw_samples, sdk_samples = interleaved_timings_ms(
        raw_call, lambda: client.chat("openai:gpt-4o-mini", MESSAGES)
    )
    client.close()
    raw.close()
    instrumentor_results = instrumentor_overhead_ms(tracer_provider, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()

    results = {
        "import_ms": round(fresh_interpreter_ms("import otel_llm"), 2),
        "import_httpx_ms": round(fresh_interpreter_ms("import httpx"), 2),
        # OpenTelemetry is imported when the first client is built, so report that moment too.
        "client_ready_ms": round(fresh_interpreter_ms("import otel_llm; otel_llm.Client().close()"), 2),
        "client_ready_httpx_ms": round(fresh_interpreter_ms("import httpx; httpx.Client().close()"), 2),
        "call_p50_ms": round(percentile(sdk_samples, 0.50), 4),
        "call_p99_ms": round(percentile(sdk_samples, 0.99), 4),
        "raw_httpx_p50_ms": round(percentile(raw_samples, 0.50), 4),
        "raw_httpx_p99_ms": round(percentile(raw_samples, 0.99), 4),
    }
    by_strategy, breaker_us = decision_us()
    results["router_decision_us"] = round(max(by_strategy.values()), 3)  # the slowest strategy
    results["breaker_check_us"] = round(breaker_us, 3)
    results["overhead_p50_ms"] = round(results["call_p50_ms"] - results["raw_httpx_p50_ms"], 4)
    results["overhead_p99_ms"] = round(results["call_p99_ms"] - results["raw_httpx_p99_ms"], 4)
    results.update(instrumentor_results)
    report = {
        **results,
        "router_decision_us_by_strategy": {name: round(us, 3) for name, us in by_strategy.items()},
        "targets": TARGETS,
        "calls": CALLS,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")

    print(f"{'measure':<22}{'value':>12}{'target':>12}")
    for key, value in results.items():
        target = TARGETS.get(key)
        mark = "" if target is None else ("  ok" if value <= target else "  OVER")
        print(f"{key:<22}{value:>12.4f}{'' if target is None else f'{target:>12.2f}'}{mark}")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
