"""`OpenAIInstrumentor`: the real `openai` SDK against the fake provider server, observed."""

from __future__ import annotations

import gc
import importlib.util
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pydantic
import pytest
from openai.resources.chat.completions import AsyncCompletions, Completions
from openai.resources.embeddings import AsyncEmbeddings, Embeddings
from openai.types.chat import ChatCompletionMessageParam
from otel_llm_instrumentation.openai import OpenAIInstrumentor

import otel_llm
from otel_llm.telemetry import _instruments as inst
from otel_llm.testing import Behavior, FakeProviderServer
from tests.conftest import Captured, new_captured
from tests.instrumentation.genai_spans import EXCHANGE_ATTRIBUTES, chat_span, chat_spans

# APIs newer than our oldest supported SDK: their tests run only where the SDK has them.
HAS_RESPONSES = importlib.util.find_spec("openai.resources.responses") is not None
needs_responses = pytest.mark.skipif(
    not HAS_RESPONSES, reason=f"openai {openai.__version__} has no Responses API"
)
needs_helpers = pytest.mark.skipif(
    not {"parse", "stream"} <= vars(Completions).keys(),
    reason=f"openai {openai.__version__} has no chat.completions.parse/stream",
)

USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
MODEL = "gpt-4o-mini"
COMPARED = EXCHANGE_ATTRIBUTES


@pytest.fixture
def instrumented(captured: Captured) -> Iterator[Captured]:
    instrumentor = OpenAIInstrumentor()
    # The fake server is on loopback: tell the instrumentor which provider it plays.
    instrumentor.instrument(
        tracer_provider=captured.tracer_provider,
        meter_provider=captured.meter_provider,
        provider_names={"127.0.0.1": "openai"},
    )
    yield captured
    instrumentor.uninstrument()


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        fake.set_behavior("openai", Behavior(text="Hello there"))
        yield fake


def sdk(server: FakeProviderServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url("openai"), api_key="sk-test", max_retries=0)


def test_a_chat_call_records_what_the_routing_client_records(
    server: FakeProviderServer, instrumented: Captured
) -> None:
    with sdk(server) as client:
        reply = client.chat.completions.create(model=MODEL, messages=USER)
    assert reply.choices[0].message.content == "Hello there"
    routed = new_captured()
    with otel_llm.Client(
        providers={"openai": {"base_url": server.base_url("openai"), "api_key": "sk-test"}},
        tracer_provider=routed.tracer_provider,
        meter_provider=routed.meter_provider,
    ) as client:
        client.chat(f"openai:{MODEL}", USER)
    span, routed_span = chat_span(instrumented), chat_span(routed)
    assert {k: span.get(k) for k in COMPARED} == {k: routed_span.get(k) for k in COMPARED}
    assert span["openai.api.type"] == "chat_completions"
    metrics, routed_metrics = instrumented.metrics(), routed.metrics()
    for spec in (inst.TOKEN_USAGE, inst.COST):
        assert metrics[spec.name] == routed_metrics[spec.name], spec.name


def test_a_stream_reaches_the_caller_unchanged_and_records_usage(
    server: FakeProviderServer, instrumented: Captured
) -> None:
    with sdk(server) as client:
        chunks = list(client.chat.completions.create(model=MODEL, messages=USER, stream=True))
    assert all(chunk.choices for chunk in chunks)  # the usage chunk the instrumentor asked for stays hidden
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello there"
    span = chat_span(instrumented)
    assert span["gen_ai.usage.output_tokens"] > 0 and "otel_llm.usage.estimated" not in span
    assert "gen_ai.response.time_to_first_chunk" in span


def test_without_usage_reporting_a_streams_tokens_are_estimated_and_marked(
    server: FakeProviderServer, captured: Captured
) -> None:
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(
        tracer_provider=captured.tracer_provider,
        meter_provider=captured.meter_provider,
        provider_names={"127.0.0.1": "openai"},
        add_stream_usage=False,  # opted out: the request goes as the caller wrote it
    )
    try:
        with sdk(server) as client:
            chunks = list(client.chat.completions.create(model=MODEL, messages=USER, stream=True))
    finally:
        instrumentor.uninstrument()
    assert all(chunk.usage is None for chunk in chunks)
    span = chat_span(captured)
    assert span["otel_llm.usage.estimated"] is True and span["gen_ai.usage.output_tokens"] > 0
    # Estimates stay on the span: the token histogram takes reported counts only.
    assert inst.TOKEN_USAGE.name not in captured.metrics()


