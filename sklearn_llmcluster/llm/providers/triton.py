"""NVIDIA Triton Inference Server, through its generate extension."""

from __future__ import annotations

import json
from typing import Any, Callable

from ...exceptions import (
    ConfigurationError,
    ModelNotFoundError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from ._http import ErrorInfo, HTTPProvider, first_int
from .base import LLMResponse

__all__ = ["TritonProvider", "PROMPT_TEMPLATES", "render_prompt"]


def _chatml(messages: list[dict]) -> str:
    parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
    return "".join(parts) + "<|im_start|>assistant\n"


def _llama3(messages: list[dict]) -> str:
    # No <|begin_of_text|>: the server's tokenizer adds the BOS token itself.
    parts = [
        f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content']}<|eot_id|>"
        for m in messages
    ]
    return "".join(parts) + "<|start_header_id|>assistant<|end_header_id|>\n\n"


def _plain(messages: list[dict]) -> str:
    parts = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n\n".join(parts) + "\n\nAssistant:"


#: Built-in chat templates, by name: ChatML (Qwen, SmolLM, many fine-tunes),
#: Llama 3, and a plain "Role: text" layout for base models.
PROMPT_TEMPLATES: dict[str, Callable[[list[dict]], str]] = {
    "chatml": _chatml,
    "llama3": _llama3,
    "plain": _plain,
}


def render_prompt(messages: list[dict], template: str | Callable[[list[dict]], str]) -> str:
    """Render chat ``messages`` to one prompt string.

    Parameters
    ----------
    messages : list of dict
        ``{"role", "content"}`` messages.
    template : str or callable
        A name in :data:`PROMPT_TEMPLATES`, or a function ``messages -> str``.

    Returns
    -------
    str
    """
    if callable(template):
        return template(messages)
    try:
        return PROMPT_TEMPLATES[template](messages)
    except KeyError:
        raise ConfigurationError(
            f"unknown prompt template {template!r}; use one of {sorted(PROMPT_TEMPLATES)} "
            "or a function messages -> str"
        ) from None


class TritonProvider(HTTPProvider):
    """A model on NVIDIA Triton, through ``POST /v2/models/{model}/generate``.

    Chat messages are rendered into one prompt with ``prompt_template``.
    Two backends lay the request out differently:

    - ``"tensorrtllm"`` (the TensorRT-LLM ``ensemble``): sampling fields are
      top-level inputs, and a schema is enforced by guided decoding
      (``guided_decoding_guide_type: "json_schema"``; the model config needs
      ``guided_decoding_backend: xgrammar``).
    - ``"vllm"`` (Triton's vLLM backend): sampling fields go under
      ``parameters``, the schema under ``parameters.structured_outputs`` (as
      a JSON string), the prompt echo is turned off with
      ``exclude_input_in_output`` and token counts are requested.

    Readiness is checked once, before the first request, with
    ``/v2/health/ready`` and ``/v2/models/{model}/ready``.

    Parameters
    ----------
    model : str, default="ensemble"
        Model name in the Triton model repository.
    base_url : str, default="http://localhost:8000"
        Triton's HTTP endpoint.
    backend : {"tensorrtllm", "vllm"}, default="tensorrtllm"
        Request layout, see above.
    prompt_template : str or callable, default="chatml"
        Name in :data:`PROMPT_TEMPLATES` or a function ``messages -> str``;
        pick the one the model was trained with.
    structured_output : bool, default=True
        Send the schema for constrained decoding; turn off for a TensorRT-LLM
        model built without guided decoding (the schema is in the prompt too).
    default_max_tokens : int, default=2048
        ``max_tokens`` when neither the call nor the provider sets one (vLLM
        would otherwise stop after 16 tokens).
    model_version : str, optional
        Pin a model version.
    **kwargs
        Timeouts, retries, ``temperature``, ``max_tokens``, ``seed`` ... as
        in :class:`~sklearn_llmcluster.llm.providers._http.HTTPProvider`.

    Examples
    --------
    >>> from sklearn_llmcluster.llm.providers import TritonProvider
    >>> TritonProvider("vllm_model", "http://10.0.0.5:8000", backend="vllm").is_remote
    False
    """

    name = "triton"
    vendor = "Triton"
    _checks = ("_ready",)

    def __init__(
        self,
        model: str = "ensemble",
        base_url: str = "http://localhost:8000",
        *,
        backend: str = "tensorrtllm",
        prompt_template: str | Callable[[list[dict]], str] = "chatml",
        structured_output: bool = True,
        default_max_tokens: int = 2048,
        model_version: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model, base_url, **kwargs)
        backend = {"trtllm": "tensorrtllm", "tensorrt-llm": "tensorrtllm"}.get(backend, backend)
        if backend not in ("tensorrtllm", "vllm"):
            raise ConfigurationError(
                f"Triton backend must be 'tensorrtllm' or 'vllm', got {backend!r}"
            )
        if not callable(prompt_template) and prompt_template not in PROMPT_TEMPLATES:
            render_prompt([], prompt_template)  # raises the ConfigurationError
        self.backend = backend
        self.prompt_template = prompt_template
        self.structured_output = structured_output
        self.default_max_tokens = int(default_max_tokens)
        self.model_version = model_version
        self._ready = False

    def _model_path(self) -> str:
        path = f"/v2/models/{self.model}"
        return path + (f"/versions/{self.model_version}" if self.model_version else "")

    def _classify(self, status: int, info: ErrorInfo):
        text = info.message.lower()
        if status == 404 or (status == 400 and "unknown model" in text):
            return ModelNotFoundError
        return super()._classify(status, info)

    def _advice(self, cls) -> str:
        if cls is ModelNotFoundError:
            return ("the model is not loaded: check the model repository and "
                    "`curl <url>/v2/repository/index`")
        return super()._advice(cls)

    def _ensure_ready(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            response, _ = self._send("GET", "/v2/health/ready", raw=True)
            if response.status_code != 200:
                raise self._make_error(
                    ProviderUnavailableError,
                    f"server not ready (GET /v2/health/ready answered {response.status_code})",
                    url=self._url("/v2/health/ready"), status=response.status_code,
                )
            response, _ = self._send("GET", self._model_path() + "/ready", raw=True)
            if response.status_code != 200:
                raise self._make_error(
                    ModelNotFoundError,
                    f"model '{self.model}' not ready (HTTP {response.status_code})",
                    url=self._url(self._model_path() + "/ready"), status=response.status_code,
                )
            self._ready = True

    def _payload(self, prompt: str, temperature, max_tokens, json_schema) -> dict[str, Any]:
        max_tokens = int(max_tokens or self.default_max_tokens)
        schema = json_schema if self.structured_output else None
        if self.backend == "vllm":
            parameters: dict[str, Any] = {"stream": False, "max_tokens": max_tokens}
            if temperature is not None:
                parameters["temperature"] = temperature
            if self.seed is not None:
                parameters["seed"] = self.seed
            if schema is not None:
                parameters["structured_outputs"] = json.dumps({"json": schema})
            return {
                "text_input": prompt,
                "parameters": parameters,
                "exclude_input_in_output": True,
                "return_num_input_tokens": True,
                "return_num_output_tokens": True,
                "return_finish_reason": True,
            }
        payload: dict[str, Any] = {
            "text_input": prompt,
            "max_tokens": max_tokens,
            "bad_words": "",
            "stop_words": "",
        }
        if temperature is not None:
            payload["temperature"] = temperature
        if self.seed is not None:
            payload["random_seed"] = self.seed
        if schema is not None:
            payload["guided_decoding_guide_type"] = "json_schema"
            payload["guided_decoding_guide"] = json.dumps(schema)
        return payload

    def complete(
        self,
        messages: list[dict],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_schema: dict | None = None,
    ) -> LLMResponse:
        """Render ``messages``, call ``/generate`` and return the answer.

        Parameters
        ----------
        messages : list of dict
            ``{"role", "content"}`` chat messages.
        temperature : float, optional
            Sampling temperature; the provider's default when omitted.
        max_tokens : int, optional
            Longest answer; ``default_max_tokens`` when omitted.
        json_schema : dict, optional
            JSON Schema for constrained decoding (see the class docstring).

        Returns
        -------
        LLMResponse
            Token counts are set on the vLLM backend, ``None`` on TensorRT-LLM
            (its generate response has none).

        Raises
        ------
        ProviderError
            A subclass naming what went wrong (see :mod:`sklearn_llmcluster.exceptions`).
        """
        self._ensure_ready()
        temperature = self.temperature if temperature is None else temperature
        max_tokens = self.max_tokens if max_tokens is None else max_tokens
        prompt = render_prompt(messages, self.prompt_template)
        payload = self._payload(prompt, temperature, max_tokens, json_schema)
        path = self._model_path() + "/generate"
        data, retries = self._send("POST", path, payload)
        text = data.get("text_output") if isinstance(data, dict) else None
        if isinstance(text, list) and len(text) == 1:
            text = text[0]
        if not isinstance(text, str):
            raise self._make_error(ProviderResponseError, "answer has no text_output",
                                   url=self._url(path), status=200)
        if text.startswith(prompt):
            # Backends that ignore exclude_input_in_output echo the prompt.
            text = text[len(prompt):]
        finish = data.get("finish_reason")
        if isinstance(finish, list):
            finish = finish[0] if finish else None
        return LLMResponse(
            text,
            prompt_tokens=first_int(data.get("num_input_tokens")),
            completion_tokens=first_int(data.get("num_output_tokens")),
            retries=retries,
            model=data.get("model_name") or self.model,
            finish_reason=finish,
        )
