"""Fault-injection matrix: every failure the fake providers produce, per wire format, through the real client.

Rows: each error kind as each provider sends it (`Behavior.error`), malformed bodies, mid-stream error
events, cut streams, and the transport failures `FaultyTransport` adds (timeouts, refused connections).
Columns: chat; a stream failing before its first content chunk; a stream failing after it. Each with a
single route and with a fallback. Every cell makes three identical calls, so the breaker's progression
(threshold 3, two attempts per route) is part of the expected action.

The expected action of each kind is written by hand in `RULES` (reference §9.1), not read from the
library: `test_the_rules_agree_with_the_published_sets` checks the published sets against it, and the
matrix checks the client's behaviour against it, so a wrong classification fails one or the other.
The streaming columns run over real HTTP against `FakeProviderServer`; chat uses `MockProviders`.
"""

from __future__ import annotations

import dataclasses
import random
import time
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import httpx
import pytest

from otel_llm import (
    AllRoutesFailedError,
    BreakerPolicy,
    CircuitOpenError,
    CircuitState,
    Client,
    ProviderError,
    ProviderSettings,
    RetryPolicy,
    Route,
    StopAfterAttempts,
    StreamInterruptedError,
    Timeout,
)
from otel_llm._exceptions import DEFAULT_FALLBACK_KINDS, PROVIDER_FAULT_KINDS, ErrorKind
from otel_llm.policies import Exponential
from otel_llm.testing import Behavior, FakeProviderServer, MockProviders
from otel_llm.types import ModelRegistry
from tests.conftest import FakeClock
from tests.support.faults import FaultyTransport, TransportFault, breaker_state
from tests.wire import sse as wire_sse

USER = [{"role": "user", "content": "Tell me something."}]
PROVIDERS = ("openai", "anthropic", "gemini", "ollama")
PRIMARY_MODEL = "primary-model"
FALLBACK_MODEL = "fallback-model"

MAX_ATTEMPTS = 2  # per route and call
BACKOFF = 0.25  # fixed, so sleeps can be compared exactly
MAX_HINT = 5.0
THRESHOLD = 3  # consecutive provider faults that open a breaker
RECOVERY = 30.0
ATTEMPT_TIMEOUT = 1.0
CALLS = 3  # identical calls per cell
HINT = 1.0  # the retry hint `Behavior.error("rate_limit")` sends
STREAM_TEXT = "alpha beta gamma delta epsilon"
CHUNKS_BEFORE_FAILURE = 3  # content chunks a stream delivers before failing "after the first chunk"
PARTIAL_TEXT = "alpha beta gamma"

RETRY = RetryPolicy(
    stop=StopAfterAttempts(MAX_ATTEMPTS), backoff=Exponential(BACKOFF, maximum=BACKOFF), max_hint=MAX_HINT
)
TIMEOUT = Timeout(attempt=ATTEMPT_TIMEOUT)
REGISTRY = ModelRegistry()  # loaded once for the whole module instead of once per client
BREAKER = BreakerPolicy(failure_threshold=THRESHOLD, failure_rate=None, recovery_time=RECOVERY, jitter=0.0)

# --- the hand-written rules (reference §9.1) ---------------------------------------------------------

BreakerEffect = Literal["none", "counts", "long_open"]


@dataclass(frozen=True, slots=True)
class Rule:
    """What a failure of one kind must do to a call that has not committed to a route yet.

    Attributes:
        retried: Tried again on the same route (after the hint or a backoff).
        fails_over: The call moves on to its next route.
        breaker: `counts` towards opening the route's breaker, opens it at once for long
            (`long_open`), or leaves it alone (`none`).
    """

    retried: bool
    fails_over: bool
    breaker: BreakerEffect


