"""Property-based fuzzing of every built-in provider's parsers and of both stream framings.

Whatever bytes or JSON arrive, a parser returns a result or raises one of our `ProviderError`s: never a
KeyError, TypeError, AttributeError, RecursionError or anything else.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_llm._exceptions import ProviderError
from otel_llm._ndjson import NDJSONDecoder
from otel_llm._sse import SSEDecoder
from otel_llm._types import ChatRequest, EmbeddingsRequest, Message, StreamEvent
from otel_llm.providers import BUILTIN, Endpoint, Provider
from otel_llm.providers._base import EmbeddingsProvider, parsing

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
REQUEST = ChatRequest(model="m", messages=(Message("user", "hi"),))
EMBEDDINGS = EmbeddingsRequest(model="m", inputs=("a", "b"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
# Bodies shaped like the real ones, so fuzzing reaches deep into the parsers, not just the JSON check.
KEYS = ["choices", "message", "content", "usage", "candidates", "parts", "text", "type", "delta", "error",
        "tool_calls", "function", "arguments", "index", "finish_reason", "stop_reason", "usageMetadata",
        "data", "embedding", "embeddings", "values", "done", "prompt_eval_count", "eval_count",
        "cost"]  # fmt: skip
shaped_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-3, max_value=10**6) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS), children, max_size=6)
    ),
    max_leaves=30,
)


def provider(name: str) -> Provider:
    spec = BUILTIN[name]
    return spec.wire(Endpoint(name, spec.base_url or "https://fuzz.example/v1", "key", spec.semconv_name))


def response(status: int, body: bytes) -> httpx.Response:
    return httpx.Response(status, content=body, request=httpx.Request("POST", "https://fuzz.example/v1"))


def expect_result_or_provider_error(call: Any) -> None:
    with contextlib.suppress(ProviderError):  # anything else propagates and fails the test
        call()


@pytest.mark.parametrize("name", sorted(BUILTIN))
@FUZZ
@given(
    body=st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | shaped_values.map(lambda v: json.dumps(v).encode())
)
def test_response_parsers_never_leak_foreign_exceptions(name: str, body: bytes) -> None:
    wire = provider(name)
    expect_result_or_provider_error(lambda: wire.parse_response(response(200, body), REQUEST))
    if isinstance(wire, EmbeddingsProvider):
        expect_result_or_provider_error(
            lambda: wire.parse_embeddings_response(response(200, body), EMBEDDINGS)
        )


@pytest.mark.parametrize("name", sorted(BUILTIN))
@FUZZ
@given(
    status=st.integers(min_value=400, max_value=599),
    body=st.binary(max_size=200) | shaped_values.map(lambda v: json.dumps(v).encode()),
)
def test_error_classification_always_returns_a_provider_error(name: str, status: int, body: bytes) -> None:
    error = provider(name).classify_error(response(status, body), REQUEST)
    assert isinstance(error, ProviderError)
    assert error.status_code == status


ANTHROPIC_EVENTS = [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "message_delta",
    "message_stop",
]


@pytest.mark.parametrize("name", sorted(BUILTIN))
@FUZZ
@given(
    data=st.text(max_size=200) | shaped_values.map(json.dumps),
    event=st.sampled_from([None, "error", *ANTHROPIC_EVENTS]),
)
def test_stream_event_parsers_never_leak_foreign_exceptions(name: str, data: str, event: str | None) -> None:
    wire = provider(name)

    def parse() -> None:
        with parsing(wire.name, REQUEST, 200, data):
            wire.parse_stream_event(StreamEvent(data, event), REQUEST)

    expect_result_or_provider_error(parse)


@FUZZ
@given(body=st.binary(max_size=400), cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_framings_accept_any_bytes_split_anywhere(body: bytes, cuts: list[int]) -> None:
    for decoder_type in (SSEDecoder, NDJSONDecoder):
        whole = decoder_type().feed(body)
        decoder = decoder_type()
        pieces, start = [], 0
        for cut in sorted({min(c, len(body)) for c in cuts}):
            pieces.append(body[start:cut])
            start = cut
        pieces.append(body[start:])
        split = [event for piece in pieces for event in decoder.feed(piece)]
        assert split == whole  # the same events however the bytes were chunked
