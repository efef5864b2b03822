"""OpenAI-compatible services as registry data, and user-configured compatible servers (vLLM, LM Studio).

Each service is `OpenAIChat` with its own base URL, key variable and `gen_ai.provider.name`. The
quirks of providers.md §4 (request fields, usage locations) are handled through OpenAIChat's options
(Mistral) or its tolerant usage parsing (Groq's `x_groq.usage`, DeepSeek's cache-hit field).
"""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

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
from otel_llm._types import (
    ChatRequest,
    EmbeddingsRequest,
    ImagePart,
    JsonSchema,
    Message,
    TextPart,
    Tool,
    ToolCall,
    Usage,
)
from otel_llm.providers import BUILTIN, Endpoint, Provider, lookup
from otel_llm.providers.openai import OpenAIChat

from ._support import (
    JSON,
    chat_request,
    http_response,
    json_body,
    run_stream,
    sse_comment,
    sse_data,
    sse_stream,
)

# name: (base URL, key variable, gen_ai.provider.name, a model, host) per providers.md §4 / semconv.md §4
COMPATIBLE: dict[str, tuple[str, str, str, str, str]] = {
    "openrouter": (
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
        "openrouter",
        "openai/gpt-4o-mini",
        "openrouter.ai",
    ),
    "mistral": (
        "https://api.mistral.ai/v1",
        "MISTRAL_API_KEY",
        "mistral_ai",
        "mistral-small-latest",
        "api.mistral.ai",
    ),
    "together": (
        "https://api.together.xyz/v1",
        "TOGETHER_API_KEY",
        "together",
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "api.together.xyz",
    ),
    "groq": (
        "https://api.groq.com/openai/v1",
        "GROQ_API_KEY",
        "groq",
        "llama-3.3-70b-versatile",
        "api.groq.com",
    ),
    "deepseek": (
        "https://api.deepseek.com",
        "DEEPSEEK_API_KEY",
        "deepseek",
        "deepseek-chat",
        "api.deepseek.com",
    ),
}
KEY = "sk-compat-Abc/123+xyz=="


def configured(name: str, *, base_url: str | None = None, api_key: str | None = None) -> Provider:
    """The built-in provider `name` as `build_provider` makes it, its key in the environment."""
    settings = ProviderSettings(base_url=base_url, api_key=api_key)
    return build_provider(name, settings, {COMPATIBLE[name][1]: KEY})


# --- registry --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COMPATIBLE))
def test_builtin_entry_is_openai_wire_with_its_own_name(name: str) -> None:
    base_url, key_env, semconv_name, _, _ = COMPATIBLE[name]
    spec = lookup(name)

    assert spec is not None
    assert isinstance(spec.wire(Endpoint(name, spec.base_url, "key", spec.semconv_name)), OpenAIChat)
    assert (spec.base_url, spec.api_key_env, spec.semconv_name) == (base_url, key_env, semconv_name)


@pytest.mark.parametrize("name", sorted(COMPATIBLE))
@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
def test_built_provider_reaches_the_documented_endpoint(name: str, stream: bool) -> None:
    base_url, _, semconv_name, model, host = COMPATIBLE[name]
    provider = configured(name)

    built = provider.build_request(chat_request(model, stream=stream))

    assert isinstance(provider, OpenAIChat)
    assert str(built.url) == base_url + "/chat/completions"
    assert built.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in str(built.url)
    assert "Abc%2F123" not in str(built.url)
    assert KEY.encode() not in built.content
    assert json_body(built)["model"] == model
    assert provider.name == name
    assert provider.semconv_name == semconv_name
    assert (provider.server_address, provider.server_port) == (host, 443)


@pytest.mark.parametrize("name", sorted(COMPATIBLE))
def test_missing_key_sends_no_credential(name: str) -> None:
    provider = build_provider(name, None, {})

    assert "authorization" not in provider.build_request(chat_request(COMPATIBLE[name][3])).headers


def test_a_base_url_override_keeps_the_provider_name() -> None:
    provider = configured("openrouter", base_url="https://llm-gateway.internal:8443/openrouter/v1")

    built = provider.build_request(chat_request("openai/gpt-4o-mini"))

    assert str(built.url) == "https://llm-gateway.internal:8443/openrouter/v1/chat/completions"
    assert provider.semconv_name == "openrouter"
    assert provider.server_port == 8443


