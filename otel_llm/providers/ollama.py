"""Ollama's native API: `POST /api/chat` (NDJSON streams) and `POST /api/embed`.

Wire reference: github.com/ollama/ollama `docs/api.md` and `api/types.go`. Differences from OpenAI that
shape this module:

- Streaming is the server's default, so `stream` is always sent explicitly.
- A stream is newline-delimited JSON, one object per line; the last has `done: true`, the
  `done_reason` and the token counts. A line `{"error": "..."}` reports a failure mid-stream.
- Tool calls carry their arguments as JSON objects and (before Ollama 0.12) no ids: calls get the
  deterministic ids `call_<index>`.
- Images are base64 only: the server never fetches a URL, so an image URL is a `BadRequestError`
  raised before anything is sent.
- There is no `tool_choice`: `"none"` sends no tools, a named tool sends only that tool, and
  `"required"` cannot be enforced (the model may still answer in text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Final

import httpx

from otel_llm._exceptions import ErrorKind, ProviderError
from otel_llm._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    ImagePart,
    Message,
    ResponseFormat,
    StreamEvent,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from otel_llm.providers._base import (
    EndpointProvider,
    Framing,
    MalformedResponse,
    arr,
    decode_json,
    encode_json,
    error_for_status,
    obj,
    opt_int,
    opt_str,
    parsing,
    provider_error,
    vector,
)

DEFAULT_BASE_URL: Final = "http://localhost:11434"

# `done_reason` values (server/routes.go); `load`/`unload` answer empty requests and pass through.
_FINISH_REASONS: Mapping[str, str] = {"stop": "stop", "length": "length"}

# Ollama errors are bare strings; these messages are the only way to tell the kinds apart.
_CONTEXT_LENGTH = re.compile(
    r"exceed\w* (?:the )?(?:available |maximum )?context (?:length|size|window)", re.IGNORECASE
)
_USAGE_LIMIT = re.compile(r"usage limit", re.IGNORECASE)  # ollama.com: "you've reached your usage limit"


class OllamaChat(EndpointProvider):
    """Ollama's native chat and embeddings API; keyless locally, bearer-keyed when a key is configured."""

    framing: Framing = "ndjson"

    def build_request(self, request: ChatRequest) -> httpx.Request:
        """Translate a chat request into `POST /api/chat` (with `stream` always explicit)."""
        body: dict[str, object] = {
            "model": request.model,
            "messages": [self._message(m, request) for m in request.messages],
            "stream": request.stream,
        }
        tools = _tools(request.tools, request.tool_choice)
        if tools:
            body["tools"] = tools
        response_format = _format(request.response_format)
        if response_format is not None:
            body["format"] = response_format
        options = {
            "temperature": request.temperature,
            "top_p": request.top_p,
            "num_predict": request.max_tokens,
            "seed": request.seed,
            "stop": list(request.stop) if request.stop else None,
        }
        options = {k: v for k, v in options.items() if v is not None}
        if options:
            body["options"] = options
        return httpx.Request(
            "POST", self._url("/api/chat"), headers=self._headers(request.attempt), content=encode_json(body)
        )

    def parse_payload(self, payload: Mapping[str, object], request: ChatRequest) -> ChatResponse:
        """Parse the single object of a non-streamed `/api/chat` answer."""
        self._raise_for_error_line(payload, request)
        message = _message_of(payload)
        tool_calls = tuple(
            ToolCall.from_object(call_id, name, arguments)
            for _, call_id, name, arguments in _tool_calls(message.get("tool_calls"))
        )
        reason = _finish_reason(payload, bool(tool_calls))
        return ChatResponse(
            text=opt_str(message.get("content"), "message.content") or "",
            model=opt_str(payload.get("model"), "model"),
            finish_reasons=(reason,) if reason else (),
            usage=_usage(payload),
            tool_calls=tool_calls,
        )

    def parse_stream_event(self, event: StreamEvent, request: ChatRequest) -> ChatChunk | None:
        """Parse one NDJSON line: a piece of the message, or the final `done: true` object."""
        return self.parse_stream_payload(
            obj(decode_json(event.data, "stream line"), "stream line"), None, request
        )

    def parse_stream_payload(
        self, payload: Mapping[str, object], event: str | None, request: ChatRequest
    ) -> ChatChunk | None:
        """Parse one decoded NDJSON line (an error line raises its error)."""
        self._raise_for_error_line(payload, request)
        message = _message_of(payload)
        done = payload.get("done", False)
        if not isinstance(done, bool):
            raise MalformedResponse("expected a boolean at done")
        # Calls arrive whole (one per `tool_calls` item), so each is a complete delta, never merged.
        deltas = tuple(
            ToolCallDelta(index=index, id=call_id, name=name, arguments=_compact(arguments), complete=True)
            for index, call_id, name, arguments in _tool_calls(message.get("tool_calls"))
        )
        return ChatChunk(
            delta=opt_str(message.get("content"), "message.content") or "",
            tool_calls=deltas,
            # Calls streamed on earlier lines leave the final line at `stop`: the accumulator maps it.
            finish_reason=_finish_reason(payload, bool(deltas)) if done else None,
            usage=_usage(payload) if done else None,
            model=opt_str(payload.get("model"), "model"),
            final=done,
        )

    def classify_error(
        self, response: httpx.Response, request: ChatRequest | EmbeddingsRequest
    ) -> ProviderError:
        """Classify `{"error": "..."}` bodies: by status, refined by the few messages that say more."""
        try:
            payload = obj(decode_json(response.content), "body")
        except MalformedResponse:
            payload = {}
        message = payload.get("error")
        text = message if isinstance(message, str) else ""
        return error_for_status(response, request, self.name, text, _error_kind(text, response.status_code))

    def build_embeddings_request(self, request: EmbeddingsRequest) -> httpx.Request:
        """Translate an embeddings request into `POST /api/embed`."""
        body: dict[str, object] = {"model": request.model, "input": list(request.inputs)}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        return httpx.Request(
            "POST", self._url("/api/embed"), headers=self._headers(request.attempt), content=encode_json(body)
        )

    def parse_embeddings_response(
        self, response: httpx.Response, request: EmbeddingsRequest
    ) -> EmbeddingsResponse:
        """Parse `{model, embeddings: [[...], ...], prompt_eval_count}`; vectors are in input order."""
        with parsing(self.name, request, response.status_code, response.content):
            payload = obj(decode_json(response.content), "body")
            vectors = tuple(
                vector(item, f"embeddings[{i}]")
                for i, item in enumerate(arr(payload.get("embeddings"), "embeddings"))
            )
            if len(vectors) != len(request.inputs):
                raise MalformedResponse(f"expected {len(request.inputs)} embeddings, got {len(vectors)}")
            return EmbeddingsResponse(
                vectors=vectors,
                model=opt_str(payload.get("model"), "model"),
                usage=Usage(input_tokens=opt_int(payload.get("prompt_eval_count"), "prompt_eval_count")),
            )

    def _headers(self, attempt: int) -> dict[str, str]:
        headers = {"content-type": "application/json", "x-otel-llm-attempt": str(attempt)}
        if self._api_key:  # ollama.com and authenticating proxies; a local server needs none
            headers["authorization"] = f"Bearer {self._api_key}"
        return headers

    def _message(self, message: Message, request: ChatRequest) -> dict[str, object]:
        wire: dict[str, object] = {"role": message.role}
        if isinstance(message.content, str):
            wire["content"] = message.content
        else:
            wire["content"] = "".join(p.text for p in message.content if isinstance(p, TextPart))
            images = [self._image(p, request) for p in message.content if isinstance(p, ImagePart)]
            if images:
                wire["images"] = images
        if message.tool_calls:
            wire["tool_calls"] = [
                {"id": c.id, "function": {"name": c.name, "arguments": dict(c.arguments)}}
                for c in message.tool_calls
            ]
        if message.tool_call_id is not None:
            wire["tool_call_id"] = message.tool_call_id
        if message.name is not None and message.role == "tool":
            wire["tool_name"] = message.name
        return wire

    def _image(self, part: ImagePart, request: ChatRequest) -> str:
        if part.data is None:
            raise provider_error(
                "bad_request",
                "Ollama takes images as base64 data only and cannot fetch an image URL; "
                "pass ImagePart(data=..., media_type=...)",
                provider=self.name,
                model=request.model,
            )
        return part.data

    def _raise_for_error_line(self, payload: Mapping[str, object], request: ChatRequest) -> None:
        if "error" not in payload:
            return
        error = payload["error"]
        text = error if isinstance(error, str) else str(error)[:200]
        raise provider_error(
            _error_kind(text, None) or "server_error", text, provider=self.name, model=request.model
        )


