"""OpenAI Chat Completions: request building, responses, streams, errors and malformed bodies."""

from __future__ import annotations

import copy
import json

import httpx
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
from otel_llm._types import ChatRequest, Message, StreamEvent, Usage
from otel_llm.providers.openai import OpenAIChat

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
    sse_comment,
    sse_data,
    sse_stream,
)

MODEL = "gpt-4o-mini"


@pytest.fixture
def provider() -> OpenAIChat:
    return OpenAIChat(endpoint("openai", "https://api.openai.com/v1", "openai"))


@pytest.fixture
def request_() -> ChatRequest:
    return chat_request(MODEL)


# https://platform.openai.com/docs/api-reference/chat/object
# (usage fields: openai/openai-python src/openai/types/completion_usage.py)
COMPLETION: JSON = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Paris is the capital of France.",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "total_tokens": 2306,
        "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 192,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_fc9f1d7035",
}

# https://platform.openai.com/docs/api-reference/chat/object (tool_calls, finish_reason "tool_calls")
TOOL_CALL_COMPLETION: JSON = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1699896916,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_abc123",
                        "type": "function",
                        "function": {"name": "get_current_weather", "arguments": '{"location": "Boston"}'},
                    }
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99},
}


# https://platform.openai.com/docs/api-reference/chat-streaming/streaming
# (final usage chunk with `choices: []` when stream_options.include_usage is set; `obfuscation` padding)
def _chunk(choices: list[JSON], usage: JSON = None) -> JSON:
    return {
        "id": "chatcmpl-123",
        "object": "chat.completion.chunk",
        "created": 1694268190,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_44709d6fcb",
        "choices": choices,
        "usage": usage,
        "obfuscation": "8fw3",
    }


def _delta(delta: JSON, finish_reason: str | None = None) -> JSON:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


STREAM_USAGE: JSON = {
    "prompt_tokens": 19,
    "completion_tokens": 10,
    "total_tokens": 29,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
}

STREAM_EVENTS: list[JSON] = [
    _chunk([_delta({"role": "assistant", "content": "", "refusal": None})]),
    _chunk([_delta({"content": "Hello"})]),
    _chunk([_delta({"content": " there"})]),
    _chunk([_delta({"content": "!"})]),
    _chunk([_delta({}, "stop")]),
    _chunk([], STREAM_USAGE),
]

# https://learn.microsoft.com/en-us/azure/ai-foundry/openai/concepts/content-filter
# (Azure's first chunk: no choices, only prompt filter results)
AZURE_PROMPT_FILTER_CHUNK: JSON = {
    "choices": [],
    "created": 0,
    "id": "",
    "model": "",
    "object": "",
    "prompt_filter_results": [
        {
            "prompt_index": 0,
            "content_filter_results": {
                "hate": {"filtered": False, "severity": "safe"},
                "self_harm": {"filtered": False, "severity": "safe"},
                "sexual": {"filtered": False, "severity": "safe"},
                "violence": {"filtered": False, "severity": "safe"},
            },
        }
    ],
}


def full_stream() -> bytes:
    blocks = [sse_data(STREAM_EVENTS[0]), sse_comment("keep-alive")]
    blocks += [sse_data(event) for event in STREAM_EVENTS[1:]]
    return sse_stream([*blocks, sse_data("[DONE]")])


# --- build_request ---------------------------------------------------------------------------------


def test_build_request_targets_chat_completions_with_bearer_key(
    provider: OpenAIChat, request_: ChatRequest
) -> None:
    built = provider.build_request(request_)

    assert built.method == "POST"
    assert str(built.url) == "https://api.openai.com/v1/chat/completions"
    assert built.headers["authorization"] == f"Bearer {API_KEY}"
    assert built.headers["content-type"] == "application/json"
    assert API_KEY not in str(built.url)
    assert json_body(built) == {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}


