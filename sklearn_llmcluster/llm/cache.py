"""A content-addressed, on-disk cache of LLM responses (SQLite).

Keys are hashes of provider, model, messages, schema and sampling parameters
(see :meth:`LLMClient._cache_key`), so a rerun of the same work replays
answers instead of paying for them again, and a run that died half-way
resumes where it stopped. Safe for many threads and for several processes
sharing one file (WAL journal, one connection per thread).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

__all__ = ["ResponseCache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    response TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
)
"""


class ResponseCache:
    """SQLite-backed response cache.

    Parameters
    ----------
    path : str or path-like
        Database file; created with its folder if missing.
    timeout : float, default=30.0
        Seconds to wait for another process's write lock.

    Examples
    --------
    >>> import tempfile, os
    >>> cache = ResponseCache(os.path.join(tempfile.mkdtemp(), "llm.sqlite"))
    >>> cache.get("k") is None
    True
    >>> cache.set("k", '{"clusters": []}')
    >>> cache.get("k")
    '{"clusters": []}'
    """

    def __init__(self, path: str | os.PathLike, timeout: float = 30.0) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._local = threading.local()
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        if Path(self.path).is_dir():
            raise ValueError(f"the response cache {self.path!r} is a folder; give a file path "
                             "such as cache.sqlite")
        try:
            self._connection()  # fail early on an unusable path
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc).lower():
                raise
            raise ValueError(
                f"the response cache {self.path!r} cannot be used ({exc}); it is not a cache "
                "file written by sklearn_llmcluster, or it is damaged. Delete it (the run "
                "then pays for its calls again) or point the cache elsewhere") from None

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                   check_same_thread=False)
            self._prepare(conn)
            self._local.conn = conn
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        # Switching a new file to WAL needs an exclusive lock, and SQLite
        # answers "database is locked" at once (its busy handler is not
        # consulted) when another process is doing the same switch. So wait
        # and retry here, up to ``timeout``, like every other locked write.
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                message = str(exc).lower()
                if ("locked" not in message and "busy" not in message) \
                        or time.monotonic() >= deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

    def get(self, key: str) -> str | None:
        """The cached response for ``key``, or ``None``."""
        row = self._connection().execute(
            "SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set(self, key: str, response: str) -> None:
        """Store ``response`` under ``key`` (the first answer stored wins)."""
        self._connection().execute(
            "INSERT OR IGNORE INTO responses (key, response) VALUES (?, ?)", (key, response))

    def __len__(self) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def __getstate__(self) -> dict:
        # Connections do not pickle; the path is enough to reopen.
        return {"path": self.path, "timeout": self.timeout}

    def __setstate__(self, state: dict) -> None:
        self.path = state["path"]
        self.timeout = state["timeout"]
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"ResponseCache({self.path!r})"
