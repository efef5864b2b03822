"""Which provider an existing client is talking to, from the URL it sends to.

The instrumented SDKs know a base URL, not a provider: an `openai.OpenAI(base_url=...)` may be speaking
to Azure, OpenRouter, Together, Groq, a local Ollama or a vLLM box. Each is reported under its own
`gen_ai.provider.name` (semconv.md §4), never as `openai` by default. Known public hosts come from the
routing client's provider registry; an unknown host is reported by its host name (the endpoint spoken
to), unless the caller names it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from otel_llm import providers
from otel_llm._config import ProviderSettings, build_provider
from otel_llm.providers import Provider

_OLLAMA_PORT = 11434
NAMES_ENV = "OTEL_LLM_PROVIDER_NAMES"
"""Provider names per host for zero-code runs: `gpu-box=vllm,10.0.0.7=ollama`."""


def configured_names(names: Mapping[str, str] | None) -> Mapping[str, str]:
    """Provider names per host: the given ones over those in `OTEL_LLM_PROVIDER_NAMES`."""
    pairs = (item.partition("=") for item in os.environ.get(NAMES_ENV, "").split(","))
    from_env = {
        host.strip().lower(): name.strip() for host, _, name in pairs if host.strip() and name.strip()
    }
    return {**from_env, **{host.lower(): name for host, name in (names or {}).items()}}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A provider as telemetry reports it.

    Attributes:
        key: The provider key (`"openai"`, `"azure"`, `"together"`, or a host name) used for routes,
            prices and metric labels.
        semconv_name: `gen_ai.provider.name`.
        server_address: Host spoken to.
        server_port: Port spoken to.
        wire: The wire format the parser speaks (`"openai"`, `"anthropic"`, `"gemini"`, ...).
    """

    key: str
    semconv_name: str
    server_address: str
    server_port: int
    wire: str


def endpoint_for(url: str | httpx.URL, wire: str, names: Mapping[str, str] | None = None) -> Endpoint:
    """The provider behind `url`, spoken to in `wire` format.

    Args:
        url: Any URL of the endpoint (base URL or a request URL).
        wire: The wire format the client speaks.
        names: Provider names per host (`{"gpu-box": "vllm"}`) for endpoints no registry knows.
    """
    parsed = httpx.URL(str(url))
    host = (parsed.host or "").lower()
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    key = (names or {}).get(host) or _known_key(host, port, wire)
    spec = providers.BUILTIN.get(key)
    semconv = spec.semconv_name if spec is not None else providers.WIRE_SEMCONV_NAMES.get(key, key)
    return Endpoint(key, semconv, host, port, wire)


def _known_key(host: str, port: int, wire: str) -> str:
    if host.endswith((".openai.azure.com", ".cognitiveservices.azure.com")):
        return "azure"
    if port == _OLLAMA_PORT:
        return "ollama"
    key = _HOSTS.get(host)
    return key if key is not None else host


_HOSTS: Mapping[str, str] = {
    str(httpx.URL(spec.base_url).host): name for name, spec in providers.BUILTIN.items() if spec.base_url
}


@functools.lru_cache(maxsize=64)
def parser_for(endpoint: Endpoint) -> Provider:
    """The routing client's parser for the endpoint's wire format (pure: it is only asked to parse)."""
    settings = ProviderSettings(
        base_url=f"https://{endpoint.server_address}",
        wire=endpoint.wire,
        api_key="unused",
        semconv_name=endpoint.semconv_name,
    )
    return build_provider(f"instrumented-{endpoint.wire}", settings, {})
