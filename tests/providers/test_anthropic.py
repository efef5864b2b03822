"""Anthropic Messages: request building, responses, streams, errors and malformed bodies."""

from __future__ import annotations

import copy
import json

import pytest

from otel_llm._exceptions import (
    AuthenticationError,
    BadRequestError,
    ProviderError,
    ProviderProtocolError,
    ProviderUnavailableError,
    QuotaExceededError,
    RateLimitError,
)
from otel_llm._types import ChatRequest, Message, StreamEvent, ToolCallDelta, Usage
from otel_llm.providers.anthropic import AnthropicMessages

from ._support import (
    API_KEY,
    JSON,
    assert_robust,
    body_fragment,
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


@pytest.fixture
def provider() -> AnthropicMessages:
    return AnthropicMessages(endpoint("anthropic", "https://api.anthropic.com", "anthropic"))


@pytest.fixture
def request_() -> ChatRequest:
    return chat_request(MODEL)


# https://docs.anthropic.com/en/api/messages (response body; usage with prompt caching:
# https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching)
MESSAGE: JSON = {
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Hi! My name is Claude."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 20,
        "cache_creation_input_tokens": 250,
        "cache_read_input_tokens": 1800,
        "cache_creation": {"ephemeral_5m_input_tokens": 250, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 503,
        "service_tier": "standard",
    },
}

# https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking (thinking block + text block)
# and https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview (tool_use block)
THINKING_TOOL_MESSAGE: JSON = {
    "id": "msg_01Aq9w938a90dw8q",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {
            "type": "thinking",
            "thinking": "The user wants the weather, so I should call the tool.",
            "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds",
        },
        {"type": "text", "text": "Let me check the weather."},
        {
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "input": {"location": "San Francisco, CA"},
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 472, "output_tokens": 91},
}

# https://docs.anthropic.com/en/docs/build-with-claude/streaming (event sequence and cumulative usage)
STREAM_EVENTS: list[tuple[str, JSON]] = [
    (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude-sonnet-4-5-20250929",
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 12,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 2048,
                    "output_tokens": 1,
                },
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
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
    ),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ", world"}},
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 87},
        },
    ),
    ("message_stop", {"type": "message_stop"}),
]

# https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#streaming-thinking
THINKING_EVENTS: list[tuple[str, JSON]] = [
    (
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Let me solve this step by step."},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "EqQB"},
        },
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
]

# https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview (streamed tool input)
TOOL_INPUT_EVENT: tuple[str, JSON] = (
    "content_block_delta",
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '{"location": "San Fra'},
    },
)

# https://docs.anthropic.com/en/api/errors and .../streaming#error-events
OVERLOADED_EVENT: tuple[str, JSON] = (
    "error",
    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
)


def full_stream(events: list[tuple[str, JSON]] = STREAM_EVENTS, newline: str = "\n") -> bytes:
    return sse_stream(sse_data(payload, event=name, newline=newline) for name, payload in events)


# --- build_request ---------------------------------------------------------------------------------


def test_build_request_targets_messages_with_key_and_version(
    provider: AnthropicMessages, request_: ChatRequest
) -> None:
    built = provider.build_request(request_)

    assert built.method == "POST"
    assert str(built.url) == "https://api.anthropic.com/v1/messages"
    assert built.headers["x-api-key"] == API_KEY
    assert built.headers["anthropic-version"] == "2023-06-01"
    assert built.headers["content-type"] == "application/json"
    assert "authorization" not in built.headers
    assert API_KEY not in str(built.url)


def test_build_request_defaults_max_tokens(provider: AnthropicMessages, request_: ChatRequest) -> None:
    body = json_body(provider.build_request(request_))

    # Anthropic rejects requests without max_tokens, so one is always sent.
    assert body == {"model": MODEL, "max_tokens": 1024, "messages": [{"role": "user", "content": "hi"}]}


def test_build_request_moves_system_messages_to_top_level(provider: AnthropicMessages) -> None:
    messages = (
        Message("system", "Be brief."),
        Message("user", "Capital of France?"),
        Message("assistant", "Paris."),
        Message("user", "And Italy?"),
    )

    body = json_body(provider.build_request(chat_request(MODEL, messages=messages)))

    assert body["system"] == "Be brief."
    assert body["messages"] == [
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And Italy?"},
    ]