def test_no_compatible_service_reports_openai() -> None:
    # semconv.md §4: name the endpoint spoken to; never `openai` for a compatible server.
    assert [name for name, spec in BUILTIN.items() if spec.semconv_name == "openai"] == ["openai"]


# --- user-configured compatible servers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "settings", "url", "semconv_name", "port"),
    [
        pytest.param(
            "vllm",
            ProviderSettings(wire="openai", base_url="http://gpu-box:8000/v1", semconv_name="vllm"),
            "http://gpu-box:8000/v1/chat/completions",
            "vllm",
            8000,
            id="vllm",
        ),
        pytest.param(
            "lmstudio",
            ProviderSettings(wire="openai", base_url="http://localhost:1234/v1"),
            "http://localhost:1234/v1/chat/completions",
            "lmstudio",  # defaults to the provider key, never "openai"
            1234,
            id="lm-studio",
        ),
        pytest.param(
            "ollama-openai",
            ProviderSettings(wire="openai", base_url="http://localhost:11434/v1", semconv_name="ollama"),
            "http://localhost:11434/v1/chat/completions",
            "ollama",
            11434,
            id="ollama-openai-compat",
        ),
    ],
)
def test_user_configured_server(
    name: str, settings: ProviderSettings, url: str, semconv_name: str, port: int
) -> None:
    # A custom provider never picks up another provider's key from the environment.
    provider = build_provider(name, settings, {"OPENAI_API_KEY": "sk-not-for-you"})

    built = provider.build_request(chat_request("meta-llama/Llama-3.1-8B-Instruct"))

    assert isinstance(provider, OpenAIChat)
    assert str(built.url) == url
    assert "authorization" not in built.headers
    assert provider.semconv_name == semconv_name
    assert provider.server_port == port


def test_user_configured_server_with_a_key() -> None:
    settings = ProviderSettings(
        wire="openai", base_url="https://vllm.internal/v1", api_key="token-abc123", semconv_name="vllm"
    )

    built = build_provider("vllm", settings, {}).build_request(chat_request("Qwen/Qwen2.5-7B-Instruct"))

    assert built.headers["authorization"] == "Bearer token-abc123"
    assert "token-abc123" not in str(built.url)


# --- request features through compatible services ---------------------------------------------------

WEATHER = Tool(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CLOCK = Tool("get_time")  # no description, default parameters


def test_tools_named_choice_and_a_tool_round_trip() -> None:
    # https://openrouter.ai/docs/features/tool-calling (OpenAI request shape)
    call = ToolCall.from_json("call_9pw1", "get_weather", '{"city":"Paris"}')
    messages = (
        Message("user", "Weather in Paris?"),
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", '{"temp_c": 22}', tool_call_id="call_9pw1", name="get_weather"),
    )
    request = chat_request(
        "openai/gpt-4o-mini", messages=messages, tools=(WEATHER, CLOCK), tool_choice="get_weather"
    )

    body = json_body(configured("openrouter").build_request(request))

    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": dict(WEATHER.parameters),
                "description": "Current weather for a city",
            },
        },
        {
            "type": "function",
            "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
        },
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_9pw1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "content": '{"temp_c": 22}', "tool_call_id": "call_9pw1"},
    ]


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_keyword_tool_choices_pass_through(choice: str) -> None:
    request = chat_request("llama-3.3-70b-versatile", tools=(WEATHER,), tool_choice=choice)

    assert json_body(configured("groq").build_request(request))["tool_choice"] == choice


def test_images_by_url_and_inline_data() -> None:
    # https://openrouter.ai/docs/features/multimodal/images
    message = Message(
        "user",
        (
            TextPart("Compare these."),
            ImagePart(url="https://upload.wikimedia.org/cat.jpg"),
            ImagePart(data="iVBORw0KGgo=", media_type="image/png"),
        ),
    )

    body = json_body(
        configured("openrouter").build_request(chat_request("google/gemini-2.5-flash", messages=(message,)))
    )

    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Compare these."},
                {"type": "image_url", "image_url": {"url": "https://upload.wikimedia.org/cat.jpg"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ],
        }
    ]


