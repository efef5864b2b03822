"""Deciding the reply to one request: routing, auth, validation, behaviour, rendering.

No sockets here: the HTTP handler in ``_server.py`` writes what this module decides.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from otel_llm.testing._behavior import Behavior, BehaviorTable
from otel_llm.testing._log import RecordedRequest, RequestLog
from otel_llm.testing._routes import Router
from otel_llm.testing._structured import json_reply
from otel_llm.testing._wire import Dialect, Exchange, JSONObject, Route, ToolCall, count_words, dump

_JSON = "application/json"
_INVALID_JSON = Behavior(status=400, error_message="The request body is not a valid JSON object.")


@dataclass(frozen=True, slots=True)
class FullReply:
    """A response with a known length; the connection may be kept alive."""

    status: int
    headers: dict[str, str]
    body: bytes
    latency: float = 0.0


@dataclass(frozen=True, slots=True)
class StreamReply:
    """A close-delimited response written segment by segment, so truncation shows as EOF."""

    status: int
    headers: dict[str, str]
    segments: tuple[bytes, ...]
    latency: float = 0.0
    chunk_delay: float = 0.0


Reply = FullReply | StreamReply


class Responder:
    """Turns one HTTP request into a reply and records it.

    Args:
        behaviors: Where behaviours are looked up (and one-shots consumed).
        log: Where requests on provider routes are recorded.
        clock: Source of the ``created`` timestamps.
    """

    def __init__(
        self,
        behaviors: BehaviorTable,
        log: RequestLog,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._behaviors = behaviors
        self._log = log
        self._clock = clock
        self._router = Router()
        self._serials = itertools.count(1)
        self._serial_lock = threading.Lock()

    def respond(
        self, method: str, path: str, query: str, headers: Mapping[str, str], raw_body: bytes
    ) -> Reply:
        """Decide the reply to one request.

        Args:
            method: HTTP method.
            path: Request path without query string.
            query: Raw query string.
            headers: Request headers with lower-cased names.
            raw_body: Request body bytes.

        Returns:
            The reply for the HTTP handler to write.
        """
        route = self._router.match(path, query)
        if route is None:
            return _generic_error(404, "not_found_error", f"No fake provider route for {path}")
        if method != "POST":
            return _generic_error(405, "method_not_allowed", f"{method} is not allowed on {path}")
        with self._serial_lock:
            serial = next(self._serials)
        dialect = route.dialect
        body = _decode(raw_body)
        model = route.model or _string(body, "model")
        stream = body is not None and dialect.wants_stream(route, body)
        self._log.append(
            RecordedRequest(
                provider=route.provider,
                model=model,
                path=path,
                headers=dict(headers),
                body=body if body is not None else {},
                stream=stream,
            )
        )
        # Like the real APIs: credentials first, then the body.
        rejection = dialect.check_auth(headers) or (
            _INVALID_JSON if body is None else dialect.validate(route, body)
        )
        if rejection is not None or body is None:
            return self._error(dialect, rejection or _INVALID_JSON, model, serial)
        behavior = self._behaviors.take(route.provider, model)
        if behavior.raw_body is not None:
            return FullReply(
                status=behavior.status,
                headers=_merge(
                    {"content-type": behavior.content_type or _JSON},
                    self._extra_headers(dialect, behavior, serial),
                ),
                body=behavior.raw_body,
                latency=behavior.latency,
            )
        if not 200 <= behavior.status < 300:
            return self._error(dialect, behavior, model, serial)
        exchange = self._exchange(route, body, model, behavior, serial)
        if stream:
            return StreamReply(
                status=behavior.status,
                headers=_merge(
                    {"content-type": dialect.stream_content_type, "cache-control": "no-cache"},
                    self._extra_headers(dialect, behavior, serial),
                    # Close-delimited, so a cut stream reaches the client as a bare EOF.
                    {"connection": "close"},
                ),
                segments=_stream_segments(dialect, exchange, behavior),
                latency=behavior.latency,
                chunk_delay=behavior.chunk_delay,
            )
        return FullReply(
            status=behavior.status,
            headers=_merge({"content-type": _JSON}, self._extra_headers(dialect, behavior, serial)),
            body=dump(dialect.render(exchange)).encode(),
            latency=behavior.latency,
        )

    def _exchange(
        self, route: Route, body: JSONObject, model: str, behavior: Behavior, serial: int
    ) -> Exchange:
        tool_calls = tuple(ToolCall.from_mapping(call) for call in behavior.tool_calls)
        greeting = f"Hello from {route.provider} {model}."
        forced = route.dialect.forced_tool(body)
        if not tool_calls and behavior.text is None and forced is not None:
            # A forced tool choice gets that tool's call, as from the real APIs (and structured output
            # emulated through a forced tool gets schema-shaped input).
            name, input_schema = forced
            arguments = json.loads(json_reply(input_schema, greeting))
            tool_calls = (
                ToolCall(
                    name=name, arguments=arguments if isinstance(arguments, dict) else {"value": arguments}
                ),
            )
        schema = route.dialect.requested_json(body)
        if behavior.text is not None:
            text = behavior.text  # scripted text wins, so tests can send invalid JSON
        elif tool_calls:
            text = ""
        elif schema is not None:
            text = json_reply(schema, greeting)
        else:
            text = greeting
        output_tokens = len(text.split()) + sum(1 + len(c.arguments_json().split()) for c in tool_calls)
        return Exchange(
            provider=route.provider,
            model=model,
            body=body,
            text=text,
            finish_reason=behavior.finish_reason,
            input_tokens=max(1, count_words(route.dialect.message_text(body))),
            output_tokens=output_tokens,
            serial=serial,
            created=int(self._clock()),
            tool_calls=tool_calls,
            omit_usage=behavior.omit_usage,
            embedding_dimensions=behavior.embedding_dimensions,
            block_reason=behavior.block_reason,
            action=route.action,
        )

    def _error(self, dialect: Dialect, behavior: Behavior, model: str, serial: int) -> FullReply:
        body = dialect.error_body(behavior.status, behavior, model, serial)
        return FullReply(
            status=behavior.status,
            headers=_merge({"content-type": _JSON}, self._extra_headers(dialect, behavior, serial)),
            body=dump(body).encode(),
            latency=behavior.latency,
        )

    def _extra_headers(self, dialect: Dialect, behavior: Behavior, serial: int) -> dict[str, str]:
        headers = dialect.response_headers(serial)
        headers.update(dialect.retry_headers(behavior))
        headers.update({name.lower(): value for name, value in behavior.headers.items()})
        return headers


def _stream_segments(dialect: Dialect, exchange: Exchange, behavior: Behavior) -> tuple[bytes, ...]:
    script = dialect.render_stream(exchange)
    keep_alive = dialect.keep_alive_event
    head = script.head
    if keep_alive is not None and behavior.keep_alive:
        head = (keep_alive,) * behavior.keep_alive + head
    if behavior.cut_stream_after is not None:
        return head + script.content[: behavior.cut_stream_after]
    if behavior.stream_error_after is not None:
        error = dialect.stream_error(behavior, exchange.serial)
        return head + script.content[: behavior.stream_error_after] + (error,)
    return head + script.content + script.tail


def _decode(raw_body: bytes) -> JSONObject | None:
    try:
        value = json.loads(raw_body)
    except ValueError:  # also covers UnicodeDecodeError
        return None
    return value if isinstance(value, dict) else None


def _string(body: JSONObject | None, key: str) -> str:
    value = None if body is None else body.get(key)
    return value if isinstance(value, str) else ""


def _merge(*parts: Mapping[str, str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for part in parts:
        merged.update(part)
    return merged


def _generic_error(status: int, error_type: str, message: str) -> FullReply:
    body = {"error": {"message": message, "type": error_type, "code": status}}
    return FullReply(status=status, headers={"content-type": _JSON}, body=dump(body).encode())
