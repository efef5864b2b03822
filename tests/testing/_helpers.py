"""Plain-httpx helpers for talking to the fake provider server in tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from otel_llm.testing import FakeProviderServer

PROVIDERS = ("openai", "anthropic", "gemini")
# Every wire format, for behaviours all of them share.
ALL_WIRES = ("openai", "azure", "anthropic", "gemini", "ollama")
DEFAULT_MODELS = {
    "openai": "gpt-4o",
    "azure": "my-gpt-4o",  # a deployment name
    "anthropic": "claude-test",
    "gemini": "gemini-2.0-flash",
    "ollama": "llama3.2",
}
AUTH_HEADERS: dict[str, dict[str, str]] = {
    "openai": {"authorization": "Bearer sk-test"},
    "azure": {"api-key": "az-test"},
    "anthropic": {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"},
    "gemini": {"x-goog-api-key": "g-test"},
    "ollama": {},
}
AZURE_API_VERSION = "2024-10-21"


@dataclass(frozen=True)
class StreamEvent:
    event: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


def parse_sse(raw: bytes) -> list[StreamEvent]:
    """WHATWG-style parsing; an unterminated trailing event is dropped, as the spec says."""
    events: list[StreamEvent] = []
    event: str | None = None
    data: list[str] = []
    text = raw.decode().replace("\r\n", "\n").replace("\r", "\n")
    for line in text.split("\n"):
        if not line:
            if data or event is not None:
                events.append(StreamEvent(event, "\n".join(data)))
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    return events


def parse_ndjson(raw: bytes) -> list[StreamEvent]:
    """NDJSON lines as event-less events, so the stream helpers work on Ollama too."""
    return [StreamEvent(None, line) for line in raw.decode().split("\n") if line.strip()]


def provider_of(provider: str) -> str:
    """The wire format spoken under a provider key (compatible prefixes speak OpenAI)."""
    return provider if provider in ("anthropic", "gemini", "azure", "ollama") else "openai"


def build_request(
    server: FakeProviderServer,
    client: httpx.Client,
    provider: str,
    *,
    stream: bool = False,
    model: str | None = None,
    text: str = "Say hello please",
    headers: dict[str, str] | None = None,
    include_usage: bool = True,
    extra: dict[str, Any] | None = None,
) -> httpx.Request:
    """A chat request in the provider's format; ``extra`` is merged into the body."""
    wire = provider_of(provider)
    model = model or DEFAULT_MODELS[wire]
    base = server.base_url(provider)
    body: dict[str, Any]
    messages = [{"role": "user", "content": text}]
    if wire == "gemini":
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        url = f"{base}/models/{model}:{action}"
        body = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    elif wire == "anthropic":
        url = f"{base}/v1/messages"
        body = {"model": model, "max_tokens": 64, "messages": messages}
    elif wire == "ollama":
        url = f"{base}/api/chat"
        body = {"model": model, "messages": messages, "stream": stream}
    elif wire == "azure":
        url = f"{base}/openai/deployments/{model}/chat/completions?api-version={AZURE_API_VERSION}"
        body = {"messages": messages}
    else:
        url = f"{base}/chat/completions"
        body = {"model": model, "messages": messages}
    if stream and wire in ("openai", "azure", "anthropic"):
        body["stream"] = True
        if wire != "anthropic" and include_usage:
            body["stream_options"] = {"include_usage": True}
    body.update(extra or {})
    all_headers = {**AUTH_HEADERS[wire], **(headers or {})}
    return client.build_request("POST", url, json=body, headers=all_headers)


def call(
    server: FakeProviderServer,
    client: httpx.Client,
    provider: str,
    **options: Any,
) -> httpx.Response:
    """Send one request and read the whole response."""
    return client.send(build_request(server, client, provider, **options))


def stream_events(
    server: FakeProviderServer,
    client: httpx.Client,
    provider: str,
    **options: Any,
) -> tuple[httpx.Response, list[StreamEvent]]:
    """Send one streaming request, read to EOF and parse the events."""
    response = call(server, client, provider, stream=True, **options)
    if provider_of(provider) == "ollama":
        return response, parse_ndjson(response.content)
    return response, parse_sse(response.content)


def content_pieces(provider: str, events: list[StreamEvent]) -> list[str]:
    """The text deltas of a stream, one per content chunk."""
    wire = provider_of(provider)
    pieces: list[str] = []
    for event in events:
        if event.data == "[DONE]":
            continue
        data = event.json()
        if wire == "anthropic":
            if event.event == "content_block_delta" and data["delta"]["type"] == "text_delta":
                pieces.append(data["delta"]["text"])
        elif wire == "gemini":
            candidate = data["candidates"][0]
            parts = candidate.get("content", {}).get("parts", [])
            text = "".join(part.get("text", "") for part in parts)
            if "finishReason" not in candidate and text:
                pieces.append(text)
        elif wire == "ollama":
            if data.get("done") is False and data["message"]["content"]:
                pieces.append(data["message"]["content"])
        else:
            for choice in data.get("choices", []):
                content = choice["delta"].get("content")
                if content:
                    pieces.append(content)
    return pieces


def has_terminator(provider: str, events: list[StreamEvent]) -> bool:
    """Whether the stream ended with its provider's terminal event."""
    if not events:
        return False
    last = events[-1]
    wire = provider_of(provider)
    if wire == "anthropic":
        return last.event == "message_stop"
    if wire == "gemini":
        return "finishReason" in last.json().get("candidates", [{}])[0]
    if wire == "ollama":
        return last.json().get("done") is True
    return last.data == "[DONE]"