@pytest.mark.parametrize(
    ("response_format", "wire"),
    [
        pytest.param("json", {"type": "json_object"}, id="json-mode"),
        pytest.param(
            JsonSchema("book", {"type": "object", "properties": {"title": {"type": "string"}}}, strict=True),
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "book",
                    "schema": {"type": "object", "properties": {"title": {"type": "string"}}},
                    "strict": True,
                },
            },
            id="json-schema",
        ),
    ],
)
def test_structured_output(response_format: JsonSchema | str, wire: JSON) -> None:
    # https://docs.mistral.ai/capabilities/structured-output/custom_structured_output/
    request = chat_request("mistral-small-latest", response_format=response_format)

    assert json_body(configured("mistral").build_request(request))["response_format"] == wire


def test_mistral_request_uses_its_own_fields() -> None:
    body = json_body(
        configured("mistral").build_request(chat_request("mistral-small-latest", stream=True, seed=7))
    )

    assert "stream_options" not in body
    assert "seed" not in body
    assert body["random_seed"] == 7


# --- responses and streams -------------------------------------------------------------------------

# https://openrouter.ai/docs/use-cases/usage-accounting (usage always included: cost, cache writes)
OPENROUTER_COMPLETION: JSON = {
    "id": "gen-1747243393-Q7Eg3pGa0DXhEJtpvYFQ",
    "provider": "Google",
    "model": "google/gemini-2.5-flash",
    "object": "chat.completion",
    "created": 1747243393,
    "choices": [
        {
            "logprobs": None,
            "finish_reason": "stop",
            "native_finish_reason": "STOP",
            "index": 0,
            "message": {"role": "assistant", "content": "Bonjour !", "refusal": None, "reasoning": None},
        }
    ],
    "usage": {
        "prompt_tokens": 2194,
        "completion_tokens": 3,
        "total_tokens": 2197,
        "cost": 0.00066,
        "is_byok": False,
        "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 2048, "audio_tokens": 0},
        "cost_details": {"upstream_inference_cost": None},
        "completion_tokens_details": {"reasoning_tokens": 0, "image_tokens": 0},
    },
}


def test_openrouter_response_reads_cache_writes_and_its_billed_cost() -> None:
    request = chat_request("google/gemini-2.5-flash")

    parsed = configured("openrouter").parse_response(http_response(200, OPENROUTER_COMPLETION), request)

    assert parsed.text == "Bonjour !"
    assert parsed.model == "google/gemini-2.5-flash"
    assert parsed.finish_reasons == ("stop",)
    assert parsed.usage == Usage(
        input_tokens=2194,
        output_tokens=3,
        cache_read_input_tokens=0,
        cache_write_input_tokens=2048,
        reasoning_output_tokens=0,
        billed_cost_usd=Decimal("0.00066"),  # exactly the digits sent: no float noise
    )


def _chunk(model: str, choices: list[JSON], **extra: JSON) -> JSON:
    return {
        "id": "gen-1747243400-abc",
        "object": "chat.completion.chunk",
        "created": 1747243400,
        "model": model,
        "choices": choices,
        **extra,
    }


def _delta(delta: JSON, finish_reason: str | None = None, **extra: JSON) -> JSON:
    return {"index": 0, "delta": delta, "finish_reason": finish_reason, **extra}


def test_openrouter_stream_with_processing_comments_and_usage_chunk() -> None:
    # https://openrouter.ai/docs/api/reference/streaming (": OPENROUTER PROCESSING" keep-alives)
    model = "openai/gpt-4o-mini"
    usage = {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14, "cost": 0.0000030}
    raw = sse_stream(
        [
            sse_comment("OPENROUTER PROCESSING"),
            sse_comment("OPENROUTER PROCESSING"),
            sse_data(_chunk(model, [_delta({"role": "assistant", "content": "Hi"})], provider="OpenAI")),
            sse_data(_chunk(model, [_delta({"content": "!"})], provider="OpenAI")),
            sse_data(_chunk(model, [_delta({}, "stop", native_finish_reason="stop")], provider="OpenAI")),
            sse_data(_chunk(model, [], provider="OpenAI", usage=usage)),
            sse_data("[DONE]"),
        ]
    )

    accumulated = run_stream(configured("openrouter"), chat_request(model, stream=True), raw, chunk_size=5)

    assert accumulated.completed
    assert accumulated.text == "Hi!"
    assert accumulated.response().finish_reasons == ("stop",)
    assert accumulated.response().usage == Usage(
        input_tokens=12, output_tokens=2, billed_cost_usd=Decimal("0.000003")
    )


