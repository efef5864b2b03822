from __future__ import annotations

import json
import logging
import typing
from typing import Any

import httpx
import jsonschema
import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import HistogramDataPoint
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

import otel_llm
from otel_llm import AllRoutesFailedError, BreakerPolicy, Client, RetryPolicy, StopAfterAttempts
from otel_llm._exceptions import ErrorKind
from otel_llm.telemetry import _instruments as inst
from tests import semconv
from tests.conftest import Captured, FakeClock
from tests.wire import KEYS, PROVIDERS, anthropic_body, error, openai_body, openai_stream, route_by_host

USER = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
OUR_ERROR_KINDS = set(typing.get_args(ErrorKind))


def client_for(captured: Captured, handler: Any, **config: Any) -> Client:
    clock = FakeClock()
    return Client(
        transport=httpx.MockTransport(handler),
        tracer_provider=captured.tracer_provider,
        meter_provider=captured.meter_provider,
        providers=PROVIDERS,
        clock=clock,
        sleep=clock.sleep,
        **config,
    )


def fallback_handler() -> Any:
    return route_by_host(
        openai=lambda r: error(503), anthropic=lambda r: httpx.Response(200, json=anthropic_body())
    )


def test_call_span_and_metrics_follow_the_genai_conventions(captured: Captured) -> None:
    with client_for(captured, lambda r: httpx.Response(200, json=openai_body())) as client:
        client.chat("openai:gpt-4o-mini", USER, temperature=0.2, max_tokens=50)
    span = captured.span("chat gpt-4o-mini")
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    expected = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 50,
        "server.address": "api.openai.com",
        "server.port": 443,
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 7,
        "gen_ai.usage.output_tokens": 2,
    }
    assert {k: span.attributes[k] for k in expected} == expected  # type: ignore[index]
    attempt = captured.span("otel_llm.attempt")
    assert attempt.parent is not None and attempt.parent.span_id == span.context.span_id

    metrics = captured.metrics()
    ((duration_attrs, _),) = metrics[inst.OPERATION_DURATION.name]
    assert duration_attrs == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "server.address": "api.openai.com",
        "server.port": 443,
    }
    tokens = {a["gen_ai.token.type"]: v for a, v in metrics[inst.TOKEN_USAGE.name]}
    assert tokens == {"input": 7, "output": 2}
    assert metrics[inst.COST.name][0][1] == pytest.approx((7 * 0.15 + 2 * 0.60) / 1e6)
    assert inst.UNPRICED_CALLS.name not in metrics


def test_metric_attributes_stay_within_each_instruments_declared_set(captured: Captured) -> None:
    with client_for(captured, fallback_handler(), breaker=BreakerPolicy(failure_threshold=1)) as client:
        client.chat("openai:gpt-4o-mini", USER, fallbacks=["anthropic:claude-haiku-4-5"])
    specs = {spec.name: spec for spec in inst.ALL_INSTRUMENTS}
    recorded = captured.metrics()
    assert set(recorded) <= set(specs)
    for name, points in recorded.items():
        for attributes, _ in points:
            assert set(attributes) <= specs[name].attributes, name


def test_histograms_use_the_semconv_bucket_boundaries(captured: Captured) -> None:
    with client_for(captured, lambda r: httpx.Response(200, json=openai_body())) as client:
        client.chat("openai:gpt-4o-mini", USER)
    data = captured.reader.get_metrics_data()
    assert data is not None
    bounds = {
        m.name: tuple(m.data.data_points[0].explicit_bounds)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if isinstance(m.data.data_points[0], HistogramDataPoint)
    }
    assert bounds[inst.OPERATION_DURATION.name] == (
        0.01,
        0.02,
        0.04,
        0.08,
        0.16,
        0.32,
        0.64,
        1.28,
        2.56,
        5.12,
        10.24,
        20.48,
        40.96,
        81.92,
    )
    assert bounds[inst.TOKEN_USAGE.name] == (
        1,
        4,
        16,
        64,
        256,
        1024,
        4096,
        16384,
        65536,
        262144,
        1048576,
        4194304,
        16777216,
        67108864,
    )


def test_fallback_is_visible_per_attempt_and_metrics_land_on_the_serving_route(captured: Captured) -> None:
    with client_for(captured, fallback_handler(), retry=RetryPolicy(stop=StopAfterAttempts(2))) as client:
        client.chat("openai:gpt-4o-mini", USER, fallbacks=["anthropic:claude-haiku-4-5"])
    span = captured.span("chat gpt-4o-mini")
    assert span.attributes is not None
    assert span.attributes["gen_ai.provider.name"] == "anthropic"
    assert span.attributes["otel_llm.route.requested"] == "openai:gpt-4o-mini"
    assert [e.name for e in span.events] == ["otel_llm.retry", "otel_llm.fallback"]
    attempts = [s for s in captured.spans() if s.name == "otel_llm.attempt"]
    assert [(s.attributes or {}).get("error.type") for s in attempts] == ["overloaded", "overloaded", None]

    metrics = captured.metrics()
    assert {a["gen_ai.provider.name"] for a, _ in metrics[inst.OPERATION_DURATION.name]} == {"anthropic"}
    assert metrics[inst.FALLBACKS.name] == [
        (
            {
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "otel_llm.fallback.to_provider": "anthropic",
                "error.type": "overloaded",
            },
            1,
        )
    ]
    assert metrics[inst.RETRIES.name][0][1] == 1


