"""Cluster ids, unique names, merges, status and the JSON format."""

from __future__ import annotations

import json

import pytest

from sklearn_llmcluster import Cluster, Proposal, load_clusters, save_clusters
from sklearn_llmcluster.registry import FORMAT_VERSION, ClusterRegistry


def test_ids_are_stable_and_names_unique_after_normalisation():
    reg = ClusterRegistry()
    a, new_a = reg.add(Proposal("Card blocked"))
    b, new_b = reg.add(Proposal("  card   BLOCKED. "))
    c, _ = reg.add(Proposal("Ёлка"))
    d, new_d = reg.add(Proposal("елка"))
    assert new_a and not new_b and not new_d
    assert a is b and c is d
    assert [x.id for x in reg.clusters] == ["c1", "c2"]


def test_discarded_ids_are_never_reused():
    reg = ClusterRegistry()
    reg.add(Proposal("one"))
    two, _ = reg.add(Proposal("two"))
    reg.discard([two.id])
    three, _ = reg.add(Proposal("three"))
    assert three.id == "c3"
    assert reg.index_of("c3") == 1


def test_discard_refuses_clusters_with_members():
    reg = ClusterRegistry()
    one, _ = reg.add(Proposal("one"))
    reg.record([0], ["text"])
    with pytest.raises(ValueError):
        reg.discard([one.id])


def test_record_counts_sizes_examples_and_status():
    reg = ClusterRegistry(min_cluster_size=2, max_examples=2)
    reg.add(Proposal("one"))
    reg.add(Proposal("two"))
    reg.record([0, 0, 0, 1, -1], ["a", "b", "c", "d", "e"])
    one, two = reg.clusters
    assert (one.size, one.status, one.examples) == (3, "active", ["a", "b"])
    assert (two.size, two.status) == (1, "tentative")


def test_json_round_trip_is_readable_utf8(tmp_path):
    clusters = [Cluster(id="c1", name="Не приходит перевод", summary="s", criteria="k",
                        size=3, examples=["перевод где"], status="tentative")]
    path = tmp_path / "c.json"
    save_clusters(clusters, path)
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["format_version"] == FORMAT_VERSION
    assert "Не приходит перевод" in text
    assert [c.to_dict() for c in load_clusters(path)] == [c.to_dict() for c in clusters]


@pytest.mark.parametrize("content, message", [
    ("not json", "not valid JSON"),
    ('{"format": "other"}', "not a clusters file"),
    ('{"format": "sklearn_llmcluster.clusters", "format_version": 99}', "format_version 99"),
])
def test_load_rejects_foreign_files_clearly(tmp_path, content, message):
    path = tmp_path / "x.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_clusters(path)


def test_legacy_aliases():
    c = Cluster(id="c7", name="n", size=4, examples=["e"])
    assert (c.cluster_id, c.count, c.sample_requests) == ("c7", 4, ["e"])
