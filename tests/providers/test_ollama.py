"""Ollama native `/api/chat` and `/api/embed`: requests, NDJSON streams, tool calls, images and errors.

Fixtures follow github.com/ollama/ollama `docs/api.md` ("Generate a chat completion", "Generate
Embeddings") and `api/types.go` (ChatResponse, ToolCall, Metrics), unless a comment says otherwise.
"""

from __future__ import annotations

import copy
import json

import httpx
import pytest

from otel_llm import Client, StreamInterruptedError
from otel_llm._config import ProviderSettings, build_provider
from otel_llm._exceptions import (
    AuthenticationError,
    BadRequestError,
    ProviderError,
    ProviderProtocolError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    QuotaExceededError,
    RateLimitError,
)
from otel_llm._ndjson import NDJSONDecoder
from otel_llm._stream import StreamAccumulator
from otel_llm._types import (
    ChatRequest,
    EmbeddingsRequest,
    ImagePart,
    JsonSchema,
    Message,
    StreamEvent,
    TextPart,
    Tool,
    ToolCall,
    Usage,
)
from otel_llm.providers import BUILTIN, WIRES, Endpoint
from otel_llm.providers._base import EmbeddingsProvider
from otel_llm.providers.ollama import DEFAULT_BASE_URL, OllamaChat

from ._support import (
    API_KEY,
    JSON,
    assert_robust,
    chat_request,
    check_usage,
    endpoint,
    http_response,
    json_body,
    mangled,
    parse_event,
)

MODEL = "llama3.2"


def ollama(base_url: str = DEFAULT_BASE_URL, api_key: str | None = None) -> OllamaChat:
    return OllamaChat(endpoint("ollama", base_url, "ollama", api_key))


@pytest.fixture
def provider() -> OllamaChat:
    return ollama()


@pytest.fixture
def request_() -> ChatRequest:
    return chat_request(MODEL)


def run_ndjson(
    provider: OllamaChat, request: ChatRequest, pieces: list[bytes]
) -> tuple[StreamAccumulator, list[StreamEvent]]:
    """Frame `pieces` like the client does and fold every parsed line into an accumulator."""
    decoder = NDJSONDecoder()
    accumulator = StreamAccumulator()
    events = []
    for piece in pieces:
        for event in decoder.feed(piece):
            events.append(event)
            chunk = parse_event(provider, request, event)
            if chunk is not None:
                accumulator.add(chunk)
    return accumulator, events


def ndjson(lines: list[JSON], newline: str = "\n") -> bytes:
    return "".join(json.dumps(line) + newline for line in lines).encode()


# --- build_request ---------------------------------------------------------------------------------


def test_build_request_posts_to_api_chat_and_always_says_whether_to_stream(provider: OllamaChat) -> None:
    built = provider.build_request(chat_request(MODEL))

    assert built.method == "POST"
    assert str(built.url) == "http://localhost:11434/api/chat"
    assert built.headers["content-type"] == "application/json"
    assert built.headers["x-otel-llm-attempt"] == "1"
    # Ollama streams unless told otherwise: a unary call must say `stream: false`.
    assert json_body(built) == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,
    }


def test_build_request_for_a_stream(provider: OllamaChat) -> None:
    assert json_body(provider.build_request(chat_request(MODEL, stream=True)))["stream"] is True


def test_repeated_requests_reuse_the_same_url(provider: OllamaChat) -> None:
    urls = {str(provider.build_request(chat_request(MODEL, attempt=n)).url) for n in (1, 2)}

    assert urls == {"http://localhost:11434/api/chat"}


def test_local_server_gets_no_credential(provider: OllamaChat) -> None:
    built = provider.build_request(chat_request(MODEL, attempt=3))

    assert not {"authorization", "api-key", "x-api-key"} & set(built.headers.keys())
    assert built.headers["x-otel-llm-attempt"] == "3"


def test_a_configured_key_travels_as_a_bearer_header_only() -> None:
    # ollama.com (cloud models) and authenticating reverse proxies take a bearer key.
    provider = ollama("https://ollama.com", api_key=API_KEY)

    built = provider.build_request(chat_request("gpt-oss:120b"))

    assert str(built.url) == "https://ollama.com/api/chat"
    assert built.headers["authorization"] == f"Bearer {API_KEY}"
    assert API_KEY not in str(built.url)
    assert API_KEY.encode() not in built.content


def test_base_url_with_a_path_prefix_and_trailing_slash() -> None:
    built = ollama("https://gateway.internal/ollama/").build_request(chat_request(MODEL))

    assert str(built.url) == "https://gateway.internal/ollama/api/chat"


