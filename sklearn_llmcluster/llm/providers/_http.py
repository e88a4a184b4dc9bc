"""What every HTTP provider shares: sessions, the retry loop, error mapping, secrets.

There is one retry implementation for all vendors, here. It retries connection
errors, timeouts, 408, 409, 429, 5xx (except 501) and Anthropic's 529 with
exponential backoff and jitter, honours ``retry-after-ms``, ``Retry-After``
(seconds or an HTTP date) and ``x-should-retry``, and never retries what
waiting cannot fix: bad keys, unknown models, exhausted quota, prompts that do
not fit the context window. urllib3's ``Retry`` was not enough on its own: it
cannot look at the body to tell a rate limit from exhausted quota (both 429),
knows nothing of ``retry-after-ms``, and cannot retry an HTTP 200 whose body is
an error (OpenRouter).
"""

from __future__ import annotations

import copy
import email.utils
import ipaddress
import json
import logging
import random
import re
import threading
import time
from dataclasses import dataclass
from datetime import timezone
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import requests

from ..config import get_env_value
from ...exceptions import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContextLengthError,
    ModelNotFoundError,
    PermissionDeniedError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    QuotaExceededError,
    RateLimitError,
)
from ._urls import (
    hide_url_secrets_in_logs,
    join_url,
    redact_url,
    redact_urls_in_text,
    url_secrets,
)

__all__ = ["HTTPProvider", "ErrorInfo", "parse_retry_after", "host_is_remote"]

logger = logging.getLogger("sklearn_llmcluster.llm.providers")

_LOCAL_SUFFIXES = (".localhost", ".local", ".lan", ".internal", ".home.arpa", ".intranet")

_CONTEXT_CODES = {"context_length_exceeded", "exceed_context_size_error"}
_CONTEXT_RE = re.compile(
    r"context[ _]length|context window|context size|maximum context|prompt is too long"
    r"|too many tokens|exceeds? (the )?(model'?s? )?(max(imum)? )?(input|context)",
    re.IGNORECASE,
)
_QUOTA_CODES = {"insufficient_quota", "billing_error", "enforced_spend_limit_reached",
                "billing_not_active", "insufficient_credits"}
_QUOTA_RE = re.compile(
    r"insufficient[_ ]quota|exceeded your current quota|billing|credit balance"
    r"|spend[_ ]limit|insufficient credits|out of credits",
    re.IGNORECASE,
)


def host_is_remote(url: str | None) -> bool:
    """Whether ``url`` points outside this machine and its private network.

    Decided from the hostname alone (no DNS lookup): loopback, private and
    link-local IP addresses, ``localhost``, single-label names (``gpu-box``)
    and the usual private suffixes (``.local``, ``.internal``, ``.lan`` ...)
    are local; every other name is remote.

    Parameters
    ----------
    url : str or None
        Base URL of a server. ``None`` (an in-process model) is local.

    Returns
    -------
    bool
    """
    if not url:
        return False
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(_LOCAL_SUFFIXES) or "." not in host:
            return False
        return True
    return not (address.is_private or address.is_loopback or address.is_link_local)