def test_build_request_joins_several_system_messages_in_order(provider: AnthropicMessages) -> None:
    messages = (Message("system", "Be brief."), Message("system", "Answer in French."), Message("user", "Hi"))

    body = json_body(provider.build_request(chat_request(MODEL, messages=messages)))

    system = body["system"]
    assert isinstance(system, str)
    assert system.index("Be brief.") < system.index("Answer in French.")
    assert all(m["role"] != "system" for m in body["messages"])


def test_build_request_without_system_sends_no_system_field(
    provider: AnthropicMessages, request_: ChatRequest
) -> None:
    assert "system" not in json_body(provider.build_request(request_))


def test_build_request_maps_sampling_parameters(provider: AnthropicMessages) -> None:
    request = chat_request(MODEL, temperature=0.3, top_p=0.8, max_tokens=4096, stop=("\n\nHuman:",), seed=7)

    body = json_body(provider.build_request(request))

    assert body["temperature"] == 0.3
    assert body["top_p"] == 0.8
    assert body["max_tokens"] == 4096
    assert body["stop_sequences"] == ["\n\nHuman:"]
    assert "stop" not in body
    assert "seed" not in body  # the Messages API has no seed parameter


def test_build_request_for_stream(provider: AnthropicMessages) -> None:
    body = json_body(provider.build_request(chat_request(MODEL, stream=True)))

    assert body["stream"] is True
    assert "stream_options" not in body


def test_build_request_sends_attempt_number(provider: AnthropicMessages) -> None:
    assert provider.build_request(chat_request(MODEL, attempt=2)).headers["x-otel-llm-attempt"] == "2"


# --- parse_response --------------------------------------------------------------------------------


def test_parse_response_reads_text_model_id_and_finish_reason(
    provider: AnthropicMessages, request_: ChatRequest
) -> None:
    parsed = provider.parse_response(http_response(200, MESSAGE), request_)

    assert parsed.text == "Hi! My name is Claude."
    assert parsed.model == "claude-sonnet-4-5-20250929"
    assert parsed.id == "msg_013Zva2CMHLNnXjNJJKqJ2EF"
    assert parsed.finish_reasons == ("stop",)


def test_parse_response_input_includes_cache_reads_and_writes(
    provider: AnthropicMessages, request_: ChatRequest
) -> None:
    usage = provider.parse_response(http_response(200, MESSAGE), request_).usage

    assert usage == Usage(
        input_tokens=20 + 1800 + 250,
        output_tokens=503,
        cache_read_input_tokens=1800,
        cache_write_input_tokens=250,
        reasoning_output_tokens=None,
    )


def test_parse_response_without_cache_fields(provider: AnthropicMessages, request_: ChatRequest) -> None:
    usage = provider.parse_response(http_response(200, THINKING_TOOL_MESSAGE), request_).usage

    assert usage == Usage(input_tokens=472, output_tokens=91)


def test_parse_response_excludes_thinking_and_tool_use_from_text(
    provider: AnthropicMessages, request_: ChatRequest
) -> None:
    parsed = provider.parse_response(http_response(200, THINKING_TOOL_MESSAGE), request_)

    assert parsed.text == "Let me check the weather."
    assert parsed.finish_reasons == ("tool_call",)


def test_parse_response_joins_text_blocks(provider: AnthropicMessages, request_: ChatRequest) -> None:
    body = copy.deepcopy(MESSAGE)
    body["content"] = [{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world."}]

    assert provider.parse_response(http_response(200, body), request_).text == "Hello, world."


def test_parse_response_without_usage_reports_unknown_not_zero(
    provider: AnthropicMessages, request_: ChatRequest
) -> None:
    body = {k: v for k, v in MESSAGE.items() if k != "usage"}

    assert provider.parse_response(http_response(200, body), request_).usage == Usage()


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_call"),
        ("refusal", "content_filter"),
        ("pause_turn", "pause_turn"),
    ],
)
def test_finish_reason_mapping(
    provider: AnthropicMessages, request_: ChatRequest, raw: str, normalised: str
) -> None:
    body = copy.deepcopy(MESSAGE)
    body["stop_reason"] = raw

    assert provider.parse_response(http_response(200, body), request_).finish_reasons == (normalised,)


def test_null_stop_reason_is_not_reported(provider: AnthropicMessages, request_: ChatRequest) -> None:
    body = copy.deepcopy(MESSAGE)
    body["stop_reason"] = None

    assert provider.parse_response(http_response(200, body), request_).finish_reasons == ()


