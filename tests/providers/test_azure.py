"""Azure OpenAI: URL forms, `api-key` auth, content filter results, blocked prompts and retry headers."""

from __future__ import annotations

import copy
import json

import httpx
import pytest

from otel_llm._config import ProviderSettings, build_provider
from otel_llm._exceptions import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ProviderError,
    ProviderProtocolError,
    ProviderUnavailableError,
    RateLimitError,
)
from otel_llm._types import ChatRequest, EmbeddingsRequest, Message, StreamEvent, Tool, Usage
from otel_llm.providers import BUILTIN, WIRES, Endpoint
from otel_llm.providers.azure import DEFAULT_API_VERSION, AzureOpenAI

from ._support import (
    API_KEY,
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

RESOURCE = "https://contoso-eastus.openai.azure.com"
DEPLOYMENT = "gpt-4o-prod"


def azure(base_url: str = RESOURCE, api_key: str | None = API_KEY) -> AzureOpenAI:
    return AzureOpenAI(endpoint("azure", base_url, "azure.ai.openai", api_key))


@pytest.fixture
def provider() -> AzureOpenAI:
    return azure()


@pytest.fixture
def request_() -> ChatRequest:
    return chat_request(DEPLOYMENT)


# --- URL forms -------------------------------------------------------------------------------------

DEPLOYMENTS_CHAT = f"{RESOURCE}/openai/deployments/{DEPLOYMENT}/chat/completions?api-version="
V1_CHAT = f"{RESOURCE}/openai/v1/chat/completions"


@pytest.mark.parametrize(
    ("base_url", "chat_url", "embeddings_url", "api_version"),
    [
        pytest.param(
            RESOURCE,
            DEPLOYMENTS_CHAT + DEFAULT_API_VERSION,
            f"{RESOURCE}/openai/deployments/ada-3/embeddings?api-version={DEFAULT_API_VERSION}",
            DEFAULT_API_VERSION,
            id="resource",
        ),
        pytest.param(
            RESOURCE + "/",
            DEPLOYMENTS_CHAT + DEFAULT_API_VERSION,
            f"{RESOURCE}/openai/deployments/ada-3/embeddings?api-version={DEFAULT_API_VERSION}",
            DEFAULT_API_VERSION,
            id="resource-trailing-slash",
        ),
        pytest.param(
            RESOURCE + "/openai/",
            DEPLOYMENTS_CHAT + DEFAULT_API_VERSION,
            f"{RESOURCE}/openai/deployments/ada-3/embeddings?api-version={DEFAULT_API_VERSION}",
            DEFAULT_API_VERSION,
            id="resource-with-openai-path",
        ),
        pytest.param(
            RESOURCE + "?api-version=2025-04-01-preview",
            DEPLOYMENTS_CHAT + "2025-04-01-preview",
            f"{RESOURCE}/openai/deployments/ada-3/embeddings?api-version=2025-04-01-preview",
            "2025-04-01-preview",
            id="pinned-preview",
        ),
        pytest.param(RESOURCE + "/openai/v1", V1_CHAT, f"{RESOURCE}/openai/v1/embeddings", None, id="v1"),
        pytest.param(
            RESOURCE + "/openai/v1/",
            V1_CHAT,
            f"{RESOURCE}/openai/v1/embeddings",
            None,
            id="v1-trailing-slash",
        ),
        pytest.param(
            RESOURCE + "/openai/v1?api-version=preview",
            V1_CHAT + "?api-version=preview",
            f"{RESOURCE}/openai/v1/embeddings?api-version=preview",
            "preview",
            id="v1-preview",
        ),
        pytest.param(
            # Azure AI Foundry resources speak the same paths on another host.
            "https://contoso.services.ai.azure.com",
            f"https://contoso.services.ai.azure.com/openai/deployments/{DEPLOYMENT}/chat/completions"
            f"?api-version={DEFAULT_API_VERSION}",
            f"https://contoso.services.ai.azure.com/openai/deployments/ada-3/embeddings"
            f"?api-version={DEFAULT_API_VERSION}",
            DEFAULT_API_VERSION,
            id="foundry-host",
        ),
    ],
)
def test_url_forms(base_url: str, chat_url: str, embeddings_url: str, api_version: str | None) -> None:
    provider = azure(base_url)

    assert str(provider.build_request(chat_request(DEPLOYMENT)).url) == chat_url
    built = provider.build_embeddings_request(EmbeddingsRequest(model="ada-3", inputs=("hi",)))
    assert str(built.url) == embeddings_url
    assert provider.api_version == api_version
    assert provider.v1 is base_url.split("?")[0].rstrip("/").endswith("/v1")


def test_deployments_form_sends_the_deployment_in_the_path_and_the_body(
    provider: AzureOpenAI, request_: ChatRequest
) -> None:
    # https://learn.microsoft.com/azure/ai-foundry/openai/reference#chat-completions
    built = provider.build_request(request_)

    assert built.method == "POST"
    assert built.url.path == f"/openai/deployments/{DEPLOYMENT}/chat/completions"
    assert built.url.params["api-version"] == DEFAULT_API_VERSION
    assert json_body(built) == {"model": DEPLOYMENT, "messages": [{"role": "user", "content": "hi"}]}


def test_v1_form_sends_the_deployment_as_the_model() -> None:
    # https://learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle (v1 API)
    built = azure(RESOURCE + "/openai/v1").build_request(chat_request(DEPLOYMENT, stream=True))

    assert str(built.url) == V1_CHAT
    assert "api-version" not in built.url.params
    assert json_body(built) == {
        "model": DEPLOYMENT,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_deployment_names_cannot_add_path_segments() -> None:
    built = azure().build_request(chat_request("../../admin?x=1"))

    assert built.url.raw_path.startswith(b"/openai/deployments/..%2F..%2Fadmin%3Fx%3D1/chat/completions?")
    assert dict(built.url.params) == {"api-version": DEFAULT_API_VERSION}


def test_repeated_requests_reuse_the_same_url(provider: AzureOpenAI) -> None:
    urls = {str(provider.build_request(chat_request(DEPLOYMENT, attempt=n)).url) for n in (1, 2, 3)}

    assert urls == {DEPLOYMENTS_CHAT + DEFAULT_API_VERSION}


def test_stream_always_asks_for_usage(provider: AzureOpenAI) -> None:
    body = json_body(provider.build_request(chat_request(DEPLOYMENT, stream=True, max_tokens=64)))

    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 64


def test_tools_travel_as_on_openai(provider: AzureOpenAI) -> None:
    tool = Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {}}})

    body = json_body(provider.build_request(chat_request(DEPLOYMENT, tools=(tool,), tool_choice="auto")))

    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {}}},
                "description": "Weather for a city",
            },
        }
    ]
    assert body["tool_choice"] == "auto"


