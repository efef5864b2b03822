"""``Behavior.error``: each error kind as each provider really sends it (reference §9.2)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from otel_llm.testing._behavior import Behavior
from otel_llm.testing._wire import format_number

# The default hint of a rate limit, in seconds.
_DEFAULT_HINT = 1.0


@dataclass(frozen=True, slots=True)
class _Recipe:
    status: int
    error_type: str | None = None
    error_code: str | None = None
    message: str | None = None
    hinted: bool = False
    quota_id: str | None = None
    block_reason: str | None = None
    finish_reason: str | None = None


_OPENAI_QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
)
_GEMINI_QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)

_OPENAI: dict[str, _Recipe] = {
    "rate_limit": _Recipe(429, "requests", "rate_limit_exceeded", hinted=True),
    "quota_exhausted": _Recipe(429, "insufficient_quota", "insufficient_quota", _OPENAI_QUOTA),
    "overloaded": _Recipe(503),
    "server_error": _Recipe(500),
    "context_length": _Recipe(
        400,
        "invalid_request_error",
        "context_length_exceeded",
        "This model's maximum context length is 128000 tokens. However, your messages resulted in "
        "130000 tokens. Please reduce the length of the messages.",
    ),
    "content_filter": _Recipe(
        400,
        "invalid_request_error",
        "content_policy_violation",
        "Your request was rejected as a result of our safety system. Your prompt may contain text "
        "that is not allowed by our safety system.",
    ),
    "content_filter_output": _Recipe(200, finish_reason="content_filter"),
    "auth": _Recipe(
        401,
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: sk-fake. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    ),
    "not_found": _Recipe(404),
    "bad_request": _Recipe(400),
}

# OpenAI-shaped providers: only what differs from OpenAI.
_OPENAI_LIKE: dict[str, dict[str, _Recipe]] = {
    "azure": {
        "rate_limit": _Recipe(
            429,
            error_code="429",
            message="Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
            "2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. "
            "Please retry after a short while.",
            hinted=True,
        ),
        "content_filter": _Recipe(
            400,
            error_code="content_filter",
            message="The response was filtered due to the prompt triggering Azure OpenAI's content "
            "management policy. Please modify your prompt and retry. To learn more about our content "
            "filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
        ),
        "auth": _Recipe(
            401,
            error_code="401",
            message="Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
            "provide a valid key for an active subscription and use a correct regional API endpoint "
            "for your resource.",
        ),
        "not_found": _Recipe(
            404,
            error_code="DeploymentNotFound",
            message="The API deployment for this resource does not exist. If you created the "
            "deployment within the last 5 minutes, please wait a moment and try again.",
        ),
    },
    "openrouter": {
        "rate_limit": _Recipe(429, message="Rate limit exceeded: free-models-per-min.", hinted=True),
        "quota_exhausted": _Recipe(
            402,
            message="This request requires more credits, or fewer max_tokens. Visit "
            "https://openrouter.ai/settings/credits and add more credits.",
        ),
        "overloaded": _Recipe(503, message="No instances available to serve this request."),
        "server_error": _Recipe(502, message="Provider returned error"),
        "context_length": _Recipe(
            400,
            message="This endpoint's maximum context length is 128000 tokens. However, you requested "
            'about 130000 tokens. Please reduce the length of either one, or use the "middle-out" '
            "transform to compress your prompt automatically.",
        ),
        "content_filter": _Recipe(403, message="Your input was flagged for moderation."),
        "auth": _Recipe(401, message="No auth credentials found"),
    },
    "together": {
        "quota_exhausted": _Recipe(
            402,
            "credit_limit",
            message="Credit limit exceeded. Please navigate to https://api.together.xyz/settings/billing "
            "to add credit or upgrade your plan.",
        ),
        "overloaded": _Recipe(503, "server_error", message="Engine Overloaded"),
        "context_length": _Recipe(
            403,
            "invalid_request_error",
            message="Input validation error: `inputs` tokens + `max_new_tokens` must be <= 8193. "
            "Given: 8000 `inputs` tokens and 512 `max_new_tokens`",
        ),
    },
}

# Providers with their own wire format: every kind they have.
_NATIVE: dict[str, dict[str, _Recipe]] = {
    "anthropic": {
        "rate_limit": _Recipe(429, "rate_limit_error", hinted=True),
        "quota_exhausted": _Recipe(
            429,
            "rate_limit_error",
            "enforced_spend_limit_reached",
            "This request would exceed your organization's spend limit. Raise the limit or wait "
            "until it resets.",
        ),
        "overloaded": _Recipe(529),
        "server_error": _Recipe(500),
        "context_length": _Recipe(
            400, "invalid_request_error", message="prompt is too long: 215000 tokens > 200000 maximum"
        ),
        "content_filter": _Recipe(
            400, "invalid_request_error", message="Output blocked by content filtering policy"
        ),
        "content_filter_output": _Recipe(200, finish_reason="refusal"),
        "auth": _Recipe(401, "authentication_error", message="invalid x-api-key"),
        "not_found": _Recipe(404),
        "bad_request": _Recipe(400),
    },
    "gemini": {
        "rate_limit": _Recipe(
            429,
            message=_GEMINI_QUOTA,
            hinted=True,
            quota_id="GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
        ),
        "quota_exhausted": _Recipe(
            429, message=_GEMINI_QUOTA, quota_id="GenerateRequestsPerDayPerProjectPerModel-FreeTier"
        ),
        "overloaded": _Recipe(503),
        "server_error": _Recipe(500),
        "context_length": _Recipe(
            400,
            message="The input token count (1048577) exceeds the maximum number of tokens allowed (1048576).",
        ),
        "content_filter": _Recipe(200, block_reason="SAFETY"),
        "content_filter_output": _Recipe(200, finish_reason="SAFETY"),
        "auth": _Recipe(
            400,
            "INVALID_ARGUMENT",
            "API_KEY_INVALID",
            "API key not valid. Please pass a valid API key.",
        ),
        "not_found": _Recipe(404),
        "bad_request": _Recipe(400),
    },
    "ollama": {
        "rate_limit": _Recipe(429, message="too many requests, please try again later", hinted=True),
        "quota_exhausted": _Recipe(
            429, message="you've reached your usage limit, please upgrade to continue"
        ),
        "overloaded": _Recipe(503),
        "server_error": _Recipe(500),
        "context_length": _Recipe(400, message="the input length exceeds the context length"),
        "auth": _Recipe(401, message="unauthorized"),
        "not_found": _Recipe(404),
        "bad_request": _Recipe(400),
    },
}


def error_behavior(kind: str, *, provider: str, retry_after: float | None) -> Behavior:
    """Build the behaviour behind :meth:`Behavior.error`."""
    if kind not in Behavior.error_kinds:
        raise ValueError(f"unknown error kind {kind!r}; expected one of {Behavior.error_kinds}")
    if provider in _NATIVE:
        recipe = _NATIVE[provider].get(kind)
        if recipe is None:
            raise ValueError(f"{provider} has no {kind} error")
    else:
        recipe = _OPENAI_LIKE.get(provider, {}).get(kind) or _OPENAI[kind]
    hint = retry_after if retry_after is not None else (_DEFAULT_HINT if recipe.hinted else None)
    uses_ms = provider in ("openai", "azure")  # they also send retry-after-ms
    return Behavior(
        status=recipe.status,
        error_type=recipe.error_type,
        error_code=recipe.error_code,
        error_message=recipe.message,
        retry_after=hint,
        retry_after_ms=hint * 1000 if hint is not None and uses_ms else None,
        headers=_rate_limit_headers(provider, hint) if kind == "rate_limit" else {},
        quota_id=recipe.quota_id,
        block_reason=recipe.block_reason,
        finish_reason=recipe.finish_reason,
        text="" if recipe.finish_reason or recipe.block_reason else None,
    )


def _rate_limit_headers(provider: str, hint: float | None) -> dict[str, str]:
    if provider in ("gemini", "ollama"):  # neither sends rate-limit headers
        return {}
    seconds = hint if hint is not None else _DEFAULT_HINT
    if provider == "anthropic":
        # RFC 3339, like the real header; computed now, so it is only as fresh as the behaviour.
        reset = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
        return {
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": reset.isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
    return {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": f"{format_number(seconds)}s",
    }