def test_openrouter_error_mid_stream_raises() -> None:
    # https://openrouter.ai/docs/api/reference/streaming#error-handling-during-streaming
    model = "openai/gpt-4o-mini"
    failing = _chunk(
        model,
        [_delta({"content": ""}, "error")],
        provider="OpenAI",
        error={"code": "server_error", "message": "Provider disconnected unexpectedly"},
    )
    raw = sse_stream([sse_data(_chunk(model, [_delta({"content": "Hel"})])), sse_data(failing)])

    with pytest.raises(ProviderUnavailableError) as caught:
        run_stream(configured("openrouter"), chat_request(model, stream=True), raw)

    assert caught.value.kind == "server_error"
    assert "Provider disconnected unexpectedly" in str(caught.value)


def test_openrouter_error_finish_without_error_object() -> None:
    model = "openai/gpt-4o-mini"
    raw = sse_stream(
        [
            sse_data(_chunk(model, [_delta({"content": "Hel"})])),
            sse_data(_chunk(model, [_delta({}, "error")])),
            sse_data("[DONE]"),
        ]
    )

    accumulated = run_stream(configured("openrouter"), chat_request(model, stream=True), raw)

    assert accumulated.response().finish_reasons == ("error",)


@pytest.mark.parametrize("name", ["together", "mistral"])
def test_usage_on_the_finish_chunk_without_a_usage_chunk(name: str) -> None:
    # docs.together.ai/reference/chat-completions and docs.mistral.ai/api (streaming): the chunk that
    # carries finish_reason also carries usage; no separate `choices: []` chunk.
    model = COMPATIBLE[name][3]
    raw = sse_stream(
        [
            sse_data(_chunk(model, [_delta({"role": "assistant", "content": "Hello"})], usage=None)),
            sse_data(_chunk(model, [_delta({"content": " world"})], usage=None)),
            sse_data(
                _chunk(
                    model,
                    [_delta({"content": ""}, "stop")],
                    usage={"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
                )
            ),
            sse_data("[DONE]"),
        ]
    )

    accumulated = run_stream(configured(name), chat_request(model, stream=True), raw)

    assert accumulated.completed
    assert accumulated.text == "Hello world"
    assert accumulated.response().usage == Usage(input_tokens=10, output_tokens=2)


def test_streamed_tool_call_fragments_are_assembled() -> None:
    # https://platform.openai.com/docs/api-reference/chat-streaming (tool_calls deltas by index)
    model = "llama-3.3-70b-versatile"
    raw = sse_stream(
        [
            sse_data(
                _chunk(
                    model,
                    [
                        _delta(
                            {
                                "role": "assistant",
                                "tool_calls": [
                                    {
                                        "index": 0,
                                        "id": "call_a",
                                        "type": "function",
                                        "function": {"name": "get_weather", "arguments": ""},
                                    }
                                ],
                            }
                        )
                    ],
                )
            ),
            sse_data(
                _chunk(model, [_delta({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]})])
            ),
            sse_data(
                _chunk(model, [_delta({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]})])
            ),
            sse_data(
                _chunk(
                    model,
                    [
                        _delta(
                            {
                                "tool_calls": [
                                    {
                                        "index": 1,
                                        "id": "call_b",
                                        "type": "function",
                                        "function": {"name": "get_time", "arguments": "{}"},
                                    }
                                ]
                            }
                        )
                    ],
                )
            ),
            sse_data(
                _chunk(
                    model,
                    [_delta({}, "tool_calls")],
                    usage={"prompt_tokens": 80, "completion_tokens": 20, "total_tokens": 100},
                )
            ),
            sse_data("[DONE]"),
        ]
    )

    accumulated = run_stream(
        configured("groq"), chat_request(model, stream=True, tools=(WEATHER, CLOCK)), raw
    )

    response = accumulated.response()
    assert response.finish_reasons == ("tool_call",)
    assert response.tool_calls == (
        ToolCall("call_a", "get_weather", {"city": "Paris"}, '{"city":"Paris"}'),
        ToolCall("call_b", "get_time", {}, "{}"),
    )


