"""Spans and metrics for every call: the only place otel-llm touches the OpenTelemetry API.

Business code writes `with telemetry.llm_call(...) as call:` plus `call.attempt(...)`,
`call.record_response(...)`; the engine's and the breakers' events arrive through listeners.

Mapping of a routed call onto the GenAI semantic conventions (there is no notion of fallbacks there):
- one CLIENT span `{operation} {model}` per logical call, retries and fallbacks included; its provider,
  model and server attributes name the route that finally served (or last failed) the call, while
  `otel_llm.route.requested` keeps the first choice;
- one INTERNAL child span `otel_llm.attempt` per attempt, with its own route, server and `error.type`;
- GenAI metrics once per call, on the serving route, so tokens and cost land where they were billed;
  per-attempt failures, retries, fallbacks and breaker changes go to `otel_llm.*` metrics.

Telemetry never breaks a call: every recording step is guarded, and a failure is logged (and
re-raised only when `strict`, which the test suite turns on).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, Concatenate, Final, ParamSpec, Protocol, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from otel_llm._attribution import EMPTY_ATTRIBUTION, METRIC_ATTRIBUTION_KEYS, Attribution
from otel_llm._breaker import BreakerTransition, CircuitState
from otel_llm._budget import Budget, BudgetCharge, BudgetStatus
from otel_llm._engine import Attempt, FallbackTaken, PlanEvent, RetryScheduled
from otel_llm._exceptions import BudgetExceededError, ProviderError
from otel_llm._types import (
    ChatRequest,
    ChatResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    Route,
    Usage,
)
from otel_llm._version import __version__
from otel_llm.telemetry import _instruments as inst
from otel_llm.telemetry._attributes import (
    error_type_of,
    request_attributes,
)
from otel_llm.telemetry._content import ContentCapture, content_capture
from otel_llm.telemetry._route import RouteTarget

logger = logging.getLogger("otel_llm.telemetry")

SCOPE_NAME: Final = "otel_llm"
CONTENT_EVENT: Final = "gen_ai.client.inference.operation.details"
"""The event carrying message content when the capture mode asks for events (semconv)."""
STRICT_ENV: Final = "OTEL_LLM_TELEMETRY_STRICT"

Attributes = dict[str, AttributeValue]
P = ParamSpec("P")
R = TypeVar("R")
Resolver = Callable[[Route], "RouteTarget"]
BudgetWindows = Callable[[], Iterable[tuple["Budget", "BudgetStatus"]]]
"""Gives each budget window known so far, with its budget."""
BreakerStates = Callable[[], Iterable[tuple[str, "str | None", CircuitState]]]
"""Gives (`gen_ai.provider.name`, model or `None` for a provider's breaker, state) per breaker."""


class _Recording(Protocol):
    @property
    def strict(self) -> bool: ...


S = TypeVar("S", bound=_Recording)


def _guarded(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R | None]:
    """Run a recording step so that its failure is logged instead of breaking the call."""

    @functools.wraps(method)
    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R | None:
        try:
            return method(self, *args, **kwargs)
        except Exception:
            logger.warning(
                "otel-llm telemetry failed in %s; the call is unaffected", method.__name__, exc_info=True
            )
            if self.strict:
                raise
            return None

    return wrapper


class Telemetry:
    """Creates spans and records metrics for otel-llm clients.

    Args:
        tracer_provider: Tracer provider to use; default: the global one.
        meter_provider: Meter provider to use; default: the global one.
        capture_content: Record message content (opt-in): `True` on span attributes, or a
            `ContentCapture` (span and/or event, redaction hooks, size limit). Default: from
            `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` (see `_content.py`).
        strict: Re-raise telemetry failures instead of logging them (for tests). Default: from
            `OTEL_LLM_TELEMETRY_STRICT`.
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        capture_content: bool | ContentCapture | None = None,
        strict: bool | None = None,
        metric_attribution: frozenset[str] = METRIC_ATTRIBUTION_KEYS,
    ) -> None:
        self.metric_attribution = metric_attribution
        self._label_values: dict[str, set[str]] = {key: set() for key in metric_attribution}
        self.tracer = trace.get_tracer(SCOPE_NAME, __version__, tracer_provider)
        meter = metrics.get_meter(SCOPE_NAME, __version__, meter_provider)
        self.content = content_capture(capture_content)
        self.strict = strict if strict is not None else os.environ.get(STRICT_ENV, "") in ("1", "true")
        self._breaker_sources: list[BreakerStates] = []
        self.duration = meter.create_histogram(
            inst.OPERATION_DURATION.name,
            unit=inst.OPERATION_DURATION.unit,
            description=inst.OPERATION_DURATION.description,
            explicit_bucket_boundaries_advisory=list(inst.DURATION_BUCKETS),
        )
        self.token_usage = meter.create_histogram(
            inst.TOKEN_USAGE.name,
            unit=inst.TOKEN_USAGE.unit,
            description=inst.TOKEN_USAGE.description,
            explicit_bucket_boundaries_advisory=list(inst.TOKEN_BUCKETS),
        )
        self.time_to_first_chunk = meter.create_histogram(
            inst.TIME_TO_FIRST_CHUNK.name,
            unit=inst.TIME_TO_FIRST_CHUNK.unit,
            description=inst.TIME_TO_FIRST_CHUNK.description,
            explicit_bucket_boundaries_advisory=list(inst.DURATION_BUCKETS),
        )
        self.cost, self.unpriced, self.attempts, self.retries, self.fallbacks, self.transitions = (
            meter.create_counter(spec.name, unit=spec.unit, description=spec.description)
            for spec in (
                inst.COST,
                inst.UNPRICED_CALLS,
                inst.ATTEMPTS,
                inst.RETRIES,
                inst.FALLBACKS,
                inst.CIRCUIT_TRANSITIONS,
            )
        )
        (
            self.budget_rejections,
            self.budget_soft_limit,
            self.cache_requests,
            self.cache_savings,
            self.routing_decisions,
        ) = (
            meter.create_counter(spec.name, unit=spec.unit, description=spec.description)
            for spec in (
                inst.BUDGET_REJECTIONS,
                inst.BUDGET_SOFT_LIMIT_EXCEEDED,
                inst.CACHE_REQUESTS,
                inst.CACHE_SAVINGS,
                inst.ROUTING_DECISIONS,
            )
        )
        self._budget_sources: list[BudgetWindows] = []
        _join_gauges(meter, self)

    def llm_call(
        self,
        operation: str,
        resolve: Resolver,
        first: Route,
        request: ChatRequest | EmbeddingsRequest,
        *,
        activate: bool = True,
        attribution: Attribution = EMPTY_ATTRIBUTION,
        span_attributes: Attributes | None = None,
    ) -> CallRecorder:
        """A recorder for one logical call; use as a context manager (or `start()`/`end()` for streams).

        Args:
            operation: `gen_ai.operation.name`.
            resolve: Gives the provider name and server of any route of the call.
            first: The first route of the call.
            request: The request as sent to the first route.
            activate: Make the call span current while the `with` block runs. Streams pass `False`:
                their span outlives the frame that opened it.
            attribution: Who the call is for (`otel_llm.attribution`).
            span_attributes: More attributes for the call span, known before it starts (a provider's own
                semantic-convention attributes, such as `openai.api.type`).
        """
        return CallRecorder(self, operation, resolve, first, request, activate, attribution, span_attributes)

    def attribution_labels(self, attribution: Attribution) -> dict[str, str]:
        """The metric labels of `attribution`: allowed keys only, each with a bounded set of values."""
        labels = {}
        for key, values in self._label_values.items():
            value = attribution.get(key)
            if value is None:
                continue
            if value not in values:
                if len(values) >= inst.MAX_LABEL_VALUES:
                    value = inst.OTHER_VALUE
                else:
                    values.add(value)
            labels[inst.ATTRIBUTION_PREFIX + key] = value
        return labels

    def observe_breakers(self, states: BreakerStates) -> None:
        """Report the breaker states `states()` returns on the state gauge."""
        self._breaker_sources.append(states)

    @_guarded
    def record_transition(self, transition: BreakerTransition, provider_name: str) -> None:
        """Record a breaker state change: a counter, and an event on the current span."""
        where = _breaker_attributes(provider_name, transition.model)
        self.transitions.add(1, {**where, inst.CIRCUIT_STATE_ATTR: transition.new.value})
        trace.get_current_span().add_event(
            "otel_llm.circuit.state_change",
            {
                **where,
                "otel_llm.circuit.from": transition.old.value,
                "otel_llm.circuit.to": transition.new.value,
            },
        )

    def observe_budgets(self, windows: BudgetWindows) -> None:
        """Report the budget windows `windows()` returns on the budget gauges."""
        self._budget_sources.append(windows)

    def budget_labels(self, budget: Budget, scope_value: str | None) -> dict[str, str] | None:
        """Labels of a budget window; `None` when its scope may not be a label (a per-user budget)."""
        labels = {inst.BUDGET_NAME: budget.name, inst.BUDGET_PERIOD: budget.period}
        if budget.scope is None or scope_value is None:
            return labels
        if budget.scope not in self.metric_attribution:
            return None
        return {**labels, **self.attribution_labels({budget.scope: scope_value})}

    @_guarded
    def record_budget_rejection(self, budget: Budget | None, error: BudgetExceededError) -> None:
        """A call was refused by a hard limit before anything was sent."""
        if budget is not None:
            labels = self.budget_labels(budget, error.scope_value)
            self.budget_rejections.add(1, labels if labels is not None else self.budget_labels(budget, None))

    @_guarded
    def record_cache(
        self, operation: str, result: str, saved_usd: Decimal | None, target: RouteTarget | None
    ) -> None:
        """A cache lookup's result, and what a hit saved."""
        self.cache_requests.add(1, {inst.OPERATION_NAME: operation, inst.CACHE_RESULT: result})
        if saved_usd and target is not None:
            self.cache_savings.add(
                float(saved_usd),
                {
                    inst.OPERATION_NAME: operation,
                    inst.PROVIDER_NAME: target.provider_name,
                    inst.REQUEST_MODEL: target.route.model,
                },
            )

    @_guarded
    def record_routing(self, chain: str, strategy: str, first: RouteTarget) -> None:
        """A named chain ordered its routes; `first` is the route tried first."""
        self.routing_decisions.add(
            1,
            {
                inst.ROUTING_CHAIN: chain,
                inst.ROUTING_STRATEGY: strategy,
                inst.PROVIDER_NAME: first.provider_name,
                inst.REQUEST_MODEL: first.route.model,
            },
        )

    def _budget_observations(
        self, value: Callable[[BudgetStatus], Iterable[tuple[float, dict[str, str]]]]
    ) -> list[Observation]:
        observations: list[Observation] = []
        for source in self._budget_sources:
            for budget, status in source():
                labels = self.budget_labels(budget, status.scope_value)
                if labels is not None:
                    observations.extend(Observation(v, {**labels, **extra}) for v, extra in value(status))
        return observations

    def _observe_budget_spent(self, options: CallbackOptions) -> list[Observation]:
        return self._budget_observations(lambda status: [(float(status.spent_usd), {})])

    def _observe_budget_limits(self, options: CallbackOptions) -> list[Observation]:
        def limits(status: BudgetStatus) -> list[tuple[float, dict[str, str]]]:
            pairs = (("hard", status.limit_usd), ("soft", status.soft_limit_usd))
            return [
                (float(limit), {inst.BUDGET_LIMIT_KIND: kind}) for kind, limit in pairs if limit is not None
            ]

        return self._budget_observations(limits)

    def _observe_budget_utilization(self, options: CallbackOptions) -> list[Observation]:
        return self._budget_observations(lambda status: [(status.utilisation, {})])

    def _observe_breakers(self, options: CallbackOptions) -> list[Observation]:
        observations = []
        for source in self._breaker_sources:
            for provider_name, model, state in source():
                value = inst.CIRCUIT_STATE_VALUES[state.value]
                observations.append(Observation(value, _breaker_attributes(provider_name, model)))
        return observations


_GAUGES: Final[
    tuple[tuple[inst.InstrumentSpec, Callable[[Telemetry, CallbackOptions], list[Observation]]], ...]
] = (
    (inst.CIRCUIT_STATE, Telemetry._observe_breakers),
    (inst.BUDGET_SPENT, Telemetry._observe_budget_spent),
    (inst.BUDGET_LIMIT, Telemetry._observe_budget_limits),
    (inst.BUDGET_UTILIZATION, Telemetry._observe_budget_utilization),
)
# The telemetries observed through each meter's gauges, held weakly: a client that is gone stops being
# reported. Keyed weakly by meter, so a meter provider that is gone takes its entry along.
_GAUGE_MEMBERS: weakref.WeakKeyDictionary[metrics.Meter, weakref.WeakSet[Telemetry]] = (
    weakref.WeakKeyDictionary()
)
_GAUGE_LOCK = threading.Lock()


def _join_gauges(meter: metrics.Meter, telemetry: Telemetry) -> None:
    """Have `telemetry`'s breakers and budgets reported by the meter's observable gauges.

    The gauges are created once per meter and feed from every client's telemetry: the SDK keeps only
    the first registration of an instrument name and drops the callbacks of later ones, so a second
    client (a sync one beside an async one, say) would otherwise never have its breakers observed.
    """
    with _GAUGE_LOCK:
        members = _GAUGE_MEMBERS.get(meter)
        if members is None:
            members = _GAUGE_MEMBERS[meter] = weakref.WeakSet()
            for spec, observe in _GAUGES:
                meter.create_observable_gauge(
                    spec.name,
                    callbacks=[_fan_out(members, observe)],
                    unit=spec.unit,
                    description=spec.description,
                )
        members.add(telemetry)


def _fan_out(
    members: weakref.WeakSet[Telemetry], observe: Callable[[Telemetry, CallbackOptions], list[Observation]]
) -> Callable[[CallbackOptions], list[Observation]]:
    def callback(options: CallbackOptions) -> list[Observation]:
        # Two clients may hold a breaker or budget of the same name; a series gets one value per
        # collection, so the highest wins: "open" if any client's breaker for the route is open.
        highest: dict[frozenset[tuple[str, Any]], Observation] = {}
        for telemetry in list(members):
            try:
                for observation in observe(telemetry, options):
                    series = frozenset((observation.attributes or {}).items())
                    kept = highest.get(series)
                    if kept is None or observation.value > kept.value:
                        highest[series] = observation
            except Exception:  # one client's failing source must not hide the others'
                logger.debug("otel_llm: a gauge source failed", exc_info=True)
        return list(highest.values())

    return callback


def _breaker_attributes(provider_name: str, model: str | None) -> dict[str, str]:
    # A provider's breaker has no model: its series carry the provider alone.
    if model is None:
        return {inst.PROVIDER_NAME: provider_name}
    return {inst.PROVIDER_NAME: provider_name, inst.REQUEST_MODEL: model}


class CallRecorder:
    """Telemetry of one logical call. Every public method is guarded."""

    def __init__(
        self,
        telemetry: Telemetry,
        operation: str,
        resolve: Resolver,
        first: Route,
        request: ChatRequest | EmbeddingsRequest,
        activate: bool,
        attribution: Attribution,
        span_attributes: Attributes | None = None,
    ) -> None:
        self._telemetry = telemetry
        self._span_attributes = span_attributes
        self._attribution = attribution
        self._operation = operation
        self._resolve = resolve
        self._request = request
        self._activate = activate
        self._target = resolve(first)
        self._requested = first
        self._response_model: str | None = None
        self._succeeded = False
        self._attributes: Attributes | None = None
        self._started = 0.0
        self._first_chunk_at: float | None = None
        self._span: trace.Span = trace.INVALID_SPAN
        self._context: otel_context.Context | None = None
        self._token: object | None = None
        self._ended = False
        self._event_content: dict[str, str] = {}  # for the one content event, emitted at the end

    def __enter__(self) -> CallRecorder:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.end(exc)

    @_guarded
    def start(self) -> None:
        """Open the call span (its sampling-relevant attributes are known now)."""
        self._started = time.perf_counter()
        request, target = self._request, self._target
        attributes: Attributes = {
            inst.OPERATION_NAME: self._operation,
            inst.PROVIDER_NAME: target.provider_name,
            inst.REQUEST_MODEL: target.route.model,
            inst.SERVER_ADDRESS: target.server_address,
            inst.SERVER_PORT: target.server_port,
            "otel_llm.route.requested": str(target.route),
        }
        attributes.update((k, v) for k, v in request_attributes(request).items() if v is not None)
        attributes.update((inst.ATTRIBUTION_PREFIX + k, v) for k, v in self._attribution.items())
        if self._span_attributes:
            attributes.update(self._span_attributes)
        self._span = self._telemetry.tracer.start_span(
            f"{self._operation} {target.route.model}", kind=SpanKind.CLIENT, attributes=attributes
        )
        self._context = trace.set_span_in_context(self._span)
        if self._activate:
            self._token = otel_context.attach(self._context)
        if self._telemetry.content.enabled and isinstance(request, ChatRequest):
            self._record_content(self._telemetry.content.input_attributes(request))

    @property
    def strict(self) -> bool:
        """Whether telemetry failures are re-raised."""
        return self._telemetry.strict

    def attempt(self, action: Attempt) -> AttemptRecorder:
        """A recorder for one attempt (a child span); use as a context manager."""
        self._target = self._resolve(action.route)
        return AttemptRecorder(self, action, self._target)

    @_guarded
    def on_plan_event(self, event: PlanEvent) -> None:
        """Record a retry or fallback decision: span event plus counter."""
        if isinstance(event, RetryScheduled):
            self._telemetry.retries.add(
                1,
                {
                    inst.PROVIDER_NAME: self._resolve(event.route).provider_name,
                    inst.REQUEST_MODEL: event.route.model,
                    inst.ERROR_TYPE: event.error.kind,
                },
            )
            self._span.add_event(
                "otel_llm.retry",
                {"otel_llm.retry.delay_s": event.delay, inst.ERROR_TYPE: event.error.kind},
            )
        elif isinstance(event, FallbackTaken):
            self._telemetry.fallbacks.add(
                1,
                {
                    inst.PROVIDER_NAME: self._resolve(event.from_route).provider_name,
                    inst.REQUEST_MODEL: event.from_route.model,
                    inst.FALLBACK_TO_PROVIDER: self._resolve(event.to_route).provider_name,
                    inst.ERROR_TYPE: event.reason,
                },
            )
            self._span.add_event(
                "otel_llm.fallback",
                {
                    "otel_llm.fallback.from": str(event.from_route),
                    "otel_llm.fallback.to": str(event.to_route),
                    inst.ERROR_TYPE: event.reason,
                },
            )

    @_guarded
    def record_reservation(self, amount_usd: Decimal, charges: Iterable[BudgetCharge]) -> None:
        """The call's worst case is held against its budgets; flag the ones past their soft limit."""
        self._span.set_attribute("otel_llm.budget.reserved_usd", float(amount_usd))
        for charge in charges:
            if not charge.soft_limit_exceeded:
                continue
            labels = self._telemetry.budget_labels(charge.budget, charge.scope_value)
            if labels is None:
                labels = self._telemetry.budget_labels(charge.budget, None) or {}
            self._telemetry.budget_soft_limit.add(1, labels)
            self._span.add_event(
                "otel_llm.budget.soft_limit_exceeded",
                {
                    inst.BUDGET_NAME: charge.budget.name,
                    inst.BUDGET_PERIOD: charge.budget.period,
                    "otel_llm.budget.committed_usd": float(charge.committed_usd),
                    "otel_llm.budget.downgrade_to": charge.budget.downgrade_to or "",
                },
            )

    @_guarded
    def record_cache(self, result: str, saved_usd: Decimal | None = None, route: Route | None = None) -> None:
        """Record a cache lookup's result (`hit`, `miss` or `coalesced`) and what a hit on `route` saved."""
        self._span.set_attribute(inst.CACHE_RESULT, result)
        target = self._resolve(route) if route is not None else None
        self._telemetry.record_cache(self._operation, result, saved_usd, target)

    @_guarded
    def record_routing(
        self, chain: str | None, strategy: str, first: Route, dropped: Iterable[tuple[str, str]]
    ) -> None:
        """The call's routes were chosen: by a named `chain`, or (`None`) from the caller's list.

        `first` is the route tried first.

        `dropped` lists the routes filtered out, with the reason. Only a chain's decision is counted in
        the routing-decisions metric; a caller's list is the caller's decision.
        """
        self._span.set_attribute(inst.ROUTING_STRATEGY, strategy)
        for route, reason in dropped:
            self._span.add_event(
                "otel_llm.routing.dropped", {"otel_llm.route": route, "otel_llm.reason": reason}
            )
        if chain is not None:
            self._span.set_attribute(inst.ROUTING_CHAIN, chain)
            self._telemetry.record_routing(chain, strategy, self._resolve(first))

    @_guarded
    def record_downgrade(self, chain: str) -> None:
        """A budget past its soft limit sent the call through the cheaper `chain`."""
        self._span.add_event("otel_llm.budget.downgraded", {inst.ROUTING_CHAIN: chain})

    @_guarded
    def record_first_chunk(self) -> None:
        """The first content chunk of a stream reached the caller."""
        self._first_chunk_at = time.perf_counter()
        ttfc = self._first_chunk_at - self._started
        self._span.set_attribute("gen_ai.response.time_to_first_chunk", ttfc)
        self._telemetry.time_to_first_chunk.record(ttfc, self._metric_attributes())

    @_guarded
    def record_response(self, response: ChatResponse) -> None:
        """The chat call succeeded: response attributes on the span, tokens and cost as metrics."""
        self._record_outcome(
            response.model,
            response.usage,
            response.cost_usd,
            {
                "gen_ai.response.id": response.id,
                "gen_ai.response.finish_reasons": list(response.finish_reasons) or None,
            },
        )
        if self._telemetry.content.enabled:
            self._record_content(self._telemetry.content.output_attributes(response))

    @_guarded
    def record_embeddings(self, response: EmbeddingsResponse) -> None:
        """The embeddings call succeeded: model, vector size, tokens and cost."""
        dimensions = len(response.vectors[0]) if response.vectors else None
        self._record_outcome(
            response.model,
            response.usage,
            response.cost_usd,
            {"gen_ai.embeddings.dimension.count": dimensions},
        )

    def _record_outcome(
        self,
        response_model: str | None,
        usage: Usage,
        cost: Decimal | None,
        extra: Mapping[str, AttributeValue | None],
    ) -> None:
        self._response_model = response_model
        self._succeeded = True
        target = self._target
        attributes: dict[str, AttributeValue | None] = {
            **extra,
            inst.RESPONSE_MODEL: response_model,
            "gen_ai.usage.input_tokens": usage.input_tokens,
            "gen_ai.usage.output_tokens": usage.output_tokens,
            "gen_ai.usage.cache_read.input_tokens": usage.cache_read_input_tokens,
            # The registry renamed cache_creation to cache_write (semconv-genai #440): emit both.
            "gen_ai.usage.cache_write.input_tokens": usage.cache_write_input_tokens,
            "gen_ai.usage.cache_creation.input_tokens": usage.cache_write_input_tokens,
            "gen_ai.usage.reasoning.output_tokens": usage.reasoning_output_tokens,
            "otel_llm.usage.estimated": True if usage.estimated else None,
            "otel_llm.cost.usd": float(cost) if cost is not None else None,
            "otel_llm.cost.source": None
            if cost is None
            else "provider"
            if usage.billed_cost_usd is not None
            else "price_table",
        }
        if target.route != self._requested:  # a fallback served: the span names the serving route
            attributes[inst.PROVIDER_NAME] = target.provider_name
            attributes[inst.REQUEST_MODEL] = target.route.model
            attributes[inst.SERVER_ADDRESS] = target.server_address
            attributes[inst.SERVER_PORT] = target.server_port
        self._span.set_attributes({k: v for k, v in attributes.items() if v is not None})
        metric_attributes = self._metric_attributes()
        # The token histogram only takes counts the provider reported: estimates stay on the span
        # (marked), as the semantic conventions ask.
        if not usage.estimated:
            for token_type, count in (("input", usage.input_tokens), ("output", usage.output_tokens)):
                if count is not None:  # unknown counts are never recorded as zero
                    self._telemetry.token_usage.record(
                        count, {**metric_attributes, inst.TOKEN_TYPE: token_type}
                    )
        cost_attributes: Attributes = {
            inst.OPERATION_NAME: self._operation,
            inst.PROVIDER_NAME: target.provider_name,
            inst.REQUEST_MODEL: target.route.model,
        }
        if self._attribution:
            cost_attributes.update(self._telemetry.attribution_labels(self._attribution))
        if cost is None:
            self._telemetry.unpriced.add(1, cost_attributes)
        else:
            self._telemetry.cost.add(float(cost), cost_attributes)

    @_guarded
    def end(self, error: BaseException | None) -> None:
        """Close the call: duration metric, error status, span end. Idempotent."""
        if self._ended:
            return
        self._ended = True
        try:
            duration = time.perf_counter() - self._started
            attributes = self._metric_attributes()
            if error is not None:
                error_type = error_type_of(error)
                attributes = {**attributes, inst.ERROR_TYPE: error_type}
                self._span.set_attribute(inst.ERROR_TYPE, error_type)
                self._span.set_status(Status(StatusCode.ERROR, str(error)[:500]))
                self._span.record_exception(error)
            self._telemetry.duration.record(duration, attributes)
            if self._event_content:
                self._span.add_event(CONTENT_EVENT, {**attributes, **self._event_content})
        finally:
            self._span.end()
            if self._token is not None:
                otel_context.detach(self._token)  # type: ignore[arg-type]  # the token attach() returned

    @property
    def context(self) -> otel_context.Context | None:
        """The OpenTelemetry context holding the call span (parent of attempt spans)."""
        return self._context

    def _metric_attributes(self) -> Attributes:
        # Built once the serving route and response are known, then shared by every metric of the call.
        if self._attributes is not None:
            return self._attributes
        target = self._target
        attributes: Attributes = {
            inst.OPERATION_NAME: self._operation,
            inst.PROVIDER_NAME: target.provider_name,
            inst.REQUEST_MODEL: target.route.model,
            inst.SERVER_ADDRESS: target.server_address,
            inst.SERVER_PORT: target.server_port,
        }
        if self._attribution:
            attributes.update(self._telemetry.attribution_labels(self._attribution))
        if self._succeeded:
            if self._response_model:
                attributes[inst.RESPONSE_MODEL] = self._response_model
            self._attributes = attributes  # final: the response fixes route and response model
        return attributes

    def _record_content(self, attributes: dict[str, str]) -> None:
        """Message content where the capture policy wants it: span attributes and/or the content event.

        The event is one per call, input and output together with the call's identifying attributes
        (the semantic conventions' "operation details"), so it stands on its own apart from the trace:
        it is emitted when the call ends.
        """
        content = self._telemetry.content
        if content.on_span:
            self._span.set_attributes(attributes)
        if content.in_event:
            self._event_content.update(attributes)


class AttemptRecorder:
    """Telemetry of one attempt: a child span, active while the attempt runs, and the attempts counter."""

    def __init__(self, call: CallRecorder, action: Attempt, target: RouteTarget) -> None:
        self._call = call
        self._telemetry = call._telemetry
        self._action = action
        self._target = target
        self._span: trace.Span = trace.INVALID_SPAN
        self._token: object | None = None
        self._error: BaseException | None = None

    @property
    def strict(self) -> bool:
        """Whether telemetry failures are re-raised."""
        return self._telemetry.strict

    def fail(self, error: BaseException) -> None:
        """Mark the attempt failed by an error the caller handles (it does not propagate)."""
        self._error = error

    def __enter__(self) -> AttemptRecorder:
        self._start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._end(exc or self._error)

    @_guarded
    def _start(self) -> None:
        target, action = self._target, self._action
        self._span = self._telemetry.tracer.start_span(
            "otel_llm.attempt",
            context=self._call.context,
            kind=SpanKind.INTERNAL,
            attributes={
                inst.PROVIDER_NAME: target.provider_name,
                inst.REQUEST_MODEL: target.route.model,
                inst.SERVER_ADDRESS: target.server_address,
                inst.SERVER_PORT: target.server_port,
                "otel_llm.attempt.number": action.number,
                inst.ROUTE_POSITION: action.position,
            },
        )
        self._token = otel_context.attach(trace.set_span_in_context(self._span))

    @_guarded
    def _end(self, error: BaseException | None) -> None:
        try:
            attributes: Attributes = {
                inst.PROVIDER_NAME: self._target.provider_name,
                inst.REQUEST_MODEL: self._target.route.model,
                inst.ROUTE_POSITION: self._action.position,
            }
            if error is not None:
                error_type = error_type_of(error)
                attributes[inst.ERROR_TYPE] = error_type
                self._span.set_attribute(inst.ERROR_TYPE, error_type)
                if isinstance(error, ProviderError) and error.status_code is not None:
                    self._span.set_attribute("http.response.status_code", error.status_code)
                self._span.set_status(Status(StatusCode.ERROR, str(error)[:500]))
            self._telemetry.attempts.add(1, attributes)
        finally:
            self._span.end()
            if self._token is not None:
                otel_context.detach(self._token)  # type: ignore[arg-type]  # the token attach() returned
