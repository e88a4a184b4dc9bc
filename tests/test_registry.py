"""Cluster ids, unique names, merges, status, the JSON format and hand-edited files."""

from __future__ import annotations

import json
import pickle
import re

import pytest

from sklearn_llmcluster import Cluster, LLMClusterer, Proposal, load_clusters, save_clusters
from sklearn_llmcluster.taxonomy.registry import FORMAT_VERSION, ClusterRegistry, load_registry
from sklearn_llmcluster.testing import ScriptedProvider


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


# -- hand-edited clusters files ----------------------------------------------
def _saved_file(tmp_path, edit=None, name="clusters.json"):
    """A clusters file of three clusters (sizes 3, 1, 0), changed by ``edit(data)``."""
    reg = ClusterRegistry(min_cluster_size=2)
    for intent in ("card", "login", "refund"):
        reg.add(Proposal(intent, summary=f"About {intent}.", criteria=f"Mentions {intent}."))
    reg.record([0, 0, 0, 1], ["card a", "card b", "card c", "login a"])
    path = tmp_path / name
    save_clusters(reg, path)
    if edit is not None:
        data = json.loads(path.read_text(encoding="utf-8"))
        edit(data)
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _set(index, **fields):
    return lambda data: data["clusters"][index].update(fields)


def _drop(index, key):
    return lambda data: data["clusters"][index].pop(key)


@pytest.mark.parametrize("edit, where, message", [
    (_drop(0, "id"), 'clusters[0] (name "card")', '"id" is missing; add it, like "id": "c4"'),
    (_set(0, id=1), 'clusters[0] (name "card")', '"id" must be text, like "id": "c4"; got 1'),
    (_set(1, id=" c2"), 'clusters[1] (id " c2", name "login")', '"id" must be non-empty text'),
    (_set(1, id="none"), 'clusters[1] (id "none", name "login")', "the judge's answer"),
    (_set(2, id="c1"), 'clusters[2] (id "c1", name "refund")',
     'id "c1" is also the id of clusters[0] (id "c1", name "card"); ids must be unique'),
    (_drop(1, "name"), 'clusters[1] (id "c2")', '"name" is missing'),
    (_set(1, name="   "), 'clusters[1] (id "c2", name "   ")', '"name" must be text that is not'),
    (_set(1, name=None), 'clusters[1] (id "c2")', '"name" must be text'),
    (_set(2, name=" CARD."), 'clusters[2] (id "c3", name " CARD.")',
     'name "CARD." is the same as the name of clusters[0] (id "c1", name "card")'),
    (_set(0, size="3"), 'clusters[0] (id "c1", name "card")',
     '"size" must be a whole number of 0 or more, like "size": 3; got "3" (text)'),
    (_set(0, size=-1), "clusters[0]", '"size" must be a whole number'),
    (_set(0, size=2.5), "clusters[0]", '"size" must be a whole number'),
    (_set(0, size=True), "clusters[0]", '"size" must be a whole number'),
    (_set(0, examples="card a"), "clusters[0]", '"examples" must be a list of texts'),
    (_set(0, examples=["card a", 7]), "clusters[0]", "item 1 is 7 (a number)"),
    (_set(0, criteria=["a"]), "clusters[0]", '"criteria" must be text'),
    (_set(0, summary=1), "clusters[0]", '"summary" must be text'),
    (_set(0, created_at=20250101), "clusters[0]", '"created_at" must be text'),
    (_set(0, status="done"), "clusters[0]",
     '"status" must be "tentative", "active", "merged" or "removed"'),
    (_set(0, kind="chat"), "clusters[0]", '"kind" must be "topic" or "no_intent"'),
    (_set(0, status="merged"), "clusters[0]", '"status": "merged" and "merged_into" go'),
    (_set(0, merged_into="c2"), "clusters[0]", '"status": "merged" and "merged_into" go'),
    (_set(0, status="merged", merged_into="c99"), "clusters[0]", 'is not the id of a cluster'),
    (lambda data: data["clusters"].__setitem__(1, "login"), "clusters[1]",
     'a cluster must be an object'),
])
def test_load_names_file_cluster_and_field_of_a_bad_edit(tmp_path, edit, where, message):
    path = _saved_file(tmp_path, edit)
    with pytest.raises(ValueError) as info:
        load_clusters(path)
    text = str(info.value)
    assert text.startswith(f"{path}: {where}"), text
    assert message in text
    assert text.endswith("correct it in the file and load it again")


