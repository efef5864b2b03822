"""The pure side of the response cache: request keys, response bytes, cached answers replayed as streams.

Nothing here touches a clock, a file or a lock. Keys are the SHA-256 of a canonical JSON rendering of
what decides the answer; values are versioned JSON documents that decode back to equal responses, or to
`None` when they are damaged: a cache entry can miss, it can never break a call.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import struct
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Final, TypeVar

from otel_llm._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    Route,
    ToolCall,
    ToolCallDelta,
    Usage,
)

KEY_VERSION: Final = 1
"""Bumped whenever the canonical form changes, so that old entries simply stop matching."""
FORMAT_VERSION: Final = 1
"""Version of the stored document; a document of another version decodes as a miss."""

# Fields that never change the answer: the attempt counter is a header for provider logs, and a
# streamed call shares its entry with a plain one so that streams can replay from the cache.
_IGNORED_FIELDS: Final[Mapping[type, frozenset[str]]] = {
    ChatRequest: frozenset({"stream", "attempt"}),
    EmbeddingsRequest: frozenset({"attempt"}),
}
_USAGE_COUNTS: Final = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_write_input_tokens",
    "reasoning_output_tokens",
)
_FLOAT64: Final = struct.Struct("<d")


def cache_key(routes: Sequence[Route], request: ChatRequest | EmbeddingsRequest) -> str:
    """The cache key of a call: a SHA-256 hex digest of its normalised content.

    Everything that can change the answer takes part (the routes in order, the messages with all
    their parts, tools, tool choice, response format, sampling parameters, stop sequences, seed,
    embedding inputs and dimensions); `attempt` and `stream` do not. Mapping keys are sorted, tuples
    and lists are alike, and an integral float equals the integer (`temperature=1` is `1.0`), so
    equal requests get equal keys however they were built. A value JSON cannot represent is keyed by
    its type and `repr`, which at worst makes the request miss.

    Args:
        routes: The call's routes, first choice first.
        request: The normalised request.

    Returns:
        64 lowercase hex digits.
    """
    document = {
        "version": KEY_VERSION,
        "routes": [_canonical(route) for route in routes],
        "request": _canonical(request),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _canonical(value: object) -> object:
    """`value` as plain JSON data in which equal values look the same."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        ignored = _IGNORED_FIELDS.get(type(value), frozenset())
        document = {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$type": type(value).__name__} | {k: v for k, v in document.items() if k not in ignored}
    return {"$type": type(value).__qualname__, "$repr": repr(value)}


# --- values ---------------------------------------------------------------------------------------


def encode(response: ChatResponse | EmbeddingsResponse) -> bytes:
    """A response as the bytes a cache stores (versioned JSON).

    Every field survives the round trip through `decode`: Decimals travel as strings, embedding
    vectors as base64 of little-endian float64 (exact, and far smaller than decimal text).

    Args:
        response: A successful response.

    Returns:
        UTF-8 JSON.

    Raises:
        TypeError: A value has no JSON form (tool arguments) or is not a number (embeddings).
        ValueError: Tool arguments refer to themselves.
    """
    common: dict[str, object] = {
        "format": FORMAT_VERSION,
        "model": response.model,
        "usage": _encode_usage(response.usage),
        "route": None if response.route is None else [response.route.provider, response.route.model],
        "cost_usd": _decimal_text(response.cost_usd),
    }
    if isinstance(response, ChatResponse):
        document: dict[str, object] = common | {
            "kind": "chat",
            "text": response.text,
            "id": response.id,
            "finish_reasons": list(response.finish_reasons),
            "tool_calls": [
                {"id": c.id, "name": c.name, "arguments": dict(c.arguments), "raw_arguments": c.raw_arguments}
                for c in response.tool_calls
            ],
            "refusal": response.refusal,
        }
    else:
        document = common | {
            "kind": "embeddings",
            "vectors": [_pack(vector) for vector in response.vectors],
        }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def decode(data: bytes) -> ChatResponse | EmbeddingsResponse | None:
    """The response `encode` stored, or `None` when `data` is not a valid entry.

    Damaged bytes (a corrupted SQLite row, an entry written by another format version) are a cache
    miss, never an exception: every field is type-checked before a response is built.

    Args:
        data: Bytes read from a store.

    Returns:
        The response, or `None`.
    """
    try:
        document = json.loads(data.decode("utf-8", "surrogatepass"))
        if not isinstance(document, dict) or document.get("format") != FORMAT_VERSION:
            return None
        decoder = _DECODERS.get(_check(document.get("kind"), str, "kind"))
        return None if decoder is None else decoder(document)
    # Corrupt input surfaces as ValueError (JSON, UTF-8, base64, `_CorruptEntry`), ArithmeticError
    # (Decimal) or RecursionError (absurdly nested JSON).
    except (ValueError, ArithmeticError, RecursionError):
        return None


class _CorruptEntry(ValueError):
    """A stored document does not have the shape `encode` writes."""


def _decode_chat(document: Mapping[str, object]) -> ChatResponse:
    return ChatResponse(
        text=_check(document.get("text"), str, "text"),
        model=_optional(document.get("model"), str, "model"),
        id=_optional(document.get("id"), str, "id"),
        finish_reasons=tuple(_check(r, str, "finish_reasons") for r in _list(document, "finish_reasons")),
        usage=_decode_usage(document.get("usage")),
        tool_calls=tuple(_decode_tool_call(call) for call in _list(document, "tool_calls")),
        refusal=_optional(document.get("refusal"), str, "refusal"),
        route=_decode_route(document.get("route")),
        cost_usd=_decimal(document.get("cost_usd"), "cost_usd"),
    )


def _decode_embeddings(document: Mapping[str, object]) -> EmbeddingsResponse:
    return EmbeddingsResponse(
        vectors=tuple(_unpack(_check(text, str, "vectors")) for text in _list(document, "vectors")),
        model=_optional(document.get("model"), str, "model"),
        usage=_decode_usage(document.get("usage")),
        route=_decode_route(document.get("route")),
        cost_usd=_decimal(document.get("cost_usd"), "cost_usd"),
    )


_DECODERS: Final[Mapping[str, Callable[[Mapping[str, object]], ChatResponse | EmbeddingsResponse]]] = {
    "chat": _decode_chat,
    "embeddings": _decode_embeddings,
}


def _encode_usage(usage: Usage) -> dict[str, object]:
    counts: dict[str, object] = {name: getattr(usage, name) for name in _USAGE_COUNTS}
    return counts | {"estimated": usage.estimated, "billed_cost_usd": _decimal_text(usage.billed_cost_usd)}


def _decode_usage(value: object) -> Usage:
    document = _check(value, dict, "usage")
    counts = {name: _optional_count(document.get(name), f"usage.{name}") for name in _USAGE_COUNTS}
    return Usage(
        **counts,
        estimated=_check(document.get("estimated"), bool, "usage.estimated"),
        billed_cost_usd=_decimal(document.get("billed_cost_usd"), "usage.billed_cost_usd"),
    )


def _decode_tool_call(value: object) -> ToolCall:
    document = _check(value, dict, "tool_calls")
    return ToolCall(
        id=_check(document.get("id"), str, "tool_calls.id"),
        name=_check(document.get("name"), str, "tool_calls.name"),
        arguments=_check(document.get("arguments"), dict, "tool_calls.arguments"),
        raw_arguments=_check(document.get("raw_arguments"), str, "tool_calls.raw_arguments"),
    )


def _decode_route(value: object) -> Route | None:
    if value is None:
        return None
    match _check(value, list, "route"):
        case [str() as provider, str() as model]:
            return Route(provider, model)
    raise _CorruptEntry("route")


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: object, where: str) -> Decimal | None:
    # An invalid numeral raises decimal.InvalidOperation, an ArithmeticError `decode` catches.
    return None if value is None else Decimal(_check(value, str, where))