def test_a_stream_left_early_ends_its_span(server: FakeProviderServer, instrumented: Captured) -> None:
    with (
        sdk(server) as client,
        client.chat.completions.create(model=MODEL, messages=USER, stream=True) as stream,
    ):
        next(iter(stream))
    chat_span(instrumented)


def test_errors_pass_through_and_are_recorded(server: FakeProviderServer, instrumented: Captured) -> None:
    server.enqueue("openai", Behavior(status=429))
    with sdk(server) as client, pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=MODEL, messages=USER)
    [span] = instrumented.spans()
    assert (span.attributes or {})["error.type"] == "openai.RateLimitError"


def test_embeddings_are_recorded(server: FakeProviderServer, instrumented: Captured) -> None:
    with sdk(server) as client:
        client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    [span] = instrumented.spans()
    assert span.name == "embeddings text-embedding-3-small"
    assert "openai.api.type" not in (span.attributes or {})  # the conventions name chat APIs only


@pytest.mark.anyio
async def test_the_async_client_is_observed(server: FakeProviderServer, instrumented: Captured) -> None:
    async with openai.AsyncOpenAI(
        base_url=server.base_url("openai"), api_key="sk-test", max_retries=0
    ) as client:
        await client.chat.completions.create(model=MODEL, messages=USER)
        stream = await client.chat.completions.create(model=MODEL, messages=USER, stream=True)
        assert [chunk async for chunk in stream]
    assert len([s for s in instrumented.spans() if s.name.startswith("chat ")]) == 2


def test_uninstrument_restores_the_originals_exactly() -> None:
    owners: list[type] = [Embeddings, AsyncEmbeddings]
    if HAS_RESPONSES:
        from openai.resources.responses import AsyncResponses, Responses

        owners += [Responses, AsyncResponses]
    methods = [
        (owner, name)
        for owner in (Completions, AsyncCompletions)
        for name in ("create", "parse", "stream")
        if name in vars(owner)
    ] + [(owner, name) for owner in owners for name in ("create", "parse", "stream") if name in vars(owner)]
    originals = [vars(owner)[name] for owner, name in methods]
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(skip_dep_check=True)
    wrapped = [vars(owner)[name] for owner, name in methods]
    assert all(now is not was for now, was in zip(wrapped, originals, strict=True))
    instrumentor.uninstrument()
    assert all(vars(owner)[name] is was for (owner, name), was in zip(methods, originals, strict=True))


def test_compatible_endpoints_report_their_own_provider(instrumented: Captured) -> None:
    from otel_llm_instrumentation._endpoints import endpoint_for

    assert endpoint_for("https://openrouter.ai/api/v1", "openai").semconv_name == "openrouter"
    assert endpoint_for("https://my-res.openai.azure.com/openai", "azure").semconv_name == "azure.ai.openai"
    assert endpoint_for("http://localhost:11434/v1", "openai").semconv_name == "ollama"
    assert endpoint_for("http://gpu-box:8000/v1", "openai").semconv_name == "gpu-box"
    assert endpoint_for("https://api.openai.com/v1", "openai").semconv_name == "openai"


class Answer(pydantic.BaseModel):
    answer: str


@needs_helpers
def test_parse_is_recorded_once_with_its_schema(server: FakeProviderServer, instrumented: Captured) -> None:
    server.set_behavior("openai", Behavior(text='{"answer": "hi"}'))
    with sdk(server) as client:
        reply = client.chat.completions.parse(model=MODEL, messages=USER, response_format=Answer)
    assert reply.choices[0].message.parsed == Answer(answer="hi")
    [span] = chat_spans(instrumented)
    assert span[inst.REQUEST_MODEL] == MODEL
    assert span["gen_ai.output.type"] == "json"
    assert span["gen_ai.response.finish_reasons"] == ("stop",)
    assert span["gen_ai.usage.output_tokens"] > 0


@needs_helpers
def test_the_stream_helper_is_one_span_however_it_is_consumed(
    server: FakeProviderServer, instrumented: Captured
) -> None:
    with sdk(server) as client:
        with client.chat.completions.stream(model=MODEL, messages=USER) as stream:
            events = list(stream)
        assert next(e for e in events if e.type == "content.done").content == "Hello there"
        assert not [e for e in events if e.type == "chunk" and not e.chunk.choices]  # usage chunk hidden
        with client.chat.completions.stream(model=MODEL, messages=USER) as stream:
            final = stream.get_final_completion()
        assert final.choices[0].message.content == "Hello there"
    spans = chat_spans(instrumented)
    assert len(spans) == 2
    for span in spans:
        assert span["gen_ai.usage.output_tokens"] > 0 and "otel_llm.usage.estimated" not in span
        assert span["gen_ai.response.finish_reasons"] == ("stop",)
        assert "gen_ai.response.time_to_first_chunk" in span