# --- streams ---------------------------------------------------------------------------------------


def test_stream_accumulates_text_usage_and_end_marker(provider: AnthropicMessages) -> None:
    accumulated = run_stream(provider, chat_request(MODEL, stream=True), full_stream())

    assert accumulated.completed
    response = accumulated.response()
    assert response.text == "Hello, world"
    assert response.finish_reasons == ("stop",)
    assert response.id == "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY"
    assert response.model == "claude-sonnet-4-5-20250929"
    # Input (with cache reads) from message_start; output from the cumulative message_delta, not summed.
    assert response.usage == Usage(
        input_tokens=12 + 2048, output_tokens=87, cache_read_input_tokens=2048, cache_write_input_tokens=0
    )


def test_stream_fed_byte_by_byte_gives_the_same_result(provider: AnthropicMessages) -> None:
    request = chat_request(MODEL, stream=True)

    whole = run_stream(provider, request, full_stream())
    bytewise = run_stream(provider, request, full_stream(newline="\r\n"), chunk_size=1)

    assert bytewise.completed
    assert bytewise.response() == whole.response()


def test_stream_takes_the_last_cumulative_usage(provider: AnthropicMessages) -> None:
    # Long responses may carry several message_delta events, each with the running total.
    deltas: list[tuple[str, JSON]] = [
        ("message_delta", {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 40}}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
                "usage": {
                    "input_tokens": 12,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 2048,
                    "output_tokens": 100,
                },
            },
        ),
    ]
    events = [*STREAM_EVENTS[:6], *deltas, STREAM_EVENTS[-1]]

    response = run_stream(provider, chat_request(MODEL, stream=True), full_stream(events)).response()

    assert response.usage.output_tokens == 100
    assert response.usage.input_tokens == 12 + 2048
    assert response.finish_reasons == ("length",)


def test_stream_skips_thinking_deltas(provider: AnthropicMessages) -> None:
    events = [STREAM_EVENTS[0], *THINKING_EVENTS, *STREAM_EVENTS[1:]]

    accumulated = run_stream(provider, chat_request(MODEL, stream=True), full_stream(events))

    assert accumulated.text == "Hello, world"
    assert accumulated.completed
    assert accumulated.response().tool_calls == ()


def test_tool_input_delta_is_a_tool_call_fragment_not_text(
    provider: AnthropicMessages, request_: ChatRequest
) -> None:
    name, payload = TOOL_INPUT_EVENT

    chunk = parse_event(provider, request_, StreamEvent(data=json.dumps(payload), event=name))

    assert chunk is not None
    assert chunk.delta == ""
    assert chunk.tool_calls == (ToolCallDelta(index=1, arguments='{"location": "San Fra'),)


def test_stream_without_message_stop_is_not_complete(provider: AnthropicMessages) -> None:
    accumulated = run_stream(provider, chat_request(MODEL, stream=True), full_stream(STREAM_EVENTS[:-1]))

    assert not accumulated.completed
    assert accumulated.text == "Hello, world"


def test_ping_is_a_keep_alive(provider: AnthropicMessages, request_: ChatRequest) -> None:
    assert parse_event(provider, request_, StreamEvent(data='{"type": "ping"}', event="ping")) is None


def test_unknown_event_types_are_ignored(provider: AnthropicMessages, request_: ChatRequest) -> None:
    event = StreamEvent(data='{"type": "citations_delta_v9", "index": 0}', event="citations_delta_v9")

    assert parse_event(provider, request_, event) is None


def test_event_type_falls_back_to_the_data_type_field(
    provider: AnthropicMessages, request_: ChatRequest
) -> None:
    chunk = parse_event(provider, request_, StreamEvent(data='{"type": "message_stop"}'))

    assert chunk is not None
    assert chunk.final


def test_message_start_usage_without_message_delta(
    provider: AnthropicMessages, request_: ChatRequest
) -> None:
    name, payload = STREAM_EVENTS[0]

    chunk = parse_event(provider, request_, StreamEvent(data=json.dumps(payload), event=name))

    assert chunk is not None
    assert chunk.usage == Usage(
        input_tokens=2060, output_tokens=1, cache_read_input_tokens=2048, cache_write_input_tokens=0
    )


