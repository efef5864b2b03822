"""`GoogleGenAIInstrumentor`: the routing client's telemetry for calls made with the `google-genai` SDK.

Covers `models.generate_content` and `models.generate_content_stream`, sync (`client.models`) and async
(`client.aio.models`). The provider is named from the client's base URL: Google AI Studio is `gcp.gemini`,
a Vertex AI client (`vertexai=True`) is `gcp.vertex_ai`, and any other host (a proxy, a local fake) is
reported by its host name unless `provider_names` names it.

The SDK's pydantic responses are read with the routing client's own Gemini parser, from their wire form
(camelCase keys, `model_dump(by_alias=True)`): the SDK's snake_case dump is not what the wire says.
Request contents are read best-effort: text, function calls and function results become messages, other
parts (images, files) are left out, and contents of a shape this module does not know are recorded as no
messages at all. Reading the request never breaks the call.

Options of `instrument()`: `tracer_provider`, `meter_provider`, `capture_content`, `metric_attribution`,
and `provider_names` (`{"gemini-proxy": "gemini"}`: names for hosts no registry knows; zero-code runs
read `OTEL_LLM_PROVIDER_NAMES="gemini-proxy=gemini"`).

Example:
    >>> GoogleGenAIInstrumentor().instrument()  # or run under `opentelemetry-instrument`
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Final

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from otel_llm._types import ChatRequest, Message, ToolCall
from otel_llm.telemetry._handler import Telemetry
from otel_llm_instrumentation._endpoints import Endpoint, configured_names, endpoint_for
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
from otel_llm_instrumentation._streams import ChunkFolder, ObservedAsyncStream, ObservedStream
from otel_llm_instrumentation._wrapping import restore_original

_INSTRUMENTS: Final = ("google-genai >= 2.0",)
_DEFAULT_BASE_URL: Final = "https://generativelanguage.googleapis.com"
_VERTEX_AI: Final = "gcp.vertex_ai"
# (module, class, method, streams)
_TARGETS: Final = (
    ("google.genai.models", "Models", "generate_content", False),
    ("google.genai.models", "Models", "generate_content_stream", True),
    ("google.genai.models", "AsyncModels", "generate_content", False),
    ("google.genai.models", "AsyncModels", "generate_content_stream", True),
)


class GoogleGenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]  # the base class is untyped
    """Instruments the `google-genai` package; `uninstrument()` restores the original methods exactly."""

    def instrumentation_dependencies(self) -> Collection[str]:
        """The `google-genai` versions this instrumentor supports."""
        return _INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        telemetry = telemetry_from(kwargs)
        options = _Options(telemetry, configured_names(kwargs.get("provider_names")))
        for module, cls, method, streams in _TARGETS:
            wrapper = _wrapper(options, cls.startswith("Async"), streams)
            wrapt.wrap_function_wrapper(module, f"{cls}.{method}", wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        import importlib

        for module, cls, method, _ in _TARGETS:
            restore_original(getattr(importlib.import_module(module), cls), method)


class _Options:
    def __init__(self, telemetry: Telemetry, names: Mapping[str, str]) -> None:
        self.telemetry = telemetry
        self.names = names


def _wrapper(options: _Options, asynchronous: bool, streams: bool) -> Callable[..., Any]:
    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if observing():
            return wrapped(*args, **kwargs)  # an outer layer (a decorated function) records this call
        try:
            call = _observed_call(options, instance, kwargs, streams)
        except Exception:  # telemetry never breaks the call
            logger.debug("otel_llm: could not observe a google-genai call", exc_info=True)
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
        return stream(result, _WireFolder(call))
    call.record_chat(_wire(result))
    call.end(None)
    return result


class _WireFolder(ChunkFolder):
    """Folds the SDK's stream items in their wire form (camelCase), which the Gemini parser reads."""

    def add(self, item: object) -> None:
        """Fold one streamed `GenerateContentResponse` in (unreadable items are skipped)."""
        super().add(_wire(item))


def _wire(result: object) -> object:
    """A google-genai pydantic object as the JSON the API sent; anything else unchanged."""
    dump = getattr(result, "model_dump", None)
    if not callable(dump):
        return result
    try:
        # Without `by_alias` the keys are snake_case; without `exclude_none`, absent fields read as nulls.
        return dump(mode="json", by_alias=True, exclude_none=True)
    except Exception:  # telemetry never breaks the call: the parser then skips what it cannot read
        logger.debug("otel_llm: could not dump a google-genai object", exc_info=True)
        return result


def _observed_call(
    options: _Options, instance: Any, kwargs: Mapping[str, Any], streams: bool
) -> ObservedCall:
    config = kwargs.get("config")
    request = ChatRequest(
        model=_model_name(kwargs.get("model")),
        messages=_messages(kwargs.get("contents"), _field(config, "system_instruction", "systemInstruction")),
        temperature=number_or_none(_field(config, "temperature")),
        top_p=number_or_none(_field(config, "top_p", "topP")),
        max_tokens=integer_or_none(_field(config, "max_output_tokens", "maxOutputTokens")),
        stop=_stop(_field(config, "stop_sequences", "stopSequences")),
        seed=integer_or_none(_field(config, "seed")),
        response_format="json"
        if _field(config, "response_mime_type", "responseMimeType") == "application/json"
        else None,
        stream=streams,
    )
    return ObservedCall(options.telemetry, _endpoint(options, instance, config), request)


