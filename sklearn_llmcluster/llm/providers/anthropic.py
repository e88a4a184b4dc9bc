"""Anthropic's Messages API: ``POST /v1/messages``."""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from typing import Any

from ...exceptions import BadRequestError, ConfigurationError, ProviderResponseError
from ._http import HTTPProvider, first_int
from .base import LLMResponse

__all__ = ["AnthropicProvider", "supports_output_format"]

ANTHROPIC_VERSION = "2023-06-01"
_TOOL_NAME = "respond"
_EPHEMERAL = {"type": "ephemeral"}
#: Prompt prefixes remembered to tell a repeated cluster list from a new one.
_PREFIXES_KEPT = 256
_MODEL_VERSION_RE = re.compile(r"claude-(?:opus|sonnet|haiku)-(\d+)(?:-(\d{1,2}))?(?:\b|-|$)")


def supports_output_format(model: str) -> bool:
    """Whether ``model`` has native structured output (``output_config.format``).

    Claude 4.5 and later (Opus, Sonnet, Haiku) do; older models get the
    forced tool call.
    """
    match = _MODEL_VERSION_RE.search(model.lower())
    if not match:
        return False
    major = int(match.group(1))
    minor = int(match.group(2)) if match.group(2) else 0
    return (major, minor) >= (4, 5)


