"""Where budgets count money: one integer counter per budget window, shared as widely as the store reaches.

Counters hold nano-dollars (10^-9 USD): integers add without float drift, SQLite stores them exactly and
Redis can `INCRBY` them. Each counter is spent money plus the reservations of calls still in flight.

| Store | Shared by | Atomicity |
|---|---|---|
| `MemoryBudgetStore` | the threads and tasks of one process | a lock |
| `SQLiteBudgetStore` | the processes of one host | `BEGIN IMMEDIATE` transactions on a WAL database |
| `RedisBudgetStore` | many hosts | a Lua script (check and add), `MULTI` (adjustments) |

Every operation takes the caller's wall-clock time `now`; a counter expires when `now` passes its
`expires_at`, so expiry follows the ledger's clock (the Redis store turns it into a relative TTL).
"""

from __future__ import annotations

import abc
import math
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TypeVar

from otel_llm._exceptions import ConfigurationError

if TYPE_CHECKING:
    import sqlite3

    from redis import Redis
    from redis.commands.core import Script

NANOS_PER_USD = 10**9
"""Counter units per US dollar."""

MAX_EXACT_NANOS = 2**53
"""Largest counter a limit may be compared with exactly: Redis runs Lua with double-precision numbers."""


@dataclass(frozen=True, slots=True)
class Increment:
    """An amount to add to one counter.

    Attributes:
        key: The counter (one budget window).
        amount: Nano-dollars to add; negative to give money back (settle below the reservation, release).
        expires_at: Wall-clock time (Unix seconds) after which the counter may be dropped.
        limit: The most the counter may hold after a checked add (`add_within_limits`); `None` for no
            limit. Unchecked adds (`add`) ignore it.
    """

    key: str
    amount: int
    expires_at: float
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class AddOutcome:
    """What a checked add did.

    Attributes:
        totals: Each counter after the add, in the order of the increments; the unchanged counters when
            the add was refused.
        refused: Index of the first increment that would have taken its counter past its limit, or
            `None` when every counter was incremented.
    """

    totals: tuple[int, ...]
    refused: int | None = None

    @property
    def accepted(self) -> bool:
        """Whether every counter was incremented."""
        return self.refused is None


class BudgetStore(Protocol):
    """Counters of nano-dollars per budget window; every operation is atomic over all its keys.

    The keys of one operation are distinct. Implementations must be safe to call from several threads.
    """

    def add_within_limits(self, increments: Sequence[Increment], now: float) -> AddOutcome:
        """Add every increment, or none if any counter would end above its limit.

        An increment of zero or less is never refused, whatever its counter holds: free calls are never
        blocked by a money budget.

        Args:
            increments: Distinct keys, each with a non-negative amount and optionally a limit.
            now: The caller's wall-clock time (Unix seconds), for expiry.

        Returns:
            The totals after the add, or the current totals and the refused index.
        """
        ...

    def add(self, increments: Sequence[Increment], now: float) -> None:
        """Add every increment unconditionally (limits are ignored, amounts may be negative).

        Args:
            increments: Distinct keys with their amounts.
            now: The caller's wall-clock time (Unix seconds), for expiry.
        """
        ...

    def totals(self, keys: Sequence[str], now: float) -> tuple[int, ...]:
        """Return each counter (0 when absent or expired), in the order of `keys`.

        Args:
            keys: The counters to read.
            now: The caller's wall-clock time (Unix seconds), for expiry.
        """
        ...

    def close(self) -> None:
        """Release the store's connections."""
        ...


def first_refusal(increments: Sequence[Increment], current: Sequence[int]) -> int | None:
    """Return the index of the first increment that would take its counter past its limit, if any."""
    for index, (increment, total) in enumerate(zip(increments, current, strict=True)):
        if (
            increment.amount > 0
            and increment.limit is not None
            and total + increment.amount > increment.limit
        ):
            return index
    return None


_Store = TypeVar("_Store", bound="_ClosingStore")