def test_failed_call_has_error_status_and_error_type(captured: Captured) -> None:
    with client_for(captured, lambda r: error(400, "bad")) as client, pytest.raises(AllRoutesFailedError):
        client.chat("openai:gpt-4o-mini", USER)
    span = captured.span("chat gpt-4o-mini")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "bad_request"
    metrics = captured.metrics()
    assert metrics[inst.OPERATION_DURATION.name][0][0]["error.type"] == "bad_request"
    assert inst.TOKEN_USAGE.name not in metrics  # unknown usage is never recorded as zero


def test_unpriced_model_records_no_cost_and_counts_it(captured: Captured) -> None:
    with client_for(captured, lambda r: httpx.Response(200, json=openai_body())) as client:
        client.chat("openai:brand-new-model", USER)
    metrics = captured.metrics()
    assert inst.COST.name not in metrics
    assert metrics[inst.UNPRICED_CALLS.name][0][1] == 1
    assert "otel_llm.cost.usd" not in (captured.span("chat brand-new-model").attributes or {})


def test_breaker_state_gauge_and_transitions(captured: Captured) -> None:
    with client_for(
        captured,
        fallback_handler(),
        retry=RetryPolicy(stop=StopAfterAttempts(1)),
        breaker=BreakerPolicy(failure_threshold=1),
    ) as client:
        client.chat("openai:gpt-4o-mini", USER, fallbacks=["anthropic:claude-haiku-4-5"])
    metrics = captured.metrics()
    states = {
        (a["gen_ai.provider.name"], a.get("gen_ai.request.model")): v
        for a, v in metrics[inst.CIRCUIT_STATE.name]
    }
    # The 503 opened the model's breaker; the provider's and the fallback's stay closed.
    assert states == {
        ("openai", None): 0,
        ("openai", "gpt-4o-mini"): 2,
        ("anthropic", None): 0,
        ("anthropic", "claude-haiku-4-5"): 0,
    }
    assert metrics[inst.CIRCUIT_TRANSITIONS.name] == [
        (
            {
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "otel_llm.circuit.state": "open",
            },
            1,
        )
    ]


def test_stream_span_records_time_to_first_chunk_and_ends_when_closed_early(captured: Captured) -> None:
    body = openai_stream(["a", "b", "c"])
    with client_for(captured, lambda r: httpx.Response(200, content=body)) as client:
        stream = client.stream("openai:gpt-4o-mini", USER)
        next(iter(stream))
        assert captured.spans() == [captured.span("otel_llm.attempt")]  # call span still open
        stream.close()
    span = captured.span("chat gpt-4o-mini")
    attributes = span.attributes or {}
    assert attributes["gen_ai.request.stream"] is True
    assert isinstance(attributes["gen_ai.response.time_to_first_chunk"], float)
    assert span.status.status_code is StatusCode.UNSET
    assert inst.TIME_TO_FIRST_CHUNK.name in captured.metrics()


def test_every_emitted_semconv_attribute_is_in_the_pinned_registry(captured: Captured) -> None:
    handler = route_by_host(
        openai=lambda r: error(503), anthropic=lambda r: httpx.Response(200, json=anthropic_body())
    )
    with client_for(captured, handler, capture_content=True) as client:
        client.chat(
            "openai:gpt-4o-mini",
            USER,
            fallbacks=["anthropic:claude-haiku-4-5"],
            temperature=0.1,
            top_p=0.9,
            max_tokens=9,
            stop=["x"],
            seed=3,
        )
        with pytest.raises(AllRoutesFailedError):
            client.chat("openai:gpt-4o-mini", USER)
    with client_for(captured, lambda r: httpx.Response(200, content=openai_stream(["a"]))) as client:
        list(client.stream("openai:gpt-4o-mini", USER))
    assert semconv.recorded_violations(captured, custom_values={"error.type": OUR_ERROR_KINDS}) == []


def test_content_capture_is_opt_in_and_matches_the_message_schemas(captured: Captured) -> None:
    with client_for(captured, lambda r: httpx.Response(200, json=openai_body())) as client:
        client.chat("openai:gpt-4o-mini", USER)
    assert not any(
        k.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.system"))
        for k in captured.span("chat gpt-4o-mini").attributes or {}
    )

    captured.spans_exporter.clear()
    with client_for(
        captured, lambda r: httpx.Response(200, json=openai_body()), capture_content=True
    ) as client:
        client.chat("openai:gpt-4o-mini", USER)
    attributes = captured.span("chat gpt-4o-mini").attributes or {}
    schemas = semconv.require_registry() / "model" / "gen-ai"
    for attribute, schema in [
        ("gen_ai.input.messages", "gen-ai-input-messages.json"),
        ("gen_ai.output.messages", "gen-ai-output-messages.json"),
        ("gen_ai.system_instructions", "gen-ai-system-instructions.json"),
    ]:
        jsonschema.validate(
            json.loads(str(attributes[attribute])), json.loads((schemas / schema).read_text())
        )


