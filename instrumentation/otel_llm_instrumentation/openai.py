"""`OpenAIInstrumentor`: the routing client's telemetry for calls made with the official `openai` SDK.

Covers chat completions (`create`, streaming or not, `parse`, and the `stream` helper), the Responses API
(`responses.create`, streaming or not) and embeddings, sync and async. The provider is named from the
client's base URL (Azure, OpenRouter, Together, Groq, DeepSeek, Mistral, a local Ollama, or the host of
any other OpenAI-compatible server), never `openai` by default.

Streams get usage reporting added (`stream_options.include_usage`) unless the caller set it or passed
`add_stream_usage=False` to `instrument()`; the extra usage-only chunk it brings is kept from the caller,
so the stream the caller iterates is the one it asked for. Without usage, tokens are estimated and marked
as such.

The span of `chat.completions.stream(...)` opens when its context manager is entered (that is when the
request is sent) and ends when the stream is exhausted, closed (leaving the `with` block), fails, or is
garbage-collected; whatever the caller consumes (events, `get_final_completion()`) is seen, as the raw
chunk stream underneath is observed. Responses API results are read into the routing client's terms here
(its parsers speak Chat Completions): `input` and `instructions` become the messages, the result's
`status` the finish reason, and a stream is folded from its text deltas and final `response.completed`.

Options of `instrument()`: `tracer_provider`, `meter_provider`, `capture_content`, `metric_attribution`,
`add_stream_usage`, and `provider_names` (`{"gpu-box": "vllm"}`: names for hosts no registry knows;
zero-code runs read `OTEL_LLM_PROVIDER_NAMES="gpu-box=vllm"`).

Example:
    >>> OpenAIInstrumentor().instrument()  # or run under `opentelemetry-instrument`
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from otel_llm._exceptions import OtelLLMError
from otel_llm._inputs import parse_messages, parse_response_format, parse_tools
from otel_llm._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingsRequest,
    Message,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from otel_llm.telemetry._handler import Telemetry
from otel_llm_instrumentation._endpoints import Endpoint, configured_names, endpoint_for
from otel_llm_instrumentation._observe import (
    ObservedCall,
    as_json,
    integer_or_none,
    logger,
    number_or_none,
    observing,
    run_observed,
    run_observed_async,
    telemetry_from,
)
from otel_llm_instrumentation._streams import (
    ChunkFolder,
    ObservedAsyncStream,
    ObservedAsyncStreamManager,
    ObservedStream,
    ObservedStreamManager,
)
from otel_llm_instrumentation._wrapping import restore_original

_INSTRUMENTS: Final = ("openai >= 1.55.3",)
_CHAT: Final = "openai.resources.chat.completions"
_RESPONSES: Final = "openai.resources.responses"
_API_TYPE: Final = "openai.api.type"
# Which OpenAI API an operation speaks (semantic conventions' values); embeddings have none.
_API_TYPES: Final[Mapping[str, str]] = {"chat": "chat_completions", "responses": "responses"}
# (module, class, method, operation), each for the sync class and its `Async` twin; a class or method
# missing from an older SDK is skipped.
_TARGETS: Final = tuple(
    (module, prefix + cls, method, operation)
    for module, cls, method, operation in (
        (_CHAT, "Completions", "create", "chat"),
        (_CHAT, "Completions", "parse", "chat"),
        (_CHAT, "Completions", "stream", "chat_stream"),
        (_RESPONSES, "Responses", "create", "responses"),
        (_RESPONSES, "Responses", "parse", "responses"),
        (_RESPONSES, "Responses", "stream", "responses_stream"),
        ("openai.resources.embeddings", "Embeddings", "create", "embeddings"),
    )
    for prefix in ("", "Async")
)


class OpenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]  # the base class is untyped
    """Instruments the `openai` package; `uninstrument()` restores the original methods exactly."""

    def instrumentation_dependencies(self) -> Collection[str]:
        """The `openai` versions this instrumentor supports."""
        return _INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        telemetry = telemetry_from(kwargs)
        options = _Options(
            telemetry,
            bool(kwargs.get("add_stream_usage", True)),
            configured_names(kwargs.get("provider_names")),
        )
        for module, cls, method, operation in _TARGETS:
            if _owner(module, cls, method) is None:
                continue
            wrapper = (
                _stream_wrapper(options, operation, cls)
                if operation.endswith("_stream")
                else _wrapper(options, operation, cls)
            )
            wrapt.wrap_function_wrapper(module, f"{cls}.{method}", wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        for module, cls, method, _ in _TARGETS:
            owner = _owner(module, cls, method)
            if owner is not None:
                restore_original(owner, method)


def _owner(module: str, cls: str, method: str) -> type | None:
    """The class defining `method`, or `None` when this SDK version has no such method."""
    try:
        owner = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError):
        return None
    return owner if isinstance(owner, type) and method in vars(owner) else None


class _Options:
    def __init__(self, telemetry: Telemetry, add_stream_usage: bool, names: Mapping[str, str]) -> None:
        self.telemetry = telemetry
        self.add_stream_usage = add_stream_usage
        self.names = names
        self._endpoints: dict[str, Endpoint] = {}  # per base URL: a client talks to one endpoint for life

    def endpoint(self, base_url: str) -> Endpoint:
        endpoint = self._endpoints.get(base_url)
        if endpoint is None:
            wire = "azure" if ".azure.com" in base_url else "openai"
            endpoint = self._endpoints[base_url] = endpoint_for(base_url, wire, self.names)
        return endpoint


def _wrapper(options: _Options, operation: str, cls: str) -> Callable[..., Any]:
    asynchronous = cls.startswith("Async")

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if asynchronous:
            # Decided when awaited: the `stream` helper creates the coroutine early and awaits it
            # inside its own observed call.
            return _call_async(options, operation, wrapped, instance, args, kwargs)
        if observing():
            return wrapped(*args, **kwargs)  # an outer layer (a decorated function) records this call
        prepared = _prepare(options, operation, instance, kwargs)
        if prepared is None:
            return wrapped(*args, **kwargs)
        call, kwargs, hide_usage_chunk = prepared
        return run_observed(
            call,
            wrapped,
            args,
            kwargs,
            lambda r: _finish(call, r, operation, hide_usage_chunk, ObservedStream),
        )

    return wrapper


async def _call_async(
    options: _Options,
    operation: str,
    wrapped: Callable[..., Any],
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    if observing():
        return await wrapped(*args, **kwargs)
    prepared = _prepare(options, operation, instance, kwargs)
    if prepared is None:
        return await wrapped(*args, **kwargs)
    call, kwargs, hide_usage_chunk = prepared
    return await run_observed_async(
        call,
        wrapped,
        args,
        kwargs,
        lambda r: _finish(call, r, operation, hide_usage_chunk, ObservedAsyncStream),
    )


def _prepare(
    options: _Options, operation: str, instance: Any, kwargs: dict[str, Any]
) -> tuple[ObservedCall, dict[str, Any], bool] | None:
    """The observed call and the keyword arguments to send, or `None` when the call cannot be observed."""
    try:
        call = _observed_call(options, operation, instance, kwargs)
    except Exception:  # telemetry never breaks the call
        logger.debug("otel_llm: could not observe an openai call", exc_info=True)
        return None
    if operation == "chat" and bool(kwargs.get("stream")):
        kwargs, hide_usage_chunk = _with_stream_usage(options, kwargs)
        return call, kwargs, hide_usage_chunk
    return call, kwargs, False


def _with_stream_usage(options: _Options, kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """`kwargs` asking for the usage chunk (unless the caller decided), and whether to hide that chunk."""
    if not options.add_stream_usage:
        return kwargs, False
    stream_options = kwargs.get("stream_options")
    given = stream_options if isinstance(stream_options, Mapping) else {}  # may be NOT_GIVEN / omit
    if "include_usage" in given:
        return kwargs, False
    return {**kwargs, "stream_options": {**given, "include_usage": True}}, True


def _finish(call: ObservedCall, result: Any, operation: str, hide_usage_chunk: bool, stream: type) -> Any:
    streaming = isinstance(call.request, ChatRequest) and call.request.stream
    if streaming and operation == "responses":
        call.returned()  # the caller consumes the stream in its own context
        return stream(result, _ResponsesFolder(call))
    if streaming:
        call.returned()
        return stream(result, ChunkFolder(call), hide=_usage_only if hide_usage_chunk else None)
    if operation == "embeddings":
        call.record_embeddings(result)
    elif operation == "responses":
        _record_responses_result(call, result)
    else:
        call.record_chat(result)
    call.end(None)
    return result


def _usage_only(chunk: Any) -> bool:
    """The chunk `include_usage` adds at the end: usage and no choices."""
    return not getattr(chunk, "choices", None) and getattr(chunk, "usage", None) is not None


def _stream_wrapper(options: _Options, operation: str, cls: str) -> Callable[..., Any]:
    """`chat.completions.stream(...)` and `responses.stream(...)`: the manager's `with` block is one call."""
    manager_proxy = ObservedAsyncStreamManager if cls.startswith("Async") else ObservedStreamManager
    responses = operation == "responses_stream"

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if observing() or (responses and "response_id" in kwargs):
            # Resuming a stored response's stream generates nothing new: it is not a model call.
            return wrapped(*args, **kwargs)
        try:
            call = _observed_call(
                options, "responses" if responses else "chat", instance, {**kwargs, "stream": True}
            )
        except Exception:  # telemetry never breaks the call
            logger.debug("otel_llm: could not observe an openai stream", exc_info=True)
            return wrapped(*args, **kwargs)
        if responses:
            folder: ChunkFolder = _ResponsesFolder(call)
            hide = None
        else:
            kwargs, hide_usage_chunk = _with_stream_usage(options, kwargs)
            folder, hide = ChunkFolder(call), _usage_only if hide_usage_chunk else None
        return manager_proxy(wrapped(*args, **kwargs), folder, hide)

    return wrapper


