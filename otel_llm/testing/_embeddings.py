"""Embedding endpoints: OpenAI-style (OpenAI, Azure, compatible), Gemini and Ollama.

Each embedding dialect wraps its provider's chat dialect, which keeps owning authentication,
headers and error bodies; only the operation (validation, reply) differs.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Mapping

from otel_llm.testing._behavior import Behavior
from otel_llm.testing._ollama_wire import LOAD_DURATION, PROMPT_EVAL_NS_PER_TOKEN
from otel_llm.testing._openai_wire import OpenAIDialect, invalid, missing
from otel_llm.testing._wire import Dialect, Exchange, JSONObject, Route, StreamScript, collect_text

# Far beyond any real model; keeps a typo from building a gigantic reply.
MAX_DIMENSIONS = 65536


def embedding_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector derived from ``text``.

    Shorter vectors are prefixes of longer ones, renormalised (like Matryoshka embeddings
    truncated with ``dimensions``). Values are float32, so the base64 encoding decodes to
    exactly the same numbers.

    Args:
        text: The input text.
        dimensions: Vector length.

    Returns:
        The vector.
    """
    raw = b""
    block = 0
    while len(raw) < 4 * dimensions:
        raw += hashlib.sha256(f"{block}:{text}".encode()).digest()
        block += 1
    values = [n / 2**31 - 1 for n in struct.unpack(f"<{dimensions}I", raw[: 4 * dimensions])]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in values))
    return list(struct.unpack(f"<{dimensions}f", packed))


def encode_base64(vector: list[float]) -> str:
    """Little-endian float32, base64-encoded, as OpenAI's ``encoding_format: "base64"``."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


class _EmbeddingsBase:
    """Forwards everything provider-wide (auth, headers, errors) to the chat dialect."""

    def __init__(self, base: Dialect) -> None:
        self.base = base

    @property
    def stream_content_type(self) -> str:
        """Unused: embeddings never stream."""
        return self.base.stream_content_type

    @property
    def keep_alive_event(self) -> bytes | None:
        """Unused: embeddings never stream."""
        return None

    def check_auth(self, headers: Mapping[str, str]) -> Behavior | None:
        """As the provider's chat endpoint."""
        return self.base.check_auth(headers)

    def wants_stream(self, route: Route, body: JSONObject) -> bool:
        """Never."""
        return False

    def forced_tool(self, body: JSONObject) -> tuple[str, JSONObject] | None:
        """Not modelled for this wire format: scripted ``Behavior.tool_calls`` only."""
        return None

    def requested_json(self, body: JSONObject) -> JSONObject | None:
        """Never."""
        return None

    def response_headers(self, serial: int) -> dict[str, str]:
        """As the provider's chat endpoint."""
        return self.base.response_headers(serial)

    def retry_headers(self, behavior: Behavior) -> dict[str, str]:
        """As the provider's chat endpoint."""
        return self.base.retry_headers(behavior)

    def render_stream(self, exchange: Exchange) -> StreamScript:
        """Unreachable: embeddings never stream."""
        raise NotImplementedError("embeddings do not stream")

    def error_body(self, status: int, behavior: Behavior, model: str, serial: int) -> JSONObject:
        """As the provider's chat endpoint."""
        return self.base.error_body(status, behavior, model, serial)

    def stream_error(self, behavior: Behavior, serial: int) -> bytes:
        """Unreachable: embeddings never stream."""
        return self.base.stream_error(behavior, serial)


class OpenAIEmbeddingsDialect(_EmbeddingsBase):
    """``POST {prefix}/v1/embeddings`` (OpenAI, Azure and compatible providers)."""

    base: OpenAIDialect

    def __init__(self, base: OpenAIDialect) -> None:
        super().__init__(base)

    def validate(self, route: Route, body: JSONObject) -> Behavior | None:
        """Require ``model`` (unless the path names a deployment) and ``input``."""
        rejection = self.base.validate_route(route)
        if rejection is not None:
            return rejection
        if route.model is None and not isinstance(body.get("model"), str):
            return missing("model") if "model" not in body else invalid("model", "a string")
        if "input" not in body:
            return missing("input")
        if _openai_inputs(body.get("input")) is None:
            return invalid("input", "a string, an array of strings or an array of token arrays")
        if body.get("encoding_format", "float") not in ("float", "base64"):
            return invalid("encoding_format", "'float' or 'base64'")
        for name in ("dimensions", "output_dimension"):  # Mistral spells it output_dimension
            if name in body and body[name] is not None and not _valid_dimensions(body[name]):
                return invalid(name, f"an integer between 1 and {MAX_DIMENSIONS}")
        return None

    def message_text(self, body: JSONObject) -> list[str]:
        """The inputs (token arrays as space-separated numbers)."""
        return _openai_inputs(body.get("input")) or []

    def render(self, exchange: Exchange) -> JSONObject:
        """``{"object": "list", "data": [...], "model", "usage"}``."""
        body = exchange.body
        dimensions = body.get("dimensions") or body.get("output_dimension") or exchange.embedding_dimensions
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(_openai_inputs(body.get("input")) or []):
            vector = embedding_vector(text, dimensions)
            embedding: object = encode_base64(vector) if as_base64 else vector
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        reply: JSONObject = {"object": "list", "data": data, "model": exchange.model}
        if exchange.provider == "mistral":  # Mistral's reply also has an id
            reply = {"id": f"embd-fake{exchange.serial:06d}", **reply}
        if not exchange.omit_usage:
            reply["usage"] = {"prompt_tokens": exchange.input_tokens, "total_tokens": exchange.input_tokens}
        return reply


