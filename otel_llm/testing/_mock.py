"""`MockProviders`: every fake provider in-process, as an httpx transport. No sockets, no threads.

The same routes, replies and scripting as `FakeProviderServer`, for unit tests that should not open a
port: hand it to a client as its `transport`. Latency and chunk delays are not simulated (nothing waits);
use the loopback server when timing matters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx

from otel_llm._config import ProviderSettings
from otel_llm.providers import BUILTIN
from otel_llm.testing._responder import FullReply, Reply, Responder
from otel_llm.testing._routes import base_path
from otel_llm.testing._scripting import ScriptedProviders


class MockProviders(ScriptedProviders, httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Fake OpenAI, Azure, Anthropic, Gemini, Ollama and OpenAI-compatible providers, in-process.

    Example:
        ```python
        from otel_llm import Client
        from otel_llm.testing import Behavior, MockProviders

        mock = MockProviders()
        mock.enqueue("openai", Behavior.error("rate_limit", provider="openai"))
        with Client(transport=mock, providers=mock.provider_settings()) as client:
            reply = client.chat("openai:gpt-4o-mini", [{"role": "user", "content": "hi"}])
        assert len(mock.requests) == 2  # the rate limit, then the retry
        ```
    """

    url = "http://providers.mock.invalid"
    """Root URL of the mock; no request to it ever leaves the process."""

    def __init__(self) -> None:
        super().__init__()
        self._responder = Responder(self._behaviors, self._log)

    def base_url(self, provider: str) -> str:
        """The `base_url` for `provider`, with the same paths as `FakeProviderServer.base_url`."""
        return self.url + base_path(provider)

    def provider_settings(self) -> dict[str, ProviderSettings]:
        """Settings pointing every built-in provider at this mock, with placeholder keys."""
        return {
            name: ProviderSettings(base_url=self.base_url(name), api_key=f"mock-key-{name}")
            for name in BUILTIN
        }

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request from a sync client."""
        return _response(self._reply(request.method, request.url, dict(request.headers), request.read()))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request from an async client."""
        return _response(
            self._reply(request.method, request.url, dict(request.headers), await request.aread())
        )

    def _reply(self, method: str, url: httpx.URL, headers: dict[str, str], body: bytes) -> Reply:
        return self._responder.respond(method, url.path, url.query.decode("ascii"), headers, body)


class _Segments(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A streamed body delivered segment by segment, so a cut stream ends exactly where scripted."""

    def __init__(self, segments: tuple[bytes, ...]) -> None:
        self._segments = segments

    def __iter__(self) -> Iterator[bytes]:
        yield from self._segments

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for segment in self._segments:
            yield segment


def _response(reply: Reply) -> httpx.Response:
    headers = {k: v for k, v in reply.headers.items() if k.lower() != "content-length"}
    if isinstance(reply, FullReply):
        return httpx.Response(reply.status, headers=headers, content=reply.body)
    return httpx.Response(reply.status, headers=headers, stream=_Segments(reply.segments))
