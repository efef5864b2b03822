"""Server lifecycle, routing, auth and the request log."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from otel_llm.testing import Behavior, FakeProviderServer, RecordedRequest

from ._helpers import AUTH_HEADERS, PROVIDERS, build_request, call, has_terminator, parse_sse

# ---------------------------------------------------------------- lifecycle


def test_urls() -> None:
    with FakeProviderServer() as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.port > 0
        assert server.base_url("openai") == server.url + "/openai/v1"
        assert server.base_url("anthropic") == server.url + "/anthropic"
        assert server.base_url("gemini") == server.url + "/gemini/v1beta"
        assert server.base_url("openrouter") == server.url + "/openrouter/v1"


@pytest.mark.parametrize("name", ["", "a/b", "-x", "x y", "ü"])
def test_invalid_provider_names(server: FakeProviderServer, name: str) -> None:
    with pytest.raises(ValueError):
        server.base_url(name)
    with pytest.raises(ValueError):
        server.set_behavior(name, Behavior())
    with pytest.raises(ValueError):
        server.enqueue(name, Behavior())


def test_start_close_without_with() -> None:
    server = FakeProviderServer().start()
    try:
        with httpx.Client() as client:
            assert call(server, client, "openai").status_code == 200
    finally:
        server.close()
    server.close()  # idempotent


def test_url_needs_a_running_server() -> None:
    server = FakeProviderServer()
    with pytest.raises(RuntimeError):
        _ = server.url
    server.start()
    server.close()
    with pytest.raises(RuntimeError):
        _ = server.url


def test_start_only_once() -> None:
    with FakeProviderServer() as server, pytest.raises(RuntimeError):
        server.start()
    with pytest.raises(RuntimeError):
        server.start()  # closed servers do not restart


def test_close_stops_accepting_and_leaves_no_threads() -> None:
    before = set(threading.enumerate())
    with FakeProviderServer() as server, httpx.Client() as client:
        assert call(server, client, "anthropic").status_code == 200
        url = server.base_url("anthropic")

    assert set(threading.enumerate()) <= before
    with httpx.Client() as client, pytest.raises(httpx.ConnectError):
        client.post(url + "/v1/messages", json={})


def test_close_with_idle_keep_alive_connection_is_prompt() -> None:
    with httpx.Client() as client:
        server = FakeProviderServer().start()
        assert call(server, client, "openai").status_code == 200  # connection stays pooled

        started = time.monotonic()
        server.close()

        # Bounded far below a keep-alive timeout, and loose enough for a loaded machine.
        assert time.monotonic() - started < 10


def test_close_interrupts_latency_and_slow_streams() -> None:
    server = FakeProviderServer().start()
    server.enqueue("openai", Behavior(latency=30))
    server.enqueue("anthropic", Behavior(chunk_delay=30))

    def slow(provider: str) -> httpx.Response | httpx.HTTPError:
        with httpx.Client(timeout=60) as client:
            try:
                return call(server, client, provider, stream=provider == "anthropic")
            except httpx.HTTPError as exc:
                return exc

    with ThreadPoolExecutor(2) as pool:
        waiting = pool.submit(slow, "openai")
        streaming = pool.submit(slow, "anthropic")
        while len(server.requests) < 2:
            time.sleep(0.01)
        time.sleep(0.05)
        started = time.monotonic()
        server.close()
        assert time.monotonic() - started < 10  # far below the 30 s the requests would otherwise take
        # No response had started: the client sees a dropped connection.
        assert isinstance(waiting.result(timeout=5), httpx.RemoteProtocolError)
        # The stream had started: it just ends, without its terminal event.
        response = streaming.result(timeout=5)
        assert isinstance(response, httpx.Response)
        events = parse_sse(response.content)
        assert [e.event for e in events] == ["message_start"]


def test_fixed_port() -> None:
    with FakeProviderServer() as first:
        port = first.port
    with FakeProviderServer(port=port) as second:
        assert second.port == port


# ---------------------------------------------------------------- routing and auth


def test_unknown_path_is_404_json(server: FakeProviderServer, http: httpx.Client) -> None:
    response = http.post(server.url + "/nope/v2/things", json={})

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
    assert server.requests == []


def test_wrong_method_is_405(server: FakeProviderServer, http: httpx.Client) -> None:
    response = http.get(server.base_url("openai") + "/chat/completions")

    assert response.status_code == 405
    assert "error" in response.json()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_missing_key_is_401(server: FakeProviderServer, http: httpx.Client, provider: str) -> None:
    server.set_behavior(provider, Behavior(status=503))
    request = build_request(server, http, provider)
    for name in AUTH_HEADERS[provider]:
        del request.headers[name]

    response = http.send(request)

    assert response.status_code == 401
    body = response.json()
    if provider == "openai":
        assert body["error"]["code"] == "invalid_api_key"
        assert body["error"]["type"] == "invalid_request_error"
    elif provider == "anthropic":
        assert body["type"] == "error"
        assert body["error"]["type"] == "authentication_error"
    else:
        assert body["error"]["status"] == "UNAUTHENTICATED"
        assert body["error"]["code"] == 401
    assert len(server.requests) == 1  # rejected requests are still recorded


@pytest.mark.parametrize("authorization", ["", "Bearer", "Basic abc", "sk-test"])
def test_openai_needs_a_bearer_token(
    server: FakeProviderServer, http: httpx.Client, authorization: str
) -> None:
    response = call(server, http, "openai", headers={"authorization": authorization})

    assert response.status_code == 401


def test_gemini_key_in_query_is_not_accepted(server: FakeProviderServer, http: httpx.Client) -> None:
    response = http.post(
        server.base_url("gemini") + "/models/gemini-2.0-flash:generateContent?key=abc",
        json={"contents": [{"parts": [{"text": "hi"}]}]},
    )

    assert response.status_code == 401


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_malformed_body_is_400(
    server: FakeProviderServer, http: httpx.Client, provider: str, content: bytes
) -> None:
    request = build_request(server, http, provider)
    headers = {k: v for k, v in request.headers.items() if k != "content-length"}
    bad = http.build_request("POST", request.url, content=content, headers=headers)

    response = http.send(bad)

    assert response.status_code == 400
    assert "error" in response.json()
    assert server.requests[0].body == {}


def test_chunked_request_body(server: FakeProviderServer, http: httpx.Client) -> None:
    def parts() -> object:
        yield b'{"model": "gpt-4o", '
        yield b'"messages": [{"role": "user", "content": "chunked body"}]}'

    response = http.post(
        server.base_url("openai") + "/chat/completions",
        content=parts(),  # type: ignore[arg-type]
        headers={"authorization": "Bearer k", "content-type": "application/json"},
    )

    assert response.status_code == 200
    assert response.json()["usage"]["prompt_tokens"] == 2


# ---------------------------------------------------------------- request log


def test_request_log(server: FakeProviderServer, http: httpx.Client) -> None:
    call(server, http, "openai")
    call(server, http, "anthropic", stream=True)
    call(server, http, "gemini", stream=True, model="gemini-2.5-pro")

    requests = server.requests

    assert [(r.provider, r.model, r.stream) for r in requests] == [
        ("openai", "gpt-4o", False),
        ("anthropic", "claude-test", True),
        ("gemini", "gemini-2.5-pro", True),
    ]
    assert requests[0].path == "/openai/v1/chat/completions"
    assert requests[0].headers["authorization"] == "Bearer sk-test"
    assert requests[1].headers["anthropic-version"] == "2023-06-01"
    assert requests[1].body["max_tokens"] == 64
    assert requests[2].path == "/gemini/v1beta/models/gemini-2.5-pro:streamGenerateContent"
    assert isinstance(requests[0], RecordedRequest)


def test_request_log_is_a_copy(server: FakeProviderServer, http: httpx.Client) -> None:
    call(server, http, "openai")

    server.requests[0].body["model"] = "changed"
    server.requests[0].headers["x"] = "y"
    server.requests.clear()

    assert server.requests[0].body["model"] == "gpt-4o"
    assert "x" not in server.requests[0].headers


def test_concurrent_requests(server: FakeProviderServer) -> None:
    latency = 0.3
    server.set_behavior("openai", Behavior(latency=latency))

    with httpx.Client(limits=httpx.Limits(max_connections=8)) as client, ThreadPoolExecutor(8) as pool:
        started = time.monotonic()
        statuses = list(pool.map(lambda _: call(server, client, "openai").status_code, range(8)))
        elapsed = time.monotonic() - started

    assert statuses == [200] * 8
    assert len(server.requests) == 8
    # A server handling requests one by one cannot finish in less than 8 x latency, however fast the
    # machine; a parallel one misses this bound only on a machine slowed down eightfold.
    assert elapsed < 8 * latency


# ---------------------------------------------------------------- async clients


@pytest.mark.anyio
async def test_async_httpx_stream_and_cut(server: FakeProviderServer) -> None:
    server.enqueue("anthropic", Behavior(cut_stream_after=1))
    async with httpx.AsyncClient() as client:
        with httpx.Client() as sync_client:
            request = build_request(server, sync_client, "anthropic", stream=True)
        cut = await client.send(
            client.build_request("POST", request.url, content=request.content, headers=request.headers)
        )
        whole = await client.send(
            client.build_request("POST", request.url, content=request.content, headers=request.headers)
        )

    assert not has_terminator("anthropic", parse_sse(cut.content))
    assert has_terminator("anthropic", parse_sse(whole.content))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
