from __future__ import annotations

import contextlib
import json

import httpx
import pytest

import otel_llm
import otel_llm.policies
from otel_llm import (
    AllRoutesFailedError,
    AsyncClient,
    BreakerPolicy,
    CircuitState,
    Client,
    ConfigurationError,
    RetryPolicy,
    StopAfterAttempts,
    StreamInterruptedError,
)
from otel_llm.providers import Endpoint
from tests.conftest import FakeClock
from tests.wire import (
    PROVIDERS,
    anthropic_body,
    anthropic_sse,
    error,
    openai_body,
    openai_stream,
    route_by_host,
    sse,
)

USER = [{"role": "user", "content": "hi"}]


def make_client(
    handler: httpx.MockTransport | None = None, clock: FakeClock | None = None, **config: object
) -> Client:
    clock = clock or FakeClock()
    return Client(
        transport=handler or httpx.MockTransport(lambda r: httpx.Response(200, json=openai_body())),
        sleep=clock.sleep,
        clock=clock,
        providers=PROVIDERS,
        **config,  # type: ignore[arg-type]
    )


def test_chat_returns_text_usage_route_and_cost() -> None:
    with make_client() as client:
        reply = client.chat("openai:gpt-4o-mini", USER)
    assert reply.text == "hello"
    assert reply.route == otel_llm.Route("openai", "gpt-4o-mini")
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (7, 2)
    assert reply.cost_usd is not None and reply.cost_usd > 0


def test_unknown_model_has_no_cost_never_zero() -> None:
    with make_client() as client:
        reply = client.chat("openai:some-future-model", USER)
    assert reply.cost_usd is None


def test_falls_back_when_the_first_provider_is_down() -> None:
    handler = route_by_host(
        openai=lambda r: error(503),
        anthropic=lambda r: httpx.Response(200, json=anthropic_body("from claude")),
    )
    clock = FakeClock()
    with make_client(
        httpx.MockTransport(handler), clock, retry=RetryPolicy(stop=StopAfterAttempts(2))
    ) as client:
        reply = client.chat("openai:gpt-4o-mini", USER, fallbacks=["anthropic:claude-haiku-4-5"])
    assert reply.text == "from claude"
    assert reply.route == otel_llm.Route("anthropic", "claude-haiku-4-5")
    assert len(clock.sleeps) == 1  # one retry on openai before falling back


def test_retry_after_ms_is_honoured() -> None:
    answers = iter([error(429, headers={"retry-after-ms": "1500"}), httpx.Response(200, json=openai_body())])
    clock = FakeClock()
    with make_client(httpx.MockTransport(lambda r: next(answers)), clock) as client:
        client.chat("openai:gpt-4o-mini", USER)
    assert clock.sleeps == [1.5]


def test_attempt_number_header_tells_retries_apart() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["x-otel-llm-attempt"])
        return error(500) if len(seen) == 1 else httpx.Response(200, json=openai_body())

    with make_client(httpx.MockTransport(handler)) as client:
        client.chat("openai:gpt-4o-mini", USER)
    assert seen == ["1", "2"]


def test_breaker_opens_and_later_calls_skip_the_model() -> None:
    calls = {"openai": 0}

    def openai(request: httpx.Request) -> httpx.Response:
        calls["openai"] += 1
        return error(503)

    handler = route_by_host(openai=openai, anthropic=lambda r: httpx.Response(200, json=anthropic_body()))
    client = make_client(
        httpx.MockTransport(handler),
        retry=RetryPolicy(stop=StopAfterAttempts(1)),
        breaker=BreakerPolicy(failure_threshold=2, recovery_time=60),
    )
    for _ in range(5):
        client.chat("openai:gpt-4o-mini", USER, fallbacks=["anthropic:claude-haiku-4-5"])
    assert calls["openai"] == 2
    states = client.breaker_states()
    assert states["openai:gpt-4o-mini"] is CircuitState.OPEN  # 503s: the model is down
    assert states["openai"] is CircuitState.CLOSED  # not necessarily the provider
    client.reset_breaker("openai")
    assert client.breaker_states()["openai:gpt-4o-mini"] is CircuitState.CLOSED
    client.close()