@needs_helpers
def test_a_stream_helper_left_early_ends_its_span(server: FakeProviderServer, instrumented: Captured) -> None:
    with sdk(server) as client:
        with client.chat.completions.stream(model=MODEL, messages=USER) as stream:
            next(iter(stream))
            assert instrumented.spans() == []  # still open inside the block
        assert len(chat_spans(instrumented)) == 1


@needs_helpers
def test_an_unentered_stream_helper_records_nothing(
    server: FakeProviderServer, instrumented: Captured
) -> None:
    with sdk(server) as client:
        client.chat.completions.stream(model=MODEL, messages=USER)
    assert instrumented.spans() == []


@needs_helpers
def test_stream_helper_errors_are_recorded(server: FakeProviderServer, instrumented: Captured) -> None:
    server.enqueue("openai", Behavior(status=429))
    with (
        sdk(server) as client,
        pytest.raises(openai.RateLimitError),
        client.chat.completions.stream(model=MODEL, messages=USER),
    ):
        pass
    [span] = instrumented.spans()
    assert (span.attributes or {})["error.type"] == "openai.RateLimitError"


def test_a_dropped_stream_ends_its_span(server: FakeProviderServer, instrumented: Captured) -> None:
    with sdk(server) as client:
        stream = client.chat.completions.create(model=MODEL, messages=USER, stream=True)
        next(iter(stream))
        del stream
        gc.collect()
        assert len(chat_spans(instrumented)) == 1


@needs_helpers
@pytest.mark.anyio
async def test_the_async_helpers_are_observed_once(
    server: FakeProviderServer, instrumented: Captured
) -> None:
    server.set_behavior("openai", Behavior(text='{"answer": "hi"}'))
    async with openai.AsyncOpenAI(
        base_url=server.base_url("openai"), api_key="sk-test", max_retries=0
    ) as client:
        reply = await client.chat.completions.parse(model=MODEL, messages=USER, response_format=Answer)
        assert reply.choices[0].message.parsed == Answer(answer="hi")
        async with client.chat.completions.stream(model=MODEL, messages=USER) as stream:
            final = await stream.get_final_completion()
        assert final.choices[0].message.content == '{"answer": "hi"}'
        async with client.chat.completions.stream(model=MODEL, messages=USER) as stream:
            await stream.__anext__()  # left early
    spans = chat_spans(instrumented)
    assert len(spans) == 3
    assert spans[1]["gen_ai.usage.output_tokens"] > 0 and "otel_llm.usage.estimated" not in spans[1]


# The fake provider server has no Responses API route: its wire shapes are written here.

RESPONSE: dict[str, Any] = {
    "id": "resp_123",
    "object": "response",
    "created_at": 1_700_000_000,
    "model": "gpt-4o-mini-2024-07-18",
    "status": "completed",
    "incomplete_details": None,
    "error": None,
    "instructions": "Be brief.",
    "output": [
        {
            "type": "message",
            "id": "msg_1",
            "status": "completed",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "Hello ", "annotations": []},
                {"type": "output_text", "text": "there", "annotations": []},
            ],
        }
    ],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "usage": {
        "input_tokens": 12,
        "input_tokens_details": {"cached_tokens": 4},
        "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 2},
        "total_tokens": 19,
    },
}


def sse(response: dict[str, Any]) -> bytes:
    """`response` streamed as the Responses API streams it (the SDK's stream helper checks the order)."""
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**response, "status": "in_progress", "output": []}}
    ]
    for index, item in enumerate(response.get("output") or []):
        if item["type"] == "message":
            events.append(
                {"type": "response.output_item.added", "output_index": index, "item": {**item, "content": []}}
            )
            for part_index, part in enumerate(item["content"]):
                where = {"item_id": item["id"], "output_index": index, "content_index": part_index}
                events.append({"type": "response.content_part.added", **where, "part": {**part, "text": ""}})
                events.append(
                    {"type": "response.output_text.delta", **where, "delta": part["text"], "logprobs": []}
                )
        else:
            events.append(
                {
                    "type": "response.output_item.added",
                    "output_index": index,
                    "item": {**item, "arguments": ""},
                }
            )
            where = {"item_id": item["id"], "output_index": index}
            events.append(
                {"type": "response.function_call_arguments.delta", **where, "delta": item["arguments"]}
            )
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    events.append({"type": "response.completed", "response": response})
    return "".join(
        f"event: {e['type']}\ndata: {json.dumps({**e, 'sequence_number': n})}\n\n"
        for n, e in enumerate(events)
    ).encode()


