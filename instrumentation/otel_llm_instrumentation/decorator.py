"""`@otel_llm.llm_call(...)`: the routing client's telemetry for an LLM function you already have.

Works on functions, coroutine functions, generators and async generators (streams). The function runs
unchanged: its arguments, return value, exceptions (type and traceback) and streamed items pass through
as they are; the decorator only watches. What it records comes from what the function returns, read by
the routing client's own parsers for the provider's wire format — a dict, a JSON string, an
`httpx.Response`, a `requests.Response`, an official SDK object, a plain text answer — or by your
`extract` function.

Optionally it protects the call as the routing client protects its own (`retry=`, `breaker=`,
`timeout=`, `budget=`): see `llm_call`. Without those options nothing else runs.

Example:
    >>> @otel_llm.llm_call(provider="openai", model="gpt-4o-mini")
    ... def summarise(text: str) -> dict:
    ...     return requests.post(URL, json={...}, headers=...).json()
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx
import wrapt

from otel_llm import providers
from otel_llm._breaker import Clock
from otel_llm._exceptions import ConfigurationError
from otel_llm._inputs import parse_messages
from otel_llm._policies import RetryPolicy
from otel_llm._types import ChatRequest, EmbeddingsRequest, Route
from otel_llm.telemetry import MeterProvider, TracerProvider
from otel_llm.telemetry._content import ContentCapture
from otel_llm.telemetry._handler import Telemetry
from otel_llm_instrumentation._endpoints import Endpoint, endpoint_for
from otel_llm_instrumentation._observe import ObservedCall, integer_or_none, number_or_none, observing
from otel_llm_instrumentation._resilience import (
    END,
    Guarded,
    Resilience,
    SleepFunction,
    open_async_stream,
    open_stream,
    reserve,
    resilience,
    run,
    run_async,
    settle,
)
from otel_llm_instrumentation._streams import ChunkFolder

if TYPE_CHECKING:
    from otel_llm._budget import BudgetLedger, Reservation

F = TypeVar("F", bound=Callable[..., Any])

# Wire formats of the built-in providers that do not speak OpenAI's.
_WIRES: Mapping[str, str] = {
    "anthropic": "anthropic",
    "gemini": "gemini",
    "azure": "azure",
    "ollama": "ollama",
}
_telemetry: Telemetry | None = None


def llm_call(
    *,
    provider: str,
    model: str | None = None,
    operation: Literal["chat", "embeddings"] = "chat",
    base_url: str | None = None,
    wire: str | None = None,
    extract: Callable[[Any], Any] | None = None,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    capture_content: bool | ContentCapture | None = None,
    retry: RetryPolicy | None = None,
    breaker: str | None = None,
    timeout: float | None = None,
    budget: BudgetLedger | None = None,
    clock: Clock | None = None,
    sleep: SleepFunction | None = None,
) -> Callable[[F], F]:
    """Record each call of the decorated function as a GenAI call to `provider`.

    Args:
        provider: Provider key (`"openai"`, `"anthropic"`, `"gemini"`, `"azure"`, `"ollama"`, ...); a
            name otel-llm does not know is reported as it is (give `base_url`).
        model: The model; default: the call's `model=` keyword argument.
        operation: `"chat"` or `"embeddings"`.
        base_url: The endpoint, for `server.address`; default: the provider's public one.
        wire: The wire format the results come in; default: the provider's (`"openai"` for unknown
            names).
        extract: Turns the function's return value (or each streamed item) into something readable:
            a `ChatResponse`, a mapping in the provider's wire format, or a JSON string.
        tracer_provider: Tracer provider; default: the global one.
        meter_provider: Meter provider; default: the global one.
        capture_content: Message content capture (`ContentCapture`, or `True` for span attributes);
            default: `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`, else no content.
        retry: Retry the function on the errors `retry` retries (rate limits, overload, 5xx, timeouts,
            connection failures), as the routing client retries a route. Besides `otel_llm` errors, HTTP
            errors (httpx, requests, SDK exceptions with a `status_code`) are read by status, and timeouts
            and connection errors (httpx, requests, SDKs, builtins) as such; any other exception is not
            retried. When the call finally fails, the function's last exception is raised as it was.
        breaker: Circuit breaker key, `"provider"` or `"provider:model"`: every function decorated with the
            same key shares the breakers, which count the call's outcomes as the routing client's do.
        timeout: Seconds for the whole call, retries and sleeps included: no attempt or sleep starts
            after it (a running attempt is not interrupted).
        budget: Budgets the call counts against: its worst-case cost is reserved before the function runs
            and settled with the recorded cost afterwards (released if it fails).
        clock: Monotonic clock for `timeout` and retries; default: `time.monotonic`.
        sleep: Sleep between retries; default: `time.sleep`, `asyncio.sleep` for coroutine functions.

    A generator (a stream) is protected until its first item: failures before it are retried; once an
    item reached the caller nothing is retried, and how the stream ends (exhausted, closed, or failed
    mid-way) is what its breaker counts. Its budget is settled with the cost recorded at the end.

    Raises:
        ConfigurationError: The provider is unknown and has no `base_url`, `operation` is invalid,
            or `timeout` is not positive.
        CircuitOpenError: (from a call) The breaker is open; the function did not run.
        BudgetExceededError: (from a call) A budget's hard limit would be exceeded; the function did
            not run.

    Example:
        >>> @otel_llm.llm_call(provider="openai", model="gpt-4o-mini", retry=otel_llm.RetryPolicy(),
        ...                    breaker="openai", timeout=30)
        ... def summarise(text: str) -> dict: ...
    """
    if operation not in ("chat", "embeddings"):
        raise ConfigurationError("operation", "expected 'chat' or 'embeddings'")
    endpoint = _endpoint(provider, base_url, wire)
    own = None
    if tracer_provider is not None or meter_provider is not None or capture_content is not None:
        own = Telemetry(
            tracer_provider=tracer_provider, meter_provider=meter_provider, capture_content=capture_content
        )

    def telemetry() -> Telemetry:
        return own or _default_telemetry()

    def observe(kwargs: Mapping[str, Any]) -> ObservedCall:
        return ObservedCall(telemetry(), endpoint, _request(operation, model, kwargs))

    def read(result: Any) -> Any:
        return extract(result) if extract is not None else result

    def finish(call: ObservedCall, result: Any) -> Decimal | None:
        """Record the result; its cost, where known (for budgets)."""
        if operation == "embeddings":
            return call.record_embeddings(read(result))
        response = call.parse_chat(read(result))
        if response is None:
            return None
        call.recorder.record_response(response)
        return response.cost_usd

    guard = resilience(retry=retry, breaker=breaker, timeout=timeout, budget=budget, clock=clock, sleep=sleep)

    @functools.cache  # once, at the first call: the telemetry may only exist then (global providers)
    def report_breakers() -> None:
        """Have the key's shared breakers report where this function records."""
        assert guard is not None and guard.shared is not None  # only called then
        guard.shared.report_to(telemetry(), endpoint.key, endpoint.semconv_name)

    @wrapt.decorator  # keeps the signature, and works on methods too
    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> Any:
        if guard is not None:
            if guard.shared is not None:
                report_breakers()
            # Nested under an observed call, the outer layer records (and bills) it; the protection applies.
            nested = Route(endpoint.key, _model_name(model, kwargs)) if observing() else None
            return _guarded(
                guard, wrapped, args, kwargs, nested, lambda: (observe(kwargs), telemetry()), finish, read
            )
        if observing():
            return wrapped(*args, **kwargs)  # an outer layer records this call
        if inspect.isasyncgenfunction(wrapped):
            return _async_generator(
                lambda: _StreamCall(observe(kwargs), read), lambda: aiter(wrapped(*args, **kwargs))
            )
        if inspect.isgeneratorfunction(wrapped):
            return _generator(
                lambda: _StreamCall(observe(kwargs), read), lambda: iter(wrapped(*args, **kwargs))
            )
        if inspect.iscoroutinefunction(wrapped):
            return _coroutine(wrapped, args, kwargs, observe(kwargs), finish)
        with observe(kwargs) as call:
            result = wrapped(*args, **kwargs)
            finish(call, result)
            return result

    return wrapper  # type: ignore[return-value]  # wrapt returns the function itself, wrapped