RULES: dict[ErrorKind, Rule] = {
    "rate_limit": Rule(retried=True, fails_over=True, breaker="none"),  # throttling, not ill health
    "quota_exhausted": Rule(retried=False, fails_over=True, breaker="long_open"),  # credential dead
    "overloaded": Rule(retried=True, fails_over=True, breaker="counts"),
    "server_error": Rule(retried=True, fails_over=True, breaker="counts"),
    "timeout": Rule(retried=True, fails_over=True, breaker="counts"),
    "connection": Rule(retried=True, fails_over=True, breaker="counts"),
    "context_length": Rule(retried=False, fails_over=True, breaker="none"),  # a larger model may fit
    "content_filter": Rule(retried=False, fails_over=False, breaker="none"),
    "auth": Rule(retried=False, fails_over=True, breaker="none"),  # another credential or provider
    "bad_request": Rule(retried=False, fails_over=False, breaker="none"),
    "not_found": Rule(retried=False, fails_over=False, breaker="none"),
    "protocol_error": Rule(retried=False, fails_over=True, breaker="counts"),
    "stream_interrupted": Rule(retried=False, fails_over=False, breaker="counts"),  # after the first chunk
    "circuit_open": Rule(retried=False, fails_over=True, breaker="none"),  # the route is skipped
}
# A stream that ends before its first content chunk has lost its connection, whatever the framing says
# about it: reference §11 allows retries and failover until the first chunk reaches the caller.
CUT_BEFORE_FIRST_CHUNK = RULES["connection"]


def test_the_rules_cover_every_error_kind() -> None:
    assert set(RULES) == set(typing.get_args(ErrorKind))


@pytest.mark.parametrize("kind", typing.get_args(ErrorKind))
def test_the_rules_agree_with_the_published_sets(kind: ErrorKind) -> None:
    rule = RULES[kind]
    error = ProviderError("scripted", provider="p", model="m", kind=kind)
    assert (error.retryable, RetryPolicy().retries(error)) == (rule.retried, rule.retried)
    assert (error.fallback_applies, kind in DEFAULT_FALLBACK_KINDS) == (rule.fails_over, rule.fails_over)
    assert (error.is_provider_fault, kind in PROVIDER_FAULT_KINDS) == (rule.breaker == "counts",) * 2
    assert (kind in BreakerPolicy().long_open_kinds) is (rule.breaker == "long_open")


# --- what three identical calls must do under a rule --------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExpectedCall:
    """One call's effect on the primary route.

    Attributes:
        trail: Each primary attempt: `"fault"` (sent, failed) or `"skipped"` (breaker open, not sent).
        breaker: The primary's breaker state after the call.
    """

    trail: tuple[str, ...]
    breaker: CircuitState


def expected_calls(rule: Rule) -> list[ExpectedCall]:
    """The effect of `CALLS` identical calls on a primary route that always fails under `rule`."""
    calls: list[ExpectedCall] = []
    consecutive, is_open = 0, False
    for _ in range(CALLS):
        if is_open:
            calls.append(ExpectedCall(("skipped",), CircuitState.OPEN))
            continue
        attempts = 0
        while True:
            attempts += 1
            if rule.breaker == "long_open":
                is_open = True
            elif rule.breaker == "counts":
                consecutive += 1
                is_open = consecutive >= THRESHOLD
            # A failure that opens the breaker ends the route at once, retryable or not.
            if is_open or not rule.retried or attempts == MAX_ATTEMPTS:
                break
        calls.append(
            ExpectedCall(("fault",) * attempts, CircuitState.OPEN if is_open else CircuitState.CLOSED)
        )
    return calls


def test_the_expected_calls_spelled_out() -> None:
    closed, open_ = CircuitState.CLOSED, CircuitState.OPEN
    two, one, skip = ExpectedCall(("fault", "fault"), closed), ("fault",), ("skipped",)
    assert expected_calls(RULES["server_error"]) == [two, ExpectedCall(one, open_), ExpectedCall(skip, open_)]
    assert expected_calls(RULES["rate_limit"]) == [two] * 3
    assert expected_calls(RULES["quota_exhausted"]) == [
        ExpectedCall(one, open_),
        *[ExpectedCall(skip, open_)] * 2,
    ]
    assert expected_calls(RULES["protocol_error"]) == [
        *[ExpectedCall(one, closed)] * 2,
        ExpectedCall(one, open_),
    ]
    assert expected_calls(RULES["bad_request"]) == [ExpectedCall(one, closed)] * 3


