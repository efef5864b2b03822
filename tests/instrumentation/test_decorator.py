"""`@otel_llm.llm_call`: legacy functions get the routing client's spans and metrics, and run unchanged."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from opentelemetry.trace import StatusCode

import otel_llm
from otel_llm.telemetry import _instruments as inst
from tests.conftest import Captured, new_captured
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


def chat_span(captured: Captured) -> dict[str, Any]:
    [span] = [s for s in captured.spans() if s.name.startswith("chat ")]
    return dict(span.attributes or {})


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