class GeminiEmbeddingsDialect(_EmbeddingsBase):
    """``POST /gemini/v1beta/models/{model}:embedContent`` and ``:batchEmbedContents``."""

    def validate(self, route: Route, body: JSONObject) -> Behavior | None:
        """``embedContent`` needs ``content``; ``batchEmbedContents`` needs ``requests``."""
        requests = _gemini_requests(route.action, body)
        if requests is None:
            field = "requests" if route.action == "batchEmbedContents" else "content"
            return _gemini_invalid(f"* {field}: {field} is not specified")
        for request in requests:
            size = request.get("outputDimensionality")
            if size is not None and not _valid_dimensions(size):
                return _gemini_invalid("* outputDimensionality: must be a positive integer")
        return None

    def message_text(self, body: JSONObject) -> list[str]:
        """Text parts of every content to embed."""
        requests = _gemini_requests("batchEmbedContents" if "requests" in body else "embedContent", body)
        return [" ".join(collect_text(r["content"].get("parts"))) for r in requests or []]

    def render(self, exchange: Exchange) -> JSONObject:
        """``{"embedding": {"values"}}`` or ``{"embeddings": [{"values"}, ...]}``."""
        requests = _gemini_requests(exchange.action, exchange.body) or []
        values = [
            embedding_vector(
                " ".join(collect_text(r["content"].get("parts"))),
                r.get("outputDimensionality") or exchange.embedding_dimensions,
            )
            for r in requests
        ]
        if exchange.action == "embedContent":
            return {"embedding": {"values": values[0]}}
        return {"embeddings": [{"values": v} for v in values]}


class OllamaEmbeddingsDialect(_EmbeddingsBase):
    """``POST /ollama/api/embed``."""

    def validate(self, route: Route, body: JSONObject) -> Behavior | None:
        """Require ``model`` and ``input`` (a string or an array of strings)."""
        if not isinstance(body.get("model"), str) or not body["model"]:
            return Behavior(status=400, error_message="model is required")
        if _ollama_inputs(body.get("input")) is None:
            return Behavior(status=400, error_message="invalid input type")
        size = body.get("dimensions")
        if size is not None and not _valid_dimensions(size):
            return Behavior(status=400, error_message="dimensions must be a positive integer")
        return None

    def message_text(self, body: JSONObject) -> list[str]:
        """The inputs."""
        return _ollama_inputs(body.get("input")) or []

    def render(self, exchange: Exchange) -> JSONObject:
        """``{model, embeddings, total_duration, load_duration, prompt_eval_count}``."""
        size = exchange.body.get("dimensions") or exchange.embedding_dimensions
        inputs = _ollama_inputs(exchange.body.get("input")) or []
        reply: JSONObject = {
            "model": exchange.model,
            "embeddings": [embedding_vector(text, size) for text in inputs],
            "total_duration": LOAD_DURATION + exchange.input_tokens * PROMPT_EVAL_NS_PER_TOKEN,
            "load_duration": LOAD_DURATION,
        }
        if not exchange.omit_usage:
            reply["prompt_eval_count"] = exchange.input_tokens
        return reply


def _valid_dimensions(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_DIMENSIONS


def _openai_inputs(value: object) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(item, str) for item in value):
        return list(value)
    if all(isinstance(item, int) for item in value):
        return [" ".join(map(str, value))]
    if all(isinstance(item, list) and item and all(isinstance(n, int) for n in item) for item in value):
        return [" ".join(map(str, item)) for item in value]
    return None


def _ollama_inputs(value: object) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return None


def _gemini_requests(action: str | None, body: JSONObject) -> list[JSONObject] | None:
    if action == "batchEmbedContents":
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            return None
    else:
        requests = [body]
    if not all(isinstance(r, dict) and isinstance(r.get("content"), dict) for r in requests):
        return None
    return requests


def _gemini_invalid(message: str) -> Behavior:
    return Behavior(status=400, error_type="INVALID_ARGUMENT", error_message=message)
