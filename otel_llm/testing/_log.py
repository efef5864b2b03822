"""The fake provider server's record of the requests it received."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request received by the fake provider server on a provider route.

    Requests are recorded before authentication and validation, so rejected ones appear too.

    Attributes:
        provider: Provider key from the URL prefix (``"openai"``, ``"azure"``, ``"anthropic"``,
            ``"gemini"``, ``"ollama"`` or the name of an OpenAI-compatible prefix such as
            ``"together"``).
        model: Model from the body (Gemini: from the path; Azure deployment routes: the
            deployment); ``""`` when absent.
        path: Request path without the query string.
        headers: Request headers with lower-cased names.
        body: The decoded JSON body (``tools``, ``response_format`` and all), ``{}`` when it was
            not a JSON object.
        stream: Whether a streamed response was requested (Ollama streams unless asked not to).
    """

    provider: str
    model: str
    path: str
    headers: dict[str, str]
    # JSON decoded from the wire has no static shape.
    body: dict[str, Any]
    stream: bool


class RequestLog:
    """Thread-safe, append-only list of recorded requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[RecordedRequest] = []

    def append(self, entry: RecordedRequest) -> None:
        """Record one request."""
        with self._lock:
            self._entries.append(entry)

    def snapshot(self) -> list[RecordedRequest]:
        """Return deep copies, so callers cannot change the log by mutating them."""
        with self._lock:
            entries = list(self._entries)
        return [replace(e, headers=dict(e.headers), body=copy.deepcopy(e.body)) for e in entries]

    def clear(self) -> None:
        """Forget every recorded request."""
        with self._lock:
            self._entries.clear()