def test_build_request_tolerates_trailing_slash_in_base_url() -> None:
    provider = OpenAIChat(endpoint("openai", "https://api.openai.com/v1/", "openai"))

    assert (
        str(provider.build_request(chat_request(MODEL)).url) == "https://api.openai.com/v1/chat/completions"
    )


def test_build_request_without_key_sends_no_authorization() -> None:
    provider = OpenAIChat(endpoint("vllm", "http://gpu-box:8000/v1", "openai", api_key=None))

    built = provider.build_request(chat_request("meta-llama/Llama-3.1-8B-Instruct"))

    assert str(built.url) == "http://gpu-box:8000/v1/chat/completions"
    assert "authorization" not in built.headers


def test_build_request_keeps_system_messages_in_order(provider: OpenAIChat) -> None:
    messages = (
        Message("system", "Be brief."),
        Message("user", "Capital of France?"),
        Message("assistant", "Paris."),
        Message("user", "And Italy?"),
    )

    body = json_body(provider.build_request(chat_request(MODEL, messages=messages)))

    assert body["messages"] == [{"role": m.role, "content": m.content} for m in messages]


def test_build_request_maps_sampling_parameters(provider: OpenAIChat) -> None:
    request = chat_request(MODEL, temperature=0.2, top_p=0.9, max_tokens=256, stop=("END", "##"), seed=7)

    body = json_body(provider.build_request(request))

    assert body["temperature"] == 0.2
    assert body["top_p"] == 0.9
    assert body["max_tokens"] == 256
    assert body["stop"] == ["END", "##"]
    assert body["seed"] == 7


def test_build_request_omits_unset_parameters(provider: OpenAIChat, request_: ChatRequest) -> None:
    body = json_body(provider.build_request(request_))

    assert not {"temperature", "top_p", "max_tokens", "stop", "seed", "stream"} & body.keys()
    assert None not in body.values()


def test_build_request_for_stream_always_asks_for_usage(provider: OpenAIChat) -> None:
    body = json_body(provider.build_request(chat_request(MODEL, stream=True)))

    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_build_request_sends_attempt_number(provider: OpenAIChat) -> None:
    built = provider.build_request(chat_request(MODEL, attempt=3))

    assert built.headers["x-otel-llm-attempt"] == "3"


# --- parse_response --------------------------------------------------------------------------------


def test_parse_response_reads_text_model_id_and_finish_reason(
    provider: OpenAIChat, request_: ChatRequest
) -> None:
    parsed = provider.parse_response(http_response(200, COMPLETION), request_)

    assert parsed.text == "Paris is the capital of France."
    assert parsed.model == "gpt-4o-mini-2024-07-18"
    assert parsed.id == "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"
    assert parsed.finish_reasons == ("stop",)


def test_parse_response_normalises_usage_cached_within_prompt(
    provider: OpenAIChat, request_: ChatRequest
) -> None:
    usage = provider.parse_response(http_response(200, COMPLETION), request_).usage

    # cached_tokens is a subset of prompt_tokens and reasoning of completion: nothing is added.
    assert usage == Usage(
        input_tokens=2006,
        output_tokens=300,
        cache_read_input_tokens=1920,
        cache_write_input_tokens=None,
        reasoning_output_tokens=192,
    )


def test_parse_response_reads_openrouter_cache_writes(provider: OpenAIChat, request_: ChatRequest) -> None:
    body = copy.deepcopy(COMPLETION)
    body["usage"]["prompt_tokens_details"] = {"cached_tokens": 0, "cache_write_tokens": 1500}

    usage = provider.parse_response(http_response(200, body), request_).usage

    assert usage.input_tokens == 2006
    assert usage.cache_write_input_tokens == 1500


def test_parse_response_tool_call_has_empty_text(provider: OpenAIChat, request_: ChatRequest) -> None:
    parsed = provider.parse_response(http_response(200, TOOL_CALL_COMPLETION), request_)

    assert parsed.text == ""
    assert parsed.finish_reasons == ("tool_call",)
    assert parsed.usage == Usage(input_tokens=82, output_tokens=17)


