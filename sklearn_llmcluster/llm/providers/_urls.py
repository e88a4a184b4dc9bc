"""URLs without their secrets: what may be shown of a server URL.

A server URL may carry credentials: a user name and password
(``http://user:pass@host/v1``) or a secret query parameter
(``?api_key=...``, ``?key=...``, ``?token=...``, ``?sig=...``). They are
needed to make the request and nowhere else, so every URL that reaches a
``repr``, a log line, an exception message or attribute or a pickle goes
through :func:`redact_url` first (free text that may embed URLs, such as
requests' own exception messages or an error body that echoes the request,
through :func:`redact_urls_in_text`).

Only the standard library is used, so :mod:`sklearn_llmcluster.exceptions`
can apply the same rules to every error it builds.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import unquote_plus, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "redact_url",
    "redact_urls_in_text",
    "is_secret_param",
    "url_secrets",
    "join_url",
    "hide_url_secrets_in_logs",
]

#: What a secret is replaced with.
MASK = "***"

# Query parameter names, split into words on "-", "_" and ".", that hold a
# secret: "api_key", "x-api-key", "key", "token", "sig" (Azure SAS) ...
_SECRET_WORDS = frozenset({
    "key", "apikey", "token", "secret", "password", "passwd", "pwd", "pass", "auth",
    "sig", "signature", "credential", "credentials", "session", "sessionid", "jwt",
    "bearer", "cookie",
})
# ... or contain one of these anywhere ("accessToken", "clientSecret", "apiKey").
_SECRET_PARTS = ("token", "secret", "passw", "apikey", "credential")

# In free text: "scheme://userinfo@" (the user info may hold an unescaped "@")
# and "?name=value" / "&name=value" / ";name=value" pairs.
_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)(?:[^\s/?#@'\"<>]*@)+")
_PARAM_RE = re.compile(r"([?&;])([^\s=&;#?'\"<>()]+)=([^\s&;#'\"<>()]*)")

# Loggers of the HTTP stack that write request paths (query string included).
_STACK_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry")
_filter_lock = threading.Lock()
_filter_installed = False


def is_secret_param(name: str) -> bool:
    """Whether a query parameter called ``name`` holds a secret.

    Parameters
    ----------
    name : str
        The parameter name, percent-encoded or not.

    Returns
    -------
    bool

    Examples
    --------
    >>> is_secret_param("api_key"), is_secret_param("X-Api-Key"), is_secret_param("token")
    (True, True, True)
    >>> is_secret_param("api-version")
    False
    """
    text = unquote_plus(name).strip().lower()
    words = set(re.split(r"[-_.\s\d]+", text))
    return bool(words & _SECRET_WORDS) or any(part in text for part in _SECRET_PARTS)


def _mask_query(query: str, *, strip: bool) -> str:
    """``query`` with secret values masked (or, with ``strip``, their pairs dropped).

    Pairs that hold no secret are kept byte for byte.
    """
    if not query:
        return query
    pairs = []
    for pair in re.split(r"([&;])", query):
        if pair in ("&", ";"):
            pairs.append(pair)
            continue
        name, eq, _ = pair.partition("=")
        if eq and is_secret_param(name):
            if strip:
                continue
            pair = f"{name}={MASK}"
        pairs.append(pair)
    # Separators left next to each other (or at an end) by dropped pairs.
    return re.sub(r"[&;]{2,}", "&", "".join(pairs)).strip("&;")


def redact_url(url, *, strip: bool = False):
    """``url`` as it may be shown: no user info, no secret query values.

    The user info becomes ``***@`` and the value of every secret query
    parameter (see :func:`is_secret_param`) ``***``; the rest of the URL is
    left as it was. Applying it twice changes nothing more.

    Parameters
    ----------
    url : str or None
        Any URL; anything that is not a non-empty string is returned as is.
    strip : bool, default=False
        Remove the user info and the secret parameters instead of masking
        them, giving a URL that can still be requested (without credentials).

    Returns
    -------
    str or None

    Examples
    --------
    >>> redact_url("http://user:pass@10.0.0.2:8000/v1?api-version=2&api_key=abc")
    'http://***@10.0.0.2:8000/v1?api-version=2&api_key=***'
    >>> redact_url("http://user:pass@host/v1?key=abc", strip=True)
    'http://host/v1'
    """
    if not isinstance(url, str) or not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed IPv6 host, say
        return redact_urls_in_text(url, strip=strip)
    netloc = parts.netloc
    if "@" in netloc:
        host = netloc.rpartition("@")[2]
        netloc = host if strip else f"{MASK}@{host}"
    elif not parts.netloc and "@" in url.split("/", 1)[0]:
        # "user:pass@host/v1", without a scheme: urlsplit finds no host.
        return _redact_schemeless(url, strip=strip)
    query = _mask_query(parts.query, strip=strip)
    # A fragment never reaches the server, but OAuth puts tokens there.
    fragment = _mask_query(parts.fragment, strip=strip)
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def _redact_schemeless(url: str, *, strip: bool) -> str:
    """``"user:pass@host/v1"`` (no scheme) without its user info."""
    head, slash, tail = url.partition("/")
    host = head.rpartition("@")[2]
    return redact_urls_in_text((host if strip else f"{MASK}@{host}") + slash + tail,
                               strip=strip)


def redact_urls_in_text(text, *, strip: bool = False):
    """``text`` with the secrets of every URL in it masked.

    For messages that embed URLs or request paths: requests' and urllib3's
    exception messages (``"... Max retries exceeded with url:
    /v1/chat/completions?key=... (Caused by ...)"``), log lines, error bodies
    that echo the request. User info after ``scheme://`` becomes ``***@``
    and the value of a secret query parameter ``***``, the same rules as
    :func:`redact_url`.

    Parameters
    ----------
    text : str or None
        Anything that is not a non-empty string is returned as is.
    strip : bool, default=False
        Remove the user info and the secret parameters instead of masking them.

    Returns
    -------
    str or None

    Examples
    --------
    >>> redact_urls_in_text("GET http://u:p@h/x?token=abc&n=2 failed")
    'GET http://***@h/x?token=***&n=2 failed'
    """
    if not isinstance(text, str) or not text:
        return text

    def param(match: re.Match) -> str:
        sep, name, _ = match.groups()
        if not is_secret_param(name):
            return match.group(0)
        return "" if strip else f"{sep}{name}={MASK}"

    text = _USERINFO_RE.sub(lambda m: m.group(1) + ("" if strip else f"{MASK}@"), text)
    return _PARAM_RE.sub(param, text)


def url_secrets(url) -> list[str]:
    """The secret strings ``url`` carries, to scrub from text that echoes them.

    The password (or the user name when there is no password: a token used
    as user name), and the values of secret query parameters, each as written
    and percent-decoded. Values shorter than 4 characters (8 for a user name
    alone, which is more often a plain word) are left out: they would mangle
    unrelated text and reveal little.

    Parameters
    ----------
    url : str or None

    Returns
    -------
    list of str
        Longest first, so a secret that contains another is replaced whole.
    """
    if not isinstance(url, str) or not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[tuple[str, int]] = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        user, colon, password = userinfo.partition(":")
        found.append((password, 4) if colon else (user, 8))
    for query in (parts.query, parts.fragment):
        for pair in re.split(r"[&;]", query):
            name, eq, value = pair.partition("=")
            if eq and is_secret_param(name):
                found.append((value, 4))
    values = {v for raw, shortest in found for v in (raw, unquote_plus(raw))
              if len(v) >= shortest}
    return sorted(values, key=len, reverse=True)


def join_url(base: str, path: str) -> str:
    """``base`` with ``path`` appended to its path, before any query string.

    Parameters
    ----------
    base : str
        Such as ``"http://host:8000/v1?api-version=2"``.
    path : str
        Such as ``"/chat/completions"``.

    Returns
    -------
    str

    Examples
    --------
    >>> join_url("http://host/v1?key=abc", "/chat/completions")
    'http://host/v1/chat/completions?key=abc'
    """
    if "?" not in base and "#" not in base:
        return base + path
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + path, fragment=""))


class _RedactURLSecrets(logging.Filter):
    """Masks URL secrets in the records of the logger it is added to."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is logging's business, not ours
            return True
        clean = redact_urls_in_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def hide_url_secrets_in_logs() -> None:
    """Mask URL secrets in urllib3's debug lines, which show request paths.

    urllib3 logs ``"POST /v1/chat/completions?key=... HTTP/1.1" 200`` at
    DEBUG; a filter on its loggers masks the secret query values (user info
    never reaches them: requests turns it into an ``Authorization`` header).
    Installed once, by the first provider whose URL carries a secret.
    """
    global _filter_installed
    with _filter_lock:
        if _filter_installed:
            return
        for name in _STACK_LOGGERS:
            logging.getLogger(name).addFilter(_RedactURLSecrets())
        _filter_installed = True