# --- the faults -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fault:
    """One row of the matrix: how the primary provider fails, and what that must mean.

    Attributes:
        provider: The primary route's provider (and wire format).
        label: Test id.
        kinds: How the client must classify the failure (`error.type`).
        rule: The action the failure calls for.
        behavior: What the fake provider does on every request, if it answers.
        transport: A failure below HTTP instead (`FaultyTransport`).
        hint: The delay a retry must wait: the provider's hint; `None` means the policy's backoff.
        filtered_reply: HTTP 200 with filtered output: a result, served with finish reason content_filter.
    """

    provider: str
    label: str
    kinds: frozenset[str]
    rule: Rule
    behavior: Behavior | None = None
    transport: TransportFault | None = None
    hint: float | None = None
    filtered_reply: bool = False

    @property
    def id(self) -> str:
        return f"{self.provider}-{self.label}"


def fault(
    provider: str,
    kind: ErrorKind,
    label: str | None = None,
    *,
    behavior: Behavior | None = None,
    transport: TransportFault | None = None,
    hint: float | None = None,
) -> Fault:
    """A failure the client must classify as `kind`, calling for that kind's rule."""
    return Fault(provider, label or kind, frozenset({kind}), RULES[kind], behavior, transport, hint)


def http_errors(provider: str) -> list[Fault]:
    """Every error kind `Behavior.error` builds for `provider`, as that provider sends it."""
    faults = []
    for kind in Behavior.error_kinds:
        try:
            behavior = Behavior.error(kind, provider=provider)
        except ValueError:
            continue  # the provider has no such error (Ollama has no content filter)
        if kind == "content_filter_output":  # not an error: a reply whose finish reason says it all
            faults.append(
                Fault(provider, kind, frozenset(), RULES["content_filter"], behavior, filtered_reply=True)
            )
        else:
            error_kind = typing.cast("ErrorKind", kind)
            hint = HINT if kind == "rate_limit" else None
            faults.append(fault(provider, error_kind, behavior=behavior, hint=hint))
    return faults


def transport_errors(provider: str) -> list[Fault]:
    return [
        fault(provider, "timeout", transport="timeout"),
        fault(provider, "connection", transport="connection"),
    ]


# Mid-stream error events, each in the provider's own shape (reference §11), with the kind its embedded
# error type means. Ollama's error lines carry only a message.
MID_STREAM: dict[str, list[tuple[ErrorKind, Behavior]]] = {
    "openai": [
        ("server_error", Behavior()),
        ("rate_limit", Behavior(error_type="requests", error_code="rate_limit_exceeded")),
    ],
    "anthropic": [
        ("overloaded", Behavior()),  # `overloaded_error`, the usual one
        ("server_error", Behavior(error_type="api_error")),
        ("rate_limit", Behavior(error_type="rate_limit_error")),
    ],
    "gemini": [
        ("overloaded", Behavior()),  # 503 `UNAVAILABLE`
        ("server_error", Behavior(error_type="INTERNAL")),
        ("rate_limit", Behavior(error_type="RESOURCE_EXHAUSTED")),
    ],
    "ollama": [("server_error", Behavior())],
}


def stream_failures(provider: str, after_chunks: int) -> list[Fault]:
    """Error events and a cut connection after `after_chunks` content chunks."""
    faults = [
        fault(
            provider,
            kind,
            f"event-{kind}",
            behavior=dataclasses.replace(event, text=STREAM_TEXT, stream_error_after=after_chunks),
        )
        for kind, event in MID_STREAM[provider]
    ]
    cut = Behavior(text=STREAM_TEXT, cut_stream_after=after_chunks)
    if after_chunks:
        faults.append(fault(provider, "stream_interrupted", "cut", behavior=cut))
    else:
        # Classified as a dropped connection or a cut stream, it must be retried and failed over.
        kinds = frozenset({"connection", "stream_interrupted"})
        faults.append(Fault(provider, "cut", kinds, CUT_BEFORE_FIRST_CHUNK, cut))
    return faults