def test_parse_response_without_usage_reports_unknown_not_zero(
    provider: OpenAIChat, request_: ChatRequest
) -> None:
    body = {k: v for k, v in COMPLETION.items() if k != "usage"}

    assert provider.parse_response(http_response(200, body), request_).usage == Usage()


def test_parse_response_without_details_leaves_subsets_unknown(
    provider: OpenAIChat, request_: ChatRequest
) -> None:
    body = copy.deepcopy(COMPLETION)
    body["usage"] = {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}

    usage = provider.parse_response(http_response(200, body), request_).usage

    assert usage == Usage(input_tokens=5, output_tokens=6)
    assert usage.cache_read_input_tokens is None
    assert usage.reasoning_output_tokens is None


def test_parse_response_reports_one_finish_reason_per_choice(
    provider: OpenAIChat, request_: ChatRequest
) -> None:
    body = copy.deepcopy(COMPLETION)
    second = copy.deepcopy(body["choices"][0])
    second.update(index=1, finish_reason="length")
    second["message"]["content"] = "Paris"
    body["choices"].append(second)

    parsed = provider.parse_response(http_response(200, body), request_)

    assert parsed.text == "Paris is the capital of France."
    assert parsed.finish_reasons == ("stop", "length")


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_call"),
        ("function_call", "tool_call"),
        ("content_filter", "content_filter"),
        ("error", "error"),
        ("something_new", "something_new"),
    ],
)
def test_finish_reason_mapping(
    provider: OpenAIChat, request_: ChatRequest, raw: str, normalised: str
) -> None:
    body = copy.deepcopy(COMPLETION)
    body["choices"][0]["finish_reason"] = raw

    assert provider.parse_response(http_response(200, body), request_).finish_reasons == (normalised,)


def test_null_finish_reason_is_not_reported(provider: OpenAIChat, request_: ChatRequest) -> None:
    body = copy.deepcopy(COMPLETION)
    body["choices"][0]["finish_reason"] = None

    assert provider.parse_response(http_response(200, body), request_).finish_reasons == ()


# --- streams ---------------------------------------------------------------------------------------


def test_stream_accumulates_text_usage_and_end_marker(provider: OpenAIChat) -> None:
    request = chat_request(MODEL, stream=True)

    accumulated = run_stream(provider, request, full_stream())

    assert accumulated.completed
    response = accumulated.response()
    assert response.text == "Hello there!"
    assert response.finish_reasons == ("stop",)
    assert response.id == "chatcmpl-123"
    assert response.model == "gpt-4o-mini-2024-07-18"
    assert response.usage == Usage(
        input_tokens=19, output_tokens=10, cache_read_input_tokens=0, reasoning_output_tokens=0
    )


def test_stream_fed_byte_by_byte_gives_the_same_result(provider: OpenAIChat) -> None:
    request = chat_request(MODEL, stream=True)

    whole = run_stream(provider, request, full_stream())
    bytewise = run_stream(provider, request, full_stream(), chunk_size=1)

    assert bytewise.response() == whole.response()
    assert bytewise.completed


def test_stream_with_crlf_framing(provider: OpenAIChat) -> None:
    raw = sse_stream(
        [sse_data(e, newline="\r\n") for e in STREAM_EVENTS] + [sse_data("[DONE]", newline="\r\n")]
    )

    accumulated = run_stream(provider, chat_request(MODEL, stream=True), raw)

    assert accumulated.completed
    assert accumulated.text == "Hello there!"


def test_done_marker_is_final_and_carries_nothing(provider: OpenAIChat, request_: ChatRequest) -> None:
    chunk = parse_event(provider, request_, StreamEvent(data="[DONE]"))

    assert chunk is not None
    assert chunk.final
    assert chunk.delta == ""
    assert chunk.usage is None


def test_stream_without_done_is_not_complete(provider: OpenAIChat) -> None:
    raw = sse_stream(sse_data(e) for e in STREAM_EVENTS[:3])

    accumulated = run_stream(provider, chat_request(MODEL, stream=True), raw)

    assert not accumulated.completed
    assert accumulated.text == "Hello there"
    assert accumulated.response().usage == Usage()  # interrupted before the usage chunk: unknown


