"""One streamed HTTP response decoded into chunks, and the rules of when a stream commits to its route.

A stream may fail over until its first content reaches the caller (`starts_stream`); after that the call
is committed, and a failure surfaces as `StreamInterruptedError` with the partial text. The session also
enforces the time-to-first-chunk and idle-gap limits, judged whenever bytes arrive.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Generic, TypeVar

import httpx

from otel_llm._breaker import Clock
from otel_llm._config import Timeout
from otel_llm._exceptions import ProviderError
from otel_llm._ndjson import NDJSONDecoder
from otel_llm._sse import SSEDecoder
from otel_llm._stream import StreamAccumulator
from otel_llm._tokens import with_estimated_usage
from otel_llm._types import ChatChunk, ChatRequest, ChatResponse, Route, Usage
from otel_llm.providers import Provider
from otel_llm.providers._base import parsing, provider_error

D = TypeVar("D")


class StreamSession:
    """Decodes one streamed HTTP response into chunks and remembers what arrived."""

    def __init__(
        self,
        provider: Provider,
        request: ChatRequest,
        route: Route,
        status_code: int,
        *,
        clock: Clock,
        timeout: Timeout,
    ) -> None:
        self.provider = provider
        self.request = request
        self.route = route
        self._status_code = status_code
        self._decoder = SSEDecoder() if provider.framing == "sse" else NDJSONDecoder()
        self._accumulator = StreamAccumulator()
        self._clock = clock
        self._timeout = timeout
        self._started = clock()
        self._last_content: float | None = None
        self._pending: ProviderError | None = None  # an error event that followed chunks in one read

    @property
    def text(self) -> str:
        """Text received so far."""
        return self._accumulator.text

    def feed(self, data: bytes) -> list[ChatChunk]:
        """Decode bytes into chunks; a provider error event raises `ProviderError`.

        Chunks decoded before an error event of the same read are returned first and the error is
        raised by the next `feed` or by `check_complete`: content that arrived is never lost.
        """
        self.raise_pending()
        chunks: list[ChatChunk] = []
        for event in self._decoder.feed(data):
            try:
                with parsing(self.provider.name, self.request, self._status_code, event.data):
                    chunk = self.provider.parse_stream_event(event, self.request)
            except ProviderError as exc:
                if not chunks:
                    raise
                self._pending = exc
                break
            if chunk is not None:
                self._accumulator.add(chunk)
                chunks.append(chunk)
        self._check_pace(chunks)
        return chunks

    def raise_pending(self) -> None:
        """Raise the error event that followed chunks in the last read, if any.

        Before the call commits, nothing has reached the caller: the error is raised at once, so that
        the attempt is retried or failed over rather than committed.
        """
        error, self._pending = self._pending, None
        if error is not None:
            raise error

    def _check_pace(self, chunks: Sequence[ChatChunk]) -> None:
        # Judged whenever bytes arrive, keep-alives included: content that comes too late is as much a
        # timeout as content that never comes, and only content resets the clock. Total silence is
        # caught by the read timeout `_with_timeout` sets for streams.
        now = self._clock()
        if self._last_content is None:
            limit, since, what = self._timeout.first_chunk, self._started, "before the first chunk"
        else:
            limit, since, what = self._timeout.idle, self._last_content, "between chunks"
        if limit is not None and now - since > limit:
            raise self._timeout_error(f"no content for {now - since:.2f} s {what} (limit {limit:g} s)")
        if starts_stream(chunks):
            self._last_content = now

    def _timeout_error(self, message: str) -> ProviderError:
        return provider_error(
            "timeout",
            message,
            provider=self.provider.name,
            model=self.request.model,
            status_code=self._status_code,
        )

    def check_complete(self, *, committed: bool = True) -> None:
        """At end of input: a stream without its end marker was cut short.

        Cut before anything reached the caller (`committed=False`), it is a dropped connection: safe to
        retry and to fail over. Cut after, it is an interrupted stream, which neither may fix.
        """
        self.raise_pending()
        if not self._accumulator.completed:
            raise provider_error(
                "stream_interrupted" if committed else "connection",
                "stream ended before the provider's end-of-stream marker",
                provider=self.provider.name,
                model=self.request.model,
                status_code=self._status_code,
            )

    def response(self, cost: Callable[[Route, Usage], Decimal | None]) -> ChatResponse:
        """The accumulated response, with route and cost."""
        parsed = with_estimated_usage(self.request, self._accumulator.response())
        return dataclasses.replace(parsed, route=self.route, cost_usd=cost(self.route, parsed.usage))


@dataclasses.dataclass(frozen=True, slots=True)
class OpenedStream(Generic[D]):
    """A streaming attempt that delivered its first content: the call is committed to its route.

    Attributes:
        session: Decoder state.
        response: The open HTTP response (closed by whoever consumes the stream).
        data: The rest of the body, not read yet.
        received: Chunks decoded while waiting for the first content.
    """

    session: StreamSession
    response: httpx.Response
    data: D
    received: list[ChatChunk]


def starts_stream(chunks: Sequence[ChatChunk]) -> bool:
    """Whether these chunks commit the call to its route: content (or the end) has arrived."""
    return any(chunk.delta or chunk.tool_calls or chunk.final for chunk in chunks)


def visible(chunks: Sequence[ChatChunk]) -> list[ChatChunk]:
    """The chunks a caller sees: text, tool-call fragments or a finish reason (not bare usage updates)."""
    return [chunk for chunk in chunks if chunk.delta or chunk.tool_calls or chunk.finish_reason]