def test_sampling_parameters_go_into_options(provider: OllamaChat) -> None:
    request = chat_request(MODEL, temperature=0.0, top_p=0.9, max_tokens=128, seed=101, stop=("\n", "user:"))

    body = json_body(provider.build_request(request))

    assert body["options"] == {
        "temperature": 0.0,
        "top_p": 0.9,
        "num_predict": 128,
        "seed": 101,
        "stop": ["\n", "user:"],
    }
    assert not {"temperature", "top_p", "max_tokens", "seed", "stop"} & body.keys()


def test_unset_parameters_send_no_options(provider: OllamaChat, request_: ChatRequest) -> None:
    body = json_body(provider.build_request(request_))

    assert "options" not in body
    assert None not in body.values()


def test_conversation_with_system_and_history(provider: OllamaChat) -> None:
    messages = (
        Message("system", "Be brief."),
        Message("user", "why is the sky blue?"),
        Message("assistant", "due to rayleigh scattering."),
        Message("user", "how is that different than mie scattering?"),
    )

    body = json_body(provider.build_request(chat_request(MODEL, messages=messages)))

    assert body["messages"] == [{"role": m.role, "content": m.content} for m in messages]


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def test_images_travel_as_base64_beside_the_text(provider: OllamaChat) -> None:
    message = Message(
        "user",
        (TextPart("what is in "), ImagePart(data=PNG, media_type="image/png"), TextPart("this image?")),
    )

    body = json_body(provider.build_request(chat_request("llava", messages=(message,))))

    assert body["messages"] == [{"role": "user", "content": "what is in this image?", "images": [PNG]}]


def test_text_only_parts_send_no_images(provider: OllamaChat) -> None:
    message = Message("user", (TextPart("plain "), TextPart("text")))

    body = json_body(provider.build_request(chat_request(MODEL, messages=(message,))))

    assert body["messages"] == [{"role": "user", "content": "plain text"}]


def test_image_urls_are_rejected_before_sending(provider: OllamaChat) -> None:
    message = Message("user", (TextPart("what is this?"), ImagePart(url="https://example.com/cat.png")))

    with pytest.raises(BadRequestError) as caught:
        provider.build_request(chat_request("llava", messages=(message,)))

    error = caught.value
    assert error.kind == "bad_request"
    assert error.provider == "ollama"
    assert error.model == "llava"
    assert error.status_code is None
    assert not error.retryable
    assert "URL" in str(error)


WEATHER = Tool(
    "get_current_weather",
    "Get the current weather for a location",
    {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The location, e.g. San Francisco, CA"},
            "format": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location", "format"],
    },
)
TIME = Tool("get_time", None, {"type": "object", "properties": {}})

WIRE_WEATHER: JSON = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "parameters": dict(WEATHER.parameters),
        "description": "Get the current weather for a location",
    },
}
WIRE_TIME: JSON = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}


@pytest.mark.parametrize(
    ("tool_choice", "tools"),
    [
        pytest.param(None, [WIRE_WEATHER, WIRE_TIME], id="default"),
        pytest.param("auto", [WIRE_WEATHER, WIRE_TIME], id="auto"),
        pytest.param("required", [WIRE_WEATHER, WIRE_TIME], id="required-cannot-be-enforced"),
        pytest.param("get_time", [WIRE_TIME], id="named-sends-only-that-tool"),
        pytest.param("none", None, id="none-sends-no-tools"),
    ],
)
def test_tools_and_tool_choice(provider: OllamaChat, tool_choice: str | None, tools: JSON) -> None:
    request = chat_request(MODEL, tools=(WEATHER, TIME), tool_choice=tool_choice)

    body = json_body(provider.build_request(request))

    assert body.get("tools") == tools
    assert "tool_choice" not in body


def test_tool_call_and_result_messages(provider: OllamaChat) -> None:
    call = ToolCall.from_object(
        "call_0", "get_current_weather", {"location": "Paris, FR", "format": "celsius"}
    )
    messages = (
        Message("user", "What is the weather today in Paris?"),
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", "22 degrees celsius", tool_call_id="call_0", name="get_current_weather"),
    )

    body = json_body(provider.build_request(chat_request(MODEL, messages=messages, tools=(WEATHER,))))

    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_0",
                    "function": {
                        "name": "get_current_weather",
                        "arguments": {"location": "Paris, FR", "format": "celsius"},
                    },
                }
            ],
        },
        {
            "role": "tool",
            "content": "22 degrees celsius",
            "tool_call_id": "call_0",
            "tool_name": "get_current_weather",
        },
    ]


def test_name_on_a_non_tool_message_is_not_sent(provider: OllamaChat) -> None:
    body = json_body(
        provider.build_request(chat_request(MODEL, messages=(Message("user", "hi", name="ann"),)))
    )

    assert body["messages"] == [{"role": "user", "content": "hi"}]


def test_json_mode(provider: OllamaChat) -> None:
    body = json_body(provider.build_request(chat_request(MODEL, response_format="json")))

    assert body["format"] == "json"


