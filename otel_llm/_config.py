"""Configuration values and their validation: liberal at the edge, strict inside.

Everything the user passes is normalised here once; an invalid value raises `ConfigurationError`
naming the offending field. The environment is read only here (API keys), never by providers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import httpx

from otel_llm import providers
from otel_llm._exceptions import ConfigurationError
from otel_llm._types import Route


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """How to reach one provider.

    Attributes:
        api_key: The credential; default: the provider's environment variable (e.g. `OPENAI_API_KEY`).
        base_url: Endpoint base URL; default: the provider's public endpoint.
        wire: Wire format of a custom provider: `"openai"` (any OpenAI-compatible server),
            `"anthropic"` or `"gemini"`. Built-in providers know theirs.
        semconv_name: `gen_ai.provider.name` to report; default: the built-in value, or the
            provider key for custom providers (never `openai` for a compatible server).
        headers: Extra headers on every request (OpenRouter's `HTTP-Referer`/`X-Title`, a proxy's).
        token_provider: Returns a bearer token; called for every attempt, so it may refresh one
            (Azure Entra ID: `azure.identity.get_bearer_token_provider(...)`). Sent as
            `Authorization: Bearer ...` in place of the API key.

    Example:
        >>> ProviderSettings(base_url="http://localhost:8000/v1", wire="openai", semconv_name="vllm")
        ProviderSettings(...)
    """

    api_key: str | None = None
    base_url: str | None = None
    wire: str | None = None
    semconv_name: str | None = None
    headers: Mapping[str, str] | None = None
    token_provider: Callable[[], str] | None = None

    def __repr__(self) -> str:
        # Never print a key, not even in a traceback of a configuration error; header values may be
        # credentials too, so only their names are shown.
        key = "'***'" if self.api_key else "None"
        headers = sorted(self.headers) if self.headers else None
        return (
            f"ProviderSettings(api_key={key}, base_url={self.base_url!r}, wire={self.wire!r}, "
            f"semconv_name={self.semconv_name!r}, headers={headers!r}, "
            f"token_provider={'set' if self.token_provider else None})"
        )


@dataclass(frozen=True, slots=True)
class Timeout:
    """Time limits of a call.

    Attributes:
        attempt: Seconds one provider attempt may take (connect, send and read).
        connect: Seconds to establish a connection.
        total: Seconds the whole call may take, across retries, sleeps and fallbacks; `None` means
            bounded only by the attempts.
        first_chunk: Streams: seconds from sending to the first content chunk (keep-alives do not
            count); a late first chunk is a timeout, so the call retries or falls back.
        idle: Streams: longest gap between content chunks (keep-alives do not reset it); exceeding
            it after the first chunk interrupts the stream.
    """

    attempt: float = 60.0
    connect: float = 10.0
    total: float | None = None
    first_chunk: float | None = None
    idle: float | None = None


def normalise_timeout(value: float | Timeout, field: str = "timeout") -> Timeout:
    """A `Timeout` from a number of seconds (per attempt) or a `Timeout`, validated."""
    timeout = value if isinstance(value, Timeout) else Timeout(attempt=_seconds(value, field))
    _seconds(timeout.attempt, f"{field}.attempt")
    _seconds(timeout.connect, f"{field}.connect")
    for name in ("total", "first_chunk", "idle"):
        if getattr(timeout, name) is not None:
            _seconds(getattr(timeout, name), f"{field}.{name}")
    return timeout


def _seconds(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(field, f"expected a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(field, f"must be a positive number of seconds, got {value!r}")
    return float(value)


CHAIN_PREFIX: Final = "chain:"
"""`model="chain:<name>"` routes a call through a named chain instead of a `"provider:model"` route."""


def parse_route(text: object, field: str = "model") -> Route:
    """A route from `"provider:model"` (the model part may itself contain colons)."""
    if not isinstance(text, str):
        raise ConfigurationError(field, f'expected "provider:model", got {type(text).__name__}')
    provider, sep, model = text.partition(":")
    if not sep or not provider or not model:
        raise ConfigurationError(field, f'expected "provider:model", got {text!r}')
    return Route(provider, model)


def build_provider(
    name: str, settings: ProviderSettings | None, environ: Mapping[str, str]
) -> providers.Provider:
    """Instantiate the provider `name` from its settings, built-in defaults and the environment."""
    field = f"providers.{name}"
    settings = settings or ProviderSettings()
    spec = providers.lookup(name)
    if settings.wire is not None:
        wire = providers.WIRES.get(settings.wire)
        if wire is None:
            raise ConfigurationError(
                f"{field}.wire", f"unknown wire format; known: {sorted(providers.WIRES)}"
            )
    elif spec is not None:
        wire = spec.wire
    else:
        raise ConfigurationError(
            field,
            f"unknown provider {name!r}; known: {providers.known_names()} "
            "(or configure it with ProviderSettings(wire=..., base_url=...))",
        )
    base_url = settings.base_url or (spec.base_url if spec else None)
    if not base_url:
        reason = (
            "required for a custom provider" if spec is None else f"required: {name} has no public endpoint"
        )
        raise ConfigurationError(f"{field}.base_url", f"{reason}; set ProviderSettings(base_url=...)")
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"{field}.base_url", f"expected an http(s) URL, got {base_url!r}")
    api_key = settings.api_key
    if api_key is None and spec is not None and spec.api_key_env and settings.token_provider is None:
        api_key = environ.get(spec.api_key_env)
    default_name = spec.semconv_name if spec else providers.WIRE_SEMCONV_NAMES.get(settings.wire or "", name)
    semconv_name = settings.semconv_name or default_name
    return wire(providers.Endpoint(name, base_url, api_key, semconv_name))


def coerce_provider_settings(
    raw: Mapping[str, ProviderSettings | Mapping[str, object]],
) -> dict[str, ProviderSettings]:
    """`ProviderSettings` for every configured provider, accepting plain mappings too."""
    result = {}
    for name, value in raw.items():
        if isinstance(value, ProviderSettings):
            result[name] = value
            continue
        if not isinstance(value, Mapping):
            raise ConfigurationError(f"providers.{name}", "expected ProviderSettings or a mapping")
        unknown = set(value) - set(ProviderSettings.__slots__)
        if unknown:
            raise ConfigurationError(f"providers.{name}.{sorted(unknown)[0]}", "unknown setting")
        for key, item in value.items():
            if key in ("headers", "token_provider") or item is None:
                continue
            if not isinstance(item, str):
                raise ConfigurationError(f"providers.{name}.{key}", "expected a string")
        result[name] = ProviderSettings(**value)  # type: ignore[arg-type]
    for name, settings in result.items():
        _check_extras(name, settings)
    return result


def _check_extras(name: str, settings: ProviderSettings) -> None:
    headers = settings.headers
    if headers is not None and (
        not isinstance(headers, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    ):
        raise ConfigurationError(f"providers.{name}.headers", "expected a mapping of strings to strings")
    if settings.token_provider is not None and not callable(settings.token_provider):
        raise ConfigurationError(f"providers.{name}.token_provider", "expected a callable returning a token")
