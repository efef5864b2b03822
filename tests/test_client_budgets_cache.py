"""Budgets and the response cache as the client applies them (the ledger and stores have their own tests)."""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

import otel_llm
from otel_llm import AsyncClient, Client
from otel_llm._cache import CacheConfig
from otel_llm.budgets import Budget, BudgetExceededError
from otel_llm.telemetry import _instruments as inst
from tests.conftest import Captured
from tests.wire import PROVIDERS, error, mock_client, openai_body, openai_stream

USER = [{"role": "user", "content": "hi"}]
MODEL = "openai:gpt-4o-mini"
# gpt-4o-mini: $0.15 in / $0.60 out per million tokens; openai_body() reports 7 in, 2 out.
ACTUAL = (7 * Decimal("0.15") + 2 * Decimal("0.60")) / 1_000_000


class Recording:
    """An OpenAI stand-in that counts requests and can be told to fail."""

    def __init__(self) -> None:
        self.requests = 0
        self.fail = False
        self.gate: threading.Event | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.gate is not None:
            self.gate.wait(5)
        if self.fail:
            return error(400)
        if b'"stream": true' in request.content or b'"stream":true' in request.content:
            return httpx.Response(200, content=openai_stream(["hel", "lo"]))
        return httpx.Response(200, json=openai_body())


def client_for(server: Recording, captured: Captured | None = None, **config: Any) -> Client:
    return mock_client(server, captured, **config)


def spent(client: Client) -> Decimal:
    return sum((status.spent_usd for status in client.health().budgets), Decimal(0))


def test_a_hard_limit_refuses_a_call_before_anything_is_sent(captured: Captured) -> None:
    server = Recording()
    budget = Budget("daily", limit_usd=Decimal("0.0001"), period="day")
    with client_for(server, captured, budgets=[budget]) as client:
        with pytest.raises(BudgetExceededError) as info:
            client.chat(MODEL, USER, max_tokens=1000)  # worst case: 1000 output tokens = $0.0006
        assert server.requests == 0
        assert info.value.budget == "daily"
        client.chat(MODEL, USER, max_tokens=100)  # $0.00006 fits
    span = captured.spans()[0]
    assert (span.attributes or {})["error.type"] == "budget_exceeded"
    assert captured.metrics()[inst.BUDGET_REJECTIONS.name] == [
        ({"otel_llm.budget.name": "daily", "otel_llm.budget.period": "day"}, 1)
    ]


def test_a_call_settles_its_actual_cost_and_a_failed_call_releases_its_reservation() -> None:
    server = Recording()
    with client_for(server, budgets=[Budget("daily", limit_usd=Decimal(1), period="day")]) as client:
        client.chat(MODEL, USER, max_tokens=100)
        assert spent(client) == ACTUAL
        server.fail = True
        with pytest.raises(otel_llm.AllRoutesFailedError):
            client.chat(MODEL, USER, max_tokens=100)
        assert spent(client) == ACTUAL


def test_concurrent_calls_never_overshoot_a_hard_limit() -> None:
    server = Recording()
    worst = Decimal("0.00006")  # 100 output tokens, well above the actual cost
    limit = worst * 5
    with client_for(server, budgets=[Budget("tight", limit_usd=limit, period="day")]) as client:
        server.gate = threading.Event()
        outcomes: list[str] = []

        def call() -> None:
            try:
                client.chat(MODEL, USER, max_tokens=100)
                outcomes.append("ok")
            except BudgetExceededError:
                outcomes.append("refused")

        threads = [threading.Thread(target=call) for _ in range(12)]
        for thread in threads:
            thread.start()
        # Every thread either reaches the server (and waits at the gate) or is refused up front.
        deadline = time.monotonic() + 5
        while server.requests + outcomes.count("refused") < len(threads) and time.monotonic() < deadline:
            threading.Event().wait(0.01)
        in_flight = server.requests
        server.gate.set()
        for thread in threads:
            thread.join()
        # At most five worst cases fit at once; the others were refused while those were in flight.
        assert 1 <= in_flight == outcomes.count("ok") <= 5 < len(outcomes)
        assert spent(client) == ACTUAL * outcomes.count("ok") <= limit


