"""Resumable runs: a run that dies half-way finishes from the response cache, paying once.

"Paying once" is checked exactly: the calls answered before the crash plus
the calls of the rerun equal the calls of one uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from synthetic_requests import intent_requests

from sklearn_llmcluster import LLMClusterer, QuotaExceededError
from sklearn_llmcluster.llm import cache as cache_module
from sklearn_llmcluster.llm.cache import ResponseCache
from sklearn_llmcluster.testing import ScriptedProvider

ROOT = Path(__file__).resolve().parents[1]
# TF-IDF vectors: a cached embedder's vectors would share the file with the answers counted here.
PARAMS = dict(random_state=0, batch_size=6, proposal_size=15, max_new_clusters=2,
              embedder="tfidf")


def texts_for_resume() -> list[str]:
    # Enough texts for a run of more than 8 calls, proposal rounds in parallel or not.
    texts, _ = intent_requests(24)
    return texts


class DiesAfter(ScriptedProvider):
    """Answers ``k`` calls, then raises ``error`` on every call (the run dies)."""

    def __init__(self, k: int, error: BaseException) -> None:
        super().__init__()
        self.k = k
        self.error = error
        self.answered = 0
        self._answer_lock = threading.Lock()

    def complete(self, messages, **kw):
        with self._answer_lock:
            if self.answered >= self.k:
                raise self.error
            self.answered += 1
        return super().complete(messages, **kw)


@pytest.fixture(scope="module")
def clean_run():
    texts = texts_for_resume()
    provider = ScriptedProvider()
    model = LLMClusterer(provider=provider, **PARAMS).fit(texts)
    assert provider.calls > 8
    return texts, model.labels_, provider.calls


@pytest.mark.parametrize("error", [
    QuotaExceededError("credits exhausted", provider="scripted"),  # fatal: stops the run
    KeyboardInterrupt(),  # Ctrl-C
])
@pytest.mark.parametrize("n_jobs", [1, 4])
def test_a_run_that_dies_resumes_with_the_same_result_and_no_repeated_calls(
        tmp_path, clean_run, error, n_jobs):
    texts, labels, total_calls = clean_run
    cache = tmp_path / "cache.sqlite"
    dying = DiesAfter(total_calls // 2, error)
    with pytest.raises(type(error)):
        LLMClusterer(provider=dying, cache=cache, n_jobs=n_jobs, **PARAMS).fit(texts)
    assert len(ResponseCache(cache)) == dying.answered == total_calls // 2

    provider = ScriptedProvider()
    resumed = LLMClusterer(provider=provider, cache=cache, n_jobs=n_jobs, **PARAMS).fit(texts)
    assert np.array_equal(resumed.labels_, labels)
    assert resumed.llm_usage_.cache_hits == dying.answered
    assert provider.calls == total_calls - dying.answered


def _run_in_subprocess(tmp_path: Path, body: str, *args: str) -> subprocess.Popen:
    """Start ``python run.py args`` in ``tmp_path`` with the repository and tests importable."""
    tmp_path.mkdir(exist_ok=True)
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import json, os, signal, sys, time
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "tests")!r}]
        from sklearn_llmcluster import LLMClusterer
        from sklearn_llmcluster.testing import ScriptedProvider
        from test_cache_resume import PARAMS, texts_for_resume
        """) + textwrap.dedent(body), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    return subprocess.Popen([sys.executable, str(script), *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow  # each starts Python processes that import scikit-learn
def test_a_process_killed_with_sigkill_resumes_from_its_cache(tmp_path, clean_run):
    texts, labels, total_calls = clean_run
    cache = tmp_path / "cache.sqlite"
    k = total_calls // 3
    # The provider kills its own process (SIGKILL: no cleanup, no flush) when
    # asked call k + 1, so exactly k answers were made before the crash.
    proc = _run_in_subprocess(tmp_path, """
        class KillsItself(ScriptedProvider):
            def complete(self, messages, **kw):
                if self.calls >= int(sys.argv[2]):
                    os.kill(os.getpid(), signal.SIGKILL)
                return super().complete(messages, **kw)

        LLMClusterer(provider=KillsItself(), cache=sys.argv[1], n_jobs=1, **PARAMS).fit(
            texts_for_resume())
        """, str(cache), str(k))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err
    assert len(ResponseCache(cache)) == k

    provider = ScriptedProvider()
    resumed = LLMClusterer(provider=provider, cache=cache, n_jobs=1, **PARAMS).fit(texts)
    assert np.array_equal(resumed.labels_, labels)
    assert provider.calls == total_calls - k


@pytest.mark.slow
def test_a_process_killed_from_outside_mid_run_resumes_from_its_cache(tmp_path, clean_run):
    texts, labels, total_calls = clean_run
    cache = tmp_path / "cache.sqlite"
    proc = _run_in_subprocess(tmp_path, """
        class Slow(ScriptedProvider):
            def complete(self, messages, **kw):
                time.sleep(0.2)
                return super().complete(messages, **kw)

        LLMClusterer(provider=Slow(), cache=sys.argv[1], n_jobs=2, **PARAMS).fit(
            texts_for_resume())
        """, str(cache))
    deadline = time.monotonic() + 120
    while not (cache.exists() and len(ResponseCache(cache)) >= 3):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    answered = len(ResponseCache(cache))
    assert 3 <= answered < total_calls

    provider = ScriptedProvider()
    resumed = LLMClusterer(provider=provider, cache=cache, n_jobs=2, **PARAMS).fit(texts)
    assert np.array_equal(resumed.labels_, labels)
    assert provider.calls == total_calls - answered


@pytest.mark.slow
def test_two_processes_can_share_one_cache_file(tmp_path, clean_run):
    texts, labels, total_calls = clean_run
    cache = tmp_path / "cache.sqlite"
    body = """
        class Slow(ScriptedProvider):
            def complete(self, messages, **kw):
                time.sleep(0.02)
                return super().complete(messages, **kw)

        model = LLMClusterer(provider=Slow(), cache=sys.argv[1], n_jobs=4, **PARAMS)
        model.fit(texts_for_resume())
        print(json.dumps(model.labels_.tolist()))
        """
    procs = [_run_in_subprocess(tmp_path / name, body, str(cache)) for name in ("a", "b")]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert json.loads(out) == labels.tolist()
    # Between them they answered every call at least once; a third run pays nothing.
    assert len(ResponseCache(cache)) == total_calls
    provider = ScriptedProvider()
    third = LLMClusterer(provider=provider, cache=cache, **PARAMS).fit(texts)
    assert provider.calls == 0 and np.array_equal(third.labels_, labels)


@pytest.mark.slow
def test_cache_survives_concurrent_writers_in_two_processes(tmp_path):
    cache = tmp_path / "cache.sqlite"
    body = """
        from sklearn_llmcluster.llm.cache import ResponseCache
        cache = ResponseCache(sys.argv[1])
        for i in range(300):
            cache.set(f"key-{i}", f"answer-{i}")
            assert cache.get(f"key-{i}") == f"answer-{i}"
        """
    procs = [_run_in_subprocess(tmp_path / name, body, str(cache)) for name in ("a", "b")]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    reader = ResponseCache(cache)
    assert len(reader) == 300
    assert all(reader.get(f"key-{i}") == f"answer-{i}" for i in range(300))


def test_cache_without_random_state_warns_that_reruns_will_miss(tmp_path):
    from sklearn_llmcluster import LLMClusterWarning

    with pytest.warns(LLMClusterWarning, match="random_state"):
        LLMClusterer(provider=ScriptedProvider(), cache=tmp_path / "c.sqlite").fit(["card a"])


class _LockedWhileSwitching(sqlite3.Connection):
    """A connection that meets another process's WAL switch ``failures`` times."""

    failures = 0

    def execute(self, sql, *args):
        if sql == "PRAGMA journal_mode=WAL" and type(self).failures > 0:
            type(self).failures -= 1
            raise sqlite3.OperationalError("database is locked")
        return super().execute(sql, *args)


def _connect_locked(monkeypatch, failures: int) -> None:
    _LockedWhileSwitching.failures = failures
    real_connect = sqlite3.connect
    monkeypatch.setattr(cache_module.sqlite3, "connect",
                        lambda *a, **kw: real_connect(*a, factory=_LockedWhileSwitching, **kw))


def test_cache_waits_out_another_process_switching_the_file_to_wal(tmp_path, monkeypatch):
    # SQLite reports this lock at once instead of calling its busy handler,
    # which is how two processes opening one new cache file used to fail.
    _connect_locked(monkeypatch, failures=3)
    cache = ResponseCache(tmp_path / "cache.sqlite", timeout=5)
    assert _LockedWhileSwitching.failures == 0
    cache.set("k", "v")
    assert cache.get("k") == "v"


def test_cache_gives_up_on_a_lock_that_outlasts_its_timeout(tmp_path, monkeypatch):
    _connect_locked(monkeypatch, failures=10**6)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        ResponseCache(tmp_path / "cache.sqlite", timeout=0.05)


@pytest.mark.parametrize("content", [b"x\n", b"text,label\ncard,1\n"])
def test_a_file_that_is_not_a_cache_is_refused_with_its_name_and_the_fix(tmp_path, content):
    path = tmp_path / "cache.sqlite"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"cache\.sqlite.*not a cache file.*Delete it"):
        ResponseCache(path)


def test_a_folder_as_cache_path_is_refused_as_a_folder(tmp_path):
    with pytest.raises(ValueError, match="is a folder; give a file path"):
        ResponseCache(tmp_path)