def test_all_routes_failing_raises_a_typed_error_listing_attempts() -> None:
    handler = route_by_host(
        openai=lambda r: error(401, "bad key"), anthropic=lambda r: error(400, "bad request")
    )
    with make_client(httpx.MockTransport(handler)) as client, pytest.raises(AllRoutesFailedError) as info:
        client.chat("openai:gpt-4o-mini", USER, fallbacks=["anthropic:claude-haiku-4-5"])
    kinds = [attempt.error.kind for attempt in info.value.attempts]
    assert kinds == ["auth", "bad_request"]  # neither is retried


def test_transport_failures_map_to_connection_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = make_client(httpx.MockTransport(handler), retry=RetryPolicy(stop=StopAfterAttempts(1)))
    with client, pytest.raises(AllRoutesFailedError) as info:
        client.chat("openai:gpt-4o-mini", USER)
    assert info.value.kind == "connection"
    assert isinstance(info.value.attempts[0].error, otel_llm.ProviderConnectionError)


def test_malformed_success_body_is_a_protocol_error() -> None:
    handler = httpx.MockTransport(lambda r: httpx.Response(200, content=b"<html>gateway</html>"))
    client = make_client(handler, retry=RetryPolicy(stop=StopAfterAttempts(1)))
    with client, pytest.raises(AllRoutesFailedError) as info:
        client.chat("openai:gpt-4o-mini", USER)
    error_ = info.value.attempts[0].error
    assert isinstance(error_, otel_llm.ProviderProtocolError)
    assert "gateway" in str(error_) and "openai" in str(error_)


def test_stream_yields_chunks_and_the_full_response() -> None:
    body = openai_stream(["Hel", "lo", "!"])
    handler = httpx.MockTransport(
        lambda r: httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
    )
    with make_client(handler) as client, client.stream("openai:gpt-4o-mini", USER) as stream:
        deltas = [chunk.delta for chunk in stream]
    assert "".join(deltas) == "Hello!"
    assert stream.response is not None
    assert stream.response.text == "Hello!"
    assert stream.response.usage.output_tokens == 3
    assert stream.response.finish_reasons == ("stop",)


def test_stream_requests_usage() -> None:
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, content=openai_stream(["x"]))

    with make_client(httpx.MockTransport(handler)) as client:
        list(client.stream("openai:gpt-4o-mini", USER))
    assert seen[0]["stream_options"] == {"include_usage": True}


def test_stream_fails_over_before_the_first_chunk() -> None:
    handler = route_by_host(
        openai=lambda r: error(503),
        anthropic=lambda r: httpx.Response(
            200,
            content=anthropic_sse(
                (
                    "message_start",
                    {
                        "message": {
                            "id": "m",
                            "model": "claude-haiku-4-5",
                            "usage": {"input_tokens": 3, "output_tokens": 1},
                        }
                    },
                ),
                ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "ok"}}),
                ("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}),
                ("message_stop", {}),
            ),
        ),
    )
    with make_client(httpx.MockTransport(handler), retry=RetryPolicy(stop=StopAfterAttempts(1))) as client:
        stream = client.stream("openai:gpt-4o-mini", USER, fallbacks=["anthropic:claude-haiku-4-5"])
        assert "".join(c.delta for c in stream) == "ok"
    assert stream.response is not None and stream.response.route == otel_llm.Route(
        "anthropic", "claude-haiku-4-5"
    )
    assert (stream.response.usage.input_tokens, stream.response.usage.output_tokens) == (3, 2)


def test_an_error_sharing_the_first_read_with_content_is_retried_since_nothing_was_delivered() -> None:
    overloaded: dict[str, object] = {
        "error": {"message": "busy", "type": "server_error", "code": "server_is_overloaded"}
    }
    bodies = [openai_stream(["lost"], done=False) + sse(overloaded), openai_stream(["fine"])]
    with make_client(httpx.MockTransport(lambda r: httpx.Response(200, content=bodies.pop(0)))) as client:
        assert "".join(c.delta for c in client.stream("openai:gpt-4o-mini", USER)) == "fine"
    assert bodies == []


def test_stream_cut_after_the_first_chunk_raises_with_partial_text() -> None:
    body = openai_stream(["Hel", "lo"], done=False)
    with make_client(httpx.MockTransport(lambda r: httpx.Response(200, content=body))) as client:
        stream = client.stream("openai:gpt-4o-mini", USER, fallbacks=["anthropic:claude-haiku-4-5"])
        with pytest.raises(StreamInterruptedError) as info:
            list(stream)
    assert info.value.partial_text == "Hello"


