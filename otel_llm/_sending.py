"""Marks the routing client's own HTTP sends: it records them itself, so instrumentation must not.

The httpx instrumentor sees every request an `httpx.Client` sends, the routing client's included. A
context flag set around the routing client's `send` lets it tell them apart without guessing from the
call stack or the current span (which a sampler may drop).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_own_send: ContextVar[bool] = ContextVar("otel_llm_own_send", default=False)


@contextlib.contextmanager
def own_send() -> Iterator[None]:
    """Mark the block as the routing client sending a request it records."""
    token = _own_send.set(True)
    try:
        yield
    finally:
        _own_send.reset(token)


def sending_own_request() -> bool:
    """Whether the routing client is sending (and recording) the request being sent here."""
    return _own_send.get()
