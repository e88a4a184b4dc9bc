"""Invariants over many generated inputs (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sklearn_llmcluster import LLMClusterer
from sklearn_llmcluster.testing import ScriptedProvider
from sklearn_llmcluster.representation.normalization import dedup_key

WORDS = ["card", "login", "refund", "доставка", "тариф", "hello", "x", "", "  "]
texts_strategy = st.lists(
    st.builds(lambda w, tail, case: (w + tail).upper() if case else w + tail,
              st.sampled_from(WORDS), st.text(max_size=12), st.booleans()),
    min_size=1, max_size=40,
)
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _model(**kw):
    return LLMClusterer(provider=ScriptedProvider(), random_state=0, batch_size=3, n_jobs=2,
                        proposal_size=7, **kw)


def _assert_labels_name_live_clusters(model):
    """-1, or the index in clusters_ of a live cluster (merged ones keep their index)."""
    labels = model.labels_
    assert ((labels >= -1) & (labels < len(model.clusters_))).all()
    assert all(model.clusters_[k].is_live for k in set(labels[labels >= 0].tolist()))
    assert len({k for k in labels.tolist() if k >= 0}) <= model.n_clusters_


@SETTINGS
@given(texts_strategy)
def test_every_row_gets_exactly_one_valid_label(texts):
    model = _model().fit(texts)
    assert len(model.labels_) == len(texts)
    _assert_labels_name_live_clusters(model)
    for text, label in zip(texts, model.labels_):
        if not text.strip():
            assert label == -1


@SETTINGS
@given(texts_strategy)
def test_duplicates_share_a_label(texts):
    model = _model().fit(texts)
    by_key = {}
    for text, label in zip(texts, model.labels_):
        if text.strip():
            assert by_key.setdefault(dedup_key(text), label) == label


@SETTINGS
@given(texts_strategy, st.lists(st.integers(min_value=1, max_value=10), min_size=1, max_size=6))
def test_any_chunking_through_partial_fit_labels_every_text(texts, sizes):
    model = _model()
    start, seen, last = 0, 0, None
    for size in sizes * (len(texts) // max(sum(sizes), 1) + 1):
        chunk = texts[start:start + size]
        if not chunk:
            break
        last = chunk
        model.partial_fit(chunk)
        assert len(model.labels_) == len(chunk)
        _assert_labels_name_live_clusters(model)
        start += size
        seen += len(chunk)
    assert seen == len(texts)
    # Labels of the last chunk agree with predict on it for every labelled row.
    predicted = model.predict(last)
    labelled = model.labels_ >= 0
    assert np.array_equal(predicted[labelled], model.labels_[labelled])
