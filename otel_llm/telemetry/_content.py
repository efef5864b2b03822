"""Whether message content is recorded, where, and how it is cleaned first.

Content is off unless asked for: in code (`capture_content=True` or a `ContentCapture`) or with
`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` set to `SPAN_ONLY`, `EVENT_ONLY` or
`SPAN_AND_EVENT` (`NO_CONTENT` or unset: nothing). Before any text is recorded, redaction hooks run on it
(regular expressions, replaced by `[REDACTED]`, then callables), and it is cut to `max_length`
characters, so one pasted document cannot blow up a span. Cleaning works on each text value, not on the
serialised JSON, so what is recorded stays valid JSON.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from otel_llm._exceptions import ConfigurationError
from otel_llm._types import ChatRequest, ChatResponse
from otel_llm.telemetry._attributes import compact_json, semconv_message, tool_call_part

CAPTURE_CONTENT_ENV: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
CaptureMode = Literal["no_content", "span_only", "event_only", "span_and_event"]
REDACTED: Final = "[REDACTED]"
TRUNCATED: Final = "…[truncated]"
_MODES: Final = frozenset({"no_content", "span_only", "event_only", "span_and_event"})
CARD_NUMBER: Final = re.compile(r"\b(?:\d[ -]?){13,16}\b")
"""A ready-made redaction pattern: payment card numbers."""
_TEXT_KEYS: Final = frozenset({"content", "response"})  # where the semconv message shape keeps text

Redactor = re.Pattern[str] | str | Callable[[str], str]
"""A pattern (compiled or source) whose matches are replaced, or a function returning the cleaned text."""


@dataclass(frozen=True)
class ContentCapture:
    """Message content recording.

    Attributes:
        mode: `"no_content"`, `"span_only"` (span attributes), `"event_only"` (a span event), or
            `"span_and_event"`.
        redact: Hooks applied to every text value before it is recorded, in order.
        max_length: Characters kept of each text value; longer ones are cut and marked.

    Raises:
        ConfigurationError: A field is invalid (`capture_content.mode`, ...).

    Example:
        >>> ContentCapture("span_only", redact=[CARD_NUMBER, lambda text: text.replace("secret", "***")])
    """

    mode: CaptureMode = "span_only"
    redact: Sequence[Redactor] = ()
    max_length: int = 8192
    _hooks: tuple[Callable[[str], str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise ConfigurationError("capture_content.mode", f"expected one of {sorted(_MODES)}")
        if isinstance(self.max_length, bool) or not isinstance(self.max_length, int) or self.max_length < 1:
            raise ConfigurationError("capture_content.max_length", "expected a positive integer")
        object.__setattr__(self, "_hooks", tuple(_hook(r, i) for i, r in enumerate(self.redact)))

    @property
    def on_span(self) -> bool:
        """Whether content goes on span attributes."""
        return self.mode in ("span_only", "span_and_event")

    @property
    def in_event(self) -> bool:
        """Whether content goes in a span event."""
        return self.mode in ("event_only", "span_and_event")

    @property
    def enabled(self) -> bool:
        """Whether any content is recorded."""
        return self.mode != "no_content"

    def input_attributes(self, request: ChatRequest) -> dict[str, str]:
        """The request's content attributes (messages, system instructions, tool definitions), cleaned."""
        system = [{"type": "text", "content": m.text} for m in request.messages if m.role == "system"]
        chat = [semconv_message(m) for m in request.messages if m.role != "system"]
        attributes = {"gen_ai.input.messages": compact_json(self.clean(chat))}
        if system:
            attributes["gen_ai.system_instructions"] = compact_json(self.clean(system))
        if request.tools:
            definitions = [
                {
                    "type": "function",
                    "name": t.name,
                    "description": t.description,
                    "parameters": dict(t.parameters),
                }
                for t in request.tools
            ]
            attributes["gen_ai.tool.definitions"] = compact_json(definitions)
        return attributes

    def output_attributes(self, response: ChatResponse) -> dict[str, str]:
        """The response's content attribute (the assistant message: text and tool calls), cleaned."""
        parts: list[dict[str, Any]] = [{"type": "text", "content": response.text}] if response.text else []
        parts += [tool_call_part(call) for call in response.tool_calls]
        message: dict[str, Any] = {
            "role": "assistant",
            "parts": parts,
            "finish_reason": response.finish_reasons[0] if response.finish_reasons else "stop",
        }
        return {"gen_ai.output.messages": compact_json(self.clean([message]))}

    def clean(self, value: Any) -> Any:
        """`value` (the semconv message shape: dicts and lists) with every text value cleaned."""
        if isinstance(value, list):
            return [self.clean(item) for item in value]
        if isinstance(value, dict):
            return {
                key: self._text(item) if key in _TEXT_KEYS and isinstance(item, str) else self.clean(item)
                for key, item in value.items()
            }
        return value

    def _text(self, text: str) -> str:
        for hook in self._hooks:
            text = hook(text)
        return text if len(text) <= self.max_length else text[: self.max_length] + TRUNCATED


NO_CONTENT: Final = ContentCapture("no_content")


def content_capture(setting: bool | ContentCapture | None) -> ContentCapture:
    """The capture policy for a setting: code first (`True` means span attributes), else the environment."""
    if isinstance(setting, ContentCapture):
        return setting
    if setting is not None:
        return ContentCapture("span_only") if setting else NO_CONTENT
    raw = os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower()
    if raw == "true":  # the older boolean form of the variable
        return ContentCapture("span_only")
    return ContentCapture(raw) if raw in _MODES else NO_CONTENT  # type: ignore[arg-type]  # checked


def _hook(redactor: Redactor, index: int) -> Callable[[str], str]:
    if callable(redactor) and not isinstance(redactor, re.Pattern):
        return redactor
    try:
        pattern = re.compile(redactor) if isinstance(redactor, str) else redactor
    except re.error as exc:
        raise ConfigurationError(f"capture_content.redact[{index}]", f"invalid pattern: {exc}") from exc
    return lambda text: pattern.sub(REDACTED, text)
