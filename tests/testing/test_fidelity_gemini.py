"""The official google-genai SDK parses the fake server's Gemini answers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from google import genai
from google.genai import errors, types
from pydantic import BaseModel

from otel_llm.testing import Behavior, FakeProviderServer

MODEL = "gemini-2.0-flash"


class Weather(BaseModel):
    city: str
    temperature: float


@pytest.fixture(scope="module")
def gemini(_module_server: FakeProviderServer) -> Iterator[genai.Client]:
    options = types.HttpOptions(base_url=_module_server.url + "/gemini", api_version="v1beta")
    with genai.Client(api_key="g-test", http_options=options) as client:
        yield client


def test_generate_content(server: FakeProviderServer, gemini: genai.Client) -> None:
    response = gemini.models.generate_content(model=MODEL, contents="Say hello please")

    assert response.text == "Hello from gemini gemini-2.0-flash."
    assert response.candidates is not None
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.candidates_token_count, usage.total_token_count) == (3, 4, 7)
    request = server.requests[0]
    assert request.headers["x-goog-api-key"] == "g-test"
    assert request.path == f"/gemini/v1beta/models/{MODEL}:generateContent"


def test_generate_content_stream(gemini: genai.Client) -> None:
    chunks = list(gemini.models.generate_content_stream(model=MODEL, contents="Say hello please"))

    assert len(chunks) > 2
    assert "".join(c.text or "" for c in chunks) == "Hello from gemini gemini-2.0-flash."
    last = chunks[-1]
    assert last.candidates is not None and last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata is not None and last.usage_metadata.candidates_token_count == 4


def test_embed_content(server: FakeProviderServer, gemini: genai.Client) -> None:
    response = gemini.models.embed_content(
        model="text-embedding-004",
        contents=["first text", "second"],
        config=types.EmbedContentConfig(output_dimensionality=6),
    )

    embeddings = response.embeddings or []
    assert [len(e.values or []) for e in embeddings] == [6, 6]
    assert embeddings[0].values != embeddings[1].values
    assert server.requests[0].path == "/gemini/v1beta/models/text-embedding-004:batchEmbedContents"


def test_function_call(server: FakeProviderServer, gemini: genai.Client) -> None:
    server.set_behavior(
        "gemini", Behavior(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    )
    tool = types.Tool(
        function_declarations=[
            types.FunctionDeclaration(
                name="get_weather",
                parameters=types.Schema(
                    type=types.Type.OBJECT, properties={"city": types.Schema(type=types.Type.STRING)}
                ),
            )
        ]
    )

    response = gemini.models.generate_content(
        model=MODEL, contents="Weather in Paris?", config=types.GenerateContentConfig(tools=[tool])
    )
    streamed = [
        call
        for chunk in gemini.models.generate_content_stream(
            model=MODEL, contents="Weather in Paris?", config=types.GenerateContentConfig(tools=[tool])
        )
        for call in chunk.function_calls or []
    ]

    calls = response.function_calls or []
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert [(c.name, c.args) for c in streamed] == [("get_weather", {"city": "Paris"})]
    assert server.requests[0].body["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"


def test_blocked_prompt(server: FakeProviderServer, gemini: genai.Client) -> None:
    server.set_behavior("gemini", Behavior.error("content_filter", provider="gemini"))

    response = gemini.models.generate_content(model=MODEL, contents="something bad")

    assert response.candidates is None
    assert response.text is None
    assert response.prompt_feedback is not None
    assert response.prompt_feedback.block_reason == types.BlockedReason.SAFETY


def test_output_blocked_by_safety(server: FakeProviderServer, gemini: genai.Client) -> None:
    server.set_behavior("gemini", Behavior.error("content_filter_output", provider="gemini"))

    response = gemini.models.generate_content(model=MODEL, contents="hi")

    assert response.candidates is not None
    candidate = response.candidates[0]
    assert candidate.finish_reason == types.FinishReason.SAFETY
    assert candidate.content is None
    assert any(r.blocked for r in candidate.safety_ratings or [])


def test_json_schema(gemini: genai.Client) -> None:
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=Weather)

    response = gemini.models.generate_content(model=MODEL, contents="Weather?", config=config)

    assert response.parsed == Weather(city="example", temperature=1.0)
    assert json.loads(response.text or "") == {"city": "example", "temperature": 1.0}


@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [
        ("rate_limit", 429, "RESOURCE_EXHAUSTED"),
        ("quota_exhausted", 429, "RESOURCE_EXHAUSTED"),
        ("auth", 400, "INVALID_ARGUMENT"),
        ("overloaded", 503, "UNAVAILABLE"),
        ("not_found", 404, "NOT_FOUND"),
    ],
)
def test_errors(server: FakeProviderServer, gemini: genai.Client, kind: str, code: int, status: str) -> None:
    server.enqueue("gemini", Behavior.error(kind, provider="gemini"))

    with pytest.raises(errors.APIError) as info:
        gemini.models.generate_content(model=MODEL, contents="hi")

    assert (info.value.code, info.value.status) == (code, status)
    if kind == "rate_limit":
        details = info.value.details["error"]["details"]
        assert {d["@type"].rsplit(".", 1)[-1] for d in details} == {"QuotaFailure", "RetryInfo"}


def test_mid_stream_error(server: FakeProviderServer, gemini: genai.Client) -> None:
    server.enqueue("gemini", Behavior(stream_error_after=1, error_message="boom"))
    seen: list[str] = []

    with pytest.raises(errors.APIError, match="boom"):
        for chunk in gemini.models.generate_content_stream(model=MODEL, contents="hi"):
            seen.append(chunk.text or "")

    assert seen == ["Hello"]
