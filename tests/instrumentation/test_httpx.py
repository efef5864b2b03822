"""`HttpxInstrumentor`: raw httpx calls to LLM endpoints, against the fake provider server, observed."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import pytest
from otel_llm_instrumentation.httpx_ import HttpxInstrumentor
from otel_llm_instrumentation.openai import OpenAIInstrumentor

import otel_llm
from otel_llm.telemetry import _instruments as inst
from otel_llm.testing import Behavior, FakeProviderServer
from tests.conftest import Captured, new_captured
from tests.instrumentation.genai_spans import EXCHANGE_ATTRIBUTES, chat_spans

USER = [{"role": "user", "content": "hi there"}]
COMPARED = (*EXCHANGE_ATTRIBUTES, inst.SERVER_ADDRESS, "otel_llm.usage.estimated")


@dataclass(frozen=True)
class Wire:
    """One provider's raw HTTP exchange, as legacy code would write it."""

    provider: str
    model: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    stream_path: str | None = None  # Gemini streams at another URL
    stream_body: dict[str, Any] = field(default_factory=lambda: {"stream": True})

    def request(self, server: FakeProviderServer, *, stream: bool = False) -> tuple[str, dict[str, Any]]:
        path = self.stream_path if stream and self.stream_path else self.path
        body = {**self.body, **self.stream_body} if stream and not self.stream_path else self.body
        return server.base_url(self.provider) + path, body


WIRES = {
    "openai": Wire(
        "openai",
        "gpt-4o-mini",
        "/chat/completions",
        {"model": "gpt-4o-mini", "messages": USER},
        {"authorization": "Bearer sk-test"},
        stream_body={"stream": True, "stream_options": {"include_usage": True}},
    ),
    "anthropic": Wire(
        "anthropic",
        "claude-haiku-4-5",
        "/v1/messages",
        {"model": "claude-haiku-4-5", "max_tokens": 256, "messages": USER},
        {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"},
    ),
    "gemini": Wire(
        "gemini",
        "gemini-2.0-flash",
        "/models/gemini-2.0-flash:generateContent",
        {"contents": [{"role": "user", "parts": [{"text": "hi there"}]}]},
        {"x-goog-api-key": "g-test"},
        stream_path="/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
    ),
    "ollama": Wire(
        "ollama",
        "llama3.2",
        "/api/chat",
        {"model": "llama3.2", "messages": USER, "stream": False},
    ),
}


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        for provider in WIRES:
            fake.set_behavior(provider, Behavior(text="Hello there, friend"))
        yield fake


@contextmanager
def instrumented(captured: Captured, provider: str = "openai") -> Iterator[Captured]:
    # The fake server plays every provider on 127.0.0.1: one instrumentor per provider named.
    instrumentor = HttpxInstrumentor()
    instrumentor.instrument(
        tracer_provider=captured.tracer_provider,
        meter_provider=captured.meter_provider,
        provider_names={"127.0.0.1": provider},
    )
    try:
        yield captured
    finally:
        instrumentor.uninstrument()


def routing_client(server: FakeProviderServer, provider: str, captured: Captured) -> otel_llm.Client:
    return otel_llm.Client(
        providers={provider: {"base_url": server.base_url(provider), "api_key": "sk-test"}},
        tracer_provider=captured.tracer_provider,
        meter_provider=captured.meter_provider,
    )


def compared(span: dict[str, Any]) -> dict[str, Any]:
    return {key: span.get(key) for key in COMPARED}


def assert_same_metrics(observed: Captured, routed: Captured) -> None:
    metrics, routed_metrics = observed.metrics(), routed.metrics()
    for spec in (inst.TOKEN_USAGE, inst.COST, inst.UNPRICED_CALLS):
        assert metrics.get(spec.name) == routed_metrics.get(spec.name), spec.name


@pytest.mark.parametrize("provider", sorted(WIRES))
def test_a_raw_call_records_what_the_routing_client_records(
    server: FakeProviderServer, captured: Captured, provider: str
) -> None:
    wire = WIRES[provider]
    url, body = wire.request(server)
    with instrumented(captured, provider), httpx.Client() as http:
        response = http.post(url, json=body, headers=wire.headers)
    assert response.status_code == 200
    routed = new_captured()
    with routing_client(server, provider, routed) as client:
        client.chat(f"{provider}:{wire.model}", USER)
    [span], [routed_span] = chat_spans(captured), chat_spans(routed)
    assert compared(span) == compared(routed_span)
    assert_same_metrics(captured, routed)


@pytest.mark.parametrize("provider", sorted(WIRES))
def test_a_raw_stream_is_observed_as_it_is_read_and_reaches_the_caller_unchanged(
    server: FakeProviderServer, captured: Captured, provider: str
) -> None:
    wire = WIRES[provider]
    url, body = wire.request(server, stream=True)
    with (
        instrumented(captured, provider),
        httpx.Client() as http,
        http.stream("POST", url, json=body, headers=wire.headers) as response,
    ):
        assert not chat_spans(captured)  # the span is open while the caller reads
        lines = list(response.iter_lines())
    assert any("Hello" in line or "there" in line for line in lines)
    routed = new_captured()
    with routing_client(server, provider, routed) as client:
        assert "".join(chunk.delta for chunk in client.stream(f"{provider}:{wire.model}", USER))
    [span], [routed_span] = chat_spans(captured), chat_spans(routed)
    assert compared(span) == compared(routed_span)
    assert span["gen_ai.request.stream"] is True
    assert "gen_ai.response.time_to_first_chunk" in span
    assert_same_metrics(captured, routed)


def test_stream_bytes_pass_through_unchanged_even_compressed(captured: Captured) -> None:
    events = (
        b'data: {"id":"c1","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
        b'data: {"id":"c1","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"lo"},'
        b'"finish_reason":"stop"}]}\n\n'
        b'data: {"id":"c1","model":"gpt-4o-mini","choices":[],'
        b'"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n'
        b"data: [DONE]\n\n"
    )

    compressed = gzip.compress(events)
    pieces = [compressed[i : i + 16] for i in range(0, len(compressed), 16)]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream", "content-encoding": "gzip"},
            content=iter(pieces),  # a body streamed in pieces, as a network transport gives it
        )

    body = {"model": "gpt-4o-mini", "messages": USER, "stream": True}
    with (
        instrumented(captured),
        httpx.Client(transport=httpx.MockTransport(handler)) as http,
        http.stream("POST", "https://api.openai.com/v1/chat/completions", json=body) as response,
    ):
        received = b"".join(response.iter_bytes(7))
    assert received == events
    [span] = chat_spans(captured)
    assert span[inst.PROVIDER_NAME] == "openai"
    assert (span["gen_ai.usage.input_tokens"], span["gen_ai.usage.output_tokens"]) == (3, 2)
    assert span["gen_ai.response.finish_reasons"] == ("stop",)


