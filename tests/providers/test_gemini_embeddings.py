"""Gemini embeddings: `embedContent` for one input, `batchEmbedContents` for several."""

from __future__ import annotations

import json

import pytest

from otel_llm._exceptions import ProviderError, ProviderProtocolError, RateLimitError
from otel_llm._types import EmbeddingsRequest, EmbeddingsResponse, Usage
from otel_llm.providers import _base
from otel_llm.providers.gemini import GeminiGenerateContent

from ._support import API_KEY, JSON, assert_robust, endpoint, http_response, json_body, mangled

MODEL = "gemini-embedding-001"
BASE_URL = "https://generativelanguage.googleapis.com/v1beta"

ONE = EmbeddingsRequest(model=MODEL, inputs=("What is the meaning of life?",))
MANY = EmbeddingsRequest(
    model=MODEL,
    inputs=("What is the meaning of life?", "How much wood would a woodchuck chuck?"),
    dimensions=768,
)

# https://ai.google.dev/api/embeddings#EmbedContentResponse
EMBED_RESPONSE: JSON = {"embedding": {"values": [-0.0224, 0.0056, 0.0154, -0.0717]}}

# https://ai.google.dev/api/embeddings#BatchEmbedContentsResponse (same order as the requests)
BATCH_RESPONSE: JSON = {
    "embeddings": [
        {"values": [-0.0224, 0.0056, 0.0154, -0.0717]},
        {"values": [0.0312, -0.0127, 0.0048, 0.0261]},
    ]
}


@pytest.fixture
def provider() -> GeminiGenerateContent:
    return GeminiGenerateContent(endpoint("gemini", BASE_URL, "gcp.gemini"))


def test_gemini_is_an_embeddings_provider(provider: GeminiGenerateContent) -> None:
    assert isinstance(provider, _base.EmbeddingsProvider)


def test_one_input_uses_embed_content(provider: GeminiGenerateContent) -> None:
    built = provider.build_embeddings_request(ONE)

    assert built.method == "POST"
    assert str(built.url) == f"{BASE_URL}/models/{MODEL}:embedContent"
    assert built.headers["x-goog-api-key"] == API_KEY
    assert built.headers["content-type"] == "application/json"
    assert built.headers["x-otel-llm-attempt"] == "1"
    assert "key" not in built.url.params
    assert json_body(built) == {"content": {"parts": [{"text": "What is the meaning of life?"}]}}


def test_several_inputs_use_batch_embed_contents(provider: GeminiGenerateContent) -> None:
    built = provider.build_embeddings_request(MANY)

    assert str(built.url) == f"{BASE_URL}/models/{MODEL}:batchEmbedContents"
    assert json_body(built) == {
        "requests": [
            {
                "model": f"models/{MODEL}",
                "content": {"parts": [{"text": "What is the meaning of life?"}]},
                "outputDimensionality": 768,
            },
            {
                "model": f"models/{MODEL}",
                "content": {"parts": [{"text": "How much wood would a woodchuck chuck?"}]},
                "outputDimensionality": 768,
            },
        ]
    }


def test_dimensions_on_a_single_input(provider: GeminiGenerateContent) -> None:
    request = EmbeddingsRequest(model=MODEL, inputs=("hello",), dimensions=256, attempt=3)

    built = provider.build_embeddings_request(request)

    assert json_body(built) == {"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 256}
    assert built.headers["x-otel-llm-attempt"] == "3"


def test_without_key_no_credential_header() -> None:
    provider = GeminiGenerateContent(endpoint("gemini", BASE_URL, "gcp.gemini", api_key=None))

    assert "x-goog-api-key" not in provider.build_embeddings_request(ONE).headers


def test_parse_single_embedding_leaves_usage_unknown(provider: GeminiGenerateContent) -> None:
    parsed = provider.parse_embeddings_response(http_response(200, EMBED_RESPONSE), ONE)

    assert parsed == EmbeddingsResponse(vectors=((-0.0224, 0.0056, 0.0154, -0.0717),))
    # Gemini reports no tokens for embeddings: unknown, never zero.
    assert parsed.usage == Usage()
    assert parsed.model is None


def test_parse_batch_keeps_input_order(provider: GeminiGenerateContent) -> None:
    parsed = provider.parse_embeddings_response(http_response(200, BATCH_RESPONSE), MANY)

    assert parsed.vectors == ((-0.0224, 0.0056, 0.0154, -0.0717), (0.0312, -0.0127, 0.0048, 0.0261))
    assert parsed.usage == Usage()


def test_integer_values_become_floats(provider: GeminiGenerateContent) -> None:
    parsed = provider.parse_embeddings_response(http_response(200, {"embedding": {"values": [0, 1]}}), ONE)

    assert parsed.vectors == ((0.0, 1.0),)
    assert all(type(x) is float for x in parsed.vectors[0])


@pytest.mark.parametrize(
    ("request_", "body"),
    [
        pytest.param(MANY, {"embeddings": BATCH_RESPONSE["embeddings"][:1]}, id="fewer-vectors"),
        pytest.param(MANY, {"embeddings": BATCH_RESPONSE["embeddings"] * 2}, id="more-vectors"),
        pytest.param(ONE, BATCH_RESPONSE, id="batch-shape-for-one"),
        pytest.param(MANY, EMBED_RESPONSE, id="single-shape-for-many"),
        pytest.param(ONE, {"embedding": {"values": []}}, id="empty-vector"),
        pytest.param(ONE, {"embedding": {"values": ["0.1"]}}, id="string-value"),
        pytest.param(ONE, {"embedding": {"values": [True]}}, id="bool-value"),
        pytest.param(ONE, b"<html>502 Bad Gateway</html>", id="html"),
        pytest.param(ONE, json.dumps(EMBED_RESPONSE)[:30], id="truncated"),
    ],
)
def test_malformed_embeddings_are_protocol_errors(
    provider: GeminiGenerateContent, request_: EmbeddingsRequest, body: JSON
) -> None:
    with pytest.raises(ProviderProtocolError) as caught:
        provider.parse_embeddings_response(http_response(200, body), request_)

    assert caught.value.provider == "gemini"
    assert caught.value.model == MODEL
    assert caught.value.status_code == 200


def _checked(response: EmbeddingsResponse, request: EmbeddingsRequest) -> None:
    assert len(response.vectors) == len(request.inputs)
    assert all(vector and all(type(x) is float for x in vector) for vector in response.vectors)
    assert response.usage == Usage()


@pytest.mark.parametrize(
    ("request_", "fixture"), [(ONE, EMBED_RESPONSE), (MANY, BATCH_RESPONSE)], ids=["one", "many"]
)
def test_mangled_embeddings_parse_or_raise_provider_errors(
    provider: GeminiGenerateContent, request_: EmbeddingsRequest, fixture: JSON
) -> None:
    assert_robust(
        mangled(fixture),
        lambda body: _checked(
            provider.parse_embeddings_response(http_response(200, body), request_), request_
        ),
    )


def test_embeddings_errors_classify_like_chat_errors(provider: GeminiGenerateContent) -> None:
    # https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes
    body = {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}],
        }
    }

    error = provider.classify_error(http_response(429, body), MANY)

    assert isinstance(error, RateLimitError)
    assert isinstance(error, ProviderError)
    assert error.retry_after == 12.0
    assert error.model == MODEL
