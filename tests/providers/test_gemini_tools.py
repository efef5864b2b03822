"""Gemini generateContent: parts, function calling, function responses and structured output."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from otel_llm._types import (
    ImagePart,
    JsonSchema,
    Message,
    StreamEvent,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
)
from otel_llm.providers.gemini import GeminiGenerateContent

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

MODEL = "gemini-2.5-flash"
BASE_URL = "https://generativelanguage.googleapis.com/v1beta"

# https://ai.google.dev/gemini-api/docs/function-calling (declarations of the "parallel" example)
DISCO_TOOLS = (
    Tool(
        name="power_disco_ball",
        description="Powers the spinning disco ball.",
        parameters={
            "type": "object",
            "properties": {
                "power": {"type": "boolean", "description": "Whether to turn the disco ball on or off."}
            },
            "required": ["power"],
        },
    ),
    Tool(
        name="start_music",
        description="Play some music matching the specified parameters.",
        parameters={
            "type": "object",
            "properties": {
                "energetic": {"type": "boolean", "description": "Whether the music is energetic or not."},
                "loud": {"type": "boolean", "description": "Whether the music is loud or not."},
            },
            "required": ["energetic", "loud"],
        },
    ),
    Tool(name="dim_lights"),
)

RECIPE = JsonSchema(
    name="recipe",
    schema={
        "type": "object",
        "properties": {
            "recipeName": {"type": "string"},
            "ingredients": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["recipeName", "ingredients"],
        "additionalProperties": False,
    },
)


@pytest.fixture
def provider() -> GeminiGenerateContent:
    return GeminiGenerateContent(endpoint("gemini", BASE_URL, "gcp.gemini"))


def body_for(provider: GeminiGenerateContent, model: str = MODEL, **options: Any) -> dict[str, JSON]:
    return json_body(provider.build_request(chat_request(model, **options)))


# https://ai.google.dev/gemini-api/docs/function-calling#parallel_function_calling (three calls in one turn)
PARALLEL_CALLS_RESPONSE: JSON = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {"text": "Let's get this party started."},
                    {"functionCall": {"name": "power_disco_ball", "args": {"power": True}}},
                    {"functionCall": {"name": "start_music", "args": {"energetic": True, "loud": True}}},
                    {"functionCall": {"name": "dim_lights"}},
                ],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {"promptTokenCount": 154, "candidatesTokenCount": 29, "totalTokenCount": 183},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "kB8taMv2Ks3Wz7IPp6bEqQc",
}

# https://ai.google.dev/api/generate-content#FunctionCall (`id` is optional; some deployments set it)
CALL_WITH_ID_RESPONSE: JSON = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {
                        "functionCall": {
                            "id": "fc-7f3a",
                            "name": "get_weather",
                            "args": {"location": "Paris"},
                        },
                        "thoughtSignature": "CiQB0e2Kb3Q0hGf2",
                    }
                ],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "modelVersion": "gemini-3-pro-preview",
    "responseId": "c2lnbmVkLWNhbGw",
}

# https://ai.google.dev/gemini-api/docs/function-calling (streamed: each call arrives whole in one event)
TOOL_STREAM_EVENTS: list[JSON] = [
    {
        "candidates": [
            {"content": {"parts": [{"text": "Let's get this party"}], "role": "model"}, "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 154, "totalTokenCount": 158},
        "modelVersion": MODEL,
        "responseId": "c3RyZWFtZWQtY2FsbHM",
    },
    {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"text": " started."},
                        {"functionCall": {"name": "power_disco_ball", "args": {"power": True}}},
                        {"functionCall": {"name": "start_music", "args": {"energetic": True, "loud": False}}},
                    ],
                    "role": "model",
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 154, "candidatesTokenCount": 27, "totalTokenCount": 181},
        "modelVersion": MODEL,
        "responseId": "c3RyZWFtZWQtY2FsbHM",
    },
]

# https://ai.google.dev/gemini-api/docs/structured-output (the JSON answer arrives as text)
RECIPE_RESPONSE: JSON = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {"text": '{"recipeName": "Chocolate Chip Cookies", "ingredients": ["flour", "butter"]}'}
                ],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {"promptTokenCount": 21, "candidatesTokenCount": 19, "totalTokenCount": 40},
    "modelVersion": MODEL,
    "responseId": "cmVjaXBl",
}


def stream_of(events: list[JSON]) -> bytes:
    return sse_stream(sse_data(event, newline="\r\n") for event in events)


# --- parts -----------------------------------------------------------------------------------------


def test_parts_become_text_inline_data_and_file_data(provider: GeminiGenerateContent) -> None:
    message = Message(
        "user",
        (
            TextPart("Caption these."),
            ImagePart(data="/9j/4AAQSkZJRg==", media_type="image/jpeg"),
            ImagePart(
                url="https://generativelanguage.googleapis.com/v1beta/files/abc-123", media_type="image/png"
            ),
            ImagePart(url="https://example.com/photos/Cat.JPG?size=large#top"),
            ImagePart(url="https://example.com/render.webp"),
            ImagePart(url="https://generativelanguage.googleapis.com/v1beta/files/xyz-789"),
            ImagePart(url="https://example.com/v1.2/image"),
        ),
    )

    body = body_for(provider, messages=(message,))

    assert body["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "Caption these."},
                {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQSkZJRg=="}},
                {
                    "fileData": {
                        "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc-123",
                        "mimeType": "image/png",
                    }
                },
                {
                    "fileData": {
                        "fileUri": "https://example.com/photos/Cat.JPG?size=large#top",
                        "mimeType": "image/jpeg",
                    }
                },
                {"fileData": {"fileUri": "https://example.com/render.webp", "mimeType": "image/webp"}},
                # No type from the caller or the extension: left out (optional on this API), not guessed.
                {"fileData": {"fileUri": "https://generativelanguage.googleapis.com/v1beta/files/xyz-789"}},
                {"fileData": {"fileUri": "https://example.com/v1.2/image"}},
            ],
        }
    ]


def test_system_parts_contribute_their_text(provider: GeminiGenerateContent) -> None:
    messages = (
        Message("system", (TextPart("Be brief. "), TextPart("Answer in French."))),
        Message("user", "Hi"),
    )

    body = body_for(provider, messages=messages)

    assert body["systemInstruction"] == {"parts": [{"text": "Be brief. Answer in French."}]}


# --- tools -----------------------------------------------------------------------------------------


def test_tools_become_function_declarations(provider: GeminiGenerateContent) -> None:
    body = body_for(provider, tools=DISCO_TOOLS)

    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "power_disco_ball",
                    "description": "Powers the spinning disco ball.",
                    "parametersJsonSchema": {
                        "type": "object",
                        "properties": {
                            "power": {
                                "type": "boolean",
                                "description": "Whether to turn the disco ball on or off.",
                            }
                        },
                        "required": ["power"],
                    },
                },
                {
                    "name": "start_music",
                    "description": "Play some music matching the specified parameters.",
                    "parametersJsonSchema": {
                        "type": "object",
                        "properties": {
                            "energetic": {
                                "type": "boolean",
                                "description": "Whether the music is energetic or not.",
                            },
                            "loud": {"type": "boolean", "description": "Whether the music is loud or not."},
                        },
                        "required": ["energetic", "loud"],
                    },
                },
                # A function without parameters: the JSON-schema field accepts empty properties.
                {"name": "dim_lights", "parametersJsonSchema": {"type": "object", "properties": {}}},
            ]
        }
    ]
    assert "toolConfig" not in body


def test_no_tools_sends_no_tool_fields(provider: GeminiGenerateContent) -> None:
    body = body_for(provider)

    assert "tools" not in body
    assert "toolConfig" not in body


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        ("start_music", {"mode": "ANY", "allowedFunctionNames": ["start_music"]}),
    ],
)
def test_tool_choice_becomes_function_calling_config(
    provider: GeminiGenerateContent, choice: str, config: JSON
) -> None:
    body = body_for(provider, tools=DISCO_TOOLS, tool_choice=choice)

    assert body["toolConfig"] == {"functionCallingConfig": config}


def test_a_tool_loop_is_sent_back_as_function_calls_and_merged_responses(
    provider: GeminiGenerateContent,
) -> None:
    calls = (
        ToolCall.from_object("call_0", "power_disco_ball", {"power": True}),
        ToolCall.from_object("call_1", "start_music", {"energetic": True, "loud": True}),
    )
    messages = (
        Message("user", "Turn this place into a party!"),
        Message("assistant", "", tool_calls=calls),
        Message("tool", '{"status": "spinning"}', tool_call_id="call_0", name="power_disco_ball"),
        # No name: taken from the call the result answers.
        Message("tool", "Now playing: Daft Punk", tool_call_id="call_1"),
        Message("assistant", "The party is on."),
        Message("user", "Dim the lights too."),
        Message("assistant", "Dimming.", tool_calls=(ToolCall.from_object("call_0", "dim_lights", {}),)),
        Message("tool", "[1, 2]", tool_call_id="call_0"),
    )

    body = body_for(provider, messages=messages, tools=DISCO_TOOLS)

    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Turn this place into a party!"}]},
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "power_disco_ball", "args": {"power": True}}},
                {"functionCall": {"name": "start_music", "args": {"energetic": True, "loud": True}}},
            ],
        },
        # One user turn answers both calls; text that is no JSON object is wrapped into one.
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "power_disco_ball", "response": {"status": "spinning"}}},
                {
                    "functionResponse": {
                        "name": "start_music",
                        "response": {"content": "Now playing: Daft Punk"},
                    }
                },
            ],
        },
        {"role": "model", "parts": [{"text": "The party is on."}]},
        {"role": "user", "parts": [{"text": "Dim the lights too."}]},
        {
            "role": "model",
            "parts": [{"text": "Dimming."}, {"functionCall": {"name": "dim_lights", "args": {}}}],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "dim_lights", "response": {"content": "[1, 2]"}}}],
        },
    ]


def test_tool_result_name_comes_from_the_latest_call_with_its_id(provider: GeminiGenerateContent) -> None:
    # Positional ids repeat from turn to turn: each result answers the call just before it.
    messages = (
        Message("user", "Party!"),
        Message(
            "assistant", "", tool_calls=(ToolCall.from_object("call_0", "power_disco_ball", {"power": True}),)
        ),
        Message("tool", "on", tool_call_id="call_0"),
        Message("assistant", "", tool_calls=(ToolCall.from_object("call_0", "dim_lights", {}),)),
        Message("tool", "dimmed", tool_call_id="call_0"),
    )

    body = body_for(provider, messages=messages)

    names = [part["functionResponse"]["name"] for turn in body["contents"][2::2] for part in turn["parts"]]
    assert names == ["power_disco_ball", "dim_lights"]


def test_tool_result_without_a_known_name_sends_an_empty_name(provider: GeminiGenerateContent) -> None:
    messages = (Message("user", "Hi"), Message("tool", "done", tool_call_id="call_9"))

    body = body_for(provider, messages=messages)

    assert body["contents"][1] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "", "response": {"content": "done"}}}],
    }


def test_function_calls_replayed_to_gemini_3_carry_a_signature_stand_in(
    provider: GeminiGenerateContent,
) -> None:
    call = ToolCall.from_object("fc-7f3a", "get_weather", {"location": "Paris"})
    messages = (
        Message("user", "Weather in Paris?"),
        Message("assistant", (TextPart("Checking."),), tool_calls=(call,)),
    )

    gemini_3 = body_for(provider, "gemini-3-pro-preview", messages=messages)
    gemini_25 = body_for(provider, MODEL, messages=messages)

    assert gemini_3["contents"][1] == {
        "role": "model",
        "parts": [
            {"text": "Checking."},
            {
                "functionCall": {"name": "get_weather", "args": {"location": "Paris"}},
                "thoughtSignature": "skip_thought_signature_validator",
            },
        ],
    }
    assert gemini_25["contents"][1]["parts"][1] == {
        "functionCall": {"name": "get_weather", "args": {"location": "Paris"}}
    }


def test_parse_response_reads_function_calls_with_deterministic_ids(provider: GeminiGenerateContent) -> None:
    parsed = provider.parse_response(http_response(200, PARALLEL_CALLS_RESPONSE), chat_request(MODEL))

    assert parsed.text == "Let's get this party started."
    assert parsed.finish_reasons == ("tool_call",)
    assert parsed.tool_calls == (
        ToolCall.from_object("call_0", "power_disco_ball", {"power": True}),
        ToolCall.from_object("call_1", "start_music", {"energetic": True, "loud": True}),
        ToolCall.from_object("call_2", "dim_lights", {}),  # no `args` for a function without parameters
    )
    # Parsing twice gives the same ids: they are positions, not random.
    again = provider.parse_response(http_response(200, PARALLEL_CALLS_RESPONSE), chat_request(MODEL))
    assert again.tool_calls == parsed.tool_calls


def test_parse_response_keeps_an_id_gemini_sent(provider: GeminiGenerateContent) -> None:
    parsed = provider.parse_response(
        http_response(200, CALL_WITH_ID_RESPONSE), chat_request("gemini-3-pro-preview")
    )

    assert parsed.tool_calls == (ToolCall.from_object("fc-7f3a", "get_weather", {"location": "Paris"}),)
    assert parsed.text == ""


def test_only_the_first_candidate_contributes_tool_calls(provider: GeminiGenerateContent) -> None:
    body = copy.deepcopy(PARALLEL_CALLS_RESPONSE)
    second = copy.deepcopy(body["candidates"][0])
    second["index"] = 1
    body["candidates"] = [RECIPE_RESPONSE["candidates"][0], second]

    parsed = provider.parse_response(http_response(200, body), chat_request(MODEL))

    assert parsed.tool_calls == ()
    assert parsed.finish_reasons == ("stop", "tool_call")


# --- streamed function calls -----------------------------------------------------------------------


def test_stream_delivers_whole_function_calls(provider: GeminiGenerateContent) -> None:
    accumulated = run_stream(provider, chat_request(MODEL, stream=True), stream_of(TOOL_STREAM_EVENTS))

    assert accumulated.completed
    response = accumulated.response()
    assert response.text == "Let's get this party started."
    assert response.finish_reasons == ("tool_call",)
    assert response.tool_calls == (
        ToolCall.from_object("call_0", "power_disco_ball", {"power": True}),
        ToolCall.from_object("call_1", "start_music", {"energetic": True, "loud": False}),
    )


def test_stream_fed_byte_by_byte_gives_the_same_calls(provider: GeminiGenerateContent) -> None:
    request = chat_request(MODEL, stream=True)

    whole = run_stream(provider, request, stream_of(TOOL_STREAM_EVENTS))
    bytewise = run_stream(provider, request, stream_of(TOOL_STREAM_EVENTS), chunk_size=1)

    assert bytewise.response() == whole.response()


def test_streamed_function_call_is_one_complete_delta(provider: GeminiGenerateContent) -> None:
    chunk = parse_event(
        provider, chat_request(MODEL, stream=True), StreamEvent(json.dumps(TOOL_STREAM_EVENTS[1]))
    )

    assert chunk is not None
    assert chunk.tool_calls == (
        ToolCallDelta(
            index=0, id="call_0", name="power_disco_ball", arguments='{"power":true}', complete=True
        ),
        ToolCallDelta(
            index=1,
            id="call_1",
            name="start_music",
            arguments='{"energetic":true,"loud":false}',
            complete=True,
        ),
    )
    assert chunk.delta == " started."
    assert chunk.final


def test_function_calls_split_across_events_stay_apart(provider: GeminiGenerateContent) -> None:
    first, last = copy.deepcopy(TOOL_STREAM_EVENTS[1]), copy.deepcopy(TOOL_STREAM_EVENTS[1])
    first_parts = first["candidates"][0]["content"]["parts"]
    del first["candidates"][0]["finishReason"]
    first["candidates"][0]["content"]["parts"] = first_parts[:2]
    last["candidates"][0]["content"]["parts"] = first_parts[2:]

    response = run_stream(provider, chat_request(MODEL, stream=True), stream_of([first, last])).response()

    assert [call.name for call in response.tool_calls] == ["power_disco_ball", "start_music"]


# --- structured output -----------------------------------------------------------------------------


def test_json_mode_sets_the_response_mime_type(provider: GeminiGenerateContent) -> None:
    body = body_for(provider, response_format="json", temperature=0.2)

    assert body["generationConfig"] == {"temperature": 0.2, "responseMimeType": "application/json"}


def test_json_schema_is_sent_as_response_json_schema(provider: GeminiGenerateContent) -> None:
    body = body_for(provider, response_format=RECIPE)

    assert body["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": {
            "type": "object",
            "properties": {
                "recipeName": {"type": "string"},
                "ingredients": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["recipeName", "ingredients"],
            "additionalProperties": False,
        },
    }
    assert "tools" not in body


def test_structured_answer_is_the_text(provider: GeminiGenerateContent) -> None:
    parsed = provider.parse_response(
        http_response(200, RECIPE_RESPONSE), chat_request(MODEL, response_format=RECIPE)
    )

    assert json.loads(parsed.text) == {
        "recipeName": "Chocolate Chip Cookies",
        "ingredients": ["flour", "butter"],
    }
    assert parsed.finish_reasons == ("stop",)
    assert parsed.tool_calls == ()


# --- robustness ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture",
    [PARALLEL_CALLS_RESPONSE, CALL_WITH_ID_RESPONSE, RECIPE_RESPONSE],
    ids=["parallel", "with-id", "recipe"],
)
def test_mangled_tool_responses_parse_or_raise_provider_errors(
    provider: GeminiGenerateContent, fixture: JSON
) -> None:
    request = chat_request(MODEL)
    assert_robust(mangled(fixture), lambda body: provider.parse_response(http_response(200, body), request))


@pytest.mark.parametrize("event", TOOL_STREAM_EVENTS, ids=["text", "calls"])
def test_mangled_tool_stream_events_parse_or_raise_provider_errors(
    provider: GeminiGenerateContent, event: JSON
) -> None:
    request = chat_request(MODEL, stream=True)
    assert_robust(
        mangled(event), lambda payload: parse_event(provider, request, StreamEvent(data=json.dumps(payload)))
    )
