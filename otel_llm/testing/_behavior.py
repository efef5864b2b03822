"""What the fake provider server does with a request, and the table that picks it."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

ANY_MODEL = "*"


@dataclass(frozen=True, slots=True)
class Behavior:
    """How the fake provider server answers one request.

    Every field is optional; ``Behavior()`` is a fast, successful reply. Error bodies, retry hints
    and stream events are rendered in the wire format of the provider that received the request.

    Attributes:
        status: HTTP status. Any non-2xx status gets a provider-shaped error body.
        latency: Seconds to wait before the response starts.
        error_type: Error type in the body: OpenAI ``error.type``, Anthropic ``error.type``,
            Gemini ``error.status``. Defaults depend on the status (e.g. Anthropic 529 →
            ``overloaded_error``). Also used by ``stream_error_after``.
        error_message: Error message in the body; defaults depend on the status.
        error_code: OpenAI ``error.code``, Anthropic ``error.details.error_code``, Gemini
            ``google.rpc.ErrorInfo.reason``.
        retry_after: Seconds sent as the ``retry-after`` header (Gemini, which has no
            rate-limit headers, gets a ``google.rpc.RetryInfo`` detail in the body instead).
        retry_after_ms: Milliseconds sent as the ``retry-after-ms`` header (Gemini: as above).
        headers: Extra response headers; they override the server's own.
        text: Reply text. Defaults to ``"Hello from {provider} {model}."``.
        chunk_delay: Seconds to wait between stream events.
        cut_stream_after: Close a stream after this many content chunks without its terminal
            event, as a dropped connection would (with more than there are chunks, all content
            is sent and only the ending is missing). The reply text is split at word boundaries.
        stream_error_after: Send the provider's mid-stream error event after this many content
            chunks, then close the stream.
        raw_body: Send exactly these bytes as the body (for malformed-response tests).
        content_type: ``Content-Type`` for ``raw_body``; defaults to ``application/json``.
        finish_reason: Provider-native finish reason (``"length"``, ``"max_tokens"``,
            ``"SAFETY"``, ...) instead of the normal-stop value.

    Raises:
        ValueError: If a field is out of range or fields contradict each other.

    Example:
        A rate limit with a retry hint, then an overload, then normal replies::

            server.enqueue("anthropic", Behavior(status=429, retry_after=1.5), Behavior(status=529))
    """

    status: int = 200
    latency: float = 0.0
    error_type: str | None = None
    error_message: str | None = None
    error_code: str | None = None
    retry_after: float | None = None
    retry_after_ms: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    text: str | None = None
    chunk_delay: float = 0.0
    cut_stream_after: int | None = None
    stream_error_after: int | None = None
    raw_body: bytes | None = None
    content_type: str | None = None
    finish_reason: str | None = None

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, got {self.status}")
        for name in ("latency", "chunk_delay", "retry_after", "retry_after_ms"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        for name in ("cut_stream_after", "stream_error_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if self.cut_stream_after is not None and self.stream_error_after is not None:
            raise ValueError("set at most one of cut_stream_after and stream_error_after")
        if self.content_type is not None and self.raw_body is None:
            raise ValueError("content_type only applies to raw_body")


class BehaviorTable:
    """Thread-safe store of persistent and one-shot behaviours, keyed by provider and model.

    Lookup order for a request: one-shot for its model, one-shot for any model, persistent for
    its model, persistent for any model, then the default ``Behavior()``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._persistent: dict[tuple[str, str], Behavior] = {}
        self._queued: dict[tuple[str, str], deque[Behavior]] = {}

    def set(self, provider: str, model: str, behavior: Behavior) -> None:
        """Answer every request for ``provider``/``model`` with ``behavior`` until reset."""
        with self._lock:
            self._persistent[(provider, model)] = behavior

    def enqueue(self, provider: str, model: str, behaviors: Iterable[Behavior]) -> None:
        """Answer the next requests for ``provider``/``model`` with ``behaviors``, in order."""
        with self._lock:
            self._queued.setdefault((provider, model), deque()).extend(behaviors)

    def take(self, provider: str, model: str) -> Behavior:
        """Return (and consume, if one-shot) the behaviour for one request."""
        with self._lock:
            for key in ((provider, model), (provider, ANY_MODEL)):
                queue = self._queued.get(key)
                if queue:
                    return queue.popleft()
            for key in ((provider, model), (provider, ANY_MODEL)):
                behavior = self._persistent.get(key)
                if behavior is not None:
                    return behavior
        return Behavior()

    def clear(self) -> None:
        """Forget every behaviour."""
        with self._lock:
            self._persistent.clear()
            self._queued.clear()
