"""Instrumented clients behave exactly as uninstrumented ones: same results, same streams, same errors.

Each scenario runs the real SDK (or raw httpx) against the fake provider server twice, plain and under its
instrumentor, and the outcomes are compared whole: the result's type and every field, every streamed item,
the exception's type and status. Only response ids and creation times differ between two runs of the
server (and the Date header), so they are left out of the comparison.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types
from otel_llm_instrumentation.anthropic import AnthropicInstrumentor
from otel_llm_instrumentation.google_genai import GoogleGenAIInstrumentor
from otel_llm_instrumentation.httpx_ import HttpxInstrumentor
from otel_llm_instrumentation.openai import OpenAIInstrumentor

from otel_llm.testing import Behavior, FakeProviderServer
from tests.conftest import Captured

USER: Any = [{"role": "user", "content": "hi"}]
_PER_RUN = frozenset({"id", "responseId", "response_id", "created", "created_at", "createTime", "date"})


def comparable(value: Any) -> Any:
    """`value` as plain data without response ids: pydantic objects dumped, httpx responses read."""
    if isinstance(value, httpx.Response):
        return (value.status_code, comparable(value.json()))
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return (type(value).__name__, comparable(dump()))
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in _PER_RUN}
    if isinstance(value, (list, tuple)):
        return [comparable(v) for v in value]
    return value


def outcome(scenario: Callable[[FakeProviderServer], Any], server: FakeProviderServer) -> Any:
    try:
        return ("returned", comparable(scenario(server)))
    except Exception as exc:  # the comparison is the test: what the caller would catch
        return ("raised", type(exc).__name__, getattr(exc, "status_code", None))


def openai_client(server: FakeProviderServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url("openai"), api_key="sk-test", max_retries=0)


def anthropic_client(server: FakeProviderServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.base_url("anthropic"), api_key="sk-ant", max_retries=0)


def gemini_generate(server: FakeProviderServer, *, stream: bool) -> Any:
    options = types.HttpOptions(base_url=server.base_url("gemini"), api_version="")
    client = genai.Client(api_key="k", http_options=options)  # held: collected, it closes its HTTP client
    if stream:
        return list(client.models.generate_content_stream(model="gemini-2.0-flash", contents="hi"))
    return client.models.generate_content(model="gemini-2.0-flash", contents="hi")


RAW_URL_PATH = "/chat/completions"
RAW_HEADERS = {"authorization": "Bearer sk-test"}


def raw_post(server: FakeProviderServer) -> Any:
    with httpx.Client(headers=RAW_HEADERS) as http:
        response = http.post(
            server.base_url("openai") + RAW_URL_PATH, json={"model": "gpt-4o-mini", "messages": USER}
        )
        return response.raise_for_status()


def raw_stream(server: FakeProviderServer) -> bytes:
    """The streamed body, byte for byte (ids and times blanked: they differ between two server runs)."""
    body = {"model": "gpt-4o-mini", "messages": USER, "stream": True}
    with (
        httpx.Client(headers=RAW_HEADERS) as http,
        http.stream("POST", server.base_url("openai") + RAW_URL_PATH, json=body) as response,
    ):
        response.raise_for_status()
        return re.sub(rb'"(id|created)":("[^"]*"|\d+)', rb'"\1":0', b"".join(response.iter_bytes()))


# name -> (instrumentor, provider the server plays, scenario)
SCENARIOS: dict[str, tuple[Callable[[], Any], str, Callable[[FakeProviderServer], Any]]] = {
    "openai create": (
        OpenAIInstrumentor,
        "openai",
        lambda s: openai_client(s).chat.completions.create(model="gpt-4o-mini", messages=USER),
    ),
    "openai stream": (
        OpenAIInstrumentor,
        "openai",
        lambda s: list(
            openai_client(s).chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
        ),
    ),
    "openai stream asking for usage": (
        OpenAIInstrumentor,
        "openai",
        lambda s: list(
            openai_client(s).chat.completions.create(
                model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
            )
        ),
    ),
    "openai embeddings": (
        OpenAIInstrumentor,
        "openai",
        lambda s: openai_client(s).embeddings.create(model="text-embedding-3-small", input=["a", "b"]),
    ),
    "anthropic create": (
        AnthropicInstrumentor,
        "anthropic",
        lambda s: anthropic_client(s).messages.create(model="claude-haiku-4-5", max_tokens=64, messages=USER),
    ),
    "anthropic stream": (
        AnthropicInstrumentor,
        "anthropic",
        lambda s: list(
            anthropic_client(s).messages.create(
                model="claude-haiku-4-5", max_tokens=64, messages=USER, stream=True
            )
        ),
    ),
    "gemini generate": (
        GoogleGenAIInstrumentor,
        "gemini",
        lambda s: gemini_generate(s, stream=False),
    ),
    "gemini stream": (GoogleGenAIInstrumentor, "gemini", lambda s: gemini_generate(s, stream=True)),
    "httpx post": (HttpxInstrumentor, "openai", raw_post),
    "httpx stream": (HttpxInstrumentor, "openai", raw_stream),
}


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        yield fake


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize(
    "behavior",
    [Behavior(text="Hello there, friend"), Behavior(status=429, retry_after=1), Behavior(status=500)],
    ids=["ok", "429", "500"],
)
def test_an_instrumented_client_behaves_as_the_plain_one(
    captured: Captured, server: FakeProviderServer, name: str, behavior: Behavior
) -> None:
    make, provider, scenario = SCENARIOS[name]
    server.set_behavior(provider, behavior)
    plain = outcome(scenario, server)
    assert plain[0] == ("returned" if behavior.status == 200 else "raised")  # the scenario does what it says
    instrumentor = make()
    instrumentor.instrument(
        tracer_provider=captured.tracer_provider,
        meter_provider=captured.meter_provider,
        provider_names={"127.0.0.1": provider},
    )
    try:
        observed = outcome(scenario, server)
    finally:
        instrumentor.uninstrument()
    assert observed == plain
    assert [s for s in captured.spans() if s.name.split()[0] in ("chat", "embeddings")]  # and it was observed
