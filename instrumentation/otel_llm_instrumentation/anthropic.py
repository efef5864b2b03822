"""`AnthropicInstrumentor`: the routing client's telemetry for calls made with the official `anthropic` SDK.

Covers the Messages API, sync and async: `messages.create` (streaming or not) and the `messages.stream`
helper. The provider is named from the client's base URL (`anthropic` for the public API; a proxy or a
gateway by its host, unless `provider_names` names it).

Anthropic's request shapes are read as the routing client's: `system=` becomes a system message,
`tool_use` blocks the assistant's tool calls, `tool_result` blocks tool messages, and tools
(`{name, description, input_schema}`) its `Tool`s. Streamed events are folded with the routing client's
Anthropic stream parser, so usage, finish reasons and time to first chunk are recorded the same way.

The span of `messages.stream(...)` opens when its context manager is entered (that is when the request
is sent) and ends when the stream is exhausted, closed (leaving the `with` block), fails, or is
garbage-collected. Whatever the caller consumes (events, `text_stream`, `get_final_message()`) is seen,
as the instrumentor observes the raw event stream underneath.

Options of `instrument()`: `tracer_provider`, `meter_provider`, `capture_content`, `metric_attribution`,
and `provider_names` (`{"llm-gateway": "anthropic"}`: names for hosts no registry knows; zero-code runs
read `OTEL_LLM_PROVIDER_NAMES="llm-gateway=anthropic"`).

Example:
    >>> AnthropicInstrumentor().instrument()  # or run under `opentelemetry-instrument`
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Final, Literal

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from otel_llm._inputs import parse_tools
from otel_llm._types import ChatRequest, ContentPart, ImagePart, Message, TextPart, ToolCall
from otel_llm.telemetry._handler import Telemetry
from otel_llm_instrumentation._endpoints import configured_names, endpoint_for
from otel_llm_instrumentation._observe import (
    ObservedCall,
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

_INSTRUMENTS: Final = ("anthropic >= 0.40",)
_MODULE: Final = "anthropic.resources.messages"
# (class, method)
_TARGETS: Final = (
    ("Messages", "create"),
    ("AsyncMessages", "create"),
    ("Messages", "stream"),
    ("AsyncMessages", "stream"),
)
_DEFAULT_BASE_URL: Final = "https://api.anthropic.com"
# Keyword arguments the SDK accepts as any iterable: read once here, so a generator is not consumed twice.
_ITERABLE_ARGUMENTS: Final = ("messages", "system", "tools", "stop_sequences")


class AnthropicInstrumentor(BaseInstrumentor):  # type: ignore[misc]  # the base class is untyped
    """Instruments the `anthropic` package; `uninstrument()` restores the original methods exactly."""

    def instrumentation_dependencies(self) -> Collection[str]:
        """The `anthropic` versions this instrumentor supports."""
        return _INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        telemetry = telemetry_from(kwargs)
        names = configured_names(kwargs.get("provider_names"))
        for cls, method in _TARGETS:
            asynchronous = cls.startswith("Async")
            wrapper = (
                _stream_wrapper(telemetry, names, asynchronous)
                if method == "stream"
                else _create_wrapper(telemetry, names, asynchronous)
            )
            wrapt.wrap_function_wrapper(_MODULE, f"{cls}.{method}", wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        import importlib

        module = importlib.import_module(_MODULE)
        for cls, method in _TARGETS:
            restore_original(getattr(module, cls), method)


def _event_type(item: Any) -> str | None:
    """The SSE event name of a streamed SDK event (the routing client's parser dispatches on it)."""
    kind = getattr(item, "type", None)
    return kind if isinstance(kind, str) else None


def _create_wrapper(telemetry: Telemetry, names: Mapping[str, str], asynchronous: bool) -> Callable[..., Any]:
    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if observing():
            return wrapped(*args, **kwargs)  # an outer layer (a decorated function) records this call
        kwargs = _materialised(kwargs)
        try:
            call = _observed_call(telemetry, names, instance, kwargs, stream=bool(kwargs.get("stream")))
        except Exception:  # telemetry never breaks the call
            logger.debug("otel_llm: could not observe an anthropic call", exc_info=True)
            return wrapped(*args, **kwargs)
        if asynchronous:
            return run_observed_async(
                call, wrapped, args, kwargs, lambda result: _finish(call, result, ObservedAsyncStream)
            )
        return run_observed(call, wrapped, args, kwargs, lambda result: _finish(call, result, ObservedStream))

    return wrapper


def _finish(call: ObservedCall, result: Any, stream: type) -> Any:
    if isinstance(call.request, ChatRequest) and call.request.stream:
        call.returned()  # the caller consumes the stream in its own context
        return stream(result, ChunkFolder(call, event_type=_event_type))
    call.record_chat(result)
    call.end(None)
    return result


def _stream_wrapper(telemetry: Telemetry, names: Mapping[str, str], asynchronous: bool) -> Callable[..., Any]:
    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if observing():
            return wrapped(*args, **kwargs)
        kwargs = _materialised(kwargs)
        try:
            call = _observed_call(telemetry, names, instance, kwargs, stream=True)
        except Exception:  # telemetry never breaks the call
            logger.debug("otel_llm: could not observe an anthropic stream", exc_info=True)
            return wrapped(*args, **kwargs)
        manager = wrapped(*args, **kwargs)
        folder = ChunkFolder(call, event_type=_event_type)
        return (ObservedAsyncStreamManager if asynchronous else ObservedStreamManager)(manager, folder)

    return wrapper


def _materialised(kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs` with one-shot iterables (generators) turned into lists, so reading them consumes nothing."""
    once = {
        name: list(value)
        for name in _ITERABLE_ARGUMENTS
        if isinstance(value := kwargs.get(name), Iterable)
        and not isinstance(value, (list, tuple, str, bytes, Mapping))
    }
    return {**kwargs, **once} if once else kwargs


def _observed_call(
    telemetry: Telemetry, names: Mapping[str, str], instance: Any, kwargs: Mapping[str, Any], *, stream: bool
) -> ObservedCall:
    base_url = str(getattr(getattr(instance, "_client", None), "base_url", _DEFAULT_BASE_URL))
    stop = kwargs.get("stop_sequences")
    request = ChatRequest(
        model=str(kwargs.get("model", "unknown")),
        messages=_system(kwargs.get("system")) + _messages(kwargs.get("messages")),
        temperature=number_or_none(kwargs.get("temperature")),
        top_p=number_or_none(kwargs.get("top_p")),
        max_tokens=integer_or_none(kwargs.get("max_tokens")),
        stop=tuple(str(s) for s in stop) if isinstance(stop, (list, tuple)) and stop else None,
        tools=parse_tools([_tool(t) for t in kwargs.get("tools") or []]),
        tool_choice=_tool_choice(kwargs.get("tool_choice")),
        response_format=_output_format(kwargs.get("output_config")),
        stream=stream,
    )
    return ObservedCall(telemetry, endpoint_for(base_url, "anthropic", names), request)


def _output_format(output_config: object) -> Literal["json"] | None:
    """`"json"` when Anthropic's native structured output (`output_config.format`) is asked for.

    Only the fact is recorded (`gen_ai.output.type`): a schema here would make the routing client's parser
    look for its own emulation tool, which a native structured answer does not use.
    """
    config = _mapping(output_config)
    return "json" if config is not None and _mapping(config.get("format")) is not None else None


def _mapping(value: object) -> Mapping[str, Any] | None:
    """A request item as a mapping: a `TypedDict` as it is, an SDK model (a block sent back) dumped."""
    if isinstance(value, Mapping):
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        dumped = dump()
        return dumped if isinstance(dumped, Mapping) else None
    return None


def _system(system: object) -> tuple[Message, ...]:
    """`system=`, a string or text blocks, as the conversation's leading system message."""
    if isinstance(system, str):
        return (Message("system", system),) if system else ()
    if not isinstance(system, (list, tuple)):
        return ()  # absent (`NOT_GIVEN`)
    parts = _parts(system)
    return (Message("system", parts),) if parts else ()


def _messages(messages: object) -> tuple[Message, ...]:
    """Anthropic's turns as the routing client's messages (tool results become `tool` messages)."""
    if not isinstance(messages, (list, tuple)):
        return ()
    converted: list[Message] = []
    for item in messages:
        message = _mapping(item)
        if message is None:
            continue
        role, content = str(message.get("role", "user")), message.get("content")
        if isinstance(content, str):
            converted.append(Message(role, content))
            continue
        blocks = [b for b in map(_mapping, content if isinstance(content, (list, tuple)) else ()) if b]
        # Anthropic puts tool results first in a user turn; the routing client sends them that way too.
        converted += [_tool_result(b) for b in blocks if b.get("type") == "tool_result"]
        calls = tuple(_tool_call(b) for b in blocks if b.get("type") == "tool_use")
        parts = _parts(blocks)
        if parts or calls:
            converted.append(Message(role, parts, tool_calls=calls))
    return tuple(converted)


def _parts(blocks: Iterable[object]) -> tuple[ContentPart, ...]:
    """Text and image blocks; others (thinking, documents, tool blocks) carry no content we record."""
    parts: list[ContentPart] = []
    for raw in blocks:
        block = _mapping(raw)
        if block is None:
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            parts.append(TextPart(block["text"]))
        elif kind == "image" and (image := _image(block.get("source"))) is not None:
            parts.append(image)
    return tuple(parts)


def _image(source: object) -> ImagePart | None:
    source = _mapping(source)
    if source is None:
        return None
    if source.get("type") == "base64" and isinstance(source.get("data"), str):
        return ImagePart(data=source["data"], media_type=str(source.get("media_type") or "image/png"))
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        return ImagePart(url=source["url"])
    return None


def _tool_result(block: Mapping[str, Any]) -> Message:
    content = block.get("content")
    text = (
        content
        if isinstance(content, str)
        else "".join(
            p.text
            for p in _parts(content if isinstance(content, (list, tuple)) else ())
            if isinstance(p, TextPart)
        )
    )
    return Message("tool", text, tool_call_id=str(block.get("tool_use_id") or ""))


def _tool_call(block: Mapping[str, Any]) -> ToolCall:
    arguments = block.get("input")
    return ToolCall.from_object(
        str(block.get("id") or ""),
        str(block.get("name") or ""),
        arguments if isinstance(arguments, Mapping) else {},
    )


def _tool(value: object) -> object:
    """Anthropic's tool shape as the routing client's (`input_schema` is the parameters' schema)."""
    tool = _mapping(value)
    if tool is None:
        return value  # let `parse_tools` say what is wrong with it
    return {
        "name": tool.get("name"),
        "description": tool.get("description"),
        "parameters": tool.get("input_schema"),
    }


def _tool_choice(value: object) -> str | None:
    """`{"type": "auto" | "any" | "none" | "tool", "name"?}` as the routing client's tool choice."""
    choice = _mapping(value)
    kind = choice.get("type") if choice else None
    if choice is not None and kind == "tool" and isinstance(choice.get("name"), str):
        return str(choice["name"])
    return {"auto": "auto", "any": "required", "none": "none"}.get(kind) if isinstance(kind, str) else None
