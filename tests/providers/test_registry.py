"""The provider registry: built-in defaults resolve to the documented public endpoints."""

from __future__ import annotations

from importlib import metadata

import pytest

from otel_llm import providers
from otel_llm.providers import BUILTIN, WIRES, Endpoint, ProviderSpec, known_names, lookup
from otel_llm.providers.anthropic import AnthropicMessages
from otel_llm.providers.azure import AzureOpenAI
from otel_llm.providers.gemini import GeminiGenerateContent
from otel_llm.providers.ollama import OllamaChat
from otel_llm.providers.openai import OpenAIChat

from ._support import chat_request

# providers.md §1: endpoint, auth header and gen_ai.provider.name of each built-in provider.
DOCUMENTED = {
    "openai": ("gpt-4o-mini", "https://api.openai.com/v1/chat/completions", "authorization", "openai"),
    "anthropic": ("claude-haiku-4-5", "https://api.anthropic.com/v1/messages", "x-api-key", "anthropic"),
    "gemini": (
        "gemini-2.5-flash",
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
        "x-goog-api-key",
        "gcp.gemini",
    ),
    "openrouter": (
        "openai/gpt-4o-mini",
        "https://openrouter.ai/api/v1/chat/completions",
        "authorization",
        "openrouter",
    ),
    "mistral": (
        "mistral-small-latest",
        "https://api.mistral.ai/v1/chat/completions",
        "authorization",
        "mistral_ai",
    ),
    "together": (
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "https://api.together.xyz/v1/chat/completions",
        "authorization",
        "together",
    ),
    "groq": (
        "llama-3.3-70b-versatile",
        "https://api.groq.com/openai/v1/chat/completions",
        "authorization",
        "groq",
    ),
    "deepseek": ("deepseek-chat", "https://api.deepseek.com/chat/completions", "authorization", "deepseek"),
    # Keyless locally; a configured key (ollama.com, a proxy) travels as a bearer token.
    "ollama": ("llama3.2", "http://localhost:11434/api/chat", "authorization", "ollama"),
}


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_builtin_defaults_reach_the_documented_endpoint(name: str) -> None:
    model, url, auth_header, semconv_name = DOCUMENTED[name]
    spec = lookup(name)
    assert spec is not None

    provider = spec.wire(
        Endpoint(name=name, base_url=spec.base_url, api_key="k", semconv_name=spec.semconv_name)
    )
    built = provider.build_request(chat_request(model))

    assert str(built.url) == url
    assert auth_header in built.headers
    assert spec.semconv_name == semconv_name
    assert provider.semconv_name == semconv_name


def test_builtin_key_environment_variables() -> None:
    assert {name: spec.api_key_env for name, spec in BUILTIN.items()} == {
        "openai": "OPENAI_API_KEY",
        "anthropic": "ANTHROPIC_API_KEY",
        "gemini": "GEMINI_API_KEY",
        "azure": "AZURE_OPENAI_API_KEY",
        "ollama": None,
        "openrouter": "OPENROUTER_API_KEY",
        "mistral": "MISTRAL_API_KEY",
        "together": "TOGETHER_API_KEY",
        "groq": "GROQ_API_KEY",
        "deepseek": "DEEPSEEK_API_KEY",
    }


def test_wire_formats_for_custom_providers() -> None:
    expected: dict[str, object] = {
        "openai": OpenAIChat,
        "anthropic": AnthropicMessages,
        "gemini": GeminiGenerateContent,
        "azure": AzureOpenAI,
        "ollama": OllamaChat,
    }
    built = {name: wire(Endpoint(name, "https://h.example/v1", "k", name)) for name, wire in WIRES.items()}
    assert {name: type(provider) for name, provider in built.items()} == expected


def test_every_builtin_is_documented_here_or_has_no_public_endpoint() -> None:
    # Azure has none: each resource has its own host, so it is tested with one (test_azure.py).
    assert set(BUILTIN) - set(DOCUMENTED) == {"azure"}
    assert BUILTIN["azure"].base_url == ""


def test_unknown_name_is_none() -> None:
    assert lookup("no-such-provider-xyz") is None


def test_known_names_include_the_builtins_sorted() -> None:
    names = known_names()

    assert {"openai", "anthropic", "gemini", "azure", "ollama", "openrouter", "groq"} <= set(names)
    assert names == sorted(names)


ACME = ProviderSpec(OpenAIChat, "https://api.acme.test/v1", "acme", "ACME_API_KEY")
NOT_A_SPEC = object()


def test_third_party_providers_come_from_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    points = [
        metadata.EntryPoint("acme", "tests.providers.test_registry:ACME", providers.ENTRY_POINT_GROUP),
        metadata.EntryPoint("junk", "tests.providers.test_registry:NOT_A_SPEC", providers.ENTRY_POINT_GROUP),
    ]

    def entry_points(*, group: str, name: str | None = None) -> list[metadata.EntryPoint]:
        return [p for p in points if p.group == group and name in (None, p.name)]

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    assert providers.lookup("acme") is ACME
    assert providers.lookup("junk") is None  # an entry point that is not a ProviderSpec is ignored
    assert providers.lookup("openai") is providers.BUILTIN["openai"]  # built-ins first
    assert "acme" in providers.known_names()
