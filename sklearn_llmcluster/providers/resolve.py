"""Turn the estimator's ``provider`` parameter into a provider object."""

from __future__ import annotations

from ..exceptions import ConfigurationError
from .base import CallableProvider

__all__ = ["resolve_provider"]


def resolve_provider(provider=None):
    """Return a provider object for ``provider``, or ``None`` for the offline engine.

    Parameters
    ----------
    provider : None, str, LLMProvider or callable
        ``None`` means "not configured". An object with a ``complete`` method
        is used as is; a plain callable ``messages -> str`` is wrapped.

    Returns
    -------
    LLMProvider or None
    """
    if provider is None:
        return None
    if hasattr(provider, "complete"):
        return provider
    if callable(provider):
        return CallableProvider(provider)
    raise ConfigurationError(
        f"provider must be an object with a complete() method or a callable, "
        f"got {type(provider).__name__}"
    )
