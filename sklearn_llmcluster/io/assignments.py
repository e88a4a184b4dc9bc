"""One row per request: which cluster it went to, as the CLI and the DataFrame API report it."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..records import Cluster
from ..representation.normalization import is_blank

__all__ = ["ASSIGNMENT_COLUMNS", "STATUSES", "assignments_frame", "generated_ids", "new_batch_id"]

#: Columns of ``assignments.csv`` and of ``ClusteringResult.assignments``.
ASSIGNMENT_COLUMNS = ["request_id", "text", "cluster_id", "cluster_name", "status"]

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

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ASSIGNMENT_COLUMNS`; ``cluster_id`` and
        ``cluster_name`` are ``None`` where the request has no cluster.
    """
    if not len(request_ids) == len(texts) == len(labels):
        raise ValueError(
            f"request_ids, texts and labels differ in length: "
            f"{len(request_ids)}, {len(texts)}, {len(labels)}")
    new = set(new_cluster_ids)
    cluster_ids, names, statuses = [], [], []
    for text, label in zip(texts, labels):
        label = int(label)
        if label < 0:
            cluster_ids.append(None)
            names.append(None)
            statuses.append("empty" if is_blank(text) else "unassigned")
            continue
        cluster = clusters[label]
        cluster_ids.append(cluster.id)
        names.append(cluster.name)
        statuses.append("new_cluster" if cluster.id in new else "assigned")
    return pd.DataFrame({
        "request_id": list(request_ids),
        "text": list(texts),
        "cluster_id": pd.Series(cluster_ids, dtype=object),
        "cluster_name": pd.Series(names, dtype=object),
        "status": statuses,
    }, columns=ASSIGNMENT_COLUMNS)
