"""examples/legacy_app.py: three legacy call styles, each recorded once, business logic untouched."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from otel_llm_instrumentation.anthropic import AnthropicInstrumentor
from otel_llm_instrumentation.google_genai import GoogleGenAIInstrumentor
from otel_llm_instrumentation.httpx_ import HttpxInstrumentor
from otel_llm_instrumentation.openai import OpenAIInstrumentor

from otel_llm.testing import FakeProviderServer
from tests.conftest import Captured

EXAMPLE = Path(__file__).parents[2] / "examples" / "legacy_app.py"


@pytest.fixture
def app() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("legacy_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    for instrumentor in (
        OpenAIInstrumentor(),
        AnthropicInstrumentor(),
        GoogleGenAIInstrumentor(),
        HttpxInstrumentor(),
    ):
        instrumentor.uninstrument()


def test_each_legacy_call_becomes_one_genai_span(app: ModuleType, captured: Captured) -> None:
    translate = app.instrument(
        tracer_provider=captured.tracer_provider, meter_provider=captured.meter_provider
    )
    with FakeProviderServer() as server:
        answers = app.run(server, translate)
    assert all(answers)
    spans = {span.name: dict(span.attributes or {}) for span in captured.spans()}
    assert set(spans) == {"chat gpt-4o-mini", "chat claude-haiku-4-5", "chat gemini-2.5-flash"}
    assert all(int(str(attributes["gen_ai.usage.output_tokens"])) > 0 for attributes in spans.values())
    assert spans["chat gemini-2.5-flash"]["gen_ai.provider.name"] == "gcp.gemini"
