"""Observed streams: an error event the provider sends mid-stream fails the recorded call."""

from __future__ import annotations

from collections.abc import Iterator

import otel_llm
from tests.conftest import Captured

OVERLOADED: dict[str, object] = {
    "error": {"message": "busy", "type": "server_error", "code": "server_is_overloaded"}
}


def test_an_error_event_in_a_stream_is_recorded_as_the_calls_error(captured: Captured) -> None:
    @otel_llm.llm_call(
        provider="openai",
        model="gpt-4o-mini",
        tracer_provider=captured.tracer_provider,
        meter_provider=captured.meter_provider,
    )
    def stream() -> Iterator[dict[str, object]]:
        yield {"id": "c", "choices": [{"index": 0, "delta": {"content": "partial"}}]}
        yield OVERLOADED

    assert len(list(stream())) == 2  # the caller still gets every item
    [span] = captured.spans()
    assert (span.attributes or {})["error.type"] == "overloaded"