@pytest.mark.parametrize("edit, message", [
    (lambda data: data.update(clusters={"id": "c1"}), '"clusters" must be a list'),
    (lambda data: data.update(min_cluster_size="5"), '"min_cluster_size" must be a whole number'),
    (lambda data: data.update(min_cluster_size=-1), '"min_cluster_size" must be a whole number'),
    (lambda data: data.update(next_id=4), '"next_id" must be "c" and a number'),
    (lambda data: data.update(next_id="c0"), '"next_id" must be "c" and a number'),
])
def test_load_names_file_and_field_of_a_bad_top_level_edit(tmp_path, edit, message):
    path = _saved_file(tmp_path, edit)
    with pytest.raises(ValueError, match="^" + re.escape(f"{path}: {message}")):
        load_clusters(path)


def test_load_checks_dicts_without_a_file_too():
    data = {"format": "sklearn_llmcluster.clusters", "format_version": FORMAT_VERSION,
            "clusters": [{"name": "card"}]}
    with pytest.raises(ValueError, match=r'^clusters\[0\] \(name "card"\): "id" is missing'):
        ClusterRegistry.from_json_dict(data)
    with pytest.raises(ValueError, match='"id" is missing'):
        Cluster.from_dict({"name": "card"})


def test_load_rejects_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "cp1251.json"
    path.write_bytes('{"format": "Карта"}'.encode("cp1251"))
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))} is not UTF-8"):
        load_clusters(path)


def test_load_takes_null_and_missing_optional_fields_as_defaults(tmp_path):
    def edit(data):
        data["clusters"][0].update(examples=None, summary=None, status=None, name="  card  ")
        for key in ("criteria", "size", "created_at", "updated_at", "status"):
            data["clusters"][2].pop(key)
        data["clusters"][2]["comment"] = "unknown keys are ignored"

    card, _, refund = load_clusters(_saved_file(tmp_path, edit))
    assert (card.name, card.examples, card.summary, card.size) == ("card", [], "", 3)
    assert (refund.criteria, refund.size, refund.examples) == ("", 0, [])
    assert refund.status == "tentative"
    assert isinstance(refund.created_at, str) and isinstance(refund.updated_at, str)


@pytest.mark.parametrize("edit", [_set(0, examples=None), _set(0, size=0), _drop(0, "examples")])
def test_a_loaded_hand_edited_file_keeps_working_with_partial_fit(tmp_path, edit):
    model = LLMClusterer(provider=ScriptedProvider(), random_state=0, min_cluster_size=2)
    model.load_clusters(_saved_file(tmp_path, edit))
    assert list(model.predict(["card x", "loan y"])) == [0, -1]
    model.partial_fit(["card x", "card y", "loan y"])
    assert list(model.labels_) == [0, 0, 3]
    card = model.clusters_[0]
    assert card.examples[-2:] == ["card x", "card y"] and card.status == "active"


def test_save_checks_a_plain_list_and_leaves_it_unchanged(tmp_path):
    path = tmp_path / "c.json"
    with pytest.raises(ValueError, match=re.escape(
            f'clusters not saved to {path}: clusters[1] (id "c1", name "b"): id "c1" is also')):
        save_clusters([Cluster("c1", "a"), Cluster("c1", "b")], path)
    with pytest.raises(ValueError, match='"size" must be a whole number'):
        save_clusters([Cluster("c1", "a", size="3")], path)
    assert not path.exists()
    given = [Cluster("c1", "a", size=9, status="tentative")]
    save_clusters(given, path)
    assert given[0].status == "tentative"
    assert load_clusters(path)[0].status == "active"  # the file's min_cluster_size is 5


# -- statuses follow min_cluster_size ----------------------------------------
def test_load_recomputes_statuses_with_the_files_min_cluster_size(tmp_path):
    # The file says every cluster is active; its min_cluster_size (2) says otherwise.
    path = _saved_file(tmp_path, lambda data: [c.update(status="active")
                                               for c in data["clusters"]])
    assert [(c.size, c.status) for c in load_clusters(path)] == [
        (3, "active"), (1, "tentative"), (0, "tentative")]


def test_estimator_load_recomputes_statuses_with_its_min_cluster_size(tmp_path):
    path = _saved_file(tmp_path)
    strict = LLMClusterer(provider=ScriptedProvider(), min_cluster_size=100).load_clusters(path)
    assert [c.status for c in strict.clusters_] == ["tentative"] * 3
    lenient = LLMClusterer(provider=ScriptedProvider(), min_cluster_size=1).load_clusters(path)
    assert [c.status for c in lenient.clusters_] == ["active", "active", "tentative"]
    # Saved again, the file says what the estimator uses.
    lenient.save_clusters(path)
    assert json.loads(path.read_text(encoding="utf-8"))["min_cluster_size"] == 1


