"""One structured request to an LLM: redaction, cache, budget, retries, usage, log.

:class:`LLMClient` sits between the LLM-backed proposer/judge and a provider.
It is the only place that talks to a provider, so every call is redacted,
cached, counted and logged the same way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence, TypeVar

from ..exceptions import BudgetExceededError, ProviderError, ResponseParseError
from .providers.base import provider_identity
from ..records import Cluster, LLMUsage
from .parsing import parse_json_response
from ..representation.normalization import clean_for_prompt

__all__ = ["LLMClient", "collect_usage", "current_usage", "estimate_tokens"]

T = TypeVar("T")

_local = threading.local()


@contextmanager
def collect_usage() -> Iterator[LLMUsage]:
    """Collect the usage of the LLM calls made in this thread inside the block.

    The engine wraps each judge or proposer call in it, so usage is gathered
    the same way whether the call ran in a thread or in another process.
    """
    previous = getattr(_local, "usage", None)
    usage = LLMUsage()
    _local.usage = usage
    try:
        yield usage
    finally:
        _local.usage = previous


def current_usage() -> LLMUsage | None:
    """The collector opened by :func:`collect_usage` in this thread, if any."""
    return getattr(_local, "usage", None)


def retry_or_note_problems(problems: list[str], final: bool, what: str) -> None:
    """Shared end of a ``validate`` callback for :meth:`LLMClient.request`.

    With problems and attempts left, raise :class:`ResponseParseError` (the
    first five problems) so the request is asked again. On the last attempt
    keep the usable part: count a partial answer and note the first problem
    as ``"<what> answer partly invalid after retries: ..."``.
    """
    if problems and not final:
        raise ResponseParseError("; ".join(problems[:5]))
    if problems:
        usage = current_usage()
        if usage is not None:
            usage.add(partial_answers=1)
            usage.note(f"{what} answer partly invalid after retries: {problems[0]}")


def estimate_tokens(text: str) -> int:
    """Rough token count (4 characters per token) when a server reports none."""
    return max(1, len(text) // 4) if text else 0


def thread_count(n_jobs: int | None) -> int:
    """Threads for ``n_jobs`` LLM calls at once: ``None`` is 1, ``-1`` the cores, ``-2`` one less.

    Not ``joblib.effective_n_jobs``: it answers 1 inside a daemonic process (a
    multiprocessing pool, a Celery worker), where its process backend cannot
    fork, which made every call of such a run wait for the one before.
    """
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))
    return max(1, int(n_jobs))


def run_in_threads(func: Callable, items: Sequence, n_jobs: int) -> list:
    """``[func(item) for item in items]`` on ``n_jobs`` threads, in order.

    Unlike ``joblib.Parallel``, an exception is raised only once every call
    already running has finished (so an answer it got reaches the cache),
    and no call starts after one has raised.
    """
    stop = threading.Event()

    def task(item):
        if stop.is_set():
            return None
        try:
            return func(item)
        except BaseException:
            stop.set()
            raise

    with ThreadPoolExecutor(max_workers=max(1, n_jobs)) as pool:
        futures = [pool.submit(task, item) for item in items]
    return [future.result() for future in futures]


class ThreadShared:
    """Base of small objects shared by threads through ``self._lock``.

    Locks do not pickle: a copy for another process (Dask, loky) leaves the
    lock out and makes a new one when loaded.
    """

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


class _Budget(ThreadShared):
    """Call and token caps shared by every thread of one run."""

    def __init__(self, max_calls: int | None, max_tokens: int | None) -> None:
        self.max_calls = max_calls
        self.max_tokens = max_tokens
        self.calls = 0
        self.tokens = 0
        self._lock = threading.Lock()

    def reserve(self) -> None:
        with self._lock:
            if self.max_calls is not None and self.calls >= self.max_calls:
                raise BudgetExceededError(f"max_llm_calls={self.max_calls} reached")
            if self.max_tokens is not None and self.tokens >= self.max_tokens:
                raise BudgetExceededError(
                    f"max_tokens={self.max_tokens} reached ({self.tokens} tokens used)"
                )
            self.calls += 1

    def spend(self, tokens: int) -> None:
        with self._lock:
            self.tokens += tokens

    def charge(self, calls: int, tokens: int) -> None:
        """Count calls made by a copy of this budget in another process."""
        with self._lock:
            self.calls += calls
            self.tokens += tokens

    def calls_left(self) -> int | None:
        """Calls still allowed, ``None`` without a call cap."""
        if self.max_calls is None:
            return None
        return max(self.max_calls - self.calls, 0)


class LLMClient:
    """Sends structured requests to a provider and returns validated answers.

    Parameters
    ----------
    provider : LLMProvider
        Object with a ``complete(messages, *, temperature, max_tokens, json_schema)`` method.
    temperature : float, default=0.0
    max_completion_tokens : int or None, default=None
        Per-call completion limit passed to the provider as ``max_tokens``.
    max_retries : int, default=2
        Extra attempts when an answer cannot be parsed or validated.
    cache : object or None
        Response cache with ``get(key) -> str | None`` and ``set(key, value)``.
    redact : callable or None
        ``redact(text) -> text`` applied to every message before it is sent or logged.
    log : callable or None
        Called with one dict per call (step, redacted messages, response,
        tokens, latency, retries, cached, error); never sees secrets.
    max_calls, max_tokens : int or None
        Hard caps for the run; beyond them :class:`BudgetExceededError` is raised.
    """

    def __init__(
        self,
        provider: Any,
        *,
        temperature: float | None = 0.0,
        max_completion_tokens: int | None = None,
        max_retries: int = 2,
        cache: Any = None,
        redact: Callable[[str], str] | None = None,
        log: Callable[[dict], None] | None = None,
        max_calls: int | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self.provider = provider
        self.temperature = temperature
        self.max_completion_tokens = max_completion_tokens
        self.max_retries = max_retries
        self.cache = cache
        self.redact = redact
        self.log = log
        self.budget = _Budget(max_calls, max_tokens)

    def reset_budget(self, max_calls: int | None, max_tokens: int | None) -> None:
        """Start a new run's budget."""
        self.budget = _Budget(max_calls, max_tokens)

    def _cache_key(self, messages: list[dict], schema: dict | None, attempt: int) -> str:
        payload = {
            "provider": provider_identity(self.provider),
            # What is sent, not the hints about it (a cacheable prefix).
            "messages": _plain(messages),
            "schema": schema,
            "temperature": self.temperature,
            "max_tokens": self.max_completion_tokens,
            # Retries are separate entries, so a resumed run replays the same sequence.
            "attempt": attempt,
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()

    def _redacted(self, messages: list[dict]) -> list[dict]:
        if self.redact is None:
            return messages
        out = []
        for m in messages:
            m = {**m, "content": self.redact(m.get("content", ""))}
            if "cache_prefix" in m:
                # Redacted too, and kept only while still a prefix of the content.
                prefix = self.redact(m["cache_prefix"] or "")
                if prefix and m["content"].startswith(prefix):
                    m["cache_prefix"] = prefix
                else:
                    del m["cache_prefix"]
            out.append(m)
        return out

    def redact_text(self, text: str) -> str:
        """``text`` as it may leave the machine: redacted when redaction is on."""
        return self.redact(text) if self.redact is not None else text

    def redact_inputs(
        self, texts: list[str], clusters: list[Cluster]
    ) -> tuple[list[str], list[Cluster]]:
        """Texts and cluster descriptions with personal data replaced, for a prompt.

        Prompts cut long texts and examples; a cut through a phone or card
        number leaves a fragment the redactor no longer recognises, so the
        judge and proposer redact here, before the prompt is built (the whole
        message is redacted again before it is sent). Control characters are
        cleaned first so the redactor sees the digits the model would see.
        The clusters returned are copies: the originals keep the local text.

        Parameters
        ----------
        texts : list of str
        clusters : list of Cluster

        Returns
        -------
        texts, clusters
            Unchanged (as new lists) when redaction is off.
        """
        if self.redact is None:
            return list(texts), list(clusters)
        redact = self.redact
        texts = [redact(clean_for_prompt(t)) for t in texts]
        clusters = [
            dataclasses.replace(
                c, name=redact(c.name), summary=redact(c.summary or ""),
                criteria=redact(c.criteria or ""),
                examples=[redact(clean_for_prompt(e)) for e in c.examples],
            )
            for c in clusters
        ]
        return texts, clusters

    def complete(self, step: str, messages: list[dict], schema: dict | None,
                 attempt: int = 0) -> str:
        """One call to the provider (or the cache), counted and logged."""
        usage = current_usage()
        key = self._cache_key(messages, schema, attempt) if self.cache is not None else None
        if key is not None:
            cached = self.cache.get(key)
            if cached is not None:
                if usage is not None:
                    usage.add(cache_hits=1)
                self._log(step, messages, cached, 0, 0, 0.0, 0, True, None)
                return cached
        self.budget.reserve()
        start = time.perf_counter()
        try:
            answer = self.provider.complete(
                messages, temperature=self.temperature,
                max_tokens=self.max_completion_tokens, json_schema=schema,
            )
        except Exception as exc:
            # A provider error may say how many transport retries it made
            # before giving up; they were spent, so they are counted.
            retries = getattr(exc, "retries", 0)
            retries = retries if isinstance(retries, int) and retries > 0 else 0
            self._log(step, messages, None, 0, 0, time.perf_counter() - start, retries, False,
                      exc)
            if usage is not None:
                usage.add(calls=1, retries=retries)
            raise
        latency = time.perf_counter() - start
        if not isinstance(answer, str):
            answer_text = "" if answer is None else str(answer)
        else:
            answer_text = answer
        prompt_tokens = getattr(answer, "prompt_tokens", None)
        if prompt_tokens is None:
            prompt_tokens = sum(estimate_tokens(m.get("content", "")) for m in messages)
        completion_tokens = getattr(answer, "completion_tokens", None)
        if completion_tokens is None:
            completion_tokens = estimate_tokens(answer_text)
        transport_retries = int(getattr(answer, "retries", 0) or 0)
        cached_tokens = getattr(answer, "cached_prompt_tokens", None)
        # Never more than the prompt: a server's counts are data, not a promise.
        cached_tokens = min(max(int(cached_tokens or 0), 0), prompt_tokens)
        self.budget.spend(prompt_tokens + completion_tokens)
        if usage is not None:
            usage.add(calls=1, prompt_tokens=prompt_tokens,
                      completion_tokens=completion_tokens, retries=transport_retries,
                      cached_prompt_tokens=cached_tokens)
        if key is not None:
            self.cache.set(key, str(answer_text))
        self._log(step, messages, answer_text, prompt_tokens, completion_tokens, latency,
                  transport_retries, False, None, cached_tokens)
        return answer_text

    def request(
        self,
        step: str,
        messages: list[dict],
        schema: dict | None,
        validate: Callable[[Any, bool], T],
    ) -> T:
        """Ask, parse and validate, retrying invalid answers.

        Parameters
        ----------
        step : str
            ``"judge"`` or ``"propose"``; goes to the log.
        messages : list of dict
            Chat messages (redacted here before they leave).
        schema : dict or None
            JSON Schema the answer must follow.
        validate : callable
            ``validate(parsed_json, final_attempt) -> value``. Raises
            :class:`ResponseParseError` for an answer worth retrying; on the
            final attempt it may return a partial value instead.

        Returns
        -------
        The validated value.

        Raises
        ------
        ProviderError
            When the provider fails (after its own transport retries).
        ResponseParseError
            When no attempt gave a usable answer.
        BudgetExceededError
            When the run's call or token cap is reached.
        """
        messages = self._redacted(messages)
        conversation = list(messages)
        last_error: ResponseParseError | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                usage = current_usage()
                if usage is not None:
                    usage.add(retries=1)
            answer = self.complete(step, conversation, schema, attempt)
            final = attempt == self.max_retries
            try:
                return validate(parse_json_response(answer), final)
            except ResponseParseError as exc:
                last_error = exc
                # Show the model its mistake: a corrected retry succeeds far
                # more often than the same prompt again.
                conversation = [
                    *messages,
                    {"role": "assistant", "content": answer[:2000]},
                    {"role": "user", "content": self.redact_text(
                        f"That answer was not valid: {exc}. Answer again with JSON only, "
                        "following the schema, for every request.")},
                ]
        assert last_error is not None
        raise last_error

    def _log(self, step, messages, response, prompt_tokens, completion_tokens, latency,
             retries, cached, error, cached_prompt_tokens=0) -> None:
        if self.log is None:
            return
        record = {
            "step": step,
            "provider": getattr(self.provider, "name", type(self.provider).__name__),
            "model": getattr(self.provider, "model", None),
            "messages": _plain(messages),
            "response": response,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "cached_prompt_tokens": cached_prompt_tokens,
            "latency_s": round(latency, 4),
            "retries": retries,
            "cached": cached,
            "error": None if error is None else f"{type(error).__name__}: {error}",
        }
        self.log(record)

    def __repr__(self) -> str:
        return f"LLMClient(provider={self.provider!r})"


def _plain(messages: list[dict]) -> list[dict]:
    """Messages without the hints providers may read (``cache_prefix``)."""
    return [{k: v for k, v in m.items() if k != "cache_prefix"} for m in messages]


def is_fatal(exc: BaseException) -> bool:
    """Errors after which no other call can succeed (bad key, unknown model)."""
    return isinstance(exc, ProviderError) and getattr(exc, "fatal", False)