def malformed(provider: str, *, stream: bool) -> Fault:
    if not stream:
        body = b"<html><body>502 Bad Gateway</body></html>"
        return fault(provider, "protocol_error", behavior=Behavior(raw_body=body))
    if provider == "ollama":
        return fault(provider, "protocol_error", behavior=Behavior(raw_body=b'{"message": {\n'))
    behavior = Behavior(raw_body=b"data: {not json\n\n", content_type="text/event-stream")
    return fault(provider, "protocol_error", behavior=behavior)


CHAT_FAULTS = [
    f for p in PROVIDERS for f in [*http_errors(p), malformed(p, stream=False), *transport_errors(p)]
]
STREAM_BEFORE_FAULTS = [
    f
    for p in PROVIDERS
    for f in [*http_errors(p), malformed(p, stream=True), *transport_errors(p), *stream_failures(p, 0)]
]
STREAM_AFTER_FAULTS = [f for p in PROVIDERS for f in stream_failures(p, CHUNKS_BEFORE_FAILURE)]


ALL_FAULTS = [*CHAT_FAULTS, *STREAM_BEFORE_FAULTS, *STREAM_AFTER_FAULTS]


def test_the_matrix_covers_every_error_kind_and_every_scripted_error() -> None:
    # circuit_open is no provider's answer: the cells whose breaker opens produce it.
    assert {kind for f in ALL_FAULTS for kind in f.kinds} | {"circuit_open"} == set(
        typing.get_args(ErrorKind)
    )
    for provider in PROVIDERS:
        labels = {f.label for f in CHAT_FAULTS if f.provider == provider}
        missing = {"content_filter", "content_filter_output"} if provider == "ollama" else set()
        assert set(Behavior.error_kinds) - missing <= labels


def fallback_route(provider: str) -> str:
    return f"{'anthropic' if provider == 'openai' else 'openai'}:{FALLBACK_MODEL}"


# --- harness ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        yield fake


@dataclass
class Harness:
    client: Client
    transport: FaultyTransport
    clock: FakeClock


def harness(
    inner: httpx.BaseTransport,
    settings: dict[str, ProviderSettings],
    *,
    retry: RetryPolicy = RETRY,
    timeout: Timeout = TIMEOUT,
) -> Harness:
    clock = FakeClock()
    transport = FaultyTransport(inner, clock)
    client = Client(
        transport=transport,
        providers=settings,
        clock=clock,
        sleep=clock.sleep,
        retry=retry,
        breaker=BREAKER,
        timeout=timeout,
        rng=random.Random(0),
        registry=REGISTRY,
    )
    return Harness(client, transport, clock)


def mock_harness(*, retry: RetryPolicy = RETRY, timeout: Timeout = TIMEOUT) -> tuple[Harness, MockProviders]:
    mock = MockProviders()
    settings = {
        name: ProviderSettings(base_url=mock.base_url(name), api_key=f"key-{name}") for name in PROVIDERS
    }
    return harness(mock, settings, retry=retry, timeout=timeout), mock


def server_harness(server: FakeProviderServer) -> Harness:
    server.reset()
    settings = {
        name: ProviderSettings(base_url=server.base_url(name), api_key=f"key-{name}") for name in PROVIDERS
    }
    # Plain HTTP on loopback: skip loading CA certificates, which costs more than the test itself.
    return harness(httpx.HTTPTransport(verify=False), settings)


def inject(fault_: Fault, h: Harness, scripted: MockProviders | FakeProviderServer) -> None:
    if fault_.behavior is not None:
        scripted.set_behavior(fault_.provider, fault_.behavior)
    if fault_.transport is not None:
        h.transport.fail(fault_.provider, fault_.transport)


def call(
    h: Harness, route: str, fallbacks: list[str], *, stream: bool
) -> Route | AllRoutesFailedError | None:
    """One call: the route that served it, or the error that ended it."""
    try:
        if not stream:
            return h.client.chat(route, USER, fallbacks=fallbacks).route
        chat_stream = h.client.stream(route, USER, fallbacks=fallbacks)
        text = "".join(chunk.delta for chunk in chat_stream)
    except AllRoutesFailedError as exc:
        return exc
    assert chat_stream.response is not None
    assert text == chat_stream.response.text
    return chat_stream.response.route