def test_tool_call_response() -> None:
    # https://console.groq.com/docs/tool-use (non-streamed response)
    body = {
        "id": "chatcmpl-8c3f1f1e",
        "object": "chat.completion",
        "created": 1730241104,
        "model": "llama-3.3-70b-versatile",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "call_d5wg",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "NYC"}'},
                        }
                    ],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 224, "completion_tokens": 38, "total_tokens": 262},
        "x_groq": {"id": "req_01jbd6g2qdfw2adyrt2az8hz4w"},
    }

    parsed = configured("groq").parse_response(
        http_response(200, body), chat_request("llama-3.3-70b-versatile")
    )

    assert parsed.text == ""
    assert parsed.finish_reasons == ("tool_call",)
    assert parsed.tool_calls == (ToolCall("call_d5wg", "get_weather", {"city": "NYC"}, '{"city": "NYC"}'),)
    assert parsed.usage == Usage(input_tokens=224, output_tokens=38)


# https://console.groq.com/docs/api-reference#chat-create (streamed usage in `x_groq.usage`)
GROQ_FINAL_CHUNK: JSON = {
    "id": "chatcmpl-0b0c1ab4",
    "object": "chat.completion.chunk",
    "created": 1730241200,
    "model": "llama-3.3-70b-versatile",
    "system_fingerprint": "fp_c0cfa69934",
    "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}],
    "x_groq": {
        "id": "req_01jbd6g2qdfw2adyrt2az8hz4w",
        "usage": {
            "queue_time": 0.017,
            "prompt_tokens": 38,
            "prompt_time": 0.002,
            "completion_tokens": 9,
            "completion_time": 0.012,
            "total_tokens": 47,
            "total_time": 0.014,
        },
    },
}


def _groq_stream(final: JSON) -> bytes:
    first = {
        **GROQ_FINAL_CHUNK,
        "choices": [_delta({"role": "assistant", "content": "Hi there"})],
        "x_groq": {"id": "req_01jbd6g2qdfw2adyrt2az8hz4w"},
    }
    return sse_stream([sse_data(first), sse_data(final), sse_data("[DONE]")])


def test_groq_stream_with_top_level_usage() -> None:
    final = {**GROQ_FINAL_CHUNK, "usage": {"prompt_tokens": 38, "completion_tokens": 9, "total_tokens": 47}}

    accumulated = run_stream(
        configured("groq"), chat_request("llama-3.3-70b-versatile", stream=True), _groq_stream(final)
    )

    assert accumulated.text == "Hi there"
    assert accumulated.response().usage == Usage(input_tokens=38, output_tokens=9)


def test_groq_stream_with_usage_in_x_groq() -> None:
    accumulated = run_stream(
        configured("groq"),
        chat_request("llama-3.3-70b-versatile", stream=True),
        _groq_stream(GROQ_FINAL_CHUNK),
    )

    assert accumulated.response().usage == Usage(input_tokens=38, output_tokens=9)


# https://api-docs.deepseek.com/api/create-chat-completion and /guides/kv_cache (cache hit/miss counts)
DEEPSEEK_COMPLETION: JSON = {
    "id": "930c60df-bf64-41c9-a88e-3ec75f81e00e",
    "object": "chat.completion",
    "created": 1705651092,
    "model": "deepseek-chat",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 1600,
        "completion_tokens": 10,
        "total_tokens": 1610,
        "prompt_cache_hit_tokens": 1536,
        "prompt_cache_miss_tokens": 64,
    },
    "system_fingerprint": "fp_a49d71b8a1",
}


def test_deepseek_response_counts_tokens() -> None:
    parsed = configured("deepseek").parse_response(
        http_response(200, DEEPSEEK_COMPLETION), chat_request("deepseek-chat")
    )

    assert parsed.text == "Hello! How can I help you today?"
    assert (parsed.usage.input_tokens, parsed.usage.output_tokens) == (1600, 10)


def test_deepseek_cached_tokens_in_the_openai_field_are_read() -> None:
    body = copy.deepcopy(DEEPSEEK_COMPLETION)
    body["usage"]["prompt_tokens_details"] = {"cached_tokens": 1536}

    usage = (
        configured("deepseek").parse_response(http_response(200, body), chat_request("deepseek-chat")).usage
    )

    assert usage.cache_read_input_tokens == 1536


def test_deepseek_cache_hits_are_cache_reads() -> None:
    usage = (
        configured("deepseek")
        .parse_response(http_response(200, DEEPSEEK_COMPLETION), chat_request("deepseek-chat"))
        .usage
    )

    assert usage.cache_read_input_tokens == 1536


