"""`GoogleGenAIInstrumentor`: the real `google-genai` SDK against the fake provider server, observed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from google import genai
from google.genai import errors, types
from google.genai.models import AsyncModels, Models
from otel_llm_instrumentation import google_genai
from otel_llm_instrumentation.google_genai import GoogleGenAIInstrumentor

import otel_llm
from otel_llm._types import Message
from otel_llm.telemetry import _instruments as inst
from otel_llm.testing import Behavior, FakeProviderServer
from tests.conftest import Captured, new_captured
from tests.instrumentation.genai_spans import EXCHANGE_ATTRIBUTES, chat_span

MODEL = "gemini-2.5-flash"
COMPARED = EXCHANGE_ATTRIBUTES


@pytest.fixture
def instrumented(captured: Captured) -> Iterator[Captured]:
    instrumentor = GoogleGenAIInstrumentor()
    # The fake server is on loopback: tell the instrumentor which provider it plays.
    instrumentor.instrument(
        tracer_provider=captured.tracer_provider,
        meter_provider=captured.meter_provider,
        provider_names={"127.0.0.1": "gemini"},
    )
    yield captured
    instrumentor.uninstrument()


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        fake.set_behavior("gemini", Behavior(text="Hello there"))
        yield fake


def new_client(server: FakeProviderServer, **kwargs: Any) -> genai.Client:
    # The fake server's base URL already ends in the API version.
    options = types.HttpOptions(base_url=server.base_url("gemini"), api_version="")
    return genai.Client(api_key="k", http_options=options, **kwargs)


# Clients close themselves where the SDK can (google-genai < 1.21 has no `close()`/`aclose()`).
@contextmanager
def sdk(server: FakeProviderServer, **kwargs: Any) -> Iterator[genai.Client]:
    client = new_client(server, **kwargs)
    try:
        yield client
    finally:
        close = getattr(client, "close", None)
        if callable(close):
            close()


@asynccontextmanager
async def async_sdk(server: FakeProviderServer) -> AsyncIterator[genai.client.AsyncClient]:
    client = new_client(server).aio
    try:
        yield client
    finally:
        aclose = getattr(client, "aclose", None)
        if callable(aclose):
            await aclose()


def test_a_call_records_what_the_routing_client_records(
    server: FakeProviderServer, instrumented: Captured
) -> None:
    with sdk(server) as client:
        reply = client.models.generate_content(model=f"models/{MODEL}", contents="hi")
    assert reply.text == "Hello there"
    routed = new_captured()
    with otel_llm.Client(
        providers={"gemini": {"base_url": server.base_url("gemini"), "api_key": "k"}},
        tracer_provider=routed.tracer_provider,
        meter_provider=routed.meter_provider,
    ) as client:
        client.chat(f"gemini:{MODEL}", [{"role": "user", "content": "hi"}])
    span, routed_span = chat_span(instrumented), chat_span(routed)
    assert span[inst.PROVIDER_NAME] == "gcp.gemini" and span[inst.REQUEST_MODEL] == MODEL
    assert {k: span.get(k) for k in COMPARED} == {k: routed_span.get(k) for k in COMPARED}
    assert "otel_llm.usage.estimated" not in span
    metrics, routed_metrics = instrumented.metrics(), routed.metrics()
    for spec in (inst.TOKEN_USAGE, inst.COST):
        assert metrics[spec.name] == routed_metrics[spec.name], spec.name


@pytest.mark.parametrize(
    "config",
    [
        types.GenerateContentConfig(
            temperature=0.2, top_p=0.9, max_output_tokens=50, system_instruction="Be brief."
        ),
        {"temperature": 0.2, "top_p": 0.9, "max_output_tokens": 50, "system_instruction": "Be brief."},
    ],
)
def test_the_config_is_recorded(
    server: FakeProviderServer, instrumented: Captured, config: types.GenerateContentConfigOrDict
) -> None:
    with sdk(server) as client:
        client.models.generate_content(model=MODEL, contents="hi", config=config)
    span = chat_span(instrumented)
    assert span["gen_ai.request.temperature"] == 0.2
    assert span["gen_ai.request.top_p"] == 0.9
    assert span["gen_ai.request.max_tokens"] == 50


def test_a_stream_reaches_the_caller_unchanged_and_records_usage(
    server: FakeProviderServer, instrumented: Captured
) -> None:
    with sdk(server) as client:
        chunks = list(client.models.generate_content_stream(model=MODEL, contents="hi"))
    assert all(isinstance(chunk, types.GenerateContentResponse) for chunk in chunks)
    assert "".join(chunk.text or "" for chunk in chunks) == "Hello there"
    span = chat_span(instrumented)
    assert span["gen_ai.usage.output_tokens"] > 0 and "otel_llm.usage.estimated" not in span
    assert span["gen_ai.response.finish_reasons"] == ("stop",)
    assert span["gen_ai.request.stream"] is True
    assert "gen_ai.response.time_to_first_chunk" in span


def test_a_stream_left_early_ends_its_span(server: FakeProviderServer, instrumented: Captured) -> None:
    with sdk(server) as client:
        stream = client.models.generate_content_stream(model=MODEL, contents="hi")
        next(iter(stream))
        stream.close()  # type: ignore[attr-defined]  # the SDK's stream is a generator
    chat_span(instrumented)


def test_errors_pass_through_and_are_recorded(server: FakeProviderServer, instrumented: Captured) -> None:
    server.enqueue("gemini", Behavior(status=429))
    with sdk(server) as client, pytest.raises(errors.ClientError) as raised:
        client.models.generate_content(model=MODEL, contents="hi")
    assert raised.value.code == 429
    [span] = instrumented.spans()
    assert (span.attributes or {})["error.type"] == "google.genai.errors.ClientError"


def test_a_failing_stream_is_recorded(server: FakeProviderServer, instrumented: Captured) -> None:
    server.enqueue("gemini", Behavior(status=429))
    with sdk(server) as client, pytest.raises(errors.ClientError):
        list(client.models.generate_content_stream(model=MODEL, contents="hi"))
    [span] = instrumented.spans()
    assert (span.attributes or {})["error.type"] == "google.genai.errors.ClientError"


@pytest.mark.anyio
async def test_the_async_client_is_observed(server: FakeProviderServer, instrumented: Captured) -> None:
    async with async_sdk(server) as client:
        reply = await client.models.generate_content(model=MODEL, contents="hi")
        assert reply.text == "Hello there"
        stream = await client.models.generate_content_stream(model=MODEL, contents="hi")
        chunks = [chunk async for chunk in stream]
    assert "".join(chunk.text or "" for chunk in chunks) == "Hello there"
    spans = [s for s in instrumented.spans() if s.name.startswith("chat ")]
    assert len(spans) == 2
    streamed: list[dict[str, Any]] = [
        dict(s.attributes or {}) for s in spans if (s.attributes or {}).get("gen_ai.request.stream")
    ]
    assert streamed and streamed[0]["gen_ai.usage.output_tokens"] > 0
    assert "gen_ai.response.time_to_first_chunk" in streamed[0]


@pytest.mark.anyio
async def test_async_errors_pass_through_and_are_recorded(
    server: FakeProviderServer, instrumented: Captured
) -> None:
    server.enqueue("gemini", Behavior(status=429))
    async with async_sdk(server) as client:
        with pytest.raises(errors.ClientError):
            await client.models.generate_content(model=MODEL, contents="hi")
    [span] = instrumented.spans()
    assert (span.attributes or {})["error.type"] == "google.genai.errors.ClientError"


def test_vertex_ai_is_reported_as_such(server: FakeProviderServer, captured: Captured) -> None:
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(tracer_provider=captured.tracer_provider, meter_provider=captured.meter_provider)
    try:
        # The fake server serves no Vertex AI paths: the call fails, its span still names the provider.
        with sdk(server, vertexai=True) as client, pytest.raises(errors.ClientError):
            client.models.generate_content(model=MODEL, contents="hi")
    finally:
        instrumentor.uninstrument()
    [span] = captured.spans()
    assert (span.attributes or {})[inst.PROVIDER_NAME] == "gcp.vertex_ai"


def test_a_call_that_cannot_be_observed_still_runs(
    server: FakeProviderServer, instrumented: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(google_genai, "endpoint_for", broken)
    with sdk(server) as client:
        assert client.models.generate_content(model=MODEL, contents="hi").text == "Hello there"
    assert instrumented.spans() == []


def test_uninstrument_restores_the_originals_exactly() -> None:
    methods = [
        (owner, name)
        for owner in (Models, AsyncModels)
        for name in ("generate_content", "generate_content_stream")
    ]
    originals = [vars(owner)[name] for owner, name in methods]
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(skip_dep_check=True)
    assert all(
        vars(owner)[name] is not original for (owner, name), original in zip(methods, originals, strict=True)
    )
    instrumentor.uninstrument()
    assert all(
        vars(owner)[name] is original for (owner, name), original in zip(methods, originals, strict=True)
    )


def test_a_system_instruction_is_the_first_message() -> None:
    instruction = types.Content(parts=[types.Part.from_text(text="Be brief.")])
    assert google_genai._messages("hi", instruction) == (
        Message("system", "Be brief."),
        Message("user", "hi"),
    )


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gemini-2.5-flash", "gemini-2.5-flash"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("publishers/google/models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("tunedModels/123", "tunedModels/123"),
    ],
)
def test_model_names_lose_their_resource_prefix(model: str, expected: str) -> None:
    assert google_genai._model_name(model) == expected
