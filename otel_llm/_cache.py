"""The response cache: its configuration, byte stores, the typed cache over them, and single-flight.

```
ResponseCache (encode / decode, see `_cache_codec`)
└── CacheStore: MemoryCache (LRU + TTL) | SQLiteCache (file shared by processes) | TieredCache(memory, shared)
SingleFlight / AsyncSingleFlight: identical concurrent calls run once
```

Only successful responses are stored: `ResponseCache.put` takes a response, never an exception, and a
flight that fails stores nothing. Whatever goes wrong inside a store (a locked or damaged SQLite file, an
entry that no longer decodes) is logged and treated as a miss, because a cache must never break a call.
`sqlite3` and `asyncio` are imported on first use.
"""

from __future__ import annotations

import abc
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

from otel_llm._cache_codec import decode, encode
from otel_llm._exceptions import ConfigurationError
from otel_llm._types import ChatResponse, EmbeddingsResponse

if TYPE_CHECKING:
    import asyncio
    import sqlite3

logger = logging.getLogger("otel_llm.cache")

R = TypeVar("R", ChatResponse, EmbeddingsResponse)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """Response caching for a client: exact matches of the whole request, kept for `ttl` seconds.

    Only successful responses are cached; streamed calls replay cached answers as a stream.

    Attributes:
        enabled: Whether calls use the cache at all.
        max_entries: Responses kept in memory; the least recently used is evicted first.
        ttl: Seconds a response stays valid, in memory and on disk.
        sqlite_path: A SQLite file behind the memory tier, shared by threads and processes and kept
            across restarts; `None` keeps the cache in memory only.

    Raises:
        ConfigurationError: A setting is invalid; `.field` names it (`cache.ttl`, ...).

    Example:
        >>> CacheConfig(ttl=600, sqlite_path="/var/cache/app/llm.sqlite3")
    """

    enabled: bool = True
    max_entries: int = 1024
    ttl: float = 3600.0
    sqlite_path: str | os.PathLike[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ConfigurationError("cache.enabled", f"expected a bool, got {type(self.enabled).__name__}")
        _entries(self.max_entries, "cache.max_entries")
        _seconds(self.ttl, "cache.ttl")
        if self.sqlite_path is not None:
            _database_path(self.sqlite_path, "cache.sqlite_path")


def build_cache(
    config: CacheConfig,
    *,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
) -> ResponseCache | None:
    """The cache a client with this configuration uses.

    Args:
        config: The validated configuration.
        clock: Monotonic clock of the memory tier.
        wall_clock: Wall clock of the SQLite tier (its expiry times are shared between processes).

    Returns:
        A memory cache, a memory cache in front of SQLite, or `None` when caching is disabled.

    Raises:
        ConfigurationError: `sqlite_path` cannot be opened as a SQLite database (`cache.sqlite_path`).
    """
    if not config.enabled:
        return None
    memory = MemoryCache(config.max_entries, config.ttl, clock=clock)
    if config.sqlite_path is None:
        return ResponseCache(memory)
    import sqlite3

    try:
        shared = SQLiteCache(config.sqlite_path, config.ttl, wall_clock=wall_clock)
    except sqlite3.Error as exc:
        path = os.fspath(config.sqlite_path)
        raise ConfigurationError("cache.sqlite_path", f"cannot use {path!r} as a cache: {exc}") from exc
    return ResponseCache(TieredCache(memory, shared))


# --- stores ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CachedValue:
    """A live entry read from a store.

    Attributes:
        data: The stored bytes.
        expires_in: Seconds the entry stays valid (positive).
    """

    data: bytes
    expires_in: float


class CacheStore(Protocol):
    """Bytes by key, each entry expiring after a time to live. Implementations are thread-safe."""

    def get(self, key: str) -> CachedValue | None:
        """The live entry under `key`, or `None` (absent, expired or unreadable)."""
        ...

    def put(self, key: str, data: bytes, *, ttl: float | None = None) -> None:
        """Store `data` under `key` for the store's TTL, or for `ttl` seconds when that is shorter."""
        ...

    def close(self) -> None:
        """Release what the store holds."""
        ...


_C = TypeVar("_C", bound="_Closing")


class _Closing(abc.ABC):
    """Context-manager support for objects with a `close()`."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release what the object holds."""

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class MemoryCache(_Closing):
    """An in-process LRU cache with a time to live; every operation is O(1) and thread-safe.

    Expired entries are dropped when read or when the least recently used entries are evicted.

    Args:
        max_entries: Entries kept; storing one more evicts the least recently used.
        ttl: Seconds an entry stays valid.
        clock: Monotonic clock (injectable for tests).

    Raises:
        ConfigurationError: `max_entries` or `ttl` is invalid.
    """

    def __init__(
        self, max_entries: int = 1024, ttl: float = 3600.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_entries = _entries(max_entries, "max_entries")
        self._ttl = _seconds(ttl, "ttl")
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> CachedValue | None:
        """The live entry under `key`, now the most recently used; `None` when absent or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires_at, data = entry
            expires_in = expires_at - self._clock()
            if expires_in <= 0:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return CachedValue(data, expires_in)

    def put(self, key: str, data: bytes, *, ttl: float | None = None) -> None:
        """Store `data` as the most recently used entry, evicting the least recently used if full."""
        lifetime = self._ttl if ttl is None else min(ttl, self._ttl)
        with self._lock:
            self._entries[key] = (self._clock() + lifetime, data)
            self._entries.move_to_end(key)
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def close(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()


class SQLiteCache(_Closing):
    """A cache in a SQLite file, shared by the threads and processes that open the same path.

    Each thread gets its own connection (opened on first use, so a cache built before `fork()` is safe
    to use in the child); the database runs in WAL mode so readers never wait for a writer. Expired
    rows are ignored and deleted when read, and every `purge_every` writes delete up to `purge_limit`
    other expired rows. Database errors are logged and count as misses.

    Args:
        path: The database file (created if missing).
        ttl: Seconds an entry stays valid.
        wall_clock: Wall clock: expiry times are shared with other processes.
        purge_every: Writes between two purges of expired rows.
        purge_limit: Most rows one purge deletes, which bounds the time it takes.

    Raises:
        ConfigurationError: An argument is invalid.
        sqlite3.Error: The file cannot be opened or set up as a database.
    """

    _TABLE = "otel_llm_responses"

    def __init__(
        self,
        path: str | os.PathLike[str],
        ttl: float = 3600.0,
        *,
        wall_clock: Callable[[], float] = time.time,
        purge_every: int = 256,
        purge_limit: int = 1000,
    ) -> None:
        self._path = _database_path(path, "path")
        self._ttl = _seconds(ttl, "ttl")
        self._wall_clock = wall_clock
        self._purge_every = _entries(purge_every, "purge_every")
        self._purge_limit = _entries(purge_limit, "purge_limit")
        self._lock = threading.Lock()
        self._connections: dict[threading.Thread, sqlite3.Connection] = {}
        self._pid = os.getpid()
        self._writes = 0
        self._closed = False
        setup = self._connect()
        try:
            setup.execute("PRAGMA journal_mode=WAL")
            setup.execute(
                f"CREATE TABLE IF NOT EXISTS {self._TABLE} "
                "(key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at REAL NOT NULL) WITHOUT ROWID"
            )
            setup.execute(f"CREATE INDEX IF NOT EXISTS {self._TABLE}_expiry ON {self._TABLE} (expires_at)")
        finally:
            setup.close()

    def get(self, key: str) -> CachedValue | None:
        """The live entry under `key`; `None` when absent, expired, malformed or unreadable."""
        import sqlite3

        try:
            connection = self._connection()
            row = connection.execute(
                f"SELECT value, expires_at FROM {self._TABLE} WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            data, expires_at = row
            if not isinstance(data, bytes) or not isinstance(expires_at, (int, float)):
                return None  # a damaged row: the next successful call overwrites it
            now = self._wall_clock()
            if expires_at <= now:
                # Guarded by the time, so that a fresh row another process just wrote survives.
                connection.execute(f"DELETE FROM {self._TABLE} WHERE key = ? AND expires_at <= ?", (key, now))
                return None
            return CachedValue(data, expires_at - now)
        except sqlite3.Error as exc:
            logger.warning("response cache: reading %s failed, treated as a miss: %s", self._path, exc)
            return None

    def put(self, key: str, data: bytes, *, ttl: float | None = None) -> None:
        """Store `data` under `key` (replacing any entry), now and then purging expired rows."""
        import sqlite3

        lifetime = self._ttl if ttl is None else min(ttl, self._ttl)
        try:
            connection = self._connection()
            now = self._wall_clock()
            connection.execute(
                f"INSERT OR REPLACE INTO {self._TABLE} (key, value, expires_at) VALUES (?, ?, ?)",
                (key, data, now + lifetime),
            )
            with self._lock:
                self._writes += 1
                purge = self._writes % self._purge_every == 0
            if purge:
                connection.execute(
                    f"DELETE FROM {self._TABLE} WHERE key IN "
                    f"(SELECT key FROM {self._TABLE} WHERE expires_at <= ? LIMIT ?)",
                    (now, self._purge_limit),
                )
        except sqlite3.Error as exc:
            logger.warning("response cache: writing %s failed, entry not stored: %s", self._path, exc)

    def close(self) -> None:
        """Close every thread's connection; the cache cannot be used afterwards."""
        with self._lock:
            self._closed = True
            connections, self._connections = list(self._connections.values()), {}
        for connection in connections:
            connection.close()

    def _connection(self) -> sqlite3.Connection:
        thread = threading.current_thread()
        with self._lock:
            if self._closed:
                raise RuntimeError("the SQLite cache is closed")
            if self._pid != os.getpid():
                # Connections must not cross a fork: the child forgets its parent's, unclosed, as
                # SQLite asks, and opens its own.
                self._pid, self._connections = os.getpid(), {}
            connection = self._connections.get(thread)
            if connection is None:
                for dead in [t for t in self._connections if not t.is_alive()]:
                    self._connections.pop(dead).close()
                connection = self._connections[thread] = self._connect()
            return connection

    def _connect(self) -> sqlite3.Connection:
        import sqlite3

        # Autocommit: every statement is its own short transaction. `check_same_thread` is off only
        # so that `close()` and the dead-thread sweep can close other threads' connections.
        connection = sqlite3.connect(self._path, timeout=5.0, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA synchronous=NORMAL")  # durable enough for a cache, and WAL-safe
        return connection


class TieredCache(_Closing):
    """A memory cache in front of a shared store; hits in the shared store are promoted into memory.

    Args:
        memory: The fast, per-process tier, read first.
        shared: The slower tier other processes see (`SQLiteCache`).
    """

    def __init__(self, memory: CacheStore, shared: CacheStore) -> None:
        self._memory = memory
        self._shared = shared

    def get(self, key: str) -> CachedValue | None:
        """The entry from memory, else from the shared tier (copied into memory for its remaining life)."""
        hit = self._memory.get(key)
        if hit is None:
            hit = self._shared.get(key)
            if hit is not None:
                self._memory.put(key, hit.data, ttl=hit.expires_in)
        return hit

    def put(self, key: str, data: bytes, *, ttl: float | None = None) -> None:
        """Store the entry in both tiers."""
        self._shared.put(key, data, ttl=ttl)
        self._memory.put(key, data, ttl=ttl)

    def close(self) -> None:
        """Close both tiers."""
        try:
            self._memory.close()
        finally:
            self._shared.close()


class ResponseCache(_Closing):
    """Responses by cache key (see `cache_key`), stored as codec bytes in a `CacheStore`.

    Args:
        store: Where the bytes live.
    """

    def __init__(self, store: CacheStore) -> None:
        self.store = store

    def get(self, key: str, kind: type[R]) -> R | None:
        """The cached response of type `kind`; `None` on a miss, including an entry that fails to decode.

        Args:
            key: The call's cache key.
            kind: `ChatResponse` or `EmbeddingsResponse`.

        Returns:
            The response, or `None`.
        """
        hit = self.store.get(key)
        response = None if hit is None else decode(hit.data)
        return response if isinstance(response, kind) else None

    def put(self, key: str, response: ChatResponse | EmbeddingsResponse) -> None:
        """Cache a successful response; one that cannot be encoded is logged and skipped.

        Args:
            key: The call's cache key.
            response: The response the call returned.
        """
        try:
            data = encode(response)
        except (TypeError, ValueError) as exc:  # see `encode`: values with no JSON or numeric form
            logger.warning("response cache: response not cacheable: %s", exc)
            return
        self.store.put(key, data)

    def close(self) -> None:
        """Close the store."""
        self.store.close()


# --- single-flight --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How a flight ended: its value, or the exception its leader raised."""

    value: object = None
    error: Exception | None = None

    def unwrap(self) -> object:
        if self.error is not None:
            raise self.error
        return self.value


class _ThreadFlight:
    __slots__ = ("_landed", "outcome")

    def __init__(self) -> None:
        self._landed = threading.Event()
        self.outcome: _Outcome | None = None

    def land(self, outcome: _Outcome | None) -> None:
        self.outcome = outcome
        self._landed.set()

    def wait(self) -> _Outcome | None:
        self._landed.wait()
        return self.outcome


class SingleFlight:
    """Runs identical concurrent calls once, for threads: callers of the same key share one run.

    The first caller of a key leads: it runs the supplier while later callers wait. When it returns,
    every waiter receives the same value. When it raises an `Exception`, every waiter receives that
    exception too, as in Go's singleflight: they asked the same question at the same moment, and
    running it again for each of them would multiply the load on a failing provider and stack their
    waits. When the leader is interrupted instead (`KeyboardInterrupt`, `SystemExit`, or cancellation in
    the asyncio version), the cause is the leader's own, not the call's: its waiters start over, the
    first to get there leading a new run and the others joining it. Nothing is ever stored, and the key
    is released as each run ends; so a call that arrives just after a run ended runs again, which is why
    a cache's supplier should look the key up in the cache before calling out.

    Example:
        >>> flights = SingleFlight()
        >>> flights.do("key", lambda: 42)
        42
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _ThreadFlight] = {}

    def __len__(self) -> int:
        """The number of keys in flight."""
        with self._lock:
            return len(self._flights)

    def do(self, key: str, supplier: Callable[[], T]) -> T:
        """Run `supplier` unless a run for `key` is in flight, then share that run's result.

        Args:
            key: What identifies identical calls (a `cache_key`); one key always yields one type.
            supplier: The call.

        Returns:
            The value of this or the in-flight run.

        Raises:
            Exception: Whatever the run raised.
        """
        while True:
            with self._lock:
                flight = self._flights.get(key)
                leading = flight is None
                if flight is None:
                    flight = self._flights[key] = _ThreadFlight()
            if leading:
                return self._lead(key, flight, supplier)
            outcome = flight.wait()
            if outcome is not None:
                return cast("T", outcome.unwrap())

    def _lead(self, key: str, flight: _ThreadFlight, supplier: Callable[[], T]) -> T:
        try:
            value = supplier()
        except Exception as exc:
            self._land(key, flight, _Outcome(error=exc))
            raise
        except BaseException:
            self._land(key, flight, None)
            raise
        self._land(key, flight, _Outcome(value))
        return value

    def _land(self, key: str, flight: _ThreadFlight, outcome: _Outcome | None) -> None:
        # The key goes first: a waiter that has to take over must find the way clear.
        with self._lock:
            del self._flights[key]
        flight.land(outcome)


class AsyncSingleFlight:
    """Runs identical concurrent calls once, for the tasks of one event loop.

    Semantics as `SingleFlight`: waiters share the leader's value or exception; when the leader's task
    is cancelled, its waiters start over and one of them leads the next run. A waiter's own
    cancellation leaves the run alone.

    Example:
        >>> async def answer() -> int:
        ...     return 42
        >>> async def main() -> int:
        ...     return await AsyncSingleFlight().do("key", answer)
    """

    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Future[_Outcome | None]] = {}

    def __len__(self) -> int:
        """The number of keys in flight."""
        return len(self._flights)

    async def do(self, key: str, supplier: Callable[[], Awaitable[T]]) -> T:
        """Await `supplier()` unless a run for `key` is in flight, then share that run's result.

        Args:
            key: What identifies identical calls (a `cache_key`); one key always yields one type.
            supplier: Starts the call.

        Returns:
            The value of this or the in-flight run.

        Raises:
            Exception: Whatever the run raised.
        """
        import asyncio

        while (flight := self._flights.get(key)) is not None:
            # Shielded: a waiter's cancellation must not cancel the flight the others wait for.
            outcome = await asyncio.shield(flight)
            if outcome is not None:
                return cast("T", outcome.unwrap())
        flight = self._flights[key] = asyncio.get_running_loop().create_future()
        try:
            value = await supplier()
        except Exception as exc:
            self._land(key, flight, _Outcome(error=exc))
            raise
        except BaseException:
            self._land(key, flight, None)
            raise
        self._land(key, flight, _Outcome(value))
        return value

    def _land(self, key: str, flight: asyncio.Future[_Outcome | None], outcome: _Outcome | None) -> None:
        del self._flights[key]
        flight.set_result(outcome)


# --- validation -----------------------------------------------------------------------------------


def _entries(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(field, f"expected a positive integer, got {value!r}")
    return value


def _seconds(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(field, f"expected a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(field, f"must be a positive number of seconds, got {value!r}")
    return float(value)


def _database_path(value: object, field: str) -> str:
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigurationError(field, f"expected a file path, got {type(value).__name__}")
    path = os.fspath(value)
    if not isinstance(path, str) or path in ("", ":memory:"):
        # Every thread opens its own connection, and each would see a private in-memory database.
        raise ConfigurationError(field, f"expected a database file path, got {path!r}")
    return path
