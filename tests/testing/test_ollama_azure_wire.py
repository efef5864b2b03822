"""Ollama native and Azure OpenAI shapes, checked with plain httpx."""

from __future__ import annotations

import json

import httpx
import pytest

from otel_llm.testing import Behavior, FakeProviderServer

from ._helpers import AZURE_API_VERSION, call, content_pieces, has_terminator, parse_sse, stream_events

# ---------------------------------------------------------------- Ollama


def test_ollama_base_url(server: FakeProviderServer) -> None:
    assert server.base_url("ollama") == server.url + "/ollama"
    assert server.base_url("azure") == server.url + "/azure"


def test_ollama_chat_non_stream(server: FakeProviderServer, http: httpx.Client) -> None:
    response = call(server, http, "ollama")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body == {
        "model": "llama3.2",
        "created_at": body["created_at"],
        "message": {"role": "assistant", "content": "Hello from ollama llama3.2."},
        "done": True,
        "done_reason": "stop",
        "total_duration": 1_000_000 + 3 * 1_000_000 + 4 * 10_000_000,
        "load_duration": 1_000_000,
        "prompt_eval_count": 3,
        "prompt_eval_duration": 3_000_000,
        "eval_count": 4,
        "eval_duration": 40_000_000,
    }
    assert body["created_at"].endswith("Z")
    assert server.requests[0].stream is False
    assert "authorization" not in server.requests[0].headers  # no key needed


def test_ollama_streams_by_default(server: FakeProviderServer, http: httpx.Client) -> None:
    response = http.post(
        server.base_url("ollama") + "/api/chat",
        json={"model": "llama3.2", "messages": [{"role": "user", "content": "Say hello please"}]},
    )

    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert all(line["done"] is False for line in lines[:-1])
    assert "".join(line["message"]["content"] for line in lines) == "Hello from ollama llama3.2."
    assert len(lines) == 5  # 4 words, then the final object
    final = lines[-1]
    assert (final["done"], final["done_reason"], final["message"]["content"]) == (True, "stop", "")
    assert (final["prompt_eval_count"], final["eval_count"]) == (3, 4)
    assert server.requests[0].stream is True


def test_ollama_stream_helpers(server: FakeProviderServer, http: httpx.Client) -> None:
    _, events = stream_events(server, http, "ollama")

    assert "".join(content_pieces("ollama", events)) == "Hello from ollama llama3.2."
    assert has_terminator("ollama", events)


@pytest.mark.parametrize(
    ("behavior", "status", "message"),
    [
        (Behavior(status=404), 404, 'model "llama3.2" not found, try pulling it first'),
        (Behavior(status=503), 503, "server busy, please try again.  maximum pending requests exceeded"),
        (Behavior(status=500, error_message="boom"), 500, "boom"),
    ],
)
def test_ollama_errors(
    server: FakeProviderServer, http: httpx.Client, behavior: Behavior, status: int, message: str
) -> None:
    server.set_behavior("ollama", behavior)

    response = call(server, http, "ollama")

    assert response.status_code == status
    assert response.json() == {"error": message}


def test_ollama_requires_model(server: FakeProviderServer, http: httpx.Client) -> None:
    response = http.post(server.base_url("ollama") + "/api/chat", json={"messages": []})

    assert (response.status_code, response.json()) == (400, {"error": "model is required"})


def test_ollama_mid_stream_error_and_cut(server: FakeProviderServer, http: httpx.Client) -> None:
    server.enqueue("ollama", Behavior(text="a b c", stream_error_after=1), Behavior(cut_stream_after=2))

    _, failed = stream_events(server, http, "ollama")
    _, cut = stream_events(server, http, "ollama")

    assert content_pieces("ollama", failed) == ["a"]
    assert failed[-1].json() == {"error": "an error was encountered while running the model: unexpected EOF"}
    assert content_pieces("ollama", cut) == ["Hello", " from"]
    assert not has_terminator("ollama", cut)


