"""The routing client's protection around a legacy function: retries, a circuit breaker, a deadline, budgets.

`@otel_llm.llm_call(retry=..., breaker=..., timeout=..., budget=...)` drives the routing client's own
pure engine (`CallPlan`, `BreakerBoard`, `RetryPolicy`) over one route, the decorated function standing
in for the HTTP send. The engine reasons about `ProviderError`s, so whatever the function raises is
classified first (`classify`); what it cannot classify is not retried and fails fast.

The function's own exception is what the caller sees: after the last attempt the original exception object
is re-raised, type and traceback intact, never an `AllRoutesFailedError`. Only refusals are ours: an open
breaker (`CircuitOpenError`) or a full budget (`BudgetExceededError`), both before the function runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math
import random
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import httpx

from otel_llm._attribution import current_attribution
from otel_llm._breaker import BreakerBoard, BreakerPolicy, BreakerTransition, CircuitState, Clock
from otel_llm._engine import Attempt, CallPlan, Finish, Sleep
from otel_llm._exceptions import (
    AllRoutesFailedError,
    CircuitOpenError,
    ConfigurationError,
    ErrorKind,
    ProviderError,
)
from otel_llm._policies import NO_RETRY, RetryPolicy
from otel_llm._types import Route
from otel_llm.providers._base import kind_for_status, provider_error, retry_after_seconds
from otel_llm.telemetry._handler import Telemetry
from otel_llm_instrumentation._observe import ObservedCall, default_registry

if TYPE_CHECKING:  # budgets are imported when a function uses them: importing the decorator stays light
    from otel_llm._budget import BudgetLedger, Reservation
    from otel_llm._spending import Spending

SleepFunction = Callable[[float], Any]
"""`time.sleep`-like; for coroutine functions it may return an awaitable (`asyncio.sleep`)."""

# Without a breaker key the engine still needs a board: one whose breakers never open.
_NEVER_OPENS: Final = BreakerPolicy(
    counted_kinds=frozenset(), long_open_kinds=frozenset(), provider_kinds=frozenset(), failure_rate=None
)
# SDK exception class names (openai, anthropic, ... share them) that say what went wrong without a status.
_SDK_KINDS: Final[dict[str, ErrorKind]] = {"APITimeoutError": "timeout", "APIConnectionError": "connection"}

# Breakers are shared by every function decorated with the same key (two legacy functions calling the same
# provider must see one breaker, as the routing client's routes do), and functions are decorated at import
# time, before any object could be handed to them: so the boards live here, created on first use. Keyed by
# the clock too, so that a fake clock gets boards of its own.
_BOARDS_LOCK: Final = threading.Lock()
_BOARDS: dict[tuple[str, Clock], SharedBreakers] = {}


class SharedBreakers:
    """The breakers of one key, and the telemetry they report to: that of every function using them.

    Each telemetry the key's functions record to records the transitions (counter and span event) and
    observes the states on its state gauge, as a routing client does for its own breakers.
    """

    def __init__(self, clock: Clock) -> None:
        self.board = BreakerBoard(BreakerPolicy(), clock, self._on_transition)
        self._lock = threading.Lock()
        self._names: dict[
            str, str
        ] = {}  # provider key -> `gen_ai.provider.name`, from the functions' endpoints
        self._sinks: tuple[Telemetry, ...] = ()  # replaced, never mutated: readers take a snapshot

    def report_to(self, telemetry: Telemetry, provider_key: str, provider_name: str) -> None:
        """Have `telemetry` record these breakers (once, however often asked), naming `provider_key`."""
        with self._lock:
            self._names[provider_key] = provider_name
            if any(sink is telemetry for sink in self._sinks):
                return
            self._sinks = (*self._sinks, telemetry)
        telemetry.observe_breakers(self._states)

    def _name(self, provider_key: str) -> str:
        return self._names.get(provider_key, provider_key)

    def _states(self) -> list[tuple[str, str | None, CircuitState]]:
        return [(self._name(b.provider), b.model, b.state) for b in self.board.breakers()]

    def _on_transition(self, transition: BreakerTransition) -> None:
        for telemetry in self._sinks:
            telemetry.record_transition(transition, self._name(transition.provider))


def _shared(key: str, clock: Clock) -> SharedBreakers:
    with _BOARDS_LOCK:
        shared = _BOARDS.get((key, clock))
        if shared is None:
            shared = _BOARDS[(key, clock)] = SharedBreakers(clock)
        return shared


@dataclass(frozen=True, slots=True)
class Resilience:
    """What protects the calls of one decorated function (built once, at decoration).

    Attributes:
        retry: When to retry.
        breaker: The breaker key, or `None` (no breaker).
        shared: The breakers of `breaker`, shared with every function using that key; `None` without.
        board: The breakers: `shared`'s, or one whose breakers never open.
        timeout: Seconds for the whole call, retries and sleeps included; `None`: no deadline.
        spending: Budgets, or `None`.
        clock: Monotonic clock for the deadline and retry timing.
        sleep: Sleep function; default: `time.sleep`, or `asyncio.sleep` for coroutine functions.
        rng: Randomness for jittered backoff.
    """

    retry: RetryPolicy
    breaker: str | None
    shared: SharedBreakers | None
    board: BreakerBoard
    timeout: float | None
    spending: Spending | None
    clock: Clock
    sleep: SleepFunction | None
    rng: random.Random


def resilience(
    *,
    retry: RetryPolicy | None,
    breaker: str | None,
    timeout: float | None,
    budget: BudgetLedger | None,
    clock: Clock | None,
    sleep: SleepFunction | None,
) -> Resilience | None:
    """The protection the options ask for, or `None` when they ask for none (the fast path stays as it was).

    Raises:
        ConfigurationError: `timeout` is not positive, or `breaker` is empty.
    """
    if retry is None and breaker is None and timeout is None and budget is None:
        return None
    if timeout is not None and not timeout > 0:
        raise ConfigurationError("timeout", "must be positive")
    if breaker is not None and not breaker.strip(":"):
        raise ConfigurationError("breaker", "expected 'provider' or 'provider:model'")
    clock = clock or time.monotonic
    shared = _shared(breaker, clock) if breaker is not None else None
    spending = None
    if budget is not None:
        from otel_llm._spending import Spending

        spending = Spending(budget, default_registry())
    return Resilience(
        retry=retry or NO_RETRY,
        breaker=breaker,
        shared=shared,
        board=shared.board if shared is not None else BreakerBoard(_NEVER_OPENS, clock),
        timeout=timeout,
        spending=spending,
        clock=clock,
        sleep=sleep,
        rng=random.Random(),
    )


def classify(error: BaseException, route: Route) -> ProviderError | None:
    """`error` as the engine sees it, or `None` for an error it must not retry (not a provider failure).

    A `ProviderError` is taken as it is; an HTTP error (httpx, requests, an SDK's exception with a
    `status_code`) by its status; timeouts and connection failures (httpx, requests, SDKs, builtins) as such.
    """
    if isinstance(error, ProviderError):
        return error
    if not isinstance(error, Exception):
        return None  # KeyboardInterrupt, cancellation: no verdict on the provider
    status, headers = _status(error)
    if status is not None:
        return provider_error(
            kind_for_status(status),
            str(error),
            provider=route.provider,
            model=route.model,
            status_code=status,
            retry_after=retry_after_seconds(headers) if headers is not None else None,
        )
    kind = _transport_kind(error)
    if kind is None:
        return None
    return provider_error(
        kind, str(error) or type(error).__name__, provider=route.provider, model=route.model
    )


def _status(error: Exception) -> tuple[int | None, httpx.Headers | None]:
    """The HTTP status an exception carries (its own `status_code`, else its response's), and the headers."""
    response = getattr(error, "response", None)
    status = getattr(error, "status_code", None)
    if not isinstance(status, int):
        status = getattr(response, "status_code", None)
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status < 600:
        return None, None
    try:
        headers = httpx.Headers(getattr(response, "headers", None))
    except (TypeError, ValueError, AttributeError):  # not a mapping of strings: no delay hint then
        headers = None
    return status, headers


def _transport_kind(error: Exception) -> ErrorKind | None:
    if isinstance(error, (httpx.TimeoutException, TimeoutError)):
        return "timeout"
    if isinstance(error, (httpx.TransportError, ConnectionError)):
        return "connection"
    requests = sys.modules.get("requests")  # an error of requests implies requests is imported
    if requests is not None:
        if isinstance(error, requests.Timeout):
            return "timeout"
        if isinstance(error, requests.ConnectionError):
            return "connection"
    for cls in type(error).__mro__:
        kind = _SDK_KINDS.get(cls.__name__)
        if kind is not None:
            return kind
    return None


class Guarded:
    """One protected call: its plan, its attempts, and what to raise when it fails.

    Args:
        resilience: The decorated function's protection.
        call: The call's telemetry, or `None` when an outer layer records it.
        route: The call's route.
        streaming: The function is a generator: an attempt succeeds with its first item, and the breaker
            hears how the stream ended (`stream_ended`).
    """

    def __init__(
        self, resilience: Resilience, call: ObservedCall | None, route: Route, *, streaming: bool = False
    ) -> None:
        self._resilience = resilience
        self._call = call
        self._route = route
        self._plan: CallPlan[Any] = CallPlan(
            (route,),
            retry=resilience.retry,
            breakers=resilience.board,
            clock=resilience.clock,
            rng=resilience.rng,
            attempt_timeout=math.inf if resilience.timeout is None else resilience.timeout,
            total_timeout=resilience.timeout,
            listener=call.recorder.on_plan_event if call is not None else None,
            streaming=streaming,
        )
        self._last: BaseException | None = None

    def next_action(self) -> Attempt | Sleep | Finish[Any] | BaseException:
        """What to do next; an exception is what to raise (the plan gave up)."""
        try:
            return self._plan.next_action()
        except AllRoutesFailedError as exc:
            if self._last is not None:
                return self._last  # the function's own exception, as it raised it
            refused = next((f.error for f in exc.attempts if isinstance(f.error, CircuitOpenError)), None)
            if refused is not None and self._resilience.breaker is not None:
                return CircuitOpenError(self._resilience.breaker, refused.retry_at)
            return exc

    @contextlib.contextmanager
    def attempt(self, action: Attempt) -> Iterator[None]:
        """Run one attempt inside: a child span, and the outcome fed to the plan.

        A provider failure is kept for the plan (and re-raised at the end if it was the last); anything else
        propagates at once.
        """
        recorder = self._call.recorder.attempt(action) if self._call is not None else None
        with recorder if recorder is not None else contextlib.nullcontext():
            try:
                yield
            except BaseException as exc:
                error = classify(exc, self._route)
                if error is None:
                    self._plan.record_abandoned()
                    raise
                if recorder is not None:
                    recorder.fail(exc)
                self._last = exc
                self._plan.record_failure(error)

    def succeeded(self, result: Any) -> None:
        """The attempt returned `result` (a stream: its first item)."""
        self._plan.record_success(result)

    def stream_ended(self, error: BaseException | None) -> None:
        """The committed stream ended: exhausted or closed (`None`), or failed mid-way (`error`).

        No retry follows (items have reached the caller); the breaker counts a provider failure. An error
        that is not the provider's (the caller's own code failing) says nothing against the provider.
        """
        self._plan.record_stream_end(classify(error, self._route) if error is not None else None)

    def sleep(self) -> Callable[[float], Any]:
        """The sleep function for a plain function."""
        return self._resilience.sleep or time.sleep

    async def async_sleep(self, seconds: float) -> None:
        """Sleep in a coroutine (an injected sync sleep is called as it is)."""
        waited = (self._resilience.sleep or asyncio.sleep)(seconds)
        if inspect.isawaitable(waited):
            await waited


def run(resilience: Resilience, call: ObservedCall | None, route: Route, function: Callable[[], Any]) -> Any:
    """Call `function` under `resilience`'s retries, breaker and deadline; its result, or its exception."""
    guarded = Guarded(resilience, call, route)
    while True:
        action = guarded.next_action()
        if isinstance(action, BaseException):
            break
        match action:
            case Attempt():
                with guarded.attempt(action):
                    guarded.succeeded(function())
            case Sleep(seconds=seconds):
                guarded.sleep()(seconds)
            case Finish(result=result):
                return result
    raise action


async def run_async(
    resilience: Resilience, call: ObservedCall | None, route: Route, function: Callable[[], Awaitable[Any]]
) -> Any:
    """`run` for a coroutine function."""
    guarded = Guarded(resilience, call, route)
    while True:
        action = guarded.next_action()
        if isinstance(action, BaseException):
            break
        match action:
            case Attempt():
                with guarded.attempt(action):
                    guarded.succeeded(await function())
            case Sleep(seconds=seconds):
                await guarded.async_sleep(seconds)
            case Finish(result=result):
                return result
    raise action


END: Final = object()
"""What `open_stream` gives as the first item of a stream that had none."""


def open_stream(guarded: Guarded, start: Callable[[], Iterator[Any]]) -> tuple[Iterator[Any], Any]:
    """Start a stream under retries, breaker and deadline: its iterator and first item (or `END`).

    A failure before the first item is retried like a failed call; from the first item on the stream is
    the caller's, and `guarded.stream_ended` must be told how it ends.
    """
    while True:
        action = guarded.next_action()
        if isinstance(action, BaseException):
            raise action
        match action:
            case Attempt():
                with guarded.attempt(action):
                    iterator = start()
                    first = next(iterator, END)
                    guarded.succeeded(None)
                    return iterator, first
            case Sleep(seconds=seconds):
                guarded.sleep()(seconds)


async def open_async_stream(
    guarded: Guarded, start: Callable[[], AsyncIterator[Any]]
) -> tuple[AsyncIterator[Any], Any]:
    """`open_stream` for an async generator."""
    while True:
        action = guarded.next_action()
        if isinstance(action, BaseException):
            raise action
        match action:
            case Attempt():
                with guarded.attempt(action):
                    iterator = start()
                    first = await anext(iterator, END)
                    guarded.succeeded(None)
                    return iterator, first
            case Sleep(seconds=seconds):
                await guarded.async_sleep(seconds)


def reserve(resilience: Resilience, call: ObservedCall, telemetry: Telemetry) -> Reservation | None:
    """Hold the call's worst-case cost in its budgets (nothing without budgets).

    Raises:
        BudgetExceededError: A hard limit would be exceeded; the function must not run.
    """
    spending = resilience.spending
    if spending is None:
        return None
    reservation = spending.reserve(
        (call.route,), call.request, current_attribution(), telemetry.record_budget_rejection
    )
    call.recorder.record_reservation(reservation.amount_usd, reservation.charges)
    return reservation


def settle(
    resilience: Resilience,
    reservation: Reservation | None,
    cost: Decimal | None,
    *,
    failed: bool,
    delivered: bool,
) -> None:
    """Close a reservation by the routing client's rules (`Spending.close`).

    Settled with the recorded cost; released when the call failed having delivered nothing; kept as spent
    when it failed, or was left, after delivering (a stream: what it cost is unknown).
    """
    if resilience.spending is not None and reservation is not None:
        resilience.spending.close(reservation, cost, failed=failed, delivered=delivered)
