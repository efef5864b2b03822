"""`OpenAIInstrumentor`: the real `openai` SDK against the fake provider server, observed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.resources.chat.completions import AsyncCompletions, Completions
from openai.resources.embeddings import Embeddings
from openai.types.chat import ChatCompletionMessageParam
from otel_llm_instrumentation.openai import OpenAIInstrumentor

import otel_llm
from otel_llm.telemetry import _instruments as inst
from otel_llm.testing import Behavior, FakeProviderServer
from tests.conftest import Captured, new_captured

USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
MODEL = "gpt-4o-mini"
COMPARED = (
    inst.OPERATION_NAME,
    inst.PROVIDER_NAME,
    inst.REQUEST_MODEL,
    "gen_ai.response.model",
    "gen_ai.response.finish_reasons",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
)


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


def chat_span(captured: Captured) -> dict[str, Any]:
    [span] = [s for s in captured.spans() if s.name.startswith("chat ")]
    assert span.end_time is not None
    return dict(span.attributes or {})


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
    owners = (Completions, AsyncCompletions, Embeddings)
    originals = [vars(owner)["create"] for owner in owners]
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(skip_dep_check=True)
    assert all(
        vars(owner)["create"] is not original for owner, original in zip(owners, originals, strict=True)
    )
    instrumentor.uninstrument()
    assert all(vars(owner)["create"] is original for owner, original in zip(owners, originals, strict=True))


def test_compatible_endpoints_report_their_own_provider(instrumented: Captured) -> None:
    from otel_llm_instrumentation._endpoints import endpoint_for

    assert endpoint_for("https://openrouter.ai/api/v1", "openai").semconv_name == "openrouter"
    assert endpoint_for("https://my-res.openai.azure.com/openai", "azure").semconv_name == "azure.ai.openai"
    assert endpoint_for("http://localhost:11434/v1", "openai").semconv_name == "ollama"
    assert endpoint_for("http://gpu-box:8000/v1", "openai").semconv_name == "gpu-box"
    assert endpoint_for("https://api.openai.com/v1", "openai").semconv_name == "openai"