def test_a_stream_closed_early_ends_its_span(server: FakeProviderServer, captured: Captured) -> None:
    url, body = WIRES["openai"].request(server, stream=True)
    with instrumented(captured), httpx.Client() as http:
        with http.stream("POST", url, json=body, headers=WIRES["openai"].headers) as response:
            next(response.iter_bytes())
        [span] = chat_spans(captured)
    assert "error.type" not in span


def test_an_error_status_is_recorded_as_classified_and_returned_as_is(
    server: FakeProviderServer, captured: Captured
) -> None:
    server.enqueue("openai", Behavior(status=429))
    url, body = WIRES["openai"].request(server)
    with instrumented(captured), httpx.Client() as http:
        response = http.post(url, json=body, headers=WIRES["openai"].headers)
    assert response.status_code == 429 and response.json()["error"]
    [span] = chat_spans(captured)
    assert span["error.type"] == "rate_limit"
    [(attributes, _)] = captured.metrics()[inst.OPERATION_DURATION.name]
    assert attributes["error.type"] == "rate_limit"


def test_a_transport_failure_is_recorded_and_raised(captured: Captured) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with (
        instrumented(captured),
        httpx.Client(transport=httpx.MockTransport(handler)) as http,
        pytest.raises(httpx.ConnectError),
    ):
        http.post("https://api.openai.com/v1/chat/completions", json=WIRES["openai"].body)
    [span] = chat_spans(captured)
    assert span["error.type"] == "connection"


def test_embeddings_are_recorded(server: FakeProviderServer, captured: Captured) -> None:
    url = server.base_url("openai") + "/embeddings"
    with instrumented(captured), httpx.Client() as http:
        response = http.post(
            url,
            json={"model": "text-embedding-3-small", "input": ["a", "b"]},
            headers=WIRES["openai"].headers,
        )
    assert response.status_code == 200
    [span] = captured.spans()
    assert span.name == "embeddings text-embedding-3-small"
    attributes: dict[str, Any] = dict(span.attributes or {})
    assert attributes["gen_ai.usage.input_tokens"] > 0


def test_unrelated_and_unreadable_requests_pass_through_unobserved(
    server: FakeProviderServer, captured: Captured
) -> None:
    url, body = WIRES["openai"].request(server)

    def upload() -> Iterator[bytes]:
        yield b'{"model": "gpt-4o-mini", "messages": []}'

    with instrumented(captured), httpx.Client() as http:
        http.get(url, headers=WIRES["openai"].headers)  # not a POST
        http.post(server.url + "/health", json=body)  # not a GenAI path
        http.post(url, content=b"not json", headers=WIRES["openai"].headers)
        http.post(url, content=upload(), headers=WIRES["openai"].headers)  # a streamed upload
    assert captured.spans() == []