def test_structured_output_sends_the_schema_as_format(provider: OllamaChat) -> None:
    schema = {
        "type": "object",
        "properties": {"age": {"type": "integer"}, "available": {"type": "boolean"}},
        "required": ["age", "available"],
    }

    body = json_body(
        provider.build_request(chat_request(MODEL, response_format=JsonSchema("person", schema)))
    )

    assert body["format"] == schema


# --- parse_response --------------------------------------------------------------------------------

# docs/api.md "Chat request (Structured outputs)" response, the shape of every non-streamed answer.
RESPONSE: JSON = {
    "model": "llama3.1",
    "created_at": "2024-12-06T00:46:58.265747Z",
    "message": {"role": "assistant", "content": '{"age": 22, "available": false}'},
    "done_reason": "stop",
    "done": True,
    "total_duration": 2254970291,
    "load_duration": 574751416,
    "prompt_eval_count": 34,
    "prompt_eval_duration": 1502000000,
    "eval_count": 12,
    "eval_duration": 175000000,
}

# docs/api.md "Chat request (with tools)" response: arguments are objects, calls have no ids.
TOOL_RESPONSE: JSON = {
    "model": "llama3.2",
    "created_at": "2024-07-22T20:33:28.123648Z",
    "message": {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "function": {
                    "name": "get_current_weather",
                    "arguments": {"format": "celsius", "location": "Paris, FR"},
                }
            },
            {"function": {"name": "get_time", "arguments": {}}},
        ],
    },
    "done_reason": "stop",
    "done": True,
    "total_duration": 885095291,
    "load_duration": 3753500,
    "prompt_eval_count": 122,
    "prompt_eval_duration": 328493000,
    "eval_count": 33,
    "eval_duration": 552222000,
}


def test_parse_response_reads_text_model_finish_and_usage(
    provider: OllamaChat, request_: ChatRequest
) -> None:
    parsed = provider.parse_response(http_response(200, RESPONSE), request_)

    assert parsed.text == '{"age": 22, "available": false}'
    assert parsed.model == "llama3.1"
    assert parsed.id is None  # Ollama responses have no id
    assert parsed.finish_reasons == ("stop",)
    assert parsed.usage == Usage(input_tokens=34, output_tokens=12)
    assert parsed.tool_calls == ()


def test_parse_response_tool_calls_get_deterministic_ids(provider: OllamaChat, request_: ChatRequest) -> None:
    parsed = provider.parse_response(http_response(200, TOOL_RESPONSE), request_)

    assert parsed.text == ""
    assert parsed.finish_reasons == ("tool_call",)
    assert parsed.tool_calls == (
        ToolCall(
            "call_0",
            "get_current_weather",
            {"format": "celsius", "location": "Paris, FR"},
            '{"format":"celsius","location":"Paris, FR"}',
        ),
        ToolCall("call_1", "get_time", {}, "{}"),
    )
    assert parsed.usage == Usage(input_tokens=122, output_tokens=33)


def test_parse_response_keeps_server_tool_call_ids_and_indices(
    provider: OllamaChat, request_: ChatRequest
) -> None:
    # Ollama >= 0.12 (api/types.go ToolCall.ID, ToolCallFunction.Index).
    body = copy.deepcopy(TOOL_RESPONSE)
    body["message"]["tool_calls"] = [
        {
            "id": "call_k2x9",
            "function": {"index": 0, "name": "get_current_weather", "arguments": {"location": "Oslo"}},
        },
        {"function": {"index": 1, "name": "get_time", "arguments": None}},
    ]

    calls = provider.parse_response(http_response(200, body), request_).tool_calls

    assert [(c.id, c.name, dict(c.arguments)) for c in calls] == [
        ("call_k2x9", "get_current_weather", {"location": "Oslo"}),
        ("call_1", "get_time", {}),
    ]


@pytest.mark.parametrize(
    ("done_reason", "expected"),
    [("stop", ("stop",)), ("length", ("length",)), ("load", ("load",)), ("unload", ("unload",)), (None, ())],
)
def test_finish_reason_mapping(
    provider: OllamaChat, request_: ChatRequest, done_reason: str | None, expected: tuple[str, ...]
) -> None:
    body = {**RESPONSE, "done_reason": done_reason}

    assert provider.parse_response(http_response(200, body), request_).finish_reasons == expected


def test_a_truncated_tool_call_keeps_the_length_reason(provider: OllamaChat, request_: ChatRequest) -> None:
    body = {**TOOL_RESPONSE, "done_reason": "length"}

    assert provider.parse_response(http_response(200, body), request_).finish_reasons == ("length",)