def _guarded(
    guard: Resilience,
    wrapped: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    nested: Route | None,
    observe: Callable[[], tuple[ObservedCall, Telemetry]],
    finish: Callable[[ObservedCall, Any], Decimal | None],
    read: Callable[[Any], Any],
) -> Any:
    """A call under retries, breaker, deadline and budgets."""
    if inspect.isgeneratorfunction(wrapped) or inspect.isasyncgenfunction(wrapped):

        def begin() -> _StreamCall:
            if nested is not None:
                return _StreamCall(None, read, guard, nested)
            call, telemetry = observe()
            return _StreamCall(call, read, guard, call.route, telemetry)

        if inspect.isasyncgenfunction(wrapped):
            return _async_generator(begin, lambda: aiter(wrapped(*args, **kwargs)))
        return _generator(begin, lambda: iter(wrapped(*args, **kwargs)))
    if inspect.iscoroutinefunction(wrapped):
        return _guarded_coroutine(guard, wrapped, args, kwargs, nested, observe, finish)
    if nested is not None:
        return run(guard, None, nested, lambda: wrapped(*args, **kwargs))
    call, telemetry = observe()
    with call:
        reservation = reserve(guard, call, telemetry)
        try:
            result = run(guard, call, call.route, lambda: wrapped(*args, **kwargs))
        except BaseException:
            settle(guard, reservation, None, failed=True, delivered=False)
            raise
        settle(guard, reservation, finish(call, result), failed=False, delivered=True)
        return result


