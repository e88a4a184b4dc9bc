"""The output folder: checked before the work, written only after it succeeded.

Result files are rendered in memory and written with :mod:`..atomic_io`
(temporary file + rename) once the whole run has succeeded, so a failed or
interrupted run leaves no result file, and never half of one. The LLM log,
written call by call, goes to a hidden temporary file that is renamed at
the end. Only the response cache stays after a failure: it is what lets a
rerun resume without paying again.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from ..io.atomic import atomic_write_bytes
from ..report import build_report
from ..io.tables import write_csv
from .errors import EXIT_USAGE, CLIError

__all__ = ["OutputFolder", "RESULT_FILES", "OPTIONAL_FILES", "detach_run_resources",
           "attach_run_resources"]

#: The files every fit, update and demo writes (with the default --format csv).
RESULT_FILES = ("assignments.csv", "clusters.csv", "clusters.json", "report.html",
                "model.joblib", "llm_log.jsonl")
#: Written when asked for: trends.csv with --time-column, results.xlsx with --format xlsx.
OPTIONAL_FILES = ("trends.csv", "results.xlsx")
CACHE_FILE = "cache.sqlite"
# What a failed run leaves in --out (the cache and SQLite's side files): a
# rerun into that folder resumes without --overwrite.
_RESUMABLE = {CACHE_FILE, *(CACHE_FILE + end for end in ("-wal", "-shm", "-journal"))}


def detach_run_resources(model: Any) -> None:
    """Drop the run's cache and call log from ``model`` before it is saved.

    A saved model must not write into the folder of the run that made it
    (the folder may be moved or deleted); the CLI attaches fresh ones to
    every run with :func:`attach_run_resources`.
    """
    model.set_params(cache=None, llm_log=None)
    client = getattr(model, "client_", None)
    if client is not None:
        client.cache = None
        client.log = None


def attach_run_resources(model: Any, cache_path: str | None, call_log: Any) -> None:
    """Give a loaded model this run's cache and call log.

    The estimator builds its LLM client once, in ``fit``; ``set_params``
    alone would not reach a fitted model's client, so the client is updated too.
    """
    model.set_params(cache=cache_path, llm_log=call_log)
    client = getattr(model, "client_", None)
    if client is not None:
        if cache_path is None:
            client.cache = None
        else:
            from ..llm.cache import ResponseCache

            client.cache = ResponseCache(cache_path)
        client.log = call_log


def _default_permissions(paths: list[Path]) -> None:
    """Give result files the mode a plain ``open`` would (temporary files are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    for path in paths:
        os.chmod(path, 0o666 & ~umask)


class OutputFolder:
    """The ``--out`` folder of one run.

    Parameters
    ----------
    path : str or path-like
    csv_delimiter : str, default=","
        Field delimiter of ``assignments.csv`` (``--out-delimiter``).
    excel_safe : bool, default=False
        Put a ``'`` before texts Excel would run as formulas (``--excel-safe``).
    overwrite : bool, default=False
        Write into a folder that already holds files (``--overwrite``);
        without it such a folder is refused before any work. The response
        cache alone does not count: it is what a rerun after a failure resumes from.
    table_format : {"csv", "xlsx"}, default="csv"
        The tables as CSV files, or as sheets of one ``results.xlsx``.
    """

    def __init__(self, path: str | os.PathLike, *, csv_delimiter: str = ",",
                 excel_safe: bool = False, overwrite: bool = False,
                 table_format: str = "csv") -> None:
        self.path = Path(path)
        self.csv_delimiter = csv_delimiter
        self.excel_safe = excel_safe
        self.overwrite = overwrite
        self.table_format = table_format
        self._created = False
        self._staged_log: Path | None = None

    def __repr__(self) -> str:
        return f"OutputFolder({str(self.path)!r})"

    def prepare(self, names: tuple[str, ...] = RESULT_FILES + OPTIONAL_FILES) -> None:
        """Create the folder and check it is writable, before any work is done.

        Raises
        ------
        CLIError
            When the folder cannot be created or written, or a result name is
            taken by a folder; with exit code 2 when it holds files and
            ``overwrite`` is not set.
        """
        if self.path.exists() and not self.path.is_dir():
            raise CLIError(f"output folder {self.path} is a file, not a folder")
        if not self.overwrite and self.path.is_dir():
            taken = sorted(p.name for p in self.path.iterdir() if p.name not in _RESUMABLE)
            if taken:
                shown = ", ".join(taken[:3]) + (f" and {len(taken) - 3} more"
                                                if len(taken) > 3 else "")
                raise CLIError(f"output folder {self.path} is not empty ({shown}); pass "
                               "--overwrite to replace its results, or choose another --out",
                               exit_code=EXIT_USAGE)
        self._created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".llmcluster-probe-", dir=self.path)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise CLIError(f"cannot write to output folder {self.path}: "
                           f"{exc.strerror or exc}") from None
        for name in names:
            if (self.path / name).is_dir():
                raise CLIError(f"cannot write {self.path / name}: a folder has that name")

    def cache_path(self) -> str:
        """Default response cache file: ``<out>/cache.sqlite``."""
        return str(self.path / CACHE_FILE)

    def staged_log(self) -> Path:
        """Hidden file the run's LLM log is written to until :meth:`commit`."""
        if self._staged_log is None:
            fd, name = tempfile.mkstemp(prefix=".llm_log.jsonl.", suffix=".partial", dir=self.path)
            os.close(fd)
            self._staged_log = Path(name)
        return self._staged_log

    def write_results(self, model: Any, assignments: pd.DataFrame, *, full: bool = True,
                      report_options: dict | None = None,
                      trends: pd.DataFrame | None = None) -> list[Path]:
        """Write the result files; everything is rendered before the first file is written.

        Parameters
        ----------
        model : LLMClusterer
            Fitted; its run cache and log are detached before it is saved.
        assignments : pandas.DataFrame
        full : bool, default=True
            Also the clusters (``clusters.json``, ``clusters.csv``),
            ``report.html`` and ``model.joblib`` (``predict`` changes no
            cluster and writes only assignments, trends and log).
        report_options : dict, optional
            Passed to :func:`~sklearn_llmcluster.report.build_report`.
        trends : pandas.DataFrame, optional
            :func:`~sklearn_llmcluster.report.trends` of the run: ``trends.csv``.

        Returns
        -------
        list of Path
            The files written.
        """
        from ..io.assignments import clusters_frame
        from ..io.atomic import atomic_write_text

        tables = {"assignments": assignments}
        if full:
            tables["clusters"] = clusters_frame(model.clusters_)
        if trends is not None:
            tables["trends"] = trends
        workbook = None
        if self.table_format == "xlsx":
            from ..io.tables import write_workbook

            # Rendered (and openpyxl checked for) before any file is written.
            workbook = io.BytesIO()
            write_workbook(tables, workbook, excel_safe_cells=self.excel_safe)
        if full:
            report = build_report(model, **(report_options or {}))
            detach_run_resources(model)
            buffer = io.BytesIO()
            joblib.dump(model, buffer)
        written = []
        if workbook is not None:
            atomic_write_bytes(self.path / "results.xlsx", workbook.getvalue())
            written.append(self.path / "results.xlsx")
        else:
            for name, table in tables.items():
                write_csv(table, self.path / f"{name}.csv", delimiter=self.csv_delimiter,
                          excel_safe_cells=self.excel_safe)
                written.append(self.path / f"{name}.csv")
        if full:
            model.save_clusters(self.path / "clusters.json")
            atomic_write_text(self.path / "report.html", report)
            atomic_write_bytes(self.path / "model.joblib", buffer.getvalue())
            written += [self.path / name
                        for name in ("clusters.json", "report.html", "model.joblib")]
        log = self.path / "llm_log.jsonl"
        os.replace(self.staged_log(), log)
        self._staged_log = None
        written.append(log)
        _default_permissions(written)
        return written

    def abandon(self) -> None:
        """After a failure: remove the staged log, and the folder if this run created it empty."""
        if self._staged_log is not None:
            try:
                self._staged_log.unlink()
            except OSError:
                pass
            self._staged_log = None
        if self._created:
            try:
                self.path.rmdir()  # only succeeds when empty: a cache stays for the rerun
            except OSError:
                pass
