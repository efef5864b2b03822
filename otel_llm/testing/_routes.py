"""URL layout of the fake provider server: base URLs and request paths → routes."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote

from otel_llm.testing._anthropic_wire import AnthropicDialect
from otel_llm.testing._azure_wire import AzureDialect
from otel_llm.testing._embeddings import (
    GeminiEmbeddingsDialect,
    OllamaEmbeddingsDialect,
    OpenAIEmbeddingsDialect,
)
from otel_llm.testing._gemini_wire import GeminiDialect
from otel_llm.testing._ollama_wire import OllamaDialect
from otel_llm.testing._openai_wire import QUIRKS, OpenAIDialect
from otel_llm.testing._wire import Dialect, Route

_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_NAME_RE = re.compile(_NAME)
_OPERATION = r"(?P<operation>chat/completions|embeddings)"
_OPENAI_PATH = re.compile(rf"/(?P<provider>{_NAME})/v1/{_OPERATION}")
_AZURE_PATH = re.compile(rf"/azure/openai/(?:deployments/(?P<deployment>[^/]+)|v1)/{_OPERATION}")
_ANTHROPIC_PATH = re.compile(r"/anthropic/v1/messages")
_GEMINI_PATH = re.compile(
    r"/gemini/v1beta/models/(?P<model>[^/:]+)"
    r":(?P<action>generateContent|streamGenerateContent|embedContent|batchEmbedContents)"
)
_OLLAMA_PATH = re.compile(r"/ollama/api/(?P<operation>chat|embed)")
# Providers with their own wire format or URL layout; every other name is OpenAI-compatible.
_NATIVE_BASE_PATHS = {
    "anthropic": "/anthropic",
    "azure": "/azure",
    "gemini": "/gemini/v1beta",
    "ollama": "/ollama",
}


def check_provider_name(provider: str) -> None:
    """Raise ``ValueError`` unless ``provider`` can be a URL path segment of ours."""
    if not _NAME_RE.fullmatch(provider):
        raise ValueError(f"invalid provider name {provider!r}: use letters, digits, '.', '_', '-'")


def base_path(provider: str) -> str:
    """The path an SDK's ``base_url`` must end with for ``provider``."""
    check_provider_name(provider)
    return _NATIVE_BASE_PATHS.get(provider, f"/{provider}/v1")


class Router:
    """Maps request paths to routes; the dialects are stateless and shared by all requests."""

    def __init__(self) -> None:
        self._openai = OpenAIDialect()
        self._compatible = {name: OpenAIDialect(quirks) for name, quirks in QUIRKS.items()}
        self._openai_embeddings = OpenAIEmbeddingsDialect(self._openai)
        self._compatible_embeddings = {
            name: OpenAIEmbeddingsDialect(dialect) for name, dialect in self._compatible.items()
        }
        self._azure = AzureDialect()
        self._azure_embeddings = OpenAIEmbeddingsDialect(self._azure)
        self._anthropic = AnthropicDialect()
        self._gemini = GeminiDialect()
        self._gemini_embeddings = GeminiEmbeddingsDialect(self._gemini)
        self._ollama = OllamaDialect()
        self._ollama_embeddings = OllamaEmbeddingsDialect(self._ollama)

    def match(self, path: str, query: str) -> Route | None:
        """Return the route for ``path`` (without query string), or ``None`` if there is none."""
        params = dict(parse_qsl(query))
        if _ANTHROPIC_PATH.fullmatch(path):
            return Route(provider="anthropic", dialect=self._anthropic, query=params)
        if match := _GEMINI_PATH.fullmatch(path):
            action = match["action"]
            embeds = action in ("embedContent", "batchEmbedContents")
            return Route(
                provider="gemini",
                dialect=self._gemini_embeddings if embeds else self._gemini,
                model=unquote(match["model"]),
                action=action,
                query=params,
            )
        if match := _OLLAMA_PATH.fullmatch(path):
            dialect: Dialect = self._ollama if match["operation"] == "chat" else self._ollama_embeddings
            return Route(provider="ollama", dialect=dialect, query=params)
        if match := _AZURE_PATH.fullmatch(path):
            chat = match["operation"] == "chat/completions"
            deployment = match["deployment"]
            return Route(
                provider="azure",
                dialect=self._azure if chat else self._azure_embeddings,
                model=unquote(deployment) if deployment else None,
                query=params,
            )
        if match := _OPENAI_PATH.fullmatch(path):
            provider = match["provider"]
            if match["operation"] == "chat/completions":
                dialect = self._compatible.get(provider, self._openai)
            else:
                dialect = self._compatible_embeddings.get(provider, self._openai_embeddings)
            return Route(provider=provider, dialect=dialect, query=params)
        return None