def check_cell(h: Harness, fault_: Fault, with_fallback: bool, *, stream: bool) -> None:
    primary = f"{fault_.provider}:{PRIMARY_MODEL}"
    fallbacks = [fallback_route(fault_.provider)] if with_fallback else []
    delay = fault_.hint if fault_.hint is not None else BACKOFF
    for number, expected in enumerate(expected_calls(fault_.rule), 1):
        sent, h.clock.sleeps[:] = len(h.transport.sent), []
        outcome = call(h, primary, fallbacks, stream=stream)
        where = f"call {number}: {outcome}"
        attempts = expected.trail.count("fault")
        served_by_fallback = with_fallback and (expected.trail[-1] == "skipped" or fault_.rule.fails_over)
        fallback_sent = [fallbacks[0].split(":")[0]] if served_by_fallback else []
        assert h.transport.providers()[sent:] == [fault_.provider] * attempts + fallback_sent, where
        assert h.clock.sleeps == [delay] * (attempts - 1), where  # retried after the hint or backoff
        if served_by_fallback:
            assert isinstance(outcome, Route) and str(outcome) == fallbacks[0], where
        else:
            assert isinstance(outcome, AllRoutesFailedError), where
            assert [a.route for a in outcome.attempts] == [primary] * len(expected.trail), where
            for attempt, step in zip(outcome.attempts, expected.trail, strict=True):
                if step == "skipped":
                    assert isinstance(attempt.error, CircuitOpenError), where
                else:
                    assert attempt.error.kind in fault_.kinds, where
            if with_fallback:  # failed fast: the fallback was not even tried
                assert str(outcome).startswith(f"not failed over after {outcome.attempts[-1].error.kind}")
        assert breaker_state(h.client, primary) is expected.breaker, where


def check_filtered_reply(h: Harness, fault_: Fault, with_fallback: bool, *, stream: bool) -> None:
    primary = f"{fault_.provider}:{PRIMARY_MODEL}"
    fallbacks = [fallback_route(fault_.provider)] if with_fallback else []
    for _ in range(CALLS):
        sent = len(h.transport.sent)
        if stream:
            chat_stream = h.client.stream(primary, USER, fallbacks=fallbacks)
            assert [chunk.delta for chunk in chat_stream if chunk.delta] == []
            reply = chat_stream.response
        else:
            reply = h.client.chat(primary, USER, fallbacks=fallbacks)
        assert reply is not None and str(reply.route) == primary
        assert reply.finish_reasons == ("content_filter",)
        assert h.transport.providers()[sent:] == [fault_.provider]
    assert h.clock.sleeps == []
    assert breaker_state(h.client, primary) is CircuitState.CLOSED


ROUTES = pytest.mark.parametrize("with_fallback", [False, True], ids=["single", "fallback"])


@ROUTES
@pytest.mark.parametrize("fault_", CHAT_FAULTS, ids=[f.id for f in CHAT_FAULTS])
def test_chat(fault_: Fault, with_fallback: bool) -> None:
    h, mock = mock_harness()
    inject(fault_, h, mock)
    with h.client:
        if fault_.filtered_reply:
            check_filtered_reply(h, fault_, with_fallback, stream=False)
        else:
            check_cell(h, fault_, with_fallback, stream=False)


@ROUTES
@pytest.mark.parametrize("fault_", STREAM_BEFORE_FAULTS, ids=[f.id for f in STREAM_BEFORE_FAULTS])
def test_stream_failing_before_the_first_chunk(
    server: FakeProviderServer, fault_: Fault, with_fallback: bool
) -> None:
    h = server_harness(server)
    inject(fault_, h, server)
    with h.client:
        if fault_.filtered_reply:
            check_filtered_reply(h, fault_, with_fallback, stream=True)
        else:
            check_cell(h, fault_, with_fallback, stream=True)


