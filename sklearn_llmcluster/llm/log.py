"""``llm_log.jsonl``: one JSON line per LLM call, for audits and debugging."""

from __future__ import annotations

import json
import os
import threading
import time

__all__ = ["JsonlCallLog"]


class JsonlCallLog:
    """Appends one JSON object per LLM call to a file; safe across threads.

    The records come from :class:`~sklearn_llmcluster.llm.client.LLMClient`,
    which passes the redacted messages only and never a key.

    Parameters
    ----------
    path : str or path-like
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = str(path)
        self._lock = threading.Lock()

    def __call__(self, record: dict) -> None:
        line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **record},
                          ensure_ascii=False, default=str)
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def __getstate__(self) -> dict:
        return {"path": self.path}

    def __setstate__(self, state: dict) -> None:
        self.path = state["path"]
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"JsonlCallLog({self.path!r})"