def _pack(vector: Sequence[float]) -> str:
    try:
        packed = struct.pack(f"<{len(vector)}d", *vector)
    except struct.error as exc:
        raise TypeError(f"an embedding holds a value that is not a number: {exc}") from exc
    return base64.b64encode(packed).decode("ascii")


def _unpack(text: str) -> tuple[float, ...]:
    raw = base64.b64decode(text, validate=True)
    if len(raw) % _FLOAT64.size:
        raise _CorruptEntry("vectors")
    return tuple(value for (value,) in _FLOAT64.iter_unpack(raw))


T = TypeVar("T")


def _check(value: object, kind: type[T], where: str) -> T:
    if not isinstance(value, kind):
        raise _CorruptEntry(f"{where}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _optional(value: object, kind: type[T], where: str) -> T | None:
    return None if value is None else _check(value, kind, where)


def _optional_count(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _CorruptEntry(f"{where}: expected an integer, got {type(value).__name__}")
    return value


def _list(document: Mapping[str, object], name: str) -> list[object]:
    return _check(document.get(name), list, name)


# --- streams --------------------------------------------------------------------------------------


def replay_chunks(response: ChatResponse) -> tuple[ChatChunk, ...]:
    """The chunks a stream caller receives when its answer comes from the cache.

    The text arrives as one delta, every tool call as one complete fragment, and the last finish
    reason with the usage on the final, end-of-stream chunk (earlier finish reasons, one per choice,
    on chunks of their own). Every chunk carries the response id and model, as provider streams do.

    Folding the chunks with `StreamAccumulator` gives back `response` except for what no chunk can
    carry (`route`, `cost_usd`, `refusal`: the stream's `.response` should be the cached response
    itself), an empty-string `id` or `model` (chunks treat it as absent), and the accumulator's own
    normalisation of a tool-calling turn that ended with `stop` or no reason into `tool_call`,
    exactly as a live stream of that answer would have reported it.

    Args:
        response: A cached chat response.

    Returns:
        The chunks, in order; the last one has `final=True`.
    """
    chunks: list[ChatChunk] = []
    if response.text:
        chunks.append(ChatChunk(delta=response.text))
    if response.tool_calls:
        fragments = tuple(
            ToolCallDelta(index=i, id=c.id, name=c.name, arguments=c.raw_arguments, complete=True)
            for i, c in enumerate(response.tool_calls)
        )
        chunks.append(ChatChunk(tool_calls=fragments))
    *earlier, last = response.finish_reasons or (None,)
    chunks.extend(ChatChunk(finish_reason=reason) for reason in earlier)
    chunks.append(ChatChunk(finish_reason=last, usage=response.usage, final=True))
    return tuple(dataclasses.replace(chunk, id=response.id, model=response.model) for chunk in chunks)