# --- auth ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("base_url", [RESOURCE, RESOURCE + "/openai/v1"], ids=["deployments", "v1"])
@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
def test_key_travels_in_the_api_key_header_only(base_url: str, stream: bool) -> None:
    built = azure(base_url).build_request(chat_request(DEPLOYMENT, stream=stream))

    assert built.headers["api-key"] == API_KEY
    assert "authorization" not in built.headers
    assert API_KEY not in str(built.url)
    assert API_KEY.encode() not in built.content
    assert built.headers["content-type"] == "application/json"
    assert built.headers["x-otel-llm-attempt"] == "1"


def test_embeddings_key_travels_in_the_api_key_header_only(provider: AzureOpenAI) -> None:
    built = provider.build_embeddings_request(EmbeddingsRequest(model="ada-3", inputs=("a",), attempt=2))

    assert built.headers["api-key"] == API_KEY
    assert built.headers["x-otel-llm-attempt"] == "2"
    assert "authorization" not in built.headers
    assert API_KEY not in str(built.url)


def test_no_key_sends_no_credential_header() -> None:
    built = azure(api_key=None).build_request(chat_request(DEPLOYMENT))

    assert not {"api-key", "authorization"} & set(built.headers.keys())


# --- server attributes and configuration -----------------------------------------------------------


def test_server_address_and_port(provider: AzureOpenAI) -> None:
    assert provider.server_address == "contoso-eastus.openai.azure.com"
    assert provider.server_port == 443
    assert azure("https://gateway.internal:8443/openai/v1").server_port == 8443
    assert provider.semconv_name == "azure.ai.openai"


def test_builtin_entry() -> None:
    spec = BUILTIN["azure"]

    assert isinstance(
        spec.wire(Endpoint("azure", "https://r.openai.azure.com", "k", "azure.ai.openai")), AzureOpenAI
    )
    assert spec.semconv_name == "azure.ai.openai"
    assert spec.api_key_env == "AZURE_OPENAI_API_KEY"
    assert spec.base_url == ""  # no public endpoint: every resource has its own host
    assert isinstance(
        WIRES["azure"](Endpoint("azure-2", "https://r2.openai.azure.com", "k", "azure.ai.openai")),
        AzureOpenAI,
    )


