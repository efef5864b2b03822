"""Embedding endpoints: OpenAI-style, Gemini and Ollama, checked with plain httpx."""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

import httpx
import pytest

from otel_llm.testing import Behavior, FakeProviderServer

OPENAI_AUTH = {"authorization": "Bearer sk-test"}
GEMINI_AUTH = {"x-goog-api-key": "g-test"}


def openai_embed(server: FakeProviderServer, http: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return http.post(server.base_url("openai") + "/embeddings", json=body, headers=OPENAI_AUTH)


def decode(encoded: str) -> list[float]:
    raw = base64.b64decode(encoded)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(v * v for v in vector))


# ---------------------------------------------------------------- OpenAI-style


def test_openai_embeddings_shape(server: FakeProviderServer, http: httpx.Client) -> None:
    response = openai_embed(server, http, {"model": "text-embedding-3-small", "input": ["a b", "c"]})

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert body["model"] == "text-embedding-3-small"
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert [(d["object"], d["index"]) for d in body["data"]] == [("embedding", 0), ("embedding", 1)]
    vectors = [d["embedding"] for d in body["data"]]
    assert [len(v) for v in vectors] == [8, 8]
    assert vectors[0] != vectors[1]
    assert all(abs(norm(v) - 1) < 1e-6 for v in vectors)
    assert server.requests[0].path == "/openai/v1/embeddings"
    assert server.requests[0].stream is False


def test_openai_embeddings_are_deterministic(server: FakeProviderServer, http: httpx.Client) -> None:
    first = openai_embed(server, http, {"model": "m", "input": "same text"}).json()
    second = openai_embed(server, http, {"model": "other", "input": ["x", "same text"]}).json()

    assert first["data"][0]["embedding"] == second["data"][1]["embedding"]


def test_openai_base64_is_little_endian_float32(server: FakeProviderServer, http: httpx.Client) -> None:
    floats = openai_embed(server, http, {"model": "m", "input": "hi"}).json()
    encoded = openai_embed(server, http, {"model": "m", "input": "hi", "encoding_format": "base64"}).json()

    assert isinstance(encoded["data"][0]["embedding"], str)
    assert decode(encoded["data"][0]["embedding"]) == floats["data"][0]["embedding"]


def test_openai_dimensions_truncate_and_renormalise(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openai", Behavior(embedding_dimensions=32))

    full = openai_embed(server, http, {"model": "m", "input": "hi"}).json()["data"][0]["embedding"]
    short = openai_embed(server, http, {"model": "m", "input": "hi", "dimensions": 4}).json()
    vector = short["data"][0]["embedding"]

    assert (len(full), len(vector)) == (32, 4)
    scale = norm(full[:4])
    assert vector == pytest.approx([v / scale for v in full[:4]], rel=1e-5)


def test_openai_token_array_inputs(server: FakeProviderServer, http: httpx.Client) -> None:
    single = openai_embed(server, http, {"model": "m", "input": [1, 2, 3]}).json()
    many = openai_embed(server, http, {"model": "m", "input": [[1, 2], [3]]}).json()

    assert (len(single["data"]), single["usage"]["prompt_tokens"]) == (1, 3)
    assert (len(many["data"]), many["usage"]["prompt_tokens"]) == (2, 3)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": "x"}, "Missing required parameter: 'model'."),
        ({"model": "m"}, "Missing required parameter: 'input'."),
        ({"model": "m", "input": []}, "Invalid type for 'input'"),
        ({"model": "m", "input": [1, "a"]}, "Invalid type for 'input'"),
        ({"model": "m", "input": "x", "encoding_format": "int8"}, "Invalid type for 'encoding_format'"),
        ({"model": "m", "input": "x", "dimensions": 0}, "Invalid type for 'dimensions'"),
        ({"model": 3, "input": "x"}, "Invalid type for 'model'"),
    ],
)
def test_openai_embeddings_validation(
    server: FakeProviderServer, http: httpx.Client, body: dict[str, Any], message: str
) -> None:
    response = openai_embed(server, http, body)

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(message)