def test_embeddings_without_usage_report_unknown_tokens() -> None:
    # https://docs.together.ai/reference/embeddings: no `usage` in the answer
    body = {
        "object": "list",
        "data": [{"object": "embedding", "embedding": [0.2633975, 0.13856208, 0.14047047], "index": 0}],
        "model": "BAAI/bge-large-en-v1.5",
        "request_id": "840c8bd4cd2d1d24-SJC",
    }
    request = EmbeddingsRequest(
        model="BAAI/bge-large-en-v1.5", inputs=("Our solar system orbits the Milky Way.",)
    )
    provider = configured("together")
    assert isinstance(provider, OpenAIChat)

    built = provider.build_embeddings_request(request)
    parsed = provider.parse_embeddings_response(http_response(200, body), request)

    assert str(built.url) == "https://api.together.xyz/v1/embeddings"
    assert built.headers["authorization"] == f"Bearer {KEY}"
    assert parsed.vectors == ((0.2633975, 0.13856208, 0.14047047),)
    assert parsed.usage == Usage()


# --- errors ----------------------------------------------------------------------------------------


def _openrouter_error(status: int, message: str, **metadata: JSON) -> JSON:
    # https://openrouter.ai/docs/api/reference/errors: {"error": {"code": <status>, "message", "metadata"}}
    error: JSON = {"code": status, "message": message}
    if metadata:
        error["metadata"] = metadata
    return {"error": error}


def _openai_error(message: str, type_: str | None = None, code: str | None = None) -> JSON:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


CLASSIFIED: list[tuple[str, int, JSON, type[ProviderError], str]] = [
    ("openrouter", 400, _openrouter_error(400, "Invalid model specified"), BadRequestError, "bad_request"),
    ("openrouter", 401, _openrouter_error(401, "No auth credentials found"), AuthenticationError, "auth"),
    (
        "openrouter",
        402,
        _openrouter_error(402, "This request requires more credits, or fewer max_tokens."),
        QuotaExceededError,
        "quota_exhausted",
    ),
    ("openrouter", 408, _openrouter_error(408, "Request timed out"), ProviderTimeoutError, "timeout"),
    (
        "openrouter",
        429,
        _openrouter_error(429, "Rate limit exceeded: free-models-per-min."),
        RateLimitError,
        "rate_limit",
    ),
    (
        "openrouter",
        502,
        _openrouter_error(502, "Provider returned error"),
        ProviderUnavailableError,
        "server_error",
    ),
    (
        "openrouter",
        503,
        _openrouter_error(503, "No instances available to serve this request."),
        ProviderUnavailableError,
        "overloaded",
    ),
    # https://docs.together.ai/docs/error-codes
    (
        "together",
        401,
        _openai_error("Invalid API key provided.", "invalid_request_error", "invalid_api_key"),
        AuthenticationError,
        "auth",
    ),
    (
        "together",
        402,
        _openai_error(
            "Credit limit exceeded. Please navigate to https://api.together.xyz/settings/billing.",
            "credit_limit",
        ),
        QuotaExceededError,
        "quota_exhausted",
    ),
    ("together", 429, _openai_error("Rate limit exceeded", "rate_limit"), RateLimitError, "rate_limit"),
    (
        "together",
        503,
        _openai_error("Engine Overloaded", "server_error"),
        ProviderUnavailableError,
        "overloaded",
    ),
    # https://docs.mistral.ai/api (pydantic validation errors; bodies have no `error` key)
    (
        "mistral",
        422,
        {
            "object": "error",
            "message": {
                "detail": [
                    {
                        "type": "extra_forbidden",
                        "loc": ["body", "n"],
                        "msg": "Extra inputs are not permitted",
                        "input": 1,
                    }
                ]
            },
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        },
        BadRequestError,
        "bad_request",
    ),
    (
        "mistral",
        401,
        {"message": "Unauthorized", "request_id": "2b4fa1b6e7c0d5a2"},
        AuthenticationError,
        "auth",
    ),
    ("mistral", 429, {"message": "Requests rate limit exceeded"}, RateLimitError, "rate_limit"),
    # https://console.groq.com/docs/errors
    (
        "groq",
        401,
        _openai_error("Invalid API Key", "invalid_request_error", "invalid_api_key"),
        AuthenticationError,
        "auth",
    ),
    (
        "groq",
        429,
        _openai_error(
            "Rate limit reached for model `llama-3.3-70b-versatile` on tokens per minute (TPM).",
            "tokens",
            "rate_limit_exceeded",
        ),
        RateLimitError,
        "rate_limit",
    ),
    (
        "groq",
        413,
        _openai_error("Request Entity Too Large", "invalid_request_error"),
        BadRequestError,
        "bad_request",
    ),
    # https://api-docs.deepseek.com/quick_start/error_codes
    (
        "deepseek",
        401,
        _openai_error("Authentication Fails (no such user)", "authentication_error", "invalid_request_error"),
        AuthenticationError,
        "auth",
    ),
    (
        "deepseek",
        402,
        _openai_error("Insufficient Balance", "unknown_error", "invalid_request_error"),
        QuotaExceededError,
        "quota_exhausted",
    ),
    (
        "deepseek",
        422,
        _openai_error("Invalid parameters", "invalid_request_error"),
        BadRequestError,
        "bad_request",
    ),
    ("deepseek", 500, _openai_error("Server Error"), ProviderUnavailableError, "server_error"),
    ("deepseek", 503, _openai_error("Server Overloaded"), ProviderUnavailableError, "overloaded"),
]


