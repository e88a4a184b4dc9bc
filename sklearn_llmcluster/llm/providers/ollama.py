"""Ollama's native API: ``POST /api/chat``, ``POST /api/embed``, ``GET /api/tags``."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from ...exceptions import (
    BadRequestError,
    ModelNotFoundError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from ._http import ErrorInfo, HTTPProvider, first_int
from .base import LLMResponse

__all__ = ["OllamaProvider", "model_is_listed"]

# Context sizes tried in turn; the window only grows, because every change of
# num_ctx makes Ollama reload the model.
_NUM_CTX_STEPS = (8192, 16384, 32768, 65536, 131072, 262144)


def model_is_listed(tags: Any, model: str) -> bool:
    """Whether ``GET /api/tags`` output lists ``model`` (``qwen3`` matches ``qwen3:latest``)."""
    wanted = {model, model if ":" in model else f"{model}:latest"}
    models = tags.get("models", []) if isinstance(tags, dict) else []
    for entry in models:
        if isinstance(entry, dict) and {entry.get("name"), entry.get("model")} & wanted:
            return True
    return False


class OllamaProvider(HTTPProvider):
    """A model served by Ollama, through its native chat API.

    Answers are constrained by Ollama's structured outputs (``format`` set to
    the JSON Schema; Ollama 0.5 or later) and thinking is switched off for
    reasoning models (``think: false``; Ollama 0.9 or later), so a reasoning
    model such as ``qwen3:30b`` answers directly.

    Parameters
    ----------
    model : str, default="qwen3:30b"
        Model tag, as in ``ollama list``.
    base_url : str, default="http://localhost:11434"
        Ollama server; a trailing ``/api`` is removed.
    num_ctx : int, optional
        Context window. By default it is chosen from the prompt size (8192
        tokens at least, then doubling), so long prompts are not silently
        truncated by Ollama's smaller default window.
    think : bool or str or None, default=False
        Sent as ``think``. ``False`` is dropped for good, with no error, when
        the model does not support thinking; ``None`` never sends it.
    keep_alive : str, optional
        How long Ollama keeps the model loaded (``"5m"``, ``"1h"``).
    embed_model : str, optional
        Model for :meth:`embed`; defaults to ``model``.
    check_model : bool, default=True
        Check once, before the first chat, that the model is pulled, so a
        missing model fails with ``ollama pull`` advice instead of per call.
    **kwargs
        Timeouts, retries, ``temperature``, ``max_tokens``, ``seed`` ... as
        in :class:`~sklearn_llmcluster.llm.providers._http.HTTPProvider`.

    Examples
    --------
    >>> from sklearn_llmcluster.llm.providers import OllamaProvider
    >>> provider = OllamaProvider("qwen3:30b")
    >>> provider.is_remote
    False
    """

    name = "ollama"
    vendor = "Ollama"
    _checks = ("_model_checked",)

    def __init__(
        self,
        model: str = "qwen3:30b",
        base_url: str = "http://localhost:11434",
        *,
        num_ctx: int | None = None,
        think: bool | str | None = False,
        keep_alive: str | None = None,
        embed_model: str | None = None,
        check_model: bool = True,
        **kwargs: Any,
    ) -> None:
        base_url = (base_url or "").rstrip("/")
        path = urlsplit(base_url).path.rstrip("/")
        if path.endswith("/api"):
            # On the path, not the whole URL: a query string may follow it.
            base_url = urlunsplit(urlsplit(base_url)._replace(path=path[: -len("/api")]))
        super().__init__(model, base_url, **kwargs)
        self.num_ctx = num_ctx
        self.think = think
        self.keep_alive = keep_alive
        self.embed_model = embed_model
        self.check_model = check_model
        self._model_checked = False
        self._auto_num_ctx = 0

    def _classify(self, status: int, info: ErrorInfo):
        if status == 404 or (status == 400 and "not found" in info.message.lower()
                             and "model" in info.message.lower()):
            return ModelNotFoundError
        return super()._classify(status, info)

    def _advice(self, cls) -> str:
        if cls is ProviderUnavailableError:
            return "is Ollama running? Start it with `ollama serve` or check OLLAMA_API_URL"
        return super()._advice(cls)

    def _not_found(self, model: str, url: str, status: int | None = None) -> ModelNotFoundError:
        err = ModelNotFoundError(
            f"model '{model}' not found on Ollama at {self.base_url}: "
            f"run `ollama pull {model}`",
            provider=self.name, model=model, url=url, status_code=status,
        )
        return err

    def _ensure_model(self) -> None:
        if not self.check_model or self._model_checked:
            return
        with self._lock:
            if self._model_checked:
                return
            tags, _ = self._send("GET", "/api/tags")
            if not model_is_listed(tags, self.model):
                raise self._not_found(self.model, self._url("/api/tags"))
            self._model_checked = True

    def _context_size(self, messages: list[dict], max_tokens: int | None) -> int:
        if self.num_ctx:
            return int(self.num_ctx)
        # About 3 characters per token is a safe over-estimate for prompts
        # in European languages; the margin covers the chat template.
        needed = sum(len(str(m.get("content", ""))) for m in messages) // 3
        needed += (max_tokens or 2048) + 256
        size = next((s for s in _NUM_CTX_STEPS if s >= needed), _NUM_CTX_STEPS[-1])
        self._auto_num_ctx = max(self._auto_num_ctx, size)
        return self._auto_num_ctx

    def complete(
        self,
        messages: list[dict],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_schema: dict | None = None,
    ) -> LLMResponse:
        """Send a chat to ``/api/chat`` and return the answer with its usage.

        Parameters
        ----------
        messages : list of dict
            ``{"role", "content"}`` chat messages.
        temperature : float, optional
            Sampling temperature; the provider's default when omitted.
        max_tokens : int, optional
            Sent as ``options.num_predict``.
        json_schema : dict, optional
            JSON Schema the answer must follow, sent as ``format``.

        Returns
        -------
        LLMResponse

        Raises
        ------
        ProviderError
            A subclass naming what went wrong (see :mod:`sklearn_llmcluster.exceptions`).
        """
        self._ensure_model()
        temperature = self.temperature if temperature is None else temperature
        max_tokens = self.max_tokens if max_tokens is None else max_tokens
        options: dict[str, Any] = {"num_ctx": self._context_size(messages, max_tokens)}
        if temperature is not None:
            options["temperature"] = temperature
        if max_tokens is not None:
            options["num_predict"] = max_tokens
        if self.seed is not None:
            options["seed"] = self.seed
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "stream": False,
            "options": options,
        }
        if json_schema is not None:
            payload["format"] = json_schema
        if self.think is not None:
            payload["think"] = self.think
        if self.keep_alive is not None:
            payload["keep_alive"] = self.keep_alive
        try:
            data, retries = self._send("POST", "/api/chat", payload)
        except ModelNotFoundError as exc:
            raise self._not_found(self.model, exc.url, exc.status_code) from None
        except BadRequestError as exc:
            # Non-reasoning models reject `think` with a 400; they need no
            # switch-off, so stop sending it and ask again.
            said = str(getattr(getattr(exc, "detail", None), "message", "")).lower()
            if "think" not in payload or "thinking" not in said:
                raise
            self.think = None
            del payload["think"]
            data, retries = self._send("POST", "/api/chat", payload)
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise self._make_error(ProviderResponseError, "answer has no message.content",
                                   url=self._url("/api/chat"), status=200)
        return LLMResponse(
            message["content"],
            prompt_tokens=first_int(data.get("prompt_eval_count"), 0),
            completion_tokens=first_int(data.get("eval_count"), 0),
            retries=retries,
            model=data.get("model") or self.model,
            finish_reason=data.get("done_reason"),
        )

    def _error_in_body(self, data: Any, url: str):
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            return self._make_error(ProviderResponseError, f"error in answer: {data['error']}",
                                    url=url, status=200)
        return None

    def embed(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """Embed ``texts`` through ``/api/embed``.

        Parameters
        ----------
        texts : list of str
            Texts to embed.
        batch_size : int, default=64
            Texts per request.

        Returns
        -------
        ndarray of shape (len(texts), dim)
        """
        model = self.embed_model or self.model

        def parse(data: Any, chunk: list[str]) -> list:
            vectors = data.get("embeddings") if isinstance(data, dict) else None
            if not isinstance(vectors, list) or len(vectors) != len(chunk):
                raise self._make_error(
                    ProviderResponseError,
                    f"expected {len(chunk)} embeddings, got {json.dumps(data)[:200]}",
                    url=self._url("/api/embed"), status=200,
                )
            return vectors

        try:
            return self._embed_in_batches("/api/embed", texts, batch_size, model, parse)
        except ModelNotFoundError as exc:
            raise self._not_found(model, exc.url, exc.status_code) from None