def test_build_provider_reads_the_key_from_the_environment() -> None:
    provider = build_provider(
        "azure", ProviderSettings(base_url=RESOURCE), {"AZURE_OPENAI_API_KEY": "env-key"}
    )

    assert isinstance(provider, AzureOpenAI)
    assert provider.semconv_name == "azure.ai.openai"
    assert provider.build_request(chat_request(DEPLOYMENT)).headers["api-key"] == "env-key"


def test_build_provider_without_a_base_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_provider("azure", None, {"AZURE_OPENAI_API_KEY": "env-key"})

    assert caught.value.field == "providers.azure.base_url"


def test_a_second_resource_is_a_custom_provider_with_the_azure_wire() -> None:
    settings = ProviderSettings(
        wire="azure", base_url="https://contoso-westeurope.openai.azure.com", semconv_name="azure.ai.openai"
    )

    provider = build_provider("azure-eu", settings, {})

    assert isinstance(provider, AzureOpenAI)
    assert provider.name == "azure-eu"
    assert provider.semconv_name == "azure.ai.openai"


# --- responses -------------------------------------------------------------------------------------


def _filter_results(filtered_category: str | None = None) -> JSON:
    # https://learn.microsoft.com/azure/ai-foundry/openai/concepts/content-filter (annotations)
    return {
        category: {
            "filtered": category == filtered_category,
            "severity": "high" if category == filtered_category else "safe",
        }
        for category in ("hate", "self_harm", "sexual", "violence")
    }


# https://learn.microsoft.com/azure/ai-foundry/openai/reference#createchatcompletionresponse
COMPLETION: JSON = {
    "id": "chatcmpl-AzEaZ9PbOq4pU3sG6wr6H4NJLNnyh",
    "object": "chat.completion",
    "created": 1739200515,
    "model": "gpt-4o-2024-11-20",
    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _filter_results()}],
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "logprobs": None,
            "message": {
                "role": "assistant",
                "content": "Azure OpenAI is a managed service.",
                "refusal": None,
            },
            "content_filter_results": _filter_results(),
        }
    ],
    "usage": {
        "completion_tokens": 9,
        "prompt_tokens": 1536,
        "total_tokens": 1545,
        "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 1024},
        "completion_tokens_details": {
            "accepted_prediction_tokens": 0,
            "audio_tokens": 0,
            "reasoning_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "system_fingerprint": "fp_f3927aa00d",
}


def test_parse_response_with_filter_annotations(provider: AzureOpenAI, request_: ChatRequest) -> None:
    parsed = provider.parse_response(http_response(200, COMPLETION), request_)

    assert parsed.text == "Azure OpenAI is a managed service."
    assert parsed.model == "gpt-4o-2024-11-20"
    assert parsed.id == "chatcmpl-AzEaZ9PbOq4pU3sG6wr6H4NJLNnyh"
    assert parsed.finish_reasons == ("stop",)
    assert parsed.usage == Usage(
        input_tokens=1536, output_tokens=9, cache_read_input_tokens=1024, reasoning_output_tokens=0
    )


def test_filtered_output_is_a_content_filter_finish(provider: AzureOpenAI, request_: ChatRequest) -> None:
    body = copy.deepcopy(COMPLETION)
    choice = body["choices"][0]
    choice.update(finish_reason="content_filter", content_filter_results=_filter_results("violence"))
    choice["message"]["content"] = None

    parsed = provider.parse_response(http_response(200, body), request_)

    assert parsed.finish_reasons == ("content_filter",)
    assert parsed.text == ""


# https://learn.microsoft.com/azure/ai-foundry/openai/concepts/content-filter (streaming): the first
# chunk has no choices, only prompt annotations, and empty ids; with the asynchronous filter,
# annotation-only chunks (no delta) arrive between content chunks.
PROMPT_FILTER_CHUNK: JSON = {
    "choices": [],
    "created": 0,
    "id": "",
    "model": "",
    "object": "",
    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _filter_results()}],
}


def _chunk(choices: list[JSON], usage: JSON = None) -> JSON:
    return {
        "choices": choices,
        "created": 1739200516,
        "id": "chatcmpl-AzEaaQ8Xr2rM8bJ6wBWh6Xv4nPs1W",
        "model": "gpt-4o-2024-11-20",
        "object": "chat.completion.chunk",
        "system_fingerprint": "fp_f3927aa00d",
        "usage": usage,
    }


