"""Async soak (issue 4): 500 concurrent calls with random faults leak no span and no budget reservation.

One `AsyncClient` with a hard budget, a response cache, fallbacks across OpenAI, Anthropic and Gemini and
quick breakers takes 500 concurrent chat, stream and embeddings calls. Every request its transport
sees may be throttled (429 with a retry hint), fail (500, 503, 400), be refused or time out, or, for a
stream, be cut before or after its first content chunk; Gemini fails twice as often as the others, so
its breakers open and half-open during the run. Some streams are closed by the caller after a chunk or
two; some calls share a prompt and routes, so the cache answers or coalesces them.

Determinism: the faults of a request depend only on the seed, its URL, its body and how often that
exact request was sent before, never on arrival order; delays are event-loop turns (`asyncio.sleep(0)`),
backoff sleeps move a fake clock, and budgets read a fixed wall clock. Nothing waits on real time, so
the interleaving, and every count, is the same on every run.

Afterwards: every outcome is a response or one of our exceptions; every span started has ended; the
ledger holds no open reservation and its spent total is exactly what the rules of
`otel_llm._spending.Spending.close()` say; no route is in flight, no breaker holds a probe slot, and
once the clock passes every retry time a healthy call closes every breaker again.

Cancelled calls are left out of the soak; the last test covers a cancelled half-open probe.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import httpx
import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from otel_llm import (
    AllRoutesFailedError,
    AsyncClient,
    BreakerPolicy,
    ChatResponse,
    CircuitState,
    OtelLLMError,
    StreamInterruptedError,
)
from otel_llm._cache import CacheConfig
from otel_llm.budgets import Budget, worst_case_cost
from otel_llm.telemetry import _instruments as inst
from otel_llm.types import EmbeddingsResponse, ModelRegistry
from tests.conftest import Captured, FakeClock
from tests.wire import PROVIDERS, anthropic_body, anthropic_sse, error, openai_body, openai_stream, sse

SEED = 4
CALLS = 500
MAX_TOKENS = 64
LIMIT = Decimal("0.035")  # ~100 worst cases of a call that may reach Anthropic: about a tenth are refused
WALL_CLOCK = 1_750_000_000.0  # budgets read a fixed wall clock: the run never straddles midnight UTC
PAST_EVERY_RETRY_TIME = 3601.0  # beyond the longest open time (a spent quota's hour)
REGISTRY = ModelRegistry()
# Quicker to trip and to recover than the default, so breakers open and probe many times in one run.
BREAKER = BreakerPolicy(failure_threshold=3, recovery_time=1.0, max_recovery_time=8.0, half_open_probes=2)

OPENAI = "openai:gpt-4o-mini"
ANTHROPIC = "anthropic:claude-haiku-4-5"
GEMINI = "gemini:gemini-2.0-flash"
CHAT_ROUTES = (OPENAI, ANTHROPIC, GEMINI)
EMBED_ROUTES = ("openai:text-embedding-3-small", "gemini:gemini-embedding-001")
STREAM_PARTS = ["al", "pha", " be", "ta"]
# Prompts shared by several calls, each with fixed routes so the cache can answer or coalesce them.
SHARED_CHATS = (
    ("shared question one", (OPENAI, ANTHROPIC)),
    ("shared question two", (ANTHROPIC, GEMINI, OPENAI)),
    ("shared question three", (GEMINI, OPENAI)),
)
SHARED_TEXTS = ("shared text one", "shared text two")

Kind = Literal["chat", "stream", "embed"]
Fault = Literal[
    "ok", "429", "500", "503", "400", "connect", "timeout", "cut_before", "cut_after", "reset_after"
]
# Relative weights per request; `cut_*` and `reset_after` only apply to streams.
FAULT_WEIGHTS: dict[Fault, int] = {
    "ok": 62,
    "429": 6,
    "500": 5,
    "503": 5,
    "400": 2,
    "connect": 5,
    "timeout": 5,
    "cut_before": 3,
    "cut_after": 4,
    "reset_after": 3,
}
STREAM_ONLY: frozenset[Fault] = frozenset({"cut_before", "cut_after", "reset_after"})
MAX_DELAY_TURNS = 40  # event-loop turns a provider may take to answer
START_SPREAD = 50  # event-loop turns over which the calls arrive: about 200 are in flight at the peak
LATENCY = (0.005, 0.05)  # seconds on the fake clock per answered request
ATTEMPT_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class CallPlan:
    """What call `index` does: its kind, routes, input, and whether a stream is closed early."""

    index: int
    kind: Kind
    routes: tuple[str, ...]
    text: str
    close_after: int | None  # streams: close after this many chunks; None reads to the end
    start_turns: int


@dataclass(frozen=True, slots=True)
class Streamed:
    """A stream read to its end (`response` set) or closed by the caller (`response` is None)."""

    response: ChatResponse | None


Outcome = ChatResponse | EmbeddingsResponse | Streamed | BaseException


def plan_calls(seed: int) -> list[CallPlan]:
    rng = random.Random(seed)
    plans = []
    for index in range(CALLS):
        kind: Kind = rng.choices(("chat", "stream", "embed"), weights=(50, 35, 15))[0]
        shared = rng.random() < 0.2
        close_after = None
        routes: tuple[str, ...]
        if kind == "embed":
            text = rng.choice(SHARED_TEXTS) if shared else f"soak text {index:03d}"
            routes = EMBED_ROUTES if rng.random() < 0.7 else EMBED_ROUTES[::-1]
        elif shared:
            text, routes = rng.choice(SHARED_CHATS)
        else:
            text = f"soak call {index:03d}: tell me something"
            routes = tuple(rng.sample(CHAT_ROUTES, rng.randint(1, 3)))
            # Only unshared streams close early: a cache replay closed early would hold no reservation,
            # and nothing outside the client tells a replay from a live stream before its end.
            if kind == "stream" and rng.random() < 0.25:
                close_after = rng.randint(1, 2)
        plans.append(CallPlan(index, kind, routes, text, close_after, rng.randrange(START_SPREAD)))
    return plans


class FaultyProviders:
    """OpenAI, Anthropic and Gemini answering over `httpx.MockTransport`, with seeded random faults."""

    def __init__(self, seed: int, clock: FakeClock) -> None:
        self._seed = seed
        self._clock = clock
        self._seen: Counter[str] = Counter()
        self.healthy = False
        self.faults: Counter[Fault] = Counter()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        provider = request.url.host.split(".")[-2]  # openai, anthropic, googleapis
        path = request.url.path
        stream = "streamGenerateContent" in path or json.loads(request.content).get("stream") is True
        embed = path.endswith(("/embeddings", ":embedContent"))
        key = f"{request.url}|{hashlib.sha256(request.content).hexdigest()}"
        self._seen[key] += 1
        rng = random.Random(f"{self._seed}|{key}|{self._seen[key]}")
        for _ in range(rng.randrange(MAX_DELAY_TURNS)):
            await asyncio.sleep(0)
        fault = "ok" if self.healthy else self._draw(rng, provider, stream)
        self.faults[fault] += 1
        # Time passes per request (a timeout takes its whole read limit), so open breakers recover.
        self._clock.now += ATTEMPT_TIMEOUT if fault == "timeout" else rng.uniform(*LATENCY)
        match fault:
            case "429":
                return error(429, "slow down", headers={"retry-after": rng.choice(("0.5", "1"))})
            case "500" | "503" | "400":
                return error(int(fault))
            case "connect":
                raise httpx.ConnectError("connection refused (soak)", request=request)
            case "timeout":
                raise httpx.ReadTimeout("timed out (soak)", request=request)
        if embed:
            return httpx.Response(200, json=embeddings_body(provider))
        if not stream:
            return httpx.Response(200, json=chat_body(provider))
        events = stream_events(provider)
        if fault == "cut_before":
            events = events[:1]  # the opening event only: no content reached anyone
        elif fault == "cut_after":
            events = events[:2]  # the opening event and the first content chunk, then the end
        return httpx.Response(
            200,
            content=paced(events, reset=request if fault == "reset_after" else None),
            headers={"content-type": "text/event-stream"},
        )

    def _draw(self, rng: random.Random, provider: str, stream: bool) -> Fault:
        faults = [f for f in FAULT_WEIGHTS if stream or f not in STREAM_ONLY]
        # Gemini is the unhealthy provider: twice the fault weight, so its breakers trip.
        unhealthy = 2 if provider == "googleapis" else 1
        weights = [FAULT_WEIGHTS[f] * (1 if f == "ok" else unhealthy) for f in faults]
        return rng.choices(faults, weights=weights)[0]


async def paced(events: Sequence[bytes], *, reset: httpx.Request | None) -> AsyncIterator[bytes]:
    """Send the events one read at a time; with `reset`, the connection drops after the first content."""
    for i, event in enumerate(events):
        if reset is not None and i == 2:
            raise httpx.ReadError("connection reset (soak)", request=reset)
        yield event
        await asyncio.sleep(0)


def chat_body(provider: str) -> dict[str, object]:
    if provider == "openai":
        return openai_body("hello")
    if provider == "anthropic":
        return anthropic_body("hello")
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "hello"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 6, "candidatesTokenCount": 4, "totalTokenCount": 10},
        "modelVersion": "gemini-2.0-flash",
    }


def embeddings_body(provider: str) -> dict[str, object]:
    if provider == "openai":
        return {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
            "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 4, "total_tokens": 4},
        }
    return {"embedding": {"values": [0.1, 0.2, 0.3]}}  # Gemini reports no usage: the cost stays unknown


def stream_events(provider: str) -> list[bytes]:
    """A complete stream split into reads: [opening, content..., closing...]."""
    if provider == "openai":
        whole = openai_stream(STREAM_PARTS)
        return [event + b"\n\n" for event in whole.split(b"\n\n") if event]
    if provider == "anthropic":
        opening: tuple[str, dict[str, object]] = (
            "message_start",
            {
                "message": {
                    "id": "m",
                    "model": "claude-haiku-4-5",
                    "usage": {"input_tokens": 3, "output_tokens": 1},
                }
            },
        )
        deltas = [
            ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": part}})
            for part in STREAM_PARTS
        ]
        closing = [
            ("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 4}}),
            ("message_stop", {}),
        ]
        return [anthropic_sse(event) for event in (opening, *deltas, *closing)]
    parts: list[dict[str, object]] = [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": part}]}}]} for part in STREAM_PARTS
    ]
    final: dict[str, object] = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 6, "candidatesTokenCount": 4},
    }
    # Gemini has no opening event: an empty candidate stands in for it, so cuts line up with the others.
    opening_event: dict[str, object] = {"candidates": [{"content": {"role": "model", "parts": []}}]}
    return [sse(event) for event in (opening_event, *parts, final)]


class SpanLedger(SpanProcessor):
    """Counts spans as they start and end, and remembers the ones still open."""

    def __init__(self) -> None:
        self.started = 0
        self.ended = 0
        self.open: dict[int, str] = {}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.started += 1
        self.open[span.context.span_id] = span.name

    def on_end(self, span: ReadableSpan) -> None:
        self.ended += 1
        assert span.context is not None
        self.open.pop(span.context.span_id, None)


def nanos(usd: Decimal) -> int:
    return math.ceil(usd * 10**9)  # the ledger counts whole nano-dollars, rounded up


def input_tokens(text: str) -> int:
    return -(-len(text) // 4)  # the client's estimate before sending: four characters a token


def reserved_nanos(plan: CallPlan) -> int:
    """The worst case the call reserved: its dearest route, at the most output it may generate."""
    worst = Decimal(0)
    for route in plan.routes:
        provider, model = route.split(":", 1)
        price = REGISTRY.price(provider, model)
        assert price is not None
        max_output = 0 if plan.kind == "embed" else MAX_TOKENS
        worst = max(worst, worst_case_cost(price, input_tokens(plan.text), max_output))
    return nanos(worst)


def spent_nanos(client: AsyncClient) -> int:
    return nanos(sum((status.spent_usd for status in client.health().budgets), Decimal(0)))


class Soak:
    """Drives the calls and watches them: chunks each stream delivered, and the most calls in flight."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.delivered: Counter[int] = Counter()
        self.in_flight = 0
        self.peak_in_flight = 0

    async def call(self, plan: CallPlan) -> Outcome:
        for _ in range(plan.start_turns):
            await asyncio.sleep(0)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await self._call(plan)
        finally:
            self.in_flight -= 1

    async def _call(self, plan: CallPlan) -> Outcome:
        client = self.client
        messages = [{"role": "user", "content": plan.text}]
        first, *fallbacks = plan.routes
        if plan.kind == "embed":
            return await client.embed(first, plan.text, fallbacks=fallbacks)
        if plan.kind == "chat":
            return await client.chat(first, messages, fallbacks=fallbacks, max_tokens=MAX_TOKENS)
        stream = client.stream(first, messages, fallbacks=fallbacks, max_tokens=MAX_TOKENS)
        async for _ in stream:
            self.delivered[plan.index] += 1
            if self.delivered[plan.index] == plan.close_after:
                await stream.aclose()
                return Streamed(None)
        return Streamed(stream.response)


