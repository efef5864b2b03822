"""Provider registry: one entry per built-in provider, plus the `otel_llm.providers` entry-point group.

Adding a provider is one module, one line here, and one test module. A third-party package can register a
`ProviderSpec` under the entry-point group instead; it is looked up only for names not built in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from otel_llm.providers._base import Endpoint, Provider
from otel_llm.providers.anthropic import AnthropicMessages
from otel_llm.providers.gemini import GeminiGenerateContent
from otel_llm.providers.openai import OpenAIChat

ENTRY_POINT_GROUP: Final = "otel_llm.providers"

WireFactory = Callable[[Endpoint], Provider]

# Wire formats a custom (configured, not built-in) provider may declare.
WIRES: Final[Mapping[str, WireFactory]] = {
    "openai": OpenAIChat,
    "anthropic": AnthropicMessages,
    "gemini": GeminiGenerateContent,
}


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """Defaults for a known provider.

    Attributes:
        wire: Builds the provider from its endpoint.
        base_url: Public endpoint.
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


__all__ = ["BUILTIN", "WIRES", "Endpoint", "Provider", "ProviderSpec", "known_names", "lookup"]