@ROUTES
@pytest.mark.parametrize("fault_", STREAM_AFTER_FAULTS, ids=[f.id for f in STREAM_AFTER_FAULTS])
def test_stream_failing_after_the_first_chunk(fault_: Fault, with_fallback: bool) -> None:
    # In-process, so each event is its own read: over a socket, an error event that shares a read with
    # the first content reaches the client before anything reached the caller, and is retried.
    h, mock = mock_harness()
    inject(fault_, h, mock)
    primary = f"{fault_.provider}:{PRIMARY_MODEL}"
    fallbacks = [fallback_route(fault_.provider)] if with_fallback else []
    counts = fault_.rule.breaker == "counts"
    with h.client:
        for number in range(1, CALLS + 1):
            sent, received = len(h.transport.sent), []
            with pytest.raises(StreamInterruptedError) as info:
                for chunk in h.client.stream(primary, USER, fallbacks=fallbacks):
                    received.append(chunk.delta)
            assert "".join(received) == info.value.partial_text == PARTIAL_TEXT
            cause = info.value.__cause__
            assert isinstance(cause, ProviderError) and cause.kind in fault_.kinds, (number, cause)
            # No retry, no silent failover: the caller already holds part of the answer.
            assert h.transport.providers()[sent:] == [fault_.provider]
            assert h.clock.sleeps == []
            # A provider-side failure still counts towards the breaker (while it is closed).
            opened = counts and number >= THRESHOLD
            assert breaker_state(h.client, primary) is (CircuitState.OPEN if opened else CircuitState.CLOSED)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_failing_after_the_first_chunk_over_http(server: FakeProviderServer, provider: str) -> None:
    # Events spaced out, so that the first content is read (and committed to) before the error arrives.
    h = server_harness(server)
    server.set_behavior(provider, Behavior(text=STREAM_TEXT, stream_error_after=1, chunk_delay=0.03))
    primary = f"{provider}:{PRIMARY_MODEL}"
    with h.client, pytest.raises(StreamInterruptedError) as info:
        list(h.client.stream(primary, USER, fallbacks=[fallback_route(provider)]))
    assert info.value.partial_text == "alpha"
    assert h.transport.providers() == [provider]


class Pieces(httpx.SyncByteStream):
    """A response body arriving in exactly these reads."""

    def __init__(self, *pieces: bytes) -> None:
        self._pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pieces


def test_chunks_sharing_a_read_with_a_mid_stream_error_still_reach_the_caller() -> None:
    # Over a socket, the last chunks before an error event often arrive in the same read as the event.
    def chunk(text: str) -> dict[str, object]:
        return {"id": "c", "choices": [{"index": 0, "delta": {"content": text}}]}

    first = wire_sse({"id": "c", "choices": [{"index": 0, "delta": {"role": "assistant"}}]}, chunk("alpha"))
    rest = wire_sse(chunk(" beta"), chunk(" gamma"), {"error": {"message": "boom", "type": "server_error"}})
    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=Pieces(first, rest)))
    received: list[str] = []
    client = Client(transport=transport, providers={"openai": {"api_key": "k"}}, registry=REGISTRY)
    with client, pytest.raises(StreamInterruptedError) as info:
        for piece in client.stream(f"openai:{PRIMARY_MODEL}", USER):
            received.append(piece.delta)
    assert info.value.partial_text == "alpha beta gamma"
    assert "".join(received) == info.value.partial_text  # nothing the provider sent is kept from the caller


# --- retry hints -------------------------------------------------------------------------------------

# A 429 asking for 1.5 s, in each provider's own way of saying it.
HINTED_429 = {
    # `retry-after-ms: 1500` beside a `retry-after: 9` it must take precedence over.
    "openai": dataclasses.replace(
        Behavior.error("rate_limit", provider="openai"), retry_after=9, retry_after_ms=1500
    ),
    "anthropic": Behavior.error("rate_limit", provider="anthropic", retry_after=1.5),  # retry-after
    "gemini": Behavior.error("rate_limit", provider="gemini", retry_after=1.5),  # RetryInfo.retryDelay
    "ollama": Behavior.error("rate_limit", provider="ollama", retry_after=1.5),  # retry-after
}
HINTED = pytest.mark.parametrize("provider", list(HINTED_429))