Handler = Callable[[httpx.Request], httpx.Response]


def responses_handler(response: dict[str, Any], *, status: int = 200) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/responses"
        if status != 200:
            return httpx.Response(status, json={"error": {"message": "slow down", "type": "rate_limit"}})
        if json.loads(request.content).get("stream"):
            return httpx.Response(200, content=sse(response), headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=response)

    return handler


# Plain `httpx` clients: every SDK we support accepts them (openai 3.x, typed for its `httpx2` fork, still
# takes a legacy `httpx` client), so one test runs against the oldest and the newest.
def responses_sdk(handler: Handler) -> openai.OpenAI:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return openai.OpenAI(api_key="sk-test", max_retries=0, http_client=http)  # type: ignore[arg-type]


def async_responses_sdk(handler: Handler) -> openai.AsyncOpenAI:
    async def async_handler(request: httpx.Request) -> httpx.Response:
        await request.aread()
        return handler(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(async_handler))
    return openai.AsyncOpenAI(api_key="sk-test", max_retries=0, http_client=http)  # type: ignore[arg-type]


@needs_responses
def test_a_responses_call_is_recorded(instrumented: Captured) -> None:
    with responses_sdk(responses_handler(RESPONSE)) as client:
        reply = client.responses.create(model=MODEL, input="hi", instructions="Be brief.")
    assert reply.output_text == "Hello there"
    [span] = chat_spans(instrumented)
    assert span[inst.PROVIDER_NAME] == "openai"
    assert span[inst.REQUEST_MODEL] == MODEL
    assert span["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert span["gen_ai.response.id"] == "resp_123"
    assert span["gen_ai.response.finish_reasons"] == ("stop",)
    assert span["gen_ai.usage.input_tokens"] == 12
    assert span["gen_ai.usage.output_tokens"] == 7
    assert span["gen_ai.usage.cache_read.input_tokens"] == 4
    assert span["gen_ai.usage.reasoning.output_tokens"] == 2
    assert "otel_llm.usage.estimated" not in span
    assert span["openai.api.type"] == "responses"


def test_a_responses_tool_call_and_its_request_shapes_are_read() -> None:
    from otel_llm_instrumentation.openai import _responses_reply, _responses_request

    call = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{}"}
    reply = _responses_reply({**RESPONSE, "output": [call], "output_text": None})
    assert (reply.text, reply.finish_reasons, reply.usage.input_tokens) == ("", ("tool_call",), 12)
    request = _responses_request(
        MODEL,
        {
            "instructions": "Be brief.",
            "input": [
                {"role": "developer", "content": "Answer in French."},
                {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
                call,
                {"type": "function_call_output", "call_id": "call_1", "output": "42"},
            ],
            "max_output_tokens": 50,
            "text": {"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"}}},
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
            "stream": True,
        },
    )
    assert [(m.role, m.content) for m in request.messages] == [
        ("system", "Be brief."),
        ("system", "Answer in French."),
        ("user", "hi"),
        ("tool", "42"),
    ]
    assert request.max_tokens == 50 and request.stream and request.response_format is not None
    assert [tool.name for tool in request.tools] == ["f"]


