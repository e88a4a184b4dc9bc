"""Every notebook runs from top to bottom, and none is committed with outputs.

The notebooks run in a scratch folder with no LLM configured (the autouse
fixture of conftest.py clears the environment and points the Ollama probe at
a closed port), so they use the offline engine or the scripted fake LLM.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebooks need the 'docs' extra")
nbclient = pytest.importorskip("nbclient", reason="the notebooks need the 'docs' extra")
pytest.importorskip("ipykernel", reason="the notebooks need the 'docs' extra")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EXPECTED = ["evaluation.ipynb", "llm_providers.ipynb", "quickstart.ipynb"]
CELL_TIMEOUT_S = 300


def test_the_documented_notebooks_exist():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_is_committed_without_outputs(name):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    stale = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
             and (cell.outputs or cell.execution_count is not None)]
    assert not stale, f"{name}: clear the outputs of cells {stale} before committing"


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs(name, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # files the notebook writes go here
    )
    client.execute()  # raises CellExecutionError with the cell and traceback
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert not errors