def expected_spent_nanos(plan: CallPlan, outcome: Outcome, delivered: int) -> int:
    """What the call leaves in the budget, by the rules of `Spending.close()`.

    A call settled with its cost leaves that cost; one whose cost is unknown (Gemini embeddings report
    no usage) or that failed or was closed after delivering leaves its whole reservation; a failed call
    that delivered nothing, and an answer from the cache, leave nothing.
    """
    if isinstance(outcome, BaseException):
        return reserved_nanos(plan) if delivered else 0
    response = outcome.response if isinstance(outcome, Streamed) else outcome
    if response is None:  # closed by the caller
        return reserved_nanos(plan)
    if response.cached:
        return 0
    return reserved_nanos(plan) if response.cost_usd is None else nanos(response.cost_usd)


@pytest.mark.anyio
async def test_500_concurrent_faulty_calls_leak_no_span_and_no_reservation(captured: Captured) -> None:
    spans = SpanLedger()
    captured.tracer_provider.add_span_processor(spans)
    clock = FakeClock()

    async def sleep(seconds: float) -> None:
        clock.sleep(seconds)  # backoff and retry hints take no real time
        await asyncio.sleep(0)

    providers = FaultyProviders(SEED, clock)
    plans = plan_calls(SEED)
    client = AsyncClient(
        transport=httpx.MockTransport(providers),
        providers=PROVIDERS,
        tracer_provider=captured.tracer_provider,
        meter_provider=captured.meter_provider,
        budgets=[Budget("soak", limit_usd=LIMIT, period="day")],
        cache=CacheConfig(),
        registry=REGISTRY,
        breaker=BREAKER,
        timeout=ATTEMPT_TIMEOUT,
        clock=clock,
        sleep=sleep,
        rng=random.Random(SEED),
        wall_clock=lambda: WALL_CLOCK,
    )
    async with client:
        soak = Soak(client)
        outcomes: list[Outcome] = await asyncio.gather(*map(soak.call, plans), return_exceptions=True)

        # The run was the soak it claims to be: concurrent, every fault injected, every path taken.
        assert soak.peak_in_flight > CALLS // 3
        assert set(providers.faults) == set(FAULT_WEIGHTS), providers.faults
        tally = Counter(type(o).__name__ for o in outcomes)
        answered = sum(not isinstance(o, BaseException) for o in outcomes)
        assert answered > CALLS // 2, tally
        for name in ("BudgetExceededError", "AllRoutesFailedError", "StreamInterruptedError"):
            assert tally[name] > 0, tally
        assert any(isinstance(o, ChatResponse) and o.cached for o in outcomes), "no cache hit"
        assert any(isinstance(o, Streamed) and o.response and o.response.cached for o in outcomes)
        assert any(isinstance(o, Streamed) and o.response is None for o in outcomes), "none closed early"

        # Every outcome is an answer or one of ours: no KeyError, AttributeError, ... escapes. A call
        # fails with StreamInterruptedError exactly when it failed after delivering.
        foreign = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, OtelLLMError)]
        assert not foreign, foreign[:3]
        for plan, outcome in zip(plans, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                assert bool(soak.delivered[plan.index]) == isinstance(outcome, StreamInterruptedError), plan

        # Every span started has ended; one call span per call, in error exactly when the call raised.
        assert spans.open == {}
        assert spans.started == spans.ended == len(captured.spans()) > CALLS
        call_spans = [span for span in captured.spans() if span.parent is None]
        assert len(call_spans) == CALLS
        failed = sum(span.status.status_code is StatusCode.ERROR for span in call_spans)
        assert failed == CALLS - answered

        # No reservation is left open, and the budget holds exactly what the settlement rules leave.
        assert client._spending is not None  # private: open reservations are not public API
        assert client._spending.ledger.open_reservations == 0
        expected = sum(
            expected_spent_nanos(plan, outcome, soak.delivered[plan.index])
            for plan, outcome in zip(plans, outcomes, strict=True)
        )
        assert spent_nanos(client) == expected <= nanos(LIMIT)
        assert client._flights is not None and len(client._flights) == 0  # private: no flight left behind

        # Breakers opened and probed during the run; now nothing is in flight and no probe slot is held.
        entered = Counter[str]()
        for labels, count in captured.metrics()[inst.CIRCUIT_TRANSITIONS.name]:
            entered[str(labels[inst.CIRCUIT_STATE_ATTR])] += int(count)
        assert entered["open"] > 0 and entered["half_open"] > 0, entered
        assert all(route.in_flight == 0 for route in client.health().routes)
        assert all(breaker._probes_in_flight == 0 for breaker in client._breakers.breakers())  # private

        # Past every retry time, one healthy call per route is admitted and closes its breakers.
        clock.now += PAST_EVERY_RETRY_TIME
        providers.healthy = True
        for route in CHAT_ROUTES:
            await client.chat(route, [{"role": "user", "content": f"after the soak: {route}"}], max_tokens=8)
        for route in EMBED_ROUTES:
            await client.embed(route, f"after the soak: {route}")
        assert set(client.breaker_states().values()) == {CircuitState.CLOSED}
        assert spans.started == spans.ended and spans.open == {}


@pytest.mark.anyio
async def test_a_cancelled_probe_gives_its_probe_slot_back(clock: FakeClock) -> None:
    answer = "fail"
    probing, never = asyncio.Event(), asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if answer == "hang":
            probing.set()
            await never.wait()
        return error(500) if answer == "fail" else httpx.Response(200, json=openai_body())

    breaker = BreakerPolicy(failure_threshold=1, recovery_time=1.0, jitter=0.0)
    user = [{"role": "user", "content": "hi"}]
    async with AsyncClient(
        transport=httpx.MockTransport(handler),
        providers=PROVIDERS,
        clock=clock,
        sleep=clock.async_sleep,
        breaker=breaker,
    ) as client:
        with pytest.raises(AllRoutesFailedError):
            await client.chat(OPENAI, user)  # opens the model's breaker
        clock.now += 2  # past the recovery time: the next call is the half-open probe
        answer = "hang"
        probe = asyncio.create_task(client.chat(OPENAI, user))
        await probing.wait()
        assert client.breaker_states()[OPENAI] is CircuitState.HALF_OPEN
        probe.cancel()  # the caller gave up: asyncio.timeout(), a client that went away, ...
        with pytest.raises(asyncio.CancelledError):
            await probe
        answer = "ok"
        clock.now += PAST_EVERY_RETRY_TIME
        reply = await client.chat(OPENAI, user)  # refused: "openai:gpt-4o-mini -> circuit_open"
    assert reply.text == "hello"