async def _guarded_coroutine(
    guard: Resilience,
    wrapped: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    nested: Route | None,
    observe: Callable[[], tuple[ObservedCall, Telemetry]],
    finish: Callable[[ObservedCall, Any], Decimal | None],
) -> Any:
    if nested is not None:
        return await run_async(guard, None, nested, lambda: wrapped(*args, **kwargs))
    call, telemetry = observe()
    with call:
        reservation = reserve(guard, call, telemetry)
        try:
            result = await run_async(guard, call, call.route, lambda: wrapped(*args, **kwargs))
        except BaseException:
            settle(guard, reservation, None, failed=True, delivered=False)
            raise
        settle(guard, reservation, finish(call, result), failed=False, delivered=True)
        return result


async def _coroutine(
    wrapped: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    call: ObservedCall,
    finish: Callable[[ObservedCall, Any], object],
) -> Any:
    with call:
        result = await wrapped(*args, **kwargs)
        finish(call, result)
        return result


class _StreamCall:
    """One call of a decorated generator: its span and, under protection, its plan and budget reservation.

    Built when the stream starts (the caller's first `next`). Nested under an observed call (`call` is
    `None`), the outer layer records and bills the call: only the protection applies.

    Args:
        call: The call's telemetry, or `None` when an outer layer records it.
        read: The decorator's `extract` (or identity), applied to each item before it is folded in.
        guard: The protection, or `None`.
        route: The protected route (required with `guard`).
        telemetry: Where a budget refusal is recorded (required with `guard` and `call`).

    Raises:
        BudgetExceededError: A budget's hard limit would be exceeded; the span ends with it.
    """

    def __init__(
        self,
        call: ObservedCall | None,
        read: Callable[[Any], Any],
        guard: Resilience | None = None,
        route: Route | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._read = read
        self._guard = guard
        self._folder = ChunkFolder(call) if call is not None else None
        self._reservation: Reservation | None = None
        self._guarded: Guarded | None = None
        if call is not None:
            call.start()
            call.returned()  # the caller consumes the stream in its own context
            if guard is not None and telemetry is not None:
                try:
                    self._reservation = reserve(guard, call, telemetry)
                except BaseException as exc:
                    call.end(exc)
                    raise
        if guard is not None and route is not None:
            self._guarded = Guarded(guard, call, route, streaming=True)

    def open(self, start: Callable[[], Iterator[Any]]) -> tuple[Iterator[Any], Any]:
        """The stream and its first item (`END` if none); under protection, retried until that item."""
        if self._guarded is not None:
            return open_stream(self._guarded, start)
        iterator = start()
        return iterator, next(iterator, END)

    async def open_async(self, start: Callable[[], AsyncIterator[Any]]) -> tuple[AsyncIterator[Any], Any]:
        """`open` for an async generator."""
        if self._guarded is not None:
            return await open_async_stream(self._guarded, start)
        iterator = start()
        return iterator, await anext(iterator, END)

    def add(self, item: Any) -> None:
        """An item reached the caller."""
        if self._folder is not None:
            self._folder.add(self._read(item))

    def end(self, error: BaseException | None, *, committed: bool, left: bool) -> None:
        """The stream ended: `committed` if its first item had arrived, `left` if the caller closed it early.

        A stream failed or left after delivering is billed as the routing client bills one: its reserved
        worst case is kept, as what it cost is unknown.
        """
        if committed and self._guarded is not None:
            self._guarded.stream_ended(error)
        response = self._folder.end(error) if self._folder is not None else None
        if self._guard is not None:
            cost = response.cost_usd if response is not None else None
            settle(
                self._guard, self._reservation, cost, failed=error is not None or left, delivered=committed
            )


def _generator(begin: Callable[[], _StreamCall], start: Callable[[], Iterator[Any]]) -> Any:
    """The decorated generator's stream, observed (and protected, if `begin` says so); items unchanged."""
    stream = begin()
    error: BaseException | None = None
    committed = left = False
    try:
        iterator, first = stream.open(start)
        committed = True
        if first is not END:
            stream.add(first)
            yield first
            for item in iterator:
                stream.add(item)
                yield item
    except GeneratorExit:
        left = True  # the span ends without an error
        raise
    except BaseException as exc:
        error = exc
        raise
    finally:
        stream.end(error, committed=committed, left=left)


async def _async_generator(begin: Callable[[], _StreamCall], start: Callable[[], AsyncIterator[Any]]) -> Any:
    """`_generator` for an async generator."""
    stream = begin()
    error: BaseException | None = None
    committed = left = False
    try:
        iterator, first = await stream.open_async(start)
        committed = True
        if first is not END:
            stream.add(first)
            yield first
            async for item in iterator:
                stream.add(item)
                yield item
    except GeneratorExit:
        left = True
        raise
    except BaseException as exc:
        error = exc
        raise
    finally:
        stream.end(error, committed=committed, left=left)


def _endpoint(provider: str, base_url: str | None, wire: str | None) -> Endpoint:
    spec = providers.BUILTIN.get(provider)
    url = base_url or (spec.base_url if spec is not None else "")
    if not url:
        raise ConfigurationError("base_url", f"required for provider {provider!r} (no public endpoint known)")
    # The caller names the provider: it is the name for this host.
    names = {str(httpx.URL(url).host).lower(): provider}
    return endpoint_for(url, wire or _WIRES.get(provider, "openai"), names)


def _request(operation: str, model: str | None, kwargs: Mapping[str, Any]) -> ChatRequest | EmbeddingsRequest:
    """The call as the routing client would have described it, from the function's keyword arguments."""
    name = _model_name(model, kwargs)
    if operation == "embeddings":
        inputs = kwargs.get("input", kwargs.get("inputs", ()))
        return EmbeddingsRequest(model=name, inputs=(inputs,) if isinstance(inputs, str) else tuple(inputs))
    messages = kwargs.get("messages")
    try:
        parsed = parse_messages(messages) if messages else ()
    except ConfigurationError:  # a shape we do not know: the span goes without messages
        parsed = ()
    return ChatRequest(
        model=name,
        messages=parsed,
        temperature=number_or_none(kwargs.get("temperature")),
        top_p=number_or_none(kwargs.get("top_p")),
        max_tokens=integer_or_none(kwargs.get("max_tokens")),
        stream=bool(kwargs.get("stream", False)),
    )


def _model_name(model: str | None, kwargs: Mapping[str, Any]) -> str:
    return str(model or kwargs.get("model") or "unknown")


def _default_telemetry() -> Telemetry:
    """Telemetry on the global tracer and meter providers, shared by every decorated function."""
    global _telemetry
    if _telemetry is None:
        _telemetry = Telemetry()
    return _telemetry
