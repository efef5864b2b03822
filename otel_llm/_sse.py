r"""Incremental server-sent-events decoder (WHATWG rules), fed raw bytes as they arrive.

Bytes may be split anywhere, also inside a UTF-8 sequence or between `\r` and `\n`. Comment lines
(`: keep-alive`) are skipped; an event is dispatched at a blank line; several `data:` lines join with
newlines. A partial event left at end of stream is discarded, as the standard says.
"""

from __future__ import annotations

import codecs
import re

from otel_llm._types import StreamEvent

_LINE_END = re.compile(r"\r\n|\r|\n")


class SSEDecoder:
    """Turns chunks of bytes into `StreamEvent`s."""

    def __init__(self) -> None:
        # "utf-8-sig" drops one leading byte-order mark, as the standard's decoding step does.
        self._text = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._buffer = ""
        self._after_cr = False
        self._data: list[str] = []
        self._event: str | None = None

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """Decode `chunk` and return the events it completed."""
        text = self._text.decode(chunk)
        if self._after_cr and text:
            # The previous chunk ended in \r, already taken as a line end: a \n here completes \r\n.
            text = text.removeprefix("\n")
            self._after_cr = False
        self._buffer += text
        events: list[StreamEvent] = []
        while True:
            line, ending = self._next_line()
            if ending is None:
                return events
            event = self._process(line)
            if event is not None:
                events.append(event)

    def _next_line(self) -> tuple[str, str | None]:
        match = _LINE_END.search(self._buffer)
        if match is None:
            return "", None
        if match.group() == "\r" and match.end() == len(self._buffer):
            self._after_cr = True  # a lone \r ends the line now; a \n arriving next is part of it
        line = self._buffer[: match.start()]
        self._buffer = self._buffer[match.end() :]
        return line, match.group()

    def _process(self, line: str) -> StreamEvent | None:
        if not line:
            if not self._data:
                self._event = None
                return None
            event = StreamEvent(data="\n".join(self._data), event=self._event)
            self._data, self._event = [], None
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None  # `id` and `retry` are irrelevant for one-shot LLM streams
