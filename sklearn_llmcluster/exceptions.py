"""Exceptions raised by sklearn_llmcluster.

Provider failures form one hierarchy rooted in :class:`ProviderError`, so
callers can catch broadly or precisely. Messages name the provider, the model
and the URL and say what to do; they never contain an API key, nor the
credentials a URL may carry (``user:pass@``, ``?api_key=...``): the errors
below mask those wherever they were built.
"""

from __future__ import annotations

__all__ = [
    "LLMClusterError",
    "ProviderError",
    "AuthenticationError",
    "PermissionDeniedError",
    "ModelNotFoundError",
    "RateLimitError",
    "QuotaExceededError",
    "ContextLengthError",
    "BadRequestError",
    "ProviderUnavailableError",
    "ProviderTimeoutError",
    "ProviderResponseError",
    "ResponseParseError",
    "BudgetExceededError",
    "ConfigurationError",
    "LLMClusterWarning",
]


class LLMClusterWarning(UserWarning):
    """Something went wrong but the run finished: failed calls, budget, offline fallback."""


def _redact(text, *, url: bool = False):
    """``text`` (a message, or with ``url=True`` one URL) with URL credentials masked."""
    # Imported here: the providers package imports this module.
    from .llm.providers._urls import redact_url, redact_urls_in_text

    return redact_url(text) if url else redact_urls_in_text(text)


class LLMClusterError(Exception):
    """Base class of every error this library raises on purpose."""


class ConfigurationError(LLMClusterError, ValueError):
    """A provider spec, environment variable or parameter cannot be used.

    A URL in the message is shown with its credentials masked.
    """

    def __init__(self, *args) -> None:
        super().__init__(*(_redact(arg) for arg in args))


class ProviderError(LLMClusterError):
    """An LLM provider failed to answer.

    Attributes
    ----------
    provider : str or None
        Provider name (``"ollama"``, ``"openai"`` ...).
    model : str or None
        Model name.
    url : str or None
        Endpoint that was called (never with credentials: user info and
        secret query values are masked as ``***``, as in the message).
    status_code : int or None
        HTTP status when there was one.
    retryable : bool
        Whether trying again later may help.
    """

    retryable = False
    #: Errors that no retry or other batch can fix (bad key, unknown model):
    #: the estimator stops the run at once instead of failing every call.
    fatal = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        url: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        # Providers pass URLs masked already; this catches any other path.
        super().__init__(_redact(message))
        self.provider = provider
        self.model = model
        self.url = _redact(url, url=True)
        self.status_code = status_code
        self.retry_after = retry_after

    def __reduce__(self):
        # Keep the keyword attributes when the error crosses a process boundary.
        # A verdict set on this error (a refused connection made fatal, a
        # refusal made final) must survive the trip too.
        verdict = {k: v for k, v in self.__dict__.items() if k in ("retryable", "fatal")}
        return (
            _rebuild_provider_error,
            (type(self), str(self), self.provider, self.model, self.url,
             self.status_code, self.retry_after),
            verdict or None,
        )


def _rebuild_provider_error(cls, message, provider, model, url, status_code, retry_after):
    return cls(message, provider=provider, model=model, url=url,
               status_code=status_code, retry_after=retry_after)


class AuthenticationError(ProviderError):
    """The API key is missing, wrong or disabled (HTTP 401)."""

    fatal = True


class PermissionDeniedError(ProviderError):
    """The key may not use this model or endpoint (HTTP 403)."""

    fatal = True


class ModelNotFoundError(ProviderError):
    """The model does not exist on the server (HTTP 404 or an equivalent body)."""

    fatal = True


class QuotaExceededError(ProviderError):
    """Credits or spend limit exhausted; retrying does not help (402, insufficient_quota)."""

    fatal = True


class RateLimitError(ProviderError):
    """Too many requests (HTTP 429); retried with backoff and ``Retry-After``."""

    retryable = True


class ContextLengthError(ProviderError):
    """The prompt does not fit the model's context window; never retried as is."""


class BadRequestError(ProviderError):
    """The server rejected the request (HTTP 400/422) for another reason."""


class ProviderUnavailableError(ProviderError):
    """Server down, overloaded or unreachable (connection errors, 5xx, 529)."""

    retryable = True


class ProviderTimeoutError(ProviderUnavailableError):
    """Connect or read timeout."""


class ProviderResponseError(ProviderError):
    """HTTP 200 with a body that is not a usable completion (error body, empty choices)."""

    retryable = True


class ResponseParseError(LLMClusterError, ValueError):
    """An LLM answer could not be parsed or does not match the expected schema.

    This is the only exception :func:`sklearn_llmcluster.llm.parsing.parse_json_response`
    raises.
    """


class BudgetExceededError(LLMClusterError):
    """Raised inside the engine when ``max_llm_calls`` or ``max_tokens`` is reached."""