ANNOTATION_ONLY_CHUNK: JSON = {
    "choices": [
        {
            "index": 0,
            "finish_reason": None,
            "content_filter_results": _filter_results(),
            "content_filter_offsets": {"check_offset": 0, "start_offset": 0, "end_offset": 12},
        }
    ],
    "created": 0,
    "id": "",
    "model": "",
    "object": "",
    "usage": None,
}

STREAM_EVENTS: list[JSON] = [
    PROMPT_FILTER_CHUNK,
    _chunk(
        [
            {
                "index": 0,
                "finish_reason": None,
                "delta": {"role": "assistant", "content": ""},
                "content_filter_results": {},
            }
        ]
    ),
    _chunk(
        [
            {
                "index": 0,
                "finish_reason": None,
                "delta": {"content": "Hello"},
                "content_filter_results": _filter_results(),
            }
        ]
    ),
    ANNOTATION_ONLY_CHUNK,
    _chunk([{"index": 0, "finish_reason": None, "delta": {"content": " from Azure"}}]),
    _chunk([{"index": 0, "finish_reason": "stop", "delta": {}, "content_filter_results": {}}]),
    _chunk([], {"completion_tokens": 3, "prompt_tokens": 12, "total_tokens": 15}),
]


def full_stream() -> bytes:
    return sse_stream([*(sse_data(e) for e in STREAM_EVENTS), sse_data("[DONE]")])


@pytest.mark.parametrize("chunk_size", [None, 1, 7], ids=["whole", "bytewise", "7-bytes"])
def test_stream_with_prompt_filter_chunk_and_annotations(
    provider: AzureOpenAI, chunk_size: int | None
) -> None:
    accumulated = run_stream(
        provider, chat_request(DEPLOYMENT, stream=True), full_stream(), chunk_size=chunk_size
    )

    assert accumulated.completed
    response = accumulated.response()
    assert response.text == "Hello from Azure"
    assert response.finish_reasons == ("stop",)
    # The prompt-filter chunk's empty id and model never hide the real ones.
    assert response.id == "chatcmpl-AzEaaQ8Xr2rM8bJ6wBWh6Xv4nPs1W"
    assert response.model == "gpt-4o-2024-11-20"
    assert response.usage == Usage(input_tokens=12, output_tokens=3)


def test_prompt_filter_chunk_carries_nothing(provider: AzureOpenAI, request_: ChatRequest) -> None:
    chunk = parse_event(provider, request_, StreamEvent(data=json.dumps(PROMPT_FILTER_CHUNK)))

    assert chunk is not None
    assert chunk.delta == ""
    assert chunk.tool_calls == ()
    assert chunk.finish_reason is None
    assert chunk.usage is None
    assert not chunk.final


def test_stream_filtered_mid_way_ends_with_content_filter(provider: AzureOpenAI) -> None:
    events = [
        *STREAM_EVENTS[:3],
        _chunk(
            [
                {
                    "index": 0,
                    "finish_reason": "content_filter",
                    "delta": {},
                    "content_filter_results": _filter_results("hate"),
                }
            ]
        ),
        _chunk([], {"completion_tokens": 1, "prompt_tokens": 12, "total_tokens": 13}),
    ]
    raw = sse_stream([*(sse_data(e) for e in events), sse_data("[DONE]")])

    accumulated = run_stream(provider, chat_request(DEPLOYMENT, stream=True), raw)

    assert accumulated.completed
    assert accumulated.response().finish_reasons == ("content_filter",)
    assert accumulated.text == "Hello"


@pytest.mark.parametrize("event", [*STREAM_EVENTS, ANNOTATION_ONLY_CHUNK])
def test_mangled_stream_events_parse_or_raise_provider_errors(
    provider: AzureOpenAI, request_: ChatRequest, event: JSON
) -> None:
    assert_robust(
        mangled(event), lambda payload: parse_event(provider, request_, StreamEvent(data=json.dumps(payload)))
    )


def test_mangled_responses_parse_or_raise_provider_errors(
    provider: AzureOpenAI, request_: ChatRequest
) -> None:
    count = assert_robust(
        mangled(COMPLETION), lambda body: provider.parse_response(http_response(200, body), request_)
    )
    assert count > 200


