"""A client's budgets applied to its calls: reserve the worst case before sending, settle afterwards.

The worst case of a call is the dearest of its routes: the estimated input plus the most output it may
generate (`max_tokens`, else the model's `max_output`, else `DEFAULT_MAX_OUTPUT`), at that route's
prices. Reserving it before anything is sent is what keeps concurrent calls from overshooting a hard
limit (R10 in the reference); settling with the real cost gives the difference back. Routes without a
known price reserve nothing: their calls record no cost either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Final

from otel_llm._attribution import Attribution
from otel_llm._budget import Budget, BudgetLedger, Reservation, worst_case_cost
from otel_llm._exceptions import BudgetExceededError
from otel_llm._registry import ModelRegistry
from otel_llm._tokens import estimate_input_tokens
from otel_llm._types import ChatRequest, EmbeddingsRequest, Route

RefusalListener = Callable[[Budget | None, BudgetExceededError], None]
"""Told which budget refused a call (`None` if the ledger no longer holds it), and the error raised."""

DEFAULT_MAX_OUTPUT: Final = 4096
"""Output tokens assumed when neither the call nor the registry bounds them."""


class Spending:
    """Reserves and settles calls against a ledger, pricing them with a registry."""

    def __init__(self, ledger: BudgetLedger, registry: ModelRegistry) -> None:
        self.ledger = ledger
        self._registry = registry

    def worst_case(self, routes: Sequence[Route], request: ChatRequest | EmbeddingsRequest) -> Decimal:
        """The most the call may cost on any of its priced routes."""
        input_tokens = estimate_input_tokens(request)
        worst = Decimal(0)
        for route in routes:
            price = self._registry.price(route.provider, route.model)
            if price is None:
                continue
            worst = max(worst, worst_case_cost(price, input_tokens, self._max_output(route, request)))
        return worst

    def reserve(
        self,
        routes: Sequence[Route],
        request: ChatRequest | EmbeddingsRequest,
        attribution: Attribution,
        on_refusal: RefusalListener,
    ) -> Reservation:
        """Hold the call's worst case in every budget it counts against.

        Args:
            routes: The routes the call may take (the dearest bounds the worst case).
            request: The call's request.
            attribution: Who the call is for (scope budgets).
            on_refusal: Told of a refusal, with the refusing budget, before it is raised (telemetry).

        Raises:
            BudgetExceededError: A hard limit would be exceeded; nothing was held or sent.
        """
        try:
            return self.ledger.reserve(attribution, self.worst_case(routes, request))
        except BudgetExceededError as exc:
            on_refusal(next((b for b in self.ledger.budgets if b.name == exc.budget), None), exc)
            raise

    def close(
        self, reservation: Reservation, cost_usd: Decimal | None, *, failed: bool, delivered: bool
    ) -> None:
        """Settle a finished call with its cost, or release a failed one.

        A failed call that delivered nothing is released (providers do not bill errors); one that
        failed after delivering (a stream cut mid-way or closed early) keeps its reservation as spent,
        because what it cost is unknown and money is never under-counted.
        """
        if failed and not delivered:
            self.ledger.release(reservation)
        else:
            self.ledger.settle(reservation, None if failed else cost_usd)

    def _max_output(self, route: Route, request: ChatRequest | EmbeddingsRequest) -> int:
        if isinstance(request, EmbeddingsRequest):
            return 0
        if request.max_tokens is not None:
            return request.max_tokens
        info = self._registry.get(route.provider, route.model)
        if info is not None and info.max_output is not None:
            return info.max_output
        return DEFAULT_MAX_OUTPUT
