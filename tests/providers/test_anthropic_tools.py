"""Anthropic Messages: content parts, tools, tool results, and the structured-output emulation."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from otel_llm._exceptions import ProviderProtocolError
from otel_llm._types import (
    ChatRequest,
    ImagePart,
    JsonSchema,
    Message,
    StreamEvent,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from otel_llm.providers.anthropic import JSON_INSTRUCTION, AnthropicMessages

from ._support import (
    JSON,
    assert_robust,
    chat_request,
    endpoint,
    http_response,
    json_body,
    mangled,
    parse_event,
    run_stream,
    sse_data,
    sse_stream,
)

MODEL = "claude-sonnet-4-5"

WEATHER_TOOL = Tool(
    name="get_weather",
    description="Get the current weather in a given location",
    parameters={
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location"],
    },
)
TIME_TOOL = Tool(
    name="get_time", parameters={"type": "object", "properties": {"timezone": {"type": "string"}}}
)

PERSON = JsonSchema(
    name="person",
    schema={
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    },
)


@pytest.fixture
def provider() -> AnthropicMessages:
    return AnthropicMessages(endpoint("anthropic", "https://api.anthropic.com", "anthropic"))


def body_for(provider: AnthropicMessages, **options: Any) -> dict[str, JSON]:
    return json_body(provider.build_request(chat_request(MODEL, **options)))


# https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview (a text block, then tool_use)
TOOL_USE_MESSAGE: JSON = {
    "id": "msg_01Aq9w938a90dw8q",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {"type": "text", "text": "I'll check the current weather in San Francisco for you."},
        {
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "input": {"location": "San Francisco, CA", "unit": "celsius"},
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 384, "output_tokens": 94},
}

# https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use#parallel-tool-use
PARALLEL_TOOL_USE_MESSAGE: JSON = {
    "id": "msg_01PaR4llel7ooLUse000001",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {
            "type": "tool_use",
            "id": "toolu_01WeatherSF",
            "name": "get_weather",
            "input": {"location": "San Francisco, CA"},
        },
        {
            "type": "tool_use",
            "id": "toolu_01TimeSF",
            "name": "get_time",
            "input": {"timezone": "America/Los_Angeles"},
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 530, "output_tokens": 120},
}

# The emulated structured answer: a forced call of the tool named after the schema (tool_choice "tool"
# answers with the tool_use block only: docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview).
ANSWER_MESSAGE: JSON = {
    "id": "msg_01JsonAnswer00000000001",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {
            "type": "tool_use",
            "id": "toolu_01Answer",
            "name": "person",
            "input": {"name": "Ada Lovelace", "age": 36},
        }
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 410, "output_tokens": 58},
}

# https://docs.anthropic.com/en/docs/build-with-claude/streaming#streaming-request-with-tool-use
TOOL_STREAM: list[tuple[str, JSON]] = [
    (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_014p7gG3wDgGV9EUtLvnow3U",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5-20250929",
                "stop_sequence": None,
                "usage": {"input_tokens": 472, "output_tokens": 2},
                "content": [],
                "stop_reason": None,
            },
        },
    ),
    (
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ),
    ("ping", {"type": "ping"}),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Okay, let me check."},
        },
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                "name": "get_weather",
                "input": {},
            },
        },
    ),
    *(
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": part},
            },
        )
        for part in ["", '{"location":', ' "San', " Francisc", 'o, CA"', ', "unit": "fah', 'renheit"}']
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 89},
        },
    ),
    ("message_stop", {"type": "message_stop"}),
]

SECOND_TOOL_BLOCK: list[tuple[str, JSON]] = [
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_01TimeSF", "name": "get_time", "input": {}},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": '{"timezone": "America/Los_Angeles"}'},
        },
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 2}),
]

ANSWER_STREAM: list[tuple[str, JSON]] = [
    TOOL_STREAM[0],
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_01Answer", "name": "person", "input": {}},
        },
    ),
    *(
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": part},
            },
        )
        for part in ["", '{"name": "Ada', ' Lovelace", "ag', 'e": 36}']
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 58},
        },
    ),
    ("message_stop", {"type": "message_stop"}),
]


def stream_of(events: list[tuple[str, JSON]], newline: str = "\n") -> bytes:
    return sse_stream(sse_data(payload, event=name, newline=newline) for name, payload in events)


# --- content parts ---------------------------------------------------------------------------------


def test_parts_become_text_and_image_blocks(provider: AnthropicMessages) -> None:
    message = Message(
        "user",
        (
            TextPart("What is in these images?"),
            ImagePart(data="iVBORw0KGgo=", media_type="image/png"),
            ImagePart(
                url="https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg"
            ),
        ),
    )

    body = body_for(provider, messages=(message,))

    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these images?"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                },
                {
                    "type": "image",
                    "source": {
                        "type": "url",
                        "url": "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg",
                    },
                },
            ],
        }
    ]


def test_system_parts_contribute_their_text(provider: AnthropicMessages) -> None:
    messages = (
        Message("system", (TextPart("Be brief. "), TextPart("Answer in French."))),
        Message("user", "Hi"),
    )

    body = body_for(provider, messages=messages)

    assert body["system"] == "Be brief. Answer in French."
    assert body["messages"] == [{"role": "user", "content": "Hi"}]


# --- tools -----------------------------------------------------------------------------------------


def test_tools_are_declared_with_input_schemas(provider: AnthropicMessages) -> None:
    body = body_for(provider, tools=(WEATHER_TOOL, TIME_TOOL))

    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Get the current weather in a given location",
            "input_schema": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA",
                    },
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["location"],
            },
        },
        # No description: none is sent rather than an empty one.
        {
            "name": "get_time",
            "input_schema": {"type": "object", "properties": {"timezone": {"type": "string"}}},
        },
    ]
    assert "tool_choice" not in body


def test_no_tools_sends_no_tool_fields(provider: AnthropicMessages) -> None:
    body = body_for(provider)

    assert "tools" not in body
    assert "tool_choice" not in body


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ("get_weather", {"type": "tool", "name": "get_weather"}),
    ],
)
def test_tool_choice_mapping(provider: AnthropicMessages, choice: str, wire: JSON) -> None:
    assert body_for(provider, tools=(WEATHER_TOOL,), tool_choice=choice)["tool_choice"] == wire


def test_a_tool_loop_is_sent_back_as_tool_use_and_merged_tool_results(provider: AnthropicMessages) -> None:
    calls = (
        ToolCall.from_object("toolu_01WeatherSF", "get_weather", {"location": "San Francisco, CA"}),
        ToolCall.from_object("toolu_01TimeSF", "get_time", {"timezone": "America/Los_Angeles"}),
    )
    messages = (
        Message("system", "You are a helpful assistant."),
        Message("user", "Weather and time in San Francisco?"),
        Message("assistant", "Let me look both up.", tool_calls=calls),
        Message("tool", "15 degrees, sunny", tool_call_id="toolu_01WeatherSF", name="get_weather"),
        Message("tool", '{"time": "14:02"}', tool_call_id="toolu_01TimeSF"),
        Message("user", "Thanks! And tomorrow?"),
        Message("assistant", "", tool_calls=(calls[0],)),
        Message("tool", (TextPart("Rain, "), TextPart("12 degrees")), tool_call_id="toolu_01WeatherSF"),
    )

    body = body_for(provider, messages=messages, tools=(WEATHER_TOOL, TIME_TOOL))

    assert body["system"] == "You are a helpful assistant."
    assert body["messages"] == [
        {"role": "user", "content": "Weather and time in San Francisco?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look both up."},
                {
                    "type": "tool_use",
                    "id": "toolu_01WeatherSF",
                    "name": "get_weather",
                    "input": {"location": "San Francisco, CA"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_01TimeSF",
                    "name": "get_time",
                    "input": {"timezone": "America/Los_Angeles"},
                },
            ],
        },
        # Both results in one user turn: the API requires alternating roles.
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01WeatherSF", "content": "15 degrees, sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_01TimeSF", "content": '{"time": "14:02"}'},
            ],
        },
        {"role": "user", "content": "Thanks! And tomorrow?"},
        # No empty text block before the call: Anthropic rejects empty text blocks.
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_01WeatherSF",
                    "name": "get_weather",
                    "input": {"location": "San Francisco, CA"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01WeatherSF",
                    "content": [{"type": "text", "text": "Rain, "}, {"type": "text", "text": "12 degrees"}],
                }
            ],
        },
    ]


def test_assistant_parts_precede_its_tool_use_blocks(provider: AnthropicMessages) -> None:
    call = ToolCall.from_object("toolu_1", "get_time", {})
    message = Message("assistant", (TextPart("Checking."),), tool_calls=(call,))

    body = body_for(provider, messages=(Message("user", "Time?"), message))

    assert body["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_time", "input": {}},
        ],
    }


def test_parse_response_reads_tool_use_blocks_as_tool_calls(provider: AnthropicMessages) -> None:
    request = chat_request(MODEL, tools=(WEATHER_TOOL,))

    parsed = provider.parse_response(http_response(200, TOOL_USE_MESSAGE), request)

    assert parsed.text == "I'll check the current weather in San Francisco for you."
    assert parsed.finish_reasons == ("tool_call",)
    assert parsed.tool_calls == (
        ToolCall.from_object(
            "toolu_01A09q90qw90lq917835lq9",
            "get_weather",
            {"location": "San Francisco, CA", "unit": "celsius"},
        ),
    )
    assert json.loads(parsed.tool_calls[0].raw_arguments) == {
        "location": "San Francisco, CA",
        "unit": "celsius",
    }


def test_parse_response_reads_parallel_tool_calls_in_order(provider: AnthropicMessages) -> None:
    parsed = provider.parse_response(http_response(200, PARALLEL_TOOL_USE_MESSAGE), chat_request(MODEL))

    assert parsed.text == ""
    assert [(c.id, c.name, dict(c.arguments)) for c in parsed.tool_calls] == [
        ("toolu_01WeatherSF", "get_weather", {"location": "San Francisco, CA"}),
        ("toolu_01TimeSF", "get_time", {"timezone": "America/Los_Angeles"}),
    ]


def test_tool_use_without_input_has_empty_arguments(provider: AnthropicMessages) -> None:
    body = copy.deepcopy(TOOL_USE_MESSAGE)
    del body["content"][1]["input"]

    (call,) = provider.parse_response(http_response(200, body), chat_request(MODEL)).tool_calls

    assert (call.arguments, call.raw_arguments) == ({}, "{}")


def test_text_only_response_has_no_tool_calls(provider: AnthropicMessages) -> None:
    body = copy.deepcopy(TOOL_USE_MESSAGE)
    body["content"] = body["content"][:1]
    body["stop_reason"] = "end_turn"

    assert provider.parse_response(http_response(200, body), chat_request(MODEL)).tool_calls == ()


# --- streamed tool calls ---------------------------------------------------------------------------


def test_stream_assembles_a_tool_call_from_its_fragments(provider: AnthropicMessages) -> None:
    accumulated = run_stream(provider, chat_request(MODEL, stream=True), stream_of(TOOL_STREAM))

    assert accumulated.completed
    response = accumulated.response()
    assert response.text == "Okay, let me check."
    assert response.finish_reasons == ("tool_call",)
    assert response.tool_calls == (
        ToolCall.from_json(
            "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
            "get_weather",
            '{"location": "San Francisco, CA", "unit": "fahrenheit"}',
        ),
    )
    assert response.tool_calls[0].arguments == {"location": "San Francisco, CA", "unit": "fahrenheit"}
    assert response.usage == Usage(input_tokens=472, output_tokens=89)


def test_stream_fed_byte_by_byte_gives_the_same_tool_call(provider: AnthropicMessages) -> None:
    request = chat_request(MODEL, stream=True)

    whole = run_stream(provider, request, stream_of(TOOL_STREAM))
    bytewise = run_stream(provider, request, stream_of(TOOL_STREAM, newline="\r\n"), chunk_size=1)

    assert bytewise.response() == whole.response()


def test_stream_keeps_parallel_tool_calls_apart_by_block_index(provider: AnthropicMessages) -> None:
    events = [*TOOL_STREAM[:-3], *SECOND_TOOL_BLOCK, *TOOL_STREAM[-2:]]

    response = run_stream(provider, chat_request(MODEL, stream=True), stream_of(events)).response()

    assert [(c.id, c.name, dict(c.arguments)) for c in response.tool_calls] == [
        (
            "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
            "get_weather",
            {"location": "San Francisco, CA", "unit": "fahrenheit"},
        ),
        ("toolu_01TimeSF", "get_time", {"timezone": "America/Los_Angeles"}),
    ]


def test_tool_use_block_start_carries_id_and_name(provider: AnthropicMessages) -> None:
    name, payload = TOOL_STREAM[5]

    chunk = parse_event(provider, chat_request(MODEL), StreamEvent(data=json.dumps(payload), event=name))

    assert chunk is not None
    assert chunk.tool_calls == (
        ToolCallDelta(index=1, id="toolu_01T1x1fJ34qAmk2tNTrN7Up6", name="get_weather"),
    )
    assert chunk.delta == ""


@pytest.mark.parametrize("with_event_field", [True, False], ids=["event-field", "type-only"])
def test_text_block_start_carries_nothing(provider: AnthropicMessages, with_event_field: bool) -> None:
    name, payload = TOOL_STREAM[1]
    event = StreamEvent(data=json.dumps(payload), event=name if with_event_field else None)

    assert parse_event(provider, chat_request(MODEL), event) is None


def test_input_json_delta_without_block_index_is_a_protocol_error(provider: AnthropicMessages) -> None:
    payload = {"type": "content_block_delta", "delta": {"type": "input_json_delta", "partial_json": "{}"}}

    with pytest.raises(ProviderProtocolError):
        parse_event(
            provider, chat_request(MODEL), StreamEvent(data=json.dumps(payload), event="content_block_delta")
        )


# --- structured output -----------------------------------------------------------------------------


def test_json_schema_declares_and_forces_an_answer_tool(provider: AnthropicMessages) -> None:
    body = body_for(provider, response_format=PERSON)

    assert body["tools"] == [
        {
            "name": "person",
            "description": "Give your final answer by calling this tool; its input is the answer.",
            "input_schema": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                "required": ["name", "age"],
                "additionalProperties": False,
            },
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "person", "disable_parallel_tool_use": True}
    assert "system" not in body


def test_json_schema_overrides_tool_choice_but_keeps_the_callers_tools(provider: AnthropicMessages) -> None:
    body = body_for(provider, response_format=PERSON, tools=(WEATHER_TOOL,), tool_choice="auto")

    assert [tool["name"] for tool in body["tools"]] == ["get_weather", "person"]
    assert body["tool_choice"] == {"type": "tool", "name": "person", "disable_parallel_tool_use": True}


@pytest.mark.parametrize(
    ("system", "expected"),
    [((), JSON_INSTRUCTION), ((Message("system", "Be brief."),), f"Be brief.\n\n{JSON_INSTRUCTION}")],
    ids=["no-system", "with-system"],
)
def test_json_mode_adds_an_instruction_to_the_system_prompt(
    provider: AnthropicMessages, system: tuple[Message, ...], expected: str
) -> None:
    body = body_for(
        provider, messages=(*system, Message("user", "List three colours.")), response_format="json"
    )

    assert body["system"] == expected
    assert "tools" not in body
    assert "tool_choice" not in body


def test_structured_answer_becomes_json_text(provider: AnthropicMessages) -> None:
    parsed = provider.parse_response(
        http_response(200, ANSWER_MESSAGE), chat_request(MODEL, response_format=PERSON)
    )

    assert json.loads(parsed.text) == {"name": "Ada Lovelace", "age": 36}
    assert parsed.tool_calls == ()
    assert parsed.finish_reasons == ("stop",)


def test_structured_answer_keeps_non_ascii_text_readable(provider: AnthropicMessages) -> None:
    body = copy.deepcopy(ANSWER_MESSAGE)
    body["content"][0]["input"] = {"name": "Augusta Ada King, Comtesse de Lovelace, née Byron", "age": 36}

    parsed = provider.parse_response(http_response(200, body), chat_request(MODEL, response_format=PERSON))

    assert "Augusta Ada King, Comtesse de Lovelace, née Byron" in parsed.text


def test_other_tools_stay_tool_calls_under_a_json_schema(provider: AnthropicMessages) -> None:
    request = chat_request(MODEL, response_format=PERSON, tools=(WEATHER_TOOL,))

    parsed = provider.parse_response(http_response(200, TOOL_USE_MESSAGE), request)

    assert [call.name for call in parsed.tool_calls] == ["get_weather"]
    assert parsed.finish_reasons == ("tool_call",)


def test_structured_answer_cut_short_keeps_its_finish_reason(provider: AnthropicMessages) -> None:
    body = copy.deepcopy(ANSWER_MESSAGE)
    body["stop_reason"] = "max_tokens"

    parsed = provider.parse_response(http_response(200, body), chat_request(MODEL, response_format=PERSON))

    assert parsed.finish_reasons == ("length",)


def test_json_mode_text_is_left_as_is(provider: AnthropicMessages) -> None:
    body = copy.deepcopy(TOOL_USE_MESSAGE)
    body["content"] = [{"type": "text", "text": '{"colours": ["red", "green", "blue"]}'}]
    body["stop_reason"] = "end_turn"

    parsed = provider.parse_response(http_response(200, body), chat_request(MODEL, response_format="json"))

    assert parsed.text == '{"colours": ["red", "green", "blue"]}'
    assert parsed.finish_reasons == ("stop",)


def test_streamed_structured_answer_becomes_json_text(provider: AnthropicMessages) -> None:
    request = chat_request(MODEL, stream=True, response_format=PERSON)

    accumulated = run_stream(provider, request, stream_of(ANSWER_STREAM))

    assert accumulated.completed
    response = accumulated.response()
    assert json.loads(response.text) == {"name": "Ada Lovelace", "age": 36}
    assert response.tool_calls == ()
    assert response.finish_reasons == ("stop",)
    # The same answer as the non-streamed response, up to JSON formatting.
    unary = provider.parse_response(http_response(200, ANSWER_MESSAGE), request)
    assert json.loads(unary.text) == json.loads(response.text)


# --- robustness ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "response_format"),
    [(TOOL_USE_MESSAGE, None), (PARALLEL_TOOL_USE_MESSAGE, None), (ANSWER_MESSAGE, PERSON)],
    ids=["tool-use", "parallel", "structured-answer"],
)
def test_mangled_tool_responses_parse_or_raise_provider_errors(
    provider: AnthropicMessages, fixture: JSON, response_format: JsonSchema | None
) -> None:
    request = chat_request(MODEL, response_format=response_format)
    assert_robust(mangled(fixture), lambda body: provider.parse_response(http_response(200, body), request))


TOOL_EVENTS = [event for event in TOOL_STREAM + SECOND_TOOL_BLOCK if event[0].startswith("content_block")]


@pytest.mark.parametrize(("name", "event"), TOOL_EVENTS, ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("with_event_field", [True, False], ids=["event-field", "type-only"])
@pytest.mark.parametrize("response_format", [None, PERSON], ids=["tools", "structured"])
def test_mangled_tool_stream_events_parse_or_raise_provider_errors(
    provider: AnthropicMessages,
    name: str,
    event: JSON,
    with_event_field: bool,
    response_format: JsonSchema | None,
) -> None:
    request: ChatRequest = chat_request(MODEL, stream=True, response_format=response_format)
    event_type = name if with_event_field else None
    assert_robust(
        mangled(event),
        lambda payload: parse_event(
            provider, request, StreamEvent(data=json.dumps(payload), event=event_type)
        ),
    )
