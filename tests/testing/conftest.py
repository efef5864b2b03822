from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from otel_llm.testing import FakeProviderServer


@pytest.fixture(scope="module")
def _module_server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
def server(_module_server: FakeProviderServer) -> Iterator[FakeProviderServer]:
    """A running server with no behaviours and an empty log (shared per module for speed)."""
    _module_server.reset()
    yield _module_server
    _module_server.reset()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One client per module: creating an httpx.Client costs tens of milliseconds (TLS context)."""
    with httpx.Client(timeout=10) as client:
        yield client
