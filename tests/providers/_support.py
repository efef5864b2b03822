"""Helpers shared by the provider tests: requests, responses, SSE streams and mangled JSON."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import httpx

from otel_llm._exceptions import ProviderError
from otel_llm._sse import SSEDecoder
from otel_llm._stream import StreamAccumulator
from otel_llm._types import ChatChunk, ChatRequest, ChatResponse, Message, StreamEvent, Usage
from otel_llm.providers._base import Endpoint, Provider, parsing

API_KEY = "sk-test-0123456789abcdef"

JSON = Any
"""A decoded JSON value in a fixture (fixtures are indexed freely, so not narrowed further)."""


def chat_request(model: str, *, messages: tuple[Message, ...] | None = None, **options: Any) -> ChatRequest:
    """A request for `model`; `options` are `ChatRequest` fields (temperature, stream, ...)."""
    return ChatRequest(model=model, messages=messages or (Message("user", "hi"),), **options)


def endpoint(name: str, base_url: str, semconv_name: str, api_key: str | None = API_KEY) -> Endpoint:
    return Endpoint(name=name, base_url=base_url, api_key=api_key, semconv_name=semconv_name)


def json_body(request: httpx.Request) -> dict[str, JSON]:
    """The JSON object a built request sends."""
    body = json.loads(request.content)
    assert isinstance(body, dict), body
    return body


def http_response(
    status: int,
    body: JSON | bytes | str,
    *,
    headers: Mapping[str, str] | None = None,
    request: httpx.Request | None = None,
) -> httpx.Response:
    """A fully read response; `body` is raw bytes, text, or a value to encode as JSON."""
    if isinstance(body, bytes):
        content = body
    elif isinstance(body, str):
        content = body.encode()
    else:
        content = json.dumps(body).encode()
    return httpx.Response(
        status,
        content=content,
        headers=dict(headers or {}),
        request=request or httpx.Request("POST", "https://provider.invalid/v1/chat"),
    )


def body_fragment(body: bytes) -> str:
    """A word from the start of `body` that any excerpt of it quotes ("" when there is none)."""
    word = re.search(r"[A-Za-z]{3,}", body[:40].decode("utf-8", errors="replace"))
    return word.group() if word else ""


# --- SSE streams -----------------------------------------------------------------------------------


def sse_data(payload: JSON, *, event: str | None = None, newline: str = "\n") -> str:
    """One SSE event block; `payload` is raw data text or a value to encode as JSON."""
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    head = f"event: {event}{newline}" if event is not None else ""
    return f"{head}data: {data}{newline}{newline}"


def sse_comment(text: str, *, newline: str = "\n") -> str:
    return f": {text}{newline}{newline}"


def sse_stream(blocks: Iterable[str]) -> bytes:
    return "".join(blocks).encode()


def parse_event(provider: Provider, request: ChatRequest, event: StreamEvent) -> ChatChunk | None:
    """Parse one event the way a client does: malformed events become `ProviderProtocolError`."""
    with parsing(provider.name, request, 200, event.data):
        return provider.parse_stream_event(event, request)


def run_stream(
    provider: Provider, request: ChatRequest, raw: bytes, *, chunk_size: int | None = None
) -> StreamAccumulator:
    """Decode `raw` (fed whole or in `chunk_size` pieces) and fold every chunk into an accumulator."""
    decoder = SSEDecoder()
    accumulator = StreamAccumulator()
    size = chunk_size or max(len(raw), 1)
    for start in range(0, len(raw), size):
        for event in decoder.feed(raw[start : start + size]):
            chunk = parse_event(provider, request, event)
            if chunk is not None:
                accumulator.add(chunk)
    return accumulator


def stream_events(raw: bytes) -> list[StreamEvent]:
    return SSEDecoder().feed(raw)


# --- Robustness ------------------------------------------------------------------------------------

# Values of every JSON type (and the edge cases of the typed getters: negative, float, bool, empty).
SUBSTITUTES: tuple[JSON, ...] = (None, 0, -1, 2.5, True, "x", "", [], [None], {}, {"k": "v"})


def mangled(value: JSON, path: str = "$") -> Iterator[tuple[str, JSON]]:
    """Every variant of `value` with one node replaced by a `SUBSTITUTES` value or one key dropped."""
    for substitute in SUBSTITUTES:
        yield f"{path} = {substitute!r}", substitute
    if isinstance(value, dict):
        for key, child in value.items():
            yield f"{path}.{key} dropped", {k: v for k, v in value.items() if k != key}
            for description, variant in mangled(child, f"{path}.{key}"):
                yield description, {**value, key: variant}
    elif isinstance(value, list):
        for i, child in enumerate(value):
            for description, variant in mangled(child, f"{path}[{i}]"):
                yield description, [*value[:i], variant, *value[i + 1 :]]


def check_usage(usage: Usage) -> None:
    """Token counts are unknown (`None`) or non-negative integers, never anything else."""
    for field in dataclasses.fields(Usage):
        if field.name in ("estimated", "billed_cost_usd"):
            continue
        count = getattr(usage, field.name)
        assert count is None or (type(count) is int and count >= 0), (field.name, count)


def assert_robust(variants: Iterable[tuple[str, JSON]], parse: Callable[[JSON], object]) -> int:
    """Each variant parses to a well-typed result or raises a `ProviderError`; returns the count."""
    failures: list[str] = []
    count = 0
    for description, variant in variants:
        count += 1
        try:
            result = parse(variant)
        except ProviderError:
            continue
        except Exception as exc:
            failures.append(f"{description}: {type(exc).__name__}: {exc}")
            continue
        if isinstance(result, ChatResponse):
            assert isinstance(result.text, str), description
            assert all(isinstance(r, str) for r in result.finish_reasons), description
            check_usage(result.usage)
        elif isinstance(result, ChatChunk):
            assert isinstance(result.delta, str), description
            if result.usage is not None:
                check_usage(result.usage)
        else:
            assert result is None or isinstance(result, ProviderError), (description, result)
    assert not failures, f"{len(failures)} of {count} variants escaped:\n" + "\n".join(failures[:20])
    return count
