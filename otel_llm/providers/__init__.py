"""Provider registry: one entry per built-in provider, plus the `otel_llm.providers` entry-point group.

Adding a provider is one module, one line here, and one test module. A third-party package can register a
`ProviderSpec` under the entry-point group instead; it is looked up only for names not built in.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from otel_llm.providers._base import Endpoint, Provider
from otel_llm.providers.anthropic import AnthropicMessages
from otel_llm.providers.azure import AzureOpenAI
from otel_llm.providers.gemini import GeminiGenerateContent
from otel_llm.providers.ollama import DEFAULT_BASE_URL as OLLAMA_BASE_URL
from otel_llm.providers.ollama import OllamaChat
from otel_llm.providers.openai import OpenAIChat

ENTRY_POINT_GROUP: Final = "otel_llm.providers"

WireFactory = Callable[[Endpoint], Provider]

# Wire formats a custom (configured, not built-in) provider may declare.
WIRES: Final[Mapping[str, WireFactory]] = {
    "openai": OpenAIChat,
    "anthropic": AnthropicMessages,
    "gemini": GeminiGenerateContent,
    "azure": AzureOpenAI,
    "ollama": OllamaChat,
}


# gen_ai.provider.name of a custom provider on these wires (a second Azure resource, another Ollama host).
# Other wires report the provider key: a compatible server is not "openai" (semconv.md §4).
WIRE_SEMCONV_NAMES: Final[Mapping[str, str]] = {"azure": "azure.ai.openai", "ollama": "ollama"}


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """Defaults for a known provider.

    Attributes:
        wire: Builds the provider from its endpoint.
        base_url: Public endpoint; empty when there is none (Azure: every resource has its own host),
            so the user must configure one.
        semconv_name: `gen_ai.provider.name` value.
        api_key_env: Environment variable holding the key, if the provider needs one.
    """

    wire: WireFactory
    base_url: str
    semconv_name: str
    api_key_env: str | None


BUILTIN: Final[Mapping[str, ProviderSpec]] = {
    "openai": ProviderSpec(OpenAIChat, "https://api.openai.com/v1", "openai", "OPENAI_API_KEY"),
    "anthropic": ProviderSpec(
        AnthropicMessages, "https://api.anthropic.com", "anthropic", "ANTHROPIC_API_KEY"
    ),
    "gemini": ProviderSpec(
        GeminiGenerateContent,
        "https://generativelanguage.googleapis.com/v1beta",
        "gcp.gemini",
        "GEMINI_API_KEY",
    ),
    "azure": ProviderSpec(AzureOpenAI, "", "azure.ai.openai", "AZURE_OPENAI_API_KEY"),
    "ollama": ProviderSpec(OllamaChat, OLLAMA_BASE_URL, "ollama", None),
    # OpenAI-compatible services (providers.md §4); gen_ai.provider.name per semconv.md §4.
    "openrouter": ProviderSpec(
        OpenAIChat, "https://openrouter.ai/api/v1", "openrouter", "OPENROUTER_API_KEY"
    ),
    "mistral": ProviderSpec(
        # Mistral rejects fields it does not know (422) and names the seed differently.
        functools.partial(OpenAIChat, stream_usage_option=False, seed_field="random_seed"),
        "https://api.mistral.ai/v1",
        "mistral_ai",
        "MISTRAL_API_KEY",
    ),
    "together": ProviderSpec(OpenAIChat, "https://api.together.xyz/v1", "together", "TOGETHER_API_KEY"),
    "groq": ProviderSpec(OpenAIChat, "https://api.groq.com/openai/v1", "groq", "GROQ_API_KEY"),
    "deepseek": ProviderSpec(OpenAIChat, "https://api.deepseek.com", "deepseek", "DEEPSEEK_API_KEY"),
}


def lookup(name: str) -> ProviderSpec | None:
    """The spec for a provider name: built-in first, then installed entry points."""
    spec = BUILTIN.get(name)
    if spec is not None:
        return spec
    from importlib import metadata  # only for names not built in: it costs ~6 ms to import

    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP, name=name):
        loaded = entry_point.load()
        if isinstance(loaded, ProviderSpec):
            return loaded
    return None


def known_names() -> list[str]:
    """Every provider name `lookup` can resolve, sorted."""
    from importlib import metadata

    installed = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(set(BUILTIN) | installed)


__all__ = [
    "BUILTIN",
    "WIRES",
    "WIRE_SEMCONV_NAMES",
    "Endpoint",
    "Provider",
    "ProviderSpec",
    "known_names",
    "lookup",
]
