"""LLM providers: one module per vendor, plus resolution of spec strings.

Every provider has ``complete(messages, *, temperature, max_tokens,
json_schema) -> LLMResponse`` and the attributes ``name``, ``model``,
``base_url`` and ``is_remote``; the HTTP ones also retry, time out, map
errors to :mod:`sklearn_llmcluster.exceptions` and keep their API key out of
``repr``, logs, exceptions and pickles. ``llama-cpp-python`` is imported only
when a :class:`LlamaCppProvider` first runs.
"""

from .anthropic import AnthropicProvider
from .base import CallableProvider, LLMResponse, is_remote_provider, provider_identity
from .llamacpp import LlamaCppProvider
from .ollama import OllamaProvider
from .openai import OpenAICompatibleProvider, OpenAIProvider
from .openrouter import OpenRouterProvider
from .resolve import (VENDORS, mask_spec, parse_provider_spec, provider_from_spec,
                      resolve_provider)
from .triton import TritonProvider

__all__ = [
    "LLMResponse",
    "CallableProvider",
    "provider_identity",
    "is_remote_provider",
    "resolve_provider",
    "parse_provider_spec",
    "mask_spec",
    "provider_from_spec",
    "VENDORS",
    "OllamaProvider",
    "OpenAIProvider",
    "OpenAICompatibleProvider",
    "OpenRouterProvider",
    "AnthropicProvider",
    "TritonProvider",
    "LlamaCppProvider",
]
