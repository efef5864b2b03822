"""`HttpxInstrumentor`: the routing client's telemetry for LLM calls legacy code sends with raw `httpx`.

Wraps `httpx.Client.send` and `httpx.AsyncClient.send`. A `POST` to a known GenAI path is observed:

- OpenAI-compatible `/chat/completions` and `/embeddings` (any host; the provider is named from the host,
  as `OpenAIInstrumentor` names it),
- Anthropic `/v1/messages`, Gemini `models/{model}:generateContent` / `:streamGenerateContent`, and
  Ollama `/api/chat`.

Anything else passes straight through after a method and path check. The JSON request body is read into
the routing client's `ChatRequest`; a body that cannot be read (a streamed upload, not JSON) leaves the
call unobserved. The caller gets the response exactly as httpx returned it: error statuses are recorded
(`error.type` as the routing client classifies them) but never raised, and streamed bodies are observed
as the caller reads them (`iter_bytes`, `iter_lines`, `aiter_text`, `read`, ...), bytes unchanged; the span
ends when the body is exhausted or the response is closed.

Never counted twice: calls already observed (an SDK instrumentor or `@llm_call` is recording them) and
the routing client's own sends (it records them itself) pass through.

Options of `instrument()`: `tracer_provider`, `meter_provider`, `capture_content`, `metric_attribution`
and `provider_names` (`{"gpu-box": "vllm"}`; zero-code runs read `OTEL_LLM_PROVIDER_NAMES`).

Example:
    >>> HttpxInstrumentor().instrument(provider_names={"gpu-box": "vllm"})
"""

from __future__ import annotations

import json
import weakref
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx
import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from otel_llm._exceptions import OtelLLMError, ProviderError, map_transport_errors
from otel_llm._inputs import parse_messages
from otel_llm._ndjson import NDJSONDecoder
from otel_llm._sending import sending_own_request
from otel_llm._sse import SSEDecoder
from otel_llm._types import ChatRequest, EmbeddingsRequest, Message
from otel_llm.telemetry._handler import Telemetry
from otel_llm_instrumentation._endpoints import configured_names, endpoint_for, parser_for
from otel_llm_instrumentation._observe import (
    ObservedCall,
    integer_or_none,
    logger,
    number_or_none,
    observing,
    telemetry_from,
)
from otel_llm_instrumentation._streams import ChunkFolder

_INSTRUMENTS: Final = ("httpx >= 0.27",)
_GEMINI_ACTIONS: Final = ("generateContent", "streamGenerateContent")
_ROLES: Final = {"model": "assistant"}  # Gemini's name for the assistant


class HttpxInstrumentor(BaseInstrumentor):  # type: ignore[misc]  # the base class is untyped
    """Instruments `httpx` clients; `uninstrument()` restores the original `send` methods exactly."""

    def instrumentation_dependencies(self) -> Collection[str]:
        """The `httpx` versions this instrumentor supports."""
        return _INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        telemetry = telemetry_from(kwargs)
        options = _Options(telemetry, configured_names(kwargs.get("provider_names")))
        self._wrappers = {
            "Client": wrapt.wrap_function_wrapper("httpx", "Client.send", _sync_wrapper(options)),
            "AsyncClient": wrapt.wrap_function_wrapper("httpx", "AsyncClient.send", _async_wrapper(options)),
        }

    def _uninstrument(self, **kwargs: Any) -> None:
        wrappers: dict[str, Any] = getattr(self, "_wrappers", {})
        for name, handle in wrappers.items():
            target = getattr(httpx, name)
            # Only our own wrapper is removed: one installed over it since keeps working.
            if vars(target).get("send") is handle:
                target.send = handle.__wrapped__
            else:
                logger.warning("otel_llm: httpx.%s.send was wrapped again since; left as it is", name)
        self._wrappers = {}


class _Options:
    def __init__(self, telemetry: Telemetry, names: Mapping[str, str]) -> None:
        self.telemetry = telemetry
        self.names = names


@dataclass(frozen=True, slots=True)
class _Target:
    """A recognised GenAI request: its wire format, operation and what the URL says."""

    wire: str
    operation: str = "chat"
    path_model: str | None = None
    path_streams: bool = False


