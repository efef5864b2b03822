"""`AnthropicInstrumentor`: the real `anthropic` SDK against the fake provider server, observed."""

from __future__ import annotations

import gc
import inspect
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from anthropic.resources.messages import AsyncMessages, Messages
from anthropic.types import MessageParam
from otel_llm_instrumentation.anthropic import AnthropicInstrumentor, _observed_call

import otel_llm
from otel_llm._types import ChatRequest, ImagePart, Message, TextPart, Tool, ToolCall
from otel_llm.telemetry import _instruments as inst
from otel_llm.telemetry._handler import Telemetry
from otel_llm.testing import Behavior, FakeProviderServer
from tests.conftest import Captured, new_captured
from tests.instrumentation.genai_spans import EXCHANGE_ATTRIBUTES, chat_span, chat_spans

USER: list[MessageParam] = [{"role": "user", "content": "hi"}]
SYSTEM = "Answer briefly."
MODEL = "claude-haiku-4-5"
MAX_TOKENS = 256
COMPARED = (
    *EXCHANGE_ATTRIBUTES,
    "gen_ai.request.max_tokens",
    "gen_ai.request.temperature",
    "server.address",
    "server.port",
)


@pytest.fixture
def instrumented(captured: Captured) -> Iterator[Captured]:
    instrumentor = AnthropicInstrumentor()
    # The fake server is on loopback: tell the instrumentor which provider it plays.
    instrumentor.instrument(
        tracer_provider=captured.tracer_provider,
        meter_provider=captured.meter_provider,
        provider_names={"127.0.0.1": "anthropic"},
    )
    yield captured
    instrumentor.uninstrument()


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        fake.set_behavior("anthropic", Behavior(text="Hello there"))
        yield fake


def sdk(server: FakeProviderServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.base_url("anthropic"), api_key="sk-ant-test", max_retries=0)


def async_sdk(server: FakeProviderServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=server.base_url("anthropic"), api_key="sk-ant-test", max_retries=0
    )


def routing_client(server: FakeProviderServer, routed: Captured) -> otel_llm.Client:
    return otel_llm.Client(
        providers={"anthropic": {"base_url": server.base_url("anthropic"), "api_key": "k"}},
        tracer_provider=routed.tracer_provider,
        meter_provider=routed.meter_provider,
    )


ROUTED_MESSAGES: list[dict[str, str]] = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "hi"},
]


def assert_same_telemetry(instrumented: Captured, routed: Captured) -> None:
    span, routed_span = chat_span(instrumented), chat_span(routed)
    assert {k: span.get(k) for k in COMPARED} == {k: routed_span.get(k) for k in COMPARED}
    metrics, routed_metrics = instrumented.metrics(), routed.metrics()
    for spec in (inst.TOKEN_USAGE, inst.COST):
        assert metrics[spec.name] == routed_metrics[spec.name], spec.name


def test_a_call_records_what_the_routing_client_records(
    server: FakeProviderServer, instrumented: Captured
) -> None:
    with sdk(server) as client:
        reply = client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, system=SYSTEM, messages=USER)
    assert reply.content[0].type == "text" and reply.content[0].text == "Hello there"
    routed = new_captured()
    with routing_client(server, routed) as client:
        client.chat(f"anthropic:{MODEL}", ROUTED_MESSAGES, max_tokens=MAX_TOKENS)
    assert_same_telemetry(instrumented, routed)
    assert chat_span(instrumented)[inst.PROVIDER_NAME] == "anthropic"


