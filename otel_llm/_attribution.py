"""Who a call is for: `with otel_llm.attribution(team=..., feature=..., user=...)`.

The attributes live in a context variable, so they follow the code that runs inside the block, asyncio
tasks it creates included (threads started inside do not inherit them: `contextvars.copy_context()`
carries them over). Calls capture them when they are made; a stream keeps the ones of its `stream()`.

Every attribute goes on the call's span. Only the keys in `METRIC_ATTRIBUTION_KEYS` that a client
allows become metric labels, and each of them with a bounded number of values: a user id as a label
would create one time series per user.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Final

from otel_llm._exceptions import ConfigurationError

Attribution = Mapping[str, str]

METRIC_ATTRIBUTION_KEYS: Final = frozenset({"team", "feature"})
"""Attribution keys that may become metric labels (`Client(metric_attribution=...)` picks among them)."""

MAX_VALUE_LENGTH: Final = 256
_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
EMPTY_ATTRIBUTION: Final[Attribution] = MappingProxyType({})
_current: ContextVar[Attribution] = ContextVar("otel_llm_attribution", default=EMPTY_ATTRIBUTION)


@contextmanager
def attribution(**attributes: str) -> Iterator[Attribution]:
    """Attribute the calls made inside the block to a team, feature, user or any other key.

    Nested blocks add to (and may override) the enclosing one's attributes.

    Args:
        **attributes: Lower-case keys (`[a-z][a-z0-9_]*`) with non-empty string values.

    Yields:
        The attributes in force inside the block.

    Raises:
        ConfigurationError: A key or value is invalid.

    Example:
        >>> with otel_llm.attribution(team="search", feature="summaries", user="u-42"):
        ...     client.chat("openai:gpt-4o-mini", [{"role": "user", "content": "Hi"}])
    """
    for key, value in attributes.items():
        if not _KEY.fullmatch(key):
            raise ConfigurationError(f"attribution.{key}", "keys are lower-case identifiers")
        if not isinstance(value, str) or not value or len(value) > MAX_VALUE_LENGTH:
            raise ConfigurationError(
                f"attribution.{key}", f"expected a non-empty string of at most {MAX_VALUE_LENGTH} characters"
            )
    token = _current.set(MappingProxyType({**_current.get(), **attributes}))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def current_attribution() -> Attribution:
    """The attribution in force here (empty outside any `attribution()` block)."""
    return _current.get()


def metric_attribution_keys(keys: object) -> frozenset[str]:
    """Validate a client's `metric_attribution` option."""
    if isinstance(keys, str) or not isinstance(keys, (list, tuple, set, frozenset)):
        raise ConfigurationError("metric_attribution", "expected a collection of attribution keys")
    unknown = set(keys) - METRIC_ATTRIBUTION_KEYS
    if unknown:
        raise ConfigurationError(
            "metric_attribution",
            f"{sorted(unknown)} cannot be metric labels (unbounded values); allowed: "
            f"{sorted(METRIC_ATTRIBUTION_KEYS)}",
        )
    return frozenset(keys)
