"""Incremental newline-delimited JSON framing (Ollama's native streams): one event per non-empty line."""

from __future__ import annotations

import codecs

from otel_llm._types import StreamEvent


class NDJSONDecoder:
    """Turns chunks of bytes into one `StreamEvent` per complete line; bytes may split anywhere."""

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """Decode `chunk` and return the lines it completed."""
        self._buffer += self._text.decode(chunk)
        *lines, self._buffer = self._buffer.split("\n")
        return [StreamEvent(data=line.strip()) for line in lines if line.strip()]
