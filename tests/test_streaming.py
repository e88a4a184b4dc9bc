"""fit/partial_fit on an iterator of chunks: labels aligned, progress per chunk, bounded state."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from synthetic_requests import intent_requests

from sklearn_llmcluster import LLMClusterer, LLMUsage
from sklearn_llmcluster.testing import ScriptedProvider


def make(**params) -> LLMClusterer:
    params.setdefault("provider", ScriptedProvider())
    params.setdefault("random_state", 0)
    params.setdefault("batch_size", 8)
    params.setdefault("proposal_size", 20)
    return LLMClusterer(**params)


def chunks(texts, size, wrap=list):
    return (wrap(texts[i:i + size]) for i in range(0, len(texts), size))


def test_a_stream_equals_the_same_chunks_through_partial_fit():
    texts, _ = intent_requests(20)
    streamed = make().fit(chunks(texts, 25))
    stepwise = make()
    labels, usage, created = [], LLMUsage(), []
    for chunk in chunks(texts, 25):
        stepwise.partial_fit(chunk)
        labels.append(stepwise.labels_)
        usage.merge(stepwise.llm_usage_)
        created += stepwise.new_cluster_ids_
    assert np.array_equal(streamed.labels_, np.concatenate(labels))
    assert streamed.llm_usage_ == usage
    assert streamed.new_cluster_ids_ == created

    def summary(model):
        return [(c.id, c.name, c.size, c.examples) for c in model.clusters_]

    assert summary(streamed) == summary(stepwise)


def test_every_row_of_every_chunk_gets_its_own_label():
    texts, _ = intent_requests(10)
    texts = texts[:30] + ["", "   "] + texts[30:]
    model = make().fit(chunks(texts, 7))
    assert len(model.labels_) == len(texts)
    for text, label in zip(texts, model.labels_):
        if not text.strip():
            assert label == -1
        else:
            assert model.clusters_[label].name == text.split()[0]
    assert model.coverage_ == pytest.approx((len(texts) - 2) / len(texts))


@pytest.mark.parametrize("wrap", [np.array, pd.Series, lambda c: pd.DataFrame({"text": c})])
def test_chunks_may_be_arrays_series_or_frames(wrap):
    texts, _ = intent_requests(6)
    expected = make().fit(chunks(texts, 10)).labels_
    assert np.array_equal(make().fit(chunks(texts, 10, wrap)).labels_, expected)


def test_progress_is_reported_once_per_chunk(capsys):
    texts, _ = intent_requests(5)
    make(verbose=1).fit(chunks(texts, 10))
    lines = [line for line in capsys.readouterr().err.splitlines() if "] chunk " in line]
    assert len(lines) == 3
    assert "chunk 3: 10 texts (30 so far)" in lines[-1] and "LLM calls" in lines[-1]


def test_partial_fit_with_a_stream_continues_the_model():
    texts, _ = intent_requests(10, intents=["card", "login"])
    model = make().fit(texts)
    ids = [c.id for c in model.clusters_]
    more, _ = intent_requests(5, intents=["card", "refund"], seed=3)
    model.partial_fit(chunks(more, 4))
    assert [c.id for c in model.clusters_[:2]] == ids
    assert [c.name for c in model.clusters_] == ["card", "login", "refund"]
    assert len(model.labels_) == len(more)


def test_an_empty_stream_is_a_value_error():
    with pytest.raises(ValueError, match="X is empty"):
        make().fit(iter([]))


def test_the_model_keeps_no_texts_of_past_chunks():
    """State grows by the labels and their row keys only (8 bytes a row each), not by the texts
    streamed (the keys let an analyst's edits find the rows of ``labels_``)."""
    small, _ = intent_requests(50)
    large, _ = intent_requests(500, seed=1)
    model_small = make(batch_size=50, n_jobs=1).fit(chunks(small, 100))
    model_large = make(batch_size=50, n_jobs=1).fit(chunks(large, 100))
    model_small.labels_ = model_large.labels_ = np.empty(0, dtype=np.intp)
    model_small._row_keys_ = model_large._row_keys_ = np.empty(0, dtype=np.uint64)
    grown = len(pickle.dumps(model_large)) - len(pickle.dumps(model_small))
    assert grown < 2_000  # 2,700 more texts of ~40 characters would be 100 kB


def test_threaded_judge_calls_leave_the_warning_filters_alone():
    """Judge calls in threads must not touch the process-wide warning filters.

    scikit-learn's Parallel wrapper resets them inside every task, which is
    not thread-safe; with no filters set it also warns once per task.
    """
    texts, _ = intent_requests(20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()  # no filters: what a plain script has after -W reset
        before = list(warnings.filters)
        make(n_jobs=4, batch_size=3).fit(chunks(texts, 30))
        after = list(warnings.filters)
    assert not [w for w in caught if "sklearn.utils.parallel" in str(w.message)]
    assert after == before


def test_an_iterator_of_texts_is_texts_not_chunks():
    from sklearn_llmcluster import LLMClusterer
    from sklearn_llmcluster.testing import ScriptedProvider

    texts = [" card blocked ", "login fails", "card lost ", "login error"]
    model = LLMClusterer(provider=ScriptedProvider(), random_state=0)
    expected = model.fit([t.strip() for t in texts]).labels_
    assert np.array_equal(model.fit(t.strip() for t in texts).labels_, expected)
    assert np.array_equal(model.fit(map(str.strip, texts)).labels_, expected)
    assert np.array_equal(model.predict(map(str.strip, texts)), expected)


def test_predict_takes_a_stream_of_chunks_and_skips_empty_ones():
    from sklearn_llmcluster import LLMClusterer
    from sklearn_llmcluster.testing import ScriptedProvider

    texts = ["card blocked", "login fails", "card lost", "login error"]
    model = LLMClusterer(provider=ScriptedProvider(), random_state=0).fit(texts)
    chunks = iter([texts[:2], [], texts[2:]])
    assert np.array_equal(model.predict(chunks), model.predict(texts))
    refit = LLMClusterer(provider=ScriptedProvider(), random_state=0)
    assert np.array_equal(refit.fit(iter([[], texts[:2], [], texts[2:]])).labels_, model.labels_)
    with pytest.raises(ValueError, match="no texts"):
        refit.fit(iter([[], []]))


def test_a_bad_row_in_a_stream_names_its_chunk():
    from sklearn_llmcluster import LLMClusterer
    from sklearn_llmcluster.testing import ScriptedProvider

    model = LLMClusterer(provider=ScriptedProvider(), random_state=0)
    with pytest.raises(TypeError) as info:
        model.fit(iter([["card blocked", "login fails"], ["card lost", None]]))
    assert "X[1]" in str(info.value) and "chunk 2" in "".join(info.value.__notes__)


@pytest.mark.parametrize("X, word", [({"r1": "card blocked", "r2": "login"}, "dict"),
                                     ({"card blocked", "login"}, "set")])
def test_dicts_and_sets_are_refused_with_the_fix(X, word):
    from sklearn_llmcluster import LLMClusterer
    from sklearn_llmcluster.testing import ScriptedProvider

    with pytest.raises(TypeError, match=f"X is a {word}.*pass"):
        LLMClusterer(provider=ScriptedProvider()).fit(X)
