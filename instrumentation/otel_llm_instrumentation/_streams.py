"""Observed streams: chunks pass through untouched; the span ends however the stream ends.

A stream's call span ends when the stream is exhausted, closed, left early (`break`, then closed or
collected), fails, or is garbage-collected without any of those (peers leak spans there). Each item is
folded with the routing client's own stream parser, so usage, finish reasons and time to first chunk are
recorded the same way; items that cannot be read are skipped, never raised.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import wrapt

from otel_llm._exceptions import OtelLLMError, ProviderError
from otel_llm._stream import StreamAccumulator
from otel_llm._stream_session import starts_stream
from otel_llm._types import ChatChunk, ChatRequest, ChatResponse
from otel_llm_instrumentation._endpoints import parser_for
from otel_llm_instrumentation._observe import ObservedCall, json_object, logger

EventType = Callable[[Any], "str | None"]
"""The SSE event type of a stream item (Anthropic names its events), or `None`."""


class ChunkFolder:
    """Folds a stream's items into a response and ends the call exactly once."""

    def __init__(self, call: ObservedCall, event_type: EventType | None = None) -> None:
        self._call = call
        self._event_type = event_type
        self._accumulator = StreamAccumulator()
        self._started = False
        self._ended = False
        self._failure: ProviderError | None = None  # an error event the provider sent mid-stream

    def add(self, item: object) -> None:
        """Fold one streamed item in (unreadable items are skipped)."""
        request = self._call.request
        if not isinstance(request, ChatRequest):
            return
        if isinstance(item, str) and not item.lstrip().startswith(("{", "[")):
            self._fold(ChatChunk(delta=item))  # a legacy generator yielding plain text
            return
        try:
            event = self._event_type(item) if self._event_type else None
            chunk = parser_for(self._call.endpoint).parse_stream_payload(
                json_object(item, "a stream item"), event, request
            )
        except ProviderError as exc:  # the provider reported an error in the stream: the call failed
            self._failure = self._failure or exc
            return
        except (OtelLLMError, ValueError, TypeError, AttributeError) as exc:
            logger.debug("otel_llm: skipped an unreadable stream item: %s", exc)
            return
        if chunk is not None:
            self._fold(chunk)

    def _fold(self, chunk: ChatChunk) -> None:
        self._accumulator.add(chunk)
        if not self._started and starts_stream([chunk]):
            self._started = True
            self._call.recorder.record_first_chunk()

    @property
    def call(self) -> ObservedCall:
        """The call this stream belongs to."""
        return self._call

    def end(self, error: BaseException | None) -> ChatResponse | None:
        """The stream ended: record what arrived (when it completed or was closed) and end the span.

        Returns:
            The response recorded (priced), or `None` (failed, or already ended).
        """
        if self._ended:
            return None
        self._ended = True
        error = error or self._failure
        response = self._call.record_response(self._accumulator.response()) if error is None else None
        self._call.end(error)
        return response


Hidden = Callable[[Any], bool]
"""Items folded in but kept from the caller (a usage chunk the instrumentor asked for itself)."""


class _Observing(wrapt.ObjectProxy[Any]):
    """What the sync and async stream proxies share: folding items in, and ending the span once."""

    def __init__(self, wrapped: Any, folder: ChunkFolder, hide: Hidden | None = None) -> None:
        super().__init__(wrapped)
        self._self_folder = folder
        self._self_hide = hide
        # Ends the span if the stream is dropped without being exhausted or closed.
        self._self_finalizer = weakref.finalize(self, folder.end, None)

    def _self_passes(self, item: Any) -> bool:
        """Fold `item` in; whether the caller gets it."""
        self._self_folder.add(item)
        return self._self_hide is None or not self._self_hide(item)

    def _self_stopped(self, exc: BaseException) -> None:
        """The underlying stream raised `exc`: its end (exhausted) or its failure."""
        if isinstance(exc, (StopIteration, StopAsyncIteration)):
            self._self_finalizer()
        else:
            self._self_folder.end(exc)