def test_message_delta_without_input_counts_leaves_input_unknown(
    provider: AnthropicMessages, request_: ChatRequest
) -> None:
    name, payload = STREAM_EVENTS[6]

    chunk = parse_event(provider, request_, StreamEvent(data=json.dumps(payload), event=name))

    assert chunk is not None
    assert chunk.usage is not None
    assert chunk.usage.output_tokens == 87
    assert chunk.usage.input_tokens is None  # must not overwrite message_start's count with 0


@pytest.mark.parametrize(
    ("error_type", "cls", "kind", "retryable"),
    [
        ("overloaded_error", ProviderUnavailableError, "overloaded", True),
        ("api_error", ProviderUnavailableError, "server_error", True),
        ("rate_limit_error", RateLimitError, "rate_limit", True),
    ],
)
def test_mid_stream_error_event_raises(
    provider: AnthropicMessages, error_type: str, cls: type[ProviderError], kind: str, retryable: bool
) -> None:
    error: tuple[str, JSON] = (
        "error",
        {"type": "error", "error": {"type": error_type, "message": "Overloaded"}},
    )
    # The error may arrive after message_start and some text (anthropic-sdk-python _streaming.py).
    raw = full_stream([*STREAM_EVENTS[:4], error])

    with pytest.raises(cls) as caught:
        run_stream(provider, chat_request(MODEL, stream=True), raw)

    assert caught.value.kind == kind
    assert caught.value.retryable is retryable
    assert caught.value.provider == "anthropic"
    assert "Overloaded" in str(caught.value)


def test_malformed_stream_event_is_a_protocol_error(
    provider: AnthropicMessages, request_: ChatRequest
) -> None:
    with pytest.raises(ProviderProtocolError) as caught:
        parse_event(
            provider, request_, StreamEvent(data='{"type": "message_start", "mess', event="message_start")
        )

    assert caught.value.provider == "anthropic"


# --- classify_error --------------------------------------------------------------------------------


def _error(type_: str, message: str) -> JSON:
    # https://docs.anthropic.com/en/api/errors
    return {
        "type": "error",
        "error": {"type": type_, "message": message},
        "request_id": "req_011CSHoEeqs5C35K",
    }


@pytest.mark.parametrize(
    ("status", "body", "cls", "kind", "retryable"),
    [
        (
            400,
            _error("invalid_request_error", "prompt is too long: 208310 tokens > 200000 maximum"),
            BadRequestError,
            "context_length",
            False,
        ),
        (
            400,
            _error("invalid_request_error", "Output blocked by content filtering policy"),
            BadRequestError,
            "content_filter",
            False,
        ),
        (
            400,
            _error("invalid_request_error", "messages: roles must alternate"),
            BadRequestError,
            "bad_request",
            False,
        ),
        (401, _error("authentication_error", "invalid x-api-key"), AuthenticationError, "auth", False),
        (
            403,
            _error(
                "permission_error", "Your API key does not have permission to use the specified resource."
            ),
            AuthenticationError,
            "auth",
            False,
        ),
        (
            402,
            _error("billing_error", "Your credit balance is too low to access the Anthropic API."),
            QuotaExceededError,
            "quota_exhausted",
            False,
        ),
        (404, _error("not_found_error", "model: claude-9"), BadRequestError, "not_found", False),
        (
            413,
            _error("request_too_large", "Request exceeds the maximum allowed number of bytes."),
            BadRequestError,
            "context_length",
            False,
        ),
        (
            429,
            _error("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
            RateLimitError,
            "rate_limit",
            True,
        ),
        (500, _error("api_error", "Internal server error"), ProviderUnavailableError, "server_error", True),
        (503, b"upstream connect error", ProviderUnavailableError, "overloaded", True),
        (504, _error("timeout_error", "Request timed out"), ProviderUnavailableError, "server_error", True),
        (529, _error("overloaded_error", "Overloaded"), ProviderUnavailableError, "overloaded", True),
    ],
)
def test_classify_error(
    provider: AnthropicMessages,
    request_: ChatRequest,
    status: int,
    body: JSON,
    cls: type[ProviderError],
    kind: str,
    retryable: bool,
) -> None:
    error = provider.classify_error(http_response(status, body), request_)

    assert type(error) is cls
    assert error.kind == kind
    assert error.retryable is retryable
    assert error.status_code == status
    assert error.provider == "anthropic"
    assert error.model == MODEL
    assert error.retry_after is None


def test_classify_rate_limit_reads_retry_after(provider: AnthropicMessages, request_: ChatRequest) -> None:
    response = http_response(
        429,
        _error("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
        headers={"retry-after": "12", "anthropic-ratelimit-tokens-reset": "2026-01-01T00:00:12Z"},
    )

    error = provider.classify_error(response, request_)

    assert isinstance(error, RateLimitError)
    assert error.retry_after == 12.0
    assert "per-minute rate limit" in str(error)


# --- malformed bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json at all", id="not-json"),
        pytest.param(b"[]", id="json-array"),
        pytest.param(b'{"content": {"type": "text"}}', id="content-not-a-list"),
        pytest.param(b'{"content": ["Hello"]}', id="block-not-an-object"),
        pytest.param(b'{"content": [{"type": "text", "text": 5}]}', id="text-not-a-string"),
        pytest.param(b'{"content": [], "usage": {"input_tokens": -1}}', id="negative-count"),
        pytest.param(b'{"content": [], "usage": {"output_tokens": "503"}}', id="string-count"),
        pytest.param(b'{"content": [], "usage": {"cache_read_input_tokens": 1e3}}', id="float-count"),
        pytest.param(b'{"content": [], "stop_reason": 1}', id="stop-reason-not-a-string"),
        pytest.param(json.dumps(MESSAGE)[:120].encode(), id="truncated"),
        pytest.param(b"<html><body><h1>502 Bad Gateway</h1></body></html>", id="html"),
    ],
)
def test_malformed_body_is_a_protocol_error(
    provider: AnthropicMessages, request_: ChatRequest, body: bytes
) -> None:
    with pytest.raises(ProviderProtocolError) as caught:
        provider.parse_response(http_response(200, body), request_)

    error = caught.value
    assert error.provider == "anthropic"
    assert error.status_code == 200
    assert error.kind == "protocol_error"
    assert "HTTP 200" in str(error)
    assert body_fragment(body) in str(error)