def test_setting_min_cluster_size_recomputes_statuses():
    reg = ClusterRegistry(min_cluster_size=2)
    reg.add(Proposal("one"))
    reg.record([0, 0], ["a", "b"])
    assert reg.clusters[0].status == "active"
    reg.min_cluster_size = 3
    assert reg.clusters[0].status == "tentative"
    with pytest.raises(ValueError, match="min_cluster_size"):
        reg.min_cluster_size = -1


def test_registry_pickles_and_reads_pickles_of_earlier_versions():
    reg = ClusterRegistry(min_cluster_size=2)
    reg.add(Proposal("one"))
    copy = pickle.loads(pickle.dumps(reg))
    assert copy.min_cluster_size == 2 and copy.add(Proposal("two"))[0].id == "c2"
    old = ClusterRegistry.__new__(ClusterRegistry)
    state = dict(reg.__dict__)
    state["min_cluster_size"] = state.pop("_min_cluster_size")
    old.__setstate__(state)
    assert old.min_cluster_size == 2


# -- ids are never reused ----------------------------------------------------
def test_ids_of_discarded_clusters_are_not_reused_after_save_and_load(tmp_path):
    reg = ClusterRegistry()
    reg.add(Proposal("one"))
    two, _ = reg.add(Proposal("two"))
    reg.discard([two.id])
    path = tmp_path / "c.json"
    save_clusters(reg, path)
    assert json.loads(path.read_text(encoding="utf-8"))["next_id"] == "c3"
    loaded = load_registry(path)
    assert loaded.add(Proposal("three"))[0].id == "c3"


def test_ids_of_clusters_deleted_by_hand_are_not_reused(tmp_path):
    path = _saved_file(tmp_path, lambda data: data["clusters"].pop())  # drops c3
    assert load_registry(path).add(Proposal("new"))[0].id == "c4"


@pytest.mark.parametrize("next_id, expected", [(None, "c4"), ("c2", "c4"), ("c9", "c9")])
def test_files_without_or_with_a_low_next_id_continue_after_the_highest_id(
        tmp_path, next_id, expected):
    def edit(data):
        if next_id is None:
            del data["next_id"]  # as written before next_id was saved
        else:
            data["next_id"] = next_id

    assert load_registry(_saved_file(tmp_path, edit)).add(Proposal("new"))[0].id == expected