# --- embeddings ------------------------------------------------------------------------------------

# https://learn.microsoft.com/azure/ai-foundry/openai/reference#embeddings
EMBEDDINGS: JSON = {
    "object": "list",
    "data": [
        {"object": "embedding", "index": 1, "embedding": [0.0121, -0.0042, 0.0311]},
        {"object": "embedding", "index": 0, "embedding": [0.0023064255, -0.009327292, -0.0028842222]},
    ],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 8, "total_tokens": 8},
}


def test_embeddings_request_and_response(provider: AzureOpenAI) -> None:
    request = EmbeddingsRequest(model="ada-3", inputs=("first", "second"), dimensions=3)

    built = provider.build_embeddings_request(request)
    parsed = provider.parse_embeddings_response(http_response(200, EMBEDDINGS), request)

    assert built.method == "POST"
    assert built.url.path == "/openai/deployments/ada-3/embeddings"
    assert json_body(built) == {
        "model": "ada-3",
        "input": ["first", "second"],
        "encoding_format": "float",
        "dimensions": 3,
    }
    assert parsed.vectors == ((0.0023064255, -0.009327292, -0.0028842222), (0.0121, -0.0042, 0.0311))
    assert parsed.model == "text-embedding-3-small"
    assert parsed.usage == Usage(input_tokens=8)


def test_embeddings_count_mismatch_is_a_protocol_error(provider: AzureOpenAI) -> None:
    request = EmbeddingsRequest(model="ada-3", inputs=("only one",))

    with pytest.raises(ProviderProtocolError):
        provider.parse_embeddings_response(http_response(200, EMBEDDINGS), request)


# --- errors ----------------------------------------------------------------------------------------


def _error(message: str, code: str | None, **extra: JSON) -> JSON:
    return {"error": {"message": message, "type": None, "param": None, "code": code, **extra}}


BLOCKED = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. "
    "Please modify your prompt and retry. To learn more about our content filtering policies please read "
    "our documentation: https://go.microsoft.com/fwlink/?linkid=2198766"
)
INNER_VIOLATION: JSON = {
    "code": "ResponsibleAIPolicyViolation",
    "content_filter_result": {**_filter_results("hate"), "jailbreak": {"filtered": False, "detected": False}},
}


@pytest.mark.parametrize(
    ("status", "body", "cls", "kind"),
    [
        pytest.param(
            # https://learn.microsoft.com/azure/ai-foundry/openai/concepts/content-filter (blocked prompt)
            400,
            _error(BLOCKED, "content_filter", param="prompt", status=400, innererror=INNER_VIOLATION),
            BadRequestError,
            "content_filter",
            id="blocked-prompt",
        ),
        pytest.param(
            400,
            _error(BLOCKED, None, innererror=INNER_VIOLATION),
            BadRequestError,
            "content_filter",
            id="blocked-prompt-inner-code-only",
        ),
        pytest.param(
            400,
            _error("Request blocked.", None, innererror=INNER_VIOLATION),
            BadRequestError,
            "content_filter",
            id="inner-code-is-the-only-signal",
        ),
        pytest.param(
            400,
            _error(
                "Your request was rejected as a result of our safety system.",
                "content_policy_violation",
                innererror={"code": "ResponsibleAIPolicyViolation", "revised_prompt": None},
            ),
            BadRequestError,
            "content_filter",
            id="image-endpoint-policy",
        ),
        pytest.param(
            400,
            _error(
                "This model's maximum context length is 128000 tokens. However, your messages resulted in "
                "130412 tokens. Please reduce the length of the messages.",
                "context_length_exceeded",
            ),
            BadRequestError,
            "context_length",
            id="context-length",
        ),
        pytest.param(
            400,
            _error(
                "The api-version query parameter (?api-version=) is required for all requests.",
                "MissingApiVersionParameter",
            ),
            BadRequestError,
            "bad_request",
            id="missing-api-version",
        ),
        pytest.param(
            400,
            _error("Invalid value", "invalid_value", innererror={"code": "SomethingElse"}),
            BadRequestError,
            "bad_request",
            id="other-inner-code",
        ),
        pytest.param(
            401,
            _error(
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
                "a valid key for an active subscription and use a correct regional API endpoint for your "
                "resource.",
                "401",
            ),
            AuthenticationError,
            "auth",
            id="invalid-key",
        ),
        pytest.param(
            404,
            _error(
                "The API deployment for this resource does not exist. If you created the deployment within "
                "the last 5 minutes, please wait a moment and try again.",
                "DeploymentNotFound",
            ),
            BadRequestError,
            "not_found",
            id="deployment-not-found",
        ),
        pytest.param(
            429,
            _error(
                "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 "
                "have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after "
                "6 seconds.",
                "429",
            ),
            RateLimitError,
            "rate_limit",
            id="rate-limit",
        ),
        pytest.param(
            500,
            _error("The server had an error processing your request.", "InternalServerError"),
            ProviderUnavailableError,
            "server_error",
            id="server-error",
        ),
        pytest.param(503, b"", ProviderUnavailableError, "overloaded", id="unavailable-empty"),
    ],
)
def test_classify_error(
    provider: AzureOpenAI, request_: ChatRequest, status: int, body: JSON, cls: type[ProviderError], kind: str
) -> None:
    error = provider.classify_error(http_response(status, body), request_)

    assert type(error) is cls
    assert error.kind == kind
    assert error.status_code == status
    assert error.provider == "azure"
    assert error.model == DEPLOYMENT


