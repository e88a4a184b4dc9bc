"""OpenRouter: OpenAI's request shape, routed to many vendors' models."""

from __future__ import annotations

from typing import Any

from ...exceptions import (
    BadRequestError,
    ModelNotFoundError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from ._http import ErrorInfo, error_info
from .openai import OpenAIProvider

__all__ = ["OpenRouterProvider"]


class OpenRouterProvider(OpenAIProvider):
    """A model behind OpenRouter's ``/chat/completions``.

    Every request carries ``provider: {"require_parameters": true}`` so that
    OpenRouter routes only to upstream providers that honour
    ``response_format``; without it a request may land on one that ignores
    the schema. An HTTP 200 whose body is an error (OpenRouter's way of
    reporting failures after generation started) raises
    :class:`~sklearn_llmcluster.exceptions.ProviderResponseError` and is
    retried.

    Parameters
    ----------
    model : str, default="openai/gpt-4o-mini"
        Namespaced model id (``anthropic/claude-3.5-haiku``).
    base_url : str, default="https://openrouter.ai/api/v1"
        API root.
    api_key : str, optional
        Defaults to ``OPENROUTER_API_KEY``.
    app_url, app_title : str, optional
        Attribution, sent as ``HTTP-Referer`` and ``X-OpenRouter-Title``
        (plus the older ``X-Title``).
    provider_preferences : dict, optional
        Merged into the ``provider`` routing object (``{"sort": "price"}``,
        ``{"data_collection": "deny"}``).
    **kwargs
        As for :class:`~sklearn_llmcluster.llm.providers.openai.OpenAIProvider`.
    """

    name = "openrouter"
    vendor = "OpenRouter"
    api_key_env = "OPENROUTER_API_KEY"
    requires_api_key = True

    def __init__(
        self,
        model: str = "openai/gpt-4o-mini",
        base_url: str = "https://openrouter.ai/api/v1",
        *,
        app_url: str | None = None,
        app_title: str | None = "sklearn-llmcluster",
        provider_preferences: dict | None = None,
        token_param: str = "max_tokens",
        embed_model: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model, base_url, token_param=token_param, embed_model=embed_model,
                         **kwargs)
        self.app_url = app_url
        self.app_title = app_title
        self.provider_preferences = dict(provider_preferences or {})

    def _headers(self, url: str) -> dict[str, str]:
        headers = super()._headers(url)
        if self.app_url:
            headers["HTTP-Referer"] = self.app_url
        if self.app_title:
            headers["X-OpenRouter-Title"] = self.app_title
            headers["X-Title"] = self.app_title
        return headers

    def _payload(self, messages, temperature, max_tokens, json_schema) -> dict[str, Any]:
        payload = super()._payload(messages, temperature, max_tokens, json_schema)
        payload["provider"] = {"require_parameters": True, **self.provider_preferences}
        return payload

    def _classify(self, status: int, info: ErrorInfo):
        message = info.message.lower()
        if status == 400 and "not a valid model" in message:
            return ModelNotFoundError
        if status == 403:
            # 403 means this input was flagged by moderation: a per-text
            # problem, not a key that may never work.
            return BadRequestError
        return super()._classify(status, info)

    def _advice(self, cls) -> str:
        if cls is BadRequestError:
            return ("the request was rejected (a 403 means the input was flagged by the "
                    "model's moderation)")
        if cls is ModelNotFoundError:
            return "check the model id on openrouter.ai/models (ids look like 'vendor/model')"
        if cls is ProviderUnavailableError:
            return ("no upstream provider could serve the model just now; only providers that "
                    "support structured output are used (require_parameters), so a model none "
                    "of them serves that way keeps failing: try again later or pick another")
        return super()._advice(cls)

    def _error_in_body(self, data: Any, url: str):
        if isinstance(data, dict) and data.get("error"):
            info = error_info(data)
            upstream = ""
            metadata = data["error"].get("metadata") if isinstance(data["error"], dict) else None
            if isinstance(metadata, dict) and metadata.get("provider_name"):
                upstream = f" (upstream provider {metadata['provider_name']})"
            err = self._make_error(
                ProviderResponseError,
                f"HTTP 200 with error {info.code or ''}: {info.message}{upstream}",
                url=url, status=200,
            )
            err.detail = info
            return err
        return None
