"""Settings read from the environment and from a ``.env`` file.

The variable names are the ones users of the earlier ``llm_clustering``
library already have in their ``.env`` files (``DEFAULT_LLM_PROVIDER``,
``OLLAMA_API_URL``, ``OPENAI_API_KEY`` ...); ``env.example`` at the root of
the repository documents every one of them.

Values already in the environment win over the ``.env`` file, as with
python-dotenv. The file is parsed here in a few lines, so python-dotenv is not
a dependency.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from ..exceptions import ConfigurationError

__all__ = ["Settings", "load_settings", "read_dotenv", "get_env_value"]

_LINE_RE = re.compile(
    r"""^\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(?P<value>.*?)\s*$"""
)


def read_dotenv(path: str | os.PathLike) -> dict[str, str]:
    """Parse a ``.env`` file into a dict.

    Supports ``KEY=value``, ``export KEY=value``, blank lines, ``#`` comments,
    single- and double-quoted values (double quotes understand ``\\n``,
    ``\\t``, ``\\"`` and ``\\\\``) and `` # comment`` after an unquoted value.
    Lines that are not assignments are ignored, as python-dotenv does.

    Parameters
    ----------
    path : str or path-like
        File to read. A missing file gives an empty dict.

    Returns
    -------
    dict of str to str
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE_RE.match(line)
        if not match or line.lstrip().startswith("#"):
            continue
        values[match["key"]] = _unquote(match["value"])
    return values


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
        return re.sub(r"\\(.)", lambda m: escapes.get(m[1], "\\" + m[1]), raw[1:-1])
    # An unquoted value ends where an inline comment starts.
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def _merged_env(env: Mapping[str, str] | None, dotenv_path) -> dict[str, str]:
    if env is not None:
        # An explicit mapping is the whole environment; read a .env file only
        # when asked to, so tests and embedding applications stay hermetic.
        merged = read_dotenv(dotenv_path) if dotenv_path is not None else {}
        merged.update(env)
        return merged
    merged = read_dotenv(dotenv_path if dotenv_path is not None else Path.cwd() / ".env")
    merged.update(os.environ)
    return merged


def get_env_value(name: str, dotenv_path: str | os.PathLike | None = None) -> str | None:
    """Read one variable from the environment, else from the ``.env`` file.

    Providers use it to find their API key again after unpickling, since the
    key itself is never pickled.

    Parameters
    ----------
    name : str
        Variable name.
    dotenv_path : str or path-like, optional
        ``.env`` file to fall back to; defaults to ``./.env``.

    Returns
    -------
    str or None
        ``None`` when the variable is unset or empty.
    """
    value = os.environ.get(name)
    if not value:
        value = read_dotenv(dotenv_path or Path.cwd() / ".env").get(name)
    return value or None


def _strip_url(url: str) -> str:
    return url.strip().rstrip("/")


@dataclass(frozen=True)
class Settings:
    """Everything the providers can be configured with, after parsing.

    Build it with :func:`load_settings`; the attributes mirror the variables
    in ``env.example`` (``OLLAMA_MODEL`` -> ``ollama_model`` ...). API keys are
    left out of ``repr``.
    """

    default_provider: str | None = None
    default_model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 300.0
    max_retries: int = 3
    max_retry_wait: float = 60.0

    ollama_api_url: str = "http://localhost:11434"
    ollama_model: str = "qwen3:30b"
    ollama_embed_model: str | None = None
    ollama_num_ctx: int | None = None
    ollama_keep_alive: str | None = None
    ollama_probe_timeout: float = 0.5

    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str = "https://api.openai.com/v1"
    openai_model: str = "gpt-4o-mini"
    openai_embed_model: str = "text-embedding-3-small"
    openai_organization: str | None = None
    openai_project: str | None = None

    openai_compatible_api_key: str | None = field(default=None, repr=False)
    openai_compatible_base_url: str | None = None
    openai_compatible_model: str | None = None

    openrouter_api_key: str | None = field(default=None, repr=False)
    openrouter_base_url: str = "https://openrouter.ai/api/v1"
    openrouter_model: str = "openai/gpt-4o-mini"
    openrouter_app_url: str | None = None
    openrouter_app_title: str = "sklearn-llmcluster"

    anthropic_api_key: str | None = field(default=None, repr=False)
    anthropic_base_url: str = "https://api.anthropic.com"
    anthropic_model: str = "claude-haiku-4-5"

    triton_url: str = "http://localhost:8000"
    triton_model: str = "ensemble"
    triton_backend: str = "tensorrtllm"
    triton_prompt_template: str = "chatml"

    llamacpp_model_path: str | None = None
    llamacpp_n_gpu_layers: int = 0

    def model_for(self, vendor: str) -> str | None:
        """The configured model of ``vendor``.

        ``DEFAULT_MODEL`` applies to the vendor named by
        ``DEFAULT_LLM_PROVIDER`` when that vendor's own ``*_MODEL`` variable is
        not set, which is how the earlier library read it.
        """
        own = {
            "ollama": ("OLLAMA_MODEL", self.ollama_model),
            "openai": ("OPENAI_MODEL", self.openai_model),
            "openai-compatible": ("OPENAI_COMPATIBLE_MODEL", self.openai_compatible_model),
            "openrouter": ("OPENROUTER_MODEL", self.openrouter_model),
            "anthropic": ("ANTHROPIC_MODEL", self.anthropic_model),
            "triton": ("TRITON_MODEL", self.triton_model),
            "llamacpp": ("LLAMACPP_MODEL_PATH", self.llamacpp_model_path),
        }
        if vendor not in own:
            return None
        var, value = own[vendor]
        default_vendor = (self.default_provider or "").split(":", 1)[0].strip().lower()
        if self.default_model and default_vendor == vendor and var not in self._explicit:
            return self.default_model
        return value

    # Names of the variables that were actually set; filled by load_settings.
    _explicit: frozenset = field(default=frozenset(), repr=False, compare=False)


def _parse(values: Mapping[str, str], name: str, kind, default, minimum: float = 0):
    raw = values.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    raw = str(raw).strip()
    try:
        if kind is bool:
            lowered = raw.lower()
            if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError(raw)
            return lowered in {"1", "true", "yes", "on"}
        value = kind(raw)
    except ValueError:
        raise ConfigurationError(
            f"environment variable {name}={raw!r} is not a valid {kind.__name__}; "
            f"fix it in the environment or .env (see env.example)"
        ) from None
    if kind in (int, float) and value < minimum:
        raise ConfigurationError(
            f"environment variable {name}={raw!r} must be at least {minimum}"
        )
    return value


def _ollama_url(url: str) -> str:
    # The earlier library documented OLLAMA_API_URL with the /api suffix.
    url = _strip_url(url)
    return url[: -len("/api")] if url.endswith("/api") else url


def load_settings(
    env: Mapping[str, str] | None = None,
    dotenv_path: str | os.PathLike | None = None,
) -> Settings:
    """Read :class:`Settings` from the environment and a ``.env`` file.

    Parameters
    ----------
    env : mapping, optional
        Variables to use instead of ``os.environ``. When given, a ``.env``
        file is read only if ``dotenv_path`` is given too.
    dotenv_path : str or path-like, optional
        ``.env`` file to read; defaults to ``.env`` in the working directory
        when ``env`` is not given. Variables in the environment (or ``env``)
        win over the file.

    Returns
    -------
    Settings

    Raises
    ------
    ConfigurationError
        When a numeric variable does not parse.
    """
    v = _merged_env(env, dotenv_path)
    s = Settings()

    def text(name: str, default):
        value = v.get(name)
        return value.strip() if value and value.strip() else default

    default_provider = text("DEFAULT_LLM_PROVIDER", None)
    if default_provider and default_provider.lower() == "auto":
        default_provider = None
    triton_url = text("TRITON_URL", None) or text("TRITON_API_URL", s.triton_url)
    return Settings(
        default_provider=default_provider,
        default_model=text("DEFAULT_MODEL", None),
        temperature=_parse(v, "DEFAULT_TEMPERATURE", float, None),
        max_tokens=_parse(v, "DEFAULT_MAX_TOKENS", int, None),
        connect_timeout=_parse(v, "LLM_CONNECT_TIMEOUT", float, s.connect_timeout),
        read_timeout=_parse(v, "LLM_REQUEST_TIMEOUT", float, s.read_timeout),
        max_retries=_parse(v, "LLM_MAX_RETRIES", int, s.max_retries),
        max_retry_wait=_parse(v, "LLM_MAX_RETRY_WAIT", float, s.max_retry_wait),
        ollama_api_url=_ollama_url(text("OLLAMA_API_URL", s.ollama_api_url)),
        ollama_model=text("OLLAMA_MODEL", s.ollama_model),
        ollama_embed_model=text("OLLAMA_EMBED_MODEL", None),
        ollama_num_ctx=_parse(v, "OLLAMA_NUM_CTX", int, None),
        ollama_keep_alive=text("OLLAMA_KEEP_ALIVE", None),
        ollama_probe_timeout=_parse(v, "OLLAMA_PROBE_TIMEOUT", float, s.ollama_probe_timeout),
        openai_api_key=text("OPENAI_API_KEY", None),
        openai_base_url=_strip_url(text("OPENAI_BASE_URL", s.openai_base_url)),
        openai_model=text("OPENAI_MODEL", s.openai_model),
        openai_embed_model=text("OPENAI_EMBED_MODEL", s.openai_embed_model),
        openai_organization=text("OPENAI_ORG_ID", None),
        openai_project=text("OPENAI_PROJECT_ID", None),
        openai_compatible_api_key=text("OPENAI_COMPATIBLE_API_KEY", None),
        openai_compatible_base_url=text("OPENAI_COMPATIBLE_BASE_URL", None),
        openai_compatible_model=text("OPENAI_COMPATIBLE_MODEL", None),
        openrouter_api_key=text("OPENROUTER_API_KEY", None),
        openrouter_base_url=_strip_url(text("OPENROUTER_BASE_URL", s.openrouter_base_url)),
        openrouter_model=text("OPENROUTER_MODEL", s.openrouter_model),
        openrouter_app_url=text("OPENROUTER_APP_URL", None),
        openrouter_app_title=text("OPENROUTER_APP_TITLE", s.openrouter_app_title),
        anthropic_api_key=text("ANTHROPIC_API_KEY", None),
        anthropic_base_url=_strip_url(text("ANTHROPIC_BASE_URL", s.anthropic_base_url)),
        anthropic_model=text("ANTHROPIC_MODEL", s.anthropic_model),
        triton_url=_strip_url(triton_url),
        triton_model=text("TRITON_MODEL", s.triton_model),
        triton_backend=text("TRITON_BACKEND", s.triton_backend).lower(),
        triton_prompt_template=text("TRITON_PROMPT_TEMPLATE", s.triton_prompt_template),
        llamacpp_model_path=text("LLAMACPP_MODEL_PATH", None),
        llamacpp_n_gpu_layers=_parse(v, "LLAMACPP_N_GPU_LAYERS", int, 0, minimum=-1),
        _explicit=frozenset(k for k, val in v.items() if val and str(val).strip()),
    )
