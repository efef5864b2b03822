"""Scripted tool calls and structured (JSON) output in every wire format, with plain httpx."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from otel_llm.testing import Behavior, FakeProviderServer

from ._helpers import ALL_WIRES, call, content_pieces, has_terminator, stream_events

CALLS: list[dict[str, object]] = [
    {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
    {"name": "get_time", "arguments": {}, "id": "my-call-id"},
]
OPENAI_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def calls_from_reply(wire: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if wire in ("openai", "azure"):
        calls = body["choices"][0]["message"]["tool_calls"]
        return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls]
    if wire == "anthropic":
        return [(b["name"], b["input"]) for b in body["content"] if b["type"] == "tool_use"]
    if wire == "gemini":
        parts = body["candidates"][0]["content"]["parts"]
        return [(p["functionCall"]["name"], p["functionCall"]["args"]) for p in parts if "functionCall" in p]
    calls = body["message"]["tool_calls"]
    return [(c["function"]["name"], c["function"]["arguments"]) for c in calls]


def calls_from_stream(wire: str, events: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    """Reassemble tool calls the way a client must: by index / block, JSON parsed at the end."""
    names: dict[int, str] = {}
    fragments: dict[int, str] = {}
    whole: list[tuple[str, dict[str, Any]]] = []
    for event in events:
        if event.data == "[DONE]":
            continue
        data = event.json()
        if wire in ("openai", "azure"):
            for choice in data.get("choices", []):
                for fragment in choice["delta"].get("tool_calls", []):
                    index = fragment["index"]
                    if "id" in fragment:
                        names[index] = fragment["function"]["name"]
                    fragments[index] = fragments.get(index, "") + fragment["function"]["arguments"]
        elif wire == "anthropic":
            if event.event == "content_block_start" and data["content_block"]["type"] == "tool_use":
                names[data["index"]] = data["content_block"]["name"]
            elif event.event == "content_block_delta" and data["delta"]["type"] == "input_json_delta":
                index = data["index"]
                fragments[index] = fragments.get(index, "") + data["delta"]["partial_json"]
        elif wire == "gemini":
            for part in data["candidates"][0].get("content", {}).get("parts", []):
                if "functionCall" in part:
                    whole.append((part["functionCall"]["name"], part["functionCall"]["args"]))
        else:
            for call_ in data["message"].get("tool_calls", []):
                whole.append((call_["function"]["name"], call_["function"]["arguments"]))
    whole += [(names[i], json.loads(fragments[i])) for i in sorted(names)]
    return whole


EXPECTED = [("get_weather", {"city": "Paris", "unit": "celsius"}), ("get_time", {})]


@pytest.mark.parametrize("wire", ALL_WIRES)
def test_tool_calls_non_stream(server: FakeProviderServer, http: httpx.Client, wire: str) -> None:
    server.set_behavior(wire, Behavior(tool_calls=CALLS))

    body = call(server, http, wire).json()

    assert calls_from_reply(wire, body) == EXPECTED
    if wire in ("openai", "azure"):
        message = body["choices"][0]["message"]
        assert message["content"] is None
        assert body["choices"][0]["finish_reason"] == "tool_calls"
        assert re.fullmatch(r"call_fake\d{6}x0", message["tool_calls"][0]["id"])
        assert message["tool_calls"][1]["id"] == "my-call-id"
        assert message["tool_calls"][0]["type"] == "function"
    elif wire == "anthropic":
        assert body["stop_reason"] == "tool_use"
        assert [b["type"] for b in body["content"]] == ["tool_use", "tool_use"]
        assert body["content"][0]["id"].startswith("toolu_")
    elif wire == "gemini":
        assert body["candidates"][0]["finishReason"] == "STOP"
    else:
        assert (body["message"]["content"], body["done_reason"]) == ("", "stop")


@pytest.mark.parametrize("wire", ALL_WIRES)
def test_tool_calls_stream(server: FakeProviderServer, http: httpx.Client, wire: str) -> None:
    server.set_behavior(wire, Behavior(tool_calls=CALLS))

    _, events = stream_events(server, http, wire)

    assert calls_from_stream(wire, events) == EXPECTED
    assert content_pieces(wire, events) == []
    assert has_terminator(wire, events)


def test_openai_tool_call_fragments(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openai", Behavior(tool_calls=CALLS[:1]))

    _, events = stream_events(server, http, "openai")

    deltas = [e.json()["choices"][0]["delta"] for e in events[:-1] if e.json()["choices"]]
    fragments = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert re.fullmatch(r"call_fake\d{6}x0", fragments[0]["id"])
    assert fragments[0] == {
        "index": 0,
        "id": fragments[0]["id"],
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    assert len(fragments) >= 3  # the opening fragment, then arguments in several pieces
    assert all(set(f) == {"index", "function"} for f in fragments[1:])
    assert deltas[0]["content"] is None
    assert deltas[-1] == {}


def test_anthropic_text_then_tool_use_stream(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("anthropic", Behavior(text="Let me check.", tool_calls=CALLS[:1]))

    _, events = stream_events(server, http, "anthropic")
    body = call(server, http, "anthropic").json()

    names = [e.event for e in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names.count("content_block_start") == names.count("content_block_stop") == 2
    starts = [e.json() for e in events if e.event == "content_block_start"]
    assert [s["content_block"]["type"] for s in starts] == ["text", "tool_use"]
    assert starts[1]["index"] == 1 and starts[1]["content_block"]["input"] == {}
    assert "".join(content_pieces("anthropic", events)) == "Let me check."
    assert [b["type"] for b in body["content"]] == ["text", "tool_use"]
    assert events[-2].json()["delta"]["stop_reason"] == "tool_use"


def test_tool_call_stream_can_be_cut_mid_arguments(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openai", Behavior(tool_calls=CALLS[:1], cut_stream_after=2))

    _, events = stream_events(server, http, "openai")

    assert not has_terminator("openai", events)
    assert len([e for e in events if "tool_calls" in str(e.data)]) == 2


def test_tools_are_recorded(server: FakeProviderServer, http: httpx.Client) -> None:
    call(server, http, "openai", extra={"tools": OPENAI_TOOLS, "tool_choice": "auto"})

    assert server.requests[0].body["tools"] == OPENAI_TOOLS


def test_tool_call_output_tokens(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openai", Behavior(tool_calls=CALLS))

    usage = call(server, http, "openai").json()["usage"]

    # 1 per call plus the words of its JSON arguments: 1 + 4, then 1 + 1.
    assert usage["completion_tokens"] == 7


@pytest.mark.parametrize(
    "bad",
    [
        {"arguments": {}},
        {"name": ""},
        {"name": "f", "arguments": [1]},
        {"name": "f", "id": 3},
        {"name": "f", "extra": 1},
    ],
)
def test_behavior_rejects_bad_tool_calls(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Behavior(tool_calls=[bad])


def test_behavior_copies_tool_calls() -> None:
    calls: list[dict[str, object]] = [{"name": "f"}]
    behavior = Behavior(tool_calls=calls)
    calls.append({"name": "g"})

    assert behavior.tool_calls == ({"name": "f", "arguments": {}},)
    assert behavior == Behavior(tool_calls=[{"name": "f", "arguments": {}}])


# ---------------------------------------------------------------- structured output

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "temperature": {"type": "number", "minimum": 3},
        "days": {"type": "integer", "maximum": 0},
        "sunny": {"type": "boolean"},
        "when": {"type": "string", "format": "date"},
        "unit": {"enum": ["celsius", "fahrenheit"]},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "note": {"anyOf": [{"type": "null"}, {"type": "string"}]},
        "place": {"$ref": "#/$defs/Place"},
    },
    "required": ["city"],
    "$defs": {"Place": {"type": "object", "properties": {"lat": {"type": ["number", "null"]}}}},
}
EXPECTED_JSON = {
    "city": "example",
    "temperature": 3.0,
    "days": 0,
    "sunny": True,
    "when": "2024-01-01",
    "unit": "celsius",
    "tags": ["example", "example"],
    "note": "example",
    "place": {"lat": 1.0},
}
JSON_REQUESTS: dict[str, dict[str, Any]] = {
    "openai": {"response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": SCHEMA}}},
    "azure": {"response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": SCHEMA}}},
    "anthropic": {"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}},
    "gemini": {"generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": SCHEMA}},
    "ollama": {"format": SCHEMA},
}


def reply_text(wire: str, body: dict[str, Any]) -> str:
    if wire in ("openai", "azure"):
        return str(body["choices"][0]["message"]["content"])
    if wire == "anthropic":
        return str(body["content"][0]["text"])
    if wire == "gemini":
        return str(body["candidates"][0]["content"]["parts"][0]["text"])
    return str(body["message"]["content"])


@pytest.mark.parametrize("wire", ALL_WIRES)
def test_json_schema_reply(server: FakeProviderServer, http: httpx.Client, wire: str) -> None:
    body = call(server, http, wire, extra=JSON_REQUESTS[wire]).json()
    _, events = stream_events(server, http, wire, extra=JSON_REQUESTS[wire])

    assert json.loads(reply_text(wire, body)) == EXPECTED_JSON
    pieces = content_pieces(wire, events)
    assert len(pieces) > 1
    assert json.loads("".join(pieces)) == EXPECTED_JSON


@pytest.mark.parametrize(
    ("wire", "extra"),
    [
        ("openai", {"response_format": {"type": "json_object"}}),
        ("gemini", {"generationConfig": {"responseMimeType": "application/json"}}),
        ("ollama", {"format": "json"}),
    ],
)
def test_plain_json_mode(
    server: FakeProviderServer, http: httpx.Client, wire: str, extra: dict[str, Any]
) -> None:
    body = call(server, http, wire, extra=extra).json()

    assert json.loads(reply_text(wire, body)) == {
        "message": f"Hello from {wire} {body.get('model', 'gemini-2.0-flash')}."
    }


def test_gemini_openapi_schema_types(server: FakeProviderServer, http: httpx.Client) -> None:
    schema = {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}, "ok": {"type": "BOOLEAN"}}}
    extra = {"generationConfig": {"responseMimeType": "application/json", "responseSchema": schema}}

    body = call(server, http, "gemini", extra=extra).json()

    assert json.loads(reply_text("gemini", body)) == {"n": 1, "ok": True}


def test_scripted_text_wins_over_json_mode(server: FakeProviderServer, http: httpx.Client) -> None:
    server.set_behavior("openai", Behavior(text='{"broken": '))

    body = call(server, http, "openai", extra=JSON_REQUESTS["openai"]).json()

    assert reply_text("openai", body) == '{"broken": '


def test_text_format_is_not_json(server: FakeProviderServer, http: httpx.Client) -> None:
    body = call(server, http, "openai", extra={"response_format": {"type": "text"}}).json()

    assert reply_text("openai", body) == "Hello from openai gpt-4o."


def test_recursive_schema_terminates(server: FakeProviderServer, http: httpx.Client) -> None:
    schema = {
        "$ref": "#/$defs/Node",
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
    }

    body = call(server, http, "ollama", extra={"format": schema}).json()

    value = json.loads(reply_text("ollama", body))
    depth = 0
    while isinstance(value, dict):
        value, depth = value["next"], depth + 1
    assert value is None and depth > 3
