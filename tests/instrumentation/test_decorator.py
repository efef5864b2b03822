"""`@otel_llm.llm_call`: legacy functions get the routing client's spans and metrics, and run unchanged."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest
import requests  # installed with the official clients (google-auth); legacy code's favourite
from opentelemetry.trace import StatusCode

import otel_llm
from otel_llm.budgets import Budget, BudgetLedger
from otel_llm.policies import Exponential
from otel_llm.telemetry import _instruments as inst
from tests.conftest import Captured, FakeClock, new_captured
from tests.instrumentation.genai_spans import chat_span, chat_spans
from tests.wire import PROVIDERS, openai_body

F = TypeVar("F", bound=Callable[..., Any])
USER = [{"role": "user", "content": "hi"}]
# What a chat span says about the exchange itself (server, timing and ids aside).
COMPARED = (
    inst.OPERATION_NAME,
    inst.PROVIDER_NAME,
    inst.REQUEST_MODEL,
    inst.SERVER_ADDRESS,
    "gen_ai.response.model",
    "gen_ai.response.finish_reasons",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
)


def decorated(captured: Captured, **options: Any) -> Callable[[F], F]:
    return otel_llm.llm_call(
        provider="openai",
        tracer_provider=captured.tracer_provider,
        meter_provider=captured.meter_provider,
        **options,
    )


def test_a_legacy_function_records_what_the_routing_client_records(captured: Captured) -> None:
    routed = new_captured()
    with otel_llm.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=openai_body())),
        providers=PROVIDERS,
        tracer_provider=routed.tracer_provider,
        meter_provider=routed.meter_provider,
    ) as client:
        client.chat("openai:gpt-4o-mini", USER)
    routed_span, routed_metrics = chat_span(routed), routed.metrics()

    @decorated(captured)
    def legacy(*, model: str, messages: list[dict[str, str]]) -> dict[str, object]:
        return openai_body()

    assert legacy(model="gpt-4o-mini", messages=USER) == openai_body()
    span, metrics = chat_span(captured), captured.metrics()
    assert {k: span.get(k) for k in COMPARED} == {k: routed_span.get(k) for k in COMPARED}
    for spec in (inst.OPERATION_DURATION, inst.TOKEN_USAGE, inst.COST):
        legacy_points = [(labels, value) for labels, value in metrics[spec.name]]
        routed_points = [(labels, value) for labels, value in routed_metrics[spec.name]]
        if spec is inst.OPERATION_DURATION:  # durations differ; the series must not
            legacy_points = [(labels, 0.0) for labels, _ in legacy_points]
            routed_points = [(labels, 0.0) for labels, _ in routed_points]
        assert legacy_points == routed_points, spec.name


@pytest.mark.parametrize(
    "shape",
    [
        lambda: openai_body(),
        lambda: json.dumps(openai_body()),
        lambda: httpx.Response(200, json=openai_body()),
    ],
    ids=["dict", "json", "httpx"],
)
def test_any_response_shape_is_read(captured: Captured, shape: Any) -> None:
    @decorated(captured, model="gpt-4o-mini")
    def legacy() -> object:
        return shape()

    legacy()
    assert chat_span(captured)["gen_ai.usage.output_tokens"] == 2


def test_a_plain_text_answer_is_recorded_with_estimated_tokens(captured: Captured) -> None:
    @decorated(captured, model="gpt-4o-mini")
    def legacy(messages: list[dict[str, str]]) -> str:
        return "a plain answer"

    assert legacy(messages=USER) == "a plain answer"
    span = chat_span(captured)
    assert span["otel_llm.usage.estimated"] is True and span["gen_ai.usage.output_tokens"] > 0


def test_exceptions_pass_through_unchanged_and_are_recorded(captured: Captured) -> None:
    class LegacyError(Exception):
        pass

    @decorated(captured, model="gpt-4o-mini")
    def legacy() -> None:
        raise LegacyError("boom")

    with pytest.raises(LegacyError, match="boom") as info:
        legacy()
    assert info.traceback[-1].name == "legacy"  # the original frame is still on top
    [span] = captured.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert str((span.attributes or {})["error.type"]).endswith("LegacyError")


@pytest.mark.anyio
async def test_coroutines_and_async_generators_are_observed(captured: Captured) -> None:
    @decorated(captured, model="gpt-4o-mini")
    async def answer() -> dict[str, object]:
        return openai_body()

    @decorated(captured, model="gpt-4o-mini")
    async def stream() -> AsyncIterator[str]:
        for piece in ("hel", "lo"):
            yield piece

    assert await answer() == openai_body()
    assert [piece async for piece in stream()] == ["hel", "lo"]
    spans = [s for s in captured.spans() if s.name.startswith("chat ")]
    assert len(spans) == 2
    assert all(s.end_time is not None for s in spans)


def test_a_generator_left_early_still_ends_its_span(captured: Captured) -> None:
    @decorated(captured, model="gpt-4o-mini")
    def stream(messages: list[dict[str, str]]) -> Iterator[dict[str, object]]:
        yield {"id": "c", "choices": [{"index": 0, "delta": {"content": "first"}}]}
        yield {"id": "c", "choices": [{"index": 0, "delta": {"content": " second"}}]}

    for _ in stream(messages=USER):
        break  # the generator is closed when it is collected, here at once
    span = chat_span(captured)
    assert "gen_ai.response.time_to_first_chunk" in span


def test_nested_layers_record_one_call(captured: Captured) -> None:
    @decorated(captured, model="gpt-4o-mini")
    def inner() -> dict[str, object]:
        return openai_body()

    @decorated(captured, model="gpt-4o-mini")
    def outer() -> dict[str, object]:
        return inner()

    outer()
    assert len(captured.spans()) == 1


# --- resilience: retry=, breaker=, timeout=, budget= ---------------------------------------------------


def http_error(status: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "https://api.openai.com/v1/chat/completions")
    response = httpx.Response(status, headers=headers, request=request)
    return httpx.HTTPStatusError(f"HTTP {status}", request=request, response=response)


class SDKError(Exception):
    """Like an SDK's status error: a `status_code` attribute, no httpx response."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"status {status_code}")
        self.status_code = status_code


