"""Content, keys, attribution and conventions, the same for every way of instrumenting existing code.

Each style makes one real call (the official SDK, raw httpx, a decorated function) against the fake
provider server with a secret in the prompt and an API key on the request. Content is recorded only when
asked for, redacted and bounded; the key never appears in any span, event or metric label; attribution
reaches the span, and only the allowed keys become labels; every attribute is valid in the pinned
semantic-convention registry.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types
from otel_llm_instrumentation.anthropic import AnthropicInstrumentor
from otel_llm_instrumentation.google_genai import GoogleGenAIInstrumentor
from otel_llm_instrumentation.httpx_ import HttpxInstrumentor
from otel_llm_instrumentation.openai import OpenAIInstrumentor

import otel_llm
from otel_llm import ConfigurationError
from otel_llm._exceptions import ErrorKind
from otel_llm.telemetry import _instruments as inst
from otel_llm.telemetry._content import CAPTURE_CONTENT_ENV, CARD_NUMBER, REDACTED
from otel_llm.testing import Behavior, FakeProviderServer
from otel_llm.types import ContentCapture
from tests import semconv
from tests.conftest import Captured

API_KEY = "sk-PRIVATE-4242-do-not-record"
CARD = "4111 1111 1111 1111"  # searched as a whole: a loopback port may well contain "4111"
SECRET = f"my card is {CARD}"
PROMPT = [{"role": "user", "content": SECRET}]
EVENT = "gen_ai.client.inference.operation.details"


def call_openai(server: FakeProviderServer) -> None:
    with openai.OpenAI(base_url=server.base_url("openai"), api_key=API_KEY, max_retries=0) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT)  # type: ignore[arg-type]


def call_anthropic(server: FakeProviderServer) -> None:
    with anthropic.Anthropic(base_url=server.base_url("anthropic"), api_key=API_KEY, max_retries=0) as client:
        client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=PROMPT)  # type: ignore[arg-type]


def call_gemini(server: FakeProviderServer) -> None:
    options = types.HttpOptions(base_url=server.base_url("gemini"), api_version="")
    client = genai.Client(api_key=API_KEY, http_options=options)  # held: collected, it closes its HTTP client
    client.models.generate_content(model="gemini-2.0-flash", contents=SECRET)


def call_httpx(server: FakeProviderServer) -> None:
    with httpx.Client() as http:
        http.post(
            server.base_url("openai") + "/chat/completions",
            json={"model": "gpt-4o-mini", "messages": PROMPT},
            headers={"authorization": f"Bearer {API_KEY}"},
        ).raise_for_status()


# style -> (instrumentor, provider the loopback server plays, the call)
STYLES: dict[str, tuple[Callable[[], Any], str, Callable[[FakeProviderServer], None]]] = {
    "openai": (OpenAIInstrumentor, "openai", call_openai),
    "anthropic": (AnthropicInstrumentor, "anthropic", call_anthropic),
    "google-genai": (GoogleGenAIInstrumentor, "gemini", call_gemini),
    "httpx": (HttpxInstrumentor, "openai", call_httpx),
}


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        for provider in ("openai", "anthropic", "gemini"):
            fake.set_behavior(provider, Behavior(text="the answer"))
        yield fake


@contextmanager
def instrumented(
    captured: Captured, style: str, **options: Any
) -> Iterator[Callable[[FakeProviderServer], None]]:
    make, provider, call = STYLES[style]
    instrumentor = make()
    instrumentor.instrument(
        tracer_provider=captured.tracer_provider,
        meter_provider=captured.meter_provider,
        provider_names={"127.0.0.1": provider},
        **options,
    )
    try:
        yield call
    finally:
        instrumentor.uninstrument()


def decorated_call(captured: Captured, server: FakeProviderServer, **options: Any) -> None:
    @otel_llm.llm_call(
        provider="openai",
        base_url=server.base_url("openai"),
        tracer_provider=captured.tracer_provider,
        meter_provider=captured.meter_provider,
        **options,
    )
    def legacy(model: str, messages: list[dict[str, str]]) -> httpx.Response:
        return httpx.post(
            server.base_url("openai") + "/chat/completions",
            json={"model": model, "messages": messages},
            headers={"authorization": f"Bearer {API_KEY}"},
        ).raise_for_status()

    legacy(model="gpt-4o-mini", messages=PROMPT)


def run_style(captured: Captured, server: FakeProviderServer, style: str, **options: Any) -> None:
    if style == "decorator":
        decorated_call(captured, server, **options)
        return
    with instrumented(captured, style, **options) as call:
        call(server)


def recorded_with(captured: Captured, *needles: str) -> list[tuple[str, str, str]]:
    """Where any of `needles` was recorded: (span or event or metric, key, value) for every occurrence.

    Every span name, span attribute, event attribute and metric label is searched.
    """
    recorded: list[tuple[str, str, str]] = []
    for span in captured.spans():
        recorded.append((f"span {span.name}", "name", span.name))
        recorded += [(f"span {span.name}", k, str(v)) for k, v in (span.attributes or {}).items()]
        for event in span.events:
            recorded += [(f"event {event.name}", k, str(v)) for k, v in (event.attributes or {}).items()]
    for name, points in captured.metrics().items():
        recorded += [(f"metric {name}", k, str(v)) for labels, _ in points for k, v in labels.items()]
    return [entry for entry in recorded if any(needle in entry[2] for needle in needles)]


def the_call_span(captured: Captured) -> Any:
    [span] = [s for s in captured.spans() if s.name.startswith("chat ")]
    return span


ALL_STYLES = [*STYLES, "decorator"]


@pytest.mark.parametrize("style", ALL_STYLES)
def test_no_content_and_no_key_are_recorded_by_default(
    captured: Captured, server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch, style: str
) -> None:
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    run_style(captured, server, style)
    span = the_call_span(captured)
    assert span.attributes["gen_ai.usage.output_tokens"] > 0  # the call was recorded...
    assert recorded_with(captured, CARD, "the answer") == []  # ...without its content
    assert recorded_with(captured, API_KEY, "PRIVATE") == []
    assert not [e for e in span.events if e.name == EVENT]


@pytest.mark.parametrize("style", ALL_STYLES)
def test_a_refused_key_is_not_recorded_either(
    captured: Captured, server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch, style: str
) -> None:
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "SPAN_AND_EVENT")  # even with content on
    for provider in ("openai", "anthropic", "gemini"):
        server.set_behavior(provider, Behavior(status=401))
    with pytest.raises(Exception) as info:  # each style raises its own error type
        run_style(captured, server, style)
    span = the_call_span(captured)
    assert span.attributes["error.type"] and span.events  # the failure was recorded, with its exception
    assert recorded_with(captured, API_KEY, "PRIVATE") == []
    assert API_KEY not in str(info.value)  # (the SDKs' own messages do not carry it either)


@pytest.mark.parametrize("style", ALL_STYLES)
def test_the_environment_variable_turns_content_on(
    captured: Captured, server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch, style: str
) -> None:
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "EVENT_ONLY")
    run_style(captured, server, style)
    span = the_call_span(captured)
    assert "gen_ai.input.messages" not in span.attributes  # events only
    [event] = [e for e in span.events if e.name == EVENT]
    assert SECRET in str(event.attributes["gen_ai.input.messages"])
    assert "the answer" in str(event.attributes["gen_ai.output.messages"])
    assert recorded_with(captured, API_KEY) == []


@pytest.mark.parametrize("style", ALL_STYLES)
def test_code_configuration_redacts_and_bounds_content(
    captured: Captured, server: FakeProviderServer, style: str
) -> None:
    capture = ContentCapture("span_only", redact=[CARD_NUMBER, lambda text: text.replace("card", "***")])
    run_style(captured, server, style, capture_content=capture)
    [message] = json.loads(the_call_span(captured).attributes["gen_ai.input.messages"])
    assert message["parts"][0]["content"] == f"my *** is {REDACTED}"
    assert recorded_with(captured, CARD) == []


@pytest.mark.parametrize("style", ALL_STYLES)
def test_attribution_reaches_the_span_and_only_allowed_keys_become_labels(
    captured: Captured, server: FakeProviderServer, style: str
) -> None:
    with otel_llm.attribution(team="search", feature="qa", user="u-42", session="s-7"):
        run_style(captured, server, style)
    attributes = the_call_span(captured).attributes
    assert {k: v for k, v in attributes.items() if k.startswith(inst.ATTRIBUTION_PREFIX)} == {
        "otel_llm.attribution.team": "search",
        "otel_llm.attribution.feature": "qa",
        "otel_llm.attribution.user": "u-42",
        "otel_llm.attribution.session": "s-7",
    }
    for name in (inst.COST.name, inst.OPERATION_DURATION.name, inst.TOKEN_USAGE.name):
        for labels, _ in captured.metrics()[name]:
            assert {k: v for k, v in labels.items() if k.startswith(inst.ATTRIBUTION_PREFIX)} == {
                "otel_llm.attribution.team": "search",
                "otel_llm.attribution.feature": "qa",
            }


def test_an_instrumentor_can_narrow_the_labels(captured: Captured, server: FakeProviderServer) -> None:
    with (
        instrumented(captured, "openai", metric_attribution=["team"]) as call,
        otel_llm.attribution(team="search", feature="qa"),
    ):
        call(server)
    labels = [labels for labels, _ in captured.metrics()[inst.COST.name]]
    assert [(x.get("otel_llm.attribution.team"), x.get("otel_llm.attribution.feature")) for x in labels] == [
        ("search", None)
    ]


@pytest.mark.parametrize("keys", [["user"], "team"])
def test_unbounded_label_keys_are_refused_by_name(keys: Any) -> None:
    instrumentor = OpenAIInstrumentor()
    with pytest.raises(ConfigurationError, match="metric_attribution"):
        instrumentor.instrument(metric_attribution=keys)
    instrumentor.uninstrument()


@pytest.mark.parametrize("style", ALL_STYLES)
def test_everything_recorded_is_valid_in_the_semconv_registry(
    captured: Captured, server: FakeProviderServer, style: str
) -> None:
    run_style(captured, server, style, capture_content=ContentCapture("span_and_event"))
    custom = {"error.type": set(typing.get_args(ErrorKind))}
    assert semconv.recorded_violations(captured, custom_values=custom) == []