class AnthropicProvider(HTTPProvider):
    """Claude through Anthropic's Messages API.

    System messages go to the top-level ``system`` field and ``max_tokens``
    is always sent (the API requires it). Structured output uses
    ``output_config.format`` on models that have it, and otherwise a forced
    tool call whose ``input_schema`` is the schema; a model that rejects
    ``output_config`` is switched to the tool call for good.

    Parameters
    ----------
    model : str, default="claude-haiku-4-5"
        Model name or alias.
    base_url : str, default="https://api.anthropic.com"
        API root; ``/v1/messages`` is appended.
    api_key : str, optional
        Defaults to ``ANTHROPIC_API_KEY``, read when first needed.
    structured_output : {"auto", "output_format", "tool"}, default="auto"
        How a JSON Schema is enforced; ``"auto"`` picks by model (see
        :func:`supports_output_format`).
    default_max_tokens : int, default=4096
        ``max_tokens`` when neither the call nor the provider sets one.
    **kwargs
        Timeouts, retries, ``temperature``, ``max_tokens`` ... as in
        :class:`~sklearn_llmcluster.llm.providers._http.HTTPProvider`.

    Examples
    --------
    >>> from sklearn_llmcluster.llm.providers import AnthropicProvider
    >>> AnthropicProvider("claude-3-5-haiku-latest", api_key="k").structured_output
    'tool'
    """

    name = "anthropic"
    vendor = "Anthropic"
    api_key_env = "ANTHROPIC_API_KEY"
    requires_api_key = True

    def __init__(
        self,
        model: str = "claude-haiku-4-5",
        base_url: str = "https://api.anthropic.com",
        *,
        api_key: str | None = None,
        structured_output: str = "auto",
        default_max_tokens: int = 4096,
        **kwargs: Any,
    ) -> None:
        super().__init__(model, base_url, api_key=api_key, **kwargs)
        if structured_output == "auto":
            structured_output = "output_format" if supports_output_format(model) else "tool"
        if structured_output not in ("output_format", "tool"):
            raise ConfigurationError(
                "structured_output must be 'auto', 'output_format' or 'tool', "
                f"got {structured_output!r}"
            )
        self.structured_output = structured_output
        self.default_max_tokens = int(default_max_tokens)

    def _headers(self, url: str) -> dict[str, str]:
        headers = super()._headers(url)
        headers["x-api-key"] = self._require_api_key(url)
        headers["anthropic-version"] = ANTHROPIC_VERSION
        return headers

    @staticmethod
    def _split_messages(messages: list[dict]) -> tuple[str, list[dict]]:
        """System text and alternating turns; a turn may carry its message's ``cache_prefix``."""
        system = "\n\n".join(str(m["content"]) for m in messages if m["role"] == "system")
        turns: list[dict] = []
        for m in messages:
            if m["role"] == "system":
                continue
            role = "assistant" if m["role"] == "assistant" else "user"
            if turns and turns[-1]["role"] == role:
                # Keep the strict user/assistant alternation older API
                # versions required.
                turns[-1]["content"] += "\n\n" + str(m["content"])
            else:
                turns.append({"role": role, "content": str(m["content"])})
                prefix = m.get("cache_prefix")
                if isinstance(prefix, str) and prefix and str(m["content"]).startswith(prefix):
                    turns[-1]["cache_prefix"] = prefix
        if not turns or turns[0]["role"] != "user":
            turns.insert(0, {"role": "user", "content": "Go on."})
        return system, turns

    def _repeated(self, prefix: str) -> bool:
        """Whether ``prefix`` was sent before (remembered from now on).

        Writing a prefix into Anthropic's cache costs 25% more than reading
        it plainly, so a cluster list is marked for caching from its second
        use: then it pays back from the third call (reads cost a tenth).
        """
        key = hashlib.sha256(prefix.encode("utf-8", "surrogatepass")).digest()
        with self._lock:
            seen = self.__dict__.setdefault("_prefixes_sent", OrderedDict())
            if key in seen:
                seen.move_to_end(key)
                return True
            seen[key] = None
            if len(seen) > _PREFIXES_KEPT:
                seen.popitem(last=False)
            return False

    def _cached_turns(self, turns: list[dict]) -> list[dict]:
        """Turns as the API wants them: a repeated ``cache_prefix`` becomes a cached block."""
        out = []
        for turn in turns:
            prefix = turn.pop("cache_prefix", None)
            if prefix and self._repeated(prefix):
                rest = turn["content"][len(prefix):]
                blocks = [{"type": "text", "text": prefix, "cache_control": _EPHEMERAL}]
                if rest:
                    blocks.append({"type": "text", "text": rest})
                turn = {"role": turn["role"], "content": blocks}
            out.append(turn)
        return out

    def _payload(self, messages, temperature, max_tokens, json_schema, mode) -> dict[str, Any]:
        system, turns = self._split_messages(messages)
        payload: dict[str, Any] = {
            "model": self.model,
            "max_tokens": int(max_tokens or self.default_max_tokens),
            "messages": self._cached_turns(turns),
        }
        if system:
            # The instructions are the same for every call of a step: a cache
            # breakpoint on them is read back by the next call (the API
            # caches nothing below the model's minimum, at no cost).
            payload["system"] = [{"type": "text", "text": system, "cache_control": _EPHEMERAL}]
        if temperature is not None:
            payload["temperature"] = temperature
        if json_schema is not None and mode == "output_format":
            payload["output_config"] = {"format": {"type": "json_schema", "schema": json_schema}}
        elif json_schema is not None:
            payload["tools"] = [{
                "name": _TOOL_NAME,
                "description": "Give the answer in the required structure.",
                "input_schema": json_schema,
            }]
            payload["tool_choice"] = {"type": "tool", "name": _TOOL_NAME}
        return payload

    def complete(
        self,
        messages: list[dict],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_schema: dict | None = None,
    ) -> LLMResponse:
        """Send a chat to ``/v1/messages`` and return the answer with its usage.

        Parameters
        ----------
        messages : list of dict
            ``{"role", "content"}`` chat messages; system messages are joined
            into the top-level ``system`` field.
        temperature : float, optional
            Sampling temperature; the provider's default when omitted.
        max_tokens : int, optional
            Longest answer; ``default_max_tokens`` when omitted.
        json_schema : dict, optional
            JSON Schema the answer must follow. With a forced tool call the
            tool's input is returned as JSON text.

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
        mode = self.structured_output
        payload = self._payload(messages, temperature, max_tokens, json_schema, mode)
        try:
            data, retries = self._send("POST", "/v1/messages", payload)
        except BadRequestError as exc:
            said = str(getattr(getattr(exc, "detail", None), "message", "")).lower()
            if "output_config" not in payload or not re.search(
                r"output_config|output_format|structured output", said
            ):
                raise
            # This model has no native structured output: use the tool call.
            self.structured_output = mode = "tool"
            payload = self._payload(messages, temperature, max_tokens, json_schema, mode)
            data, retries = self._send("POST", "/v1/messages", payload)
        return self._parse(data, retries, tool="tools" in payload)

    def _parse(self, data: Any, retries: int, *, tool: bool) -> LLMResponse:
        url = self._url("/v1/messages")
        blocks = data.get("content") if isinstance(data, dict) else None
        if not isinstance(blocks, list):
            raise self._make_error(ProviderResponseError, "answer has no content blocks",
                                   url=url, status=200)
        stop_reason = data.get("stop_reason")
        if stop_reason == "refusal":
            err = self._make_error(ProviderResponseError, "the model refused to answer", url=url,
                                   status=200, advice="the text was refused by the model's "
                                   "safety rules")
            err.retryable = False
            raise err
        text = None
        if tool:
            for block in blocks:
                if isinstance(block, dict) and block.get("type") == "tool_use":
                    text = json.dumps(block.get("input", {}), ensure_ascii=False)
                    break
        if text is None:
            text = "".join(b.get("text", "") for b in blocks
                           if isinstance(b, dict) and b.get("type") == "text")
        usage = data.get("usage") or {}
        input_tokens = first_int(usage.get("input_tokens"))
        cache_read = first_int(usage.get("cache_read_input_tokens"))
        if input_tokens is not None:
            # Cached prompt tokens are reported apart; they were still sent.
            input_tokens += (first_int(usage.get("cache_creation_input_tokens")) or 0)
            input_tokens += cache_read or 0
        return LLMResponse(
            text,
            cached_prompt_tokens=cache_read,
            prompt_tokens=input_tokens,
            completion_tokens=first_int(usage.get("output_tokens")),
            retries=retries,
            model=data.get("model") or self.model,
            finish_reason=stop_reason,
        )