def test_tool_calls_without_done_reason_still_say_tool_call(
    provider: OllamaChat, request_: ChatRequest
) -> None:
    body = {k: v for k, v in TOOL_RESPONSE.items() if k != "done_reason"}  # servers before 0.1.40

    assert provider.parse_response(http_response(200, body), request_).finish_reasons == ("tool_call",)


def test_missing_counts_are_unknown_not_zero(provider: OllamaChat, request_: ChatRequest) -> None:
    # Counts are `omitempty`: a prompt served entirely from the KV cache reports no prompt_eval_count.
    body = {k: v for k, v in RESPONSE.items() if k != "prompt_eval_count"}

    usage = provider.parse_response(http_response(200, body), request_).usage

    assert usage == Usage(input_tokens=None, output_tokens=12)


def test_answer_without_message_is_empty_text(provider: OllamaChat, request_: ChatRequest) -> None:
    body = {"model": MODEL, "created_at": "2024-09-12T21:17:29.110811Z", "done_reason": "load", "done": True}

    parsed = provider.parse_response(http_response(200, body), request_)

    assert parsed.text == ""
    assert parsed.usage == Usage()


def test_error_object_in_a_200_answer_raises(provider: OllamaChat, request_: ChatRequest) -> None:
    with pytest.raises(ProviderUnavailableError) as caught:
        provider.parse_response(
            http_response(200, {"error": "llama runner process has terminated"}), request_
        )

    assert caught.value.kind == "server_error"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'{"message": "hi"}', id="message-not-an-object"),
        pytest.param(b'{"message": {"content": 5}}', id="content-not-a-string"),
        pytest.param(b'{"message": {"tool_calls": {}}}', id="tool-calls-not-a-list"),
        pytest.param(
            b'{"message": {"tool_calls": [{"function": {"arguments": "{}"}}]}}', id="string-arguments"
        ),
        pytest.param(b'{"message": {"tool_calls": [{"function": {"index": -1}}]}}', id="negative-index"),
        pytest.param(b'{"prompt_eval_count": "26"}', id="string-count"),
        pytest.param(b'{"eval_count": -1}', id="negative-count"),
        pytest.param(b'{"done_reason": 1}', id="reason-not-a-string"),
        pytest.param(json.dumps(RESPONSE)[:90].encode(), id="truncated"),
        pytest.param(b"", id="empty"),
    ],
)
def test_malformed_body_is_a_protocol_error(provider: OllamaChat, request_: ChatRequest, body: bytes) -> None:
    with pytest.raises(ProviderProtocolError) as caught:
        provider.parse_response(http_response(200, body), request_)

    assert caught.value.provider == "ollama"
    assert caught.value.status_code == 200


@pytest.mark.parametrize("fixture", [RESPONSE, TOOL_RESPONSE], ids=["text", "tool-calls"])
def test_mangled_responses_parse_or_raise_provider_errors(
    provider: OllamaChat, request_: ChatRequest, fixture: JSON
) -> None:
    count = assert_robust(
        mangled(fixture), lambda body: provider.parse_response(http_response(200, body), request_)
    )
    assert count > 150


def test_deeply_nested_body_is_a_protocol_error(provider: OllamaChat, request_: ChatRequest) -> None:
    with pytest.raises(ProviderProtocolError):
        provider.parse_response(http_response(200, b"[" * 100_000 + b"]" * 100_000), request_)


# --- NDJSON streams --------------------------------------------------------------------------------


# docs/api.md "Chat Request (Streaming)": content lines, then a final line with the counts.
def _line(content: str, created_at: str, **final: JSON) -> JSON:
    message = {"role": "assistant", "content": content}
    return {"model": MODEL, "created_at": created_at, "message": message, "done": bool(final), **final}


STREAM_LINES: list[JSON] = [
    _line("The", "2023-08-04T08:52:19.385406455-07:00"),
    _line(" sky", "2023-08-04T08:52:19.397406455-07:00"),
    _line(" is bleu ☀️ — café", "2023-08-04T08:52:19.409406455-07:00"),  # multi-byte UTF-8 to cut in half
    _line(
        "",
        "2023-08-04T19:22:45.499127Z",
        done_reason="stop",
        total_duration=4883583458,
        load_duration=1334875,
        prompt_eval_count=26,
        prompt_eval_duration=342546000,
        eval_count=282,
        eval_duration=4535599000,
    ),
]
STREAM = ndjson(STREAM_LINES)


def test_stream_accumulates_text_usage_and_end_marker(provider: OllamaChat) -> None:
    accumulated, events = run_ndjson(provider, chat_request(MODEL, stream=True), [STREAM])

    assert len(events) == 4
    assert accumulated.completed
    response = accumulated.response()
    assert response.text == "The sky is bleu ☀️ — café"
    assert response.finish_reasons == ("stop",)
    assert response.model == MODEL
    assert response.usage == Usage(input_tokens=26, output_tokens=282)