def test_every_truncation_of_a_valid_body_is_a_protocol_error(
    provider: AnthropicMessages, request_: ChatRequest
) -> None:
    raw = json.dumps(MESSAGE).encode()
    for end in range(len(raw)):
        with pytest.raises(ProviderProtocolError):
            provider.parse_response(http_response(200, raw[:end]), request_)


# --- robustness ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", [MESSAGE, THINKING_TOOL_MESSAGE], ids=["text", "thinking-tool"])
def test_mangled_responses_parse_or_raise_provider_errors(
    provider: AnthropicMessages, request_: ChatRequest, fixture: JSON
) -> None:
    assert_robust(mangled(fixture), lambda body: provider.parse_response(http_response(200, body), request_))


@pytest.mark.parametrize(
    ("name", "event"),
    [*STREAM_EVENTS, *THINKING_EVENTS, TOOL_INPUT_EVENT, OVERLOADED_EVENT],
    ids=lambda value: value if isinstance(value, str) else "",
)
@pytest.mark.parametrize("with_event_field", [True, False], ids=["event-field", "type-only"])
def test_mangled_stream_events_parse_or_raise_provider_errors(
    provider: AnthropicMessages, request_: ChatRequest, name: str, event: JSON, with_event_field: bool
) -> None:
    event_type = name if with_event_field else None
    assert_robust(
        mangled(event),
        lambda payload: parse_event(
            provider, request_, StreamEvent(data=json.dumps(payload), event=event_type)
        ),
    )


@pytest.mark.parametrize("status", [400, 429, 529])
def test_mangled_error_bodies_still_classify(
    provider: AnthropicMessages, request_: ChatRequest, status: int
) -> None:
    body = _error("overloaded_error", "Overloaded")
    assert_robust(
        mangled(body), lambda variant: provider.classify_error(http_response(status, variant), request_)
    )


def test_spend_limit_429_is_quota_exhausted_not_a_rate_limit(
    provider: AnthropicMessages, request_: ChatRequest
) -> None:
    # Anthropic's enforced spend limit answers 429 without retry-after; waiting cannot fix it.
    body = {
        "type": "error",
        "error": {
            "type": "rate_limit_error",
            "message": "spend limit reached",
            "details": {"error_code": "enforced_spend_limit_reached"},
        },
    }
    error = provider.classify_error(http_response(429, body), request_)
    assert (error.kind, error.retryable) == ("quota_exhausted", False)
