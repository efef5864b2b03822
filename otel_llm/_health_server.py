"""An optional HTTP endpoint for `client.health()`, for load balancers and humans.

    GET  /health                     the snapshot as JSON: 200, or 503 when every route is down
    POST /breakers/{key}/reset       close a breaker by hand (`provider` or `provider:model`)

Standard library only (`http.server` on a daemon thread): the endpoint must not pull a web framework
into every application that uses the client. It binds to loopback unless told otherwise, and resetting
can be switched off, because a reset overrides the breaker's judgement.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import unquote

from otel_llm._health import HealthSnapshot

_RESET_PREFIX = "/breakers/"
_RESET_SUFFIX = "/reset"


class HealthServer:
    """A running health endpoint; stop it with `close()` (or use it as a context manager).

    Attributes:
        url: Base URL, e.g. `http://127.0.0.1:8321`.
    """

    def __init__(
        self,
        snapshot: Callable[[], HealthSnapshot],
        reset: Callable[[str], None] | None,
        host: str,
        port: int,
    ) -> None:
        handler = _handler_class(snapshot, reset)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="otel-llm-health", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> HealthServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _handler_class(
    snapshot: Callable[[], HealthSnapshot], reset: Callable[[str], None] | None
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.rstrip("/") != "/health":
                self._reply(HTTPStatus.NOT_FOUND, '{"error": "not found"}')
                return
            current = snapshot()
            status = HTTPStatus.SERVICE_UNAVAILABLE if current.status == "down" else HTTPStatus.OK
            self._reply(status, current.to_json())

        def do_POST(self) -> None:
            path = self.path
            if not (path.startswith(_RESET_PREFIX) and path.endswith(_RESET_SUFFIX)):
                self._reply(HTTPStatus.NOT_FOUND, '{"error": "not found"}')
                return
            if reset is None:
                self._reply(HTTPStatus.FORBIDDEN, '{"error": "breaker resets are disabled"}')
                return
            key = unquote(path[len(_RESET_PREFIX) : -len(_RESET_SUFFIX)])
            reset(key)
            self._reply(HTTPStatus.OK, snapshot().to_json())

        def _reply(self, status: HTTPStatus, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # health probes every few seconds would flood the application's stderr

    return Handler
