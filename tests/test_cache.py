"""The response cache: request keys, the response codec, stream replay, configuration and the stores."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_llm._cache import (
    CacheConfig,
    CachedValue,
    CacheStore,
    MemoryCache,
    ResponseCache,
    SQLiteCache,
    TieredCache,
    build_cache,
)
from otel_llm._cache_codec import cache_key, decode, encode, replay_chunks
from otel_llm._exceptions import ConfigurationError
from otel_llm._stream import StreamAccumulator
from otel_llm._stream_session import starts_stream, visible
from otel_llm._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    ImagePart,
    JsonSchema,
    Message,
    Route,
    TextPart,
    Tool,
    ToolCall,
    Usage,
)

PROPERTY = settings(max_examples=150, deadline=None)


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- strategies -------------------------------------------------------------------------------------

small_text = st.sampled_from(["", "a", "b", "héllo"])
# No booleans: Python says True == 1, JSON (and so the key) does not; that case has its own test.
json_leaves = st.none() | st.integers(-2, 2) | st.sampled_from([0.5, 2.0, -0.0, math.inf]) | small_text
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(small_text, inner, max_size=2),
    max_leaves=4,
)
json_objects = st.dictionaries(small_text, json_values, max_size=2)

tool_calls = st.builds(
    ToolCall, id=small_text, name=small_text, arguments=json_objects, raw_arguments=small_text
)
parts = st.one_of(
    st.builds(TextPart, text=small_text),
    st.builds(ImagePart, url=st.sampled_from([None, "https://x/1.png"])),
    st.builds(ImagePart, data=st.sampled_from(["AAAA", "BBBB"]), media_type=st.just("image/png")),
)
messages = st.builds(
    Message,
    role=st.sampled_from(["user", "assistant", "tool"]),
    content=small_text | st.tuples(parts) | st.tuples(parts, parts),
    tool_calls=st.tuples() | st.tuples(tool_calls),
    tool_call_id=st.none() | small_text,
    name=st.none() | small_text,
)
tools = st.builds(Tool, name=small_text, description=st.none() | small_text, parameters=json_objects)
response_formats = st.none() | st.just("json") | st.builds(JsonSchema, name=small_text, schema=json_objects)

CHAT_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "model": st.sampled_from(["m1", "m2"]),
    "messages": st.lists(messages, min_size=1, max_size=2).map(tuple),
    "temperature": st.none() | st.sampled_from([0, 0.0, 0.5, 1, 1.0]),
    "top_p": st.none() | st.sampled_from([0.5, 1.0]),
    "max_tokens": st.none() | st.integers(1, 3),
    "stop": st.none() | st.lists(small_text, max_size=2).map(tuple),
    "seed": st.none() | st.integers(0, 2),
    "tools": st.lists(tools, max_size=2).map(tuple),
    "tool_choice": st.none() | st.sampled_from(["auto", "none", "required", "a"]),
    "response_format": response_formats,
    "stream": st.booleans(),
    "attempt": st.integers(1, 3),
}
chat_requests = st.fixed_dictionaries(CHAT_FIELDS).map(lambda fields: ChatRequest(**fields))
EMBEDDINGS_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "model": st.sampled_from(["e1", "e2"]),
    "inputs": st.lists(small_text, min_size=1, max_size=2).map(tuple),
    "dimensions": st.none() | st.integers(1, 2),
    "attempt": st.integers(1, 3),
}
embeddings_requests = st.fixed_dictionaries(EMBEDDINGS_FIELDS).map(lambda fields: EmbeddingsRequest(**fields))
route_lists = st.lists(
    st.builds(Route, st.sampled_from(["openai", "groq"]), st.sampled_from(["a", "b"])), max_size=2
)

optional_names = st.none() | st.text(min_size=1, max_size=8)
usages = st.builds(
    Usage,
    input_tokens=st.none() | st.integers(0, 10**9),
    output_tokens=st.none() | st.integers(0, 10**9),
    cache_read_input_tokens=st.none() | st.integers(0, 10**9),
    cache_write_input_tokens=st.none() | st.integers(0, 10**9),
    reasoning_output_tokens=st.none() | st.integers(0, 10**9),
    estimated=st.booleans(),
    billed_cost_usd=st.none() | st.decimals(allow_nan=False),
)
routes = st.none() | st.builds(Route, st.text(max_size=8), st.text(max_size=8))
costs = st.none() | st.decimals(allow_nan=False)
any_json_objects = st.dictionaries(
    st.text(max_size=5),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=8,
    ),
    max_size=3,
)
chat_responses = st.builds(
    ChatResponse,
    text=st.text(),
    model=optional_names,
    id=optional_names,
    finish_reasons=st.lists(
        st.sampled_from(["stop", "length", "tool_call", "content_filter"]), max_size=3
    ).map(tuple),
    usage=usages,
    tool_calls=st.lists(
        st.builds(ToolCall, st.text(max_size=5), st.text(max_size=5), any_json_objects, st.text(max_size=20)),
        max_size=3,
    ).map(tuple),
    refusal=st.none() | st.text(max_size=10),
    route=routes,
    cost_usd=costs,
)
embeddings_responses = st.builds(
    EmbeddingsResponse,
    vectors=st.lists(st.lists(st.floats(allow_nan=False), max_size=5).map(tuple), max_size=3).map(tuple),
    model=optional_names,
    usage=usages,
    route=routes,
    cost_usd=costs,
)


def rebuilt(value: object) -> object:
    """`value` built differently but equal: lists for tuples, reversed mappings, integral floats as ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: rebuilt(item) for key, item in reversed(value.items())}
    if isinstance(value, tuple):
        return [rebuilt(item) for item in value]
    if isinstance(value, list):
        return tuple(rebuilt(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(
            value, **{f.name: rebuilt(getattr(value, f.name)) for f in dataclasses.fields(value)}
        )
    return value


def same_content(request: ChatRequest | EmbeddingsRequest) -> ChatRequest | EmbeddingsRequest:
    if isinstance(request, ChatRequest):
        return dataclasses.replace(request, stream=False, attempt=1)
    return dataclasses.replace(request, attempt=1)


# --- keys ---------------------------------------------------------------------------------------------


@PROPERTY
@given(request=chat_requests | embeddings_requests, routes=route_lists)
def test_equal_requests_built_differently_share_a_key(
    request: ChatRequest | EmbeddingsRequest, routes: list[Route]
) -> None:
    other = rebuilt(request)
    assert isinstance(other, (ChatRequest, EmbeddingsRequest))
    other = dataclasses.replace(other, attempt=other.attempt + 1)
    if isinstance(other, ChatRequest):
        other = dataclasses.replace(other, stream=not other.stream)
    key = cache_key(routes, request)
    assert cache_key(tuple(routes), other) == key
    assert len(key) == 64 and int(key, 16) >= 0


@PROPERTY
@given(request=chat_requests, data=st.data())
def test_a_chat_key_changes_exactly_when_the_content_does(request: ChatRequest, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(CHAT_FIELDS)))
    changed = dataclasses.replace(request, **{name: data.draw(CHAT_FIELDS[name])})
    routes = [Route("openai", "m1")]
    assert (cache_key(routes, request) == cache_key(routes, changed)) == (
        same_content(request) == same_content(changed)
    )


@PROPERTY
@given(request=embeddings_requests, data=st.data())
def test_an_embeddings_key_changes_exactly_when_the_content_does(
    request: EmbeddingsRequest, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(EMBEDDINGS_FIELDS)))
    changed = dataclasses.replace(request, **{name: data.draw(EMBEDDINGS_FIELDS[name])})
    routes = [Route("openai", "e1")]
    assert (cache_key(routes, request) == cache_key(routes, changed)) == (
        same_content(request) == same_content(changed)
    )