def test_stream_split_at_every_byte_boundary_gives_the_same_result(provider: OllamaChat) -> None:
    request = chat_request(MODEL, stream=True)
    whole, whole_events = run_ndjson(provider, request, [STREAM])

    for cut in range(len(STREAM) + 1):
        split, events = run_ndjson(provider, request, [STREAM[:cut], STREAM[cut:]])
        assert events == whole_events, cut
        assert split.response() == whole.response(), cut
        assert split.completed, cut


def test_stream_fed_byte_by_byte(provider: OllamaChat) -> None:
    request = chat_request(MODEL, stream=True)
    whole, _ = run_ndjson(provider, request, [STREAM])

    bytewise, _ = run_ndjson(provider, request, [STREAM[i : i + 1] for i in range(len(STREAM))])

    assert bytewise.response() == whole.response()
    assert bytewise.completed


def test_stream_with_crlf_and_blank_lines(provider: OllamaChat) -> None:
    raw = b"\r\n" + ndjson(STREAM_LINES, newline="\r\n\r\n")

    accumulated, events = run_ndjson(provider, chat_request(MODEL, stream=True), [raw])

    assert len(events) == 4
    assert accumulated.completed
    assert accumulated.text == "The sky is bleu ☀️ — café"


def test_content_lines_are_not_final_and_carry_no_usage(provider: OllamaChat, request_: ChatRequest) -> None:
    chunk = parse_event(provider, request_, StreamEvent(data=json.dumps(STREAM_LINES[0])))

    assert chunk is not None
    assert chunk.delta == "The"
    assert chunk.usage is None
    assert chunk.finish_reason is None
    assert not chunk.final


def test_final_line_is_final_with_usage(provider: OllamaChat, request_: ChatRequest) -> None:
    chunk = parse_event(provider, request_, StreamEvent(data=json.dumps(STREAM_LINES[-1])))

    assert chunk is not None
    assert chunk.final
    assert chunk.finish_reason == "stop"
    assert chunk.usage == Usage(input_tokens=26, output_tokens=282)


def test_final_line_without_message(provider: OllamaChat, request_: ChatRequest) -> None:
    # Older servers (docs/api.md before 0.3) sent the final line without `message`.
    line = {k: v for k, v in STREAM_LINES[-1].items() if k not in ("message", "done_reason")}

    chunk = parse_event(provider, request_, StreamEvent(data=json.dumps(line)))

    assert chunk is not None
    assert chunk.final
    assert chunk.delta == ""
    assert chunk.finish_reason is None


def test_stream_cut_before_done_is_not_complete(provider: OllamaChat) -> None:
    accumulated, _ = run_ndjson(provider, chat_request(MODEL, stream=True), [ndjson(STREAM_LINES[:2])])

    assert not accumulated.completed
    assert accumulated.text == "The sky"
    assert accumulated.response().usage == Usage()


def test_an_unterminated_last_line_is_not_an_event(provider: OllamaChat) -> None:
    raw = ndjson(STREAM_LINES[:3]) + json.dumps(STREAM_LINES[3]).encode()  # no trailing newline yet

    accumulated, events = run_ndjson(provider, chat_request(MODEL, stream=True), [raw])

    assert len(events) == 3
    assert not accumulated.completed


@pytest.mark.parametrize(
    ("message", "cls", "kind"),
    [
        pytest.param(
            "an error was encountered while running the model: unexpected EOF",
            ProviderUnavailableError,
            "server_error",
            id="runner-crash",
        ),
        pytest.param(
            "the input length exceeds the context length",
            BadRequestError,
            "context_length",
            id="context-length",
        ),
    ],
)
def test_error_line_mid_stream_raises(
    provider: OllamaChat, message: str, cls: type[ProviderError], kind: str
) -> None:
    raw = ndjson([*STREAM_LINES[:2], {"error": message}])

    with pytest.raises(cls) as caught:
        run_ndjson(provider, chat_request(MODEL, stream=True), [raw])

    assert caught.value.kind == kind
    assert caught.value.provider == "ollama"
    assert caught.value.model == MODEL
    assert message in str(caught.value)


def test_error_line_with_an_odd_value_still_raises(provider: OllamaChat, request_: ChatRequest) -> None:
    with pytest.raises(ProviderUnavailableError):
        parse_event(provider, request_, StreamEvent(data='{"error": {"code": 500}}'))


# Ollama >= 0.8 streams tool calls as they complete, on lines before `done`; `index` numbers them.
TOOL_STREAM_LINES: list[JSON] = [
    {
        "model": "qwen3",
        "created_at": "2025-05-29T09:10:35.1Z",
        "message": {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "function": {
                        "name": "get_current_weather",
                        "arguments": {"location": "Paris, FR", "format": "celsius"},
                    }
                }
            ],
        },
        "done": False,
    },
    {
        "model": "qwen3",
        "created_at": "2025-05-29T09:10:35.3Z",
        "message": {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"index": 1, "name": "get_time", "arguments": {}}}],
        },
        "done": False,
    },
    {
        "model": "qwen3",
        "created_at": "2025-05-29T09:10:35.4Z",
        "message": {"role": "assistant", "content": ""},
        "done_reason": "stop",
        "done": True,
        "prompt_eval_count": 180,
        "eval_count": 41,
    },
]


