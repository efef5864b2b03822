"""Every provider and operation, through the real client, over real HTTP, against the fake provider server.

The parser suites prove each wire format on recorded bodies; this proves the whole path per provider: the
URL and auth the client builds reach the fake server's route for that provider, the answer parses, usage
and cost come out, and the telemetry names the provider as the semantic conventions say.
"""

from __future__ import annotations

from collections.abc import Iterator

import pydantic
import pytest

from otel_llm import Client, Tool
from otel_llm.providers import BUILTIN, Endpoint
from otel_llm.providers._base import EmbeddingsProvider
from otel_llm.providers.openai import OpenAIChat
from otel_llm.testing import Behavior, FakeProviderServer
from tests import semconv
from tests.conftest import Captured

SEMCONV_NAMES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "azure": "azure.ai.openai",
    "ollama": "ollama",
    "openrouter": "openrouter",
    "mistral": "mistral_ai",
    "together": "together",
    "groq": "groq",
    "deepseek": "deepseek",
}
CUSTOM_PROVIDER_NAMES = {"openrouter", "together", "ollama", "vllm"}  # no well-known semconv value
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello to the test."}]
WEATHER = Tool(
    "get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}}
)


class Greeting(pydantic.BaseModel):
    greeting: str
    words: int


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        yield fake


def make_client(server: FakeProviderServer, captured: Captured | None = None) -> Client:
    providers: dict[str, dict[str, str]] = {
        name: {"base_url": server.base_url(name), "api_key": f"test-key-{name}"} for name in BUILTIN
    }
    providers["vllm"] = {"base_url": server.base_url("vllm"), "wire": "openai", "semconv_name": "vllm"}
    telemetry = {}
    if captured is not None:
        telemetry = {"tracer_provider": captured.tracer_provider, "meter_provider": captured.meter_provider}
    return Client(providers=providers, **telemetry)  # type: ignore[arg-type]


ALL = sorted([*BUILTIN, "vllm"])


def test_the_matrix_covers_every_built_in_provider() -> None:
    assert set(BUILTIN) <= set(SEMCONV_NAMES)


@pytest.mark.parametrize("name", ALL)
def test_chat(server: FakeProviderServer, captured: Captured, name: str) -> None:
    with make_client(server, captured) as client:
        reply = client.chat(f"{name}:test-model", MESSAGES, max_tokens=50)
    assert reply.text
    assert reply.usage.input_tokens and reply.usage.output_tokens
    assert reply.finish_reasons == ("stop",)
    span = captured.span("chat test-model")
    attributes = span.attributes or {}
    assert attributes["gen_ai.provider.name"] == SEMCONV_NAMES.get(name, name)
    assert attributes["server.address"] == "127.0.0.1"
    assert_semconv(captured)


def assert_semconv(captured: Captured) -> None:
    """Every span, event and metric attribute in the GenAI/server/error namespaces is in the registry."""
    custom = {"gen_ai.provider.name": CUSTOM_PROVIDER_NAMES}
    assert semconv.recorded_violations(captured, custom_values=custom) == []


@pytest.mark.parametrize("name", ALL)
def test_stream(server: FakeProviderServer, captured: Captured, name: str) -> None:
    with make_client(server, captured) as client:
        stream = client.stream(f"{name}:test-model", MESSAGES)
        text = "".join(chunk.delta for chunk in stream)
    assert text and stream.response is not None
    assert stream.response.text == text
    assert stream.response.usage.output_tokens
    assert_semconv(captured)


@pytest.mark.parametrize("name", ALL)
def test_tool_calls(server: FakeProviderServer, captured: Captured, name: str) -> None:
    server.enqueue(name, Behavior(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}]))
    with make_client(server, captured) as client:
        reply = client.chat(f"{name}:test-model", MESSAGES, tools=[WEATHER])
    assert [(call.name, dict(call.arguments)) for call in reply.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert reply.finish_reasons == ("tool_call",)
    assert_semconv(captured)


@pytest.mark.parametrize("name", ALL)
def test_streamed_tool_calls(server: FakeProviderServer, name: str) -> None:
    server.enqueue(name, Behavior(tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}]))
    with make_client(server) as client:
        stream = client.stream(f"{name}:test-model", MESSAGES, tools=[WEATHER])
        list(stream)
    assert stream.response is not None
    assert [(c.name, dict(c.arguments)) for c in stream.response.tool_calls] == [
        ("get_weather", {"city": "Oslo"})
    ]


@pytest.mark.parametrize("name", ALL)
def test_structured_output(server: FakeProviderServer, name: str) -> None:
    with make_client(server) as client:
        parsed = client.parse(f"{name}:test-model", MESSAGES, Greeting)
    assert isinstance(parsed.output, Greeting)


def _offers_embeddings(name: str) -> bool:
    spec = BUILTIN.get(name)
    wire = spec.wire if spec else OpenAIChat  # vllm: a user-configured OpenAI-compatible server
    return isinstance(wire(Endpoint(name, "http://127.0.0.1", None, name)), EmbeddingsProvider)


EMBEDDERS = [name for name in ALL if _offers_embeddings(name)]


def test_only_anthropic_lacks_embeddings() -> None:
    assert set(ALL) - set(EMBEDDERS) == {"anthropic"}


@pytest.mark.parametrize("name", EMBEDDERS)
def test_embeddings(server: FakeProviderServer, captured: Captured, name: str) -> None:
    with make_client(server, captured) as client:
        result = client.embed(f"{name}:test-embedder", ["one", "two", "three"])
    assert len(result.vectors) == 3
    assert len({len(v) for v in result.vectors}) == 1
    assert_semconv(captured)


@pytest.mark.parametrize("name", ALL)
def test_errors_map_to_our_kinds(server: FakeProviderServer, name: str) -> None:
    from otel_llm import AllRoutesFailedError, RetryPolicy, StopAfterAttempts

    kinds = ["rate_limit", "quota_exhausted", "overloaded", "context_length", "auth"]
    with make_client(server) as client:
        client._retry = RetryPolicy(stop=StopAfterAttempts(1))
        for kind in kinds:
            try:
                recipe = Behavior.error(kind, provider=name)  # each provider's own error shape
            except ValueError:
                continue  # the provider has no such failure (Ollama has no quotas)
            server.enqueue(name, recipe)
            with pytest.raises(AllRoutesFailedError) as info:
                client.chat(f"{name}:test-model", MESSAGES)
            assert info.value.kind == kind, (name, kind, str(info.value))
            client.reset_breaker(name)
