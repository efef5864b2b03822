"""Azure OpenAI: the OpenAI format plus deployments, ``api-key`` auth and content filter results."""

from __future__ import annotations

from collections.abc import Mapping

from otel_llm.testing._behavior import Behavior
from otel_llm.testing._openai_wire import OpenAIDialect, finish_reason
from otel_llm.testing._wire import Exchange, JSONObject, Route, format_number, sse

_CATEGORIES = ("hate", "self_harm", "sexual", "violence")

_NO_KEY = Behavior(
    status=401,
    error_code="401",
    error_message=(
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
        "valid key for an active subscription and use a correct regional API endpoint for your resource."
    ),
)
_NO_API_VERSION = Behavior(
    status=400,
    error_code="MissingApiVersionParameter",
    error_message="The api-version query parameter (?api-version=) is required for all requests.",
)


class AzureDialect(OpenAIDialect):
    """Speaks ``/openai/deployments/{deployment}/chat/completions`` and ``/openai/v1/chat/completions``."""

    def check_auth(self, headers: Mapping[str, str]) -> Behavior | None:
        """Require a non-empty ``api-key`` header or an (Entra) bearer token."""
        if headers.get("api-key", "").strip():
            return None
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return None
        return _NO_KEY

    def validate_route(self, route: Route) -> Behavior | None:
        """Deployment routes (``route.model`` set) need ``?api-version=``."""
        if route.model is not None and not (route.query or {}).get("api-version"):
            return _NO_API_VERSION
        return None

    def validate(self, route: Route, body: JSONObject) -> Behavior | None:
        """As OpenAI, but on deployment routes the deployment stands in for ``model``."""
        rejection = self.validate_route(route)
        if rejection is not None:
            return rejection
        return super().validate(route, {"model": route.model, **body} if route.model else body)

    def response_headers(self, serial: int) -> dict[str, str]:
        """``apim-request-id`` and ``x-request-id``."""
        request_id = f"00000000-0000-4000-8000-{serial:012d}"
        return {"apim-request-id": request_id, "x-request-id": request_id, "x-ms-region": "Fake Region"}

    def retry_headers(self, behavior: Behavior) -> dict[str, str]:
        """``retry-after``, ``retry-after-ms`` and ``x-ms-retry-after-ms``."""
        headers = super().retry_headers(behavior)
        if behavior.retry_after_ms is not None:
            headers["x-ms-retry-after-ms"] = format_number(behavior.retry_after_ms)
        return headers

    def decorate_choice(self, choice: JSONObject, exchange: Exchange, *, streamed: bool = False) -> None:
        """Per-choice ``content_filter_results`` (flagged when the output was filtered)."""
        filtered = finish_reason(exchange) == "content_filter"
        if streamed and ("role" in choice["delta"] or choice["finish_reason"] is not None):
            # Azure's role and finish chunks carry empty results unless the output was filtered.
            flagged = choice["finish_reason"] == "content_filter"
            choice["content_filter_results"] = _filter_results(filtered=True) if flagged else {}
            return
        choice["content_filter_results"] = _filter_results(filtered=filtered and not streamed)

    def stream_prelude(self, exchange: Exchange) -> tuple[bytes, ...]:
        """The first chunk: ``choices: []`` and ``prompt_filter_results``, with empty ids like Azure."""
        prelude = {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "object": "",
            "prompt_filter_results": _prompt_filter_results(),
        }
        return (sse(prelude),)

    def extra_fields(self, exchange: Exchange) -> JSONObject:
        """``system_fingerprint``; non-streamed replies also carry ``prompt_filter_results``."""
        return {"system_fingerprint": "fp_fake"}

    def render(self, exchange: Exchange) -> JSONObject:
        """A ``chat.completion`` with ``prompt_filter_results``."""
        body = super().render(exchange)
        body["prompt_filter_results"] = _prompt_filter_results()
        return body

    def error_object(self, status: int, behavior: Behavior, model: str) -> JSONObject:
        """OpenAI's fields plus ``status``; a ``content_filter`` code gets ``innererror``."""
        error = super().error_object(status, behavior, model)
        if behavior.error_code is not None and behavior.error_type is None:
            error["type"] = None  # Azure's own errors (401, 429, content_filter) have no type
        error["status"] = status
        if error["code"] == "content_filter":
            error["param"] = "prompt"
            error["innererror"] = {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": _filter_results(filtered=True),
            }
        return error


def _filter_results(*, filtered: bool) -> JSONObject:
    results: JSONObject = {name: {"filtered": False, "severity": "safe"} for name in _CATEGORIES}
    if filtered:
        results["violence"] = {"filtered": True, "severity": "high"}
    return results


def _prompt_filter_results() -> list[JSONObject]:
    return [{"prompt_index": 0, "content_filter_results": _filter_results(filtered=False)}]
