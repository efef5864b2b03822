"""Message content: off by default, where the capture mode says, redacted and bounded before recording."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

import otel_llm
from otel_llm import ConfigurationError
from otel_llm.telemetry import _instruments as inst
from otel_llm.telemetry._content import CAPTURE_CONTENT_ENV, CARD_NUMBER, REDACTED, TRUNCATED
from otel_llm.types import ContentCapture
from tests.conftest import Captured
from tests.wire import PROVIDERS, openai_body

SECRET = "my card is 4111 1111 1111 1111, password hunter2"
EVENT = "gen_ai.client.inference.operation.details"


def call(captured: Captured, content: str = SECRET, **config: Any) -> tuple[dict[str, Any], list[Any]]:
    with otel_llm.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=openai_body("the answer"))),
        providers=PROVIDERS,
        tracer_provider=captured.tracer_provider,
        meter_provider=captured.meter_provider,
        **config,
    ) as client:
        client.chat(
            "openai:gpt-4o-mini",
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": content}],
        )
    [span] = [s for s in captured.spans() if s.name.startswith("chat ")]
    return dict(span.attributes or {}), [e for e in span.events if e.name == EVENT]


@pytest.mark.parametrize(
    ("mode", "on_span", "in_event"),
    [
        ("NO_CONTENT", False, False),
        ("SPAN_ONLY", True, False),
        ("EVENT_ONLY", False, True),
        ("SPAN_AND_EVENT", True, True),
    ],
)
def test_the_environment_variable_chooses_where_content_goes(
    captured: Captured, monkeypatch: pytest.MonkeyPatch, mode: str, on_span: bool, in_event: bool
) -> None:
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, mode)
    attributes, events = call(captured)
    assert ("gen_ai.input.messages" in attributes) is on_span
    assert ("gen_ai.output.messages" in attributes) is on_span
    assert len(events) == (1 if in_event else 0)  # one event per call: input and output together
    if in_event:
        recorded = events[0].attributes or {}
        assert {"gen_ai.input.messages", "gen_ai.system_instructions", "gen_ai.output.messages"} <= set(
            recorded
        )
        assert recorded[inst.REQUEST_MODEL] == "gpt-4o-mini" and recorded[inst.PROVIDER_NAME] == "openai"


def test_content_is_off_without_any_setting(captured: Captured, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    attributes, events = call(captured)
    assert not [key for key in attributes if "messages" in key or "instructions" in key] and not events


def test_redaction_hooks_and_the_size_limit_apply_before_recording(captured: Captured) -> None:
    capture = ContentCapture(
        "span_only", redact=[CARD_NUMBER, lambda text: text.replace("hunter2", "***")], max_length=40
    )
    attributes, _ = call(captured, content=SECRET + " " + "x" * 100, capture_content=capture)
    [message] = json.loads(str(attributes["gen_ai.input.messages"]))  # still valid JSON
    text = message["parts"][0]["content"]
    assert "4111" not in text and REDACTED in text and "hunter2" not in text
    assert text.endswith(TRUNCATED) and len(text) == 40 + len(TRUNCATED)
    assert json.loads(str(attributes["gen_ai.output.messages"]))[0]["parts"][0]["content"] == "the answer"


@pytest.mark.parametrize(
    ("options", "field"),
    [({"mode": "everywhere"}, "capture_content.mode"), ({"max_length": 0}, "capture_content.max_length"),
     ({"redact": ["("]}, "capture_content.redact[0]")],
)  # fmt: skip
def test_an_invalid_policy_names_its_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ContentCapture(**options)
    assert info.value.field == field