def test_streamed_tool_calls_are_assembled_with_ids(provider: OllamaChat) -> None:
    accumulated, _ = run_ndjson(provider, chat_request("qwen3", stream=True), [ndjson(TOOL_STREAM_LINES)])

    response = accumulated.response()
    assert response.tool_calls == (
        ToolCall.from_object("call_0", "get_current_weather", {"location": "Paris, FR", "format": "celsius"}),
        ToolCall.from_object("call_1", "get_time", {}),
    )
    assert response.usage == Usage(input_tokens=180, output_tokens=41)


def test_tool_call_line_carries_whole_calls(provider: OllamaChat, request_: ChatRequest) -> None:
    chunk = parse_event(provider, request_, StreamEvent(data=json.dumps(TOOL_STREAM_LINES[0])))

    assert chunk is not None
    assert [(d.index, d.id, d.name, json.loads(d.arguments), d.complete) for d in chunk.tool_calls] == [
        (0, "call_0", "get_current_weather", {"location": "Paris, FR", "format": "celsius"}, True)
    ]
    assert chunk.finish_reason is None
    assert not chunk.final


def test_tool_calls_on_the_final_line_finish_as_tool_call(provider: OllamaChat) -> None:
    final = {**TOOL_STREAM_LINES[2], "message": TOOL_STREAM_LINES[0]["message"]}

    accumulated, _ = run_ndjson(provider, chat_request("qwen3", stream=True), [ndjson([final])])

    assert accumulated.response().finish_reasons == ("tool_call",)
    assert [c.name for c in accumulated.response().tool_calls] == ["get_current_weather"]


def test_streamed_tool_calls_finish_as_tool_call(provider: OllamaChat) -> None:
    accumulated, _ = run_ndjson(provider, chat_request("qwen3", stream=True), [ndjson(TOOL_STREAM_LINES)])

    assert accumulated.response().finish_reasons == ("tool_call",)


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "[]",
        "null",
        "42",
        '{"unterminated": ',
        '{"done": "true"}',
        '{"message": "The"}',
        '{"message": {"content": ["The"]}}',
        '{"done": true, "eval_count": "282"}',
        '{"message": {"tool_calls": [{"function": []}]}}',
    ],
    ids=repr,
)
def test_malformed_stream_line_is_a_protocol_error(
    provider: OllamaChat, request_: ChatRequest, data: str
) -> None:
    with pytest.raises(ProviderProtocolError) as caught:
        parse_event(provider, request_, StreamEvent(data=data))

    assert caught.value.provider == "ollama"
    assert caught.value.kind == "protocol_error"


@pytest.mark.parametrize("line", [*STREAM_LINES, *TOOL_STREAM_LINES, {"error": "boom"}])
def test_mangled_stream_lines_parse_or_raise_provider_errors(
    provider: OllamaChat, request_: ChatRequest, line: JSON
) -> None:
    assert_robust(
        mangled(line), lambda payload: parse_event(provider, request_, StreamEvent(data=json.dumps(payload)))
    )


# --- embeddings ------------------------------------------------------------------------------------

# docs/api.md "Generate Embeddings" (multiple input).
EMBED_RESPONSE: JSON = {
    "model": "all-minilm",
    "embeddings": [
        [0.010071029, -0.0017594862, 0.05007221, 0.04692972, 0.054916814],
        [-0.0098027075, 0.06042469, 0.025257962, -0.006364387, 0.07272725],
    ],
    "total_duration": 14143917,
    "load_duration": 1019500,
    "prompt_eval_count": 16,
}


def test_embeddings_request(provider: OllamaChat) -> None:
    request = EmbeddingsRequest(
        model="all-minilm", inputs=("Why is the sky blue?", "Why is the grass green?")
    )

    built = provider.build_embeddings_request(request)

    assert built.method == "POST"
    assert str(built.url) == "http://localhost:11434/api/embed"
    assert json_body(built) == {
        "model": "all-minilm",
        "input": ["Why is the sky blue?", "Why is the grass green?"],
    }
    assert "authorization" not in built.headers


def test_embeddings_request_with_dimensions_and_key() -> None:
    request = EmbeddingsRequest(model="embeddinggemma", inputs=("x",), dimensions=256, attempt=2)

    built = ollama(api_key=API_KEY).build_embeddings_request(request)

    assert json_body(built)["dimensions"] == 256
    assert built.headers["authorization"] == f"Bearer {API_KEY}"
    assert built.headers["x-otel-llm-attempt"] == "2"


