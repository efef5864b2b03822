"""Provider registry: one entry per built-in provider, plus the `otel_llm.providers` entry-point group.

Adding a provider is one module, one line here, and one test module. A third-party package can register a
`ProviderSpec` under the entry-point group instead; it is looked up only for names not built in.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from otel_llm.providers._base import Endpoint, Provider

ENTRY_POINT_GROUP: Final = "otel_llm.providers"

WireFactory = Callable[[Endpoint], Provider]


def _lazy(module: str, name: str, **options: object) -> WireFactory:
    """A factory that imports its wire module when first used.

    A program speaks to one or two providers; importing every wire module would cost each
    `import otel_llm` about 12 ms.
    """

    def build(endpoint: Endpoint) -> Provider:
        wire: Callable[..., Provider] = getattr(importlib.import_module(f"otel_llm.providers.{module}"), name)
        return wire(endpoint, **options)

    return build


_OPENAI = _lazy("openai", "OpenAIChat")

# Wire formats a custom (configured, not built-in) provider may declare.
WIRES: Final[Mapping[str, WireFactory]] = {
    "openai": _OPENAI,
    "anthropic": _lazy("anthropic", "AnthropicMessages"),
    "gemini": _lazy("gemini", "GeminiGenerateContent"),
    "azure": _lazy("azure", "AzureOpenAI"),
    "ollama": _lazy("ollama", "OllamaChat"),
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
    "openai": ProviderSpec(_OPENAI, "https://api.openai.com/v1", "openai", "OPENAI_API_KEY"),
    "anthropic": ProviderSpec(
        WIRES["anthropic"], "https://api.anthropic.com", "anthropic", "ANTHROPIC_API_KEY"
    ),
    "gemini": ProviderSpec(
        WIRES["gemini"],
        "https://generativelanguage.googleapis.com/v1beta",
        "gcp.gemini",
        "GEMINI_API_KEY",
    ),
    "azure": ProviderSpec(WIRES["azure"], "", "azure.ai.openai", "AZURE_OPENAI_API_KEY"),
    "ollama": ProviderSpec(WIRES["ollama"], "http://localhost:11434", "ollama", None),
    # OpenAI-compatible services (providers.md §4); gen_ai.provider.name per semconv.md §4.
    "openrouter": ProviderSpec(_OPENAI, "https://openrouter.ai/api/v1", "openrouter", "OPENROUTER_API_KEY"),
    "mistral": ProviderSpec(
        # Mistral rejects fields it does not know (422) and names the seed differently.
        _lazy("openai", "OpenAIChat", stream_usage_option=False, seed_field="random_seed"),
        "https://api.mistral.ai/v1",
        "mistral_ai",
        "MISTRAL_API_KEY",
    ),
    "together": ProviderSpec(_OPENAI, "https://api.together.xyz/v1", "together", "TOGETHER_API_KEY"),
    "groq": ProviderSpec(_OPENAI, "https://api.groq.com/openai/v1", "groq", "GROQ_API_KEY"),
    "deepseek": ProviderSpec(_OPENAI, "https://api.deepseek.com", "deepseek", "DEEPSEEK_API_KEY"),
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