def _endpoint(options: _Options, instance: Any, config: object) -> Endpoint:
    """The endpoint the SDK client sends to: its (or this call's) base URL; Vertex AI named as such."""
    api_client = getattr(instance, "_api_client", None)
    call_options = _field(config, "http_options", "httpOptions")
    base_url = (
        _field(call_options, "base_url", "baseUrl")
        or getattr(getattr(api_client, "_http_options", None), "base_url", None)
        or _DEFAULT_BASE_URL
    )
    endpoint = endpoint_for(str(base_url), "gemini", options.names)
    if getattr(api_client, "vertexai", False) is True and endpoint.server_address not in options.names:
        # The registry has no Vertex AI provider: no list price is assumed for it either.
        return Endpoint("vertex_ai", _VERTEX_AI, endpoint.server_address, endpoint.server_port, "gemini")
    return endpoint


def _model_name(model: object) -> str:
    """`models/gemini-2.5-flash` and Vertex resource names as the bare model id."""
    name = str(model) if model else "unknown"
    if name.startswith("models/"):
        return name.removeprefix("models/")
    return name.rpartition("/models/")[2] if "/models/" in name else name


def _field(value: object, *names: str) -> Any:
    """The first of `names` set on a config object or mapping (dicts may use either key style)."""
    for name in names:
        found = value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)
        if found is not None:
            return found
    return None


def _stop(value: object) -> tuple[str, ...] | None:
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


class _UnknownShape(TypeError):
    """Contents this module cannot read."""


def _messages(contents: object, system_instruction: object = None) -> tuple[Message, ...]:
    """The call's `contents` (and system instruction) as messages; `()` for shapes not understood."""
    try:
        system = _text(system_instruction)
        turns = _turns(contents)
    except (TypeError, ValueError, AttributeError):  # _UnknownShape included
        logger.debug("otel_llm: recorded a google-genai call without its messages", exc_info=True)
        return ()
    return ((Message("system", system),) if system else ()) + turns


def _turns(contents: object) -> tuple[Message, ...]:
    """Content turns; loose parts (strings, `Part`s) group into one user turn, as the SDK sends them."""
    if isinstance(contents, (list, tuple)):
        items: Sequence[object] = contents  # media items in a list (images, files) are skipped below
    elif _as_content(contents) is not None or _part(contents) is not None:
        items = [contents]
    else:
        raise _UnknownShape(f"contents of type {type(contents).__name__}")
    messages: list[Message] = []
    loose: list[object] = []
    for item in items:
        content = _as_content(item)
        if content is None:
            loose.append(item)
            continue
        if loose:
            messages += _messages_of("user", loose)
            loose = []
        messages += _messages_of(str(content.get("role") or "user"), _sequence(content.get("parts")))
    if loose:
        messages += _messages_of("user", loose)
    return tuple(messages)


def _as_content(item: object) -> Mapping[str, Any] | None:
    """A `Content` (object or mapping) as a mapping; `None` for a part."""
    from google.genai import types

    if isinstance(item, types.Content):
        return {"role": item.role, "parts": item.parts or []}
    if isinstance(item, Mapping) and ("parts" in item or "role" in item):
        return item
    return None


def _messages_of(role: str, parts: Sequence[object]) -> list[Message]:
    """One turn's messages: its text and function calls, then one tool message per function result."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    results: list[Message] = []
    for part in parts:
        fields = _part(part)
        if fields is None:
            continue  # images, files and other media: not part of the recorded conversation
        if fields.get("thought"):
            continue
        call = _field(fields, "function_call", "functionCall")
        result = _field(fields, "function_response", "functionResponse")
        if isinstance(call, Mapping):
            args = call.get("args")
            calls.append(
                ToolCall.from_object(
                    str(call.get("id") or f"call_{len(calls)}"),
                    str(call.get("name") or ""),
                    args if isinstance(args, Mapping) else {},
                )
            )
        elif isinstance(result, Mapping):
            results.append(
                Message(
                    "tool",
                    json.dumps(result.get("response") or {}, default=str),
                    tool_call_id=str(result["id"]) if result.get("id") else None,
                    name=str(result.get("name") or "") or None,
                )
            )
        elif isinstance(fields.get("text"), str):
            texts.append(fields["text"])
    turn = []
    if texts or calls or not results:
        turn.append(
            Message("assistant" if role == "model" else "user", "".join(texts), tool_calls=tuple(calls))
        )
    return turn + results


def _part(part: object) -> Mapping[str, Any] | None:
    """A part as a mapping (`{"text": ...}`, `{"function_call": ...}`, ...); `None` for media."""
    from google.genai import types

    if isinstance(part, str):
        return {"text": part}
    if isinstance(part, types.Part):
        dumped: Mapping[str, Any] = part.model_dump(mode="json", exclude_none=True)
        return dumped
    if isinstance(part, Mapping):
        return part
    return None


def _sequence(value: object) -> Sequence[object]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return value
    raise _UnknownShape(f"parts of type {type(value).__name__}")


def _text(value: object) -> str:
    """The text of a system instruction: a string, a `Content`, a `Part`, or a list of them."""
    if value is None:
        return ""
    content = _as_content(value)
    parts = _sequence(content.get("parts")) if content is not None else value
    items = parts if isinstance(parts, (list, tuple)) else [parts]
    fields = (_part(item) for item in items)
    return "".join(str(f["text"]) for f in fields if f is not None and isinstance(f.get("text"), str))