def test_closing_a_stream_early_releases_it() -> None:
    body = openai_stream(["a", "b", "c"])
    with make_client(httpx.MockTransport(lambda r: httpx.Response(200, content=body))) as client:
        stream = client.stream("openai:gpt-4o-mini", USER)
        first = next(iter(stream))
        stream.close()
    assert first.delta == "a"
    assert stream.response is None


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.chat("gpt-4o", USER), "model"),
        (lambda c: c.chat("openai:gpt-4o", []), "messages"),
        (lambda c: c.chat("openai:gpt-4o", [{"role": "user"}]), "messages[0].content"),
        (lambda c: c.chat("openai:gpt-4o", USER, fallbacks="anthropic:x"), "fallbacks"),
        (lambda c: c.chat("openai:gpt-4o", USER, fallbacks=["nope"]), "fallbacks[0]"),
        (lambda c: c.chat("openai:gpt-4o", USER, timeout=-1), "timeout"),
        (lambda c: c.chat("openai:gpt-4o", USER, temprature=0.2), "temprature"),
    ],
)
def test_bad_input_names_the_field(call: object, field: str) -> None:
    with make_client() as client, pytest.raises(ConfigurationError) as info:
        call(client)  # type: ignore[operator]
    assert info.value.field == field


def test_unknown_provider_lists_the_known_ones() -> None:
    with (
        make_client() as client,
        pytest.raises(ConfigurationError, match=r"known: \['anthropic', .*'gemini', .*'openai'.*\]"),
    ):
        client.chat("nosuch:model", USER)


def test_custom_openai_compatible_provider_reports_its_own_name(captured: object) -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json=openai_body())

    providers = {"vllm": {"base_url": "http://gpu-box:8000/v1", "wire": "openai"}}
    with Client(transport=httpx.MockTransport(handler), providers=providers) as client:
        client.chat("vllm:llama-3", USER)
    assert str(seen[0]) == "http://gpu-box:8000/v1/chat/completions"


@pytest.mark.parametrize(
    ("providers", "field"),
    [
        ({"acme": {"base_url": "https://api.acme.test/v1"}}, "providers.acme"),
        ({"x": {"wire": "soap", "base_url": "http://h"}}, "providers.x.wire"),
        ({"x": {"wire": "openai"}}, "providers.x.base_url"),
        ({"openai": {"base_url": "ftp://h"}}, "providers.openai.base_url"),
        ({"openai": {"apikey": "k"}}, "providers.openai.apikey"),
        ({"openai": "sk-..."}, "providers.openai"),
    ],
)
def test_invalid_provider_configuration_names_the_field(providers: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Client(providers=providers)  # type: ignore[arg-type]
    assert info.value.field == field


def test_api_key_never_appears_in_reprs() -> None:
    settings = otel_llm.ProviderSettings(api_key="sk-very-secret")
    endpoint = Endpoint("openai", "https://api.openai.com/v1", "sk-very-secret", "openai")
    assert "sk-very-secret" not in repr(settings) + repr(endpoint)


def test_unknown_client_option_names_itself() -> None:
    with pytest.raises(ConfigurationError) as info:
        Client(retries=3)  # type: ignore[call-arg]
    assert info.value.field == "retries"


@pytest.mark.anyio
async def test_async_client_falls_back_and_streams() -> None:
    handler = route_by_host(
        openai=lambda r: error(500), anthropic=lambda r: httpx.Response(200, json=anthropic_body("async ok"))
    )
    clock = FakeClock()
    async with AsyncClient(
        transport=httpx.MockTransport(handler), sleep=clock.async_sleep, clock=clock, providers=PROVIDERS
    ) as client:
        reply = await client.chat("openai:gpt-4o-mini", USER, fallbacks=["anthropic:claude-haiku-4-5"])
        assert reply.text == "async ok"
        assert len(clock.sleeps) == 2  # default policy: three attempts on openai

    body = openai_stream(["as", "ync"])
    async with AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body)), providers=PROVIDERS
    ) as client:
        stream = client.stream("openai:gpt-4o-mini", USER)
        parts = [chunk.delta async for chunk in stream]
    assert "".join(parts) == "async"
    assert stream.response is not None and stream.response.text == "async"