def _observed_call(
    options: _Options, operation: str, instance: Any, kwargs: Mapping[str, Any]
) -> ObservedCall:
    base_url = str(getattr(getattr(instance, "_client", None), "base_url", "https://api.openai.com/v1"))
    endpoint = options.endpoint(base_url)
    model = str(kwargs.get("model", "unknown"))
    request: ChatRequest | EmbeddingsRequest
    if operation == "embeddings":
        inputs = kwargs.get("input", ())
        texts = (inputs,) if isinstance(inputs, str) else tuple(str(i) for i in inputs)
        request = EmbeddingsRequest(
            model=model, inputs=texts, dimensions=integer_or_none(kwargs.get("dimensions"))
        )
    elif operation == "responses":
        request = _responses_request(model, kwargs)
    else:
        request = ChatRequest(
            model=model,
            messages=parse_messages(kwargs.get("messages") or []),
            temperature=number_or_none(kwargs.get("temperature")),
            top_p=number_or_none(kwargs.get("top_p")),
            max_tokens=integer_or_none(kwargs.get("max_completion_tokens", kwargs.get("max_tokens"))),
            seed=integer_or_none(kwargs.get("seed")),
            tools=parse_tools([t.get("function", t) for t in kwargs.get("tools") or []]),
            response_format=_best_effort_format(_response_format(kwargs.get("response_format"))),
            stream=bool(kwargs.get("stream")),
        )
    api = _API_TYPES.get(operation)
    return ObservedCall(
        options.telemetry, endpoint, request, span_attributes={_API_TYPE: api} if api else None
    )


