"""What every provider shares: the response type and the callable adapter."""

from __future__ import annotations

from typing import Callable

__all__ = ["LLMResponse", "CallableProvider", "provider_identity", "is_remote_provider"]


class LLMResponse(str):
    """The text of a completion, carrying the usage the server reported.

    It *is* a ``str``, so code written against the plain
    :class:`~sklearn_llmcluster.protocols.LLMProvider` protocol keeps working;
    the engine reads the extra attributes when they are there.

    Attributes
    ----------
    prompt_tokens, completion_tokens : int or None
        Token counts from the response, ``None`` when the server sent none.
    cached_prompt_tokens : int or None
        Part of ``prompt_tokens`` served from the server's prompt cache,
        ``None`` when the server did not say.
    retries : int
        Transport-level retries the provider made before this answer.
    model : str or None
        Model that answered, as the server named it.
    finish_reason : str or None
        ``"stop"``, ``"length"`` ... as reported.
    """

    prompt_tokens: int | None
    completion_tokens: int | None
    cached_prompt_tokens: int | None
    retries: int
    model: str | None
    finish_reason: str | None

    def __new__(
        cls,
        text: str,
        *,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        retries: int = 0,
        model: str | None = None,
        finish_reason: str | None = None,
        cached_prompt_tokens: int | None = None,
    ) -> "LLMResponse":
        obj = super().__new__(cls, text)
        obj.prompt_tokens = prompt_tokens
        obj.completion_tokens = completion_tokens
        obj.retries = retries
        obj.model = model
        obj.finish_reason = finish_reason
        obj.cached_prompt_tokens = cached_prompt_tokens
        return obj

    def __reduce__(self):
        return (_rebuild_response, (str(self), self.prompt_tokens, self.completion_tokens,
                                    self.retries, self.model, self.finish_reason,
                                    self.cached_prompt_tokens))


def _rebuild_response(text, prompt_tokens, completion_tokens, retries, model, finish_reason,
                      cached_prompt_tokens=None):
    return LLMResponse(text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                       retries=retries, model=model, finish_reason=finish_reason,
                       cached_prompt_tokens=cached_prompt_tokens)


class CallableProvider:
    """Adapts a plain function ``messages -> str`` to the provider protocol.

    The sampling keywords are not passed to the function; the JSON Schema is
    described in the prompt already, so a function that ignores it still works.

    Parameters
    ----------
    func : callable
        ``func(messages) -> str``. Must be a module-level function (or another
        picklable callable) for the fitted model to pickle.
    name : str, optional
        Used in cache keys and logs; defaults to the function's qualified name.
    """

    is_remote = False
    base_url = None

    def __init__(self, func: Callable[[list[dict]], str], name: str | None = None) -> None:
        self.func = func
        self.name = name or getattr(func, "__qualname__", type(func).__name__)
        self.model = ""

    def complete(self, messages, *, temperature=None, max_tokens=None, json_schema=None) -> str:
        return self.func(messages)

    def __repr__(self) -> str:
        return f"CallableProvider({self.name})"


def provider_identity(provider: object) -> str:
    """A stable string naming the provider and model, for cache keys and logs."""
    name = getattr(provider, "name", None) or type(provider).__name__
    model = getattr(provider, "model", None) or ""
    base_url = getattr(provider, "base_url", None) or ""
    return f"{name}|{model}|{base_url}"


def is_remote_provider(provider: object) -> bool:
    """Whether texts sent to ``provider`` leave this machine for a third party.

    Providers declare it with an ``is_remote`` attribute; unknown objects are
    treated as local, since the user wrote them.
    """
    return bool(getattr(provider, "is_remote", False))