def test_embeddings_share_auth_and_behaviors(server: FakeProviderServer, http: httpx.Client) -> None:
    server.enqueue("openai", Behavior.error("rate_limit", provider="openai"))

    unauthorized = http.post(server.base_url("openai") + "/embeddings", json={"model": "m", "input": "x"})
    limited = openai_embed(server, http, {"model": "m", "input": "x"})

    assert unauthorized.status_code == 401
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"


def test_embeddings_omit_usage(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openai", Behavior(omit_usage=True))

    assert "usage" not in openai_embed(server, http, {"model": "m", "input": "x"}).json()


def test_mistral_embeddings_have_an_id(server: FakeProviderServer, http: httpx.Client) -> None:
    response = http.post(
        server.base_url("mistral") + "/embeddings",
        json={"model": "mistral-embed", "input": ["x"], "output_dimension": 3},
        headers=OPENAI_AUTH,
    )

    body = response.json()
    assert body["id"].startswith("embd-")
    assert len(body["data"][0]["embedding"]) == 3


# ---------------------------------------------------------------- Gemini


def test_gemini_embed_content(server: FakeProviderServer, http: httpx.Client) -> None:
    response = http.post(
        server.base_url("gemini") + "/models/text-embedding-004:embedContent",
        json={"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 5},
        headers=GEMINI_AUTH,
    )

    assert response.status_code == 200
    values = response.json()["embedding"]["values"]
    assert len(values) == 5
    assert server.requests[0].model == "text-embedding-004"


def test_gemini_batch_embed_contents(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("gemini", Behavior(embedding_dimensions=3))
    requests = [
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]}},
        {
            "model": "models/text-embedding-004",
            "content": {"parts": [{"text": "a"}]},
            "outputDimensionality": 2,
        },
    ]

    response = http.post(
        server.base_url("gemini") + "/models/text-embedding-004:batchEmbedContents",
        json={"requests": requests},
        headers=GEMINI_AUTH,
    )

    embeddings = response.json()["embeddings"]
    assert [len(e["values"]) for e in embeddings] == [3, 2]


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("embedContent", {}),
        ("batchEmbedContents", {"requests": []}),
        ("batchEmbedContents", {"requests": [{"model": "m"}]}),
        ("embedContent", {"content": {"parts": []}, "outputDimensionality": -1}),
    ],
)
def test_gemini_embed_validation(
    server: FakeProviderServer, http: httpx.Client, action: str, body: dict[str, Any]
) -> None:
    response = http.post(
        server.base_url("gemini") + f"/models/text-embedding-004:{action}", json=body, headers=GEMINI_AUTH
    )

    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


# ---------------------------------------------------------------- Ollama


def test_ollama_embed(server: FakeProviderServer, http: httpx.Client) -> None:
    single = http.post(
        server.base_url("ollama") + "/api/embed", json={"model": "nomic-embed-text", "input": "a b"}
    )
    batch = http.post(
        server.base_url("ollama") + "/api/embed",
        json={"model": "nomic-embed-text", "input": ["a b", "c"], "dimensions": 4},
    )

    body = single.json()
    assert body["model"] == "nomic-embed-text"
    assert len(body["embeddings"]) == 1 and len(body["embeddings"][0]) == 8
    assert body["prompt_eval_count"] == 2
    assert (body["load_duration"], body["total_duration"]) == (1_000_000, 3_000_000)
    assert [len(v) for v in batch.json()["embeddings"]] == [4, 4]
    assert batch.json()["embeddings"][0] != batch.json()["embeddings"][1]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": "x"}, "model is required"),
        ({"model": "m", "input": 3}, "invalid input type"),
        ({"model": "m", "input": "x", "dimensions": "4"}, "dimensions must be a positive integer"),
    ],
)
def test_ollama_embed_validation(
    server: FakeProviderServer, http: httpx.Client, body: dict[str, Any], message: str
) -> None:
    response = http.post(server.base_url("ollama") + "/api/embed", json=body)

    assert (response.status_code, response.json()) == (400, {"error": message})


def test_behavior_rejects_bad_embedding_dimensions() -> None:
    with pytest.raises(ValueError, match="embedding_dimensions"):
        Behavior(embedding_dimensions=0)