def _recognise(request: httpx.Request) -> _Target | None:
    """The GenAI call `request` makes, from its method and path alone (cheap: runs on every send)."""
    if request.method != "POST":
        return None
    path = request.url.path
    if path.endswith("/chat/completions"):
        return _Target("azure" if _on_azure(request) else "openai")
    if path.endswith("/embeddings"):
        return _Target("azure" if _on_azure(request) else "openai", "embeddings")
    if path.endswith("/v1/messages"):
        return _Target("anthropic")
    if path.endswith("/api/chat"):
        return _Target("ollama")
    head, colon, action = path.rpartition(":")
    if colon and action in _GEMINI_ACTIONS and "/models/" in head:
        return _Target(
            "gemini", path_model=head.rpartition("/models/")[2], path_streams=action != "generateContent"
        )
    return None


def _on_azure(request: httpx.Request) -> bool:
    return request.url.host.endswith((".openai.azure.com", ".cognitiveservices.azure.com"))


def _prepare(
    options: _Options, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[ObservedCall, _Target] | None:
    """The telemetry of a `send` to observe, or `None` to pass it through."""
    request = args[0] if args else kwargs.get("request")
    if not isinstance(request, httpx.Request):
        return None
    target = _recognise(request)
    if target is None or observing() or sending_own_request():  # another layer records it
        return None
    call = _observed_call(options, target, request)
    return None if call is None else (call, target)


def _sync_wrapper(options: _Options) -> Callable[..., Any]:
    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        observed = _prepare(options, args, kwargs)
        if observed is None:
            return wrapped(*args, **kwargs)
        call, target = observed
        call.start()
        try:
            response = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.end(_classified(exc, call))
            raise
        return _observe(call, target, response)

    return wrapper


def _async_wrapper(options: _Options) -> Callable[..., Any]:
    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        # Decided here, not in the coroutine: the routing client's mark is set around this call.
        observed = _prepare(options, args, kwargs)
        if observed is None:
            return wrapped(*args, **kwargs)
        call, target = observed
        return _send_async(wrapped, args, kwargs, call, target)

    return wrapper


async def _send_async(
    wrapped: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    call: ObservedCall,
    target: _Target,
) -> Any:
    call.start()
    try:
        response = await wrapped(*args, **kwargs)
    except BaseException as exc:
        call.end(_classified(exc, call))
        raise
    return _observe(call, target, response)


def _classified(error: BaseException, call: ObservedCall) -> BaseException:
    """A transport failure as the routing client records it (`timeout`, `connection`); others as they are."""
    try:
        with map_transport_errors(call.endpoint.key, call.request.model):
            raise error
    except ProviderError as mapped:
        return mapped
    except BaseException:
        return error


def _observe(call: ObservedCall, target: _Target, response: object) -> object:
    """Record what `send` returned; a streamed body is observed as the caller reads it."""
    if not isinstance(response, httpx.Response):
        call.end(None)
        return response
    try:
        content: bytes | None = response.content  # read inside `send`, or by the transport already
    except httpx.ResponseNotRead:
        content = None
    reader = _BodyReader(call, target, response, decode=content is None)
    if content is not None:
        reader.feed(content)
        reader.finish(None)
        return response
    call.returned()  # the caller reads the body in its own context
    if isinstance(response.stream, httpx.SyncByteStream):
        response.stream = _ObservedBody(response.stream, reader)
    elif isinstance(response.stream, httpx.AsyncByteStream):
        response.stream = _ObservedAsyncBody(response.stream, reader)
    else:  # no stream we can observe: the span ends now, without the response
        reader.finish(None)
    return response


# --- reading the request ---------------------------------------------------------------------------


def _observed_call(options: _Options, target: _Target, request: httpx.Request) -> ObservedCall | None:
    """The call's telemetry, or `None` when its body cannot be read (then it goes unobserved)."""
    try:
        body = json.loads(request.content)
    except (httpx.RequestNotRead, ValueError) as exc:
        logger.debug("otel_llm: unreadable GenAI request body, not observed: %s", exc)
        return None
    if not isinstance(body, Mapping):
        return None
    try:
        endpoint = endpoint_for(request.url, target.wire, options.names)
        model_request = _model_request(target, body, request.url)
        return ObservedCall(options.telemetry, endpoint, model_request)
    except Exception:  # telemetry never breaks the call
        logger.debug("otel_llm: could not observe an httpx call", exc_info=True)
        return None


def _model_request(
    target: _Target, body: Mapping[str, Any], url: httpx.URL
) -> ChatRequest | EmbeddingsRequest:
    model = str(body.get("model") or target.path_model or _deployment(url) or "unknown")
    if target.operation == "embeddings":
        inputs = body.get("input", ())
        texts = (inputs,) if isinstance(inputs, str) else tuple(str(i) for i in inputs)
        return EmbeddingsRequest(
            model=model, inputs=texts, dimensions=integer_or_none(body.get("dimensions"))
        )
    if target.wire == "gemini":
        return _gemini_request(target, body)
    options = body.get("options") if target.wire == "ollama" else None
    params: Mapping[str, Any] = options if isinstance(options, Mapping) else body
    messages = list(body.get("messages") or [])
    system = body.get("system") if target.wire == "anthropic" else None
    if system:
        messages.insert(0, {"role": "system", "content": system})
    return ChatRequest(
        model=model,
        messages=_messages(messages),
        temperature=number_or_none(params.get("temperature")),
        top_p=number_or_none(params.get("top_p")),
        max_tokens=integer_or_none(
            params.get("num_predict")
            if options is not None
            else body.get("max_completion_tokens", body.get("max_tokens"))
        ),
        seed=integer_or_none(params.get("seed")),
        # Ollama streams unless told not to.
        stream=bool(body.get("stream", target.wire == "ollama")),
    )


def _gemini_request(target: _Target, body: Mapping[str, Any]) -> ChatRequest:
    config = body.get("generationConfig")
    config = config if isinstance(config, Mapping) else {}
    contents = [c for c in body.get("contents") or [] if isinstance(c, Mapping)]
    messages = [
        {"role": _ROLES.get(str(c.get("role")), c.get("role") or "user"), "content": c.get("parts")}
        for c in contents
    ]
    system = body.get("systemInstruction") or body.get("system_instruction")
    if isinstance(system, Mapping):
        messages.insert(0, {"role": "system", "content": system.get("parts")})
    return ChatRequest(
        model=target.path_model or "unknown",
        messages=_messages(messages),
        temperature=number_or_none(config.get("temperature")),
        top_p=number_or_none(config.get("topP")),
        max_tokens=integer_or_none(config.get("maxOutputTokens")),
        seed=integer_or_none(config.get("seed")),
        stream=target.path_streams,
    )


def _messages(items: Sequence[object]) -> tuple[Message, ...]:
    """The conversation, best effort: parsed exactly when we can, else as plain text per message."""
    try:
        return parse_messages(items)
    except (OtelLLMError, ValueError, TypeError, AttributeError):
        pass  # a wire shape the parser does not take (content blocks, Gemini parts): take the text
    return tuple(
        Message(role=str(item.get("role") or "user"), content=_text(item.get("content")))
        for item in items
        if isinstance(item, Mapping)
    )


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        return str(content.get("text") or "")
    if isinstance(content, Sequence):
        return "".join(_text(part) for part in content)
    return ""


def _deployment(url: httpx.URL) -> str | None:
    """Azure names the deployment in the path, not the body."""
    _, found, rest = url.path.partition("/deployments/")
    return (rest.partition("/")[0] or None) if found else None


# --- reading the response --------------------------------------------------------------------------


class _BodyReader:
    """Reads a response body as it arrives and records the call when it ends; never raises.

    Stream events (SSE or NDJSON) are folded as they arrive; other bodies (a JSON response, an error
    body, Gemini's JSON-array stream without `alt=sse`) are kept and read at the end.
    """

    def __init__(
        self, call: ObservedCall, target: _Target, response: httpx.Response, *, decode: bool
    ) -> None:
        self._call = call
        self._response = response
        self._ended = False
        self._kept: list[bytes] = []
        # Raw stream bytes may be compressed: our copy is decoded as httpx decodes the caller's, by a
        # decoder of our own (the response keeps one decoder, with state, for the caller).
        encoding = response.headers.get("content-encoding", "identity") if decode else "identity"
        self._content = (
            None
            if encoding.strip().lower() == "identity"
            else httpx.Response(200, headers={"content-encoding": encoding})._get_content_decoder()
        )
        request = call.request
        self._folder: ChunkFolder | None = None
        self._events: SSEDecoder | NDJSONDecoder | None = None
        self._event_name: str | None = None
        if isinstance(request, ChatRequest) and request.stream and response.status_code < 400:
            self._folder = ChunkFolder(call, lambda _item: self._event_name)
            gemini_array = target.wire == "gemini" and response.request.url.params.get("alt") != "sse"
            if not gemini_array:
                framing = parser_for(call.endpoint).framing
                self._events = SSEDecoder() if framing == "sse" else NDJSONDecoder()

    def feed(self, data: bytes) -> None:
        """Bytes of the body, as the caller receives them."""
        if self._ended:
            return
        try:
            if self._content is not None:
                data = self._content.decode(data)
            self._take(data)
        except Exception:  # telemetry never breaks the call
            logger.debug("otel_llm: could not read a streamed body", exc_info=True)

    def _take(self, data: bytes) -> None:
        if self._events is None:
            self._kept.append(data)
            return
        assert self._folder is not None  # events are only decoded for streams
        for event in self._events.feed(data):
            if event.data.lstrip().startswith("{"):  # skips `[DONE]` and other markers
                self._event_name = event.event
                self._folder.add(event.data)

    def finish(self, error: BaseException | None) -> None:
        """The body ended (exhausted, closed, or failed with `error`): record the call, once."""
        if self._ended:
            return
        if self._content is not None and error is None:
            try:
                self._take(self._content.flush())
            except Exception:  # telemetry never breaks the call
                logger.debug("otel_llm: could not read a streamed body", exc_info=True)
        self._ended = True
        if error is not None:
            error = _classified(error, self._call)
        try:
            self._record(error)
        finally:
            self._call.end(error)  # idempotent: a no-op when the call was ended already

    def _record(self, error: BaseException | None) -> None:
        call, status = self._call, self._response.status_code
        if error is not None:
            if self._folder is not None:
                self._folder.end(error)
            return
        body = b"".join(self._kept)
        if status >= 400:
            call.end(self._error(body))
        elif self._folder is not None:
            if self._events is None:  # Gemini's JSON-array stream
                for item in _json_array(body):
                    self._folder.add(item)
            self._folder.end(None)
        elif isinstance(call.request, EmbeddingsRequest):
            call.record_embeddings(body)
        else:
            call.record_chat(body)

    def _error(self, body: bytes) -> BaseException:
        """The error status as the routing client classifies it (never raised to the caller)."""
        response = self._response
        headers = {k: v for k, v in response.headers.items() if k.lower() not in _BODY_HEADERS}
        readable = httpx.Response(
            response.status_code, headers=headers, content=body, request=response.request
        )
        try:
            return parser_for(self._call.endpoint).classify_error(readable, self._call.request)
        except (OtelLLMError, ValueError, TypeError, AttributeError) as exc:
            logger.debug("otel_llm: could not classify an error response: %s", exc)
            return httpx.HTTPStatusError(
                f"HTTP {response.status_code}", request=response.request, response=response
            )


_BODY_HEADERS: Final = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def _json_array(body: bytes) -> list[object]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return []
    return parsed if isinstance(parsed, list) else [parsed]


class _ObservedBody(httpx.SyncByteStream):
    """A response's byte stream, observed as the caller reads it; the bytes pass through unchanged."""

    def __init__(self, inner: httpx.SyncByteStream, reader: _BodyReader) -> None:
        self._inner = inner
        self._reader = reader
        # Ends the span if the response is dropped unread and unclosed.
        self._finalizer = weakref.finalize(self, reader.finish, None)

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._inner:
                self._reader.feed(chunk)
                yield chunk
        except GeneratorExit:  # the caller stopped reading: a call left early, not failed
            self._finalizer()
            raise
        except BaseException as exc:
            self._reader.finish(exc)
            raise
        self._finalizer()

    def close(self) -> None:
        """Close the underlying stream; the span ends (without error) if it had not yet."""
        try:
            self._inner.close()
        finally:
            self._finalizer()


class _ObservedAsyncBody(httpx.AsyncByteStream):
    """An async response's byte stream, observed as the caller reads it; bytes pass through unchanged."""

    def __init__(self, inner: httpx.AsyncByteStream, reader: _BodyReader) -> None:
        self._inner = inner
        self._reader = reader
        self._finalizer = weakref.finalize(self, reader.finish, None)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                self._reader.feed(chunk)
                yield chunk
        except GeneratorExit:
            self._finalizer()
            raise
        except BaseException as exc:
            self._reader.finish(exc)
            raise
        self._finalizer()

    async def aclose(self) -> None:
        """Close the underlying stream; the span ends (without error) if it had not yet."""
        try:
            await self._inner.aclose()
        finally:
            self._finalizer()