@PROPERTY
@given(request=chat_requests | embeddings_requests, first=route_lists, second=route_lists)
def test_the_routes_and_their_order_are_part_of_the_key(
    request: ChatRequest | EmbeddingsRequest, first: list[Route], second: list[Route]
) -> None:
    assert (cache_key(first, request) == cache_key(second, request)) == (first == second)


def test_json_types_python_calls_equal_still_get_different_keys() -> None:
    def request(value: object) -> ChatRequest:
        schema = JsonSchema("s", {"type": "object", "properties": {"x": {"const": value}}})
        return ChatRequest("m", (Message("user", "hi"),), response_format=schema)

    keys = {cache_key([], request(value)) for value in (True, 1, "1", None)}
    assert len(keys) == 4


def test_text_content_and_a_text_part_are_different_requests() -> None:
    as_text = ChatRequest("m", (Message("user", "hi"),))
    as_part = ChatRequest("m", (Message("user", (TextPart("hi"),)),))
    assert cache_key([], as_text) != cache_key([], as_part)


def test_chat_and_embeddings_keys_never_meet() -> None:
    assert cache_key([], ChatRequest("m", ())) != cache_key([], EmbeddingsRequest("m", ()))


def test_values_json_cannot_represent_are_keyed_by_repr() -> None:
    def request(value: object) -> ChatRequest:
        return ChatRequest("m", (Message("user", "hi"),), tools=(Tool("t", parameters={"enum": value}),))

    assert cache_key([], request(Decimal("1.5"))) == cache_key([], request(Decimal("1.5")))
    assert cache_key([], request(Decimal("1.5"))) != cache_key([], request("1.5"))
    assert cache_key([], request(Decimal("1.5"))) != cache_key([], request(Decimal("2.5")))