def parse_retry_after(headers: Any, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait, or ``None`` when it did not say.

    Reads ``retry-after-ms`` first (OpenAI, Anthropic), then ``Retry-After`` as
    seconds or as an HTTP date.

    Parameters
    ----------
    headers : mapping
        Response headers (case-insensitive mapping such as requests').
    now : float, optional
        Current POSIX time, for HTTP dates; defaults to ``time.time()``.

    Returns
    -------
    float or None
        Never negative.
    """
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


@dataclass
class ErrorInfo:
    """What an error body said, in the fields vendors share.

    Attributes
    ----------
    message : str
        Human-readable message ("" when the body had none).
    code, type, param : str or None
        Vendor error code, error type and offending parameter, when given.
    body : Any
        The parsed JSON body (or the raw text when it was not JSON).
    """

    message: str = ""
    code: str | None = None
    type: str | None = None
    param: str | None = None
    body: Any = None


def error_info(body: Any, text: str = "") -> ErrorInfo:
    """Pull message, code, type and param out of any vendor's error body.

    Handles ``{"error": "msg"}`` (Ollama, Triton), ``{"error": {"message",
    "type", "code", "param"}}`` (OpenAI, OpenRouter, vLLM, llama.cpp) and
    ``{"type": "error", "error": {"type", "message", "details"}}`` (Anthropic).
    """
    if not isinstance(body, dict):
        return ErrorInfo(message=(text or "").strip()[:500], body=text)
    err = body.get("error", body)
    if isinstance(err, str):
        return ErrorInfo(message=err, body=body)
    if not isinstance(err, dict):
        return ErrorInfo(message=json.dumps(body)[:500], body=body)
    details = err.get("details") if isinstance(err.get("details"), dict) else {}
    code = details.get("error_code") or err.get("code")
    return ErrorInfo(
        message=str(err.get("message") or body.get("message") or ""),
        code=None if code is None else str(code),
        type=err.get("type") if isinstance(err.get("type"), str) else None,
        param=err.get("param") if isinstance(err.get("param"), str) else None,
        body=body,
    )


def classify_error(status: int, info: ErrorInfo) -> type[ProviderError]:
    """The exception class for an HTTP error status and body.

    Context-length and quota errors are recognised by code or message first,
    since vendors send them under 400, 403 or 429 alongside errors that mean
    something else.
    """
    labels = {str(info.code or "").lower(), str(info.type or "").lower()}
    text = f"{info.message} {info.code or ''} {info.type or ''}"
    if 400 <= status < 500 and status not in (408, 409):
        if labels & _CONTEXT_CODES or (status in (400, 413, 422) and _CONTEXT_RE.search(text)):
            return ContextLengthError
        if labels & _QUOTA_CODES or _QUOTA_RE.search(text):
            return QuotaExceededError
    if status == 401:
        return AuthenticationError
    if status == 402:
        return QuotaExceededError
    if status == 403:
        return PermissionDeniedError
    if status == 404:
        return ModelNotFoundError
    if status == 408:
        return ProviderTimeoutError
    if status == 409:
        return ProviderUnavailableError
    if status == 413:
        return ContextLengthError
    if status == 429:
        return RateLimitError
    if status == 501:
        # "Not implemented" will not start working on a retry.
        return BadRequestError
    if status >= 500:
        return ProviderUnavailableError
    return BadRequestError


_ADVICE = {
    AuthenticationError: "the API key is missing, wrong or revoked; check {key_hint}",
    PermissionDeniedError: "this key may not use the model or endpoint; check the account's "
                           "model access",
    ModelNotFoundError: "check the model name and that this server or key can see it",
    QuotaExceededError: "credits or the spend limit are exhausted; add credits or raise the "
                        "limit (retrying will not help)",
    RateLimitError: "still rate-limited after {retries} retries; lower n_jobs, wait, or raise "
                    "the account's rate limit",
    ContextLengthError: "the prompt does not fit the model's context window; lower batch_size "
                        "or use a model with a longer context",
    BadRequestError: "the server rejected the request; check that the model supports "
                     "structured output and the parameters sent",
    ProviderTimeoutError: "no answer in time (connect {connect} s, read {read} s); raise "
                          "LLM_REQUEST_TIMEOUT or use a faster model",
    ProviderUnavailableError: "the server is down, unreachable or overloaded; check that it "
                              "is running and reachable, then try again",
    ProviderResponseError: "the server answered without a usable completion; try again",
}


class HTTPProvider:
    """Base class of the providers that talk HTTP.

    Subclasses set ``name``, ``vendor`` and ``api_key_env`` and implement
    ``complete``; they call :meth:`_send` for every request.

    Parameters
    ----------
    model : str
        Model name as the server knows it.
    base_url : str
        Server URL (a trailing slash is removed). It may carry credentials,
        ``http://user:pass@host/v1`` or a query string such as
        ``?api_key=...`` (kept after the request path); like the API key
        they are used for requests only, shown masked (``***``) in
        :attr:`base_url`, ``repr``, logs and exceptions, and never pickled:
        an unpickled provider sends the URL without them.
    api_key : str, optional
        Secret; when omitted it is read from the environment variable
        ``api_key_env`` (or ``.env``) at request time. Never shown in
        ``repr``, logs or exception messages, never pickled.
    temperature : float, optional
        Used when ``complete`` is called without one.
    max_tokens : int, optional
        Used when ``complete`` is called without one.
    seed : int, optional
        Sampling seed, for servers that accept one.
    connect_timeout, read_timeout : float
        Seconds to wait for the connection and for the answer.
    max_retries : int
        Extra attempts after a retryable failure.
    backoff, max_backoff : float
        First backoff delay and its cap, in seconds; the delay doubles per
        attempt and is jittered down by up to 25 %.
    max_retry_wait : float
        Longest ``Retry-After`` honoured; a server asking for more gets the
        error raised at once (with ``retry_after`` set) rather than a stalled run.
    is_remote : bool, optional
        Whether texts leave this machine for a third party. Decided from the
        hostname when omitted (see :func:`host_is_remote`).
    """

    name = "http"
    vendor = "HTTP server"
    api_key_env: str | None = None
    requires_api_key = False
    #: Per-server checks done once per process (model pulled, server ready);
    #: an unpickled copy may run elsewhere, so it checks again.
    _checks: tuple[str, ...] = ()

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        api_key: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 300.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_retry_wait: float = 60.0,
        is_remote: bool | None = None,
    ) -> None:
        if not model:
            raise ConfigurationError(f"{self.vendor} provider needs a model name")
        if not base_url or urlsplit(base_url).scheme not in ("http", "https"):
            raise ConfigurationError(
                f"{self.vendor} base URL must start with http:// or https://, "
                f"got {redact_url(base_url)!r}"
            )
        parts = urlsplit(base_url)
        base_url = urlunsplit(parts._replace(path=parts.path.rstrip("/"), fragment=""))
        self.model = model
        #: The URL as it may be shown: credentials masked (see :func:`redact_url`).
        self.base_url = redact_url(base_url)
        # The URL requests go to, when it differs: credentials included, so
        # it never leaves the process (dropped from pickles like the key).
        self._secret_base_url = base_url if base_url != self.base_url else None
        if self._secret_base_url and urlsplit(base_url).query:
            hide_url_secrets_in_logs()
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_retry_wait = float(max_retry_wait)
        self.is_remote = host_is_remote(self.base_url) if is_remote is None else bool(is_remote)
        self._api_key = api_key or None
        #: Whether any request reached the server (an HTTP answer of any
        #: status) in this process: a refused connection before that means
        #: nothing listens at the address, after it a server restarting.
        self._reached = False
        self._init_transient()

    # -- state that never leaves the process -------------------------------

    def _init_transient(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        # The key and the live sessions stay behind; the key is read from the
        # environment again when the unpickled provider first needs it.
        state = self.__dict__.copy()
        for key in ("_local", "_lock", "_api_key", "_secret_base_url"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._api_key = None
        # Credentials that were in the URL stay behind too; requests go to
        # the URL without them.
        self._secret_base_url = None
        self._reached = False
        for flag in self._checks:
            setattr(self, flag, False)
        self._init_transient()

    def __deepcopy__(self, memo: dict) -> "HTTPProvider":
        # clone() deep-copies estimator parameters; an in-process copy keeps
        # the key (so cross-validation works with api_key=...), only the
        # sessions and locks are new.
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            if key not in ("_local", "_lock"):
                new.__dict__[key] = copy.deepcopy(value, memo)
        new._init_transient()
        return new

    def __copy__(self) -> "HTTPProvider":
        new = self.__class__.__new__(self.__class__)
        new.__dict__.update(
            {k: v for k, v in self.__dict__.items() if k not in ("_local", "_lock")}
        )
        new._init_transient()
        return new

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r})"

    # -- secrets -----------------------------------------------------------

    def _api_key_value(self) -> str | None:
        if not self._api_key and self.api_key_env:
            # Kept for later calls (not re-reading .env per request); like an
            # explicit key it is dropped from pickles.
            self._api_key = get_env_value(self.api_key_env)
        return self._api_key

    def _require_api_key(self, url: str) -> str:
        key = self._api_key_value()
        if not key:
            url = redact_url(url)
            raise AuthenticationError(
                f"no API key for {self.vendor} (model '{self.model}', {url}): set "
                f"{self.api_key_env} in the environment or .env, or pass api_key=",
                provider=self.name, model=self.model, url=url,
            )
        return key

    def _scrub(self, text: str) -> str:
        """``text`` without the API key and the URL's credentials, however echoed."""
        key = self._api_key_value()
        if key and len(key) >= 4:
            text = text.replace(key, "***")
        for secret in url_secrets(getattr(self, "_secret_base_url", None)):
            text = text.replace(secret, "***")
        return redact_urls_in_text(text)

    def _headers(self, url: str) -> dict[str, str]:
        """Headers for every request (auth included); subclasses extend it."""
        return {"Content-Type": "application/json", "Accept": "application/json"}

    # -- transport ---------------------------------------------------------

    def _session(self) -> requests.Session:
        # One Session per thread: requests does not promise a Session is
        # thread-safe, and the judge calls one provider from many threads.
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session

    def _url(self, path: str) -> str:
        """The URL to request for ``path``, credentials included; never show it as is."""
        base = getattr(self, "_secret_base_url", None) or redact_url(self.base_url, strip=True)
        return join_url(base, path)

    def _embed_in_batches(
        self,
        path: str,
        texts: list[str],
        batch_size: int,
        model: str,
        parse: Callable[[Any, list[str]], list],
    ) -> "np.ndarray":
        """POST ``texts`` to ``path`` in chunks of ``batch_size``; stack the vectors.

        Each request is ``{"model": model, "input": chunk}``; ``parse(data,
        chunk)`` turns one parsed answer into that chunk's vectors, in order,
        and raises when the answer is not usable.
        """
        rows: list[list[float]] = []
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start:start + batch_size])
            data, _ = self._send("POST", path, {"model": model, "input": chunk}, model=model)
            rows.extend(parse(data, chunk))
        return as_matrix(rows)

    def _send(
        self,
        method: str,
        path: str,
        payload: dict | None = None,
        *,
        timeout: float | tuple[float, float] | None = None,
        max_retries: int | None = None,
        raw: bool = False,
        model: str | None = None,
    ) -> tuple[Any, int]:
        """Send one request with retries; return ``(parsed JSON, retries made)``.

        With ``raw=True`` the :class:`requests.Response` is returned for any
        HTTP status (connection failures are still retried and raised).
        ``model`` names another model than :attr:`model` in errors (the
        embedding model, say).

        Raises
        ------
        ProviderError
            The subclass matching the failure, after the retries allowed.
        """
        url = self._url(path)
        headers = self._headers(url)
        timeout = timeout or (self.connect_timeout, self.read_timeout)
        max_retries = self.max_retries if max_retries is None else max_retries
        attempt = 0
        while True:
            should_retry: bool | None = None
            try:
                response = self._session().request(
                    method, url, json=payload, headers=headers, timeout=timeout
                )
            except requests.exceptions.RequestException as exc:
                err = self._transport_error(exc, url)
            else:
                self._reached = True
                if raw:
                    return response, attempt
                err = self._check_response(response, url)
                if isinstance(err, _Success):
                    return err.data, attempt
                hint = response.headers.get("x-should-retry", "").lower()
                should_retry = {"true": True, "false": False}.get(hint)
            if model and model != self.model:
                err = self._rename_model(err, model)
            if should_retry is None:
                should_retry = err.retryable
            # The engine counts the retries of a call that failed for good too.
            err.retries = attempt
            if not should_retry or attempt >= max_retries:
                raise err
            delay = self._retry_delay(attempt, err.retry_after)
            if delay is None:
                raise err
            logger.warning(
                "%s %s failed (%s); retry %d/%d in %.2f s",
                self.vendor, redact_url(url), type(err).__name__, attempt + 1, max_retries,
                delay,
            )
            time.sleep(delay)
            attempt += 1

    def _rename_model(self, err: ProviderError, model: str) -> ProviderError:
        renamed = type(err)(
            str(err).replace(f"(model '{self.model}')", f"(model '{model}')", 1),
            provider=err.provider, model=model, url=err.url, status_code=err.status_code,
            retry_after=err.retry_after,
        )
        renamed.detail = getattr(err, "detail", None)
        if "retryable" in err.__dict__:
            renamed.retryable = err.retryable
        return renamed

    def _retry_delay(self, attempt: int, retry_after: float | None) -> float | None:
        if retry_after is not None:
            # A server that names a wait longer than we accept gets the error
            # raised now; stalling every worker for minutes helps nobody.
            return retry_after if retry_after <= self.max_retry_wait else None
        delay = min(self.backoff * (2 ** attempt), self.max_backoff)
        return delay * (1.0 - 0.25 * random.random())

    def _transport_error(
        self, exc: requests.exceptions.RequestException, url: str
    ) -> ProviderError:
        timed_out = isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc).lower()
        if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                            requests.exceptions.InvalidSchema)):
            # requests' message quotes the whole URL: shown scrubbed, not chained.
            raise ConfigurationError(
                f"invalid {self.vendor} URL {redact_url(url)!r}: {self._scrub(str(exc))}"
            ) from None
        text = str(exc).lower()
        if timed_out:
            cls, what = ProviderTimeoutError, f"timed out ({type(exc).__name__})"
        elif "refused" in text:
            if not getattr(self, "_reached", True):
                return self._nothing_listens(url)
            cls, what = ProviderUnavailableError, "cannot connect (connection refused)"
        elif "resolve" in text or "name or service" in text or "nodename" in text:
            cls, what = ProviderUnavailableError, "cannot connect (host name not found)"
        else:
            cls, what = ProviderUnavailableError, f"cannot connect ({type(exc).__name__})"
        return self._make_error(cls, what, url=url)

    def _nothing_listens(self, url: str) -> ProviderError:
        """The error for a refused connection to a server never reached: not retried.

        A refused connection is answered at once by the host: nothing listens
        at that port (the server is not started, or the URL is wrong).
        Waiting does not change that, so it is neither retried here nor by
        the engine (the error is fatal); once a server has answered, a
        refusal is a restart and is retried like any transient fault.
        """
        err = self._make_error(
            ProviderUnavailableError, "cannot connect (connection refused): nothing listens "
            "at this address", url=url,
            advice=self._advice(ProviderUnavailableError) + "; a server that is not started "
            "or a wrong URL or port is not retried")
        err.retryable = False
        err.fatal = True
        return err

    def _check_response(self, response: requests.Response, url: str):
        if response.status_code >= 400 or response.status_code < 200:
            return self._error_from_response(response, url)
        try:
            data = response.json()
        except ValueError:
            return self._make_error(
                ProviderResponseError,
                f"HTTP {response.status_code} with a body that is not JSON: "
                f"{response.text[:200]!r}",
                url=url, status=response.status_code,
            )
        err = self._error_in_body(data, url)
        return err if err is not None else _Success(data)

    def _error_in_body(self, data: Any, url: str) -> ProviderError | None:
        """An error hidden in a 2xx body; ``None`` when the body is fine."""
        return None

    def _error_from_response(self, response: requests.Response, url: str) -> ProviderError:
        try:
            body = response.json()
        except ValueError:
            body = None
        info = error_info(body, response.text)
        status = response.status_code
        cls = self._classify(status, info)
        label = info.code or info.type
        what = f"HTTP {status}" + (f" {label}" if label and label != str(status) else "")
        if info.message:
            what += f": {info.message}"
        err = self._make_error(
            cls, what, url=url, status=status, retry_after=parse_retry_after(response.headers)
        )
        err.detail = info
        return err

    def _classify(self, status: int, info: ErrorInfo) -> type[ProviderError]:
        return classify_error(status, info)

    def _advice(self, cls: type[ProviderError]) -> str:
        for klass in cls.__mro__:
            if klass in _ADVICE:
                return _ADVICE[klass].format(
                    key_hint=self.api_key_env or "the API key",
                    retries=self.max_retries,
                    connect=self.connect_timeout,
                    read=self.read_timeout,
                )
        return ""

    def _make_error(
        self,
        cls: type[ProviderError],
        what: str,
        *,
        url: str,
        status: int | None = None,
        retry_after: float | None = None,
        advice: str | None = None,
    ) -> ProviderError:
        """Build an error whose message names vendor, model and URL and says what to do.

        ``url`` may be the request URL: the message and the error's ``url``
        get it with its credentials masked.
        """
        url = redact_url(url)
        advice = self._advice(cls) if advice is None else advice
        message = f"{self.vendor} at {url} (model '{self.model}'): {what}"
        if advice:
            message += f" -- {advice}"
        if retry_after is not None:
            message += f" (server asked to wait {retry_after:g} s)"
        err = cls(self._scrub(message), provider=self.name, model=self.model, url=url,
                  status_code=status, retry_after=retry_after)
        err.detail = ErrorInfo(message=what)
        return err


@dataclass
class _Success:
    data: Any


def as_matrix(rows: list) -> "np.ndarray":
    """Embedding rows as a 2-D float array (shape ``(0, 0)`` for no rows)."""
    if not rows:
        return np.empty((0, 0), dtype=float)
    return np.asarray(rows, dtype=float)


def first_int(*values: Any) -> int | None:
    """The first value that is a number (or a one-element list of one), as int."""
    for value in values:
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, (int, float)):
            return int(value)
    return None
