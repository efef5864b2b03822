"""Zero code: `opentelemetry-instrument python app.py` finds the instrumentor through its entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

APP = textwrap.dedent(
    """
    import openai
    from otel_llm.testing import FakeProviderServer

    with FakeProviderServer() as server:
        client = openai.OpenAI(base_url=server.base_url("openai"), api_key="sk-zero-code", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    """
)


def test_an_unchanged_app_run_under_opentelemetry_instrument_emits_genai_spans(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP)
    env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "zero-code",
        "OTEL_LLM_PROVIDER_NAMES": "127.0.0.1=openai",  # the fake server plays OpenAI on loopback
    }
    launcher = Path(sys.executable).with_name("opentelemetry-instrument")
    result = subprocess.run(
        [str(launcher), sys.executable, str(app)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    spans = _console_spans(result.stdout)
    [chat] = [span for span in spans if span["name"] == "chat gpt-4o-mini"]
    assert chat["kind"] == "SpanKind.CLIENT"
    assert chat["attributes"]["gen_ai.provider.name"] == "openai"
    assert chat["attributes"]["gen_ai.usage.output_tokens"] > 0
    assert "sk-zero-code" not in result.stdout


def _console_spans(output: str) -> list[dict[str, Any]]:
    """The JSON objects the console exporter printed, one per span."""
    decoder, index = json.JSONDecoder(), 0
    spans: list[dict[str, Any]] = []
    while (start := output.find("{", index)) != -1:
        span, index = decoder.raw_decode(output, start)
        spans.append(span)
    return spans


def test_instrument_all_instruments_every_installed_library() -> None:
    from otel_llm_instrumentation import instrument_all
    from otel_llm_instrumentation.anthropic import AnthropicInstrumentor
    from otel_llm_instrumentation.google_genai import GoogleGenAIInstrumentor
    from otel_llm_instrumentation.httpx_ import HttpxInstrumentor
    from otel_llm_instrumentation.openai import OpenAIInstrumentor

    try:
        assert instrument_all(skip_dep_check=True) == ["openai", "anthropic", "google.genai", "httpx"]
        assert all(i().is_instrumented_by_opentelemetry for i in (OpenAIInstrumentor, AnthropicInstrumentor))
    finally:
        for instrumentor in (
            OpenAIInstrumentor(),
            AnthropicInstrumentor(),
            GoogleGenAIInstrumentor(),
            HttpxInstrumentor(),
        ):
            instrumentor.uninstrument()
