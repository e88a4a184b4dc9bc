"""A local GGUF model run in this process by llama-cpp-python (optional extra ``llamacpp``)."""

from __future__ import annotations

import os
import threading
from typing import Any

from ...exceptions import ContextLengthError, ModelNotFoundError, ProviderResponseError
from .base import LLMResponse

__all__ = ["LlamaCppProvider"]

_INSTALL_HINT = (
    "the 'llamacpp' provider needs llama-cpp-python: "
    'pip install "sklearn-llmcluster[llamacpp]" (from a checkout: pip install -e ".[llamacpp]"; '
    "or just pip install llama-cpp-python)"
)
# Tokens a chat template adds around each message (role markers, newlines).
_TEMPLATE_TOKENS_PER_MESSAGE = 8
_FIRST_LOAD_CAP = 32768


def _import_llama():
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return Llama


class LlamaCppProvider:
    """A GGUF model loaded in process with llama-cpp-python.

    The model is loaded on the first call, not at construction, and with a
    context window sized from the prompts (llama-cpp-python's default of 512
    tokens is too small for clustering prompts): the smallest power of two,
    at least ``min_ctx``, that holds the prompt and the answer. A longer
    prompt later reloads the model with a larger window, up to the model's
    training context. Calls are serialised with a lock, since a ``Llama``
    object is not thread-safe.

    JSON Schemas are enforced with ``response_format={"type": "json_object",
    "schema": ...}``, the only form llama-cpp-python constrains.

    Parameters
    ----------
    model_path : str or path-like
        Path of the ``.gguf`` file.
    n_ctx : int, optional
        Fixed context window; chosen from the prompts when omitted.
    min_ctx : int, default=2048
        Smallest window chosen automatically.
    n_gpu_layers : int, default=0
        Layers to offload to a GPU (``-1`` for all).
    n_threads : int, optional
        CPU threads; llama.cpp's default when omitted.
    seed : int, default=0
        Sampling seed, for repeatable answers.
    chat_format : str, optional
        llama-cpp-python chat format; the template in the GGUF file is used
        when omitted.
    temperature : float, optional
        Used when ``complete`` is called without one.
    max_tokens : int, optional
        Used when ``complete`` is called without one.
    default_max_tokens : int, default=1024
        Answer budget used to size the context when no ``max_tokens`` is set.
    repeat_penalty : float, default=1.1
        Penalty on repeated tokens, as llama.cpp's own server applies by
        default; without it small models at temperature 0 tend to loop
        (``[1, 2, 3, 4, ...`` until the token budget runs out).
    verbose : bool, default=False
        Let llama.cpp print its loading log.

    Examples
    --------
    >>> from sklearn_llmcluster.llm.providers import LlamaCppProvider
    >>> LlamaCppProvider("/models/qwen2.5-0.5b-instruct-q4_k_m.gguf").model
    'qwen2.5-0.5b-instruct-q4_k_m.gguf'
    """

    name = "llamacpp"
    is_remote = False

    def __init__(
        self,
        model_path: str | os.PathLike,
        *,
        n_ctx: int | None = None,
        min_ctx: int = 2048,
        n_gpu_layers: int = 0,
        n_threads: int | None = None,
        seed: int = 0,
        chat_format: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        default_max_tokens: int = 1024,
        repeat_penalty: float = 1.1,
        verbose: bool = False,
    ) -> None:
        self.model_path = os.path.abspath(os.fspath(model_path))
        self.model = os.path.basename(self.model_path)
        self.base_url = "file://" + self.model_path
        self.n_ctx = n_ctx
        self.min_ctx = int(min_ctx)
        self.n_gpu_layers = int(n_gpu_layers)
        self.n_threads = n_threads
        self.seed = seed
        self.chat_format = chat_format
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.default_max_tokens = int(default_max_tokens)
        self.repeat_penalty = float(repeat_penalty)
        self.verbose = verbose
        self._init_transient()

    def _init_transient(self) -> None:
        self._llm = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        # The loaded model (native memory) and the lock do not pickle; the
        # model is loaded again on first use.
        state = self.__dict__.copy()
        state.pop("_llm", None)
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._init_transient()

    def __deepcopy__(self, memo: dict) -> "LlamaCppProvider":
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        new.__setstate__(self.__getstate__())
        return new

    def __repr__(self) -> str:
        return f"LlamaCppProvider(model_path={self.model_path!r})"

    # -- model loading -----------------------------------------------------

    def _error(self, cls, what: str) -> Exception:
        return cls(f"llama.cpp model {self.model_path}: {what}",
                   provider=self.name, model=self.model, url=self.base_url)

    def _train_ctx(self, llm) -> int | None:
        metadata = getattr(llm, "metadata", None) or {}
        arch = metadata.get("general.architecture")
        value = metadata.get(f"{arch}.context_length") if arch else None
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    def _load(self, n_ctx: int):
        if not os.path.isfile(self.model_path):
            raise self._error(ModelNotFoundError,
                              "file not found: pass the path of a downloaded .gguf model")
        Llama = _import_llama()
        kwargs: dict[str, Any] = {
            "model_path": self.model_path,
            "n_ctx": n_ctx,
            "n_gpu_layers": self.n_gpu_layers,
            "seed": self.seed,
            "verbose": self.verbose,
        }
        if self.n_threads is not None:
            kwargs["n_threads"] = self.n_threads
        if self.chat_format is not None:
            kwargs["chat_format"] = self.chat_format
        return Llama(**kwargs)

    def _window_for(self, needed: int, train_ctx: int | None) -> int:
        if self.n_ctx:
            return int(self.n_ctx)
        size = self.min_ctx
        while size < needed:
            size *= 2
        return min(size, train_ctx) if train_ctx else size

    def _prompt_tokens(self, messages: list[dict]) -> int:
        text = "\n".join(str(m.get("content", "")) for m in messages)
        overhead = _TEMPLATE_TOKENS_PER_MESSAGE * (len(messages) + 1)
        if self._llm is None:
            # No tokenizer before the first load; 3 characters per token
            # over-estimates, so the first window is rarely too small.
            return len(text) // 3 + overhead
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=True)) + overhead

    def _model_for(self, messages: list[dict], max_tokens: int):
        if self._llm is None:
            # First load: the window comes from an estimate, capped until the
            # model's own training context is known.
            estimate = self._prompt_tokens(messages) + max_tokens
            self._llm = self._load(self._window_for(estimate, _FIRST_LOAD_CAP))
        needed = self._prompt_tokens(messages) + max_tokens
        train_ctx = self._train_ctx(self._llm)
        if train_ctx and needed > train_ctx:
            raise self._error(ContextLengthError,
                              f"prompt and answer need {needed} tokens, more than the "
                              f"model's {train_ctx}: lower batch_size or max_tokens")
        if self.n_ctx:
            return self._llm  # fixed window: llama.cpp reports any overflow
        window = self._llm.n_ctx()
        if needed <= window and (not train_ctx or window <= train_ctx):
            return self._llm
        self._llm = None  # free the old context before allocating the new one
        self._llm = self._load(self._window_for(needed, train_ctx))
        return self._llm

    # -- the provider protocol ----------------------------------------------

    def complete(
        self,
        messages: list[dict],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_schema: dict | None = None,
    ) -> LLMResponse:
        """Run the chat through the local model and return the answer with its usage.

        Parameters
        ----------
        messages : list of dict
            ``{"role", "content"}`` chat messages, rendered with the model's
            chat template.
        temperature : float, optional
            Sampling temperature; the provider's default (then
            llama-cpp-python's) when omitted.
        max_tokens : int, optional
            Longest answer; ``default_max_tokens`` when omitted.
        json_schema : dict, optional
            JSON Schema the answer is constrained to, through a grammar.

        Returns
        -------
        LLMResponse

        Raises
        ------
        ImportError
            When llama-cpp-python is not installed.
        ModelNotFoundError
            When the GGUF file does not exist.
        ContextLengthError
            When the prompt does not fit the model's context.
        """
        temperature = self.temperature if temperature is None else temperature
        max_tokens = self.max_tokens if max_tokens is None else max_tokens
        budget = int(max_tokens or self.default_max_tokens)
        kwargs: dict[str, Any] = {
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "max_tokens": budget,
            "seed": self.seed,
            "repeat_penalty": self.repeat_penalty,
        }
        if temperature is not None:
            kwargs["temperature"] = temperature
        if json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": json_schema}
        with self._lock:
            llm = self._model_for(messages, budget)
            try:
                out = llm.create_chat_completion(**kwargs)
            except ValueError as exc:
                if "context window" in str(exc):
                    raise self._error(ContextLengthError, str(exc)) from exc
                raise
        try:
            choice = out["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise self._error(ProviderResponseError, "completion has no message") from None
        usage = out.get("usage") or {}
        return LLMResponse(
            text,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            model=self.model,
            finish_reason=choice.get("finish_reason"),
        )
