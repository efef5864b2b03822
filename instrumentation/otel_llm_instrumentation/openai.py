"""`OpenAIInstrumentor`: the routing client's telemetry for calls made with the official `openai` SDK.

Covers chat completions (`create`, streaming or not) and embeddings, sync and async. The provider is
named from the client's base URL (Azure, OpenRouter, Together, Groq, DeepSeek, Mistral, a local Ollama,
or the host of any other OpenAI-compatible server), never `openai` by default.

Streams get usage reporting added (`stream_options.include_usage`) unless the caller set it or passed
`add_stream_usage=False` to `instrument()`; the extra usage-only chunk it brings is kept from the caller,
so the stream the caller iterates is the one it asked for. Without usage, tokens are estimated and marked
as such.

Options of `instrument()`: `tracer_provider`, `meter_provider`, `capture_content`, `add_stream_usage`,
and `provider_names` (`{"gpu-box": "vllm"}`: names for hosts no registry knows; zero-code runs read
`OTEL_LLM_PROVIDER_NAMES="gpu-box=vllm"`).

Example:
    >>> OpenAIInstrumentor().instrument()  # or run under `opentelemetry-instrument`
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from otel_llm._inputs import parse_messages, parse_response_format, parse_tools
from otel_llm._types import ChatRequest, EmbeddingsRequest
from otel_llm.telemetry._handler import Telemetry
from otel_llm_instrumentation._endpoints import Endpoint, configured_names, endpoint_for
from otel_llm_instrumentation._observe import (
    ObservedCall,
    integer_or_none,
    logger,
    number_or_none,
    observing,
    telemetry_from,
)
from otel_llm_instrumentation._streams import ChunkFolder, ObservedAsyncStream, ObservedStream
from otel_llm_instrumentation._wrapping import restore_original

_INSTRUMENTS: Final = ("openai >= 1.40",)
# (module, class, method, operation)
_TARGETS: Final = (
    ("openai.resources.chat.completions", "Completions", "create", "chat"),
    ("openai.resources.chat.completions", "AsyncCompletions", "create", "chat"),
    ("openai.resources.embeddings", "Embeddings", "create", "embeddings"),
    ("openai.resources.embeddings", "AsyncEmbeddings", "create", "embeddings"),
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
            wrapt.wrap_function_wrapper(module, f"{cls}.{method}", _wrapper(options, operation, cls))

    def _uninstrument(self, **kwargs: Any) -> None:
        for module, cls, method, _ in _TARGETS:
            restore_original(getattr(importlib.import_module(module), cls), method)


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
        if observing():
            return wrapped(*args, **kwargs)  # an outer layer (a decorated function) records this call
        try:
            call = _observed_call(options, operation, instance, kwargs)
        except Exception:  # telemetry never breaks the call
            logger.debug("otel_llm: could not observe an openai call", exc_info=True)
            return wrapped(*args, **kwargs)
        hide_usage_chunk = False
        if operation == "chat" and kwargs.get("stream") and options.add_stream_usage:
            stream_options = kwargs.get("stream_options")
            given = stream_options if isinstance(stream_options, Mapping) else {}  # may be NOT_GIVEN
            if "include_usage" not in given:
                kwargs = {**kwargs, "stream_options": {**given, "include_usage": True}}
                hide_usage_chunk = True
        if asynchronous:
            return _call_async(wrapped, args, kwargs, call, operation, hide_usage_chunk)
        return _call_sync(wrapped, args, kwargs, call, operation, hide_usage_chunk)

    return wrapper


def _call_sync(
    wrapped: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    call: ObservedCall,
    operation: str,
    hide_usage_chunk: bool,
) -> Any:
    call.start()
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        call.end(exc)
        raise
    return _finish(call, result, operation, hide_usage_chunk, ObservedStream)


async def _call_async(
    wrapped: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    call: ObservedCall,
    operation: str,
    hide_usage_chunk: bool,
) -> Any:
    call.start()
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        call.end(exc)
        raise
    return _finish(call, result, operation, hide_usage_chunk, ObservedAsyncStream)


def _finish(call: ObservedCall, result: Any, operation: str, hide_usage_chunk: bool, stream: type) -> Any:
    if operation == "chat" and isinstance(call.request, ChatRequest) and call.request.stream:
        call.returned()  # the caller consumes the stream in its own context
        return stream(result, ChunkFolder(call), hide=_usage_only if hide_usage_chunk else None)
    if operation == "embeddings":
        call.record_embeddings(result)
    else:
        call.record_chat(result)
    call.end(None)
    return result


def _usage_only(chunk: Any) -> bool:
    """The chunk `include_usage` adds at the end: usage and no choices."""
    return not getattr(chunk, "choices", None) and getattr(chunk, "usage", None) is not None


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
    else:
        request = ChatRequest(
            model=model,
            messages=parse_messages(kwargs.get("messages") or []),
            temperature=number_or_none(kwargs.get("temperature")),
            top_p=number_or_none(kwargs.get("top_p")),
            max_tokens=integer_or_none(kwargs.get("max_completion_tokens", kwargs.get("max_tokens"))),
            seed=integer_or_none(kwargs.get("seed")),
            tools=parse_tools([t.get("function", t) for t in kwargs.get("tools") or []]),
            response_format=parse_response_format(_response_format(kwargs.get("response_format"))),
            stream=bool(kwargs.get("stream")),
        )
    return ObservedCall(options.telemetry, endpoint, request)


def _response_format(value: object) -> object:
    """OpenAI's `response_format` as the routing client's option (`"json"`, a schema, or nothing)."""
    if not isinstance(value, Mapping):
        return None
    if value.get("type") == "json_object":
        return "json"
    schema = value.get("json_schema")
    return schema if value.get("type") == "json_schema" and isinstance(schema, Mapping) else None