def test_embeddings_response(provider: OllamaChat) -> None:
    request = EmbeddingsRequest(model="all-minilm", inputs=("a", "b"))

    parsed = provider.parse_embeddings_response(http_response(200, EMBED_RESPONSE), request)

    assert parsed.vectors == tuple(tuple(v) for v in EMBED_RESPONSE["embeddings"])
    assert parsed.model == "all-minilm"
    assert parsed.usage == Usage(input_tokens=16)


def test_embeddings_response_without_count_is_unknown_usage(provider: OllamaChat) -> None:
    body = {k: v for k, v in EMBED_RESPONSE.items() if k != "prompt_eval_count"}

    parsed = provider.parse_embeddings_response(http_response(200, body), EmbeddingsRequest("m", ("a", "b")))

    assert parsed.usage == Usage()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"embeddings": [[0.1]]}, id="too-few"),
        pytest.param({"embeddings": [[0.1], []]}, id="empty-vector"),
        pytest.param({"embeddings": [[0.1], ["x"]]}, id="not-numbers"),
        pytest.param({"embedding": [0.1, 0.2]}, id="legacy-shape"),
        pytest.param({"embeddings": [[0.1], [0.2]], "prompt_eval_count": 1.5}, id="float-count"),
        pytest.param(b"<html>", id="html"),
    ],
)
def test_malformed_embeddings_are_protocol_errors(provider: OllamaChat, body: JSON) -> None:
    with pytest.raises(ProviderProtocolError):
        provider.parse_embeddings_response(http_response(200, body), EmbeddingsRequest("m", ("a", "b")))


def test_mangled_embeddings_parse_or_raise_provider_errors(provider: OllamaChat) -> None:
    request = EmbeddingsRequest("all-minilm", ("a", "b"))

    def parse(body: JSON) -> None:
        parsed = provider.parse_embeddings_response(http_response(200, body), request)
        assert len(parsed.vectors) == 2
        assert all(v and all(type(x) is float for x in v) for v in parsed.vectors)
        assert parsed.model is None or isinstance(parsed.model, str)
        check_usage(parsed.usage)

    assert_robust(mangled(EMBED_RESPONSE), parse)


# --- errors ----------------------------------------------------------------------------------------

UNMARSHAL_ERROR = (
    "json: cannot unmarshal string into Go struct field ChatRequest.messages of type []api.Message"
)


@pytest.mark.parametrize(
    ("status", "body", "cls", "kind"),
    [
        pytest.param(
            404, {"error": "model 'llama3.3' not found"}, BadRequestError, "not_found", id="model-not-found"
        ),
        pytest.param(
            404,
            {"error": 'model "llama3.3" not found, try pulling it first'},
            BadRequestError,
            "not_found",
            id="model-not-found-older",
        ),
        pytest.param(
            400,
            {"error": UNMARSHAL_ERROR},
            BadRequestError,
            "bad_request",
            id="bad-body",
        ),
        pytest.param(
            400,
            {"error": "the input length exceeds the context length"},
            BadRequestError,
            "context_length",
            id="context-length",
        ),
        pytest.param(
            # llama.cpp's server wording (providers.md §9.2)
            400,
            {"error": "the request exceeds the available context size, try increasing it"},
            BadRequestError,
            "context_length",
            id="context-size",
        ),
        pytest.param(401, {"error": "unauthorized"}, AuthenticationError, "auth", id="unauthorized"),
        pytest.param(
            429,
            {"error": "too many requests, please try again later"},
            RateLimitError,
            "rate_limit",
            id="rate-limit",
        ),
        pytest.param(
            429,
            {"error": "you've reached your usage limit, please upgrade to continue"},
            QuotaExceededError,
            "quota_exhausted",
            id="usage-limit",
        ),
        pytest.param(
            500,
            {"error": "llama runner process has terminated: signal: killed"},
            ProviderUnavailableError,
            "server_error",
            id="runner-killed",
        ),
        pytest.param(
            503,
            {"error": "server busy, please try again.  maximum pending requests exceeded"},
            ProviderUnavailableError,
            "overloaded",
            id="queue-full",
        ),
        pytest.param(408, b"", ProviderTimeoutError, "timeout", id="timeout-empty"),
        pytest.param(
            502,
            b"<html><body>Bad Gateway</body></html>",
            ProviderUnavailableError,
            "server_error",
            id="proxy-html",
        ),
        pytest.param(
            500, {"error": {"message": "nested"}}, ProviderUnavailableError, "server_error", id="odd-error"
        ),
        pytest.param(400, b"\xff\xfe", BadRequestError, "bad_request", id="not-utf8"),
    ],
)
def test_classify_error(
    provider: OllamaChat, request_: ChatRequest, status: int, body: JSON, cls: type[ProviderError], kind: str
) -> None:
    error = provider.classify_error(http_response(status, body), request_)

    assert type(error) is cls
    assert error.kind == kind
    assert error.status_code == status
    assert error.provider == "ollama"
    assert error.model == MODEL
    if isinstance(body, dict) and isinstance(body["error"], str):
        assert body["error"] in str(error)