def test_stream_usage_chunk_with_empty_choices(provider: OpenAIChat, request_: ChatRequest) -> None:
    chunk = parse_event(provider, request_, StreamEvent(data=json.dumps(STREAM_EVENTS[-1])))

    assert chunk is not None
    assert chunk.delta == ""
    assert chunk.finish_reason is None
    assert chunk.usage is not None
    assert chunk.usage.input_tokens == 19
    assert not chunk.final


def test_content_chunks_carry_no_usage(provider: OpenAIChat, request_: ChatRequest) -> None:
    chunk = parse_event(provider, request_, StreamEvent(data=json.dumps(STREAM_EVENTS[1])))

    assert chunk is not None
    assert chunk.delta == "Hello"
    assert chunk.usage is None


def test_azure_prompt_filter_chunk_is_tolerated(provider: OpenAIChat) -> None:
    raw = sse_stream(
        [sse_data(AZURE_PROMPT_FILTER_CHUNK), *(sse_data(e) for e in STREAM_EVENTS), sse_data("[DONE]")]
    )

    accumulated = run_stream(provider, chat_request(MODEL, stream=True), raw)

    assert accumulated.completed
    assert accumulated.text == "Hello there!"
    # Azure's empty id/model must not hide the real ones.
    assert accumulated.id == "chatcmpl-123"
    assert accumulated.model == "gpt-4o-mini-2024-07-18"


def test_stream_without_usage_chunk_reports_unknown_usage(provider: OpenAIChat) -> None:
    # A server that ignores stream_options (some OpenAI-compatible ones) sends no usage at all.
    raw = sse_stream([*(sse_data(e) for e in STREAM_EVENTS[:-1]), sse_data("[DONE]")])

    accumulated = run_stream(provider, chat_request(MODEL, stream=True), raw)

    assert accumulated.completed
    assert accumulated.response().usage == Usage()