def test_blocked_prompt_keeps_the_message_and_is_not_retryable(
    provider: AzureOpenAI, request_: ChatRequest
) -> None:
    body = _error(BLOCKED, None, innererror=INNER_VIOLATION)

    error = provider.classify_error(http_response(400, body), request_)

    assert "content management policy" in str(error)
    assert not error.retryable
    assert not error.is_provider_fault


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"retry-after": "6"}, 6.0, id="retry-after"),
        pytest.param({"retry-after-ms": "6000", "retry-after": "6"}, 6.0, id="retry-after-ms"),
        pytest.param({"x-ms-retry-after-ms": "5500", "retry-after": "6"}, 5.5, id="x-ms-retry-after-ms"),
        pytest.param(
            {"retry-after-ms": "250", "x-ms-retry-after-ms": "5500", "retry-after": "6"}, 0.25, id="ms-first"
        ),
    ],
)
def test_rate_limit_reads_azure_retry_headers(
    provider: AzureOpenAI, request_: ChatRequest, headers: dict[str, str], expected: float
) -> None:
    body = _error("Requests ... have exceeded token rate limit.", "429")

    error = provider.classify_error(http_response(429, body, headers=headers), request_)

    assert isinstance(error, RateLimitError)
    assert error.retry_after == pytest.approx(expected)


@pytest.mark.parametrize("status", [400, 429, 500])
def test_mangled_error_bodies_still_classify(
    provider: AzureOpenAI, request_: ChatRequest, status: int
) -> None:
    body = _error(BLOCKED, "content_filter", innererror=INNER_VIOLATION)
    assert_robust(
        mangled(body), lambda variant: provider.classify_error(http_response(status, variant), request_)
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html>Bad Gateway</html>",
        b"\xff\xfe",
        b"[]",
        b'{"error": "x"}',
        b'{"error": {"innererror": 3}}',
    ],
)
def test_odd_error_bodies_fall_back_to_the_status(
    provider: AzureOpenAI, request_: ChatRequest, body: bytes
) -> None:
    error = provider.classify_error(http_response(400, body), request_)

    assert error.kind == "bad_request"


def test_classify_error_on_an_embeddings_request(provider: AzureOpenAI) -> None:
    request = EmbeddingsRequest(model="ada-3", inputs=("x",))
    response = httpx.Response(
        429,
        content=json.dumps(_error("rate limited", "429")).encode(),
        headers={"x-ms-retry-after-ms": "900"},
        request=httpx.Request("POST", RESOURCE),
    )

    error = provider.classify_error(response, request)

    assert isinstance(error, RateLimitError)
    assert error.model == "ada-3"
    assert error.retry_after == pytest.approx(0.9)


def test_malformed_body_is_a_protocol_error(provider: AzureOpenAI, request_: ChatRequest) -> None:
    with pytest.raises(ProviderProtocolError) as caught:
        provider.parse_response(http_response(200, b"<html>upstream connect error</html>"), request_)

    assert caught.value.provider == "azure"


def test_message_history_round_trips(provider: AzureOpenAI) -> None:
    messages = (Message("system", "Be brief."), Message("user", "Hi"), Message("assistant", "Hello!"))

    body = json_body(provider.build_request(chat_request(DEPLOYMENT, messages=messages)))

    assert body["messages"] == [{"role": m.role, "content": m.content} for m in messages]