def test_an_sdk_call_under_both_instrumentors_is_recorded_once(
    server: FakeProviderServer, captured: Captured
) -> None:
    sdk_instrumentor = OpenAIInstrumentor()
    sdk_instrumentor.instrument(
        tracer_provider=captured.tracer_provider,
        meter_provider=captured.meter_provider,
        provider_names={"127.0.0.1": "openai"},
    )
    try:
        with (
            instrumented(captured),
            openai.OpenAI(base_url=server.base_url("openai"), api_key="sk-test", max_retries=0) as client,
        ):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            stream = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            assert list(stream)
    finally:
        sdk_instrumentor.uninstrument()
    assert len(chat_spans(captured)) == 2


def test_the_routing_client_is_recorded_once(server: FakeProviderServer, captured: Captured) -> None:
    with instrumented(captured), routing_client(server, "openai", captured) as client:
        client.chat("openai:gpt-4o-mini", USER)
        assert list(client.stream("openai:gpt-4o-mini", USER))
    assert len(chat_spans(captured)) == 2
    assert len([s for s in captured.spans() if s.name == "otel_llm.attempt"]) == 2


@pytest.mark.anyio
async def test_the_async_routing_client_is_recorded_once(
    server: FakeProviderServer, captured: Captured
) -> None:
    with instrumented(captured):
        async with otel_llm.AsyncClient(
            providers={"openai": {"base_url": server.base_url("openai"), "api_key": "sk-test"}},
            tracer_provider=captured.tracer_provider,
            meter_provider=captured.meter_provider,
        ) as client:
            await client.chat("openai:gpt-4o-mini", USER)
    assert len(chat_spans(captured)) == 1


@pytest.mark.anyio
async def test_the_async_client_is_observed(server: FakeProviderServer, captured: Captured) -> None:
    wire = WIRES["anthropic"]
    url, body = wire.request(server)
    stream_url, stream_body = wire.request(server, stream=True)
    with instrumented(captured, "anthropic"):
        async with httpx.AsyncClient() as http:
            response = await http.post(url, json=body, headers=wire.headers)
            assert response.json()["content"]
            async with http.stream("POST", stream_url, json=stream_body, headers=wire.headers) as streamed:
                lines = [line async for line in streamed.aiter_lines()]
    assert any(line.startswith("event: message_stop") for line in lines)
    spans = chat_spans(captured)
    assert len(spans) == 2
    assert all(span[inst.PROVIDER_NAME] == "anthropic" for span in spans)
    assert all(span["gen_ai.usage.output_tokens"] > 0 for span in spans)


def test_uninstrument_restores_the_originals_exactly() -> None:
    originals = (httpx.Client.send, httpx.AsyncClient.send)
    instrumentor = HttpxInstrumentor()
    instrumentor.instrument(skip_dep_check=True)
    assert httpx.Client.send is not originals[0]
    assert httpx.AsyncClient.send is not originals[1]
    instrumentor.uninstrument()
    assert (httpx.Client.send, httpx.AsyncClient.send) == originals
    assert "send" in vars(httpx.Client) and vars(httpx.Client)["send"] is originals[0]


def test_a_stream_read_in_one_go_is_folded_too(server: FakeProviderServer, captured: Captured) -> None:
    url, body = WIRES["openai"].request(server, stream=True)
    with instrumented(captured), httpx.Client() as http:
        response = http.post(url, json=body, headers=WIRES["openai"].headers)  # not `stream()`: read in send
    assert response.text.startswith("data: ")
    [span] = chat_spans(captured)
    assert span["gen_ai.usage.output_tokens"] > 0 and "otel_llm.usage.estimated" not in span


def test_a_gemini_json_array_stream_is_folded(captured: Captured) -> None:
    items = [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}]},
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6},
            "modelVersion": "gemini-2.0-flash",
        },
    ]
    raw = json.dumps(items).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": "application/json"}, content=iter([raw[:9], raw[9:]])
        )

    url = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    with (
        instrumented(captured, "gemini"),
        httpx.Client(transport=httpx.MockTransport(handler)) as http,
        http.stream("POST", url, json=WIRES["gemini"].body) as response,
    ):
        assert response.read() == raw
    [span] = chat_spans(captured)
    assert span[inst.REQUEST_MODEL] == "gemini-2.0-flash"
    assert (span["gen_ai.usage.input_tokens"], span["gen_ai.usage.output_tokens"]) == (4, 2)
