"""OpenAI's Chat Completions API and the servers that copy it.

:class:`OpenAICompatibleProvider` covers vLLM, llama.cpp's server,
llama-cpp-python's server, LM Studio and Ollama's ``/v1``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ...exceptions import BadRequestError, ConfigurationError, ProviderResponseError
from ._http import ErrorInfo, HTTPProvider, first_int
from ._urls import join_url
from .base import LLMResponse

__all__ = ["OpenAIProvider", "OpenAICompatibleProvider", "schema_is_strict"]

_TOKEN_PARAMS = ("max_completion_tokens", "max_tokens")
_SCHEMA_FORMATS = ("json_schema", "json_object")


def schema_is_strict(schema: Any) -> bool:
    """Whether OpenAI's strict mode accepts ``schema`` as it is.

    Strict mode needs every object to list all its properties as required and
    to set ``additionalProperties: false``; a schema that does not is sent
    with ``strict: false`` instead of being rejected with a 400.
    """
    if isinstance(schema, list):
        return all(schema_is_strict(item) for item in schema)
    if not isinstance(schema, dict):
        return True
    if schema.get("type") == "object" or isinstance(schema.get("properties"), dict):
        properties = schema.get("properties") or {}
        if schema.get("additionalProperties", True) is not False:
            return False
        if set(schema.get("required") or []) != set(properties):
            return False
        if not all(schema_is_strict(sub) for sub in properties.values()):
            return False
    return all(
        schema_is_strict(value)
        for key, value in schema.items()
        if key != "properties" and isinstance(value, (dict, list))
    )


def _schema_name(schema: dict) -> str:
    title = schema.get("title") if isinstance(schema, dict) else None
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(title or ""))[:64]
    return name or "response"


class OpenAIProvider(HTTPProvider):
    """OpenAI's ``POST /chat/completions`` with JSON-Schema structured output.

    Parameters
    ----------
    model : str, default="gpt-4o-mini"
        Model name.
    base_url : str, default="https://api.openai.com/v1"
        API root; the path ``/chat/completions`` is appended.
    api_key : str, optional
        Defaults to ``OPENAI_API_KEY`` from the environment or ``.env``, read
        when first needed (and again after unpickling).
    token_param : {"auto", "max_completion_tokens", "max_tokens"}, default="auto"
        Field that carries ``max_tokens``. ``"auto"`` sends
        ``max_completion_tokens`` to ``*.openai.com`` (its reasoning models
        reject ``max_tokens``) and ``max_tokens`` elsewhere (vLLM, llama.cpp
        and Ollama read only that). A server that rejects the field with an
        "unsupported parameter" error gets the other one, once.
    strict : bool or "auto", default="auto"
        ``json_schema.strict``. ``"auto"`` is ``True`` only for schemas strict
        mode accepts (see :func:`schema_is_strict`).
    schema_format : {"json_schema", "json_object"}, default="json_schema"
        ``response_format`` layout: OpenAI's ``{"type": "json_schema",
        "json_schema": {...}}``, or ``{"type": "json_object", "schema": ...}``
        for servers that only read that (llama-cpp-python's server). A server
        that rejects ``json_schema`` naming ``response_format`` is switched
        to ``json_object`` for good.
    organization, project : str, optional
        Sent as ``OpenAI-Organization`` and ``OpenAI-Project``.
    embed_model : str, default="text-embedding-3-small"
        Model for :meth:`embed`.
    extra_body : dict, optional
        Extra top-level request fields (``{"top_p": 0.9}``).
    **kwargs
        Timeouts, retries, ``temperature``, ``max_tokens``, ``seed`` ... as
        in :class:`~sklearn_llmcluster.llm.providers._http.HTTPProvider`.

    Examples
    --------
    >>> from sklearn_llmcluster.llm.providers import OpenAIProvider
    >>> OpenAIProvider("gpt-4o-mini", api_key="sk-test")
    OpenAIProvider(model='gpt-4o-mini', base_url='https://api.openai.com/v1')
    """

    name = "openai"
    vendor = "OpenAI"
    api_key_env = "OPENAI_API_KEY"
    requires_api_key = True

    def __init__(
        self,
        model: str = "gpt-4o-mini",
        base_url: str = "https://api.openai.com/v1",
        *,
        api_key: str | None = None,
        token_param: str = "auto",
        strict: bool | str = "auto",
        schema_format: str = "json_schema",
        organization: str | None = None,
        project: str | None = None,
        embed_model: str | None = "text-embedding-3-small",
        extra_body: dict | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model, base_url, api_key=api_key, **kwargs)
        if token_param == "auto":
            host = (urlsplit(self.base_url).hostname or "").lower()
            token_param = "max_completion_tokens" if host.endswith("openai.com") else "max_tokens"
        if token_param not in _TOKEN_PARAMS:
            raise ConfigurationError(
                f"token_param must be 'auto' or one of {_TOKEN_PARAMS}, got {token_param!r}"
            )
        if schema_format not in _SCHEMA_FORMATS:
            raise ConfigurationError(
                f"schema_format must be one of {_SCHEMA_FORMATS}, got {schema_format!r}"
            )
        self.token_param = token_param
        self.strict = strict
        self.schema_format = schema_format
        self.organization = organization
        self.project = project
        self.embed_model = embed_model
        self.extra_body = dict(extra_body or {})
        self._dropped: set[str] = set()
        #: Whether an answer came from llama.cpp's server (it sends "timings").
        self._seen_llamacpp = False

    def _headers(self, url: str) -> dict[str, str]:
        headers = super()._headers(url)
        key = self._require_api_key(url) if self.requires_api_key else self._api_key_value()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if self.organization:
            headers["OpenAI-Organization"] = self.organization
        if self.project:
            headers["OpenAI-Project"] = self.project
        return headers

    def _classify(self, status: int, info: ErrorInfo):
        # llama-cpp-python's server answers a response_format it cannot read
        # with a 500; it is a bad request, and retrying cannot fix it.
        if status == 500 and "response_format" in info.message:
            return BadRequestError
        return super()._classify(status, info)

    def _response_format(self, schema: dict) -> dict:
        if self.schema_format == "json_object":
            return {"type": "json_object", "schema": schema}
        strict = schema_is_strict(schema) if self.strict == "auto" else bool(self.strict)
        return {
            "type": "json_schema",
            "json_schema": {"name": _schema_name(schema), "schema": schema, "strict": strict},
        }

    def _payload(self, messages, temperature, max_tokens, json_schema) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
        }
        if temperature is not None:
            payload["temperature"] = temperature
        if max_tokens is not None:
            payload[self.token_param] = max_tokens
        if self.seed is not None:
            payload["seed"] = self.seed
        if json_schema is not None:
            payload["response_format"] = self._response_format(json_schema)
        if self._sends_cache_prompt():
            payload["cache_prompt"] = True
        payload.update(self.extra_body)
        for name in self._dropped:
            payload.pop(name, None)
        return payload

    def _sends_cache_prompt(self) -> bool:
        """Whether requests ask llama.cpp's server to reuse its cached prompt prefix.

        OpenAI rejects fields it does not know, so only the compatible
        provider sends ``cache_prompt`` (see its ``cache_prompt`` parameter).
        """
        return False

    def _adapt(self, payload: dict, exc: BadRequestError, adapted: set[str]) -> bool:
        """Fix ``payload`` after an "unsupported parameter" 400; ``False`` if it cannot.

        Each parameter is adapted at most once per call (``adapted``), so two
        fields rejected in turn cannot loop.
        """
        detail = getattr(exc, "detail", None)
        message = str(getattr(detail, "message", "") or "")
        param = (getattr(detail, "param", None) or "").strip()
        if not param:
            quoted = re.search(r"unsupported (?:parameter|value): '([\w.]+)'", message, re.I)
            param = quoted.group(1) if quoted else ""
        text = f"{getattr(detail, 'code', '')} {message}".lower()
        fmt = payload.get("response_format") or {}
        rejects_layout = "json_object" in text or re.search(
            r"json_schema.{0,40}(not supported|unsupported)", text)
        if ("response_format" in text and rejects_layout and fmt.get("type") == "json_schema"
                and "response_format" not in adapted):
            adapted.add("response_format")
            self.schema_format = "json_object"
            payload["response_format"] = {"type": "json_object",
                                          "schema": fmt["json_schema"]["schema"]}
            return True
        if "unsupported" not in text or param not in payload or param in adapted:
            return False
        adapted.add(param)
        if param in _TOKEN_PARAMS:
            other = _TOKEN_PARAMS[1 - _TOKEN_PARAMS.index(param)]
            if other in payload:
                return False
            payload[other] = payload.pop(param)
            adapted.add(other)
            self.token_param = other
            return True
        if param in ("temperature", "seed", "top_p"):
            # Reasoning models accept only their default sampling.
            payload.pop(param)
            self._dropped.add(param)
            return True
        return False

    def complete(
        self,
        messages: list[dict],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_schema: dict | None = None,
    ) -> LLMResponse:
        """Send a chat to ``/chat/completions`` and return the answer with its usage.

        Parameters
        ----------
        messages : list of dict
            ``{"role", "content"}`` chat messages.
        temperature : float, optional
            Sampling temperature; the provider's default when omitted.
        max_tokens : int, optional
            Longest answer, sent as :attr:`token_param`.
        json_schema : dict, optional
            JSON Schema the answer must follow, sent as ``response_format``.

        Returns
        -------
        LLMResponse

        Raises
        ------
        ProviderError
            A subclass naming what went wrong (see :mod:`sklearn_llmcluster.exceptions`).
        """
        temperature = self.temperature if temperature is None else temperature
        max_tokens = self.max_tokens if max_tokens is None else max_tokens
        payload = self._payload(messages, temperature, max_tokens, json_schema)
        adapted: set[str] = set()
        while True:
            try:
                data, retries = self._send("POST", "/chat/completions", payload)
                break
            except BadRequestError as exc:
                if not self._adapt(payload, exc, adapted):
                    raise
        return self._parse_chat(data, retries)

    def _parse_chat(self, data: Any, retries: int) -> LLMResponse:
        url = self._url("/chat/completions")
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices or not isinstance(choices[0], dict):
            raise self._make_error(ProviderResponseError, "answer has no choices",
                                   url=url, status=200)
        choice = choices[0]
        message = choice.get("message") or {}
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if content is None and message.get("refusal"):
            err = self._make_error(
                ProviderResponseError, f"the model refused: {message['refusal']}", url=url,
                status=200, advice="the text was refused by the model's safety rules",
            )
            err.retryable = False
            raise err
        usage = data.get("usage") or {}
        details = usage.get("prompt_tokens_details")
        timings = data.get("timings")
        cached = first_int(details.get("cached_tokens")) if isinstance(details, dict) else None
        if isinstance(timings, dict):
            # Only llama.cpp's server sends "timings"; "cache_n" is the prompt
            # it reused from its cache (older versions report it nowhere else).
            self._seen_llamacpp = True
            if cached is None:
                cached = first_int(timings.get("cache_n"))
        return LLMResponse(
            content or "",
            prompt_tokens=first_int(usage.get("prompt_tokens")),
            completion_tokens=first_int(usage.get("completion_tokens")),
            retries=retries,
            model=data.get("model") or self.model,
            finish_reason=choice.get("finish_reason"),
            cached_prompt_tokens=cached,
        )

    def embed(self, texts: list[str], *, batch_size: int = 256) -> np.ndarray:
        """Embed ``texts`` through ``/embeddings``.

        Parameters
        ----------
        texts : list of str
            Texts to embed.
        batch_size : int, default=256
            Texts per request.

        Returns
        -------
        ndarray of shape (len(texts), dim)
        """
        def parse(data: Any, chunk: list[str]) -> list:
            items = data.get("data") if isinstance(data, dict) else None
            if not isinstance(items, list) or len(items) != len(chunk):
                raise self._make_error(
                    ProviderResponseError, f"expected {len(chunk)} embeddings",
                    url=self._url("/embeddings"), status=200,
                )
            items = sorted(items, key=lambda item: item.get("index", 0))
            return [item["embedding"] for item in items]

        return self._embed_in_batches("/embeddings", texts, batch_size,
                                      self.embed_model or self.model, parse)


class OpenAICompatibleProvider(OpenAIProvider):
    """Any server speaking OpenAI's Chat Completions: vLLM, llama.cpp server, LM Studio, Ollama /v1.

    Same as :class:`OpenAIProvider`, except that the base URL is required, the
    API key is optional (``OPENAI_COMPATIBLE_API_KEY``, never
    ``OPENAI_API_KEY``, so an OpenAI key is not sent to another server), and
    ``max_tokens`` is sent, the only field these servers read.

    Parameters
    ----------
    model : str
        Model name the server serves (``vllm serve`` name, LM Studio id ...).
    base_url : str
        API root such as ``http://gpu-box:8000/v1``; ``/v1`` is appended
        when the URL has no path.
    embed_model : str, optional
        Model for :meth:`embed`; defaults to ``model``.
    cache_prompt : bool or "auto", default="auto"
        Send llama.cpp's ``"cache_prompt": true``, so its server reuses the
        cached prefix shared with the previous prompt (the instructions and
        the cluster list) instead of evaluating it again. ``"auto"`` sends
        it once an answer shows the server is llama.cpp's (it reports
        ``timings``): other servers are not sent a field they do not know.
        ``True`` always sends it (vLLM and Ollama ignore unknown fields).
    **kwargs
        As for :class:`OpenAIProvider`.

    Examples
    --------
    >>> from sklearn_llmcluster.llm.providers import OpenAICompatibleProvider
    >>> p = OpenAICompatibleProvider("qwen2.5-7b", "http://127.0.0.1:8000")
    >>> p.base_url, p.token_param, p.is_remote
    ('http://127.0.0.1:8000/v1', 'max_tokens', False)
    """

    name = "openai-compatible"
    vendor = "OpenAI-compatible server"
    api_key_env = "OPENAI_COMPATIBLE_API_KEY"
    requires_api_key = False

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        token_param: str = "max_tokens",
        embed_model: str | None = None,
        cache_prompt: bool | str = "auto",
        **kwargs: Any,
    ) -> None:
        if base_url and urlsplit(base_url).path.strip("/") == "":
            base_url = join_url(base_url.rstrip("/"), "/v1")
        if cache_prompt not in ("auto", True, False):
            raise ConfigurationError(
                f"cache_prompt must be 'auto', True or False, got {cache_prompt!r}")
        super().__init__(model, base_url, token_param=token_param, embed_model=embed_model,
                         **kwargs)
        self.cache_prompt = cache_prompt

    def _sends_cache_prompt(self) -> bool:
        # getattr: a provider pickled before these existed.
        setting = getattr(self, "cache_prompt", "auto")
        if setting == "auto":
            return getattr(self, "_seen_llamacpp", False)
        return bool(setting)