@pytest.mark.parametrize(
    ("error", "cls", "kind"),
    [
        (
            {"message": "The server had an error while processing your request.", "type": "server_error"},
            ProviderUnavailableError,
            "server_error",
        ),
        (
            {"message": "maximum context length exceeded", "code": "context_length_exceeded"},
            BadRequestError,
            "context_length",
        ),
        # No status mid-stream: only the code tells a throttled or overloaded server from a failed one.
        (
            {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"},
            RateLimitError,
            "rate_limit",
        ),
        (
            {"message": "The server is overloaded.", "type": "server_error", "code": "server_is_overloaded"},
            ProviderUnavailableError,
            "overloaded",
        ),
        (
            {"message": "Please slow down.", "type": "server_error", "code": "slow_down"},
            ProviderUnavailableError,
            "overloaded",
        ),
    ],
)
def test_mid_stream_error_event_raises(
    provider: OpenAIChat, error: JSON, cls: type[ProviderError], kind: str
) -> None:
    # https://github.com/openai/openai-python src/openai/_streaming.py raises for any event with "error"
    raw = sse_stream([sse_data(STREAM_EVENTS[0]), sse_data(STREAM_EVENTS[1]), sse_data({"error": error})])

    with pytest.raises(cls) as caught:
        run_stream(provider, chat_request(MODEL, stream=True), raw)

    assert caught.value.kind == kind
    assert caught.value.provider == "openai"
    assert caught.value.model == MODEL


def test_malformed_stream_event_is_a_protocol_error(provider: OpenAIChat, request_: ChatRequest) -> None:
    with pytest.raises(ProviderProtocolError) as caught:
        parse_event(provider, request_, StreamEvent(data='{"choices": [{"delta": '))

    assert caught.value.provider == "openai"


# --- classify_error --------------------------------------------------------------------------------


def _error(message: str, type_: str | None, code: str | None, param: str | None = None) -> JSON:
    # https://platform.openai.com/docs/guides/error-codes
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


@pytest.mark.parametrize(
    ("status", "body", "cls", "kind", "retryable"),
    [
        (
            401,
            _error("Incorrect API key provided: sk-test.", "invalid_request_error", "invalid_api_key"),
            AuthenticationError,
            "auth",
            False,
        ),
        (
            403,
            _error(
                "Country, region, or territory not supported",
                "request_forbidden",
                "unsupported_country_region_territory",
            ),
            AuthenticationError,
            "auth",
            False,
        ),
        (
            402,
            {"error": {"code": 402, "message": "Insufficient credits. Add more using the dashboard."}},
            QuotaExceededError,
            "quota_exhausted",
            False,
        ),
        (
            404,
            _error("The model `gpt-9` does not exist.", "invalid_request_error", "model_not_found", "model"),
            BadRequestError,
            "not_found",
            False,
        ),
        (
            400,
            _error(
                "This model's maximum context length is 128000 tokens. However, your messages "
                "resulted in 130412 tokens. Please reduce the length of the messages.",
                "invalid_request_error",
                "context_length_exceeded",
                "messages",
            ),
            BadRequestError,
            "context_length",
            False,
        ),
        (
            400,
            _error(
                "Your request was rejected as a result of our safety system.",
                "invalid_request_error",
                "content_policy_violation",
            ),
            BadRequestError,
            "content_filter",
            False,
        ),
        (
            # https://learn.microsoft.com/en-us/azure/ai-foundry/openai/concepts/content-filter
            400,
            _error(
                "The response was filtered due to the prompt triggering Azure OpenAI's content "
                "management policy.",
                None,
                "content_filter",
                "prompt",
            ),
            BadRequestError,
            "content_filter",
            False,
        ),
        (
            400,
            _error("'messages' is a required property", "invalid_request_error", None, "messages"),
            BadRequestError,
            "bad_request",
            False,
        ),
        (
            429,
            _error(
                "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3.",
                "requests",
                "rate_limit_exceeded",
            ),
            RateLimitError,
            "rate_limit",
            True,
        ),
        (
            429,
            _error(
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                "insufficient_quota",
            ),
            QuotaExceededError,
            "quota_exhausted",
            False,
        ),
        (
            500,
            _error("The server had an error while processing your request.", "server_error", None),
            ProviderUnavailableError,
            "server_error",
            True,
        ),
        (
            503,
            _error("The engine is currently overloaded, please try again later.", "server_error", None),
            ProviderUnavailableError,
            "overloaded",
            True,
        ),
        (
            503,
            _error("Please reduce your request rate.", "server_error", "slow_down"),
            ProviderUnavailableError,
            "overloaded",
            True,
        ),
        (
            504,
            "<html><body><h1>504 Gateway Time-out</h1></body></html>",
            ProviderUnavailableError,
            "server_error",
            True,
        ),
    ],
)
def test_classify_error(
    provider: OpenAIChat,
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
    assert error.provider == "openai"
    assert error.model == MODEL
    assert error.retry_after is None


def test_classify_error_keeps_the_provider_message(provider: OpenAIChat, request_: ChatRequest) -> None:
    body = _error("You exceeded your current quota.", "insufficient_quota", "insufficient_quota")

    error = provider.classify_error(http_response(429, body), request_)

    assert "You exceeded your current quota." in str(error)


def test_classify_rate_limit_reads_retry_after_ms(provider: OpenAIChat, request_: ChatRequest) -> None:
    body = _error("Rate limit reached.", "requests", "rate_limit_exceeded")
    response = http_response(429, body, headers={"retry-after-ms": "1500", "retry-after": "2"})

    error = provider.classify_error(response, request_)

    assert isinstance(error, RateLimitError)
    assert error.retry_after == pytest.approx(1.5)


# --- malformed bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json at all", id="not-json"),
        pytest.param(b"[]", id="json-array"),
        pytest.param(b'"chat.completion"', id="json-string"),
        pytest.param(b'{"choices": {"0": {}}}', id="choices-not-a-list"),
        pytest.param(b'{"choices": ["stop"]}', id="choice-not-an-object"),
        pytest.param(b'{"choices": [{"message": "hi"}]}', id="message-not-an-object"),
        pytest.param(b'{"choices": [], "usage": {"prompt_tokens": -3}}', id="negative-count"),
        pytest.param(b'{"choices": [], "usage": {"prompt_tokens": "12"}}', id="string-count"),
        pytest.param(b'{"choices": [], "usage": {"prompt_tokens": 1.5}}', id="float-count"),
        pytest.param(b'{"choices": [], "usage": {"prompt_tokens": true}}', id="bool-count"),
        pytest.param(b'{"choices": [], "usage": [1, 2]}', id="usage-not-an-object"),
        pytest.param(json.dumps(COMPLETION)[:150].encode(), id="truncated"),
        pytest.param(b"\xff\xfe\x00garbage", id="not-utf8"),
        pytest.param(
            b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            id="html",
        ),
        pytest.param(b"", id="empty"),
    ],
)
def test_malformed_body_is_a_protocol_error(provider: OpenAIChat, request_: ChatRequest, body: bytes) -> None:
    with pytest.raises(ProviderProtocolError) as caught:
        provider.parse_response(http_response(200, body), request_)

    error = caught.value
    assert error.provider == "openai"
    assert error.model == MODEL
    assert error.status_code == 200
    assert error.kind == "protocol_error"
    assert "HTTP 200" in str(error)
    assert body_fragment(body) in str(error)


