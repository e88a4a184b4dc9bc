"""The code keeps the style setup.cfg sets ([flake8]): one command, no exceptions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_flake8_is_clean():
    pytest.importorskip("flake8", reason="pip install -e '.[test]' installs flake8")
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "sklearn_llmcluster", "tests", "benchmarks"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