def _response_format(value: object) -> object:
    """OpenAI's `response_format` as the routing client's option (`"json"`, a schema, or nothing).

    `parse()` and `stream()` take a pydantic class: its JSON schema, when it can give one.
    """
    if isinstance(value, type):
        schema_of = getattr(value, "model_json_schema", None)
        if not callable(schema_of):
            return None
        try:
            schema = schema_of()
        except Exception:  # a class pydantic cannot describe: the call goes on without a format
            logger.debug("otel_llm: no JSON schema for %r", value, exc_info=True)
            return None
        return {"name": value.__name__, "schema": schema} if isinstance(schema, Mapping) else None
    if not isinstance(value, Mapping):
        return None
    if value.get("type") == "json_object":
        return "json"
    schema = value.get("json_schema")
    return schema if value.get("type") == "json_schema" and isinstance(schema, Mapping) else None


def _best_effort_format(value: object) -> Any:
    try:
        return parse_response_format(value)
    except OtelLLMError:
        return None  # a format we cannot read leaves the attribute out, never the call


# Responses API: our parsers speak Chat Completions, so its shapes are read here.

_INCOMPLETE_REASONS: Final[Mapping[str, str]] = {
    "max_output_tokens": "length",
    "content_filter": "content_filter",
}
_FINAL_EVENTS: Final = frozenset({"response.completed", "response.incomplete", "response.failed"})


