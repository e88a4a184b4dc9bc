"""LLM providers: one module per vendor, plus resolution of spec strings."""

from .base import CallableProvider, LLMResponse, is_remote_provider, provider_identity
from .resolve import resolve_provider

__all__ = [
    "LLMResponse",
    "CallableProvider",
    "provider_identity",
    "is_remote_provider",
    "resolve_provider",
]
