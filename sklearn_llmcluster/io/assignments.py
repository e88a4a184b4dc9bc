"""One row per request: which cluster it went to, as the CLI and the DataFrame API report it."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ..records import Cluster
from ..representation.normalization import is_blank

__all__ = ["ASSIGNMENT_COLUMNS", "CATEGORY_COLUMNS", "STATUSES", "assignments_frame",
           "clusters_frame", "generated_ids", "new_batch_id", "INPUT_PREFIX"]

#: Put in front of a kept input column whose name is one of ours (``status``,
#: the ``cluster_id`` of an earlier run's file): ``input_status``.
INPUT_PREFIX = "input_"

#: Columns of ``assignments.csv`` and of ``ClusteringResult.assignments``.
ASSIGNMENT_COLUMNS = ["request_id", "text", "cluster_id", "cluster_name", "kind", "status"]
#: Columns added after ``kind`` when categories are given (the CLI's assignments.csv).
CATEGORY_COLUMNS = ["category_id", "category_name"]

#: What the ``status`` column can say about a row.
STATUSES = {
    "assigned": "in a cluster that existed before this run (every cluster, after a fresh fit)",
    "new_cluster": "in a cluster this run created on top of an existing model (update)",
    "kept": "kept the cluster it had in previous_assignments (ClusteringPipeline.refit)",
    "unassigned": "no cluster fits the request (label -1)",
    "empty": "the text is empty, so it was not clustered (label -1)",
}


def new_batch_id() -> str:
    """A fresh batch id: ``batch-<UTC date>-<UTC time>-<4 hex digits>``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"batch-{stamp}-{secrets.token_hex(2)}"


def generated_ids(batch_id: str, positions: Iterable[int]) -> list[str]:
    """Request ids ``req-{batch_id}-{position}`` for rows that have none."""
    return [f"req-{batch_id}-{i}" for i in positions]


def assignments_frame(
    request_ids: Sequence[str],
    texts: Sequence[str],
    labels: Sequence[int] | np.ndarray,
    clusters: Sequence[Cluster],
    *,
    new_cluster_ids: Iterable[str] = (),
    extra: pd.DataFrame | None = None,
    categories: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Build the per-request result table.

    Parameters
    ----------
    request_ids, texts : sequence of str
        One per row.
    labels : array-like of int
        Label per row (index into ``clusters``; -1 for none).
    clusters : sequence of Cluster
        The model's clusters, ``clusters[k]`` for label ``k``.
    new_cluster_ids : iterable of str, default=()
        Clusters to report as ``"new_cluster"``; pass the run's new ids only
        when the model existed before the run.
    extra : pandas.DataFrame, optional
        Input columns to keep (date, channel, operator ...), one row per
        request in the same order; they follow :data:`ASSIGNMENT_COLUMNS`,
        with :data:`INPUT_PREFIX` in front of a name that is one of those.
    categories : sequence of Category, optional
        The model's categories (``categories_``); when given, the columns
        :data:`CATEGORY_COLUMNS` follow ``cluster_name`` (``None`` where the
        request's cluster is in no category, or it has no cluster).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ASSIGNMENT_COLUMNS`, then those of ``extra``;
        ``cluster_id``, ``cluster_name`` and ``kind`` (``"topic"``, or
        ``"no_intent"`` for greetings, thanks and noise) are ``None`` where
        the request has no cluster.
    """
    if not len(request_ids) == len(texts) == len(labels):
        raise ValueError(
            f"request_ids, texts and labels differ in length: "
            f"{len(request_ids)}, {len(texts)}, {len(labels)}")
    new = set(new_cluster_ids)
    cluster_ids, names, kinds, statuses = [], [], [], []
    for text, label in zip(texts, labels):
        label = int(label)
        if label < 0:
            cluster_ids.append(None)
            names.append(None)
            kinds.append(None)
            statuses.append("empty" if is_blank(text) else "unassigned")
            continue
        cluster = clusters[label]
        cluster_ids.append(cluster.id)
        names.append(cluster.name)
        kinds.append(cluster.kind)
        statuses.append("new_cluster" if cluster.id in new else "assigned")
    columns = {
        "request_id": list(request_ids),
        "text": list(texts),
        "cluster_id": pd.Series(cluster_ids, dtype=object),
        "cluster_name": pd.Series(names, dtype=object),
        "kind": pd.Series(kinds, dtype=object),
    }
    order = list(ASSIGNMENT_COLUMNS)
    if categories is not None:
        by_id = {c.id: c for c in categories}
        of_cluster = {c.id: by_id.get(c.category_id) for c in clusters}
        found = [of_cluster.get(cid) if cid is not None else None for cid in cluster_ids]
        columns["category_id"] = pd.Series([c.id if c else None for c in found], dtype=object)
        columns["category_name"] = pd.Series([c.name if c else None for c in found],
                                             dtype=object)
        order[5:5] = CATEGORY_COLUMNS
    columns["status"] = statuses
    frame = pd.DataFrame(columns, columns=order)
    if extra is None or extra.shape[1] == 0:
        return frame
    if len(extra) != len(frame):
        raise ValueError(f"extra has {len(extra)} rows for {len(frame)} requests")
    kept = extra.reset_index(drop=True)
    taken = set(frame.columns)
    renamed = {}
    for name in kept.columns:
        new_name = str(name)
        while new_name in taken:
            new_name = INPUT_PREFIX + new_name
        taken.add(new_name)
        renamed[name] = new_name
    return pd.concat([frame, kept.rename(columns=renamed)], axis=1)


#: Columns of ``clusters.csv`` before the other fields of :class:`Cluster`.
_CLUSTER_LEADING = ["label", "cluster_id", "name", "size", "share", "status"]


def clusters_frame(clusters: Sequence[Cluster]) -> pd.DataFrame:
    """One flat row per cluster, for ``clusters.csv`` and the workbook's sheet.

    Every field of :class:`~sklearn_llmcluster.Cluster` is a column (fields a
    newer version adds appear on their own); ``examples`` are joined by new
    lines, ``share`` is the cluster's part of all sizes. Clusters a model
    keeps as tombstones (merged, removed) are listed with their status.

    Parameters
    ----------
    clusters : sequence of Cluster
        ``clusters[k]`` for label ``k`` (``model.clusters_``).

    Returns
    -------
    pandas.DataFrame
        In label order; ``label`` is the row's index into ``clusters``.

    Examples
    --------
    >>> from sklearn_llmcluster import Cluster
    >>> table = clusters_frame([Cluster("c1", "Card blocked", size=3, examples=["a", "b"]),
    ...                         Cluster("c2", "Refund", size=1)])
    >>> table[["label", "cluster_id", "name", "size", "share", "examples"]].values.tolist()
    [[0, 'c1', 'Card blocked', 3, 0.75, 'a\\nb'], [1, 'c2', 'Refund', 1, 0.25, '']]
    """
    total = sum(c.size for c in clusters if c.status not in ("merged", "removed")) or 1
    rows = []
    for label, cluster in enumerate(clusters):
        row = dataclasses.asdict(cluster)
        row["cluster_id"] = row.pop("id")
        row["examples"] = "\n".join(str(e) for e in row.get("examples") or [])
        row["label"] = label
        live = cluster.status not in ("merged", "removed")
        row["share"] = cluster.size / total if live else 0.0
        rows.append(row)
    names = [f.name if f.name != "id" else "cluster_id" for f in dataclasses.fields(Cluster)]
    columns = _CLUSTER_LEADING + [n for n in names if n not in _CLUSTER_LEADING]
    return pd.DataFrame(rows, columns=columns)