def _tools(tools: tuple[Tool, ...], choice: str | None) -> list[dict[str, object]]:
    if choice == "none":
        return []
    if choice not in (None, "auto", "required"):
        tools = tuple(t for t in tools if t.name == choice)
    wire: list[dict[str, object]] = []
    for tool in tools:
        function: dict[str, object] = {"name": tool.name, "parameters": dict(tool.parameters)}
        if tool.description:
            function["description"] = tool.description
        wire.append({"type": "function", "function": function})
    return wire


def _format(response_format: ResponseFormat | None) -> object:
    if response_format is None or response_format == "json":
        return response_format
    return dict(response_format.schema)  # Ollama always enforces the schema: `strict` has no equivalent


def _message_of(payload: Mapping[str, object]) -> Mapping[str, object]:
    raw = payload.get("message")
    return {} if raw is None else obj(raw, "message")  # the final stream line may have no message


def _tool_calls(raw: object) -> list[tuple[int, str, str, Mapping[str, object]]]:
    """`(index, id, name, arguments)` per call; ids are the server's or `call_<index>`."""
    if raw is None:
        return []
    calls = []
    for i, item in enumerate(arr(raw, "message.tool_calls")):
        call = obj(item, f"message.tool_calls[{i}]")
        function = obj(call.get("function"), f"message.tool_calls[{i}].function")
        # `index` numbers calls across stream lines (older servers omit it when 0).
        index = opt_int(function.get("index"), f"message.tool_calls[{i}].function.index")
        index = i if index is None else index
        arguments = function.get("arguments", {})
        calls.append(
            (
                index,
                opt_str(call.get("id"), f"message.tool_calls[{i}].id") or f"call_{index}",
                opt_str(function.get("name"), f"message.tool_calls[{i}].function.name") or "",
                obj({} if arguments is None else arguments, f"message.tool_calls[{i}].function.arguments"),
            )
        )
    return calls


def _compact(arguments: Mapping[str, object]) -> str:
    return json.dumps(arguments, separators=(",", ":"))


def _finish_reason(payload: Mapping[str, object], called_tools: bool) -> str | None:
    reason = opt_str(payload.get("done_reason"), "done_reason")
    if called_tools and reason in (None, "stop"):
        return "tool_call"  # Ollama ends a tool call with `stop`; the message says what happened
    return _FINISH_REASONS.get(reason, reason) if reason else None


def _usage(payload: Mapping[str, object]) -> Usage:
    # Counts are omitted when zero (Go `omitempty`), e.g. a prompt served from the KV cache: unknown.
    return Usage(
        input_tokens=opt_int(payload.get("prompt_eval_count"), "prompt_eval_count"),
        output_tokens=opt_int(payload.get("eval_count"), "eval_count"),
    )


def _error_kind(message: str, status: int | None) -> ErrorKind | None:
    if _CONTEXT_LENGTH.search(message):
        return "context_length"
    if status == 429 and _USAGE_LIMIT.search(message):
        return "quota_exhausted"
    return None