@pytest.mark.parametrize(
    ("name", "status", "body", "cls", "kind"),
    [pytest.param(*case, id=f"{case[0]}-{case[1]}-{case[4]}") for case in CLASSIFIED],
)
def test_classify_error(name: str, status: int, body: JSON, cls: type[ProviderError], kind: str) -> None:
    request = chat_request(COMPATIBLE[name][3])

    error = configured(name).classify_error(http_response(status, body), request)

    assert type(error) is cls
    assert error.kind == kind
    assert error.status_code == status
    assert error.provider == name


def test_rate_limit_hint_from_retry_after() -> None:
    response = http_response(
        429,
        _openai_error("Rate limit reached", "tokens", "rate_limit_exceeded"),
        headers={"retry-after": "2"},
    )

    error = configured("groq").classify_error(response, chat_request("llama-3.3-70b-versatile"))

    assert error.retry_after == 2.0


# The documented quirks that status alone gets wrong; the message decides (providers.md §9.1/§9.2).
QUIRKS: list[tuple[str, int, JSON, str]] = [
    (
        # https://docs.together.ai/docs/error-codes: an over-long prompt is a 403, not an auth failure
        "together",
        403,
        _openai_error(
            "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 8193. "
            "Given: 8000 `inputs` tokens and 512 `max_new_tokens`",
            "invalid_request_error",
        ),
        "context_length",
    ),
    (
        # https://openrouter.ai/docs/api/reference/errors: moderation is a 403 with error.metadata
        "openrouter",
        403,
        _openrouter_error(
            403,
            "Your input was flagged for moderation.",
            reasons=["harassment"],
            flagged_input="...",
            provider_name="OpenAI",
            model_slug="openai/gpt-4o",
        ),
        "content_filter",
    ),
    (
        # OpenRouter's context overflow is a 400 without a code
        "openrouter",
        400,
        _openrouter_error(
            400,
            "This endpoint's maximum context length is 128000 tokens. However, you requested about 130000 "
            "tokens. Please reduce the length of either one.",
        ),
        "context_length",
    ),
]


@pytest.mark.parametrize(
    ("name", "status", "body", "kind"),
    [pytest.param(*case, id=f"{case[0]}-{case[1]}-{case[3]}") for case in QUIRKS],
)
def test_documented_quirks_classify_by_message(name: str, status: int, body: JSON, kind: str) -> None:
    error = configured(name).classify_error(http_response(status, body), chat_request(COMPATIBLE[name][3]))

    assert type(error) is BadRequestError
    assert error.kind == kind
    # Neither is the credential's fault nor the provider's: no retry, no breaker failure.
    assert not error.retryable
    assert not error.is_provider_fault


def test_request_model_is_reported_on_errors() -> None:
    request: ChatRequest = chat_request("deepseek-reasoner")

    error = configured("deepseek").classify_error(
        http_response(402, _openai_error("Insufficient Balance")), request
    )

    assert error.model == "deepseek-reasoner"


@pytest.mark.parametrize("cost", ["0.001", -1, True, float("inf")])
def test_a_billed_cost_that_is_not_an_amount_is_a_protocol_error(cost: object) -> None:
    body = copy.deepcopy(OPENROUTER_COMPLETION)
    body["usage"]["cost"] = cost
    with pytest.raises(ProviderProtocolError, match=r"usage\.cost"):
        configured("openrouter").parse_response(http_response(200, body), chat_request("m"))