def test_a_stream_reaches_the_caller_unchanged_and_records_what_the_routing_client_records(
    server: FakeProviderServer, instrumented: Captured
) -> None:
    with sdk(server) as client:
        events = list(
            client.messages.create(
                model=MODEL, max_tokens=MAX_TOKENS, system=SYSTEM, messages=USER, stream=True
            )
        )
    unobserved = vars(Messages)["create"].__wrapped__  # the original method, under the instrumentor
    with sdk(server) as client:
        plain = list(
            unobserved(
                client.messages, model=MODEL, max_tokens=MAX_TOKENS, system=SYSTEM, messages=USER, stream=True
            )
        )
    assert [type(e) for e in events] == [type(e) for e in plain]
    assert [e.type for e in events] == [e.type for e in plain]
    text = "".join(
        e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )
    assert text == "Hello there"
    span = chat_span(instrumented)
    assert span["gen_ai.usage.output_tokens"] > 0 and "otel_llm.usage.estimated" not in span
    assert "gen_ai.response.time_to_first_chunk" in span
    routed = new_captured()
    with routing_client(server, routed) as client:
        assert (
            "".join(
                c.delta for c in client.stream(f"anthropic:{MODEL}", ROUTED_MESSAGES, max_tokens=MAX_TOKENS)
            )
            == text
        )
    assert_same_telemetry(instrumented, routed)


def test_the_stream_helper_is_observed_however_it_is_consumed(
    server: FakeProviderServer, instrumented: Captured
) -> None:
    with sdk(server) as client:
        with client.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, messages=USER) as stream:
            assert type(stream).__name__ == "MessageStream"  # the SDK's own object reaches the caller
            assert "".join(stream.text_stream) == "Hello there"
            assert stream.get_final_message().usage.output_tokens > 0
        with client.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, messages=USER) as stream:
            assert stream.get_final_text() == "Hello there"
    spans = chat_spans(instrumented)
    assert len(spans) == 2
    for span in spans:
        assert span["gen_ai.usage.output_tokens"] > 0 and "otel_llm.usage.estimated" not in span
        assert "gen_ai.response.time_to_first_chunk" in span
        assert span["gen_ai.response.finish_reasons"] == ("stop",)


def test_a_stream_left_early_ends_its_span(server: FakeProviderServer, instrumented: Captured) -> None:
    with (
        sdk(server) as client,
        client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=USER, stream=True) as stream,
    ):
        next(iter(stream))
    chat_span(instrumented)


def test_a_stream_helper_left_early_ends_its_span(server: FakeProviderServer, instrumented: Captured) -> None:
    with (
        sdk(server) as client,
        client.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, messages=USER) as stream,
    ):
        next(iter(stream))
    chat_span(instrumented)


def test_a_dropped_stream_ends_its_span(server: FakeProviderServer, instrumented: Captured) -> None:
    with sdk(server) as client:
        stream = client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=USER, stream=True)
        next(iter(stream))
        del stream
        gc.collect()
        chat_span(instrumented)


def test_an_unentered_stream_helper_records_nothing(
    server: FakeProviderServer, instrumented: Captured
) -> None:
    with sdk(server) as client:
        client.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, messages=USER)
    assert instrumented.spans() == []


def test_errors_pass_through_and_are_recorded(server: FakeProviderServer, instrumented: Captured) -> None:
    server.enqueue("anthropic", Behavior(status=429))
    server.enqueue("anthropic", Behavior(status=429))
    with sdk(server) as client:
        with pytest.raises(anthropic.RateLimitError):
            client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=USER)
        with (
            pytest.raises(anthropic.RateLimitError),
            client.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, messages=USER),
        ):
            pass
    spans = instrumented.spans()
    assert [(s.attributes or {})["error.type"] for s in spans] == ["anthropic.RateLimitError"] * 2


def test_a_call_that_cannot_be_observed_still_goes_through(
    server: FakeProviderServer, instrumented: Captured
) -> None:
    bad_tool: Any = {"name": "", "input_schema": {"type": "object"}}  # no name: not a tool we can read
    with sdk(server) as client:
        reply = client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=USER, tools=[bad_tool])
    assert reply.content
    assert instrumented.spans() == []


def test_a_generator_of_messages_is_read_once(server: FakeProviderServer, instrumented: Captured) -> None:
    with sdk(server) as client:
        reply = client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=(m for m in USER))
    assert reply.content
    assert chat_span(instrumented)["gen_ai.usage.input_tokens"] > 0


