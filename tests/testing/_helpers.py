"""Plain-httpx helpers for talking to the fake provider server in tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from otel_llm.testing import FakeProviderServer

PROVIDERS = ("openai", "anthropic", "gemini")
DEFAULT_MODELS = {"openai": "gpt-4o", "anthropic": "claude-test", "gemini": "gemini-2.0-flash"}
AUTH_HEADERS = {
    "openai": {"authorization": "Bearer sk-test"},
    "anthropic": {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"},
    "gemini": {"x-goog-api-key": "g-test"},
}


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


def provider_of(provider: str) -> str:
    """The wire format spoken under a provider key (compatible prefixes speak OpenAI)."""
    return provider if provider in ("anthropic", "gemini") else "openai"


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
) -> httpx.Request:
    wire = provider_of(provider)
    model = model or DEFAULT_MODELS[wire]
    base = server.base_url(provider)
    body: dict[str, Any]
    if wire == "gemini":
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        url = f"{base}/models/{model}:{action}"
        body = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    elif wire == "anthropic":
        url = f"{base}/v1/messages"
        body = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": text}]}
    else:
        url = f"{base}/chat/completions"
        body = {"model": model, "messages": [{"role": "user", "content": text}]}
    if stream and wire != "gemini":
        body["stream"] = True
        if wire == "openai" and include_usage:
            body["stream_options"] = {"include_usage": True}
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
            if event.event == "content_block_delta":
                pieces.append(data["delta"]["text"])
        elif wire == "gemini":
            candidate = data["candidates"][0]
            text = candidate["content"]["parts"][0]["text"]
            if "finishReason" not in candidate:
                pieces.append(text)
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
    return last.data == "[DONE]"