def _responses_request(model: str, kwargs: Mapping[str, Any]) -> ChatRequest:
    """`input` (a string or items) and `instructions` (the system prompt) as a chat request."""
    instructions = kwargs.get("instructions")
    system = (Message("system", instructions),) if isinstance(instructions, str) and instructions else ()
    tools = [t for t in kwargs.get("tools") or [] if isinstance(t, Mapping) and t.get("type") == "function"]
    text = kwargs.get("text")
    # `parse()` and `stream()` take the format as a pydantic class (`text_format`) instead.
    text_format = kwargs.get("text_format")
    if not isinstance(text_format, type):
        text_format = text.get("format") if isinstance(text, Mapping) else None
    return ChatRequest(
        model=model,
        messages=system + _responses_input(kwargs.get("input")),
        temperature=number_or_none(kwargs.get("temperature")),
        top_p=number_or_none(kwargs.get("top_p")),
        max_tokens=integer_or_none(kwargs.get("max_output_tokens")),
        tools=_best_effort_tools(tools),
        response_format=_best_effort_format(_text_format(text_format)),
        stream=bool(kwargs.get("stream")),
    )


def _responses_input(value: object) -> tuple[Message, ...]:
    """Input items as messages: role/content items and tool outputs; others carry nothing we record."""
    if isinstance(value, str):
        return (Message("user", value),)
    if not isinstance(value, (list, tuple)):
        return ()  # absent (`omit`)
    messages: list[Message] = []
    for item in value:
        if not isinstance(item, Mapping):
            continue
        if item.get("type") == "function_call_output" and isinstance(item.get("output"), str):
            messages.append(Message("tool", item["output"], tool_call_id=str(item.get("call_id") or "")))
            continue
        role, content = item.get("role"), item.get("content")
        if not isinstance(role, str):
            continue
        if role == "developer":
            role = "system"
        if isinstance(content, str):
            messages.append(Message(role, content))
        elif isinstance(content, (list, tuple)):
            text = "".join(
                str(part.get("text") or "")
                for part in content
                if isinstance(part, Mapping) and part.get("type") in ("input_text", "output_text", "text")
            )
            messages.append(Message(role, text))
    return tuple(messages)


def _best_effort_tools(tools: list[Mapping[str, Any]]) -> Any:
    try:
        return parse_tools(tools)
    except OtelLLMError:
        return ()


def _text_format(value: object) -> object:
    """The Responses API's `text.format` (or `text_format` class) as the routing client's response format."""
    if isinstance(value, type):
        return _response_format(value)
    if not isinstance(value, Mapping):
        return None
    if value.get("type") == "json_object":
        return "json"
    if value.get("type") == "json_schema":
        return {"name": value.get("name"), "schema": value.get("schema"), "strict": value.get("strict", True)}
    return None


