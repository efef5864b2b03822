"""Tools, images, structured output, embeddings and usage estimation through the client (OpenAI wire)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx
import jsonschema
import pydantic
import pytest

import otel_llm
from otel_llm import Client, ConfigurationError
from otel_llm._exceptions import StructuredOutputError
from otel_llm._types import ImagePart, JsonSchema, Message, TextPart, Tool, ToolCall
from otel_llm.telemetry import _instruments as inst
from tests import semconv
from tests.conftest import Captured
from tests.wire import PROVIDERS, openai_body, sse

WEATHER = Tool(
    "get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}}
)
USER = [{"role": "user", "content": "Weather in Paris?"}]


class Recorder:
    """A MockTransport handler that records request bodies and answers from a queue."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.answers = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def client(handler: Recorder, captured: Captured | None = None, **config: Any) -> Client:
    if captured is not None:
        config.update(tracer_provider=captured.tracer_provider, meter_provider=captured.meter_provider)
    return Client(transport=httpx.MockTransport(handler), providers=PROVIDERS, **config)


def tool_call_body() -> dict[str, object]:
    body = openai_body(text="")
    function = {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    calls = [{"id": "call_1", "type": "function", "function": function}]
    message = {"role": "assistant", "content": None, "tool_calls": calls}
    body["choices"] = [{"index": 0, "message": message, "finish_reason": "tool_calls"}]
    return body


def test_tools_go_out_and_tool_calls_come_back() -> None:
    handler = Recorder(httpx.Response(200, json=tool_call_body()))
    with client(handler) as c:
        reply = c.chat("openai:gpt-4o-mini", USER, tools=[WEATHER], tool_choice="get_weather")
    assert handler.bodies[0]["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": dict(WEATHER.parameters),
                "description": "Weather for a city",
            },
        }
    ]
    assert handler.bodies[0]["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert reply.tool_calls == (ToolCall("call_1", "get_weather", {"city": "Paris"}, '{"city": "Paris"}'),)
    assert reply.finish_reasons == ("tool_call",)


def test_a_tool_result_round_trip_keeps_ids() -> None:
    handler = Recorder(httpx.Response(200, json=openai_body("Rainy.")))
    call = ToolCall.from_object("call_1", "get_weather", {"city": "Paris"})
    conversation: list[Message | dict[str, object]] = [
        Message("user", "Weather in Paris?"),
        Message("assistant", tool_calls=(call,)),
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "rainy, 14 C"},
    ]
    with client(handler) as c:
        assert c.chat("openai:gpt-4o-mini", conversation, tools=[WEATHER]).text == "Rainy."
    sent = handler.bodies[0]["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    }
    assert sent[2] == {"role": "tool", "content": "rainy, 14 C", "tool_call_id": "call_1"}


def test_streamed_tool_call_fragments_are_assembled() -> None:
    def fragment(**call: object) -> dict[str, object]:
        return {"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, **call}]}}]}

    chunks: list[dict[str, object] | str] = [
        fragment(id="call_9", type="function", function={"name": "get_weather", "arguments": ""}),
        fragment(function={"arguments": '{"ci'}),
        fragment(function={"arguments": 'ty": "Oslo"}'}),
        {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"id": "c", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 7}},
        "[DONE]",
    ]
    handler = Recorder(httpx.Response(200, content=sse(*chunks)))
    with client(handler) as c:
        stream = c.stream("openai:gpt-4o-mini", USER, tools=[WEATHER])
        fragments = [chunk for chunk in stream if chunk.tool_calls]
    assert len(fragments) == 3  # the caller sees the fragments as they arrive ...
    assert stream.response is not None  # ... and the whole call at the end
    assert stream.response.tool_calls == (
        ToolCall("call_9", "get_weather", {"city": "Oslo"}, '{"city": "Oslo"}'),
    )


def test_images_by_url_and_inline_data() -> None:
    handler = Recorder(httpx.Response(200, json=openai_body()))
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ImagePart(data="R0lGOD", media_type="image/gif"),
    ]
    with client(handler) as c:
        c.chat("openai:gpt-4o-mini", [{"role": "user", "content": content}])
    parts = handler.bodies[0]["messages"][0]["content"]
    assert [p.get("image_url", {}).get("url") for p in parts[1:]] == [
        "https://example.com/cat.png",
        "data:image/png;base64,iVBORw0KGgo=",
        "data:image/gif;base64,R0lGOD",
    ]


