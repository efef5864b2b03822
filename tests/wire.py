"""Minimal provider answers for client tests over httpx.MockTransport (wire shapes per the API references)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from otel_llm import Client

if TYPE_CHECKING:
    from tests.conftest import Captured

Handler = Callable[[httpx.Request], httpx.Response]

KEYS = {
    "openai": "sk-test-openai-key-0123456789",
    "anthropic": "sk-ant-test-key-0123456789",
    "gemini": "AIza-test-key",
}
PROVIDERS = {name: {"api_key": key} for name, key in KEYS.items()}


def openai_body(text: str = "hello", prompt: int = 7, completion: int = 2) -> dict[str, object]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def anthropic_body(text: str = "hello") -> dict[str, object]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "usage": {
            "input_tokens": 5,
            "output_tokens": 3,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        },
    }


def sse(*events: dict[str, object] | str) -> bytes:
    lines = [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events]
    return "".join(lines).encode()


def anthropic_sse(*events: tuple[str, dict[str, object]]) -> bytes:
    """Anthropic's named events: `event: <type>` plus a data payload carrying the same type."""
    return "".join(
        f"event: {name}\ndata: {json.dumps({'type': name, **payload})}\n\n" for name, payload in events
    ).encode()


def openai_stream(parts: list[str], *, done: bool = True) -> bytes:
    chunks: list[dict[str, object] | str] = [
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}],
        }
    ]
    chunks += [{"id": "c1", "choices": [{"index": 0, "delta": {"content": p}}]} for p in parts]
    if done:
        chunks.append({"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        chunks.append(
            {"id": "c1", "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": len(parts)}}
        )
        chunks.append("[DONE]")
    return sse(*chunks)


def error(
    status: int, message: str = "boom", code: str | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"message": message, "type": "error", "code": code}}, headers=headers
    )


def route_by_host(**by_host: Handler) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return by_host[request.url.host.split(".")[-2]](request)

    return handler


def mock_client(handler: Handler, captured: Captured | None = None, **config: Any) -> Client:
    """A `Client` answering from `handler`, with the test keys, telemetry captured when asked."""
    return Client(
        transport=httpx.MockTransport(handler),
        providers=PROVIDERS,
        tracer_provider=captured.tracer_provider if captured else None,
        meter_provider=captured.meter_provider if captured else None,
        **config,
    )