@pytest.mark.anyio
async def test_the_async_client_is_observed(server: FakeProviderServer, instrumented: Captured) -> None:
    async with async_sdk(server) as client:
        await client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=USER)
        stream = await client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=USER, stream=True)
        assert [event async for event in stream]
        async with client.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, messages=USER) as helper:
            assert await helper.get_final_text() == "Hello there"
        async with client.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, messages=USER) as helper:
            await helper.__anext__()  # left early
    spans = chat_spans(instrumented)
    assert len(spans) == 4
    assert all(span["gen_ai.usage.output_tokens"] > 0 for span in spans[:3])


@pytest.mark.anyio
async def test_async_errors_pass_through_and_are_recorded(
    server: FakeProviderServer, instrumented: Captured
) -> None:
    server.enqueue("anthropic", Behavior(status=429))
    async with async_sdk(server) as client:
        with pytest.raises(anthropic.RateLimitError):
            await client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=USER)
    [span] = instrumented.spans()
    assert (span.attributes or {})["error.type"] == "anthropic.RateLimitError"


def test_uninstrument_restores_the_originals_exactly() -> None:
    # Compared by identity in the class dicts: a wrapt proxy compares equal to what it wraps.
    targets = (
        (Messages, "create"),
        (AsyncMessages, "create"),
        (Messages, "stream"),
        (AsyncMessages, "stream"),
    )
    originals = [vars(cls)[name] for cls, name in targets]
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(skip_dep_check=True)
    assert all(
        vars(cls)[name] is not original for (cls, name), original in zip(targets, originals, strict=True)
    )
    instrumentor.uninstrument()
    assert all(vars(cls)[name] is original for (cls, name), original in zip(targets, originals, strict=True))


def test_anthropic_request_shapes_become_the_routing_clients(captured: Captured) -> None:
    weather = {"type": "object", "properties": {"city": {"type": "string"}}}
    call = _observed_call(
        Telemetry(tracer_provider=captured.tracer_provider, meter_provider=captured.meter_provider),
        {},
        None,
        {
            "model": MODEL,
            "max_tokens": 100,
            "temperature": 0.2,
            "top_p": 0.9,
            "stop_sequences": ["END"],
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Weather?"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                        },
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "tu_1", "name": "weather", "input": {"city": "Paris"}}
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "tu_1",
                            "content": [{"type": "text", "text": "sunny"}],
                        },
                        {"type": "text", "text": "Thanks"},
                    ],
                },
            ],
            "tools": [{"name": "weather", "description": "Forecast", "input_schema": weather}],
            "tool_choice": {"type": "any"},
        },
        stream=False,
    )
    request = call.request
    assert isinstance(request, ChatRequest)
    assert call.endpoint.semconv_name == "anthropic" and call.endpoint.server_address == "api.anthropic.com"
    assert request.messages == (
        Message("system", (TextPart("Be brief."),)),
        Message("user", (TextPart("Weather?"), ImagePart(data="iVBO", media_type="image/png"))),
        Message("assistant", (), tool_calls=(ToolCall.from_object("tu_1", "weather", {"city": "Paris"}),)),
        Message("tool", "sunny", tool_call_id="tu_1"),
        Message("user", (TextPart("Thanks"),)),
    )
    assert request.tools == (Tool("weather", "Forecast", weather),)
    assert (request.max_tokens, request.temperature, request.top_p, request.stop) == (100, 0.2, 0.9, ("END",))
    assert request.tool_choice == "required" and not request.stream


@pytest.mark.skipif(
    "output_config" not in inspect.signature(Messages.create).parameters,
    reason=f"anthropic {anthropic.__version__} has no native structured output",
)
def test_native_structured_output_is_recorded_as_json(
    server: FakeProviderServer, instrumented: Captured
) -> None:
    schema: dict[str, object] = {"type": "object", "properties": {"answer": {"type": "string"}}}
    with sdk(server) as client:
        client.messages.create(
            model=MODEL,
            max_tokens=64,
            messages=USER,
            output_config={"format": {"type": "json_schema", "schema": schema}},
        )
    span = chat_span(instrumented)
    assert span["gen_ai.output.type"] == "json" and span["gen_ai.usage.output_tokens"] > 0