def test_protocol_error_quotes_only_a_short_excerpt(provider: OpenAIChat, request_: ChatRequest) -> None:
    body = b"<html>" + b"x" * 10_000 + b"</html>"

    with pytest.raises(ProviderProtocolError) as caught:
        provider.parse_response(http_response(200, body), request_)

    assert "<html>xxx" in str(caught.value)
    assert len(str(caught.value)) < 500


def test_every_truncation_of_a_valid_body_is_a_protocol_error(
    provider: OpenAIChat, request_: ChatRequest
) -> None:
    raw = json.dumps(COMPLETION).encode()
    for end in range(len(raw)):
        with pytest.raises(ProviderProtocolError):
            provider.parse_response(http_response(200, raw[:end]), request_)


# --- robustness ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", [COMPLETION, TOOL_CALL_COMPLETION], ids=["text", "tool-call"])
def test_mangled_responses_parse_or_raise_provider_errors(
    provider: OpenAIChat, request_: ChatRequest, fixture: JSON
) -> None:
    count = assert_robust(
        mangled(fixture), lambda body: provider.parse_response(http_response(200, body), request_)
    )
    assert count > 200


@pytest.mark.parametrize(
    "event",
    [*STREAM_EVENTS, AZURE_PROMPT_FILTER_CHUNK, {"error": {"message": "boom", "type": "server_error"}}],
)
def test_mangled_stream_events_parse_or_raise_provider_errors(
    provider: OpenAIChat, request_: ChatRequest, event: JSON
) -> None:
    assert_robust(
        mangled(event), lambda payload: parse_event(provider, request_, StreamEvent(data=json.dumps(payload)))
    )


@pytest.mark.parametrize("status", [400, 429, 500])
def test_mangled_error_bodies_still_classify(
    provider: OpenAIChat, request_: ChatRequest, status: int
) -> None:
    body = _error("Rate limit reached.", "requests", "rate_limit_exceeded")
    assert_robust(
        mangled(body), lambda variant: provider.classify_error(http_response(status, variant), request_)
    )


def test_classify_error_with_undecodable_body(provider: OpenAIChat, request_: ChatRequest) -> None:
    response = httpx.Response(429, content=b"\x80\x81", request=httpx.Request("POST", "https://x.invalid"))

    error = provider.classify_error(response, request_)

    assert isinstance(error, RateLimitError)
    assert error.status_code == 429
