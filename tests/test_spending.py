"""A call's worst case, as the client reserves it against budgets before sending."""

from __future__ import annotations

from decimal import Decimal

from otel_llm._budget import Budget, BudgetLedger, worst_case_cost
from otel_llm._inputs import parse_messages
from otel_llm._registry import ModelRegistry
from otel_llm._spending import DEFAULT_MAX_OUTPUT, Spending
from otel_llm._types import ChatRequest, EmbeddingsRequest, Route

REGISTRY = ModelRegistry(
    overrides={
        "models": {
            "acme:capped": {"max_output": 1000, "price": {"input": "1", "output": "2"}},
            "acme:open": {"price": {"input": "1", "output": "2"}},
        }
    }
)
SPENDING = Spending(BudgetLedger([Budget("day", limit_usd=Decimal(1), period="day")]), REGISTRY)
PROMPT = ChatRequest(model="m", messages=parse_messages([{"role": "user", "content": "x" * 40}]))  # 10 tokens


def worst(model: str, tokens: int) -> Decimal:
    price = REGISTRY.price("acme", model)
    assert price is not None
    return worst_case_cost(price, 10, tokens)


def test_the_output_bound_comes_from_the_call_then_the_model_then_a_default() -> None:
    capped, unbounded = [Route("acme", "capped")], [Route("acme", "open")]
    limited = ChatRequest(model="m", messages=PROMPT.messages, max_tokens=50)
    assert SPENDING.worst_case(capped, limited) == worst("capped", 50)
    assert SPENDING.worst_case(capped, PROMPT) == worst("capped", 1000)
    assert SPENDING.worst_case(unbounded, PROMPT) == worst("open", DEFAULT_MAX_OUTPUT)


def test_the_dearest_route_sets_the_worst_case_and_unpriced_routes_add_nothing() -> None:
    routes = [Route("acme", "unknown"), Route("acme", "capped"), Route("acme", "open")]
    assert SPENDING.worst_case(routes, PROMPT) == worst("open", DEFAULT_MAX_OUTPUT)
    assert SPENDING.worst_case([Route("acme", "unknown")], PROMPT) == 0


def test_embeddings_are_priced_by_their_input_alone() -> None:
    request = EmbeddingsRequest(model="m", inputs=("x" * 40,))
    assert SPENDING.worst_case([Route("acme", "open")], request) == worst("open", 0)
