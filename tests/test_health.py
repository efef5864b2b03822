from __future__ import annotations

import json

import httpx
import pytest

from otel_llm import AllRoutesFailedError, BreakerPolicy, CircuitState, Client, RetryPolicy, StopAfterAttempts
from tests.conftest import FakeClock
from tests.wire import PROVIDERS, anthropic_body, error, openai_body, route_by_host

USER = [{"role": "user", "content": "hi"}]


def make_client(handler: httpx.MockTransport, clock: FakeClock | None = None) -> Client:
    clock = clock or FakeClock()
    return Client(
        transport=handler,
        providers=PROVIDERS,
        clock=clock,
        sleep=clock.sleep,
        retry=RetryPolicy(stop=StopAfterAttempts(1)),
        breaker=BreakerPolicy(failure_threshold=2, recovery_time=30, jitter=0),
    )


def outage_client(clock: FakeClock) -> Client:
    handler = route_by_host(
        openai=lambda r: error(503), anthropic=lambda r: httpx.Response(200, json=anthropic_body())
    )
    return make_client(httpx.MockTransport(handler), clock)


def test_a_fresh_client_is_healthy_and_knows_nothing_yet() -> None:
    with make_client(httpx.MockTransport(lambda r: httpx.Response(200, json=openai_body()))) as client:
        health = client.health()
    assert (health.status, health.routes, health.breakers, health.budgets) == ("ok", (), (), ())


def test_health_reports_routes_breakers_and_errors_after_an_outage() -> None:
    clock = FakeClock()
    with outage_client(clock) as client:
        for _ in range(3):
            client.chat("openai:gpt-4o-mini", USER, fallbacks=["anthropic:claude-haiku-4-5"])
        health = client.health()
    assert health.status == "degraded"
    routes = {route.route: route for route in health.routes}
    failing, serving = routes["openai:gpt-4o-mini"], routes["anthropic:claude-haiku-4-5"]
    assert (failing.breaker, failing.calls, failing.error_rate, failing.last_error) == (
        CircuitState.OPEN,
        2,  # the third call skipped the open route
        1.0,
        "overloaded",  # a 503
    )
    assert (serving.breaker, serving.calls, serving.error_rate, serving.last_error) == (
        CircuitState.CLOSED,
        3,
        0.0,
        None,
    )
    assert serving.in_flight == 0 and serving.latency.samples == 3
    breakers = {breaker.key: breaker for breaker in health.breakers}
    assert breakers["openai:gpt-4o-mini"].retry_in_s == pytest.approx(30)
    assert breakers["openai"].state is CircuitState.CLOSED and breakers["openai"].retry_in_s is None


def test_health_is_down_when_every_route_is_refused() -> None:
    clock = FakeClock()
    with outage_client(clock) as client:
        for _ in range(2):
            with pytest.raises(AllRoutesFailedError):
                client.chat("openai:gpt-4o-mini", USER)
        assert client.health().status == "down"
        client.reset_breaker("openai")
        assert client.health().status == "ok"


def test_the_json_form_is_plain_data() -> None:
    clock = FakeClock()
    with outage_client(clock) as client:
        client.chat("openai:gpt-4o-mini", USER, fallbacks=["anthropic:claude-haiku-4-5"])
        document = json.loads(client.health().to_json())
    assert document["status"] == "ok"
    route = next(r for r in document["routes"] if r["route"] == "anthropic:claude-haiku-4-5")
    assert route["breaker"] == "closed"
    assert set(route["latency"]) == {"estimate", "observed", "samples", "p50", "p95", "p99"}


def test_the_http_endpoint_serves_health_and_resets_breakers() -> None:
    clock = FakeClock()
    with outage_client(clock) as client, client.serve_health() as server:
        for _ in range(2):
            with pytest.raises(AllRoutesFailedError):
                client.chat("openai:gpt-4o-mini", USER)
        down = httpx.get(f"{server.url}/health")
        assert down.status_code == 503 and down.json()["status"] == "down"
        reset = httpx.post(f"{server.url}/breakers/openai%3Agpt-4o-mini/reset")
        assert reset.status_code == 200 and reset.json()["status"] == "ok"
        assert client.breaker_states()["openai:gpt-4o-mini"] is CircuitState.CLOSED
        assert httpx.get(f"{server.url}/nope").status_code == 404
        assert httpx.post(f"{server.url}/health").status_code == 404


def test_resets_can_be_disabled() -> None:
    with (
        make_client(httpx.MockTransport(lambda r: httpx.Response(200, json=openai_body()))) as client,
        client.serve_health(allow_reset=False) as server,
    ):
        assert httpx.get(f"{server.url}/health").status_code == 200
        assert httpx.post(f"{server.url}/breakers/openai/reset").status_code == 403
