"""ClusteringPipeline: the earlier llm_clustering DataFrame workflow on top of LLMClusterer."""

from __future__ import annotations

import itertools
import json
from types import SimpleNamespace

import pandas as pd
import pytest

from sklearn_llmcluster.compat import ClusteringPipeline, ClusteringResult, PartialResult
from sklearn_llmcluster.testing import ScriptedProvider

COLUMNS = ["batch_id", "request_id", "text", "cluster_id", "cluster_name", "status"]


@pytest.fixture
def frame(intent_texts) -> pd.DataFrame:
    texts, _ = intent_texts
    return pd.DataFrame({"request_id": [f"r{i:02d}" for i in range(len(texts))], "text": texts})


def pipeline(provider=None, **kwargs) -> ClusteringPipeline:
    return ClusteringPipeline(llm_provider=provider or ScriptedProvider(),
                              settings={"n_jobs": 1, "random_state": 0}, **kwargs)


def test_fit_returns_the_earlier_result_shape(frame):
    frame.loc[3, "text"] = ""
    result = pipeline().fit(frame, text_column="text", batch_id="b1")
    assert isinstance(result, ClusteringResult)
    assert result.batch_id == "b1"
    assert result.assignments.columns.tolist() == COLUMNS
    assert result.assignments["request_id"].tolist() == frame["request_id"].tolist()
    assert result.total_requests == len(frame)
    assert result.assigned_requests == len(frame) - 1
    assert result.coverage == pytest.approx(100 * (len(frame) - 1) / len(frame))
    empty = result.assignments.iloc[3]
    assert empty["status"] == "empty" and pd.isna(empty["cluster_id"])
    assert set(result.assignments["status"]) == {"assigned", "empty"}
    assert result.metrics["total_requests"] == len(frame)
    assert result.metrics["coverage_pct"] == round(result.coverage, 2)
    assert result.metrics["llm_calls"] >= 1
    sizes = [c.size for c in result.clusters]
    assert sizes == sorted(sizes, reverse=True)


def test_fit_limit_and_generated_ids(frame):
    result = pipeline().fit(frame[["text"]], batch_id="wk1", limit=4)
    assert result.assignments["request_id"].tolist() == [f"req-wk1-{i}" for i in range(4)]
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        pipeline().fit(frame, limit=0)


def test_missing_text_column_lists_the_columns(frame):
    with pytest.raises(ValueError, match=r"column 'body' not found in df; its columns are: "
                                         r"'request_id', 'text'; choose one with text_column="):
        pipeline().fit(frame, text_column="body")


def test_a_second_fit_builds_on_the_clusters_found(frame):
    p = pipeline()
    first = p.fit(frame)
    second = p.fit(pd.DataFrame({"text": ["card broken again", "loan for a car", "loan rate"]}))
    ids = {c.cluster_id for c in first.clusters}
    card, loan1, loan2 = second.assignments.to_dict("records")
    assert card["cluster_id"] in ids and card["status"] == "assigned"
    assert loan1["cluster_id"] == loan2["cluster_id"] not in ids
    assert loan1["status"] == "new_cluster"
    assert second.metrics["new_clusters"] == 1


def test_fit_partial_is_a_generator_you_can_stop(frame, tmp_path):
    registry = tmp_path / "clusters.json"
    p = pipeline(registry_path=registry)
    batches = p.fit_partial(frame, batch_size=5)
    first = next(batches)
    assert isinstance(first, PartialResult)
    assert (first.batch_number, first.processed_rows, first.total_rows) == (1, 5, len(frame))
    assert len(first.assignments) == 5 and first.new_clusters
    assert first.assignments["request_id"].tolist() == frame["request_id"][:5].tolist()
    saved = json.loads(registry.read_text(encoding="utf-8"))
    assert len(saved["clusters"]) == len(p.get_clusters())  # saved after the batch
    batches.close()
    # Resume where it stopped, as the earlier library's users do.
    rest = list(p.fit_partial(frame, batch_size=5, start_from=first.processed_rows))
    assert len(frame) == 15
    assert [r.processed_rows for r in rest] == [10, 15]
    assert [r.batch_number for r in rest] == [1, 2]
    assert sum(len(r.assignments) for r in rest) == len(frame) - 5


def test_fit_partial_marks_clusters_created_by_later_batches(frame):
    p = pipeline()
    results = list(p.fit_partial(frame, batch_size=9))
    assert set(results[0].assignments["status"]) == {"assigned"}  # nothing existed before
    later = pd.concat([r.assignments for r in results[1:]])
    new_ids = {c.id for r in results[1:] for c in r.new_clusters}
    assert new_ids
    assert (later.loc[later["cluster_id"].isin(new_ids), "status"] == "new_cluster").all()


