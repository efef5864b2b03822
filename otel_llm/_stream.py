"""Folding streamed chunks into the final response: text, finish reasons, id, model and usage."""

from __future__ import annotations

import dataclasses

from otel_llm._types import ChatChunk, ChatResponse, ToolCall, Usage


class StreamAccumulator:
    """Collects what a stream has delivered so far.

    Usage is merged field by field with the last known value winning: providers send cumulative
    counts (Anthropic's `message_delta`) or one final usage chunk (OpenAI), never deltas to add up.
    Tool calls are assembled per index from their fragments (id and name first, then argument text).
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._tool_calls: dict[int, _PendingToolCall] = {}
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
        for fragment in chunk.tool_calls:
            # Whole calls get a fresh slot: their index only counts within one event.
            index = len(self._tool_calls) if fragment.complete else fragment.index
            pending = self._tool_calls.setdefault(index, _PendingToolCall())
            pending.id = fragment.id or pending.id
            pending.name = fragment.name or pending.name
            pending.arguments.append(fragment.arguments)
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
        finish_reasons = tuple(self._finish_reasons)
        if self._tool_calls and finish_reasons in ((), ("stop",)):
            # Gemini and Ollama end a tool-calling turn with a plain STOP / "stop".
            finish_reasons = ("tool_call",)
        return ChatResponse(
            text=self.text,
            model=self.model,
            id=self.id,
            finish_reasons=finish_reasons,
            usage=self._usage,
            tool_calls=tuple(
                ToolCall.from_json(call.id, call.name, "".join(call.arguments))
                for _, call in sorted(self._tool_calls.items())
            ),
        )


class _PendingToolCall:
    """A streamed tool call being assembled from its fragments."""

    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []
