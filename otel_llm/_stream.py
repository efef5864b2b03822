"""Folding streamed chunks into the final response: text, finish reasons, id, model and usage."""

from __future__ import annotations

import dataclasses

from otel_llm._types import ChatChunk, ChatResponse, Usage


class StreamAccumulator:
    """Collects what a stream has delivered so far.

    Usage is merged field by field with the last known value winning: providers send cumulative
    counts (Anthropic's `message_delta`) or one final usage chunk (OpenAI), never deltas to add up.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._finish_reasons: list[str] = []
        self._usage = Usage()
        self.id: str | None = None
        self.model: str | None = None
        self.completed = False

    @property
    def text(self) -> str:
        """All text received so far."""
        return "".join(self._parts)

    def add(self, chunk: ChatChunk) -> None:
        """Fold one chunk in."""
        if chunk.delta:
            self._parts.append(chunk.delta)
        if chunk.finish_reason:
            self._finish_reasons.append(chunk.finish_reason)
        if chunk.usage is not None:
            known = {
                f.name: v
                for f in dataclasses.fields(Usage)
                if (v := getattr(chunk.usage, f.name)) is not None
            }
            self._usage = dataclasses.replace(self._usage, **known)
        self.id = chunk.id or self.id
        self.model = chunk.model or self.model
        self.completed = self.completed or chunk.final

    def response(self) -> ChatResponse:
        """The response as accumulated."""
        return ChatResponse(
            text=self.text,
            model=self.model,
            id=self.id,
            finish_reasons=tuple(self._finish_reasons),
            usage=self._usage,
        )
