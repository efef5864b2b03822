"""Test helpers for code that calls LLM providers.

`FakeProviderServer` is a real HTTP server on loopback that speaks the OpenAI, Anthropic and
Gemini wire formats (standard library only), so otel-llm, the official SDKs and plain httpx can
all talk to it. `Behavior` scripts what it does: errors, latency, retry hints, truncated or failing
streams, malformed bodies. Every request is recorded as a `RecordedRequest`.

Example:
    ```python
    from otel_llm.testing import Behavior, FakeProviderServer

    with FakeProviderServer() as server:
        server.enqueue("anthropic", Behavior(status=529))
        ...  # point a client at server.base_url("anthropic")
        assert len(server.requests) == 1
    ```
"""

from otel_llm.testing._behavior import Behavior
from otel_llm.testing._log import RecordedRequest
from otel_llm.testing._server import FakeProviderServer

__all__ = ["Behavior", "FakeProviderServer", "RecordedRequest"]
