"""What the fake provider server does with a request, and the table that picks it."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

ANY_MODEL = "*"
_TOOL_CALL_KEYS = frozenset({"name", "arguments", "id"})


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
            ``overloaded_error``). Also used by ``stream_error_after``. Ollama error bodies carry
            only a message; OpenRouter's carry the status as ``code``.
        error_message: Error message in the body; defaults depend on the status.
        error_code: OpenAI ``error.code``, Anthropic ``error.details.error_code``, Gemini
            ``google.rpc.ErrorInfo.reason``.
        retry_after: Seconds sent as the ``retry-after`` header (Gemini, which has no
            rate-limit headers, gets a ``google.rpc.RetryInfo`` detail in the body instead).
        retry_after_ms: Milliseconds sent as the ``retry-after-ms`` header, and on Azure also as
            ``x-ms-retry-after-ms`` (Gemini: as above).
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
            ``"SAFETY"``, ...) instead of the natural one.
        tool_calls: Reply with these tool calls, each ``{"name": str, "arguments": {...}}`` with an
            optional ``"id"``; rendered as OpenAI ``tool_calls`` (``finish_reason: "tool_calls"``),
            Anthropic ``tool_use`` blocks (``stop_reason: "tool_use"``), Gemini ``functionCall``
            parts or Ollama ``message.tool_calls``. Without ``text`` the reply has no text.
        embedding_dimensions: Length of embedding vectors when the request does not ask for one
            (OpenAI ``dimensions``, Gemini ``outputDimensionality``, Ollama ``dimensions``).
        omit_usage: Leave token usage out of replies and streams, as some servers do.
        keep_alive: Keep-alive events sent before the first stream event (OpenRouter
            ``: OPENROUTER PROCESSING`` comments, other SSE providers ``: keep-alive`` comments,
            Anthropic ``ping`` events; Ollama has none). ``chunk_delay`` spaces them out.
        block_reason: Gemini only: answer HTTP 200 with ``promptFeedback.blockReason`` and no
            candidates, as Gemini does for a blocked prompt. Other providers ignore it.
        quota_id: Gemini only: add a ``google.rpc.QuotaFailure`` detail with this ``quotaId``
            to the error body (``...PerMinute...`` for rate limits, ``...PerDay...`` for an
            exhausted daily quota). Other providers ignore it.

    Raises:
        ValueError: If a field is out of range or fields contradict each other.

    Example:
        A rate limit with a retry hint, then an overload, then normal replies::

            server.enqueue("anthropic", Behavior(status=429, retry_after=1.5), Behavior(status=529))

        A tool call, and a provider-shaped error from :meth:`error`::

            Behavior(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
            Behavior.error("quota_exhausted", provider="gemini")
    """

    error_kinds: ClassVar[tuple[str, ...]] = (
        "auth",
        "bad_request",
        "content_filter",
        "content_filter_output",
        "context_length",
        "not_found",
        "overloaded",
        "quota_exhausted",
        "rate_limit",
        "server_error",
    )

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
    tool_calls: Sequence[Mapping[str, object]] = field(default=(), hash=False)
    embedding_dimensions: int = 8
    omit_usage: bool = False
    keep_alive: int = 0
    block_reason: str | None = None
    quota_id: str | None = None

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, got {self.status}")
        for name in ("latency", "chunk_delay", "retry_after", "retry_after_ms"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        for name in ("cut_stream_after", "stream_error_after", "keep_alive"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if self.cut_stream_after is not None and self.stream_error_after is not None:
            raise ValueError("set at most one of cut_stream_after and stream_error_after")
        if self.content_type is not None and self.raw_body is None:
            raise ValueError("content_type only applies to raw_body")
        if self.embedding_dimensions < 1:
            raise ValueError(f"embedding_dimensions must be >= 1, got {self.embedding_dimensions}")
        # A tuple of copies: the behaviour stays equal to itself however the caller's list changes.
        object.__setattr__(self, "tool_calls", tuple(_check_tool_call(c) for c in self.tool_calls))

    @classmethod
    def error(cls, kind: str, *, provider: str = "openai", retry_after: float | None = None) -> Behavior:
        """A provider-shaped error of one kind, as the real provider sends it.

        Kinds (see ``Behavior.error_kinds``) follow the error classification otel-llm uses:
        ``rate_limit`` (429 with retry hints), ``quota_exhausted`` (OpenAI 429
        ``insufficient_quota``, Anthropic 429 ``enforced_spend_limit_reached``, Gemini 429 with a
        per-day ``quotaId``, OpenRouter/Together 402), ``overloaded`` (Anthropic 529, others
        503), ``server_error`` (500; OpenRouter 502), ``context_length`` (OpenAI 400
        ``context_length_exceeded``, Anthropic "prompt is too long", Gemini "exceeds the maximum
        number of tokens", Together 403), ``content_filter`` (a rejected prompt: OpenAI 400
        ``content_policy_violation``, Azure 400 ``content_filter``, OpenRouter 403, Gemini HTTP
        200 with ``promptFeedback.blockReason``), ``content_filter_output`` (HTTP 200 whose
        output was filtered: ``finish_reason`` ``content_filter``, Anthropic ``refusal``, Gemini
        ``SAFETY``), ``auth`` (401; Gemini 400 ``API_KEY_INVALID``), ``not_found`` (404) and
        ``bad_request`` (400).

        Adjust the result with :func:`dataclasses.replace`, e.g. ``replace(b, latency=0.5)``.

        Args:
            kind: One of ``Behavior.error_kinds``.
            provider: Provider key whose shape to use: ``"openai"``, ``"azure"``,
                ``"anthropic"``, ``"gemini"``, ``"ollama"``, ``"openrouter"``, ``"together"``;
                any other name gets the OpenAI shape.
            retry_after: Retry hint in seconds. ``None`` means the kind's default: 1 s for
                ``rate_limit`` (as ``retry-after``/``retry-after-ms`` headers, Gemini
                ``RetryInfo``), no hint otherwise.

        Returns:
            The behaviour.

        Raises:
            ValueError: If ``kind`` is unknown or the provider has no such error (Ollama has no
                content filter).

        Example:
            ```python
            server.enqueue("anthropic", Behavior.error("overloaded", provider="anthropic"))
            server.enqueue("gemini", Behavior.error("rate_limit", provider="gemini", retry_after=37))
            ```
        """
        # Imported here: the recipes build Behavior objects, so they import this module.
        from otel_llm.testing._error_recipes import error_behavior

        return error_behavior(kind, provider=provider, retry_after=retry_after)


def _check_tool_call(call: Mapping[str, object]) -> dict[str, object]:
    if not isinstance(call, Mapping):
        raise ValueError(f"a tool call must be a mapping, got {call!r}")
    unknown = set(call) - _TOOL_CALL_KEYS
    if unknown:
        raise ValueError(f"unknown tool call keys {sorted(unknown)}: use name, arguments, id")
    name = call.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"a tool call needs a non-empty string name, got {name!r}")
    arguments = call.get("arguments", {})
    if not isinstance(arguments, Mapping):
        raise ValueError(f"tool call arguments must be a mapping, got {arguments!r}")
    call_id = call.get("id")
    if call_id is not None and (not isinstance(call_id, str) or not call_id):
        raise ValueError(f"a tool call id must be a non-empty string, got {call_id!r}")
    checked: dict[str, object] = {"name": name, "arguments": dict(arguments)}
    if call_id is not None:
        checked["id"] = call_id
    return checked


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
