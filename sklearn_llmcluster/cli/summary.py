"""The short text summary printed after a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pandas as pd

__all__ = ["summary_lines"]

_NAME_WIDTH = 48


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def summary_lines(assignments: pd.DataFrame, *, model: Any, out: Path,
                  files: Sequence[Path], verb: str = "Clustered", top: int = 10,
                  new_ids: Sequence[str] = (), calls: int = 0, cache_hits: int = 0,
                  provider: str = "") -> list[str]:
    """Lines describing a finished run: coverage, the largest clusters, the files.

    Parameters
    ----------
    assignments : pandas.DataFrame
        The run's ``assignments.csv`` table.
    model : LLMClusterer
    out : Path
        The output folder.
    files : sequence of Path
        Files written.
    verb : str, default="Clustered"
    top : int, default=10
        Clusters listed.
    new_ids : sequence of str
        Clusters to list as new.
    calls, cache_hits : int
        LLM calls of the run, and how many the cache answered.
    provider : str
        How the LLM is described.

    Returns
    -------
    list of str
    """
    n = len(assignments)
    assigned = int(assignments["cluster_id"].notna().sum())
    empty = int((assignments["status"] == "empty").sum())
    coverage = assigned / n if n else 0.0
    counts = assignments.dropna(subset=["cluster_id"]).groupby(
        ["cluster_id", "cluster_name"], sort=False).size().sort_values(
            ascending=False, kind="stable")
    empty_note = f", {empty} empty" if empty else ""
    used = f"{len(counts)}" if len(counts) == model.n_clusters_ else \
        f"{len(counts)} of the model's {model.n_clusters_}"
    lines = [f"{verb} {n} requests into {used} clusters, "
             f"coverage {coverage:.1%} ({assigned} assigned{empty_note})."]
    if len(counts):
        new = set(new_ids)
        lines.append(f"  {'#':>3}  {'size':>5}  {'share':>6}  cluster")
        for rank, ((cid, name), size) in enumerate(counts.head(top).items(), start=1):
            mark = "  [new]" if cid in new else ""
            lines.append(f"  {rank:>3}  {size:>5}  {size / n:>6.1%}  "
                         f"{_clip(name, _NAME_WIDTH)}{mark}")
        if len(counts) > top:
            lines.append(f"  ... and {len(counts) - top} more clusters")
    if new_ids:
        names = ", ".join(_clip(model.registry_.get(cid).name, 40) for cid in new_ids)
        lines.append(f"New clusters ({len(new_ids)}): {names}")
    plural = "" if calls == 1 else "s"
    lines.append(f"LLM: {provider}; {calls} call{plural}, {cache_hits} answered from the cache.")
    lines.append(f"Files in {out}/: " + ", ".join(p.name for p in files))
    if any(p.name == "report.html" for p in files):
        lines.append(f"Open {out / 'report.html'} in a browser.")
    return lines
