"""A legacy app calling LLMs three ways, instrumented without touching its business logic.

- `summarise`: the official `openai` SDK;
- `classify`: a raw `httpx` POST to Anthropic's Messages API;
- `translate`: a hand-rolled `urllib` call to Gemini that returns the response text.

The business functions are untouched: `instrument()` adds one line for the libraries
(`instrument_all()`) and wraps the hand-rolled function where the app is wired together. Run it with
`python examples/legacy_app.py`: it talks to otel-llm's fake providers, so it needs no keys, and prints
the GenAI spans it produced (in production, `otel_llm.configure()` sends them over OTLP instead).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable

import httpx
import openai
from otel_llm_instrumentation import instrument_all

import otel_llm
from otel_llm.testing import FakeProviderServer

# --- business logic, as it was ---------------------------------------------------------------------


def summarise(client: openai.OpenAI, text: str) -> str:
    """One line about `text`, from OpenAI."""
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"Summarise: {text}"}], max_tokens=60
    )
    return reply.choices[0].message.content or ""


def classify(http: httpx.Client, base_url: str, text: str) -> str:
    """A label for `text`, from Anthropic over raw httpx."""
    response = http.post(
        f"{base_url}/v1/messages",
        headers={"x-api-key": "sk-ant-legacy", "anthropic-version": "2023-06-01"},
        json={"model": "claude-haiku-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": text}]},
    )
    return str(response.json()["content"][0]["text"])


def translate(base_url: str, text: str) -> str:
    """`text` in French, from Gemini by hand; returns the response's JSON text."""
    request = urllib.request.Request(
        f"{base_url}/models/gemini-2.5-flash:generateContent",
        data=json.dumps({"contents": [{"role": "user", "parts": [{"text": f"In French: {text}"}]}]}).encode(),
        headers={"content-type": "application/json", "x-goog-api-key": "legacy-key"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()  # the raw JSON text; the caller digs the answer out


# --- wiring: the only place that changes -----------------------------------------------------------


def instrument(**telemetry: object) -> Callable[[str, str], str]:
    """Instrument the libraries and wrap the hand-rolled function; returns the wrapped `translate`."""
    instrument_all(**telemetry)
    return otel_llm.llm_call(provider="gemini", model="gemini-2.5-flash", **telemetry)(translate)  # type: ignore[arg-type]


def run(server: FakeProviderServer, translate_call: Callable[[str, str], str]) -> list[str]:
    """The app's work: one call of each kind."""
    with openai.OpenAI(base_url=server.base_url("openai"), api_key="sk-legacy", max_retries=0) as client:
        summary = summarise(client, "The outage lasted ten minutes.")
    with httpx.Client() as http:
        label = classify(http, server.base_url("anthropic"), summary)
    raw = json.loads(translate_call(server.base_url("gemini"), summary))
    return [summary, label, raw["candidates"][0]["content"]["parts"][0]["text"]]


def main() -> None:
    """Run the app once against the fake providers, printing its answers and spans."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    # Spans to the console, so the example shows what it records without a collector.
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    translate_call = instrument(tracer_provider=tracer_provider)
    with FakeProviderServer() as server:
        for answer in run(server, translate_call):
            print(answer)
    tracer_provider.shutdown()


if __name__ == "__main__":
    main()
