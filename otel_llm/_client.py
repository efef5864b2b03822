"""`Client`: the synchronous shell. It does the I/O; `BaseClient` and the engine decide everything else.

GENERATED from `_async_client.py` by `scripts/unasync.py`: edit that file, not this one.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Generator, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover - Python 3.10; typing_extensions costs ~2.5 ms to import
    from typing_extensions import Unpack

from otel_llm._base_client import (
    BaseClient,
    C,
    ChatOptions,
    ClientConfig,
    EmbedOptions,
    PreparedCall,
)
from otel_llm._engine import Attempt, CallPlan, Finish, Sleep
from otel_llm._exceptions import ProviderError, StreamInterruptedError, map_transport_errors
from otel_llm._sending import own_send
from otel_llm._stream_session import OpenedStream, starts_stream, visible
from otel_llm._structured import ParsedResponse
from otel_llm._types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    MessageInput,
)

if TYPE_CHECKING:
    from otel_llm._cache import SingleFlight
    from otel_llm.telemetry import CallRecorder

T = TypeVar("T")


class Client(BaseClient):
    """A synchronous LLM client with fallbacks, retries, circuit breakers, cost and telemetry.

    Args:
        http_client: An `httpx.Client` to use (not closed by `close()`).
        transport: An httpx transport for the client's own `httpx.Client`.
        sleep: Sleep function, injectable for tests (default: `time.sleep`).
        **config: Providers, policies, timeout, telemetry providers, prices: see `ClientConfig`.

    Example:
        >>> with otel_llm.Client() as client:
        ...     reply = client.chat(
        ...         "openai:gpt-4o-mini",
        ...         [{"role": "user", "content": "Hello"}],
        ...         fallbacks=["anthropic:claude-haiku-4-5"],
        ...     )
        ...     print(reply.text, reply.cost_usd)
    """

    def __init__(
        self,
        *,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        **config: Unpack[ClientConfig],
    ) -> None:
        super().__init__(**config)
        self._flights: SingleFlight | None = None
        if self._cache is not None:
            from otel_llm._cache import SingleFlight  # deferred: only clients with a cache need it

            self._flights = SingleFlight()
        self._http = http_client or httpx.Client(transport=transport)
        self._owns_http = http_client is None
        self._sleep = sleep or _default_sleep()

    def chat(
        self, model: str, messages: Sequence[MessageInput], **options: Unpack[ChatOptions]
    ) -> ChatResponse:
        """Send a chat request over `model` and its fallbacks; return the first successful response.

        Args:
            model: The first route, `"provider:model"`.
            messages: The conversation.
            **options: See `ChatOptions` (fallbacks, sampling parameters, timeout).

        Returns:
            The response, with the serving route and its cost.

        Raises:
            ConfigurationError: An argument is invalid.
            AllRoutesFailedError: Every route failed; `.attempts` says how.
        """
        call = self._prepare(model, messages, False, options)
        with self._start_call(call, activate=True) as recorder:

            def send() -> ChatResponse:
                with self._spend(call, recorder) as bill:
                    sent = bill.call
                    plan: CallPlan[ChatResponse] = self._plan(sent, recorder)
                    response = self._drive(sent, plan, recorder, functools.partial(self._send, sent))
                    bill.cost_usd = response.cost_usd
                recorder.record_response(response)
                return response

            return self._through_cache(call, recorder, ChatResponse, send)

    def parse(
        self,
        model: str,
        messages: Sequence[MessageInput],
        output_type: type[T],
        **options: Unpack[ChatOptions],
    ) -> ParsedResponse[T]:
        """Ask for JSON matching `output_type`'s schema and return the reply validated into it.

        Uses the provider's native JSON-schema mode where it has one. Any type pydantic can validate
        works: a `BaseModel`, a dataclass, `list[str]`, ...

        Args:
            model: The first route, `"provider:model"`.
            messages: The conversation.
            output_type: The type to produce.
            **options: See `ChatOptions` (`response_format` is set from `output_type`).

        Returns:
            The validated `output` and the underlying `response`.

        Raises:
            StructuredOutputError: The model refused or replied with invalid data; `.raw_text` keeps it.
            AllRoutesFailedError: Every route failed.
        """
        target = self._output_type(output_type)
        response = self.chat(model, messages, **self._structured_options(options, target.schema))
        return target.validate(response)

    def embed(
        self, model: str, inputs: str | Sequence[str], **options: Unpack[EmbedOptions]
    ) -> EmbeddingsResponse:
        """Embed one text or several, over `model` and its fallbacks.

        Args:
            model: The first route, `"provider:model"` (a provider with embeddings).
            inputs: A text, or texts; one vector comes back per text, in order.
            **options: See `EmbedOptions` (fallbacks, dimensions, timeout).

        Returns:
            The vectors, with usage, serving route and cost.

        Raises:
            ConfigurationError: An argument is invalid, or a route's provider has no embeddings.
            AllRoutesFailedError: Every route failed.
        """
        call = self._prepare_embeddings(model, inputs, options)
        with self._start_call(call, activate=True) as recorder:

            def send() -> EmbeddingsResponse:
                with self._spend(call, recorder) as bill:
                    sent = bill.call
                    plan: CallPlan[EmbeddingsResponse] = self._plan(sent, recorder)
                    response = self._drive(
                        sent, plan, recorder, functools.partial(self._send_embeddings, sent)
                    )
                    bill.cost_usd = response.cost_usd
                recorder.record_embeddings(response)
                return response

            return self._through_cache(call, recorder, EmbeddingsResponse, send)

    def stream(
        self, model: str, messages: Sequence[MessageInput], **options: Unpack[ChatOptions]
    ) -> ChatStream:
        """Stream a chat response; retries and fallbacks apply until the first chunk arrives.

        Args:
            model: The first route, `"provider:model"`.
            messages: The conversation.
            **options: See `ChatOptions`.

        Returns:
            A stream (`ChatStream`): iterate it for chunks, then read `.response`. The
            request is sent on the first iteration.

        Raises:
            ConfigurationError: An argument is invalid (raised at once).
        """
        call = self._prepare(model, messages, True, options)
        stream = ChatStream()
        stream._chunks = self._stream_chunks(call, stream)
        return stream

    def close(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _through_cache(
        self, call: PreparedCall[Any], recorder: CallRecorder, kind: type[C], send: Callable[[], C]
    ) -> C:
        """Answer from the cache, or send once for all identical calls in flight and store the answer."""
        key = self._cache_key(call)
        flights = self._flights
        if key is None or flights is None:
            return send()
        cached = self._cache_hit(key, kind, recorder)
        if cached is not None:
            return cached
        led = False

        def lead() -> C:
            nonlocal led
            led = True
            response = send()
            self._cache_put(key, response)
            return response

        response = flights.do(key, lead)
        if led:
            recorder.record_cache("miss")
            return response
        recorder.record_cache("coalesced", response.cost_usd, response.route)
        return self._as_cached(response)

    def _drive(
        self,
        call: PreparedCall[Any],
        plan: CallPlan[T],
        recorder: CallRecorder,
        attempt: Callable[[Attempt], T],
    ) -> T:
        """Do what the plan says until it finishes: attempts (recorded as child spans) and sleeps."""
        while True:
            match plan.next_action():
                case Attempt() as action:
                    with recorder.attempt(action) as attempt_recorder, self._stats.tracking(action.route):
                        started = self._clock()
                        try:
                            result = attempt(action)
                        except ProviderError as exc:
                            attempt_recorder.fail(exc)
                            self._observe_attempt(call, action, started, exc)
                            plan.record_failure(exc)
                        except BaseException:
                            plan.record_abandoned()  # cancelled: no verdict on the route
                            raise
                        else:
                            self._observe_attempt(call, action, started, None)
                            plan.record_success(result)
                case Sleep(seconds=seconds):
                    self._sleep(seconds)
                case Finish(result=result):
                    return result

    def _send(self, call: PreparedCall[ChatRequest], action: Attempt) -> ChatResponse:
        provider, request, http_request = self._wire_request(call, action)
        with map_transport_errors(provider.name, request.model), own_send():
            response = self._http.send(http_request)
        return self._finish_response(provider, request, action.route, response)

    def _send_embeddings(self, call: PreparedCall[EmbeddingsRequest], action: Attempt) -> EmbeddingsResponse:
        provider, request, http_request = self._wire_embeddings(call, action)
        with map_transport_errors(provider.name, request.model), own_send():
            response = self._http.send(http_request)
        return self._finish_embeddings(provider, request, action.route, response)

    def _open(self, call: PreparedCall[ChatRequest], action: Attempt) -> OpenedStream[Iterator[bytes]]:
        """Send a streaming attempt and read until its first content chunk: failover is safe until then."""
        provider, request, http_request = self._wire_request(call, action)
        with map_transport_errors(provider.name, request.model), own_send():
            response = self._http.send(http_request, stream=True)
        try:
            with map_transport_errors(provider.name, request.model):
                if response.status_code >= 400:
                    response.read()
                    raise provider.classify_error(response, request)
                session = self._stream_session(
                    provider, request, action.route, response.status_code, call.timeout
                )
                data = response.iter_bytes()
                received: list[ChatChunk] = []
                for piece in data:
                    received.extend(session.feed(piece))
                    session.raise_pending()  # nothing has reached the caller: retry or fail over
                    if starts_stream(received):
                        return OpenedStream(session, response, data, received)
            session.check_complete(committed=False)
            return OpenedStream(session, response, _empty(), received)
        except BaseException:
            response.close()
            raise

    def _stream_chunks(
        self, call: PreparedCall[ChatRequest], stream: ChatStream
    ) -> Generator[ChatChunk, None, None]:
        recorder = self._start_call(call, activate=False)
        recorder.start()
        error: BaseException | None = None
        try:
            key = self._cache_key(call)
            cached = None if key is None else self._cache_hit(key, ChatResponse, recorder)
            if cached is not None:
                from otel_llm._cache_codec import replay_chunks

                for chunk in replay_chunks(cached):
                    yield chunk
                stream.response = cached
                return
            with self._spend(call, recorder) as bill:
                sent = bill.call
                plan: CallPlan[OpenedStream[Iterator[bytes]]] = self._plan(sent, recorder)
                opened = self._drive(sent, plan, recorder, functools.partial(self._open, sent))
                recorder.record_first_chunk()
                bill.delivered = True
                session = opened.session
                try:
                    for chunk in visible(opened.received):
                        yield chunk
                    with map_transport_errors(session.provider.name, session.request.model):
                        for piece in opened.data:
                            for chunk in visible(session.feed(piece)):
                                yield chunk
                    session.check_complete()
                except ProviderError as exc:
                    plan.record_stream_end(exc)
                    raise StreamInterruptedError(
                        str(exc), provider=exc.provider, model=exc.model, partial_text=session.text
                    ) from exc
                finally:
                    plan.record_stream_end(None)  # done, or closed by the caller; no-op after a failure
                    opened.response.close()
                stream.response = session.response(self._cost)
                bill.cost_usd = stream.response.cost_usd
            recorder.record_response(stream.response)
            if key is not None:
                recorder.record_cache("miss")
                self._cache_put(key, stream.response)
        except GeneratorExit:
            raise  # closed early by the caller: the span ends without an error
        except BaseException as exc:
            error = exc
            raise
        finally:
            recorder.end(error)


class ChatStream:
    """A streamed chat response: iterate it for `ChatChunk`s; `.response` holds the whole after exhaustion.

    Close it (`close()` or `with`) when leaving early; the telemetry span ends either way.
    """

    response: ChatResponse | None
    """The complete response, once the stream is exhausted."""

    def __init__(self) -> None:
        self.response = None
        self._chunks: Generator[ChatChunk, None, None] | None = None

    def __iter__(self) -> Iterator[ChatChunk]:
        if self._chunks is None:
            raise RuntimeError("ChatStream is created by Client.stream()")
        return self._chunks

    def close(self) -> None:
        """Stop reading and release the connection."""
        if self._chunks is not None:
            self._chunks.close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _default_sleep() -> Callable[[float], None]:
    # Mirrors the asyncio shell, which imports its event loop's sleep on first use.
    import time

    return time.sleep


def _empty() -> Iterator[bytes]:
    return
    yield  # a generator that yields nothing