class APIConnectionError(Exception):
    """Named like the official SDKs' (openai, anthropic, ...) transport errors, which carry no status."""


class APITimeoutError(APIConnectionError):
    pass


def retrying(clock: FakeClock, attempts: int = 3) -> dict[str, Any]:
    policy = otel_llm.RetryPolicy(stop=otel_llm.StopAfterAttempts(attempts), backoff=Exponential(1.0))
    return {"retry": policy, "clock": clock, "sleep": clock.sleep}


def requests_error(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.HTTPError(f"HTTP {status}", response=response)


@pytest.mark.parametrize(
    "errors",
    [
        [http_error(429), http_error(503)],
        [SDKError(429), SDKError(500)],
        [requests_error(429), requests.ConnectionError("reset")],
        [TimeoutError("slow"), ConnectionError("refused")],
        [httpx.ReadTimeout("slow"), otel_llm.RateLimitError("429", provider="openai", model="m")],
        [APITimeoutError("slow"), APIConnectionError("reset")],
    ],
    ids=["httpx", "sdk-status", "requests", "builtin", "mixed", "sdk-transport"],
)
def test_transient_errors_are_retried_after_a_backoff(
    captured: Captured, clock: FakeClock, errors: list[Exception]
) -> None:
    pending = list(errors)

    @decorated(captured, model="gpt-4o-mini", **retrying(clock))
    def legacy() -> dict[str, object]:
        if pending:
            raise pending.pop(0)
        return openai_body()

    assert legacy() == openai_body()
    assert clock.sleeps == [1.0, 2.0]
    call = captured.span("chat gpt-4o-mini")
    assert call.status.status_code is not StatusCode.ERROR
    assert [e.name for e in call.events].count("otel_llm.retry") == 2
    attempts = [s for s in captured.spans() if s.name == "otel_llm.attempt"]
    assert len(attempts) == 3 and all(s.parent is not None for s in attempts)


def test_a_retry_after_hint_replaces_the_backoff(captured: Captured, clock: FakeClock) -> None:
    pending = [http_error(429, {"retry-after-ms": "250"})]

    @decorated(captured, model="gpt-4o-mini", **retrying(clock))
    def legacy() -> dict[str, object]:
        if pending:
            raise pending.pop(0)
        return openai_body()

    legacy()
    assert clock.sleeps == [0.25]


@pytest.mark.parametrize(
    "error", [http_error(400), SDKError(401), ValueError("a bug")], ids=["400", "401", "unknown"]
)
def test_request_errors_and_unknown_exceptions_fail_fast(
    captured: Captured, clock: FakeClock, error: Exception
) -> None:
    calls = 0

    @decorated(captured, model="gpt-4o-mini", **retrying(clock))
    def legacy() -> None:
        nonlocal calls
        calls += 1
        raise error

    with pytest.raises(type(error)) as info:
        legacy()
    assert info.value is error and calls == 1 and clock.sleeps == []
    assert captured.span("chat gpt-4o-mini").status.status_code is StatusCode.ERROR


def test_the_last_original_exception_is_raised_after_the_retries(
    captured: Captured, clock: FakeClock
) -> None:
    raised: list[ConnectionError] = []

    @decorated(captured, model="gpt-4o-mini", **retrying(clock))
    def legacy() -> None:
        raised.append(ConnectionError(f"refused {len(raised)}"))
        raise raised[-1]

    with pytest.raises(ConnectionError) as info:
        legacy()
    assert type(info.value) is ConnectionError and info.value is raised[-1] and len(raised) == 3
    assert info.value.__context__ is None and info.value.__cause__ is None  # nothing chained on
    assert info.traceback[-1].name == "legacy"  # the original frame is still on top
    call = captured.span("chat gpt-4o-mini")
    assert (call.attributes or {})["error.type"] == "builtins.ConnectionError"


def test_the_deadline_stops_retries(captured: Captured, clock: FakeClock) -> None:
    calls = 0

    @decorated(captured, model="gpt-4o-mini", timeout=2.5, **retrying(clock, attempts=10))
    def legacy() -> None:
        nonlocal calls
        calls += 1
        raise http_error(503)

    with pytest.raises(httpx.HTTPStatusError):
        legacy()
    # Slept 1 s after the first attempt; the next backoff (2 s) would end past the deadline.
    assert calls == 2 and clock.sleeps == [1.0]


def test_no_attempt_starts_after_the_deadline(captured: Captured, clock: FakeClock) -> None:
    calls = 0

    @decorated(captured, model="gpt-4o-mini", timeout=5.0, **retrying(clock, attempts=10))
    def legacy() -> None:
        nonlocal calls
        calls += 1
        clock.now += 6.0  # a slow attempt eats the whole deadline
        raise http_error(503)

    with pytest.raises(httpx.HTTPStatusError):
        legacy()
    assert calls == 1 and clock.sleeps == []


def test_an_open_breaker_refuses_calls_without_running_the_function(
    captured: Captured, clock: FakeClock
) -> None:
    calls = 0

    @decorated(captured, model="gpt-4o-mini", breaker="openai:gpt-4o-mini", clock=clock)
    def legacy() -> None:
        nonlocal calls
        calls += 1
        raise http_error(503)

    @decorated(captured, model="gpt-4o-mini", breaker="openai:gpt-4o-mini", clock=clock)
    def sibling() -> dict[str, object]:
        return openai_body()

    for _ in range(otel_llm.BreakerPolicy().failure_threshold):
        with pytest.raises(httpx.HTTPStatusError):
            legacy()
    with pytest.raises(otel_llm.CircuitOpenError) as info:
        legacy()
    assert calls == otel_llm.BreakerPolicy().failure_threshold
    assert info.value.provider == "openai:gpt-4o-mini" and info.value.retry_at > clock.now
    with pytest.raises(otel_llm.CircuitOpenError):
        sibling()  # the same key shares the breaker
    refused = captured.spans()[-1]
    assert (refused.attributes or {})["error.type"] == "circuit_open"
    # The breakers report as the routing client's do: the transition counted, the state on the gauge.
    metrics = captured.metrics()
    [(labels, count)] = metrics[inst.CIRCUIT_TRANSITIONS.name]
    assert (labels[inst.CIRCUIT_STATE_ATTR], count) == ("open", 1.0)
    states = {
        (x[inst.PROVIDER_NAME], x.get(inst.REQUEST_MODEL)): v for x, v in metrics[inst.CIRCUIT_STATE.name]
    }
    assert states[("openai", "gpt-4o-mini")] == 2  # open

    clock.now = info.value.retry_at + 1  # recovered: a probe is admitted and closes the breaker
    assert sibling() == openai_body()
    assert sibling() == openai_body()


def test_request_errors_do_not_open_the_breaker(captured: Captured, clock: FakeClock) -> None:
    @decorated(captured, model="gpt-4o-mini", breaker="openai", clock=clock)
    def legacy() -> None:
        raise http_error(400)

    for _ in range(otel_llm.BreakerPolicy().failure_threshold + 2):
        with pytest.raises(httpx.HTTPStatusError):
            legacy()


def test_a_budget_refuses_before_the_function_runs(captured: Captured) -> None:
    ledger = BudgetLedger([Budget("tiny", limit_usd=Decimal("0.000001"), period="day")])
    calls = 0

    @decorated(captured, model="gpt-4o-mini", budget=ledger)
    def legacy(messages: list[dict[str, str]]) -> dict[str, object]:
        nonlocal calls
        calls += 1
        return openai_body()

    with pytest.raises(otel_llm.BudgetExceededError):
        legacy(messages=USER)
    assert calls == 0 and ledger.open_reservations == 0
    call = captured.span("chat gpt-4o-mini")
    assert (call.attributes or {})["error.type"] == "budget_exceeded"


def test_a_budget_is_settled_with_the_recorded_cost(captured: Captured) -> None:
    ledger = BudgetLedger([Budget("daily", limit_usd=Decimal("10"), period="day")])

    @decorated(captured, model="gpt-4o-mini", budget=ledger)
    def legacy(messages: list[dict[str, str]]) -> dict[str, object]:
        return openai_body()

    legacy(messages=USER)
    [status] = ledger.status()
    cost = captured.span("chat gpt-4o-mini").attributes or {}
    assert ledger.open_reservations == 0
    assert status.spent_usd > 0 and float(status.spent_usd) == pytest.approx(cost["otel_llm.cost.usd"])


def test_an_embeddings_budget_is_settled_with_the_recorded_cost(captured: Captured) -> None:
    ledger = BudgetLedger([Budget("daily", limit_usd=Decimal("10"), period="day")])
    body: dict[str, object] = {
        "object": "list",
        "model": "text-embedding-3-small",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
        "usage": {"prompt_tokens": 1000, "total_tokens": 1000},
    }

    @decorated(captured, model="text-embedding-3-small", operation="embeddings", budget=ledger)
    def embed(input: list[str]) -> dict[str, object]:
        return body

    embed(input=["a text"])
    [status] = ledger.status()
    cost = (captured.span("embeddings text-embedding-3-small").attributes or {})["otel_llm.cost.usd"]
    assert ledger.open_reservations == 0  # settled with what the call cost, not its reserved worst case
    assert status.spent_usd > 0 and float(status.spent_usd) == pytest.approx(cost)


def test_a_failed_call_releases_its_reservation(captured: Captured) -> None:
    ledger = BudgetLedger([Budget("daily", limit_usd=Decimal("10"), period="day")])

    @decorated(captured, model="gpt-4o-mini", budget=ledger)
    def legacy(messages: list[dict[str, str]]) -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        legacy(messages=USER)
    [status] = ledger.status()
    assert ledger.open_reservations == 0 and status.spent_usd == 0


@pytest.mark.anyio
async def test_coroutines_are_retried_with_an_async_sleep(captured: Captured, clock: FakeClock) -> None:
    pending: list[Exception] = [http_error(429)]
    raised: list[ConnectionError] = []
    policy = otel_llm.RetryPolicy(stop=otel_llm.StopAfterAttempts(2), backoff=Exponential(1.0))

    @decorated(captured, model="gpt-4o-mini", retry=policy, clock=clock, sleep=clock.async_sleep)
    async def answer() -> dict[str, object]:
        if pending:
            raise pending.pop(0)
        return openai_body()

    @decorated(captured, model="gpt-4o-mini", retry=policy, clock=clock, sleep=clock.async_sleep)
    async def failing() -> None:
        raised.append(ConnectionError("refused"))
        raise raised[-1]

    assert await answer() == openai_body()
    with pytest.raises(ConnectionError) as info:
        await failing()
    assert info.value is raised[-1] and len(raised) == 2
    assert info.traceback[-1].name == "failing"
    assert clock.sleeps == [1.0, 1.0]


def test_nested_under_an_observed_call_the_protection_still_applies(
    captured: Captured, clock: FakeClock
) -> None:
    pending = [http_error(503)]

    @decorated(captured, model="gpt-4o-mini", **retrying(clock))
    def inner() -> dict[str, object]:
        if pending:
            raise pending.pop(0)
        return openai_body()

    @decorated(captured, model="gpt-4o-mini")
    def outer() -> dict[str, object]:
        return inner()

    assert outer() == openai_body()
    assert clock.sleeps == [1.0] and len(captured.spans()) == 1


CHUNKS: list[dict[str, Any]] = [
    {"id": "c", "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {"content": "hel"}}]},
    {"id": "c", "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
    {"id": "c", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}},
]


def test_a_stream_is_retried_until_its_first_item(captured: Captured, clock: FakeClock) -> None:
    pending: list[Exception] = [http_error(503), ConnectionError("reset")]

    @decorated(captured, model="gpt-4o-mini", **retrying(clock))
    def stream(messages: list[dict[str, str]]) -> Iterator[dict[str, Any]]:
        if pending:
            raise pending.pop(0)  # before any item: the call has not started for the caller
        yield from CHUNKS

    assert list(stream(messages=USER)) == CHUNKS
    assert clock.sleeps == [1.0, 2.0]
    span = chat_span(captured)
    assert (span["gen_ai.usage.input_tokens"], span["gen_ai.usage.output_tokens"]) == (5, 2)
    assert len([s for s in captured.spans() if s.name == "otel_llm.attempt"]) == 3


def test_a_stream_failing_mid_way_is_not_retried_and_counts_against_the_breaker(
    captured: Captured, clock: FakeClock
) -> None:
    runs = 0

    @decorated(captured, model="gpt-4o-mini", breaker="openai:stream-test", **retrying(clock))
    def stream() -> Iterator[dict[str, Any]]:
        nonlocal runs
        runs += 1
        yield CHUNKS[0]
        raise httpx.RemoteProtocolError("peer closed the connection")  # items already reached the caller

    for failure in range(otel_llm.BreakerPolicy().failure_threshold):
        received = []
        with pytest.raises(httpx.RemoteProtocolError):
            for item in stream():
                received.append(item)
        assert received == [CHUNKS[0]] and runs == failure + 1  # no retry once an item was delivered
    with pytest.raises(otel_llm.CircuitOpenError):
        next(stream())
    assert clock.sleeps == [] and runs == otel_llm.BreakerPolicy().failure_threshold
    assert all(span["error.type"] for span in chat_spans(captured))


def test_a_stream_left_early_settles_its_budget_and_frees_the_breaker(
    captured: Captured, clock: FakeClock
) -> None:
    ledger = BudgetLedger([Budget("daily", limit_usd=Decimal("10"), period="day")])
    policy = otel_llm.BreakerPolicy()

    @decorated(captured, model="gpt-4o-mini", breaker="openai:left-early", budget=ledger, clock=clock)
    def stream(messages: list[dict[str, str]]) -> Iterator[dict[str, Any]]:
        yield from CHUNKS

    for _ in range(policy.failure_threshold + 1):
        for _ in stream(messages=USER):
            break  # closed by the caller: neither a failure nor an open reservation
    assert ledger.open_reservations == 0
    assert len(chat_spans(captured)) == policy.failure_threshold + 1
    assert all("error.type" not in span for span in chat_spans(captured))


@pytest.mark.anyio
async def test_an_async_stream_is_retried_and_billed_with_its_recorded_cost(
    captured: Captured, clock: FakeClock
) -> None:
    ledger = BudgetLedger([Budget("daily", limit_usd=Decimal("10"), period="day")])
    pending: list[Exception] = [http_error(429)]

    @decorated(
        captured, model="gpt-4o-mini", budget=ledger, **{**retrying(clock), "sleep": clock.async_sleep}
    )
    async def stream(messages: list[dict[str, str]]) -> AsyncIterator[dict[str, Any]]:
        if pending:
            raise pending.pop(0)
        for chunk in CHUNKS:
            yield chunk

    assert [chunk async for chunk in stream(messages=USER)] == CHUNKS
    assert clock.sleeps == [1.0]
    [status] = ledger.status()
    span = chat_span(captured)
    assert ledger.open_reservations == 0
    assert status.spent_usd > 0 and float(status.spent_usd) == pytest.approx(span["otel_llm.cost.usd"])


def test_a_stream_failing_after_delivering_keeps_its_worst_case_as_spent(captured: Captured) -> None:
    ledger = BudgetLedger([Budget("daily", limit_usd=Decimal("10"), period="day")])

    @decorated(captured, model="gpt-4o-mini", budget=ledger)
    def stream(messages: list[dict[str, str]]) -> Iterator[dict[str, Any]]:
        yield CHUNKS[0]
        raise httpx.RemoteProtocolError("peer closed the connection")

    with pytest.raises(httpx.RemoteProtocolError):
        list(stream(messages=USER))
    [status] = ledger.status()
    reserved = chat_span(captured)["otel_llm.budget.reserved_usd"]
    # As the routing client bills a cut stream: output was delivered and billed, its cost is unknown.
    assert ledger.open_reservations == 0
    assert status.spent_usd > 0 and float(status.spent_usd) == pytest.approx(reserved)


def test_a_stream_refused_by_its_budget_never_runs(captured: Captured) -> None:
    ledger = BudgetLedger([Budget("tiny", limit_usd=Decimal("0.000001"), period="day")])
    runs = 0

    @decorated(captured, model="gpt-4o-mini", budget=ledger)
    def stream(messages: list[dict[str, str]]) -> Iterator[dict[str, Any]]:
        nonlocal runs
        runs += 1
        yield from CHUNKS

    with pytest.raises(otel_llm.BudgetExceededError):
        next(stream(messages=USER))
    assert runs == 0 and ledger.open_reservations == 0
    assert chat_span(captured)["error.type"] == "budget_exceeded"


def test_an_invalid_timeout_is_rejected() -> None:
    with pytest.raises(otel_llm.ConfigurationError):
        otel_llm.llm_call(provider="openai", timeout=0)
