"""Gemini generateContent: request building, responses, streams, errors and malformed bodies."""

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
from otel_llm._types import ChatRequest, Message, StreamEvent, Usage
from otel_llm.providers.gemini import GeminiGenerateContent

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

MODEL = "gemini-2.5-flash"
BASE_URL = "https://generativelanguage.googleapis.com/v1beta"


@pytest.fixture
def provider() -> GeminiGenerateContent:
    return GeminiGenerateContent(endpoint("gemini", BASE_URL, "gcp.gemini"))


@pytest.fixture
def request_() -> ChatRequest:
    return chat_request(MODEL)


# https://ai.google.dev/api/generate-content#generatecontentresponse
# (thought parts and thoughtsTokenCount: https://ai.google.dev/gemini-api/docs/thinking)
RESPONSE: JSON = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {"text": "**Weighing the options**\n\nThe user asks for a capital...", "thought": True},
                    {"text": "The capital of France is Paris."},
                ],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
            "safetyRatings": [
                {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
                {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
            ],
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 1200,
        "candidatesTokenCount": 80,
        "totalTokenCount": 1780,
        "cachedContentTokenCount": 1024,
        "thoughtsTokenCount": 500,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1200}],
        "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 1024}],
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "mAitaLmkHPPlz7IPvtfUqQY",
}

