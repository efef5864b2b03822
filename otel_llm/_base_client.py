"""What `Client` and `AsyncClient` share: everything but the I/O.

The shells in `_client.py` and `_async_client.py` only send requests, read bodies and sleep; request
preparation, routing decisions (the engine), response handling, cost and stream decoding live here once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import random
import sys
import time
import typing
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar, cast

import httpx

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover - Python 3.10; typing_extensions costs ~2.5 ms to import
    from typing_extensions import Unpack

from otel_llm._attribution import (
    METRIC_ATTRIBUTION_KEYS,
    Attribution,
    current_attribution,
    metric_attribution_keys,
)
from otel_llm._breaker import BreakerBoard, BreakerPolicy, BreakerTransition, CircuitState, Clock
from otel_llm._config import (
    CHAIN_PREFIX,
    ProviderSettings,
    Timeout,
    build_provider,
    coerce_provider_settings,
    normalise_timeout,
    parse_route,
)
from otel_llm._engine import Attempt, CallPlan
from otel_llm._exceptions import (
    DEFAULT_FALLBACK_KINDS,
    ConfigurationError,
    ErrorKind,
    ProviderError,
)
from otel_llm._inputs import parse_messages, parse_response_format, parse_tool_choice, parse_tools
from otel_llm._policies import RetryPolicy
from otel_llm._stream_session import StreamSession
from otel_llm._structured import OutputType
from otel_llm._tokens import with_estimated_usage
from otel_llm._types import (
    NOT_GIVEN,
    ChatRequest,
    ChatResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    JsonSchema,
    MessageInput,
    NotGiven,
    Operation,
    ResponseFormat,
    Route,
    Tool,
    Usage,
)
from otel_llm.providers import Provider
from otel_llm.providers._base import EmbeddingsProvider
from otel_llm.telemetry import RouteTarget

if TYPE_CHECKING:
    from otel_llm._budget import Budget, BudgetStatus, Reservation
    from otel_llm._budget_stores import BudgetStore
    from otel_llm._cache import CacheConfig, ResponseCache
    from otel_llm._call_routing import CallRouting
    from otel_llm._health import HealthSnapshot
    from otel_llm._health_server import HealthServer
    from otel_llm._registry import ModelRegistry
    from otel_llm._route_stats import RouteStatsBoard
    from otel_llm._routing import RoutingDecision
    from otel_llm._spending import Spending
    from otel_llm.telemetry import CallRecorder, MeterProvider, Telemetry, TracerProvider
    from otel_llm.telemetry._content import ContentCapture

logger = logging.getLogger("otel_llm")


class ChatOptions(TypedDict, total=False):
    """Keyword options of `chat()` and `stream()`.

    Attributes:
        fallbacks: Routes (`"provider:model"`) tried in order when the previous one fails.
        temperature: Sampling temperature.
        top_p: Nucleus sampling mass.
        max_tokens: Upper bound on generated tokens.
        stop: Stop sequences.
        seed: Sampling seed, where supported.
        tools: Functions the model may call (`Tool`, or `{"name", "description", "parameters"}`).
        tool_choice: `"auto"`, `"none"`, `"required"` or the name of a declared tool.
        response_format: `"json"` or a `JsonSchema` (use `parse()` to get a validated object back).
        timeout: Seconds per attempt, or a `Timeout`; default: the client's.
    """

    fallbacks: Sequence[str]
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    stop: Sequence[str] | None
    seed: int | None
    tools: Sequence[Tool | Mapping[str, object]]
    tool_choice: str | None
    response_format: ResponseFormat | Mapping[str, object] | None
    timeout: float | Timeout | NotGiven


T = TypeVar("T")


class ClientConfig(TypedDict, total=False):
    """Keyword arguments shared by `Client` and `AsyncClient`.

    Attributes:
        providers: Settings per provider key (`ProviderSettings` or a mapping); built-in providers
            need none when their API key is in the environment.
        retry: Retry policy for each route.
        breaker: Circuit-breaker policy, applied per provider.
        timeout: Seconds per attempt, or a `Timeout` with a total deadline.
        tracer_provider: Tracer provider; default: the global one.
        meter_provider: Meter provider; default: the global one.
        capture_content: Record message content (opt-in): `True` on span attributes, or a
            `ContentCapture` (span and/or event, redaction hooks, size limit); default: from
            `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`.
        registry: Model registry pricing the calls; default: the bundled snapshot.
        clock: Monotonic clock, injectable for tests.
        rng: Random source for backoff jitter.
        environ: Where API keys are read from; default: `os.environ`.
        metric_attribution: `otel_llm.attribution` keys that become metric labels (each with at most
            100 values); default: all that may (`team`, `feature`); user ids never do.
        budgets: Spending limits (`otel_llm.budgets.Budget`); each call reserves its worst-case cost
            before sending and settles with the actual cost.
        budget_store: Where budget counters live: `MemoryBudgetStore` (default, this process),
            `SQLiteBudgetStore` (this host) or `RedisBudgetStore` (several hosts).
        cache: Response cache (`CacheConfig`): exact-match, in memory with an optional SQLite tier;
            identical concurrent calls are sent once.
        wall_clock: Wall-clock time (epoch seconds) for budget periods and the SQLite cache tier.
        chains: Named chains for `model="chain:<name>"`: a YAML file's path or a parsed mapping
            (`{"chains": {name: {"strategy": ..., "routes": [...]}}}`), merged over the nine presets.
        fallback_on: Error kinds after which a call moves on to its next route; default:
            `DEFAULT_FALLBACK_KINDS` (all but the request errors `bad_request`, `not_found`,
            `content_filter`).
    """

    providers: Mapping[str, ProviderSettings | Mapping[str, object]]
    retry: RetryPolicy
    breaker: BreakerPolicy
    timeout: float | Timeout
    tracer_provider: TracerProvider | None
    meter_provider: MeterProvider | None
    capture_content: bool | ContentCapture | None
    registry: ModelRegistry
    clock: Clock
    rng: random.Random
    environ: Mapping[str, str]
    fallback_on: Collection[ErrorKind]
    metric_attribution: Collection[str]
    budgets: Sequence[Budget]
    budget_store: BudgetStore
    cache: CacheConfig
    wall_clock: Callable[[], float]
    chains: str | os.PathLike[str] | Mapping[str, object]


class EmbedOptions(TypedDict, total=False):
    """Keyword options of `embed()`.

    Attributes:
        fallbacks: Routes (`"provider:model"`) tried in order when the previous one fails.
        dimensions: Vector size wanted, for models that can shorten their output.
        timeout: Seconds per attempt, or a `Timeout`; default: the client's.
    """

    fallbacks: Sequence[str]
    dimensions: int | None
    timeout: float | Timeout | NotGiven


R = TypeVar("R", ChatRequest, EmbeddingsRequest)


@dataclasses.dataclass(frozen=True, slots=True)
class PreparedCall(Generic[R]):
    """A validated call: its routes, provider-neutral request and time limits.

    Attributes:
        routes: Routes to try, in order.
        request: The request, addressed to the first route's model.
        timeout: Time limits.
        attribution: Who the call is for.
        chain: The named chain that chose `routes`, if any.
        routing: How `routes` were chosen, when a chain ordered them or unfit routes were dropped.
    """

    routes: tuple[Route, ...]
    request: R
    timeout: Timeout
    attribution: Attribution
    chain: str | None = None
    routing: RoutingDecision | None = None

    @property
    def stream(self) -> bool:
        """Whether the call streams (its attempts end at the first chunk)."""
        return isinstance(self.request, ChatRequest) and self.request.stream

    @property
    def operation(self) -> Operation:
        """`gen_ai.operation.name` of the call."""
        return "embeddings" if isinstance(self.request, EmbeddingsRequest) else "chat"


class BaseClient:
    """Configuration, providers, breakers, telemetry and pricing shared by both clients."""

    def __init__(self, **config: Unpack[ClientConfig]) -> None:
        _reject_unknown(config, ClientConfig)
        self._settings = coerce_provider_settings(config.get("providers", {}))
        self._environ = config.get("environ", os.environ)
        self._providers: dict[str, Provider] = {}
        for name in self._settings:  # fail at construction, not at the first call
            self._provider(name)
        self._timeout = normalise_timeout(config.get("timeout", 60.0))
        self._retry = config.get("retry") or RetryPolicy()
        self._fallback_on = _fallback_kinds(config.get("fallback_on", DEFAULT_FALLBACK_KINDS))
        self._clock = config.get("clock", time.monotonic)
        self._rng = config.get("rng") or random.Random()
        from otel_llm._registry import ModelRegistry  # deferred: `import otel_llm` stays light

        self._prices = config.get("registry") or ModelRegistry()
        self._warned_unpriced: set[Route] = set()
        self._output_types: dict[type, OutputType[Any]] = {}
        self._targets: dict[Route, RouteTarget] = {}
        from otel_llm.telemetry._handler import Telemetry  # deferred: see otel_llm.telemetry

        self._telemetry: Telemetry = Telemetry(
            tracer_provider=config.get("tracer_provider"),
            meter_provider=config.get("meter_provider"),
            capture_content=config.get("capture_content"),
            metric_attribution=metric_attribution_keys(
                config.get("metric_attribution", METRIC_ATTRIBUTION_KEYS)
            ),
        )
        self._breakers = BreakerBoard(
            config.get("breaker") or BreakerPolicy(), self._clock, self._on_transition, self._rng
        )
        self._telemetry.observe_breakers(self._breaker_states)
        from otel_llm._route_stats import RouteStatsBoard  # deferred: keeps `import otel_llm` cheap

        wall_clock = config.get("wall_clock", time.time)
        self._spending: Spending | None = None
        if config.get("budgets"):
            from otel_llm._budget import BudgetLedger
            from otel_llm._spending import Spending

            ledger = BudgetLedger(config["budgets"], config.get("budget_store"), wall_clock=wall_clock)
            self._spending = Spending(ledger, self._prices)
            self._telemetry.observe_budgets(self._budget_windows)
        self._cache: ResponseCache | None = None
        if config.get("cache") is not None:
            from otel_llm._cache import build_cache

            self._cache = build_cache(config["cache"], clock=self._clock, wall_clock=wall_clock)

        self._stats: RouteStatsBoard = RouteStatsBoard(self._clock)
        self._chain_source = config.get("chains")
        self._routing: CallRouting | None = None
        if self._chain_source is not None:
            self._call_routing().chains  # noqa: B018 - a bad chains file fails here, not at the first call

    def breaker_states(self) -> dict[str, CircuitState]:
        """Current circuit-breaker states of the providers and models used so far.

        Keys are `"provider"` (faults of the whole provider: connection, quota) and `"provider:model"`
        (faults of one model: overloaded, server errors, timeouts).
        """
        return self._breakers.states()

    def reset_breaker(self, key: str) -> None:
        """Close by hand: `"provider:model"` a model's; `"provider"` the provider's and its models'."""
        self._breakers.reset(key)

    def health(self) -> HealthSnapshot:
        """What this client knows about its routes, breakers and budgets right now (no network)."""
        from otel_llm._health import health_snapshot  # deferred: most programs never ask

        return health_snapshot(
            self._breakers.breakers(),
            {str(route): snapshot for route, snapshot in self._stats.snapshots().items()},
            self._spending.ledger.status() if self._spending is not None else (),
            self._clock(),
        )

    def serve_health(
        self, host: str = "127.0.0.1", port: int = 0, *, allow_reset: bool = True
    ) -> HealthServer:
        """Serve `health()` over HTTP on a background thread (see `HealthServer` for the routes).

        Args:
            host: Interface to bind; loopback by default.
            port: TCP port; 0 picks a free one (read it from `.url`).
            allow_reset: Whether `POST /breakers/{key}/reset` may close breakers.

        Returns:
            The running server; `close()` it when done.
        """
        from otel_llm._health_server import HealthServer  # deferred: http.server is not needed otherwise

        return HealthServer(self.health, self.reset_breaker if allow_reset else None, host, port)

    # --- preparation -----------------------------------------------------------------------------

    def _prepare(
        self, model: str, messages: Sequence[MessageInput], stream: bool, options: ChatOptions
    ) -> PreparedCall[ChatRequest]:
        _reject_unknown(options, ChatOptions)
        routes = self._routes(model, options.get("fallbacks", ()))
        stop = options.get("stop")
        tools = parse_tools(options.get("tools"))
        request = ChatRequest(
            model=routes[0].model if routes else "",
            messages=parse_messages(messages),
            temperature=options.get("temperature"),
            top_p=options.get("top_p"),
            max_tokens=options.get("max_tokens"),
            stop=tuple(stop) if stop else None,
            seed=options.get("seed"),
            tools=tools,
            tool_choice=parse_tool_choice(options.get("tool_choice"), tools),
            response_format=parse_response_format(options.get("response_format")),
            stream=stream,
        )
        timeout = self._call_timeout(options.get("timeout", NOT_GIVEN))
        return self._routed(model, routes, request, timeout, current_attribution())

    def _prepare_embeddings(
        self, model: str, inputs: str | Sequence[str], options: EmbedOptions
    ) -> PreparedCall[EmbeddingsRequest]:
        _reject_unknown(options, EmbedOptions)
        routes = self._routes(model, options.get("fallbacks", ()))
        for i, route in enumerate(routes):
            if not isinstance(self._provider(route.provider), EmbeddingsProvider):
                field = "model" if i == 0 else f"fallbacks[{i - 1}]"
                raise ConfigurationError(field, f"provider {route.provider!r} offers no embeddings")
        texts = (inputs,) if isinstance(inputs, str) else tuple(inputs)
        if not texts or not all(isinstance(text, str) for text in texts):
            raise ConfigurationError("inputs", "expected a string or a non-empty sequence of strings")
        dimensions = options.get("dimensions")
        if dimensions is not None and (
            isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
        ):
            raise ConfigurationError("dimensions", "expected a positive integer")
        request = EmbeddingsRequest(
            model=routes[0].model if routes else "", inputs=texts, dimensions=dimensions
        )
        timeout = self._call_timeout(options.get("timeout", NOT_GIVEN))
        call = self._routed(model, routes, request, timeout, current_attribution())
        if call.chain is not None:
            for route in call.routes:
                if not isinstance(self._provider(route.provider), EmbeddingsProvider):
                    raise ConfigurationError(
                        f"chains.{call.chain}", f"provider {route.provider!r} offers no embeddings"
                    )
        return call

    def _routes(self, model: str, fallbacks: Sequence[str]) -> tuple[Route, ...]:
        """The caller's routes, validated; none for a chain, whose routes depend on the request."""
        if isinstance(fallbacks, str):
            raise ConfigurationError("fallbacks", 'expected a sequence of "provider:model" strings')
        if model.startswith(CHAIN_PREFIX):
            if fallbacks:
                raise ConfigurationError("fallbacks", "a chain names its own routes; drop fallbacks")
            return ()
        routes = (
            parse_route(model, "model"),
            *(parse_route(f, f"fallbacks[{i}]") for i, f in enumerate(fallbacks)),
        )
        for route in routes:
            self._provider(route.provider)
        return routes

    def _routed(
        self, model: str, routes: tuple[Route, ...], request: R, limits: Timeout, attribution: Attribution
    ) -> PreparedCall[R]:
        """The call with its final routes: a chain's, ordered for this request, or the caller's."""
        if routes:
            # A lone route has nothing to drop in favour of: its provider has the last word.
            decision = self._call_routing().filter_explicit(routes, request) if len(routes) > 1 else None
            if decision is None:
                return PreparedCall(routes, request, limits, attribution)
            return self._addressed(decision, request, limits, attribution, None)
        name = model.removeprefix(CHAIN_PREFIX)
        decision = self._call_routing().route_chain(name, request)
        for route in decision.routes:
            self._provider(route.provider)
        return self._addressed(decision, request, limits, attribution, name)

    @staticmethod
    def _addressed(
        decision: RoutingDecision, request: R, limits: Timeout, attribution: Attribution, chain: str | None
    ) -> PreparedCall[R]:
        request = dataclasses.replace(request, model=decision.routes[0].model)
        return PreparedCall(decision.routes, request, limits, attribution, chain, decision)

    def _call_routing(self) -> CallRouting:
        if self._routing is None:
            from otel_llm._call_routing import CallRouting  # deferred: most calls name their routes

            self._routing = CallRouting(
                self._chain_source, self._prices, self._stats, self._breakers, self._rng
            )
        return self._routing

    def _call_timeout(self, timeout: float | Timeout | NotGiven) -> Timeout:
        return self._timeout if isinstance(timeout, NotGiven) else normalise_timeout(timeout)

    def _output_type(self, output_type: type[T]) -> OutputType[T]:
        cached = self._output_types.get(output_type)
        if cached is None:
            cached = self._output_types[output_type] = OutputType(output_type)
        return cast("OutputType[T]", cached)

    @staticmethod
    def _structured_options(options: ChatOptions, schema: JsonSchema) -> ChatOptions:
        if "response_format" in options:
            raise ConfigurationError(
                "response_format", "parse() sets it from output_type; pass one or the other"
            )
        return {**options, "response_format": schema}

    def _start_call(self, call: PreparedCall[Any], *, activate: bool) -> CallRecorder:
        return self._telemetry.llm_call(
            call.operation,
            self._target,
            call.routes[0],
            call.request,
            activate=activate,
            attribution=call.attribution,
        )

    def _plan(self, call: PreparedCall[Any], recorder: CallRecorder) -> CallPlan[Any]:
        return CallPlan(
            call.routes,
            retry=self._retry,
            breakers=self._breakers,
            clock=self._clock,
            rng=self._rng,
            attempt_timeout=call.timeout.attempt,
            total_timeout=call.timeout.total,
            fallback_on=self._fallback_on,
            listener=recorder.on_plan_event,
            streaming=call.stream,
        )

    def _provider(self, name: str) -> Provider:
        provider = self._providers.get(name)
        if provider is None:
            provider = self._providers[name] = build_provider(name, self._settings.get(name), self._environ)
        return provider

    def _target(self, route: Route) -> RouteTarget:
        target = self._targets.get(route)
        if target is None:
            provider = self._provider(route.provider)
            target = self._targets[route] = RouteTarget(
                route, provider.semconv_name, provider.server_address, provider.server_port
            )
        return target

    @contextlib.contextmanager
    def _spend(self, call: PreparedCall[R], recorder: CallRecorder) -> Iterator[Bill[R]]:
        """Reserve the call's worst case against the budgets for the block; settle or release after.

        A budget past its soft limit with a `downgrade_to` chain re-routes the call through that chain
        (once): send `bill.call`, not `call`.

        Raises:
            BudgetExceededError: A hard limit would be exceeded; nothing is sent.
        """
        self._record_routing(call, recorder)
        bill = Bill(call)
        spending = self._spending
        if spending is None:
            yield bill
            return
        reservation = self._reserve(spending, call)
        recorder.record_reservation(reservation.amount_usd, reservation.charges)
        downgrade = reservation.downgrade_to
        if downgrade is not None and downgrade != call.chain:
            spending.ledger.release(reservation)
            bill.call = self._routed(
                CHAIN_PREFIX + downgrade, (), call.request, call.timeout, call.attribution
            )
            recorder.record_downgrade(downgrade)
            self._record_routing(bill.call, recorder)
            reservation = self._reserve(spending, bill.call)
        try:
            yield bill
        except BaseException:
            spending.close(reservation, None, failed=True, delivered=bill.delivered)
            raise
        spending.close(reservation, bill.cost_usd, failed=False, delivered=True)

    def _reserve(self, spending: Spending, call: PreparedCall[Any]) -> Reservation:
        return spending.reserve(
            call.routes, call.request, call.attribution, self._telemetry.record_budget_rejection
        )

    @staticmethod
    def _record_routing(call: PreparedCall[Any], recorder: CallRecorder) -> None:
        if call.routing is not None:
            dropped = [(str(d.route), d.reason) for d in call.routing.dropped]
            recorder.record_routing(call.chain, call.routing.strategy, call.routes[0], dropped)

    def _budget_windows(self) -> list[tuple[Budget, BudgetStatus]]:
        if self._spending is None:
            return []
        budgets = {budget.name: budget for budget in self._spending.ledger.budgets}
        return [(budgets[status.budget], status) for status in self._spending.ledger.status()]

    def _cache_key(self, call: PreparedCall[Any]) -> str | None:
        """The call's cache key, or `None` when there is no cache."""
        if self._cache is None:
            return None
        from otel_llm._cache_codec import cache_key

        return cache_key(call.routes, call.request)

    def _cache_hit(self, key: str, kind: type[C], recorder: CallRecorder) -> C | None:
        """The cached answer to the call, marked as such and free, or `None` (a miss)."""
        if self._cache is None:
            return None
        cached = self._cache.get(key, kind)
        if cached is None:
            return None
        recorder.record_cache("hit", cached.cost_usd, cached.route)
        return self._as_cached(cached)

    @staticmethod
    def _as_cached(response: C) -> C:
        return dataclasses.replace(response, cached=True, cost_usd=Decimal(0))

    def _cache_put(self, key: str, response: ChatResponse | EmbeddingsResponse) -> None:
        if self._cache is not None:
            self._cache.put(key, response)

    def _observe_attempt(
        self, call: PreparedCall[Any], action: Attempt, started: float, error: ProviderError | None
    ) -> None:
        """Feed an attempt's outcome to the route statistics (latency routing, health)."""
        stream = call.stream
        if error is None:
            self._stats.record_success(action.route, self._clock() - started, stream=stream)
        else:
            self._stats.record_failure(action.route, error.kind, self._clock() - started, stream=stream)

    # --- wire ------------------------------------------------------------------------------------

    def _wire_request(
        self, call: PreparedCall[ChatRequest], action: Attempt
    ) -> tuple[Provider, ChatRequest, httpx.Request]:
        provider = self._provider(action.route.provider)
        request = dataclasses.replace(call.request, model=action.route.model, attempt=action.number)
        http_request = self._finish_wire(
            provider.build_request(request), call.timeout, action, stream=request.stream
        )
        return provider, request, http_request

    def _wire_embeddings(
        self, call: PreparedCall[EmbeddingsRequest], action: Attempt
    ) -> tuple[EmbeddingsProvider, EmbeddingsRequest, httpx.Request]:
        provider = cast("EmbeddingsProvider", self._provider(action.route.provider))  # checked in _prepare
        request = dataclasses.replace(call.request, model=action.route.model, attempt=action.number)
        return (
            provider,
            request,
            self._finish_wire(provider.build_embeddings_request(request), call.timeout, action),
        )

    def _finish_wire(
        self, http_request: httpx.Request, timeout: Timeout, action: Attempt, *, stream: bool = False
    ) -> httpx.Request:
        """Apply the attempt's time limit and the provider's configured headers and token."""
        settings = self._settings.get(action.route.provider)
        if settings is not None:
            if settings.headers:
                http_request.headers.update(settings.headers)
            if settings.token_provider is not None:
                http_request.headers["authorization"] = f"Bearer {settings.token_provider()}"
        return _with_timeout(http_request, timeout, action, stream=stream)

    def _stream_session(
        self, provider: Provider, request: ChatRequest, route: Route, status: int, timeout: Timeout
    ) -> StreamSession:
        return StreamSession(provider, request, route, status, clock=self._clock, timeout=timeout)

    def _finish_response(
        self, provider: Provider, request: ChatRequest, route: Route, response: httpx.Response
    ) -> ChatResponse:
        if response.status_code >= 400:
            raise provider.classify_error(response, request)
        parsed = with_estimated_usage(request, provider.parse_response(response, request))
        return dataclasses.replace(parsed, route=route, cost_usd=self._cost(route, parsed.usage))

    def _finish_embeddings(
        self, provider: EmbeddingsProvider, request: EmbeddingsRequest, route: Route, response: httpx.Response
    ) -> EmbeddingsResponse:
        if response.status_code >= 400:
            raise provider.classify_error(response, request)
        parsed = provider.parse_embeddings_response(response, request)
        # Embeddings generate nothing: zero output tokens is a fact here, not a guess.
        cost = self._cost(route, dataclasses.replace(parsed.usage, output_tokens=0))
        return dataclasses.replace(parsed, route=route, cost_usd=cost)

    def _cost(self, route: Route, usage: Usage) -> Decimal | None:
        cost = self._prices.call_cost_usd(route.provider, route.model, usage)
        unpriced = cost is None and self._prices.price(route.provider, route.model) is None
        if unpriced and route not in self._warned_unpriced:
            self._warned_unpriced.add(route)
            logger.warning("no price known for %s: its calls record no cost (counted as unpriced)", route)
        return cost

    # --- breakers --------------------------------------------------------------------------------

    def _on_transition(self, transition: BreakerTransition) -> None:
        self._telemetry.record_transition(transition, self._provider(transition.provider).semconv_name)

    def _breaker_states(self) -> list[tuple[str, str | None, CircuitState]]:
        return [
            (self._provider(breaker.provider).semconv_name, breaker.model, breaker.state)
            for breaker in self._breakers.breakers()
        ]


