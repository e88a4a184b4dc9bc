"""Clustering scores against gold labels, on cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from sklearn_llmcluster.metrics import clustering_scores, hungarian_accuracy


def test_renamed_clusters_score_perfectly():
    assert hungarian_accuracy(["a", "a", "b", "b", "c"], [2, 2, 0, 0, 1]) == 1.0


def test_each_cluster_is_matched_to_one_label_only():
    # Cluster 1 holds two "x" rows, cluster 0 holds one "x" and three "y":
    # the best one-to-one match is 1->x (2 rows) and 0->y (3 rows): 5 of 6.
    assert hungarian_accuracy(["x", "x", "x", "y", "y", "y"], [1, 1, 0, 0, 0, 0]) == 5 / 6


def test_the_best_matching_not_the_greedy_one():
    # Cluster 0 holds a, a, a, b, b; cluster 1 holds a, a. Greedy would take the
    # biggest overlap (0 -> a, 3 rows) and leave 1 -> b (0 rows): 3 of 7.
    # One-to-one optimum: 0 -> b (2 rows) and 1 -> a (2 rows): 4 of 7.
    y_true = ["a", "a", "a", "b", "b", "a", "a"]
    y_pred = [0, 0, 0, 0, 0, 1, 1]
    assert hungarian_accuracy(y_true, y_pred) == 4 / 7


def test_more_clusters_than_labels_leave_the_extra_clusters_wrong():
    assert hungarian_accuracy([0, 0, 1, 1], [0, 1, 2, 3]) == 0.5


def test_fewer_clusters_than_labels():
    assert hungarian_accuracy([0, 1, 2, 2], [0, 0, 0, 0]) == 0.5


def test_unassigned_rows_are_always_wrong_and_still_counted():
    assert hungarian_accuracy(["a", "a", "b", "b"], [0, -1, 1, 1]) == 0.75
    # -1 is not a cluster that could be matched to "c".
    assert hungarian_accuracy(["a", "a", "c", "c"], [0, 0, -1, -1]) == 0.5
    assert hungarian_accuracy(["a", "b"], [-1, -1]) == 0.0


def test_empty_input_scores_zero():
    assert hungarian_accuracy([], np.array([], dtype=int)) == 0.0


def test_clustering_scores_on_a_perfect_clustering():
    scores = clustering_scores(["a", "a", "b", "b"], [1, 1, 0, 0])
    assert scores == {"accuracy": 1.0, "nmi": 1.0, "ari": 1.0, "n_clusters": 2,
                      "coverage": 1.0}


def test_clustering_scores_count_clusters_without_the_unassigned_label():
    scores = clustering_scores(["a", "a", "b", "b"], [0, 0, 1, -1])
    assert scores["accuracy"] == 0.75
    assert scores["n_clusters"] == 2
    assert scores["coverage"] == 0.75
    assert 0 < scores["nmi"] < 1 and 0 < scores["ari"] < 1


def test_clustering_scores_of_a_single_cluster():
    # Everything in one cluster: no information, ARI and NMI are zero.
    scores = clustering_scores([0, 0, 1, 1], [5, 5, 5, 5])
    assert scores["accuracy"] == 0.5
    assert scores["nmi"] == pytest.approx(0.0)
    assert scores["ari"] == pytest.approx(0.0)


@pytest.mark.parametrize("y_true, y_pred, match", [
    ([0, 1], [0], "rows"),
    ([[0, 1]], [[0, 1]], "1-D"),
    ([0, 1], [0.5, 1.0], "integer"),
])
def test_bad_input_is_refused(y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        hungarian_accuracy(y_true, y_pred)
