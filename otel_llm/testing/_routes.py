"""URL layout of the fake provider server: base URLs and request paths → routes."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote

from otel_llm.testing._anthropic_wire import AnthropicDialect
from otel_llm.testing._gemini_wire import GeminiDialect
from otel_llm.testing._openai_wire import OpenAIDialect
from otel_llm.testing._wire import Route

_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_NAME_RE = re.compile(_NAME)
_OPENAI_PATH = re.compile(rf"/(?P<provider>{_NAME})/v1/chat/completions")
_ANTHROPIC_PATH = re.compile(r"/anthropic/v1/messages")
_GEMINI_PATH = re.compile(
    r"/gemini/v1beta/models/(?P<model>[^/:]+):(?P<action>generateContent|streamGenerateContent)"
)
# Providers with their own wire format; every other name is served as OpenAI-compatible.
_NATIVE_BASE_PATHS = {"anthropic": "/anthropic", "gemini": "/gemini/v1beta"}


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
        self._anthropic = AnthropicDialect()
        self._gemini = GeminiDialect()

    def match(self, path: str, query: str) -> Route | None:
        """Return the route for ``path`` (without query string), or ``None`` if there is none."""
        params = dict(parse_qsl(query))
        if _ANTHROPIC_PATH.fullmatch(path):
            return Route(provider="anthropic", dialect=self._anthropic, query=params)
        if match := _GEMINI_PATH.fullmatch(path):
            return Route(
                provider="gemini",
                dialect=self._gemini,
                model=unquote(match["model"]),
                action=match["action"],
                query=params,
            )
        if match := _OPENAI_PATH.fullmatch(path):
            return Route(provider=match["provider"], dialect=self._openai, query=params)
        return None