def test_classify_error_reads_retry_after(provider: OllamaChat, request_: ChatRequest) -> None:
    response = http_response(429, {"error": "too many requests"}, headers={"retry-after": "3"})

    error = provider.classify_error(response, request_)

    assert isinstance(error, RateLimitError)
    assert error.retry_after == 3.0


def test_classify_error_for_embeddings(provider: OllamaChat) -> None:
    request = EmbeddingsRequest("nomic-embed-text", ("x",))

    error = provider.classify_error(
        http_response(404, {"error": "model 'nomic-embed-text' not found"}), request
    )

    assert error.kind == "not_found"
    assert error.model == "nomic-embed-text"


@pytest.mark.parametrize("status", [400, 404, 429, 500])
def test_mangled_error_bodies_still_classify(
    provider: OllamaChat, request_: ChatRequest, status: int
) -> None:
    assert_robust(
        mangled({"error": "the input length exceeds the context length"}),
        lambda variant: provider.classify_error(http_response(status, variant), request_),
    )


# --- registry and configuration --------------------------------------------------------------------


def test_builtin_entry_and_wire() -> None:
    spec = BUILTIN["ollama"]

    assert isinstance(spec.wire(Endpoint("ollama", spec.base_url, None, "ollama")), OllamaChat)
    assert spec.base_url == "http://localhost:11434"
    assert spec.semconv_name == "ollama"
    assert spec.api_key_env is None
    assert isinstance(WIRES["ollama"](Endpoint("ollama-gpu", "http://gpu:11434", None, "ollama")), OllamaChat)


def test_build_provider_defaults_to_the_local_server() -> None:
    provider = build_provider("ollama", None, {"OLLAMA_API_KEY": "ignored", "OPENAI_API_KEY": "ignored"})

    assert isinstance(provider, OllamaChat)
    assert isinstance(provider, EmbeddingsProvider)
    assert provider.framing == "ndjson"
    assert provider.semconv_name == "ollama"
    assert (provider.server_address, provider.server_port) == ("localhost", 11434)
    assert "authorization" not in provider.build_request(chat_request(MODEL)).headers


def test_a_second_ollama_host_is_a_custom_provider_with_the_ollama_wire() -> None:
    settings = ProviderSettings(wire="ollama", base_url="http://gpu-box:11434", semconv_name="ollama")

    provider = build_provider("gpu-box", settings, {})

    assert isinstance(provider, OllamaChat)
    assert provider.name == "gpu-box"
    assert provider.semconv_name == "ollama"
    assert str(provider.build_request(chat_request(MODEL)).url) == "http://gpu-box:11434/api/chat"


# --- through the client: the NDJSON framing path -----------------------------------------------------


def _client(handler: httpx.MockTransport) -> Client:
    return Client(transport=handler, providers={"ollama": {}}, environ={})


def test_client_streams_ndjson_end_to_end() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=STREAM, headers={"content-type": "application/x-ndjson"})

    with (
        _client(httpx.MockTransport(handler)) as client,
        client.stream("ollama:llama3.2", [{"role": "user", "content": "hi"}]) as stream,
    ):
        deltas = [chunk.delta for chunk in stream]

    assert "".join(deltas) == "The sky is bleu ☀️ — café"
    assert stream.response is not None
    assert stream.response.usage == Usage(input_tokens=26, output_tokens=282)
    assert str(seen[0].url) == "http://localhost:11434/api/chat"
    assert json.loads(seen[0].content)["stream"] is True


def test_client_reports_an_error_line_after_content_as_interrupted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        # Separate reads: the error arrives after the first content reached the caller.
        lines = [ndjson(STREAM_LINES[:2]), ndjson([{"error": "unexpected EOF"}])]
        return httpx.Response(200, content=iter(lines))

    with (
        _client(httpx.MockTransport(handler)) as client,
        pytest.raises(StreamInterruptedError) as caught,
        client.stream("ollama:llama3.2", [{"role": "user", "content": "hi"}]) as stream,
    ):
        list(stream)

    assert caught.value.partial_text == "The sky"


def test_client_chat_sends_stream_false() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=RESPONSE)

    with _client(httpx.MockTransport(handler)) as client:
        reply = client.chat("ollama:llama3.1", [{"role": "user", "content": "hi"}])

    assert reply.text == '{"age": 22, "available": false}'
    assert json.loads(seen[0].content)["stream"] is False