class _ClosingStore(abc.ABC):
    @abc.abstractmethod
    def close(self) -> None:
        """Release the store's connections."""

    def __enter__(self: _Store) -> _Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class MemoryBudgetStore(_ClosingStore):
    """Counters in this process's memory, behind a lock: the default store.

    Budgets are per process: several workers each get the whole budget. Use `SQLiteBudgetStore` or
    `RedisBudgetStore` to share one budget between processes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, tuple[int, float]] = {}
        self._next_expiry = math.inf

    def add_within_limits(self, increments: Sequence[Increment], now: float) -> AddOutcome:
        """See `BudgetStore.add_within_limits`."""
        with self._lock:
            self._expire(now)
            current = tuple(self._counters.get(i.key, (0, 0.0))[0] for i in increments)
            refused = first_refusal(increments, current)
            if refused is not None:
                return AddOutcome(current, refused)
            return AddOutcome(self._apply(increments))

    def add(self, increments: Sequence[Increment], now: float) -> None:
        """See `BudgetStore.add`."""
        with self._lock:
            self._expire(now)
            self._apply(increments)

    def totals(self, keys: Sequence[str], now: float) -> tuple[int, ...]:
        """See `BudgetStore.totals`."""
        with self._lock:
            self._expire(now)
            return tuple(self._counters.get(key, (0, 0.0))[0] for key in keys)

    def close(self) -> None:
        """Nothing to release: the counters live as long as the store object."""

    def _apply(self, increments: Sequence[Increment]) -> tuple[int, ...]:
        totals = []
        for increment in increments:
            amount, expires_at = self._counters.get(increment.key, (0, increment.expires_at))
            self._counters[increment.key] = (amount + increment.amount, max(expires_at, increment.expires_at))
            self._next_expiry = min(self._next_expiry, increment.expires_at)
            totals.append(amount + increment.amount)
        return tuple(totals)

    def _expire(self, now: float) -> None:
        # A full sweep only when the earliest expiry has passed: about once per budget window.
        if now < self._next_expiry:
            return
        self._counters = {key: value for key, value in self._counters.items() if value[1] > now}
        self._next_expiry = min((expires_at for _, expires_at in self._counters.values()), default=math.inf)


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS otel_llm_budget"
    " (key TEXT PRIMARY KEY, amount INTEGER NOT NULL, expires_at REAL NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS otel_llm_budget_expiry ON otel_llm_budget (expires_at)",
)
_UPSERT = (
    "INSERT INTO otel_llm_budget (key, amount, expires_at) VALUES (?, ?, ?)"
    " ON CONFLICT (key) DO UPDATE SET amount = amount + excluded.amount,"
    " expires_at = max(expires_at, excluded.expires_at)"
)


class SQLiteBudgetStore(_ClosingStore):
    """Counters in a SQLite database file, shared by the processes of one host.

    Writes run in `BEGIN IMMEDIATE` transactions, which take the database's write lock before reading,
    so the check and the add of a reservation are atomic across processes; the database runs in WAL
    mode so reads do not block writers. Each thread uses its own connection. The file must be on a
    local disk: SQLite's locking is unreliable on network file systems.

    Args:
        path: The database file; created with its table when missing.
        busy_timeout: Seconds to wait for another process's write lock before failing with
            `sqlite3.OperationalError`.

    Example:
        >>> store = SQLiteBudgetStore("/var/lib/my-app/budgets.sqlite3")
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        if busy_timeout <= 0:
            raise ConfigurationError("busy_timeout", "must be a positive number of seconds")
        self._path = os.fspath(path)
        if self._path == ":memory:":  # each thread's connection would get a database of its own
            raise ConfigurationError("path", "a database file; for counters in memory use MemoryBudgetStore")
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        connection = self._connection()
        connection.execute("PRAGMA journal_mode=WAL")
        for statement in _SCHEMA:
            connection.execute(statement)

    def add_within_limits(self, increments: Sequence[Increment], now: float) -> AddOutcome:
        """See `BudgetStore.add_within_limits`."""
        with self._transaction(now) as connection:
            found = self._read(connection, [i.key for i in increments], now)
            current = tuple(found.get(i.key, 0) for i in increments)
            refused = first_refusal(increments, current)
            if refused is not None:
                return AddOutcome(current, refused)
            connection.executemany(_UPSERT, [(i.key, i.amount, i.expires_at) for i in increments])
        return AddOutcome(tuple(total + i.amount for total, i in zip(current, increments, strict=True)))

    def add(self, increments: Sequence[Increment], now: float) -> None:
        """See `BudgetStore.add`."""
        with self._transaction(now) as connection:
            connection.executemany(_UPSERT, [(i.key, i.amount, i.expires_at) for i in increments])

    def totals(self, keys: Sequence[str], now: float) -> tuple[int, ...]:
        """See `BudgetStore.totals`."""
        found = self._read(self._connection(), keys, now)
        return tuple(found.get(key, 0) for key in keys)

    def close(self) -> None:
        """Close every thread's connection; the store must not be used afterwards."""
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            import sqlite3  # on first use: most programs never build a SQLite store

            # Autocommit mode (isolation_level=None): transactions are begun explicitly, IMMEDIATE.
            # check_same_thread=False only so that close() may close other threads' connections.
            connection = sqlite3.connect(
                self._path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def _transaction(self, now: float) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock before the first read, so no other process can add between
        # our check and our add (a DEFERRED transaction would only lock on its first write).
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute("DELETE FROM otel_llm_budget WHERE expires_at <= ?", (now,))
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    @staticmethod
    def _read(connection: sqlite3.Connection, keys: Sequence[str], now: float) -> dict[str, int]:
        placeholders = ", ".join("?" * len(keys))
        rows = connection.execute(
            f"SELECT key, amount FROM otel_llm_budget WHERE key IN ({placeholders}) AND expires_at > ?",
            (*keys, now),
        )
        return {key: amount for key, amount in rows}


# KEYS: the counters. ARGV: n amounts, then n limits ('' for none), then n TTLs in milliseconds.
# Returns {refused index (1-based) or 0, total of each counter...}; totals stay strings (exact).
_CHECK_AND_ADD = """
local n = #KEYS
local totals = {}
for i = 1, n do
  totals[i] = redis.call('GET', KEYS[i]) or '0'
end
for i = 1, n do
  local amount = tonumber(ARGV[i])
  local limit = ARGV[n + i]
  if amount > 0 and limit ~= '' and tonumber(totals[i]) + amount > tonumber(limit) then
    return {i, unpack(totals)}
  end
end
for i = 1, n do
  redis.call('INCRBY', KEYS[i], ARGV[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[2 * n + i])
  totals[i] = redis.call('GET', KEYS[i])
end
return {0, unpack(totals)}
"""


class RedisBudgetStore(_ClosingStore):
    """Counters in Redis, shared by every host that reaches the server.

    A reservation's check and add run as one Lua script, settle and release adjustments as one
    `MULTI` transaction. All keys of a call must live on one server: with Redis Cluster, put a hash tag
    in the prefix (`key_prefix="{otel_llm}:budget:"`). Needs the `redis` package
    (`pip install 'otel-llm[redis]'`).

    Args:
        url: A Redis URL such as `redis://localhost:6379/0`; the store owns that connection and closes
            it in `close()`.
        client: An existing `redis.Redis` client instead of a URL; its owner closes it.
        key_prefix: Prepended to every counter's key.

    Raises:
        ConfigurationError: Neither or both of `url` and `client` were given.
        ImportError: The `redis` package is not installed.

    Example:
        >>> store = RedisBudgetStore("redis://redis.internal:6379/0")
    """

    def __init__(
        self, url: str | None = None, *, client: Redis | None = None, key_prefix: str = "otel_llm:budget:"
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError("url", "give either a Redis URL or a client")
        if client is None:
            try:
                import redis
            except ImportError as exc:
                raise ImportError(
                    "RedisBudgetStore needs the redis package: pip install 'otel-llm[redis]'"
                ) from exc
            client = redis.Redis.from_url(str(url))
        self._owns_client = url is not None
        self._client = client
        self._prefix = key_prefix
        self._check_and_add: Script = client.register_script(_CHECK_AND_ADD)

    def add_within_limits(self, increments: Sequence[Increment], now: float) -> AddOutcome:
        """See `BudgetStore.add_within_limits`."""
        args = [
            *(i.amount for i in increments),
            *("" if i.limit is None else i.limit for i in increments),
            *(_ttl_ms(i.expires_at, now) for i in increments),
        ]
        reply = self._check_and_add(keys=[self._prefix + i.key for i in increments], args=args)
        refused, *totals = reply
        return AddOutcome(tuple(int(total) for total in totals), int(refused) - 1 if refused else None)

    def add(self, increments: Sequence[Increment], now: float) -> None:
        """See `BudgetStore.add`."""
        with self._client.pipeline(transaction=True) as pipe:
            for increment in increments:
                pipe.incrby(self._prefix + increment.key, increment.amount)
                pipe.pexpire(self._prefix + increment.key, _ttl_ms(increment.expires_at, now))
            pipe.execute()

    def totals(self, keys: Sequence[str], now: float) -> tuple[int, ...]:
        """See `BudgetStore.totals` (Redis expires keys itself; `now` is not needed)."""
        if not keys:  # MGET needs at least one key
            return ()
        values = self._client.mget([self._prefix + key for key in keys])
        return tuple(0 if value is None else int(value) for value in values)

    def close(self) -> None:
        """Close the connection pool when the store created it from a URL."""
        if self._owns_client:
            self._client.close()


def _ttl_ms(expires_at: float, now: float) -> int:
    # Redis needs a positive TTL; a counter already past its expiry lives one more millisecond.
    return max(math.ceil((expires_at - now) * 1000), 1)