def test_keys_are_stable_across_processes() -> None:
    code = (
        "from otel_llm._cache_codec import cache_key\n"
        "from otel_llm._types import ChatRequest, Message, Route, Tool\n"
        "tool = Tool('t', parameters={'b': 1, 'a': [1.0, 'x']})\n"
        "request = ChatRequest('gpt', (Message('user', 'hi'),), tools=(tool,))\n"
        "print(cache_key([Route('openai', 'gpt')], request))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    tool = Tool("t", parameters={"a": [1, "x"], "b": 1.0})
    assert outputs == {
        cache_key([Route("openai", "gpt")], ChatRequest("gpt", (Message("user", "hi"),), tools=(tool,)))
    }


# --- codec --------------------------------------------------------------------------------------------


@PROPERTY
@given(response=chat_responses | embeddings_responses)
def test_the_codec_is_lossless(response: ChatResponse | EmbeddingsResponse) -> None:
    data = encode(response)
    decoded = decode(data)
    assert decoded == response
    assert decoded is not None and encode(decoded) == data


def test_the_codec_keeps_decimal_precision_surrogates_and_nan_vectors() -> None:
    chat = ChatResponse(
        "\ud800 lone", cost_usd=Decimal("0.00150"), usage=Usage(billed_cost_usd=Decimal("1E-9"))
    )
    decoded = decode(encode(chat))
    assert decoded == chat
    assert isinstance(decoded, ChatResponse) and str(decoded.cost_usd) == "0.00150"
    embeddings = decode(encode(EmbeddingsResponse(((math.nan, -0.0, 5e-324),))))
    assert isinstance(embeddings, EmbeddingsResponse)
    (vector,) = embeddings.vectors
    assert math.isnan(vector[0]) and math.copysign(1.0, vector[1]) == -1.0 and vector[2] == 5e-324


def document(response: ChatResponse | EmbeddingsResponse) -> dict[str, object]:
    loaded = json.loads(encode(response))
    assert isinstance(loaded, dict)
    return loaded


CHAT = ChatResponse(
    "hi",
    model="m",
    id="r1",
    finish_reasons=("stop",),
    usage=Usage(1, 2),
    tool_calls=(ToolCall.from_json("c", "f", '{"a": 1}'),),
    route=Route("openai", "m"),
    cost_usd=Decimal("0.1"),
)
EMBEDDINGS = EmbeddingsResponse(((1.0, 2.0),), model="e", usage=Usage(3), route=Route("openai", "e"))


@pytest.mark.parametrize(
    ("base", "path", "value"),
    [
        (CHAT, ("format",), 2),
        (CHAT, ("kind",), "image"),
        (CHAT, ("kind",), ["chat"]),
        (CHAT, ("text",), 5),
        (CHAT, ("model",), ["m"]),
        (CHAT, ("finish_reasons",), "stop"),
        (CHAT, ("finish_reasons",), [None]),
        (CHAT, ("usage",), None),
        (CHAT, ("usage", "input_tokens"), True),
        (CHAT, ("usage", "output_tokens"), "2"),
        (CHAT, ("usage", "estimated"), None),
        (CHAT, ("usage", "billed_cost_usd"), "lots"),
        (CHAT, ("tool_calls",), [["c", "f"]]),
        (CHAT, ("tool_calls", 0, "arguments"), "{}"),
        (CHAT, ("tool_calls", 0, "raw_arguments"), None),
        (CHAT, ("route",), ["openai"]),
        (CHAT, ("route",), {"provider": "openai", "model": "m"}),
        (CHAT, ("route",), ["openai", 1]),
        (CHAT, ("cost_usd",), 0.1),
        (CHAT, ("cost_usd",), "0.1.2"),
        (EMBEDDINGS, ("vectors",), ["not base64!"]),
        (EMBEDDINGS, ("vectors",), ["AAAAAAAA"]),  # 6 bytes: not whole float64s
        (EMBEDDINGS, ("vectors",), [[1.0, 2.0]]),
        (EMBEDDINGS, ("vectors",), None),
    ],
)
def test_a_damaged_entry_decodes_as_a_miss(
    base: ChatResponse | EmbeddingsResponse, path: tuple[str | int, ...], value: object
) -> None:
    doc = document(base)
    target: object = doc
    for step in path[:-1]:
        target = target[step]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    assert decode(json.dumps(doc).encode()) is None


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xfe", b"not json", b"[]", b"null", b'{"kind": "chat"}', b"[" * 100_000, b'"\\ud800"'],
)
def test_garbage_decodes_as_a_miss(data: bytes) -> None:
    assert decode(data) is None


@PROPERTY
@given(data=st.binary(max_size=64))
def test_random_bytes_never_raise(data: bytes) -> None:
    result = decode(data)
    assert result is None or isinstance(result, (ChatResponse, EmbeddingsResponse))


@PROPERTY
@given(
    response=chat_responses | embeddings_responses,
    name=st.sampled_from(
        [
            "format",
            "kind",
            "text",
            "model",
            "id",
            "finish_reasons",
            "usage",
            "tool_calls",
            "refusal",
            "route",
            "cost_usd",
            "vectors",
        ]
    ),
    value=any_json_objects
    | st.lists(st.none() | st.integers() | st.text(max_size=3))
    | st.integers()
    | st.text(),
)
def test_any_decoded_entry_is_well_typed(
    response: ChatResponse | EmbeddingsResponse, name: str, value: object
) -> None:
    doc = document(response)
    doc[name] = value
    decoded = decode(json.dumps(doc).encode())
    # None, or a lucky value of the right shape: then the response behaves like any other.
    assert decoded is None or decode(encode(decoded)) == decoded


# --- replay ---------------------------------------------------------------------------------------------


def fold(chunks: tuple[ChatChunk, ...]) -> StreamAccumulator:
    accumulator = StreamAccumulator()
    for chunk in chunks:
        accumulator.add(chunk)
    return accumulator


replayable_tool_calls = st.one_of(
    st.builds(ToolCall.from_json, st.text(max_size=5), st.text(max_size=5), st.text(max_size=20)),
    st.builds(ToolCall.from_object, st.text(max_size=5), st.text(max_size=5), any_json_objects),
)
replayable_responses = st.builds(
    ChatResponse,
    text=st.text(),
    model=optional_names,
    id=optional_names,
    finish_reasons=st.lists(st.sampled_from(["stop", "length", "tool_call"]), max_size=3).map(tuple),
    usage=usages,
    tool_calls=st.lists(replayable_tool_calls, max_size=3).map(tuple),
    refusal=st.none() | st.text(max_size=10),
    route=routes,
    cost_usd=costs,
).filter(lambda r: not (r.tool_calls and r.finish_reasons in ((), ("stop",))))


@PROPERTY
@given(response=replayable_responses)
def test_replayed_chunks_fold_back_into_the_response(response: ChatResponse) -> None:
    chunks = replay_chunks(response)
    accumulator = fold(chunks)
    assert accumulator.completed
    assert [chunk.final for chunk in chunks] == [False] * (len(chunks) - 1) + [True]
    assert starts_stream(chunks)
    assert visible(chunks[:-1]) == list(chunks[:-1])  # only the closing chunk may be bare usage
    carried = dataclasses.replace(
        accumulator.response(), route=response.route, cost_usd=response.cost_usd, refusal=response.refusal
    )
    assert carried == response


def test_a_replayed_tool_turn_ending_in_stop_reads_as_a_live_stream_would() -> None:
    response = ChatResponse("", finish_reasons=("stop",), tool_calls=(ToolCall.from_json("c", "f", "{}"),))
    assert fold(replay_chunks(response)).response().finish_reasons == ("tool_call",)


def test_replay_sends_text_tool_calls_then_the_finish() -> None:
    chunks = replay_chunks(CHAT)
    assert [(c.delta, len(c.tool_calls), c.finish_reason, c.usage, c.final) for c in chunks] == [
        ("hi", 0, None, None, False),
        ("", 1, None, None, False),
        ("", 0, "stop", Usage(1, 2), True),
    ]
    assert {(c.id, c.model) for c in chunks} == {("r1", "m")}


# --- configuration ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"enabled": "yes"}, "cache.enabled"),
        ({"max_entries": 0}, "cache.max_entries"),
        ({"max_entries": True}, "cache.max_entries"),
        ({"max_entries": 1.5}, "cache.max_entries"),
        ({"ttl": 0}, "cache.ttl"),
        ({"ttl": math.inf}, "cache.ttl"),
        ({"ttl": "60"}, "cache.ttl"),
        ({"ttl": False}, "cache.ttl"),
        ({"sqlite_path": ""}, "cache.sqlite_path"),
        ({"sqlite_path": ":memory:"}, "cache.sqlite_path"),
        ({"sqlite_path": b"cache.db"}, "cache.sqlite_path"),
        ({"sqlite_path": 3}, "cache.sqlite_path"),
    ],
)
def test_invalid_configuration_names_the_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        CacheConfig(**options)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_a_disabled_cache_builds_nothing() -> None:
    assert build_cache(CacheConfig(enabled=False)) is None