class Forecast(pydantic.BaseModel):
    city: str
    celsius: float


def test_parse_uses_the_json_schema_mode_and_validates() -> None:
    handler = Recorder(httpx.Response(200, json=openai_body('{"city": "Paris", "celsius": 14.5}')))
    with client(handler) as c:
        parsed = c.parse("openai:gpt-4o-mini", USER, Forecast)
    assert parsed.output == Forecast(city="Paris", celsius=14.5)
    assert parsed.response.route == otel_llm.Route("openai", "gpt-4o-mini")
    response_format = handler.bodies[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Forecast"
    assert response_format["json_schema"]["schema"]["required"] == ["city", "celsius"]


@pytest.mark.parametrize("text", ['{"city": "Paris"}', "not json", '{"city": "Paris", "celsius": "warm"}'])
def test_invalid_structured_output_raises_and_keeps_the_text(text: str) -> None:
    handler = Recorder(httpx.Response(200, json=openai_body(text)))
    with client(handler) as c, pytest.raises(StructuredOutputError) as info:
        c.parse("openai:gpt-4o-mini", USER, Forecast)
    assert info.value.raw_text == text


def test_a_refusal_is_a_structured_output_error() -> None:
    body = openai_body("")
    body["choices"] = [
        {
            "index": 0,
            "message": {"role": "assistant", "content": None, "refusal": "I can't."},
            "finish_reason": "stop",
        }
    ]
    with (
        client(Recorder(httpx.Response(200, json=body))) as c,
        pytest.raises(StructuredOutputError, match="refused"),
    ):
        c.parse("openai:gpt-4o-mini", USER, Forecast)


def test_parse_works_with_plain_types_and_dataclasses() -> None:
    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    with client(Recorder(httpx.Response(200, json=openai_body('{"x": 1, "y": 2}')))) as c:
        assert c.parse("openai:gpt-4o-mini", USER, Point).output == Point(1, 2)
    with client(Recorder(httpx.Response(200, json=openai_body("[1, 2, 3]")))) as c:
        assert c.parse("openai:gpt-4o-mini", USER, list[int]).output == [1, 2, 3]


def test_json_mode_by_name() -> None:
    handler = Recorder(httpx.Response(200, json=openai_body("{}")))
    with client(handler) as c:
        c.chat("openai:gpt-4o-mini", USER, response_format="json")
    assert handler.bodies[0]["response_format"] == {"type": "json_object"}


def embeddings_body(*vectors: list[float], prompt_tokens: int = 6) -> dict[str, object]:
    data = [
        {"object": "embedding", "index": i, "embedding": v} for i, v in reversed(list(enumerate(vectors)))
    ]
    return {
        "object": "list",
        "data": data,
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def test_embed_returns_vectors_in_input_order_with_usage_and_cost(captured: Captured) -> None:
    handler = Recorder(httpx.Response(200, json=embeddings_body([0.1, 0.2], [0.3, 0.4])))
    with client(handler, captured) as c:
        result = c.embed("openai:text-embedding-3-small", ["first", "second"], dimensions=2)
    assert result.vectors == ((0.1, 0.2), (0.3, 0.4))  # the wire listed them in reverse
    assert handler.bodies[0] == {
        "model": "text-embedding-3-small",
        "input": ["first", "second"],
        "encoding_format": "float",
        "dimensions": 2,
    }
    assert result.usage.input_tokens == 6
    assert result.cost_usd is not None and float(result.cost_usd) == pytest.approx(6 * 0.02 / 1e6)
    span = captured.span("embeddings text-embedding-3-small")
    attributes = span.attributes or {}
    assert attributes["gen_ai.operation.name"] == "embeddings"
    assert attributes["gen_ai.embeddings.dimension.count"] == 2
    assert attributes["gen_ai.usage.input_tokens"] == 6
    metrics = captured.metrics()
    assert {a["gen_ai.operation.name"] for a, _ in metrics[inst.OPERATION_DURATION.name]} == {"embeddings"}
    assert [a["gen_ai.token.type"] for a, _ in metrics[inst.TOKEN_USAGE.name]] == ["input"]
    assert semconv.violations(attributes) == []


def test_embed_rejects_a_provider_without_embeddings_and_bad_inputs() -> None:
    with client(Recorder(httpx.Response(200, json={}))) as c:
        with pytest.raises(ConfigurationError) as info:
            c.embed("openai:text-embedding-3-small", "x", fallbacks=["anthropic:claude-haiku-4-5"])
        assert info.value.field == "fallbacks[0]"
        for bad, field in (([], "inputs"), ([1], "inputs")):
            with pytest.raises(ConfigurationError) as info:
                c.embed("openai:text-embedding-3-small", bad)  # type: ignore[arg-type]
            assert info.value.field == field
        with pytest.raises(ConfigurationError) as info:
            c.embed("openai:text-embedding-3-small", "x", dimensions=0)
        assert info.value.field == "dimensions"


def test_a_short_embeddings_answer_is_a_protocol_error() -> None:
    handler = Recorder(httpx.Response(200, json=embeddings_body([0.1])))
    c = client(handler, retry=otel_llm.RetryPolicy(stop=otel_llm.StopAfterAttempts(1)))
    with c, pytest.raises(otel_llm.AllRoutesFailedError) as info:
        c.embed("openai:text-embedding-3-small", ["a", "b"])
    assert info.value.kind == "protocol_error"


def test_missing_usage_is_estimated_marked_and_kept_out_of_the_token_histogram(captured: Captured) -> None:
    body = openai_body("A reply of some forty characters, or so.")
    del body["usage"]
    with client(Recorder(httpx.Response(200, json=body)), captured) as c:
        reply = c.chat("openai:gpt-4o-mini", USER)
    assert reply.usage.estimated
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (5, 10)  # ceil(17 / 4), ceil(40 / 4)
    assert reply.cost_usd is not None  # cost and budgets do not silently read zero
    attributes = captured.span("chat gpt-4o-mini").attributes or {}
    assert attributes["otel_llm.usage.estimated"] is True
    assert inst.TOKEN_USAGE.name not in captured.metrics()


def test_content_capture_of_tools_and_images_matches_the_semconv_schemas(captured: Captured) -> None:
    conversation: list[Message | dict[str, object]] = [
        {"role": "user", "content": [TextPart("What is it?"), ImagePart(url="https://example.com/a.png")]},
        Message("assistant", tool_calls=(ToolCall.from_object("call_1", "get_weather", {"city": "Paris"}),)),
        Message("tool", "rainy", tool_call_id="call_1", name="get_weather"),
    ]
    with client(Recorder(httpx.Response(200, json=tool_call_body())), captured, capture_content=True) as c:
        c.chat("openai:gpt-4o-mini", conversation, tools=[WEATHER])
    attributes = captured.span("chat gpt-4o-mini").attributes or {}
    schemas = semconv.require_registry() / "model" / "gen-ai"
    for attribute, schema in [
        ("gen_ai.input.messages", "gen-ai-input-messages.json"),
        ("gen_ai.output.messages", "gen-ai-output-messages.json"),
        ("gen_ai.tool.definitions", "gen-ai-tool-definitions.json"),
    ]:
        jsonschema.validate(
            json.loads(str(attributes[attribute])), json.loads((schemas / schema).read_text())
        )


@pytest.mark.parametrize(
    ("messages", "field"),
    [
        ([{"role": "user", "content": [{"type": "audio"}]}], "messages[0].content[0].type"),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}],
            "messages[0].content[0].image_url.url",
        ),
        (
            [{"role": "user", "content": [{"type": "image", "data": "abc"}]}],
            "messages[0].content[0].media_type",
        ),
        ([{"role": "assistant", "tool_calls": [{"id": "c"}]}], "messages[0].tool_calls[0]"),
        ([{"role": "tool", "content": "x", "tool_call_id": 5}], "messages[0].tool_call_id"),
    ],
)
def test_invalid_message_parts_name_their_position(messages: list[dict[str, object]], field: str) -> None:
    with (
        client(Recorder(httpx.Response(200, json=openai_body()))) as c,
        pytest.raises(ConfigurationError) as info,
    ):
        c.chat("openai:gpt-4o-mini", messages)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"tools": [{"description": "no name"}]}, "tools[0].name"),
        ({"tools": [WEATHER], "tool_choice": "get_time"}, "tool_choice"),
        ({"response_format": {"name": "x"}}, "response_format.schema"),
        ({"response_format": "xml"}, "response_format"),
    ],
)
def test_invalid_tool_and_format_options_name_the_field(options: dict[str, Any], field: str) -> None:
    with (
        client(Recorder(httpx.Response(200, json=openai_body()))) as c,
        pytest.raises(ConfigurationError) as info,
    ):
        c.chat("openai:gpt-4o-mini", USER, **options)
    assert info.value.field == field


