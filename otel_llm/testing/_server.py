"""The fake provider server: a real HTTP server on loopback, serving from daemon threads."""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from otel_llm.testing._responder import FullReply, Responder, StreamReply
from otel_llm.testing._routes import base_path
from otel_llm.testing._scripting import ScriptedProviders
from otel_llm.testing._wire import dump

logger = logging.getLogger(__name__)

_HOST = "127.0.0.1"
# How often the accept loop checks for shutdown: bounds how long close() takes.
_POLL_INTERVAL = 0.05
# Reason phrases the stdlib does not know.
_REASONS = {529: "Overloaded"}
_S = TypeVar("_S", bound="FakeProviderServer")


class FakeProviderServer(ScriptedProviders):
    """A local HTTP server speaking the OpenAI, Azure, Anthropic, Gemini and Ollama wire formats.

    It binds ``127.0.0.1`` on a free port and answers from daemon threads, so otel-llm, the
    official SDKs or plain httpx can talk to it. Behaviours script outages, latency, rate limits,
    truncated streams, malformed bodies, tool calls and embeddings; every request on a provider
    route is recorded.

    Routes (``base_url(provider)`` gives the prefix an SDK needs):

    * ``POST /openai/v1/chat/completions`` and ``/openai/v1/embeddings``, and the same under
      ``/{name}/v1`` for any other OpenAI-compatible provider key ``name`` (``"together"``,
      ``"openrouter"``, ``"mistral"``, ...);
    * ``POST /azure/openai/deployments/{deployment}/chat/completions?api-version=...`` (and
      ``/embeddings``), ``/azure/openai/v1/chat/completions`` (and ``/embeddings``);
    * ``POST /anthropic/v1/messages``;
    * ``POST /gemini/v1beta/models/{model}:generateContent``, ``:streamGenerateContent?alt=sse``,
      ``:embedContent`` and ``:batchEmbedContents``;
    * ``POST /ollama/api/chat`` (NDJSON stream by default) and ``/ollama/api/embed``.

    Args:
        port: Port to bind; ``0`` (the default) picks a free one.

    Example:
        ```python
        with FakeProviderServer() as server:
            server.enqueue("openai", Behavior(status=429, retry_after=1))
            client = openai.OpenAI(base_url=server.base_url("openai"), api_key="sk-test")
        ```
    """

    def __init__(self, *, port: int = 0) -> None:
        self._requested_port = port
        super().__init__()
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self: _S) -> _S:
        """Bind the port and start serving.

        Returns:
            The server itself.

        Raises:
            RuntimeError: If the server was already started or closed.
            OSError: If the port cannot be bound.
        """
        with self._lock:
            if self._httpd is not None or self._closed:
                raise RuntimeError("a FakeProviderServer can be started only once")
            httpd = _HTTPServer((_HOST, self._requested_port), Responder(self._behaviors, self._log))
            self._httpd = httpd
            self._thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": _POLL_INTERVAL},
                name=f"fake-provider-server:{httpd.server_port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, drop open connections and wait for every handler thread. Idempotent."""
        with self._lock:
            httpd, thread = self._httpd, self._thread
            self._closed = True
            self._httpd = self._thread = None
        if httpd is None or thread is None:
            return
        httpd.closing.set()  # wakes handlers sleeping through latency or chunk_delay
        httpd.shutdown()
        httpd.abort_connections()  # wakes handlers waiting on idle keep-alive connections
        httpd.server_close()  # joins the handler threads
        thread.join()

    def __repr__(self) -> str:
        with self._lock:
            httpd, closed = self._httpd, self._closed
        if httpd is not None:
            return f"FakeProviderServer(url='http://{_HOST}:{httpd.server_port}')"
        return f"FakeProviderServer({'closed' if closed else 'not started'})"

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def port(self) -> int:
        """The bound port.

        Raises:
            RuntimeError: If the server is not running.
        """
        with self._lock:
            if self._httpd is None:
                raise RuntimeError("the FakeProviderServer is not running; call start()")
            return self._httpd.server_port

    @property
    def url(self) -> str:
        """Root URL, e.g. ``"http://127.0.0.1:8123"``.

        Raises:
            RuntimeError: If the server is not running.
        """
        return f"http://{_HOST}:{self.port}"

    def base_url(self, provider: str) -> str:
        """The ``base_url`` an SDK needs to reach ``provider`` on this server.

        Args:
            provider: ``"openai"``, ``"azure"``, ``"anthropic"``, ``"gemini"``, ``"ollama"``, or
                any other name for an OpenAI-compatible provider (served under ``/{provider}/v1``).

        Returns:
            ``{url}/openai/v1``, ``{url}/azure`` (the ``azure_endpoint``), ``{url}/anthropic``,
            ``{url}/gemini/v1beta``, ``{url}/ollama`` (the Ollama ``host``; its OpenAI-compatible
            API is under ``{url}/ollama/v1``) or ``{url}/{provider}/v1``.

        Raises:
            ValueError: If ``provider`` is not a valid path segment.
            RuntimeError: If the server is not running.
        """
        return self.url + base_path(provider)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "otel-llm-fake-provider"
    sys_version = ""
    # Stream events are small writes that must leave at once.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_POST(self) -> None:
        self._serve()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST  # answered with 404/405 by the responder

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _serve(self) -> None:
        target = urlsplit(self.path)
        raw_body = self._read_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        responder = self.server.responder
        try:
            reply = responder.respond(self.command, target.path, target.query, headers, raw_body)
        except Exception:  # a bug in the fake must not look like a dropped connection
            logger.exception("fake provider server failed on %s %s", self.command, self.path)
            body = {"error": {"message": "fake provider server error", "type": "fake_bug"}}
            reply = FullReply(500, {"content-type": "application/json"}, dump(body).encode())
        if reply.latency and self.server.closing.wait(reply.latency):
            self.close_connection = True
            return
        if isinstance(reply, StreamReply):
            self._write_stream(reply)
        else:
            self._write_full(reply)

    def _read_body(self) -> bytes:
        length = self.headers.get("content-length")
        if length is not None:
            return self.rfile.read(int(length))
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        return b""

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers end with a blank line
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()  # CRLF after each chunk

    def _start(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status, _REASONS.get(status))
        for name, value in headers.items():
            if name != "content-length":
                self.send_header(name, value)

    def _write_full(self, reply: FullReply) -> None:
        self._start(reply.status, reply.headers)
        self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def _write_stream(self, reply: StreamReply) -> None:
        self._start(reply.status, reply.headers)
        self.end_headers()
        for index, segment in enumerate(reply.segments):
            if index and reply.chunk_delay and self.server.closing.wait(reply.chunk_delay):
                break
            # wfile is unbuffered (wbufsize = 0): each event goes to the socket now.
            self.wfile.write(segment)
        self.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    """Tracks live connections so close() can wake the threads blocked on them."""

    daemon_threads = True
    block_on_close = True

    def __init__(self, address: tuple[str, int], responder: Responder) -> None:
        self.responder = responder
        self.closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup we do not need.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def abort_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            # The handler may have closed it in the meantime; that is what we want anyway.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-response are routine in outage tests: log, do not print.
        connection_error = isinstance(sys.exc_info()[1], OSError)
        logger.log(
            logging.DEBUG if connection_error else logging.ERROR,
            "fake provider server: error while serving %s",
            client_address,
            exc_info=True,
        )