def test_fit_partial_checks_arguments_when_called(frame):
    p = pipeline()
    with pytest.raises(ValueError, match="batch_size"):
        p.fit_partial(frame, batch_size=0)
    with pytest.raises(ValueError, match="start_from"):
        p.fit_partial(frame, start_from=-1)
    with pytest.raises(ValueError, match="column 'nope' not found"):
        p.fit_partial(frame, text_column="nope")


def test_refit_keeps_previous_assignments_and_proposes_only_for_new_rows(frame):
    provider = ScriptedProvider()
    p = pipeline(provider)
    first = p.fit(frame)
    sizes = {c.id: c.size for c in p.get_clusters()}
    calls = provider.calls
    grown = pd.concat([frame, pd.DataFrame({"request_id": ["n1", "n2"],
                                            "text": ["loan overdue", "card swallowed"]})],
                      ignore_index=True)
    result = p.refit(grown, previous_assignments=first.assignments)
    kept = result.assignments.iloc[:len(frame)]
    assert (kept["status"] == "kept").all()
    assert kept["cluster_id"].tolist() == first.assignments["cluster_id"].tolist()
    loan, card = result.assignments.iloc[len(frame):].to_dict("records")
    assert loan["status"] == "new_cluster" and card["status"] == "assigned"
    after = {c.id: c.size for c in p.get_clusters()}
    # Kept rows are not counted again; only the two new rows add to sizes.
    assert sum(after.values()) == sum(sizes.values()) + 2
    assert provider.calls > calls  # the new rows did go to the LLM


def test_refit_matches_on_text_when_there_are_no_ids_and_rejudges_vanished_clusters(frame):
    p = pipeline()
    texts = frame[["text"]]
    first = p.fit(texts)
    previous = first.assignments.copy()
    previous.loc[0, "cluster_id"] = "c999"  # a cluster that no longer exists
    result = p.refit(texts, previous_assignments=previous)
    assert result.assignments.loc[0, "status"] == "assigned"
    assert result.assignments.loc[0, "cluster_id"] == first.assignments.loc[0, "cluster_id"]
    assert (result.assignments["status"].iloc[1:] == "kept").all()


def test_refit_without_previous_assignments_relabels_everything(frame):
    p = pipeline()
    first = p.fit(frame)
    result = p.refit(frame)
    assert result.assignments["cluster_id"].tolist() == first.assignments["cluster_id"].tolist()
    assert set(result.assignments["status"]) == {"assigned"}


def test_registry_path_is_loaded_if_it_exists_and_saved_after_fit(frame, tmp_path):
    registry = tmp_path / "registry.json"
    first = pipeline(registry_path=registry)
    first.fit(frame)
    assert registry.exists()
    names = [c.name for c in first.get_clusters()]

    again = pipeline(registry_path=registry)
    assert [c.name for c in again.get_clusters()] == names  # readable before any fit
    result = again.fit(pd.DataFrame({"text": ["card stolen today"]}))
    assert result.assignments.loc[0, "cluster_name"] == "card"
    assert result.metrics["new_clusters"] == 0


def test_save_and_load_clusters(frame, tmp_path):
    p = pipeline()
    with pytest.raises(ValueError, match="call fit first"):
        p.save_clusters(tmp_path / "none.json")
    p.fit(frame)
    p.save_clusters(tmp_path / "c.json")
    other = pipeline()
    other.load_clusters(tmp_path / "c.json")
    assert [(c.cluster_id, c.count) for c in other.get_clusters()] == \
        [(c.cluster_id, c.count) for c in p.get_clusters()]
    assert other.get_clusters()[0].sample_requests


def test_settings_dict_is_strict_and_objects_give_matching_attributes():
    with pytest.raises(ValueError, match="not LLMClusterer parameters: batchsize"):
        ClusteringPipeline(settings={"batchsize": 3})
    old_style = SimpleNamespace(batch_size=7, temperature=None, clustering_batch_size=50)
    p = ClusteringPipeline(llm_provider="offline", settings=old_style, business_context="Bank")
    params = p.model.get_params()
    assert params["batch_size"] == 7
    assert params["temperature"] == 0.0  # None means "not set"
    assert params["provider"] == "offline" and params["business_context"] == "Bank"


def test_get_clusters_is_sorted_by_size(frame):
    p = pipeline()
    assert p.get_clusters() == []
    p.fit(frame)
    sizes = [c.size for c in p.get_clusters()]
    assert sizes == sorted(sizes, reverse=True)
    assert all(a.size >= b.size for a, b in itertools.pairwise(p.get_clusters()))