def _with_timeout(
    http_request: httpx.Request, timeout: Timeout, action: Attempt, *, stream: bool
) -> httpx.Request:
    limit = action.timeout
    read = limit
    pace = [t for t in (timeout.first_chunk, timeout.idle) if t is not None]
    if stream and pace:
        # A read waiting longer than any allowed gap is a timeout even when nothing at all arrives.
        read = min(limit, max(pace))
    http_request.extensions["timeout"] = {
        "connect": min(timeout.connect, limit),
        "read": read,
        "write": limit,
        "pool": limit,
    }
    return http_request


def _fallback_kinds(kinds: Collection[str]) -> frozenset[ErrorKind]:
    known = set(typing.get_args(ErrorKind))
    if isinstance(kinds, str) or not all(kind in known for kind in kinds):
        raise ConfigurationError("fallback_on", f"expected error kinds out of {sorted(known)}")
    return frozenset(cast("Collection[ErrorKind]", kinds))


def _reject_unknown(options: Mapping[str, object], accepted: type) -> None:
    unknown = set(options) - set(accepted.__annotations__)
    if unknown:
        raise ConfigurationError(sorted(unknown)[0], "unknown option")


C = TypeVar("C", ChatResponse, EmbeddingsResponse)


@dataclasses.dataclass(slots=True)
class Bill(Generic[R]):
    """A call under a budget reservation: what to send, and what its shell reports back.

    Attributes:
        call: The call to send (a soft limit may have re-routed it).
        cost_usd: The actual cost, once known.
        delivered: Whether output reached the caller (a failed stream may have delivered some).
    """

    call: PreparedCall[R]
    cost_usd: Decimal | None = None
    delivered: bool = False
