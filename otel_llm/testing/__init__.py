"""Test helpers for code that calls LLM providers.

`FakeProviderServer` is a real HTTP server on loopback (standard library only) that speaks the wire
formats of every provider otel-llm supports, so otel-llm, the official SDKs and plain httpx can all
talk to it. `server.base_url(provider)` gives the base URL an SDK needs:

* `"openai"` and any other name (`"openrouter"`, `"together"`, `"mistral"`, `"groq"`, ...):
  `{url}/{name}/v1`, with `/chat/completions` and `/embeddings` (OpenAI-compatible).
* `"azure"`: `{url}/azure` (the `azure_endpoint`), with
  `/openai/deployments/{deployment}/chat/completions?api-version=...`, `/openai/v1/chat/completions`
  and `/embeddings` next to each.
* `"anthropic"`: `{url}/anthropic`, with `/v1/messages`.
* `"gemini"`: `{url}/gemini/v1beta`, with `/models/{model}:generateContent`,
  `:streamGenerateContent?alt=sse`, `:embedContent` and `:batchEmbedContents`.
* `"ollama"`: `{url}/ollama` (the Ollama `host`), with `/api/chat` (an NDJSON stream unless
  `"stream": false`) and `/api/embed`; Ollama's OpenAI-compatible API is under `{url}/ollama/v1`.

`Behavior` scripts what the server does for a provider (and optionally one model): errors, latency,
retry hints, truncated or failing streams, malformed bodies, tool calls, embeddings, usage-less
replies. Every request is recorded as a `RecordedRequest`.

Replies:
    * Text: `"Hello from {provider} {model}."` unless `Behavior(text=...)`; token counts are word counts.
    * Tool calls: `Behavior(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])`
      in each provider's shape, streamed as the provider streams them.
    * Structured output: when a request asks for JSON (OpenAI `response_format`, Anthropic
      `output_config.format`, Gemini `responseMimeType: application/json`, Ollama `format`) and no
      `text` is scripted, the reply is JSON that fits the schema (`{"message": ...}` without one).
      Scripted `text` wins, so invalid JSON can be tested.
    * Embeddings: deterministic unit vectors derived from the text, `Behavior(embedding_dimensions=8)`
      long unless the request asks for a size; OpenAI `encoding_format: "base64"` is float32 LE.
    * Quirks of OpenAI-compatible providers: OpenRouter puts `usage.cost` (1 $/M input, 2 $/M output
      tokens) in usage, always ends streams with a usage chunk and sends `: OPENROUTER PROCESSING`
      keep-alives (`Behavior(keep_alive=n)`); Together and Mistral put usage on the finish chunk;
      Groq also in `x_groq.usage`; DeepSeek adds `prompt_cache_hit_tokens`. Ollama and vLLM need no key.
    * Azure's first stream chunk has `choices: []` and `prompt_filter_results`.

Errors:
    `Behavior.error(kind, provider=...)` builds each error kind as that provider sends it
    (`rate_limit`, `quota_exhausted`, `overloaded`, `server_error`, `context_length`,
    `content_filter`, `content_filter_output`, `auth`, `not_found`, `bad_request`): statuses,
    error codes, retry hints and rate-limit headers, Gemini `QuotaFailure` and blocked prompts
    (HTTP 200 with `promptFeedback.blockReason`). Fine-tune with `dataclasses.replace`, or script
    any status with `Behavior(status=..., error_type=..., error_code=...)`.

Example:
    ```python
    from otel_llm.testing import Behavior, FakeProviderServer

    with FakeProviderServer() as server:
        server.enqueue("anthropic", Behavior.error("overloaded", provider="anthropic"))
        server.set_behavior("openai", Behavior(tool_calls=[{"name": "f", "arguments": {}}]))
        ...  # point a client at server.base_url("anthropic")
        assert len(server.requests) == 1
    ```
"""

from otel_llm.testing._behavior import Behavior
from otel_llm.testing._log import RecordedRequest
from otel_llm.testing._mock import MockProviders
from otel_llm.testing._server import FakeProviderServer

__all__ = ["Behavior", "FakeProviderServer", "MockProviders", "RecordedRequest"]