def test_the_factory_builds_memory_or_tiered_caches(tmp_path: Path) -> None:
    memory_only = build_cache(CacheConfig(max_entries=2))
    assert memory_only is not None and isinstance(memory_only.store, MemoryCache)
    tiered = build_cache(CacheConfig(sqlite_path=tmp_path / "cache.db"))
    assert tiered is not None and isinstance(tiered.store, TieredCache)
    with tiered:
        tiered.put("k", CHAT)
        assert tiered.get("k", ChatResponse) == CHAT
    reopened = build_cache(CacheConfig(sqlite_path=str(tmp_path / "cache.db")))
    assert reopened is not None
    with reopened:
        assert reopened.get("k", ChatResponse) == CHAT


@pytest.mark.parametrize("kind", ["directory", "garbage"])
def test_an_unusable_sqlite_file_is_a_configuration_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "cache.db"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"this is not a database, only some bytes " * 100)
    with pytest.raises(ConfigurationError) as caught:
        build_cache(CacheConfig(sqlite_path=path))
    assert caught.value.field == "cache.sqlite_path"
    assert isinstance(caught.value.__cause__, sqlite3.Error)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda p: SQLiteCache(p, ttl=-1), "ttl"),
        (lambda p: SQLiteCache(p, purge_every=0), "purge_every"),
        (lambda p: SQLiteCache(p, purge_limit=0), "purge_limit"),
        (lambda p: SQLiteCache(":memory:"), "path"),
        (lambda p: MemoryCache(max_entries=0), "max_entries"),
        (lambda p: MemoryCache(ttl=math.nan), "ttl"),
    ],
)
def test_invalid_store_arguments_name_the_argument(
    tmp_path: Path, build: Callable[[Path], object], field: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        build(tmp_path / "cache.db")
    assert caught.value.field == field


# --- memory --------------------------------------------------------------------------------------------


def test_memory_evicts_the_least_recently_used() -> None:
    cache = MemoryCache(max_entries=3, clock=Clock())
    for key in "abc":
        cache.put(key, key.encode())
    assert cache.get("a") is not None  # a is now the most recently used: b is the oldest
    cache.put("d", b"d")
    assert cache.get("b") is None
    cache.put("c", b"c2")  # overwriting refreshes c: a is the oldest now
    cache.put("e", b"e")
    assert [key for key in "abcde" if cache.get(key) is not None] == ["c", "d", "e"]
    assert cache.get("c") == CachedValue(b"c2", 3600.0)


def test_memory_entries_expire_after_their_ttl() -> None:
    clock = Clock()
    cache = MemoryCache(ttl=10, clock=clock)
    cache.put("k", b"v")
    cache.put("short", b"v", ttl=2)
    cache.put("capped", b"v", ttl=100)  # never beyond the store's own TTL
    clock.now += 4
    assert cache.get("k") == CachedValue(b"v", 6.0)
    assert cache.get("short") is None
    clock.now += 6
    assert cache.get("k") is None
    assert cache.get("capped") is None


def test_memory_close_drops_everything() -> None:
    with MemoryCache() as cache:
        cache.put("k", b"v")
    assert cache.get("k") is None


def test_memory_is_consistent_under_threads() -> None:
    cache = MemoryCache(max_entries=50)
    errors: list[str] = []

    def work(worker: int) -> None:
        for i in range(500):
            key = f"{worker}-{i % 80}"
            cache.put(key, key.encode())
            hit = cache.get(key)
            if hit is not None and hit.data != key.encode():
                errors.append(key)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(cache.get(f"{w}-{i}") is not None for w in range(8) for i in range(80)) == 50


# --- SQLite ---------------------------------------------------------------------------------------------


def rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as connection:
        result = connection.execute(
            "SELECT key, value, expires_at FROM otel_llm_responses ORDER BY key"
        ).fetchall()
    connection.close()
    return result


def execute(path: Path, sql: str, *parameters: object) -> None:
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(sql, parameters)
    connection.close()


def test_sqlite_round_trips_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    with SQLiteCache(path, ttl=60, wall_clock=Clock(100.0)) as cache:
        cache.put("k", b"\x00value")
        assert cache.get("k") == CachedValue(b"\x00value", 60.0)
        assert cache.get("missing") is None
    assert rows(path) == [("k", b"\x00value", 160.0)]
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    connection.close()


def test_sqlite_rows_expire_on_read(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    clock = Clock(100.0)
    with SQLiteCache(path, ttl=60, wall_clock=clock) as cache:
        cache.put("k", b"v")
        cache.put("short", b"v", ttl=5)
        clock.now = 130.0
        assert cache.get("k") == CachedValue(b"v", 30.0)
        assert cache.get("short") is None
        assert [key for key, _, _ in rows(path)] == ["k"]
        clock.now = 160.0
        assert cache.get("k") is None
        assert rows(path) == []


def test_sqlite_purges_a_bounded_number_of_expired_rows_now_and_then(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    clock = Clock(100.0)
    with SQLiteCache(path, ttl=10, wall_clock=clock, purge_every=3, purge_limit=2) as cache:
        for key in ("old1", "old2", "old3"):  # the third write purges: nothing has expired yet
            cache.put(key, b"v")
        clock.now = 200.0
        cache.put("new1", b"v")
        cache.put("new2", b"v")
        assert len(rows(path)) == 5
        cache.put("new3", b"v")  # the sixth write purges two of the three expired rows
        keys = [str(key) for key, _, _ in rows(path)]
        assert len(keys) == 4 and keys[:3] == ["new1", "new2", "new3"]


def test_two_connections_share_entries(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    with SQLiteCache(path) as first, SQLiteCache(path) as second:
        first.put("k", b"from first")
        assert second.get("k") is not None
        second.put("k", b"from second")
        hit = first.get("k")
        assert hit is not None and hit.data == b"from second"


def test_another_process_sees_entries_and_writes_its_own(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    with SQLiteCache(path) as cache:
        cache.put("parent", encode(CHAT))
        code = (
            "import sys\n"
            "from otel_llm._cache import SQLiteCache\n"
            "with SQLiteCache(sys.argv[1]) as cache:\n"
            "    hit = cache.get('parent')\n"
            "    cache.put('child', hit.data + b' ')\n"
        )
        subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60)
        hit = cache.get("child")
        assert hit is not None and decode(hit.data) == CHAT


def test_each_thread_gets_a_connection_and_dead_threads_release_theirs(tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path / "cache.db")
    seen: list[bool] = []
    together = threading.Barrier(4, timeout=30)

    def work(n: int) -> None:
        cache.put(f"k{n}", b"v")
        seen.append(cache.get(f"k{n}") is not None)
        together.wait()  # all four alive at once, each with its own connection

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [True] * 4
    assert len(cache._connections) == 4
    assert cache.get("k0") is not None  # this thread's first use sweeps the dead threads' connections
    assert list(cache._connections) == [threading.current_thread()]
    cache.close()


def test_a_forked_child_opens_its_own_connections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = SQLiteCache(tmp_path / "cache.db")
    cache.put("k", b"v")
    (inherited,) = cache._connections.values()
    monkeypatch.setattr(os, "getpid", lambda: -1)
    assert cache.get("k") is not None
    assert cache._connections[threading.current_thread()] is not inherited
    inherited.close()
    cache.close()


@pytest.mark.parametrize(
    ("value", "expires_at"), [("text, not bytes", 1e12), (b"v", "soon"), (b"v", None), (7, 1e12)]
)
def test_a_malformed_row_is_a_miss(tmp_path: Path, value: object, expires_at: object) -> None:
    path = tmp_path / "cache.db"
    with SQLiteCache(path) as cache:
        execute(path, "DROP TABLE otel_llm_responses")
        execute(path, "CREATE TABLE otel_llm_responses (key TEXT PRIMARY KEY, value, expires_at)")
        execute(path, "INSERT INTO otel_llm_responses VALUES ('k', ?, ?)", value, expires_at)
        assert cache.get("k") is None
        cache.put("k", b"good")
        assert cache.get("k") is not None


def test_a_corrupt_value_is_a_miss_of_the_response_cache(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    with ResponseCache(SQLiteCache(path)) as cache:
        cache.put("k", CHAT)
        execute(path, "UPDATE otel_llm_responses SET value = ?", b'{"format": 1, "kind": "chat", "text": ')
        assert cache.get("k", ChatResponse) is None


def test_database_errors_are_logged_misses(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "cache.db"
    with SQLiteCache(path) as cache:
        execute(path, "DROP TABLE otel_llm_responses")
        with caplog.at_level(logging.WARNING, logger="otel_llm.cache"):
            cache.put("k", b"v")
            assert cache.get("k") is None
    messages = [record.getMessage() for record in caplog.records]
    assert [message.split(str(path))[0] for message in messages] == [
        "response cache: writing ",
        "response cache: reading ",
    ]
    assert all("no such table" in message for message in messages)


def test_a_closed_sqlite_cache_refuses_use(tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path / "cache.db")
    cache.put("k", b"v")
    cache.close()
    with pytest.raises(RuntimeError, match="closed"):
        cache.get("k")


# --- tiers and the response cache ------------------------------------------------------------------------


class RecordingStore:
    """A store that remembers what was asked of it."""

    def __init__(self, fail_close: bool = False) -> None:
        self.entries: dict[str, CachedValue] = {}
        self.calls: list[tuple[str, str, float | None]] = []
        self.closed = False
        self._fail_close = fail_close

    def get(self, key: str) -> CachedValue | None:
        self.calls.append(("get", key, None))
        return self.entries.get(key)

    def put(self, key: str, data: bytes, *, ttl: float | None = None) -> None:
        self.calls.append(("put", key, ttl))
        self.entries[key] = CachedValue(data, ttl or 3600.0)

    def close(self) -> None:
        self.closed = True
        if self._fail_close:
            raise OSError("close failed")


def test_tiered_reads_memory_first_and_promotes_shared_hits() -> None:
    clock = Clock()
    memory, shared = MemoryCache(ttl=100, clock=clock), RecordingStore()
    store: CacheStore = TieredCache(memory, shared)
    shared.entries["k"] = CachedValue(b"v", 30.0)
    assert store.get("k") == CachedValue(b"v", 30.0)
    assert memory.get("k") == CachedValue(b"v", 30.0)  # promoted for what the shared entry has left
    assert store.get("k") == CachedValue(b"v", 30.0)
    assert shared.calls == [("get", "k", None)]
    clock.now += 30  # expired in memory: read from the shared tier again
    assert store.get("k") == CachedValue(b"v", 30.0)
    assert store.get("absent") is None
    assert shared.calls == [("get", "k", None), ("get", "k", None), ("get", "absent", None)]


def test_tiered_writes_both_tiers_and_closes_both() -> None:
    memory, shared = RecordingStore(fail_close=True), RecordingStore()
    with pytest.raises(OSError, match="close failed"), TieredCache(memory, shared) as store:
        store.put("k", b"v", ttl=5)
    assert memory.calls == shared.calls == [("put", "k", 5)]
    assert memory.closed and shared.closed


def test_the_response_cache_returns_only_the_kind_asked_for() -> None:
    cache = ResponseCache(MemoryCache())
    cache.put("chat", CHAT)
    cache.put("embeddings", EMBEDDINGS)
    assert cache.get("chat", ChatResponse) == CHAT
    assert cache.get("embeddings", EmbeddingsResponse) == EMBEDDINGS
    assert cache.get("chat", EmbeddingsResponse) is None
    assert cache.get("absent", ChatResponse) is None


def circular() -> dict[str, object]:
    arguments: dict[str, object] = {}
    arguments["self"] = arguments
    return arguments


@pytest.mark.parametrize(
    "odd",
    [
        ChatResponse("", tool_calls=(ToolCall("c", "f", {"when": object()}),)),
        ChatResponse("", tool_calls=(ToolCall("c", "f", circular()),)),
        EmbeddingsResponse(((1.0, None),)),  # type: ignore[arg-type]
    ],
)
def test_a_response_that_cannot_be_encoded_is_not_stored(
    odd: ChatResponse | EmbeddingsResponse, caplog: pytest.LogCaptureFixture
) -> None:
    store = RecordingStore()
    cache = ResponseCache(store)
    with caplog.at_level(logging.WARNING, logger="otel_llm.cache"):
        cache.put("k", odd)
    assert store.calls == []
    assert "not cacheable" in caplog.text


def test_nothing_imports_sqlite3_or_asyncio_before_use() -> None:
    code = "import sys, otel_llm._cache; print(sorted({'sqlite3', 'asyncio'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
