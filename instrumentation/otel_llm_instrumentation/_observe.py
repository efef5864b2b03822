"""One observed call of existing code: the same span and metrics the routing client records.

Instrumentors and the decorator turn what they see (keyword arguments, a returned object) into the
routing client's value types and hand them to the routing client's `CallRecorder`, so names, units,
buckets, cost and content rules are the same by construction. Responses are parsed by the routing
client's own provider parsers, whatever shape they come in (`as_json`).

Telemetry never breaks the observed call: a response that cannot be parsed is logged and the call's
result passes through untouched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from decimal import Decimal
from typing import Any, Final

import httpx

from otel_llm._attribution import METRIC_ATTRIBUTION_KEYS, current_attribution, metric_attribution_keys
from otel_llm._exceptions import OtelLLMError
from otel_llm._registry import ModelRegistry
from otel_llm._tokens import with_estimated_usage
from otel_llm._types import ChatRequest, ChatResponse, EmbeddingsRequest, Route, Usage
from otel_llm.providers._base import EmbeddingsProvider
from otel_llm.telemetry import RouteTarget
from otel_llm.telemetry._handler import CallRecorder, Telemetry
from otel_llm_instrumentation._endpoints import Endpoint, parser_for

logger = logging.getLogger("otel_llm.instrumentation")

_observing: ContextVar[bool] = ContextVar("otel_llm_observing", default=False)
"""True while an observed GenAI call runs: nested layers (an SDK under a decorated function, httpx under
an SDK) must not record the same call twice."""

_REGISTRY_LOCK: Final = threading.Lock()
_registry: ModelRegistry | None = None


def observing() -> bool:
    """Whether an observed GenAI call is already in progress here (then do not record another)."""
    return _observing.get()


def default_registry() -> ModelRegistry:
    """The bundled model registry, loaded on first use and shared by every instrumentor."""
    global _registry
    with _REGISTRY_LOCK:
        if _registry is None:
            _registry = ModelRegistry()
        return _registry


class ObservedCall:
    """The telemetry of one call made by existing code; use as a context manager around the call.

    Args:
        telemetry: Where spans and metrics go.
        endpoint: The provider spoken to.
        request: The call's request in the routing client's terms (model, messages, parameters).
        registry: Prices for the cost.
        span_attributes: More attributes for the span (an API's own, such as `openai.api.type`).
    """

    def __init__(
        self,
        telemetry: Telemetry,
        endpoint: Endpoint,
        request: ChatRequest | EmbeddingsRequest,
        registry: ModelRegistry | None = None,
        span_attributes: Mapping[str, str] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.request = request
        self.route = Route(endpoint.key, request.model)
        self._registry = registry or default_registry()
        target = RouteTarget(self.route, endpoint.semconv_name, endpoint.server_address, endpoint.server_port)
        operation = "embeddings" if isinstance(request, EmbeddingsRequest) else "chat"
        self.recorder: CallRecorder = telemetry.llm_call(
            operation,
            lambda route: target,
            self.route,
            request,
            attribution=current_attribution(),
            span_attributes=dict(span_attributes) if span_attributes else None,
        )
        self._token: object | None = None

    def __enter__(self) -> ObservedCall:
        self.start()
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.end(exc)

    def start(self) -> None:
        """Open the span and mark the context as observed, until `returned()` or `end()`."""
        self._token = _observing.set(True)
        self.recorder.start()

    def returned(self) -> None:
        """The observed function returned (a stream may still be running): unmark the context.

        A stream is consumed in the caller's context; left marked, every call the caller makes while
        holding the stream would go unrecorded.
        """
        token, self._token = self._token, None
        if token is not None:
            with contextlib.suppress(ValueError):  # returned in another context: nothing to undo here
                _observing.reset(token)  # type: ignore[arg-type]  # the token set() returned

    def end(self, error: BaseException | None) -> None:
        """Close the span (with `error`, if the call failed)."""
        self.returned()  # first: whatever happens next, the context is no longer marked
        self.recorder.end(error)

    def record_chat(self, result: object) -> None:
        """Record a chat result, whatever its shape; never raises."""
        with self._guard("a chat result"):
            response = self.parse_chat(result)
            if response is not None:
                self.recorder.record_response(response)

    def record_response(self, response: ChatResponse) -> ChatResponse | None:
        """Record an already parsed chat response (a finished stream's), pricing it first; never raises.

        Returns:
            The response as recorded (priced), or `None` when recording failed.
        """
        with self._guard("a chat response"):
            priced = self.priced(response)
            self.recorder.record_response(priced)
            return priced
        return None  # the guard logged why

    def record_embeddings(self, result: object) -> Decimal | None:
        """Record an embeddings result, whatever its shape; never raises.

        Returns:
            Its cost, or `None` (unknown price, or a result that could not be read).
        """
        with self._guard("an embeddings result"):
            return self._record_embeddings(result)
        return None  # the guard logged why

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        # Telemetry never breaks the observed call, and a failed recording must not skip `end()`, which
        # also clears the "observing" mark. Strict mode (the test suite) re-raises, to be seen.
        try:
            yield
        except Exception:
            if self.recorder.strict:
                raise
            logger.debug("otel_llm: could not record %s", what, exc_info=True)

    def _record_embeddings(self, result: object) -> Decimal | None:
        if not isinstance(self.request, EmbeddingsRequest):
            return None
        parser = parser_for(self.endpoint)
        if not isinstance(parser, EmbeddingsProvider):
            return None
        try:
            parsed = parser.parse_embeddings_response(_as_response(result), self.request)
        except (OtelLLMError, ValueError, TypeError, AttributeError) as exc:
            logger.debug("otel_llm: could not read an embeddings result: %s", exc)
            return None
        # Embeddings generate nothing: zero output tokens is a fact here, not a guess.
        cost = self._cost(dataclasses.replace(parsed.usage, output_tokens=0))
        self.recorder.record_embeddings(dataclasses.replace(parsed, route=self.route, cost_usd=cost))
        return cost

    def parse_chat(self, result: object) -> ChatResponse | None:
        """`result` as a priced `ChatResponse`, or `None` when it is no response we can read.

        A `ChatResponse` is taken as it is; a string that is not JSON is the reply's text (a legacy
        function returning just the answer), its tokens estimated.
        """
        if not isinstance(self.request, ChatRequest):
            return None
        if isinstance(result, ChatResponse):
            return self.priced(result)
        if isinstance(result, str) and not result.lstrip().startswith(("{", "[")):
            return self.priced(ChatResponse(text=result, model=self.request.model))
        try:
            parsed = parser_for(self.endpoint).parse_payload(
                json_object(result, "a chat result"), self.request
            )
        except (OtelLLMError, ValueError, TypeError, AttributeError) as exc:
            logger.debug("otel_llm: could not read a chat result: %s", exc)
            return None
        return self.priced(parsed)

    def priced(self, response: ChatResponse) -> ChatResponse:
        """`response` with estimated usage where missing, its route and its cost."""
        if isinstance(self.request, ChatRequest):
            response = with_estimated_usage(self.request, response)
        return dataclasses.replace(response, route=self.route, cost_usd=self._cost(response.usage))

    def _cost(self, usage: Usage) -> Decimal | None:
        return self._registry.call_cost_usd(self.route.provider, self.route.model, usage)


def run_observed(
    call: ObservedCall,
    wrapped: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    finish: Callable[[Any], Any],
) -> Any:
    """Call `wrapped` inside `call`'s span; a failure ends the span and is re-raised unchanged.

    `finish(result)` records the result and returns what the caller gets: the result, or a stream that
    ends the span later. (Google's async stream method is a coroutine too: awaited, it gives the
    iterator, which `finish` wraps.)
    """
    call.start()
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        call.end(exc)
        raise
    return finish(result)


async def run_observed_async(
    call: ObservedCall,
    wrapped: Callable[..., Awaitable[Any]],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    finish: Callable[[Any], Any],
) -> Any:
    """`run_observed` for a coroutine function, awaited inside the span."""
    call.start()
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        call.end(exc)
        raise
    return finish(result)


def telemetry_from(options: Mapping[str, Any]) -> Telemetry:
    """Where an instrumentor records, from its `instrument()` options (global providers by default).

    Options: `tracer_provider`, `meter_provider`, `capture_content` (a `ContentCapture`, or `True`;
    default: the environment variable, else none), `metric_attribution` (which attribution keys become
    metric labels; default: all that may).

    Raises:
        ConfigurationError: An option is invalid (named).
    """
    labels = options.get("metric_attribution")
    return Telemetry(
        tracer_provider=options.get("tracer_provider"),
        meter_provider=options.get("meter_provider"),
        capture_content=options.get("capture_content"),
        metric_attribution=METRIC_ATTRIBUTION_KEYS if labels is None else metric_attribution_keys(labels),
    )


def number_or_none(value: object) -> float | None:
    """A numeric keyword argument as a float, or `None` (absent, `NOT_GIVEN` or not a number)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def integer_or_none(value: object) -> int | None:
    """An integer keyword argument, or `None` (absent, `NOT_GIVEN` or not an integer)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_json(result: object) -> Any:
    """The JSON value inside whatever a legacy function or an SDK returned.

    Accepts a mapping, a JSON string or bytes, an `httpx.Response`, a `requests.Response`, and SDK
    objects (pydantic models: `model_dump`; google-genai: `to_json_dict`; anything with `to_dict`).

    Raises:
        TypeError: Nothing readable.
    """
    if isinstance(result, Mapping):
        return result
    if isinstance(result, (str, bytes, bytearray)):
        return json.loads(result)  # a plain (non-JSON) text raises ValueError: see `text_response`
    if isinstance(result, httpx.Response):
        return result.json()
    model_dump = getattr(result, "model_dump", None)
    if callable(model_dump):
        return _quiet(model_dump, mode="json")
    for method in ("to_json_dict", "to_dict"):
        dump = getattr(result, method, None)
        if callable(dump):
            return dump()
    json_method = getattr(result, "json", None)  # requests.Response and look-alikes
    if callable(json_method) and hasattr(result, "status_code"):
        return json_method()
    raise TypeError(f"cannot read a response from {type(result).__name__}")


def _quiet(dump: Callable[..., Any], **options: Any) -> Any:
    """`dump(**options)` of a pydantic object (`model_dump`, `model_dump_json`), without serializer warnings.

    A parsed result (`parse()`) holds the caller's own class where the SDK's type says something else;
    pydantic warns about that when dumping, and the caller must not see warnings from telemetry.
    """
    try:
        return dump(**options, warnings=False)
    except (TypeError, ValueError):  # pydantic v1 compatibility shims refuse `warnings`
        return dump(**options)


def json_object(result: object, what: str) -> Mapping[str, object]:
    """The JSON object inside `result` (see `as_json`), for the parsers' `parse_payload` methods.

    No JSON text in between: SDK objects and dicts give their fields directly.

    Raises:
        TypeError: `result` holds no JSON object (`what` names it in the message).
        ValueError: `result` is text that is not JSON.
    """
    payload = as_json(result)
    if not isinstance(payload, Mapping):
        raise TypeError(f"{what} is a JSON object, not {type(payload).__name__}")
    return payload


def _as_response(result: object) -> httpx.Response:
    """An embeddings result as the routing client's embeddings parsers read it: a response of its JSON.

    Built from bytes where the result can give them directly (a pydantic SDK object, JSON text): re-encoding
    a dict costs more than the parse.
    """
    if isinstance(result, httpx.Response):
        return result
    if isinstance(result, (str, bytes, bytearray)):
        body = result.encode() if isinstance(result, str) else bytes(result)
    else:
        dump_json = getattr(result, "model_dump_json", None)
        body = _quiet(dump_json).encode() if callable(dump_json) else json.dumps(as_json(result)).encode()
    return httpx.Response(200, content=body)