class ObservedStream(_Observing):
    """A sync stream (iterator, usually also a context manager) whose items are observed."""

    def __init__(self, wrapped: Any, folder: ChunkFolder, hide: Hidden | None = None) -> None:
        super().__init__(wrapped, folder, hide)
        self._self_iterator: Iterator[Any] | None = None

    def __iter__(self) -> ObservedStream:
        return self

    def __next__(self) -> Any:
        if self._self_iterator is None:
            self._self_iterator = iter(self.__wrapped__)
        while True:
            try:
                item = next(self._self_iterator)
            except BaseException as exc:
                self._self_stopped(exc)
                raise
            if self._self_passes(item):
                return item

    def close(self) -> None:
        """Close the underlying stream; the span ends as a call closed early (no error)."""
        try:
            close = getattr(self.__wrapped__, "close", None)
            if callable(close):
                close()
        finally:
            self._self_finalizer()

    def __enter__(self) -> ObservedStream:
        enter = getattr(self.__wrapped__, "__enter__", None)
        if callable(enter):
            enter()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            exit_ = getattr(self.__wrapped__, "__exit__", None)
            return exit_(*exc_info) if callable(exit_) else None
        finally:
            self._self_finalizer()


class ObservedAsyncStream(_Observing):
    """An async stream (async iterator, usually also an async context manager) whose items are observed."""

    def __init__(self, wrapped: Any, folder: ChunkFolder, hide: Hidden | None = None) -> None:
        super().__init__(wrapped, folder, hide)
        self._self_iterator: AsyncIterator[Any] | None = None

    def __aiter__(self) -> ObservedAsyncStream:
        return self

    async def __anext__(self) -> Any:
        if self._self_iterator is None:
            self._self_iterator = self.__wrapped__.__aiter__()
        while True:
            try:
                item = await self._self_iterator.__anext__()
            except BaseException as exc:
                self._self_stopped(exc)
                raise
            if self._self_passes(item):
                return item

    async def close(self) -> None:
        """Close the underlying stream; the span ends as a call closed early (no error)."""
        try:
            for name in ("close", "aclose"):
                close = getattr(self.__wrapped__, name, None)
                if callable(close):
                    await close()
                    break
        finally:
            self._self_finalizer()

    async def __aenter__(self) -> ObservedAsyncStream:
        enter = getattr(self.__wrapped__, "__aenter__", None)
        if callable(enter):
            await enter()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            exit_ = getattr(self.__wrapped__, "__aexit__", None)
            return await exit_(*exc_info) if callable(exit_) else None
        finally:
            self._self_finalizer()


def observe_raw_stream(
    sdk_stream: Any, folder: ChunkFolder, proxy: type[_Observing], hide: Hidden | None
) -> Any:
    """Observe the raw stream under an SDK's stream helper; the caller gets the SDK's own object.

    The helpers (openai's `ChatCompletionStream` and `ResponseStream`, anthropic's `MessageStream`) read
    every way of consuming them (iteration, the final-result getters, `until_done()`) from `_raw_stream`,
    lazily, so observing that one sees them all. Should a later SDK drop the attribute, the helper itself is
    observed instead (its events may not be chunks: tokens are then estimated; the span still ends with the
    `with` block).
    """
    raw = getattr(sdk_stream, "_raw_stream", None)
    if raw is None:
        return proxy(sdk_stream, folder)
    sdk_stream._raw_stream = proxy(raw, folder, hide)
    return sdk_stream


class ObservedStreamManager(wrapt.ObjectProxy[Any]):
    """An SDK's stream manager (`client.....stream(...)`) whose `with` block is one observed call.

    No request is sent until the manager is entered: the span opens there, never for a manager dropped
    unused, and the request the SDK makes inside runs in the observed call (no second span). It ends when
    the stream does, or when the block is left at the latest: SDKs close the HTTP response there, not
    the raw stream.
    """

    def __init__(self, wrapped: Any, folder: ChunkFolder, hide: Hidden | None = None) -> None:
        super().__init__(wrapped)
        self._self_folder = folder
        self._self_hide = hide

    def __enter__(self) -> Any:
        call = self._self_folder.call
        call.start()
        try:
            sdk_stream = self.__wrapped__.__enter__()
        except BaseException as exc:
            call.end(exc)
            raise
        call.returned()  # the caller consumes the stream in the `with` block, in its own context
        return observe_raw_stream(sdk_stream, self._self_folder, ObservedStream, self._self_hide)

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_folder.end(None)  # a no-op when the stream already ended the span


class ObservedAsyncStreamManager(ObservedStreamManager):
    """`ObservedStreamManager` for an SDK's async stream manager (`async with`)."""

    async def __aenter__(self) -> Any:
        call = self._self_folder.call
        call.start()
        try:
            sdk_stream = await self.__wrapped__.__aenter__()
        except BaseException as exc:
            call.end(exc)
            raise
        call.returned()
        return observe_raw_stream(sdk_stream, self._self_folder, ObservedAsyncStream, self._self_hide)

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_folder.end(None)
