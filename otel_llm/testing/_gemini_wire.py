"""Gemini API ``generateContent`` / ``streamGenerateContent`` wire format."""

from __future__ import annotations

from collections.abc import Mapping

from otel_llm.testing._behavior import Behavior
from otel_llm.testing._wire import (
    Exchange,
    JSONObject,
    Route,
    StreamScript,
    collect_text,
    split_chunks,
    sse,
)

# status → (error.status, error.message); "{model}" is filled in.
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: (
        "UNAUTHENTICATED",
        "Request is missing required authentication credential.",
    ),
    403: ("PERMISSION_DENIED", "The caller does not have permission."),
    404: (
        "NOT_FOUND",
        "models/{model} is not found for API version v1beta, or is not supported for generateContent.",
    ),
    409: ("ABORTED", "The operation was aborted."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    500: ("INTERNAL", "An internal error has occurred. Please retry."),
    501: ("UNIMPLEMENTED", "Operation is not implemented."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
}
_CLIENT_ERROR = _ERRORS[400]
_SERVER_ERROR = _ERRORS[500]
_STREAM_ERROR_STATUS = 503
# Gemini frames its server-sent events with CRLF line endings.
_NEWLINE = "\r\n"

_NO_KEY = Behavior(
    status=401,
    error_type="UNAUTHENTICATED",
    error_message=(
        "Method doesn't allow unregistered callers (callers without established identity). "
        "Please use API Key or other form of API consumer identity to call this API."
    ),
)


def _invalid(message: str) -> Behavior:
    return Behavior(status=400, error_type="INVALID_ARGUMENT", error_message=message)


class GeminiDialect:
    """Speaks ``POST /gemini/v1beta/models/{model}:generateContent`` and its stream twin."""

    # The real API has no rate-limit headers; the hint travels as google.rpc.RetryInfo.
    retry_hint_in_headers = False

    def check_auth(self, headers: Mapping[str, str]) -> Behavior | None:
        """Require a non-empty ``x-goog-api-key`` (never a ``?key=`` query parameter)."""
        if headers.get("x-goog-api-key", "").strip():
            return None
        return _NO_KEY

    def validate(self, route: Route, body: JSONObject) -> Behavior | None:
        """Require ``contents``; streams must ask for ``alt=sse``."""
        query = route.query or {}
        if route.action == "streamGenerateContent" and query.get("alt") != "sse":
            return _invalid("The fake provider server streams only with ?alt=sse.")
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            return _invalid("* GenerateContentRequest.contents: contents is not specified")
        return None

    def wants_stream(self, route: Route, body: JSONObject) -> bool:
        """The path's method is ``streamGenerateContent``."""
        return route.action == "streamGenerateContent"

    def message_text(self, body: JSONObject) -> list[str]:
        """Text parts of ``systemInstruction`` and of every entry in ``contents``."""
        texts: list[str] = []
        instruction = body.get("systemInstruction")
        if isinstance(instruction, dict):
            texts += collect_text(instruction.get("parts"))
        contents = body.get("contents")
        if isinstance(contents, list):
            texts += [t for c in contents if isinstance(c, dict) for t in collect_text(c.get("parts"))]
        return texts

    def response_headers(self, serial: int) -> dict[str, str]:
        """No provider-specific headers."""
        return {}

    def render(self, exchange: Exchange) -> JSONObject:
        """A ``GenerateContentResponse``."""
        return _response(exchange, exchange.text, final=True)

    def render_stream(self, exchange: Exchange) -> StreamScript:
        """One ``GenerateContentResponse`` per chunk; the last has ``finishReason`` and usage."""
        content = tuple(
            sse(_response(exchange, piece, final=False), newline=_NEWLINE)
            for piece in split_chunks(exchange.text)
        )
        tail = (sse(_response(exchange, "", final=True), newline=_NEWLINE),)
        return StreamScript(head=(), content=content, tail=tail)

    def error_body(self, status: int, behavior: Behavior, model: str, serial: int) -> JSONObject:
        """``{"error": {"code", "message", "status", "details"}}``."""
        return {"error": _error_object(status, behavior, model)}

    def stream_error(self, behavior: Behavior, serial: int) -> bytes:
        """A ``data: {"error": {...}}`` event (defaults to 503 ``UNAVAILABLE``)."""
        error = _error_object(_STREAM_ERROR_STATUS, behavior, "")
        return sse({"error": error}, newline=_NEWLINE)


def _response(exchange: Exchange, text: str, *, final: bool) -> JSONObject:
    candidate: JSONObject = {"content": {"parts": [{"text": text}], "role": "model"}}
    if final:
        candidate["finishReason"] = exchange.finish_reason or "STOP"
    candidate["index"] = 0
    response: JSONObject = {"candidates": [candidate]}
    if final:
        response["usageMetadata"] = {
            "promptTokenCount": exchange.input_tokens,
            "candidatesTokenCount": exchange.output_tokens,
            "totalTokenCount": exchange.input_tokens + exchange.output_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": exchange.input_tokens}],
        }
    response["modelVersion"] = exchange.model
    response["responseId"] = f"fake{exchange.serial:06d}"
    return response


def _error_object(status: int, behavior: Behavior, model: str) -> JSONObject:
    rpc_status, message = _ERRORS.get(status, _CLIENT_ERROR if status < 500 else _SERVER_ERROR)
    details: list[JSONObject] = []
    if behavior.error_code is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": behavior.error_code,
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        )
    delay = _retry_delay(behavior)
    if delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay})
    return {
        "code": status,
        "message": behavior.error_message or message.replace("{model}", model),
        "status": behavior.error_type or rpc_status,
        "details": details,
    }


def _retry_delay(behavior: Behavior) -> str | None:
    if behavior.retry_after is not None:
        seconds = behavior.retry_after
    elif behavior.retry_after_ms is not None:
        seconds = behavior.retry_after_ms / 1000
    else:
        return None
    # google.protobuf.Duration in JSON: seconds with 0, 3, 6 or 9 fractional digits.
    return f"{int(seconds)}s" if float(seconds).is_integer() else f"{seconds:.3f}s"