@HINTED
def test_a_hinted_429_without_a_fallback_sleeps_for_the_hint(provider: str) -> None:
    h, mock = mock_harness()
    mock.enqueue(provider, HINTED_429[provider])
    with h.client:
        reply = h.client.chat(f"{provider}:{PRIMARY_MODEL}", USER)
    assert h.clock.sleeps == [1.5]
    assert h.transport.providers() == [provider, provider]
    assert str(reply.route) == f"{provider}:{PRIMARY_MODEL}"


@HINTED
def test_a_hint_longer_than_max_hint_fails_over_without_sleeping(provider: str) -> None:
    h, mock = mock_harness(retry=dataclasses.replace(RETRY, max_hint=1.0))
    mock.enqueue(provider, HINTED_429[provider])
    start = h.clock.now
    with h.client:
        reply = h.client.chat(f"{provider}:{PRIMARY_MODEL}", USER, fallbacks=[fallback_route(provider)])
    assert (h.clock.sleeps, h.clock.now) == ([], start)  # failed over in no time
    assert h.transport.providers() == [provider, fallback_route(provider).split(":")[0]]
    assert str(reply.route) == fallback_route(provider)


@HINTED
def test_a_hint_longer_than_max_hint_without_a_fallback_ends_the_call(provider: str) -> None:
    h, mock = mock_harness(retry=dataclasses.replace(RETRY, max_hint=1.0))
    mock.enqueue(provider, HINTED_429[provider])
    with h.client, pytest.raises(AllRoutesFailedError) as info:
        h.client.chat(f"{provider}:{PRIMARY_MODEL}", USER)
    assert h.clock.sleeps == []
    [attempt] = info.value.attempts
    assert isinstance(attempt.error, ProviderError)
    assert (attempt.error.kind, attempt.error.retry_after) == ("rate_limit", 1.5)


@HINTED
def test_a_hint_beyond_the_deadline_fails_over_without_sleeping(provider: str) -> None:
    h, mock = mock_harness(timeout=Timeout(attempt=1.0, total=1.2))
    mock.enqueue(provider, HINTED_429[provider])
    with h.client:
        reply = h.client.chat(f"{provider}:{PRIMARY_MODEL}", USER, fallbacks=[fallback_route(provider)])
    assert h.clock.sleeps == []
    assert str(reply.route) == fallback_route(provider)


# --- breakers through the client -------------------------------------------------------------------------


def test_an_overload_burst_opens_the_breaker_and_a_half_open_probe_recovers() -> None:
    h, mock = mock_harness()
    primary, fallback = f"anthropic:{PRIMARY_MODEL}", f"openai:{FALLBACK_MODEL}"
    mock.set_behavior("anthropic", Behavior.error("overloaded", provider="anthropic"))  # 529 every time

    def serve() -> tuple[str, list[str]]:
        sent = len(h.transport.sent)
        route = h.client.chat(primary, USER, fallbacks=[fallback]).route
        return str(route), h.transport.providers()[sent:]

    with h.client:
        for _ in range(2):  # 2 + 1 faults: the breaker opens on the third
            assert serve()[0] == fallback
        assert breaker_state(h.client, primary) is CircuitState.OPEN
        assert serve() == (fallback, ["openai"])  # skipped while open
        h.clock.now += RECOVERY
        # One probe, which fails: open again, for twice as long.
        assert serve() == (fallback, ["anthropic", "openai"])
        assert breaker_state(h.client, primary) is CircuitState.OPEN
        h.clock.now += RECOVERY
        assert serve() == (fallback, ["openai"])
        mock.set_behavior("anthropic", Behavior())  # recovered
        h.clock.now += RECOVERY
        assert serve() == (primary, ["anthropic"])  # the probe succeeds and closes the breaker
        assert breaker_state(h.client, primary) is CircuitState.CLOSED
        assert serve() == (primary, ["anthropic"])


