"""Progress of long runs: a tqdm counter of LLM calls on a terminal, plain lines elsewhere.

The estimator reports progress as log messages (one per proposal round) and
every LLM call passes through its ``llm_log``; the CLI listens to both, so
the engine needs no callback API. tqdm is optional (the ``progress`` extra).
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any, TextIO

from ..llm.log import JsonlCallLog

__all__ = ["Progress", "CallLog"]

#: Without tqdm, a line every this many calls.
PLAIN_EVERY = 25


class Progress:
    """Counts LLM calls and shows the engine's round messages.

    Use as a context manager around the work. With ``enabled=False``
    (``--quiet``) it shows nothing but still counts.

    Parameters
    ----------
    enabled : bool
    stream : file, default=sys.stderr
    use_tqdm : bool or None, default=None
        ``None``: tqdm when it is installed and ``stream`` is a terminal.
    """

    def __init__(self, enabled: bool, stream: TextIO | None = None,
                 use_tqdm: bool | None = None) -> None:
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.use_tqdm = use_tqdm
        self.calls = 0
        self.cache_hits = 0
        self._bar: Any = None
        self._lock = threading.Lock()
        self._handler: logging.Handler | None = None
        self._old_level = logging.NOTSET

    def __enter__(self) -> "Progress":
        if self.enabled:
            self._bar = self._make_bar()
            self._handler = _MessageHandler(self)
            logger = logging.getLogger("sklearn_llmcluster")
            self._old_level = logger.level
            logger.addHandler(self._handler)
            logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._handler is not None:
            logger = logging.getLogger("sklearn_llmcluster")
            logger.removeHandler(self._handler)
            logger.setLevel(self._old_level)
            self._handler = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _make_bar(self) -> Any:
        wanted = self.use_tqdm
        if wanted is None:
            wanted = bool(getattr(self.stream, "isatty", lambda: False)())
        if not wanted:
            return None
        try:
            from tqdm import tqdm
        except ImportError:
            return None
        return tqdm(desc="LLM calls", unit=" calls", file=self.stream, leave=False,
                    dynamic_ncols=True)

    def call(self, cached: bool) -> None:
        """Count one LLM call (``cached``: answered from the response cache)."""
        with self._lock:
            self.calls += 1
            self.cache_hits += bool(cached)
            calls = self.calls
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(1)
        elif calls % PLAIN_EVERY == 0:
            self.message(f"{calls} LLM calls so far ({self.cache_hits} from the cache)")

    def message(self, text: str) -> None:
        """Show one progress line."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(text[:60])
        else:
            print(f"  {text}", file=self.stream, flush=True)


class _MessageHandler(logging.Handler):
    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        self.progress.message(record.getMessage())


class CallLog:
    """The estimator's ``llm_log``: writes ``llm_log.jsonl`` and counts calls for progress.

    Parameters
    ----------
    path : str or path-like
        JSONL file the records are appended to.
    progress : Progress
    """

    def __init__(self, path: Any, progress: Progress) -> None:
        self.file = JsonlCallLog(path)
        self.progress = progress

    def __call__(self, record: dict) -> None:
        self.file(record)
        self.progress.call(bool(record.get("cached")))