def test_api_keys_never_reach_telemetry(captured: Captured) -> None:
    handler = route_by_host(
        openai=lambda r: error(401, "Incorrect API key provided"),
        anthropic=lambda r: httpx.Response(200, json=anthropic_body()),
    )
    with client_for(captured, handler, capture_content=True) as client:
        client.chat("openai:gpt-4o-mini", USER, fallbacks=["anthropic:claude-haiku-4-5"])
    dump = repr(
        [
            (s.name, dict(s.attributes or {}), [(e.name, dict(e.attributes or {})) for e in s.events])
            for s in captured.spans()
        ]
    )
    dump += repr(captured.metrics())
    for key in KEYS.values():
        assert key not in dump


def test_always_off_sampler_still_records_metrics_and_answers() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    tracer_provider = TracerProvider(sampler=ALWAYS_OFF)
    meter_provider = MeterProvider(metric_readers=[reader])
    with Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=openai_body())),
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        providers=PROVIDERS,
    ) as client:
        assert client.chat("openai:gpt-4o-mini", USER).text == "hello"
    data = reader.get_metrics_data()
    assert data is not None
    names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert inst.OPERATION_DURATION.name in names
    meter_provider.shutdown()


class _BrokenTracer(trace.Tracer):
    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        raise RuntimeError("exporter exploded")

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("exporter exploded")


class _BrokenTracerProvider(trace.TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _BrokenTracer()


def test_a_telemetry_failure_never_breaks_the_call(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, captured: Captured
) -> None:
    monkeypatch.setenv("OTEL_LLM_TELEMETRY_STRICT", "0")
    with (
        caplog.at_level(logging.WARNING, logger="otel_llm.telemetry"),
        Client(
            transport=httpx.MockTransport(lambda r: httpx.Response(200, content=openai_stream(["o", "k"]))),
            tracer_provider=_BrokenTracerProvider(),
            meter_provider=captured.meter_provider,
            providers=PROVIDERS,
        ) as client,
    ):
        assert "".join(c.delta for c in client.stream("openai:gpt-4o-mini", USER)) == "ok"
    assert "telemetry failed" in caplog.text
    assert inst.OPERATION_DURATION.name in captured.metrics()  # metrics still recorded independently


def test_strict_mode_surfaces_telemetry_bugs_in_tests() -> None:
    with (
        Client(
            transport=httpx.MockTransport(lambda r: httpx.Response(200, json=openai_body())),
            tracer_provider=_BrokenTracerProvider(),
            providers=PROVIDERS,
        ) as client,
        pytest.raises(RuntimeError, match="exporter exploded"),
    ):
        client.chat("openai:gpt-4o-mini", USER)


def test_version_is_reported_as_instrumentation_scope(captured: Captured) -> None:
    with client_for(captured, lambda r: httpx.Response(200, json=openai_body())) as client:
        client.chat("openai:gpt-4o-mini", USER)
    scope = captured.span("chat gpt-4o-mini").instrumentation_scope
    assert scope is not None and (scope.name, scope.version) == ("otel_llm", otel_llm.__version__)


def test_every_client_on_a_meter_reports_its_breakers_and_budgets(captured: Captured) -> None:
    # The SDK keeps only the first registration of a gauge name: the second client's must not be lost.
    # Both clients use one route; the series shows the worse state, once.
    from decimal import Decimal

    from otel_llm.budgets import Budget

    def client(budget: str, status: int) -> Client:
        return Client(
            transport=httpx.MockTransport(
                lambda r: error(status) if status else httpx.Response(200, json=openai_body())
            ),
            providers=PROVIDERS,
            meter_provider=captured.meter_provider,
            retry=RetryPolicy(stop=StopAfterAttempts(1)),
            breaker=BreakerPolicy(failure_threshold=1),
            budgets=[Budget(budget, limit_usd=Decimal(1), period="day")],
        )

    healthy, failing = client("first", 0), client("second", 503)
    healthy.chat("openai:gpt-4o-mini", [{"role": "user", "content": "hi"}])
    with pytest.raises(AllRoutesFailedError):
        failing.chat("openai:gpt-4o-mini", [{"role": "user", "content": "hi"}])
    metrics = captured.metrics()
    budgets = {labels[inst.BUDGET_NAME] for labels, _ in metrics[inst.BUDGET_LIMIT.name]}
    assert budgets == {"first", "second"}
    model = {inst.PROVIDER_NAME: "openai", inst.REQUEST_MODEL: "gpt-4o-mini"}
    assert [value for labels, value in metrics[inst.CIRCUIT_STATE.name] if labels == model] == [2.0]
    healthy.close()
    failing.close()
