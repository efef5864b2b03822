"""Named chains and explicit fallback lists as the client routes them (strategies have their own tests)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

import otel_llm
from otel_llm import Client, ConfigurationError
from otel_llm._registry import ModelRegistry
from otel_llm.budgets import Budget
from otel_llm.telemetry import _instruments as inst
from tests.conftest import Captured
from tests.wire import PROVIDERS, anthropic_body, mock_client, openai_body

USER = [{"role": "user", "content": "hi"}]
TOOL = {"name": "lookup", "description": "Look it up", "parameters": {"type": "object", "properties": {}}}
CHAINS = {
    "chains": {
        "cheap": {"strategy": "cost", "routes": ["openai:gpt-4.1", "openai:gpt-4o-mini"]},
        "careful": {"strategy": "priority", "routes": ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini"]},
    }
}
# A registry in which gpt-4.1 cannot call tools, so tool calls must avoid it.
NO_TOOLS_ON_GPT41 = ModelRegistry(
    overrides={"models": {"openai:gpt-4.1": {"capabilities": ["streaming", "json_schema"]}}}
)


class Models:
    """OpenAI and Anthropic stand-ins that record which model each request named."""

    def __init__(self) -> None:
        self.models: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        model = json.loads(request.content)["model"]
        self.models.append(model)
        body = anthropic_body() if request.url.host == "api.anthropic.com" else openai_body()
        return httpx.Response(200, json=body)


def client_for(server: Models, captured: Captured | None = None, **config: Any) -> Client:
    return mock_client(server, captured, **config)


def test_a_cost_chain_sends_the_call_to_its_cheapest_route(captured: Captured) -> None:
    server = Models()
    with client_for(server, captured, chains=CHAINS) as client:
        reply = client.chat("chain:cheap", USER, max_tokens=50)
    assert server.models == ["gpt-4o-mini"]
    assert str(reply.route) == "openai:gpt-4o-mini"
    span = next(s for s in captured.spans() if s.name.startswith("chat"))
    attributes = span.attributes or {}
    assert (attributes[inst.ROUTING_CHAIN], attributes[inst.ROUTING_STRATEGY]) == ("cheap", "cost")
    assert attributes[inst.REQUEST_MODEL] == "gpt-4o-mini"
    [(labels, count)] = captured.metrics()[inst.ROUTING_DECISIONS.name]
    assert count == 1
    assert labels == {
        inst.ROUTING_CHAIN: "cheap",
        inst.ROUTING_STRATEGY: "cost",
        inst.PROVIDER_NAME: "openai",
        inst.REQUEST_MODEL: "gpt-4o-mini",
    }


def test_a_preset_chain_works_without_configuration() -> None:
    server = Models()
    with client_for(server) as client:
        reply = client.chat("chain:code_generation", USER)
    assert str(reply.route) == "anthropic:claude-sonnet-4-5"


def test_a_chain_drops_routes_that_lack_a_needed_capability(captured: Captured) -> None:
    server = Models()
    chains = {"chains": {"tools": {"routes": ["openai:gpt-4.1", "openai:gpt-4o-mini"]}}}
    with client_for(server, captured, chains=chains, registry=NO_TOOLS_ON_GPT41) as client:
        client.chat("chain:tools", USER, tools=[TOOL])
        client.chat("chain:tools", USER)  # without tools, the chain's first route is fine
    assert server.models == ["gpt-4o-mini", "gpt-4.1"]
    events = [e for s in captured.spans() for e in s.events if e.name == "otel_llm.routing.dropped"]
    assert [dict(e.attributes or {}) for e in events] == [
        {"otel_llm.route": "openai:gpt-4.1", "otel_llm.reason": "capability:tools"}
    ]


def test_an_explicit_list_keeps_its_order_but_skips_unfit_routes_unless_all_are() -> None:
    server = Models()
    with client_for(server, registry=NO_TOOLS_ON_GPT41) as client:
        client.chat("openai:gpt-4.1", USER, tools=[TOOL], fallbacks=["openai:gpt-4o-mini"])
        client.chat("openai:gpt-4.1", USER, tools=[TOOL])  # nothing better to offer: the provider decides
        client.chat("openai:gpt-4o-mini", USER, fallbacks=["openai:gpt-4.1"])
    assert server.models == ["gpt-4o-mini", "gpt-4.1", "gpt-4o-mini"]


def test_a_soft_limit_downgrades_calls_to_the_cheaper_chain(captured: Captured) -> None:
    server = Models()
    # claude-haiku-4-5 costs $1 in / $5 out per million tokens: the first call's worst case (1 token in,
    # 10 out) is $0.000051, within the soft limit; the second's ($0.000101) on top of the first's actual
    # cost (5 in, 3 out: $0.00002) is past it.
    budget = Budget("daily", soft_limit_usd=Decimal("0.0001"), period="day", downgrade_to="cheap")
    with client_for(server, captured, chains=CHAINS, budgets=[budget]) as client:
        first = client.chat("chain:careful", USER, max_tokens=10)
        reply = client.chat("chain:careful", USER, max_tokens=20)
        spent = client.health().budgets[0].spent_usd
    assert server.models == ["claude-haiku-4-5", "gpt-4o-mini"]
    assert str(reply.route) == "openai:gpt-4o-mini"
    assert first.cost_usd == Decimal("0.00002") and reply.cost_usd is not None
    assert spent == first.cost_usd + reply.cost_usd  # the released reservation left nothing behind
    downgrades = [e for s in captured.spans() for e in s.events if e.name == "otel_llm.budget.downgraded"]
    assert [dict(e.attributes or {}) for e in downgrades] == [{inst.ROUTING_CHAIN: "cheap"}]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.chat("chain:nope", USER), "model"),
        (lambda c: c.chat("chain:cheap", USER, fallbacks=["openai:gpt-4o"]), "fallbacks"),
        (lambda c: c.embed("chain:cheap", "text"), "chains.cheap"),
    ],
    ids=["unknown", "with-fallbacks", "no-embeddings"],
)
def test_chain_misuse_is_a_configuration_error_before_anything_is_sent(call: Any, field: str) -> None:
    server = Models()
    with client_for(server, chains=CHAINS) as client, pytest.raises(ConfigurationError) as info:
        call(client)
    assert info.value.field == field
    assert server.models == []


def test_an_invalid_chains_configuration_fails_at_construction() -> None:
    with pytest.raises(ConfigurationError) as info:
        Client(chains={"chains": {"bad": {"routes": ["no-colon"]}}})
    assert info.value.field == "chains.bad.routes[0]"


@pytest.mark.anyio
async def test_the_async_client_routes_chains_too() -> None:
    server = Models()
    async with otel_llm.AsyncClient(
        transport=httpx.MockTransport(server), providers=PROVIDERS, chains=CHAINS
    ) as client:
        reply = await client.chat("chain:cheap", USER, max_tokens=50)
    assert str(reply.route) == "openai:gpt-4o-mini"
