"""The GenAI call spans an instrumented exchange produced, for comparison with the routing client's."""

from __future__ import annotations

from typing import Any

from otel_llm.telemetry import _instruments as inst
from tests.conftest import Captured

EXCHANGE_ATTRIBUTES = (
    inst.OPERATION_NAME,
    inst.PROVIDER_NAME,
    inst.REQUEST_MODEL,
    "gen_ai.response.model",
    "gen_ai.response.finish_reasons",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
)
"""What a chat span says about the exchange itself (timing, ids and servers aside)."""


def chat_spans(captured: Captured) -> list[dict[str, Any]]:
    """The attributes of every chat span, each of which must have ended."""
    spans = [s for s in captured.spans() if s.name.startswith("chat ")]
    assert all(s.end_time is not None for s in spans)
    return [dict(s.attributes or {}) for s in spans]


def chat_span(captured: Captured) -> dict[str, Any]:
    """The attributes of the one chat span, which must have ended."""
    [span] = chat_spans(captured)
    return span