def test_ollama_openai_compatible_api_needs_no_key(server: FakeProviderServer, http: httpx.Client) -> None:
    response = http.post(
        server.url + "/ollama/v1/chat/completions",
        json={"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]},
    )

    assert response.status_code == 200
    assert response.json()["object"] == "chat.completion"
    assert server.requests[0].provider == "ollama"


# ---------------------------------------------------------------- Azure


def test_azure_deployment_completion(server: FakeProviderServer, http: httpx.Client) -> None:
    response = call(server, http, "azure")

    assert response.status_code == 200
    assert response.headers["apim-request-id"] == response.headers["x-request-id"]
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "my-gpt-4o"
    assert body["choices"][0]["message"]["content"] == "Hello from azure my-gpt-4o."
    assert body["choices"][0]["content_filter_results"]["hate"] == {"filtered": False, "severity": "safe"}
    assert body["prompt_filter_results"][0]["prompt_index"] == 0
    request = server.requests[0]
    assert (request.provider, request.model) == ("azure", "my-gpt-4o")  # the deployment is the model
    assert request.path == "/azure/openai/deployments/my-gpt-4o/chat/completions"


def test_azure_stream_starts_with_prompt_filter_results(
    server: FakeProviderServer, http: httpx.Client
) -> None:
    _, events = stream_events(server, http, "azure")

    first = events[0].json()
    assert first["choices"] == []
    assert first["prompt_filter_results"][0]["content_filter_results"]["violence"]["filtered"] is False
    assert "".join(content_pieces("azure", events)) == "Hello from azure my-gpt-4o."
    chunks = [e.json() for e in events[1:-1]]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 4
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert events[-1].data == "[DONE]"


def test_azure_v1_route_uses_body_model(server: FakeProviderServer, http: httpx.Client) -> None:
    response = http.post(
        server.base_url("azure") + "/openai/v1/chat/completions",
        json={"model": "dep-v1", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": "Bearer entra-token"},
    )

    assert response.status_code == 200
    assert server.requests[0].model == "dep-v1"


def test_azure_needs_api_version_on_deployment_routes(server: FakeProviderServer, http: httpx.Client) -> None:
    response = http.post(
        server.base_url("azure") + "/openai/deployments/d/chat/completions",
        json={"messages": [{"role": "user", "content": "hi"}]},
        headers={"api-key": "k"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MissingApiVersionParameter"


def test_azure_needs_a_key(server: FakeProviderServer, http: httpx.Client) -> None:
    response = call(server, http, "azure", headers={"api-key": ""})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "401"


def test_azure_retry_headers(server: FakeProviderServer, http: httpx.Client) -> None:
    server.enqueue("azure", Behavior.error("rate_limit", provider="azure", retry_after=2))

    response = call(server, http, "azure")

    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.headers["retry-after-ms"] == "2000"
    assert response.headers["x-ms-retry-after-ms"] == "2000"
    assert response.json()["error"]["code"] == "429"


def test_azure_output_content_filter(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("azure", Behavior.error("content_filter_output", provider="azure"))

    body = call(server, http, "azure").json()
    _, events = stream_events(server, http, "azure")

    choice = body["choices"][0]
    assert choice["finish_reason"] == "content_filter"
    assert choice["content_filter_results"]["violence"] == {"filtered": True, "severity": "high"}
    finish = [e.json()["choices"][0] for e in events[1:-1] if e.json()["choices"]][-1]
    assert finish["finish_reason"] == "content_filter"
    assert finish["content_filter_results"]["violence"]["filtered"] is True


def test_azure_embeddings_route(server: FakeProviderServer, http: httpx.Client) -> None:
    response = http.post(
        server.base_url("azure") + f"/openai/deployments/emb/embeddings?api-version={AZURE_API_VERSION}",
        json={"input": "hello"},
        headers={"api-key": "k"},
    )

    assert response.status_code == 200
    assert len(response.json()["data"][0]["embedding"]) == 8
    assert server.requests[0].model == "emb"


def test_sse_parser_sees_azure_prelude_as_an_event(server: FakeProviderServer, http: httpx.Client) -> None:
    response = call(server, http, "azure", stream=True)

    assert parse_sse(response.content)[0].json()["id"] == ""