def test_an_exhausted_quota_disables_the_credential_for_long_without_retrying() -> None:
    h, mock = mock_harness()
    mock.set_behavior("openai", Behavior.error("quota_exhausted", provider="openai"))
    with h.client:
        with pytest.raises(AllRoutesFailedError) as info:
            h.client.chat(f"openai:{PRIMARY_MODEL}", USER)
        assert [a.error.kind for a in info.value.attempts] == ["quota_exhausted"]
        assert (h.transport.providers(), h.clock.sleeps) == (["openai"], [])
        h.clock.now += 10 * RECOVERY
        for model in (PRIMARY_MODEL, "another-model"):  # the credential, not one model, is spent
            with pytest.raises(AllRoutesFailedError) as info:
                h.client.chat(f"openai:{model}", USER)
            assert isinstance(info.value.attempts[0].error, CircuitOpenError)
        assert h.transport.providers() == ["openai"]
        h.clock.now += BREAKER.long_open_time
        mock.set_behavior("openai", Behavior())
        assert str(h.client.chat(f"openai:{PRIMARY_MODEL}", USER).route) == f"openai:{PRIMARY_MODEL}"


# --- the deadline ----------------------------------------------------------------------------------------

SLOW_ROUTES = ["openai:slow-1", "anthropic:slow-2", "gemini:slow-3"]


@pytest.mark.parametrize("attempts", [1, 3])
def test_a_total_deadline_bounds_a_call_across_three_slow_routes(attempts: int) -> None:
    # Each provider needs 5 s; attempts may take 0.9 s, the call 2 s (fake clock).
    retry = RetryPolicy(stop=StopAfterAttempts(attempts), backoff=Exponential(BACKOFF, maximum=BACKOFF))
    h, _ = mock_harness(retry=retry, timeout=Timeout(attempt=0.9, total=2.0))
    for route in SLOW_ROUTES:
        h.transport.slow(route.split(":")[0], 5.0)
    start = h.clock.now
    with h.client, pytest.raises(AllRoutesFailedError) as info:
        h.client.chat(SLOW_ROUTES[0], USER, fallbacks=SLOW_ROUTES[1:])
    assert h.clock.now - start <= 2.0 + 1e-9  # sleeps, attempts and fallbacks included
    assert {a.error.kind for a in info.value.attempts} == {"timeout"}
    for sent in h.transport.sent:
        assert sent.started < start + 2.0  # no attempt starts after the deadline ...
        assert sent.started + sent.read_timeout <= start + 2.0 + 1e-9  # ... or may run past it
    if attempts == 1:  # 0.9 s + 0.9 s + what is left: every route had its turn
        assert h.transport.providers() == ["openai", "anthropic", "gemini"]
        assert [s.read_timeout for s in h.transport.sent] == pytest.approx([0.9, 0.9, 0.2])


def test_a_total_deadline_bounds_a_call_over_real_sockets(server: FakeProviderServer) -> None:
    server.reset()
    for route in SLOW_ROUTES:
        server.set_behavior(route.split(":")[0], Behavior(latency=1.0))
    settings = {name: ProviderSettings(base_url=server.base_url(name), api_key="k") for name in PROVIDERS}
    timeout = Timeout(attempt=0.15, total=0.25)
    retry = RetryPolicy(stop=StopAfterAttempts(1))
    with Client(providers=settings, timeout=timeout, retry=retry, registry=REGISTRY) as client:
        started = time.monotonic()
        with pytest.raises(AllRoutesFailedError) as info:
            client.chat(SLOW_ROUTES[0], USER, fallbacks=SLOW_ROUTES[1:])
        elapsed = time.monotonic() - started
    # Without the deadline, three 0.15 s attempts; with it, 0.25 s plus scheduling noise.
    assert elapsed < 0.25 + 0.15
    assert {a.error.kind for a in info.value.attempts} == {"timeout"}
    assert [a.route for a in info.value.attempts] == SLOW_ROUTES[: len(info.value.attempts)]