# https://ai.google.dev/gemini-api/docs/function-calling (functionCall part; finishReason is STOP)
FUNCTION_CALL_RESPONSE: JSON = {
    "candidates": [
        {
            "content": {
                "parts": [{"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}}],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {"promptTokenCount": 52, "candidatesTokenCount": 6, "totalTokenCount": 58},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "Yx8taNqLBs3Wz7IP0YWq4Ac",
}

# https://ai.google.dev/api/generate-content#PromptFeedback (blocked prompt: HTTP 200, no candidates)
BLOCKED_RESPONSE: JSON = {
    "promptFeedback": {
        "blockReason": "SAFETY",
        "safetyRatings": [
            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
            {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
        ],
    },
    "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
    "modelVersion": "gemini-2.0-flash",
}

# https://ai.google.dev/gemini-api/docs/text-generation#streaming (`:streamGenerateContent?alt=sse`):
# each event is a GenerateContentResponse; the last one has finishReason and the final usage.
STREAM_EVENTS: list[JSON] = [
    {
        "candidates": [
            {
                "content": {"parts": [{"text": "Thinking about it...", "thought": True}], "role": "model"},
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 30, "thoughtsTokenCount": 21},
        "modelVersion": MODEL,
        "responseId": "Ti4taPDVAsXWz7IP",
    },
    {
        "candidates": [{"content": {"parts": [{"text": "The sky is"}], "role": "model"}, "index": 0}],
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 33, "thoughtsTokenCount": 21},
        "modelVersion": MODEL,
        "responseId": "Ti4taPDVAsXWz7IP",
    },
    {
        "candidates": [
            {
                "content": {"parts": [{"text": " blue because of Rayleigh scattering."}], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 9,
            "candidatesTokenCount": 12,
            "totalTokenCount": 42,
            "thoughtsTokenCount": 21,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}],
        },
        "modelVersion": MODEL,
        "responseId": "Ti4taPDVAsXWz7IP",
    },
]

# https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes and
# https://cloud.google.com/apis/design/errors#error_payloads (google.rpc.Status with details)
OVERLOADED_ERROR: JSON = {
    "error": {
        "code": 503,
        "message": "The model is overloaded. Please try again later.",
        "status": "UNAVAILABLE",
    }
}


def full_stream(events: list[JSON] = STREAM_EVENTS) -> bytes:
    # Gemini frames its SSE with CRLF.
    return sse_stream(sse_data(event, newline="\r\n") for event in events)


# --- build_request ---------------------------------------------------------------------------------


def test_build_request_targets_generate_content_with_header_key(
    provider: GeminiGenerateContent, request_: ChatRequest
) -> None:
    built = provider.build_request(request_)

    assert built.method == "POST"
    assert str(built.url) == f"{BASE_URL}/models/{MODEL}:generateContent"
    assert built.headers["x-goog-api-key"] == API_KEY
    assert built.headers["content-type"] == "application/json"
    assert "authorization" not in built.headers
    # `?key=` would leak into access logs and url.full.
    assert "key" not in built.url.params
    assert API_KEY not in str(built.url)


def test_build_request_for_stream_uses_sse(provider: GeminiGenerateContent) -> None:
    built = provider.build_request(chat_request(MODEL, stream=True))

    assert built.url.path == f"/v1beta/models/{MODEL}:streamGenerateContent"
    assert dict(built.url.params) == {"alt": "sse"}
    assert API_KEY not in str(built.url)
    assert "stream" not in json_body(built)


def test_build_request_maps_roles_and_system_instruction(provider: GeminiGenerateContent) -> None:
    messages = (
        Message("system", "Be brief."),
        Message("user", "Capital of France?"),
        Message("assistant", "Paris."),
        Message("user", "And Italy?"),
    )

    body = json_body(provider.build_request(chat_request(MODEL, messages=messages)))

    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Capital of France?"}]},
        {"role": "model", "parts": [{"text": "Paris."}]},
        {"role": "user", "parts": [{"text": "And Italy?"}]},
    ]


def test_build_request_without_system_or_parameters(
    provider: GeminiGenerateContent, request_: ChatRequest
) -> None:
    body = json_body(provider.build_request(request_))

    assert "systemInstruction" not in body
    assert body.get("generationConfig", {}) == {}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]


def test_build_request_maps_sampling_parameters_into_generation_config(
    provider: GeminiGenerateContent,
) -> None:
    request = chat_request(MODEL, temperature=0.7, top_p=0.95, max_tokens=800, stop=("END",), seed=42)

    body = json_body(provider.build_request(request))

    assert body["generationConfig"] == {
        "temperature": 0.7,
        "topP": 0.95,
        "maxOutputTokens": 800,
        "stopSequences": ["END"],
        "seed": 42,
    }
    assert not {"temperature", "top_p", "max_tokens", "stop", "seed"} & body.keys()


def test_build_request_sends_attempt_number(provider: GeminiGenerateContent) -> None:
    assert provider.build_request(chat_request(MODEL, attempt=4)).headers["x-otel-llm-attempt"] == "4"


# --- parse_response --------------------------------------------------------------------------------


def test_parse_response_excludes_thought_parts_from_text(
    provider: GeminiGenerateContent, request_: ChatRequest
) -> None:
    parsed = provider.parse_response(http_response(200, RESPONSE), request_)

    assert parsed.text == "The capital of France is Paris."
    assert parsed.model == "gemini-2.5-flash"
    assert parsed.id == "mAitaLmkHPPlz7IPvtfUqQY"
    assert parsed.finish_reasons == ("stop",)


def test_parse_response_output_includes_thoughts(
    provider: GeminiGenerateContent, request_: ChatRequest
) -> None:
    usage = provider.parse_response(http_response(200, RESPONSE), request_).usage

    # promptTokenCount already includes cached tokens; thoughts are billed as output on top of candidates.
    assert usage == Usage(
        input_tokens=1200,
        output_tokens=80 + 500,
        cache_read_input_tokens=1024,
        cache_write_input_tokens=None,
        reasoning_output_tokens=500,
    )


def test_parse_response_without_thoughts(provider: GeminiGenerateContent, request_: ChatRequest) -> None:
    usage = provider.parse_response(http_response(200, FUNCTION_CALL_RESPONSE), request_).usage

    assert usage == Usage(input_tokens=52, output_tokens=6)


def test_parse_response_without_usage_reports_unknown_not_zero(
    provider: GeminiGenerateContent, request_: ChatRequest
) -> None:
    body = {k: v for k, v in RESPONSE.items() if k != "usageMetadata"}

    assert provider.parse_response(http_response(200, body), request_).usage == Usage()


def test_parse_response_function_call_is_a_tool_call(
    provider: GeminiGenerateContent, request_: ChatRequest
) -> None:
    parsed = provider.parse_response(http_response(200, FUNCTION_CALL_RESPONSE), request_)

    assert parsed.text == ""
    # Gemini says STOP; providers.md §8 normalises a candidate whose parts hold a functionCall to tool_call.
    assert parsed.finish_reasons == ("tool_call",)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "error"),
        ("OTHER", "error"),
        ("LANGUAGE", "LANGUAGE"),
    ],
)
def test_finish_reason_mapping(
    provider: GeminiGenerateContent, request_: ChatRequest, raw: str, normalised: str
) -> None:
    body = copy.deepcopy(RESPONSE)
    body["candidates"][0]["finishReason"] = raw

    assert provider.parse_response(http_response(200, body), request_).finish_reasons == (normalised,)


def test_output_blocked_by_safety_is_a_result(provider: GeminiGenerateContent, request_: ChatRequest) -> None:
    # A candidate stopped for SAFETY has no content at all; it is a filtered result, not an error.
    body = copy.deepcopy(RESPONSE)
    body["candidates"] = [{"finishReason": "SAFETY", "index": 0, "safetyRatings": []}]

    parsed = provider.parse_response(http_response(200, body), request_)

    assert parsed.text == ""
    assert parsed.finish_reasons == ("content_filter",)


def test_blocked_prompt_is_a_content_filter_error(
    provider: GeminiGenerateContent, request_: ChatRequest
) -> None:
    with pytest.raises(BadRequestError) as caught:
        provider.parse_response(http_response(200, BLOCKED_RESPONSE), request_)

    error = caught.value
    assert error.kind == "content_filter"
    assert error.status_code == 200
    assert not error.retryable
    assert error.provider == "gemini"
    assert error.model == MODEL
    assert "SAFETY" in str(error)


@pytest.mark.parametrize("reason", ["OTHER", "BLOCKLIST", "PROHIBITED_CONTENT", "IMAGE_SAFETY"])
def test_every_block_reason_is_a_content_filter_error(
    provider: GeminiGenerateContent, request_: ChatRequest, reason: str
) -> None:
    body = copy.deepcopy(BLOCKED_RESPONSE)
    body["promptFeedback"]["blockReason"] = reason

    with pytest.raises(BadRequestError) as caught:
        provider.parse_response(http_response(200, body), request_)

    assert caught.value.kind == "content_filter"


# --- streams ---------------------------------------------------------------------------------------


def test_stream_accumulates_text_usage_and_end_marker(provider: GeminiGenerateContent) -> None:
    accumulated = run_stream(provider, chat_request(MODEL, stream=True), full_stream())

    assert accumulated.completed
    response = accumulated.response()
    assert response.text == "The sky is blue because of Rayleigh scattering."
    assert response.finish_reasons == ("stop",)
    assert response.id == "Ti4taPDVAsXWz7IP"
    assert response.model == MODEL
    assert response.usage == Usage(input_tokens=9, output_tokens=12 + 21, reasoning_output_tokens=21)


def test_stream_fed_byte_by_byte_gives_the_same_result(provider: GeminiGenerateContent) -> None:
    request = chat_request(MODEL, stream=True)

    whole = run_stream(provider, request, full_stream())
    bytewise = run_stream(provider, request, full_stream(), chunk_size=1)

    assert bytewise.completed
    assert bytewise.response() == whole.response()


def test_stream_is_complete_only_at_the_finish_reason(provider: GeminiGenerateContent) -> None:
    accumulated = run_stream(provider, chat_request(MODEL, stream=True), full_stream(STREAM_EVENTS[:2]))

    assert not accumulated.completed
    assert accumulated.text == "The sky is"


def test_stream_skips_keep_alive_comments(provider: GeminiGenerateContent) -> None:
    raw = sse_stream(
        [
            sse_comment("keep-alive"),
            *(sse_data(e) for e in STREAM_EVENTS[:2]),
            sse_comment(""),
            sse_data(STREAM_EVENTS[2]),
        ]
    )

    accumulated = run_stream(provider, chat_request(MODEL, stream=True), raw)

    assert accumulated.completed
    assert accumulated.text == "The sky is blue because of Rayleigh scattering."


def test_stream_chunk_without_candidates_carries_usage_only(
    provider: GeminiGenerateContent, request_: ChatRequest
) -> None:
    payload = {"usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}, "modelVersion": MODEL}

    chunk = parse_event(provider, request_, StreamEvent(data=json.dumps(payload)))

    assert chunk is not None
    assert chunk.delta == ""
    assert not chunk.final
    assert chunk.usage == Usage(input_tokens=9)


def test_blocked_prompt_in_a_stream_raises(provider: GeminiGenerateContent) -> None:
    with pytest.raises(BadRequestError) as caught:
        run_stream(provider, chat_request(MODEL, stream=True), full_stream([BLOCKED_RESPONSE]))

    assert caught.value.kind == "content_filter"


@pytest.mark.parametrize(
    ("error", "cls", "kind"),
    [
        (OVERLOADED_ERROR, ProviderUnavailableError, "overloaded"),
        (
            {"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}},
            ProviderUnavailableError,
            "server_error",
        ),
    ],
)
def test_mid_stream_error_payload_raises(
    provider: GeminiGenerateContent, error: JSON, cls: type[ProviderError], kind: str
) -> None:
    raw = full_stream([*STREAM_EVENTS[:2], error])

    with pytest.raises(cls) as caught:
        run_stream(provider, chat_request(MODEL, stream=True), raw)

    assert caught.value.kind == kind
    assert caught.value.provider == "gemini"


def test_malformed_stream_event_is_a_protocol_error(
    provider: GeminiGenerateContent, request_: ChatRequest
) -> None:
    with pytest.raises(ProviderProtocolError) as caught:
        parse_event(
            provider, request_, StreamEvent(data='{"candidates": [{"content": {"parts": [{"text": "The')
        )

    assert caught.value.provider == "gemini"


# --- classify_error --------------------------------------------------------------------------------


def _error(code: int, status: str, message: str, *details: JSON) -> JSON:
    # https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes
    error: JSON = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return {"error": error}


def _quota_failure(quota_id: str) -> JSON:
    return {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [
            {
                "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                "quotaId": quota_id,
                "quotaDimensions": {"location": "global", "model": MODEL},
                "quotaValue": "10",
            }
        ],
    }


RETRY_INFO: JSON = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}
QUOTA_MESSAGE = "You exceeded your current quota, please check your plan and billing details."
PER_MINUTE_429 = _error(
    429,
    "RESOURCE_EXHAUSTED",
    QUOTA_MESSAGE,
    _quota_failure("GenerateRequestsPerMinutePerProjectPerModel-FreeTier"),
    RETRY_INFO,
)
PER_DAY_429 = _error(
    429,
    "RESOURCE_EXHAUSTED",
    QUOTA_MESSAGE,
    _quota_failure("GenerateRequestsPerDayPerProjectPerModel-FreeTier"),
    RETRY_INFO,
)
API_KEY_INVALID = _error(
    400,
    "INVALID_ARGUMENT",
    "API key not valid. Please pass a valid API key.",
    {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    },
)


@pytest.mark.parametrize(
    ("status", "body", "cls", "kind", "retryable"),
    [
        (400, API_KEY_INVALID, AuthenticationError, "auth", False),
        (
            400,
            _error(
                400,
                "INVALID_ARGUMENT",
                "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            ),
            BadRequestError,
            "context_length",
            False,
        ),
        (
            400,
            _error(400, "INVALID_ARGUMENT", 'Invalid JSON payload received. Unknown name "foo".'),
            BadRequestError,
            "bad_request",
            False,
        ),
        (
            400,
            _error(400, "FAILED_PRECONDITION", "User location is not supported for the API use."),
            BadRequestError,
            "bad_request",
            False,
        ),
        (
            403,
            _error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers."),
            AuthenticationError,
            "auth",
            False,
        ),
        (
            404,
            _error(404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta."),
            BadRequestError,
            "not_found",
            False,
        ),
        (429, PER_MINUTE_429, RateLimitError, "rate_limit", True),
        (429, PER_DAY_429, QuotaExceededError, "quota_exhausted", False),
        (
            500,
            _error(500, "INTERNAL", "An internal error has occurred. Please retry."),
            ProviderUnavailableError,
            "server_error",
            True,
        ),
        (503, OVERLOADED_ERROR, ProviderUnavailableError, "overloaded", True),
        (
            504,
            _error(504, "DEADLINE_EXCEEDED", "The request timed out. Please try again."),
            ProviderUnavailableError,
            "server_error",
            True,
        ),
    ],
)
def test_classify_error(
    provider: GeminiGenerateContent,
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
    assert error.provider == "gemini"
    assert error.model == MODEL


def test_classify_error_keeps_the_provider_message(
    provider: GeminiGenerateContent, request_: ChatRequest
) -> None:
    error = provider.classify_error(http_response(400, API_KEY_INVALID), request_)

    assert "API key not valid" in str(error)


def test_rate_limit_takes_retry_delay_from_retry_info(
    provider: GeminiGenerateContent, request_: ChatRequest
) -> None:
    # Gemini sends no rate-limit headers; its hint is google.rpc.RetryInfo.retryDelay (providers.md §7, §10).
    error = provider.classify_error(http_response(429, PER_MINUTE_429), request_)

    assert isinstance(error, RateLimitError)
    assert error.retry_after == 37.0


def test_retry_after_header_wins_over_retry_info(
    provider: GeminiGenerateContent, request_: ChatRequest
) -> None:
    error = provider.classify_error(
        http_response(429, PER_MINUTE_429, headers={"retry-after": "5"}), request_
    )

    assert error.retry_after == 5.0


# --- malformed bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json at all", id="not-json"),
        pytest.param(json.dumps([RESPONSE]).encode(), id="json-array"),  # a stream reply without alt=sse
        pytest.param(b'{"candidates": {"content": {}}}', id="candidates-not-a-list"),
        pytest.param(b'{"candidates": [{"content": {"parts": "text"}}]}', id="parts-not-a-list"),
        pytest.param(b'{"candidates": [{"content": {"parts": [{"text": ["a"]}]}}]}', id="text-not-a-string"),
        pytest.param(b'{"candidates": [], "usageMetadata": {"promptTokenCount": -9}}', id="negative-count"),
        pytest.param(b'{"candidates": [], "usageMetadata": {"thoughtsTokenCount": "21"}}', id="string-count"),
        pytest.param(b'{"candidates": [], "usageMetadata": 7}', id="usage-not-an-object"),
        pytest.param(json.dumps(RESPONSE)[:100].encode(), id="truncated"),
        pytest.param(b"<html><head><title>Error 502 (Server Error)!!1</title></head></html>", id="html"),
    ],
)
def test_malformed_body_is_a_protocol_error(
    provider: GeminiGenerateContent, request_: ChatRequest, body: bytes
) -> None:
    with pytest.raises(ProviderProtocolError) as caught:
        provider.parse_response(http_response(200, body), request_)

    error = caught.value
    assert error.provider == "gemini"
    assert error.status_code == 200
    assert error.kind == "protocol_error"
    assert "HTTP 200" in str(error)
    assert body_fragment(body) in str(error)


def test_every_truncation_of_a_valid_body_is_a_protocol_error(
    provider: GeminiGenerateContent, request_: ChatRequest
) -> None:
    raw = json.dumps(RESPONSE).encode()
    for end in range(len(raw)):
        with pytest.raises(ProviderProtocolError):
            provider.parse_response(http_response(200, raw[:end]), request_)


# --- robustness ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture", [RESPONSE, FUNCTION_CALL_RESPONSE, BLOCKED_RESPONSE], ids=["text", "function-call", "blocked"]
)
def test_mangled_responses_parse_or_raise_provider_errors(
    provider: GeminiGenerateContent, request_: ChatRequest, fixture: JSON
) -> None:
    assert_robust(mangled(fixture), lambda body: provider.parse_response(http_response(200, body), request_))


@pytest.mark.parametrize("event", [*STREAM_EVENTS, BLOCKED_RESPONSE, OVERLOADED_ERROR])
def test_mangled_stream_events_parse_or_raise_provider_errors(
    provider: GeminiGenerateContent, request_: ChatRequest, event: JSON
) -> None:
    assert_robust(
        mangled(event), lambda payload: parse_event(provider, request_, StreamEvent(data=json.dumps(payload)))
    )


@pytest.mark.parametrize("body", [PER_DAY_429, API_KEY_INVALID], ids=["quota", "api-key"])
@pytest.mark.parametrize("status", [400, 429, 503])
def test_mangled_error_bodies_still_classify(
    provider: GeminiGenerateContent, request_: ChatRequest, status: int, body: JSON
) -> None:
    assert_robust(
        mangled(body), lambda variant: provider.classify_error(http_response(status, variant), request_)
    )


def test_mid_stream_resource_exhausted_is_a_rate_limit(
    provider: GeminiGenerateContent, request_: ChatRequest
) -> None:
    event = StreamEvent(
        json.dumps({"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}})
    )
    with pytest.raises(ProviderError) as info:
        provider.parse_stream_event(event, request_)
    assert info.value.kind == "rate_limit"
