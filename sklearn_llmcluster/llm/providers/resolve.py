"""Turn the estimator's ``provider`` parameter into a provider object.

A provider is given as an object, a plain callable, or a spec string
``"vendor[:model][@url]"``:

=====================================================  ==========================================
spec                                                   provider
=====================================================  ==========================================
``"ollama:qwen3:30b"``                                 :class:`OllamaProvider`
``"openai:gpt-4o-mini"``                               :class:`OpenAIProvider`
``"openrouter:anthropic/claude-3.5-haiku"``            :class:`OpenRouterProvider`
``"anthropic:claude-haiku-4-5"``                       :class:`AnthropicProvider`
``"triton:ensemble@http://host:8000"``                 :class:`TritonProvider`
``"openai-compatible:model@http://host:port/v1"``      :class:`OpenAICompatibleProvider`
``"llamacpp:/path/to/model.gguf"``                     :class:`LlamaCppProvider`
``"offline"``                                          ``None``: the offline engine
=====================================================  ==========================================

A spec without a model (``"ollama"``) or URL takes them from the settings
(``OLLAMA_MODEL``, ``OLLAMA_API_URL`` ...).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Mapping

import requests

from ..config import Settings, load_settings
from ...exceptions import ConfigurationError
from ._urls import join_url, redact_url
from .base import CallableProvider

__all__ = ["resolve_provider", "parse_provider_spec", "provider_from_spec", "VENDORS"]

logger = logging.getLogger("sklearn_llmcluster.llm.providers")

#: Vendor names a spec may start with.
VENDORS = ("ollama", "openai", "openai-compatible", "openrouter", "anthropic", "triton",
           "llamacpp", "offline")
_ALIASES = {
    "openai_compatible": "openai-compatible",
    "llama-cpp": "llamacpp",
    "llama_cpp": "llamacpp",
    "none": "offline",
}
_URL_RE = re.compile(r"@(https?://\S+)$", re.IGNORECASE)


_SCHEME_RE = re.compile(r"(?i)[a-z][a-z0-9+.\-]*://")


def mask_spec(spec: str) -> str:
    """``spec`` with the user info and secret query values of its URL masked.

    Works on any string, valid spec or not: everything from the first
    ``scheme://`` on is read as a URL (so quotes and parentheses in a
    password are masked too).

    Examples
    --------
    >>> mask_spec("openai-compatible:m@http://user:pw@10.0.0.2/v1?api_key=k")
    'openai-compatible:m@http://***@10.0.0.2/v1?api_key=***'
    """
    found = _SCHEME_RE.search(spec)
    return spec if found is None else spec[:found.start()] + redact_url(spec[found.start():])


def parse_provider_spec(spec: str) -> tuple[str, str | None, str | None]:
    """Split ``"vendor[:model][@url]"`` into its parts.

    Parameters
    ----------
    spec : str
        Such as ``"ollama:qwen3:30b"`` or ``"triton:ensemble@http://host:8000"``.
        Only the first ``:`` separates the vendor, so model tags keep theirs;
        the URL is recognised by ``@http://`` or ``@https://``.

    Returns
    -------
    vendor : str
        One of :data:`VENDORS`.
    model : str or None
        The model (the file path for ``llamacpp``), ``None`` when not given.
    url : str or None
        The server URL, ``None`` when not given.

    Raises
    ------
    ConfigurationError
        For an unknown vendor.

    Examples
    --------
    >>> parse_provider_spec("ollama:qwen3:30b")
    ('ollama', 'qwen3:30b', None)
    >>> parse_provider_spec("openai-compatible:qwen@http://10.0.0.2:8000/v1")
    ('openai-compatible', 'qwen', 'http://10.0.0.2:8000/v1')
    """
    text = spec.strip()
    vendor, _, rest = text.partition(":")
    vendor = vendor.strip().lower()
    vendor = _ALIASES.get(vendor, vendor)
    if vendor not in VENDORS:
        # The spec may hold a URL with credentials: shown masked.
        raise ConfigurationError(
            f"unknown provider {mask_spec(spec)!r}: a spec looks like "
            f"'vendor:model[@url]' with vendor one of {', '.join(VENDORS)}"
        )
    url = None
    if vendor != "llamacpp":
        match = _URL_RE.search(rest)
        if match:
            url = match.group(1).rstrip("/")
            rest = rest[: match.start()]
    model = rest.strip() or None
    return vendor, model, url


def _common(settings: Settings) -> dict[str, Any]:
    return {
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
        "connect_timeout": settings.connect_timeout,
        "read_timeout": settings.read_timeout,
        "max_retries": settings.max_retries,
        "max_retry_wait": settings.max_retry_wait,
    }


def _need(value: str | None, what: str, example: str) -> str:
    if not value:
        raise ConfigurationError(f"{what} is not set: use a spec like {example!r}")
    return value


def provider_from_spec(spec: str, settings: Settings | None = None):
    """Build the provider a spec string names.

    Parameters
    ----------
    spec : str
        ``"vendor[:model][@url]"``, see the module docstring.
    settings : Settings, optional
        Defaults for what the spec leaves out; read from the environment and
        ``.env`` when omitted.

    Returns
    -------
    LLMProvider or None
        ``None`` for ``"offline"``.

    Raises
    ------
    ConfigurationError
        For an unknown vendor or a missing model or URL.
    """
    settings = settings if settings is not None else load_settings()
    vendor, model, url = parse_provider_spec(spec)
    model = model or settings.model_for(vendor)
    common = _common(settings)
    if vendor == "offline":
        return None
    if vendor == "ollama":
        from .ollama import OllamaProvider

        return OllamaProvider(
            model, url or settings.ollama_api_url, num_ctx=settings.ollama_num_ctx,
            keep_alive=settings.ollama_keep_alive, embed_model=settings.ollama_embed_model,
            **common,
        )
    if vendor == "openai":
        from .openai import OpenAIProvider

        return OpenAIProvider(
            model, url or settings.openai_base_url, api_key=settings.openai_api_key,
            organization=settings.openai_organization, project=settings.openai_project,
            embed_model=settings.openai_embed_model, **common,
        )
    if vendor == "openai-compatible":
        from .openai import OpenAICompatibleProvider

        example = "openai-compatible:MODEL@http://host:8000/v1"
        return OpenAICompatibleProvider(
            _need(model, "openai-compatible model (OPENAI_COMPATIBLE_MODEL)", example),
            _need(url or settings.openai_compatible_base_url,
                  "openai-compatible URL (OPENAI_COMPATIBLE_BASE_URL)", example),
            api_key=settings.openai_compatible_api_key, **common,
        )
    if vendor == "openrouter":
        from .openrouter import OpenRouterProvider

        return OpenRouterProvider(
            model, url or settings.openrouter_base_url, api_key=settings.openrouter_api_key,
            app_url=settings.openrouter_app_url, app_title=settings.openrouter_app_title,
            **common,
        )
    if vendor == "anthropic":
        from .anthropic import AnthropicProvider

        return AnthropicProvider(
            model, url or settings.anthropic_base_url, api_key=settings.anthropic_api_key,
            **common,
        )
    if vendor == "triton":
        from .triton import TritonProvider

        return TritonProvider(
            model, url or settings.triton_url, backend=settings.triton_backend,
            prompt_template=settings.triton_prompt_template, **common,
        )
    from .llamacpp import LlamaCppProvider

    path = _need(model, "llamacpp model path (LLAMACPP_MODEL_PATH)", "llamacpp:/path/model.gguf")
    return LlamaCppProvider(
        os.path.expanduser(path), n_gpu_layers=settings.llamacpp_n_gpu_layers,
        temperature=settings.temperature, max_tokens=settings.max_tokens,
    )


def _probe_ollama(settings: Settings):
    """An Ollama provider when Ollama answers and has the model, else ``None``."""
    from .ollama import model_is_listed

    url = join_url(settings.ollama_api_url, "/api/tags")
    shown = redact_url(settings.ollama_api_url)
    model = settings.model_for("ollama")
    try:
        response = requests.get(url, timeout=settings.ollama_probe_timeout)
        tags = response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError):
        tags = None
    if tags is None:
        logger.debug("no Ollama at %s; using the offline engine", shown)
        return None
    if not model_is_listed(tags, model):
        logger.info("Ollama at %s has no model %r (run `ollama pull %s`); "
                    "using the offline engine", shown, model, model)
        return None
    logger.info("using Ollama at %s with model %r", shown, model)
    provider = provider_from_spec(f"ollama:{model}@{settings.ollama_api_url}", settings)
    provider._model_checked = True  # the probe just saw it
    return provider


def resolve_provider(
    provider: Any = None,
    *,
    env: Mapping[str, str] | None = None,
    dotenv_path: str | os.PathLike | None = None,
):
    """Return a provider object for ``provider``, or ``None`` for the offline engine.

    Parameters
    ----------
    provider : None, str, LLMProvider or callable
        An object with a ``complete`` method is used as is; a plain callable
        ``messages -> str`` is wrapped in :class:`CallableProvider`; a string
        is a spec (see :func:`parse_provider_spec`; ``"offline"`` gives
        ``None``). ``None`` means "not configured" and is resolved in this
        order:

        1. ``DEFAULT_LLM_PROVIDER`` from the environment or ``.env``, a
           vendor name (``"ollama"``) or a full spec (``"openai:gpt-4o"``);
        2. Ollama, when it answers at ``OLLAMA_API_URL`` within
           ``OLLAMA_PROBE_TIMEOUT`` (0.5 s) and has ``OLLAMA_MODEL`` pulled;
        3. ``None``: the offline engine.

        An API key alone never selects a remote vendor: texts leave the
        machine only when asked to.
    env : mapping, optional
        Variables to use instead of ``os.environ`` (then ``.env`` is read
        only when ``dotenv_path`` is given).
    dotenv_path : str or path-like, optional
        ``.env`` file; defaults to ``./.env``.

    Returns
    -------
    LLMProvider or None

    Raises
    ------
    ConfigurationError
        For an unknown spec, a bad setting, or an object that is not a provider.

    Examples
    --------
    >>> resolve_provider("offline") is None
    True
    >>> resolve_provider("ollama:qwen3:30b", env={})
    OllamaProvider(model='qwen3:30b', base_url='http://localhost:11434')
    """
    if provider is None:
        settings = load_settings(env=env, dotenv_path=dotenv_path)
        if settings.default_provider:
            return provider_from_spec(settings.default_provider, settings)
        return _probe_ollama(settings)
    if isinstance(provider, str):
        return provider_from_spec(provider, load_settings(env=env, dotenv_path=dotenv_path))
    if hasattr(provider, "complete"):
        return provider
    if callable(provider):
        return CallableProvider(provider)
    raise ConfigurationError(
        f"provider must be a spec string, an object with a complete() method or a callable, "
        f"got {type(provider).__name__}"
    )
