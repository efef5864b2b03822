"""How a client routes its calls: named chains (`model="chain:<name>"`) and explicit fallback lists.

The strategies themselves live in `_routing.py` and the chain configuration in `_chains.py`; this module
is the glue a client needs: its chains with their strategies (built once, since weighted round robin
keeps its rotation in the strategy), a `Router` fed by the client's registry, statistics and breakers,
and the `RequestProfile` of a request (estimated tokens and required capabilities).

- A named chain is ordered by its strategy after the capability, context-window and health filters; a
  chain that cannot serve the request at all raises `ConfigurationError` before anything is sent.
- An explicit list (a model and its fallbacks) keeps the caller's order; routes known to be unfit
  (too small a context window, a missing capability) are dropped, unless that would drop them all:
  then the providers get the last word.
"""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Mapping
from typing import Final

from otel_llm._breaker import BreakerBoard
from otel_llm._chains import ChainConfig, build_strategy, load_chains
from otel_llm._exceptions import ConfigurationError
from otel_llm._registry import ModelRegistry
from otel_llm._route_stats import RouteStatsBoard
from otel_llm._routing import PriorityStrategy, RequestProfile, Router, RoutingDecision, RoutingStrategy
from otel_llm._tokens import estimate_input_tokens
from otel_llm._types import ChatRequest, EmbeddingsRequest, ImagePart, JsonSchema, Route

TYPICAL_OUTPUT_TOKENS: Final = 512
"""Output a chat call is planned for when it sets no `max_tokens` (cost ranking, window checks)."""

_PRIORITY = PriorityStrategy()


def request_profile(request: ChatRequest | EmbeddingsRequest) -> RequestProfile:
    """What routing needs to know about `request`: its size and the capabilities it relies on."""
    input_tokens = estimate_input_tokens(request)
    if isinstance(request, EmbeddingsRequest):
        return RequestProfile(input_tokens, 0, frozenset({"embeddings"}))
    needs: set[str] = set()
    if request.tools:
        needs.add("tools")
    if isinstance(request.response_format, JsonSchema):
        needs.add("json_schema")
    if any(
        isinstance(part, ImagePart)
        for message in request.messages
        if not isinstance(message.content, str)
        for part in message.content
    ):
        needs.add("vision")
    output = request.max_tokens if request.max_tokens is not None else TYPICAL_OUTPUT_TOKENS
    return RequestProfile(input_tokens, output, frozenset(needs), stream=request.stream)


class CallRouting:
    """A client's chains and router.

    Args:
        chains: The user's chains (a YAML path or a parsed mapping), merged over the presets when
            first needed; `None` for the presets alone.
        registry: Model facts for the filters and the cost and quality strategies.
        stats: Latency and load per route.
        breakers: Whose open circuits send routes to the back.
        rng: Random source of the randomised strategies.
    """

    def __init__(
        self,
        chains: str | os.PathLike[str] | Mapping[str, object] | None,
        registry: ModelRegistry,
        stats: RouteStatsBoard,
        breakers: BreakerBoard,
        rng: random.Random,
    ) -> None:
        self._source = chains
        self._chains: dict[str, ChainConfig] | None = None
        self._strategies: dict[str, RoutingStrategy] = {}
        self._router = Router(
            facts=lambda route: registry.get(route.provider, route.model),
            stats=stats,
            available=lambda route: not breakers.is_open(route),
            rng=rng,
        )

    @property
    def chains(self) -> Mapping[str, ChainConfig]:
        """The chains by name, loaded and validated on first use (YAML is parsed only then).

        Raises:
            ConfigurationError: The configuration is invalid; the error names the field.
        """
        if self._chains is None:
            chains = load_chains(self._source)
            self._strategies = {name: build_strategy(config) for name, config in chains.items()}
            self._chains = chains
        return self._chains

    def route_chain(self, name: str, request: ChatRequest | EmbeddingsRequest) -> RoutingDecision:
        """Order the routes of chain `name` for `request`.

        Raises:
            ConfigurationError: No such chain, or none of its routes can serve the request.
        """
        config = self.chains.get(name)
        if config is None:
            known = ", ".join(sorted(self.chains))
            raise ConfigurationError("model", f"no chain named {name!r} (known: {known})")
        decision = self._router.decide(config.routes, request_profile(request), self._strategies[name])
        decision.require_routes(f"chains.{name}")
        return decision

    def filter_explicit(
        self, routes: tuple[Route, ...], request: ChatRequest | EmbeddingsRequest
    ) -> RoutingDecision | None:
        """Drop the routes known to be unfit from a caller's list, keeping its order.

        Returns:
            The decision when routes were dropped; `None` when all stay, or when all would go (the
            providers then get the last word).
        """
        decision = self._router.decide(routes, request_profile(request), _PRIORITY)
        if not decision.dropped or not decision.routes:
            return None
        kept = set(decision.routes)
        return dataclasses.replace(decision, routes=tuple(route for route in routes if route in kept))