@pytest.mark.anyio
async def test_async_stream_interruption_keeps_partial_text() -> None:
    body = openai_stream(["par", "tial"], done=False)
    async with AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body)), providers=PROVIDERS
    ) as client:
        stream = client.stream("openai:gpt-4o-mini", USER)
        with pytest.raises(StreamInterruptedError) as info:
            async for _ in stream:
                pass
    assert info.value.partial_text == "partial"


def test_configured_headers_and_token_provider_reach_every_attempt() -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        first_for_host = not any(h["host"] == request.headers["host"] for h in seen)
        seen.append(request.headers)
        return error(500) if first_for_host else httpx.Response(200, json=openai_body())  # one retry each

    tokens = iter(["token-1", "token-2"])
    providers = {
        "openrouter": otel_llm.ProviderSettings(
            api_key="sk-or", headers={"HTTP-Referer": "https://app.example", "X-Title": "My App"}
        ),
        "azure": otel_llm.ProviderSettings(
            base_url="https://res.openai.azure.com", token_provider=lambda: next(tokens)
        ),
    }
    environ = {"AZURE_OPENAI_API_KEY": "must-not-be-used"}
    with Client(
        transport=httpx.MockTransport(handler), providers=providers, environ=environ, sleep=lambda s: None
    ) as c:
        c.chat("openrouter:meta/llama", USER)
        c.chat("azure:gpt-4o-deployment", USER)
    assert (seen[0]["http-referer"], seen[0]["x-title"]) == ("https://app.example", "My App")
    assert [h.get("authorization") for h in seen[2:]] == [
        "Bearer token-1",
        "Bearer token-2",
    ]  # refreshed per attempt
    assert not any("api-key" in h for h in seen[2:])  # the token replaces the key


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"openrouter": {"headers": {"X-Title": 5}}}, "providers.openrouter.headers"),
        ({"openrouter": {"headers": "X-Title: x"}}, "providers.openrouter.headers"),
        (
            {"azure": {"base_url": "https://r.openai.azure.com", "token_provider": "tok"}},
            "providers.azure.token_provider",
        ),
    ],
)
def test_invalid_headers_or_token_provider_name_the_field(settings: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Client(providers=settings)  # type: ignore[arg-type]
    assert info.value.field == field


def test_header_values_stay_out_of_settings_repr() -> None:
    settings = otel_llm.ProviderSettings(headers={"X-Proxy-Auth": "secret-value"}, token_provider=lambda: "t")
    assert "secret-value" not in repr(settings)
    assert "X-Proxy-Auth" in repr(settings)


def test_request_errors_end_the_call_unless_configured_to_fail_over() -> None:
    handler = route_by_host(
        openai=lambda r: error(400, "Unrecognized request argument", code="invalid_request_error"),
        anthropic=lambda r: httpx.Response(200, json=anthropic_body("from claude")),
    )
    fallbacks = ["anthropic:claude-haiku-4-5"]
    with make_client(httpx.MockTransport(handler)) as c, pytest.raises(AllRoutesFailedError) as info:
        c.chat("openai:gpt-4o-mini", USER, fallbacks=fallbacks)
    assert [a.route for a in info.value.attempts] == ["openai:gpt-4o-mini"]
    opted_in = make_client(
        httpx.MockTransport(handler), fallback_on=otel_llm.policies.DEFAULT_FALLBACK_KINDS | {"bad_request"}
    )
    with opted_in:
        assert opted_in.chat("openai:gpt-4o-mini", USER, fallbacks=fallbacks).text == "from claude"


@pytest.mark.parametrize("value", ["bad_request", ["no_such_kind"]])
def test_invalid_fallback_kinds_are_rejected(value: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        Client(fallback_on=value)  # type: ignore[arg-type]
    assert info.value.field == "fallback_on"


@pytest.mark.parametrize(("header", "attempts"), [("false", 1), ("true", 3)])
def test_x_should_retry_overrides_the_status_rule(header: str, attempts: int) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        status = 500 if header == "false" else 409  # 500 is retried by default; here not, and vice versa
        return (
            error(status, headers={"x-should-retry": header})
            if len(calls) < 3
            else httpx.Response(200, json=openai_body())
        )

    with make_client(httpx.MockTransport(handler)) as c, contextlib.suppress(AllRoutesFailedError):
        c.chat("openai:gpt-4o-mini", USER)
    assert len(calls) == attempts
