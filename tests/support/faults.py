"""Fault injection below the client: transport failures and slow providers on a fake clock.

The fake providers (`MockProviders`, `FakeProviderServer`) script everything a provider *answers*;
`FaultyTransport` adds what happens when no answer comes: refused connections and attempts that run
out of time. It wraps the transport a client sends through, records every attempt (including those it
fails), and moves a `FakeClock` by the time an attempt would have taken, bounded by the attempt's own
read timeout, so deadline scenarios run in no real time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import httpx

from otel_llm import CircuitState, Client
from tests.conftest import FakeClock

TransportFault = Literal["timeout", "connection"]


@dataclass(frozen=True, slots=True)
class SentAttempt:
    """One request that reached the transport.

    Attributes:
        provider: First path segment of the URL: the provider key for the fake providers' layout.
        started: Fake-clock time when it was sent.
        read_timeout: The read time limit the client gave this attempt.
    """

    provider: str
    started: float
    read_timeout: float


class FaultyTransport(httpx.BaseTransport):
    """Forwards to `inner`, except for providers scripted to time out, refuse, or answer slowly.

    Args:
        inner: The transport that answers (`MockProviders`, or `httpx.HTTPTransport()` for a server).
        clock: Moved forward by the simulated duration of each attempt to a slow or timing-out provider.
    """

    def __init__(self, inner: httpx.BaseTransport, clock: FakeClock) -> None:
        self._inner = inner
        self._clock = clock
        self._faults: dict[str, TransportFault] = {}
        self._latency: dict[str, float] = {}
        self.sent: list[SentAttempt] = []

    def fail(self, provider: str, fault: TransportFault) -> None:
        """Make every attempt to `provider` time out (after its read timeout) or be refused."""
        self._faults[provider] = fault

    def slow(self, provider: str, seconds: float) -> None:
        """Make `provider` take `seconds` to answer; longer than an attempt's read timeout is a timeout."""
        self._latency[provider] = seconds

    def providers(self) -> list[str]:
        """Provider of each attempt, in order."""
        return [attempt.provider for attempt in self.sent]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        provider = request.url.path.strip("/").split("/", 1)[0]
        read_timeout = float(request.extensions["timeout"]["read"])
        self.sent.append(SentAttempt(provider, self._clock.now, read_timeout))
        fault = self._faults.get(provider)
        if fault == "connection":
            raise httpx.ConnectError("connection refused (scripted)", request=request)
        latency = math.inf if fault == "timeout" else self._latency.get(provider, 0.0)
        if latency >= read_timeout:
            self._clock.now += read_timeout
            raise httpx.ReadTimeout("timed out (scripted)", request=request)
        self._clock.now += latency
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def breaker_state(client: Client, route: str) -> CircuitState:
    """Whether `route` ("provider:model") is blocked: the most restrictive state of the breakers guarding it.

    A route is guarded by its provider's breaker and its model's (`client.breaker_states()` keys
    `"provider"` and `"provider:model"`); a breaker never used is closed. The one place that knows how
    breakers are keyed.
    """
    provider = route.split(":", 1)[0]
    states = {state for key, state in client.breaker_states().items() if key in (provider, route)}
    for state in (CircuitState.OPEN, CircuitState.HALF_OPEN):
        if state in states:
            return state
    return CircuitState.CLOSED
