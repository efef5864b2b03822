"""Gemini API ``generateContent`` / ``streamGenerateContent`` wire format."""

from __future__ import annotations

from collections.abc import Mapping

from otel_llm.testing._behavior import Behavior
from otel_llm.testing._wire import (
    EVENT_STREAM,
    Exchange,
    JSONObject,
    Route,
    StreamScript,
    collect_text,
    split_chunks,
    sse,
    sse_comment,
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
_FILTER_REASONS = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)
_SAFETY_CATEGORIES = (
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
)
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

    stream_content_type = EVENT_STREAM

    @property
    def keep_alive_event(self) -> bytes | None:
        """An SSE comment (Gemini itself sends none; kept for keep-alive tests)."""
        return sse_comment("keep-alive")

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

    def forced_tool(self, body: JSONObject) -> tuple[str, JSONObject] | None:
        """Not modelled for this wire format: scripted ``Behavior.tool_calls`` only."""
        return None

    def requested_json(self, body: JSONObject) -> JSONObject | None:
        """``generationConfig.responseMimeType: application/json`` and its schema, if any."""
        config = body.get("generationConfig")
        if not isinstance(config, dict) or config.get("responseMimeType") != "application/json":
            return None
        for key in ("responseJsonSchema", "responseSchema"):
            schema = config.get(key)
            if isinstance(schema, dict):
                return schema
        return {}

    def response_headers(self, serial: int) -> dict[str, str]:
        """No provider-specific headers."""
        return {}

    def retry_headers(self, behavior: Behavior) -> dict[str, str]:
        """None: the real API has no rate-limit headers; hints travel as ``google.rpc.RetryInfo``."""
        return {}

    def render(self, exchange: Exchange) -> JSONObject:
        """A ``GenerateContentResponse`` (without candidates for a blocked prompt)."""
        if exchange.block_reason is not None:
            return _blocked(exchange)
        return _response(exchange, _parts(exchange, exchange.text, with_calls=True), final=True)

    def render_stream(self, exchange: Exchange) -> StreamScript:
        """One ``GenerateContentResponse`` per chunk; the last has ``finishReason`` and usage.

        Function calls arrive whole, all in one chunk after the text, as Gemini sends them.
        """
        if exchange.block_reason is not None:
            return StreamScript(head=(), content=(), tail=(sse(_blocked(exchange), newline=_NEWLINE),))
        chunks = [
            _response(exchange, [{"text": piece}], final=False) for piece in split_chunks(exchange.text)
        ]
        if exchange.tool_calls:
            chunks.append(_response(exchange, _parts(exchange, "", with_calls=True), final=False))
        content = tuple(sse(chunk, newline=_NEWLINE) for chunk in chunks)
        tail = (sse(_response(exchange, [{"text": ""}], final=True), newline=_NEWLINE),)
        return StreamScript(head=(), content=content, tail=tail)

    def error_body(self, status: int, behavior: Behavior, model: str, serial: int) -> JSONObject:
        """``{"error": {"code", "message", "status", "details"}}``."""
        return {"error": _error_object(status, behavior, model)}

    def stream_error(self, behavior: Behavior, serial: int) -> bytes:
        """A ``data: {"error": {...}}`` event (defaults to 503 ``UNAVAILABLE``)."""
        error = _error_object(_STREAM_ERROR_STATUS, behavior, "")
        return sse({"error": error}, newline=_NEWLINE)


def _parts(exchange: Exchange, text: str, *, with_calls: bool) -> list[JSONObject]:
    parts: list[JSONObject] = [{"text": text}] if text or not exchange.tool_calls else []
    if with_calls:
        parts += [{"functionCall": {"name": c.name, "args": c.arguments}} for c in exchange.tool_calls]
    return parts


def _response(exchange: Exchange, parts: list[JSONObject], *, final: bool) -> JSONObject:
    finish = exchange.finish_reason or "STOP"
    candidate: JSONObject = {}
    # A candidate stopped by a safety filter has no content, only ratings.
    if not (final and finish in _FILTER_REASONS and parts == [{"text": ""}]):
        candidate["content"] = {"parts": parts, "role": "model"}
    if final:
        candidate["finishReason"] = finish
        if finish == "SAFETY":
            candidate["safetyRatings"] = _safety_ratings(blocked=True)
    candidate["index"] = 0
    response: JSONObject = {"candidates": [candidate]}
    if final and not exchange.omit_usage:
        response["usageMetadata"] = _usage(exchange, exchange.output_tokens)
    response["modelVersion"] = exchange.model
    response["responseId"] = f"fake{exchange.serial:06d}"
    return response


def _blocked(exchange: Exchange) -> JSONObject:
    response: JSONObject = {
        "promptFeedback": {
            "blockReason": exchange.block_reason,
            "safetyRatings": _safety_ratings(blocked=exchange.block_reason == "SAFETY"),
        }
    }
    if not exchange.omit_usage:
        response["usageMetadata"] = _usage(exchange, 0)
    response["modelVersion"] = exchange.model
    response["responseId"] = f"fake{exchange.serial:06d}"
    return response


def _usage(exchange: Exchange, output_tokens: int) -> JSONObject:
    usage: JSONObject = {"promptTokenCount": exchange.input_tokens}
    if output_tokens:
        usage["candidatesTokenCount"] = output_tokens
    usage["totalTokenCount"] = exchange.input_tokens + output_tokens
    usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": exchange.input_tokens}]
    return usage


def _safety_ratings(*, blocked: bool) -> list[JSONObject]:
    ratings: list[JSONObject] = [{"category": c, "probability": "NEGLIGIBLE"} for c in _SAFETY_CATEGORIES]
    if blocked:
        ratings[1] = {"category": _SAFETY_CATEGORIES[1], "probability": "HIGH", "blocked": True}
    return ratings


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
    if behavior.quota_id is not None:
        details.append(_quota_failure(behavior.quota_id, model))
    delay = _retry_delay(behavior)
    if delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay})
    return {
        "code": status,
        "message": behavior.error_message or message.replace("{model}", model),
        "status": behavior.error_type or rpc_status,
        "details": details,
    }


def _quota_failure(quota_id: str, model: str) -> JSONObject:
    per_day = "PerDay" in quota_id
    return {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [
            {
                "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                "quotaId": quota_id,
                "quotaDimensions": {"location": "global", "model": model},
                "quotaValue": "200" if per_day else "15",
            }
        ],
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
