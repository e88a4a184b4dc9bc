"""Scores for comparing a clustering with gold labels.

Cluster ids are arbitrary, so accuracy first matches clusters to gold labels
one-to-one (the Hungarian algorithm, :func:`scipy.optimize.linear_sum_assignment`)
and counts the rows whose cluster was matched to their own label. Rows left
unassigned (label ``-1``, or any negative label) always count as wrong, and
every row counts: a clusterer cannot raise its score by leaving hard texts out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

__all__ = ["hungarian_accuracy", "clustering_scores"]


def _check_pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim != 1:
        raise ValueError("y_true and y_pred must be 1-D")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} rows but y_pred has {len(y_pred)}")
    if not np.issubdtype(y_pred.dtype, np.integer):
        raise ValueError(f"y_pred must hold integer cluster labels, got dtype {y_pred.dtype}")
    return y_true, y_pred


def hungarian_accuracy(y_true: Any, y_pred: Any) -> float:
    """Share of rows whose cluster is matched to their gold label, one-to-one.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Gold labels (any hashable values).
    y_pred : array-like of int, shape (n_samples,)
        Cluster labels; negative values (``-1``) mean "no cluster" and are
        always wrong.

    Returns
    -------
    float
        In ``[0, 1]``; ``0.0`` for empty input.

    Examples
    --------
    >>> hungarian_accuracy(["a", "a", "b", "b"], [1, 1, 0, 0])
    1.0
    >>> hungarian_accuracy(["a", "a", "b", "b"], [0, -1, 1, 1])
    0.75
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    if len(y_true) == 0:
        return 0.0
    assigned = y_pred >= 0
    if not assigned.any():
        return 0.0
    _, gold = np.unique(y_true[assigned], return_inverse=True)
    _, found = np.unique(y_pred[assigned], return_inverse=True)
    overlap = np.zeros((found.max() + 1, gold.max() + 1), dtype=np.int64)
    np.add.at(overlap, (found, gold), 1)
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    return float(overlap[rows, cols].sum() / len(y_true))


def clustering_scores(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Accuracy, NMI, ARI, number of clusters and coverage of a clustering.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Gold labels.
    y_pred : array-like of int, shape (n_samples,)
        Cluster labels; negative values mean "no cluster".

    Returns
    -------
    dict
        ``accuracy`` (:func:`hungarian_accuracy`), ``nmi`` (normalised mutual
        information, arithmetic mean), ``ari`` (adjusted Rand index),
        ``n_clusters`` (distinct non-negative labels) and ``coverage`` (share
        of rows with a non-negative label). For NMI and ARI all unassigned
        rows form one extra cluster, as scikit-learn scores a ``-1`` label.

    Examples
    --------
    >>> scores = clustering_scores(["a", "a", "b", "b"], [0, 0, 1, -1])
    >>> scores["accuracy"], scores["n_clusters"], scores["coverage"]
    (0.75, 2, 0.75)
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    assigned = y_pred >= 0
    return {
        "accuracy": hungarian_accuracy(y_true, y_pred),
        "nmi": float(normalized_mutual_info_score(y_true, np.where(assigned, y_pred, -1))),
        "ari": float(adjusted_rand_score(y_true, np.where(assigned, y_pred, -1))),
        "n_clusters": int(len(np.unique(y_pred[assigned]))),
        "coverage": float(assigned.mean()) if len(y_pred) else 0.0,
    }