def _record_responses_result(call: ObservedCall, result: object) -> None:
    """Record a Responses API result; one that cannot be read is logged, never raised."""
    try:
        response = _responses_reply(as_json(result))
    except (ValueError, TypeError, AttributeError) as exc:
        logger.debug("otel_llm: could not read a responses result: %s", exc)
        return
    call.record_response(response)


def _responses_reply(data: object) -> ChatResponse:
    """A Responses API `Response` object (as JSON) as the routing client's `ChatResponse`.

    Raises:
        TypeError: `data` is no response object.
    """
    if not isinstance(data, Mapping):
        raise TypeError("a responses result is a JSON object")
    output = [item for item in data.get("output") or () if isinstance(item, Mapping)]
    text = data.get("output_text")
    if not isinstance(text, str):
        text = "".join(
            str(part.get("text") or "")
            for item in output
            if item.get("type") == "message"
            for part in item.get("content") or ()
            if isinstance(part, Mapping) and part.get("type") == "output_text"
        )
    model, response_id = data.get("model"), data.get("id")
    return ChatResponse(
        text=text,
        model=model if isinstance(model, str) else None,
        id=response_id if isinstance(response_id, str) else None,
        finish_reasons=_responses_finish(data, output),
        usage=_responses_usage(data.get("usage")),
        tool_calls=tuple(
            ToolCall.from_json(
                str(item.get("call_id") or item.get("id") or ""),
                str(item.get("name") or ""),
                str(item.get("arguments") or ""),
            )
            for item in output
            if item.get("type") == "function_call"
        ),
    )


def _responses_finish(data: Mapping[str, Any], output: list[Mapping[str, Any]]) -> tuple[str, ...]:
    status = data.get("status")
    if status == "completed":
        return ("tool_call",) if any(i.get("type") == "function_call" for i in output) else ("stop",)
    if status == "incomplete":
        details = data.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, Mapping) else None
        return (_INCOMPLETE_REASONS.get(reason, reason),) if isinstance(reason, str) else ("length",)
    if status == "failed":
        return ("error",)
    return ()


def _responses_usage(usage: object) -> Usage:
    if not isinstance(usage, Mapping):
        return Usage()
    input_details, output_details = usage.get("input_tokens_details"), usage.get("output_tokens_details")
    return Usage(
        input_tokens=integer_or_none(usage.get("input_tokens")),
        output_tokens=integer_or_none(usage.get("output_tokens")),
        cache_read_input_tokens=(
            integer_or_none(input_details.get("cached_tokens"))
            if isinstance(input_details, Mapping)
            else None
        ),
        reasoning_output_tokens=(
            integer_or_none(output_details.get("reasoning_tokens"))
            if isinstance(output_details, Mapping)
            else None
        ),
    )


class _ResponsesFolder(ChunkFolder):
    """Folds Responses API stream events: text deltas, then the final response's model, usage, status."""

    def add(self, item: object) -> None:
        """Fold one streamed event in (events that carry nothing we record are skipped)."""
        kind = getattr(item, "type", None)
        if kind == "response.output_text.delta":
            delta = getattr(item, "delta", None)
            if isinstance(delta, str):
                self._fold(ChatChunk(delta=delta))
        elif kind in _FINAL_EVENTS:
            try:
                reply = _responses_reply(as_json(getattr(item, "response", None)))
            except (ValueError, TypeError, AttributeError) as exc:
                logger.debug("otel_llm: skipped an unreadable responses event: %s", exc)
                return
            finish = reply.finish_reasons[0] if reply.finish_reasons else None
            # The final event carries the whole response: its tool calls arrive here, complete.
            calls = tuple(
                ToolCallDelta(i, call.id, call.name, call.raw_arguments, complete=True)
                for i, call in enumerate(reply.tool_calls)
            )
            self._fold(
                ChatChunk(
                    tool_calls=calls,
                    finish_reason=finish,
                    usage=reply.usage,
                    id=reply.id,
                    model=reply.model,
                    final=True,
                )
            )