@needs_responses
def test_an_incomplete_response_reports_why(instrumented: Captured) -> None:
    incomplete = {**RESPONSE, "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}
    with responses_sdk(responses_handler(incomplete)) as client:
        client.responses.create(
            model=MODEL, input=[{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]
        )
    [span] = chat_spans(instrumented)
    assert span["gen_ai.response.finish_reasons"] == ("length",)


@needs_responses
def test_a_responses_stream_is_folded(instrumented: Captured) -> None:
    with responses_sdk(responses_handler(RESPONSE)) as client:
        events = list(client.responses.create(model=MODEL, input="hi", stream=True))
    assert [e.type for e in events][-1] == "response.completed"
    [span] = chat_spans(instrumented)
    assert span["gen_ai.response.finish_reasons"] == ("stop",)
    assert span["gen_ai.usage.input_tokens"] == 12 and span["gen_ai.usage.output_tokens"] == 7
    assert span["gen_ai.response.id"] == "resp_123"
    assert "gen_ai.response.time_to_first_chunk" in span


@needs_responses
def test_a_responses_stream_left_early_ends_its_span(instrumented: Captured) -> None:
    with (
        responses_sdk(responses_handler(RESPONSE)) as client,
        client.responses.create(model=MODEL, input="hi", stream=True) as stream,
    ):
        next(iter(stream))
    assert len(chat_spans(instrumented)) == 1


TOOL_CALL = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_1",
    "name": "lookup",
    "arguments": '{"city": "Paris"}',
    "status": "completed",
}


@needs_responses
def test_a_responses_stream_with_a_tool_call_records_it(
    captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=captured.tracer_provider, meter_provider=captured.meter_provider)
    try:
        with responses_sdk(
            responses_handler({**RESPONSE, "output": [TOOL_CALL], "output_text": None})
        ) as client:
            list(client.responses.create(model=MODEL, input="weather?", stream=True))
    finally:
        instrumentor.uninstrument()
    span = chat_span(captured)
    assert span["gen_ai.response.finish_reasons"] == ("tool_call",)
    [message] = json.loads(span["gen_ai.output.messages"])
    [part] = [p for p in message["parts"] if p["type"] == "tool_call"]  # (the helper's SSE also has text)
    assert (part["id"], part["name"], part["arguments"]) == ("call_1", "lookup", {"city": "Paris"})


class Reply(pydantic.BaseModel):
    text: str


PARSED_RESPONSE = {
    **RESPONSE,
    "output": [
        {
            "type": "message",
            "id": "msg_1",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": '{"text": "hi"}', "annotations": []}],
        }
    ],
}


@needs_responses
@pytest.mark.filterwarnings("error")  # telemetry must not make pydantic warn about the caller's class
def test_responses_parse_is_recorded_and_returns_the_parsed_object(instrumented: Captured) -> None:
    with responses_sdk(responses_handler(PARSED_RESPONSE)) as client:
        reply = client.responses.parse(model=MODEL, input="hi", text_format=Reply)
    assert reply.output_parsed == Reply(text="hi")
    span = chat_span(instrumented)
    assert span["gen_ai.output.type"] == "json"
    assert (span["gen_ai.usage.input_tokens"], span["gen_ai.usage.output_tokens"]) == (12, 7)


@needs_responses
def test_the_responses_stream_helper_is_one_call_ending_with_its_block(instrumented: Captured) -> None:
    with responses_sdk(responses_handler(RESPONSE)) as client:
        with client.responses.stream(model=MODEL, input="hi") as stream:
            final = stream.get_final_response()
        assert final.output_text == "Hello there"
        span = chat_span(instrumented)  # one span (the `create` inside is not counted again)
        assert span["gen_ai.response.id"] == "resp_123" and span["gen_ai.usage.output_tokens"] == 7
        assert "gen_ai.response.time_to_first_chunk" in span

        with client.responses.stream(model=MODEL, input="hi") as stream:
            next(iter(stream))  # left early
        assert len(chat_spans(instrumented)) == 2  # ended by the block, not by the garbage collector


@needs_responses
@pytest.mark.anyio
async def test_the_async_responses_helpers_are_observed(instrumented: Captured) -> None:
    async with async_responses_sdk(responses_handler(PARSED_RESPONSE)) as client:
        parsed = await client.responses.parse(model=MODEL, input="hi", text_format=Reply)
        async with client.responses.stream(model=MODEL, input="hi") as stream:
            final = await stream.get_final_response()
    assert parsed.output_parsed == Reply(text="hi") and final.output_text == '{"text": "hi"}'
    assert [span["gen_ai.usage.output_tokens"] for span in chat_spans(instrumented)] == [7, 7]


@needs_responses
def test_responses_errors_are_recorded(instrumented: Captured) -> None:
    with (
        responses_sdk(responses_handler(RESPONSE, status=429)) as client,
        pytest.raises(openai.RateLimitError),
    ):
        client.responses.create(model=MODEL, input="hi")
    [span] = instrumented.spans()
    assert (span.attributes or {})["error.type"] == "openai.RateLimitError"


@needs_responses
@pytest.mark.anyio
async def test_the_async_responses_api_is_observed(instrumented: Captured) -> None:
    async with async_responses_sdk(responses_handler(RESPONSE)) as client:
        await client.responses.create(model=MODEL, input="hi")
        stream = await client.responses.create(model=MODEL, input="hi", stream=True)
        assert [event async for event in stream]
    spans = chat_spans(instrumented)
    assert len(spans) == 2
    assert all(span["gen_ai.usage.output_tokens"] == 7 for span in spans)