def test_estimator_continues_the_id_sequence_after_save_and_load(tmp_path):
    model = LLMClusterer(provider=ScriptedProvider(), random_state=0)
    model.fit(["card blocked", "login fails", "refund me"])
    path = tmp_path / "c.json"
    model.save_clusters(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["clusters"].pop()  # a reviewer deletes "refund" (c3)
    path.write_text(json.dumps(data), encoding="utf-8")
    loaded = LLMClusterer(provider=ScriptedProvider(), random_state=0).load_clusters(path)
    loaded.partial_fit(["refund now", "loan please"])
    assert [c.id for c in loaded.clusters_] == ["c1", "c2", "c4", "c5"]


# -- merges and lineage ------------------------------------------------------
def _three():
    reg = ClusterRegistry(min_cluster_size=3)
    for name in ("Card blocked", "Blocked card", "Refund"):
        reg.add(Proposal(name, summary=f"{name}.", criteria=f"about {name.lower()}"))
    reg.record([0, 0, 1, 2], ["card a", "card b", "card c", "refund a"])
    return reg


def test_merge_folds_size_and_examples_and_leaves_a_tombstone():
    reg = _three()
    survivor = reg.merge(["c2"], "c1")
    assert survivor.id == "c1" and survivor.size == 3 and survivor.status == "active"
    assert survivor.examples == ["card a", "card b", "card c"]
    assert "about card blocked" in survivor.criteria and "about blocked card" in survivor.criteria
    tomb = reg.get("c2")
    assert tomb.status == "merged" and tomb.merged_into == "c1" and not tomb.is_live
    assert [c.id for c in reg.live] == ["c1", "c3"]
    assert reg.index_of("c2") == 1  # labels keep their meaning
    assert reg.resolve("c2") is survivor and reg.resolve("c3").id == "c3"
    # A proposal under the merged name lands on the survivor; no new cluster.
    cluster, created = reg.add(Proposal("blocked CARD"))
    assert cluster is survivor and not created and len(reg) == 3


def test_merge_renames_with_llm_summary_and_follows_chains():
    reg = _three()
    reg.merge(["c2"], "c1", name="Blocked card", summary="Card is blocked.",
              criteria="The customer's card is blocked.")
    c1 = reg.get("c1")
    assert (c1.name, c1.summary, c1.criteria) == (
        "Blocked card", "Card is blocked.", "The customer's card is blocked.")
    assert reg.find_by_name("card blocked") is c1  # its former name still finds it
    reg.merge(["c1"], "c3")
    assert reg.resolve("c2").id == "c3" and reg.find_by_name("Blocked card").id == "c3"
    # Live names are unique; the survivor may take back a freed name.
    reg2 = _three()
    with pytest.raises(ValueError, match="taken by cluster 'c3'"):
        reg2.merge(["c2"], "c1", name="refund")


@pytest.mark.parametrize("sources, into, message", [
    (["c1"], "c1", "into itself"),
    (["c9"], "c1", "'c9' is not a cluster id"),
    (["c2"], "c9", "the survivor 'c9' is not a cluster id"),
    ([], "c1", "no source"),
])
def test_merge_refuses_bad_ids(sources, into, message):
    reg = _three()
    with pytest.raises(ValueError, match=message):
        reg.merge(sources, into)
    assert all(c.is_live for c in reg.clusters)


def test_merge_refuses_a_tombstone():
    reg = _three()
    reg.merge(["c2"], "c1")
    with pytest.raises(ValueError, match="was merged into 'c1' already"):
        reg.merge(["c2"], "c3")


def test_lineage_survives_save_load_and_pickle(tmp_path):
    reg = _three()
    reg.merge(["c2"], "c1")
    path = tmp_path / "clusters.json"
    save_clusters(reg, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["clusters"][1]["status"] == "merged"
    assert data["clusters"][1]["merged_into"] == "c1"
    assert data["clusters"][0]["kind"] == "topic"
    for again in (load_registry(path), pickle.loads(pickle.dumps(reg))):
        assert again.get("c2").status == "merged"
        assert again.resolve("c2").id == "c1"
        assert [c.id for c in again.live] == ["c1", "c3"]
        assert again.add(Proposal("Blocked card"))[0].id == "c1"


def test_load_refuses_a_cycle_of_merges(tmp_path):
    reg = _three()
    data = reg.to_json_dict()
    data["clusters"][0].update(status="merged", merged_into="c2")
    data["clusters"][1].update(status="merged", merged_into="c1")
    with pytest.raises(ValueError, match="comes back to"):
        ClusterRegistry.from_json_dict(data)


def test_a_removed_name_is_not_proposed_again():
    reg = _three()
    reg.get("c3").status = "removed"
    reg = ClusterRegistry.from_json_dict(reg.to_json_dict())
    assert reg.resolve("c3") is None
    assert reg.add(Proposal("Refund")) == (None, False)
    assert len(reg) == 3


def test_a_merged_name_may_be_reused_by_a_live_cluster_in_a_file():
    reg = _three()
    reg.merge(["c2"], "c1", name="Blocked card")
    again = ClusterRegistry.from_json_dict(reg.to_json_dict())
    assert again.find_by_name("blocked card").id == "c1"


def test_partial_fit_never_brings_a_merged_cluster_back(tmp_path):
    import joblib

    texts = ["card lost", "card stolen", "refund please", "refund now", "login fails",
             "login broken"]
    model = LLMClusterer(ScriptedProvider(), random_state=0, min_cluster_size=1).fit(texts)
    card, refund = model.registry_.find_by_name("card"), model.registry_.find_by_name("refund")
    model.registry_.merge([card.id], refund.id, name="Money back or card")
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    save_clusters(model.registry_, tmp_path / "clusters.json")
    loaded = LLMClusterer(ScriptedProvider(), random_state=0, min_cluster_size=1)
    for again in (joblib.load(path), loaded.load_clusters(tmp_path / "clusters.json")):
        n = len(again.clusters_)
        # The scripted judge finds no live "card" cluster, so the proposer
        # proposes "card" again: the name maps to the survivor.
        again.partial_fit(["card blocked", "card expired"])
        survivor = again.registry_.index_of(refund.id)
        assert again.labels_.tolist() == [survivor, survivor]
        assert len(again.clusters_) == n and again.new_cluster_ids_ == []
        assert again.clusters_[again.registry_.index_of(card.id)].status == "merged"
        assert again.n_clusters_ == n - 1
        assert card.id not in {c.id for c in again.get_clusters()}
