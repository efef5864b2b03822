"""Run a throw-away redis-server on a free loopback port, for the Redis budget store's tests.

The binary comes from Debian packages (`make tools` installs it when missing) and is found with
`require_tool()`: a missing server skips locally and fails under `CI=true`. The server keeps nothing on
disk (`--save '' --appendonly no`), runs in the test's tmp directory and is always stopped on exit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.support.backends import STARTUP_TIMEOUT_S, _running, free_port
from tests.support.tools import require_tool


@contextmanager
def run_redis_server(tmp_path: Path) -> Iterator[str]:
    """Run redis-server until the block exits; yield its URL (`redis://127.0.0.1:<port>/0`)."""
    binary = require_tool("redis-server")
    port = free_port()
    args = [
        str(binary),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--save", "",
        "--appendonly", "no",
        "--dir", str(tmp_path),
    ]  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    with _running(
        args,
        name="redis-server",
        env={"PATH": os.environ.get("PATH", "")},
        cwd=tmp_path,
        log_file=tmp_path / "redis-server.log",
        is_ready=lambda: _pings(url),
        startup_timeout=STARTUP_TIMEOUT_S,
    ):
        yield url


def _pings(url: str) -> bool:
    with redis.Redis.from_url(url, socket_timeout=1.0) as client:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False
