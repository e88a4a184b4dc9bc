"""Result files are written atomically: the old file or the whole new one, never half."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sklearn_llmcluster import LLMClusterer
from sklearn_llmcluster.io.atomic import atomic_open, atomic_write_bytes, atomic_write_text
from sklearn_llmcluster.testing import ScriptedProvider

ROOT = Path(__file__).resolve().parents[1]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_a_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "labels.csv"
    target.write_text("old\n", encoding="utf-8")
    atomic_write_text(target, "new ✓\n")
    assert target.read_text(encoding="utf-8") == "new ✓\n"
    atomic_write_bytes(tmp_path / "model.joblib", b"\x00\x01")
    assert (tmp_path / "model.joblib").read_bytes() == b"\x00\x01"
    assert leftovers(tmp_path) == []


def test_an_exception_mid_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "labels.csv"
    target.write_text("old complete file\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_open(target) as fh:
            fh.write("half of the new")
            fh.flush()
            assert len(leftovers(tmp_path)) == 1  # the new text went to a temporary
            raise RuntimeError("disk on fire")
    assert target.read_text(encoding="utf-8") == "old complete file\n"
    assert leftovers(tmp_path) == []


def test_an_encoding_error_mid_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "report.html"
    atomic_write_text(target, "<p>old</p>")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(target, "<p>new " + "x" * 100_000 + "\ud800</p>")
    assert target.read_text(encoding="utf-8") == "<p>old</p>"
    assert leftovers(tmp_path) == []


def test_no_file_appears_when_the_first_write_fails(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(tmp_path / "new.csv") as fh:
            fh.write("partial")
            raise KeyboardInterrupt  # Ctrl-C is no Exception, and is cleaned up too
    assert list(tmp_path.iterdir()) == []


def test_save_clusters_that_fails_keeps_the_previous_clusters_file(tmp_path):
    model = LLMClusterer(provider=ScriptedProvider(), random_state=0).fit(
        ["card blocked", "card lost", "login fails"])
    path = tmp_path / "clusters.json"
    model.save_clusters(path)
    before = path.read_bytes()
    model.registry_.clusters[0].examples.append("broken \ud800 text")  # cannot be UTF-8
    with pytest.raises(UnicodeEncodeError):
        model.save_clusters(path)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_permissions_are_those_of_the_old_file_or_of_a_plain_new_file(tmp_path):
    target = tmp_path / "shared.csv"
    target.write_text("old", encoding="utf-8")
    os.chmod(target, 0o640)
    atomic_write_text(target, "new")
    assert os.stat(target).st_mode & 0o777 == 0o640
    fresh = tmp_path / "fresh.csv"
    atomic_write_text(fresh, "x")
    plain = tmp_path / "plain.csv"
    plain.write_text("x", encoding="utf-8")
    # Not mkstemp's private 0o600: others may read results as they could any file.
    assert os.stat(fresh).st_mode & 0o777 == os.stat(plain).st_mode & 0o777


_WRITER = textwrap.dedent("""
    import importlib.util, sys
    # The module alone: importing the package (scikit-learn ...) would take seconds.
    spec = importlib.util.spec_from_file_location("atomic_io", sys.argv[2])
    atomic_io = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(atomic_io)
    atomic_open = atomic_io.atomic_open
    chunk = ("x" * 1023 + "\\n") * 1024          # 1 MiB
    with atomic_open(sys.argv[1]) as fh:
        for i in range(10_000):                     # up to 10 GiB: killed long before
            fh.write(chunk)
            fh.flush()
    """)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("had_old_file", [True, False])
def test_a_writer_killed_mid_write_leaves_the_old_file_or_none(tmp_path, had_old_file):
    target = tmp_path / "labels.csv"
    if had_old_file:
        target.write_text("old complete file\n", encoding="utf-8")
    module = ROOT / "sklearn_llmcluster" / "io" / "atomic.py"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target), str(module)])
    try:
        deadline = time.monotonic() + 20
        # Kill it once the temporary holds a few MiB: mid-write for sure.
        while time.monotonic() < deadline:
            tmp = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
            if tmp and tmp[0].stat().st_size > 4 * 2**20:
                break
            assert proc.poll() is None, "writer ended before it could be killed"
            time.sleep(0.005)
        else:
            pytest.fail("the writer never started writing")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    if had_old_file:
        assert target.read_text(encoding="utf-8") == "old complete file\n"
    else:
        assert not target.exists()