def test_scoped_soft_limits_flag_calls_and_feed_the_gauges(captured: Captured) -> None:
    server = Recording()
    budget = Budget("team", soft_limit_usd=Decimal("0.000001"), period="month", scope="team")
    with client_for(server, captured, budgets=[budget]) as client:
        with otel_llm.attribution(team="search"):
            client.chat(MODEL, USER, max_tokens=10)
            client.chat(MODEL, USER, max_tokens=10)
        client.chat(MODEL, USER, max_tokens=10)  # not in any team: the scoped budget does not apply
        metrics = captured.metrics()
    labels = {
        "otel_llm.budget.name": "team",
        "otel_llm.budget.period": "month",
        "otel_llm.attribution.team": "search",
    }
    assert metrics[inst.BUDGET_SOFT_LIMIT_EXCEEDED.name] == [(labels, 2)]
    [(spent_labels, spent_usd)] = metrics[inst.BUDGET_SPENT.name]
    assert spent_labels == labels and spent_usd == pytest.approx(float(ACTUAL * 2))
    assert metrics[inst.BUDGET_LIMIT.name] == [({**labels, "otel_llm.budget.limit_kind": "soft"}, 1e-6)]
    assert metrics[inst.BUDGET_UTILIZATION.name][0][1] > 1
    events = [e.name for s in captured.spans() for e in s.events]
    assert events.count("otel_llm.budget.soft_limit_exceeded") == 2


def test_an_identical_call_is_answered_from_the_cache_for_free(captured: Captured) -> None:
    server = Recording()
    with client_for(server, captured, cache=CacheConfig()) as client:
        first = client.chat(MODEL, USER)
        second = client.chat(MODEL, USER)
        other = client.chat(MODEL, [{"role": "user", "content": "something else"}])
    assert server.requests == 2
    assert (first.cached, second.cached, other.cached) == (False, True, False)
    assert second.text == first.text and second.cost_usd == 0 and first.cost_usd == ACTUAL
    metrics = captured.metrics()
    results = {labels["otel_llm.cache.result"]: value for labels, value in metrics[inst.CACHE_REQUESTS.name]}
    assert results == {"miss": 2, "hit": 1}
    assert metrics[inst.CACHE_SAVINGS.name][0][1] == pytest.approx(float(ACTUAL))
    results_on_spans = [(s.attributes or {}).get(inst.CACHE_RESULT) for s in captured.spans()]
    assert sorted(str(r) for r in results_on_spans if r is not None) == ["hit", "miss", "miss"]


def test_errors_are_never_cached() -> None:
    server = Recording()
    server.fail = True
    with client_for(server, cache=CacheConfig()) as client:
        for _ in range(2):
            with pytest.raises(otel_llm.AllRoutesFailedError):
                client.chat(MODEL, USER)
    assert server.requests == 2


def test_identical_concurrent_calls_are_sent_once() -> None:
    server = Recording()
    server.gate = threading.Event()
    with client_for(server, cache=CacheConfig()) as client:
        replies: list[otel_llm.ChatResponse] = []
        threads = [
            threading.Thread(target=lambda: replies.append(client.chat(MODEL, USER))) for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        while server.requests < 1:
            threading.Event().wait(0.01)
        threading.Event().wait(0.05)  # let the others join the flight
        server.gate.set()
        for thread in threads:
            thread.join()
    assert server.requests == 1
    assert sorted(reply.cached for reply in replies) == [False] + [True] * 5


def test_async_identical_calls_are_sent_once() -> None:
    server = Recording()

    async def main() -> list[otel_llm.ChatResponse]:
        async def handler(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(0.05)
            return server(request)

        transport = httpx.MockTransport(handler)
        async with AsyncClient(transport=transport, providers=PROVIDERS, cache=CacheConfig()) as client:
            return list(await asyncio.gather(*(client.chat(MODEL, USER) for _ in range(5))))

    replies = asyncio.run(main())
    assert server.requests == 1 and sum(reply.cached for reply in replies) == 4


def test_a_completed_stream_is_stored_and_replayed() -> None:
    server = Recording()
    with client_for(server, cache=CacheConfig()) as client:
        live = client.stream(MODEL, USER)
        assert "".join(chunk.delta for chunk in live) == "hello"
        replay = client.stream(MODEL, USER)
        assert "".join(chunk.delta for chunk in replay) == "hello"
        plain = client.chat(MODEL, USER)  # a streamed answer serves a plain call too
    assert server.requests == 1
    assert live.response is not None and replay.response is not None
    assert (live.response.cached, replay.response.cached, plain.cached) == (False, True, True)
    assert replay.response.text == live.response.text == plain.text