def test_parse_refuses_a_second_response_format() -> None:
    with (
        client(Recorder(httpx.Response(200, json=openai_body("{}")))) as c,
        pytest.raises(ConfigurationError),
    ):
        c.parse("openai:gpt-4o-mini", USER, Forecast, response_format=JsonSchema("x", {}))


@pytest.mark.anyio
async def test_async_client_embeds_and_parses() -> None:
    answers = Recorder(
        httpx.Response(200, json=embeddings_body([1.0, 0.0])),
        httpx.Response(200, json=openai_body('{"city": "Rome", "celsius": 20}')),
    )
    async with otel_llm.AsyncClient(transport=httpx.MockTransport(answers), providers=PROVIDERS) as c:
        assert (await c.embed("openai:text-embedding-3-small", "hi")).vectors == ((1.0, 0.0),)
        assert (await c.parse("openai:gpt-4o-mini", USER, Forecast)).output.city == "Rome"


def test_a_provider_billed_cost_wins_over_the_price_table(captured: Captured) -> None:
    body = openai_body("hi")
    body["usage"] = {"prompt_tokens": 7, "completion_tokens": 2, "cost": 0.00042}  # OpenRouter's shape
    with client(Recorder(httpx.Response(200, json=body)), captured) as c:
        reply = c.chat("openrouter:openai/gpt-4o-mini", USER)
    assert str(reply.cost_usd) == "0.00042"
    attributes = captured.span("chat openai/gpt-4o-mini").attributes or {}
    assert (attributes["otel_llm.cost.usd"], attributes["otel_llm.cost.source"]) == (0.00042, "provider")
    assert captured.metrics()[inst.COST.name][0][1] == pytest.approx(0.00042)


def test_local_ollama_models_are_free_not_unpriced(captured: Captured) -> None:
    body = {"model": "llama3.2", "message": {"role": "assistant", "content": "hi"}, "done": True,
            "done_reason": "stop", "prompt_eval_count": 9, "eval_count": 2}  # fmt: skip
    with client(Recorder(httpx.Response(200, json=body)), captured) as c:
        reply = c.chat("ollama:llama3.2", USER)
    assert reply.cost_usd == 0
    assert (captured.span("chat llama3.2").attributes or {})["otel_llm.cost.source"] == "price_table"
    assert inst.UNPRICED_CALLS.name not in captured.metrics()
