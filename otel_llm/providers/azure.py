"""Azure OpenAI: the OpenAI Chat Completions wire behind a resource's deployments, keyed with `api-key`.

Two URL forms, chosen by the configured base URL (each resource has its own host, so there is no default):

- `https://{resource}.openai.azure.com` (or `.../openai`): the deployments API,
  `/openai/deployments/{deployment}/chat/completions?api-version=...`. The route's model is the
  deployment name. `api-version` defaults to `DEFAULT_API_VERSION`; put `?api-version=...` on the base
  URL to pin another (a preview, say).
- `https://{resource}.openai.azure.com/openai/v1`: the v1 API, `/openai/v1/chat/completions` with the
  deployment name as the body's `model` and no `api-version` unless the base URL carries one.

Wire reference: learn.microsoft.com/azure/ai-foundry/openai/reference (deployments API) and
learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle (v1 API).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import quote

import httpx

from otel_llm._exceptions import ProviderError
from otel_llm._types import ChatRequest, EmbeddingsRequest
from otel_llm.providers._base import Endpoint, MalformedResponse, decode_json, error_for_status, obj
from otel_llm.providers.openai import OpenAIChat

DEFAULT_API_VERSION: Final = "2024-10-21"
"""The latest GA data-plane version: it has `stream_options.include_usage`, tools and structured output."""

_V1_PATH: Final = "/openai/v1"


class AzureOpenAI(OpenAIChat):
    """Chat Completions and embeddings on an Azure OpenAI resource (deployments or v1 API).

    Attributes:
        api_version: The `api-version` sent with every request, or `None` (v1 API without one).
        v1: Whether the base URL selects the v1 API rather than the deployments API.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__(endpoint)
        url = httpx.URL(endpoint.base_url)
        path = url.path.rstrip("/")
        self.v1 = path.endswith(_V1_PATH)
        params = dict(url.params)
        if not self.v1:
            # `.../openai` is a common way to write the resource endpoint; the paths below add it.
            path = path.removesuffix("/openai")
            params.setdefault("api-version", DEFAULT_API_VERSION)
        self.api_version = params.get("api-version")
        self._params: Mapping[str, str] = params
        self._base_url = str(url.copy_with(path=path or "/", query=None, fragment=None)).rstrip("/")

    def _url(self, path: str) -> httpx.URL:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self._base_url + path, params=self._params)
        return url

    def _deployment_url(self, deployment: str, operation: str) -> httpx.URL:
        # Deployment names are plain, but the model string is user input: never let it add path segments.
        return self._url(f"/openai/deployments/{quote(deployment, safe='')}/{operation}")

    def _chat_url(self, request: ChatRequest) -> httpx.URL:
        if self.v1:
            return self._url("/chat/completions")
        return self._deployment_url(request.model, "chat/completions")

    def _headers(self, attempt: int) -> dict[str, str]:
        headers = {"content-type": "application/json", "x-otel-llm-attempt": str(attempt)}
        if self._api_key:
            headers["api-key"] = self._api_key
        return headers

    def build_embeddings_request(self, request: EmbeddingsRequest) -> httpx.Request:
        """Translate an embeddings request into `POST .../embeddings` on the deployment (or v1 API)."""
        built = super().build_embeddings_request(request)
        if self.v1:
            return built
        return httpx.Request(
            "POST",
            self._deployment_url(request.model, "embeddings"),
            headers=built.headers,
            content=built.content,
        )

    def classify_error(
        self, response: httpx.Response, request: ChatRequest | EmbeddingsRequest
    ) -> ProviderError:
        """Classify like OpenAI, plus Azure's blocked-prompt answer.

        A prompt blocked by the content filter is a 400 whose `error.innererror.code` is
        `ResponsibleAIPolicyViolation` (with `error.code` `content_filter`, or `content_policy_violation`
        on image endpoints); either signal makes it a `content_filter` error.
        """
        error = super().classify_error(response, request)
        if error.kind == "content_filter" or not _responsible_ai_violation(response.content):
            return error
        return error_for_status(response, request, self.name, str(error.args[0]), "content_filter")


def _responsible_ai_violation(body: bytes) -> bool:
    try:
        error = obj(obj(decode_json(body), "body").get("error"), "error")
        inner = obj(error.get("innererror"), "error.innererror")
    except MalformedResponse:
        return False
    return inner.get("code") == "ResponsibleAIPolicyViolation"
