"""The fast path: a classifier distilled from the LLM's labels takes the easy texts."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from synthetic_requests import intent_requests

from sklearn_llmcluster import Cluster, LLMClusterer
from sklearn_llmcluster.discovery.fast_path import FastPathClassifier
from sklearn_llmcluster.testing import ScriptedProvider


def make(**params) -> LLMClusterer:
    params.setdefault("provider", ScriptedProvider())
    params.setdefault("random_state", 0)
    params.setdefault("batch_size", 10)
    params.setdefault("n_jobs", 2)
    return LLMClusterer(**params)


@pytest.fixture(scope="module")
def train_and_new():
    train, _ = intent_requests(40, seed=0)
    new, _ = intent_requests(30, seed=1)
    return train, new


def test_fast_path_takes_confident_texts_off_the_llm(train_and_new):
    train, new = train_and_new
    provider = ScriptedProvider()
    model = make(provider=provider, fast_path=True).fit(train)
    assert model.fast_path_.is_trained
    assert model.llm_usage_.texts_judged_by_fast_path == 0  # the first fit is all LLM
    before = provider.calls
    model.partial_fit(new)
    usage = model.llm_usage_
    assert usage.texts_judged_by_fast_path > len(new) / 2
    assert usage.texts_judged_by_llm + usage.texts_judged_by_fast_path == len(new)
    assert provider.calls - before == usage.calls < len(new) / 10
    # The same labels as judging everything, on these clear-cut texts.
    reference = make().fit(train).partial_fit(new)
    assert np.array_equal(model.labels_, reference.labels_)


def test_without_fast_path_every_text_goes_to_the_judge(train_and_new):
    train, new = train_and_new
    model = make().fit(train).partial_fit(new)
    assert model.fast_path_ is None
    assert model.llm_usage_.texts_judged_by_fast_path == 0
    assert model.llm_usage_.texts_judged_by_llm == len(new)


def test_predict_uses_the_fast_path_and_agrees_with_the_judge(train_and_new):
    train, new = train_and_new
    fast_provider, slow_provider = ScriptedProvider(), ScriptedProvider()
    fast = make(provider=fast_provider, fast_path=True).fit(train)
    slow = make(provider=slow_provider).fit(train)
    fast_before, slow_before = fast_provider.calls, slow_provider.calls
    assert np.array_equal(fast.predict(new), slow.predict(new))
    assert fast_provider.calls - fast_before < (slow_provider.calls - slow_before) / 2


def test_new_intents_still_reach_the_proposer(train_and_new):
    train, _ = train_and_new
    first, _ = intent_requests(40, intents=["card", "login", "refund"], seed=0)
    model = make(fast_path=True).fit(first)
    fresh, _ = intent_requests(20, intents=["delivery", "tariff"], seed=2)
    model.partial_fit(fresh)
    assert {"delivery", "tariff"} <= {c.name for c in model.clusters_}
    names = [model.clusters_[k].name for k in model.labels_]
    assert names == [t.split()[0] for t in fresh]


def test_it_learns_from_llm_labels_only(train_and_new):
    train, new = train_and_new
    model = make(fast_path=True).fit(train)
    seen_after_fit = sum(model.fast_path_._seen.values())
    model.partial_fit(new)
    added = sum(model.fast_path_._seen.values()) - seen_after_fit
    assert added == model.llm_usage_.texts_judged_by_llm


def test_classifier_abstains_on_ambiguous_and_unknown_texts():
    texts, labels = intent_requests(30, intents=["card", "login"])
    fast = FastPathClassifier(threshold=0.98, random_state=0)
    fast.add(texts, labels)
    fast.fit()
    assert fast.is_trained and fast.classes_ == ["card", "login"]
    assert 0 < fast.estimated_coverage_ <= 1 and fast.estimated_precision_ >= 0.98
    clusters = [Cluster(id="card", name="card"), Cluster(id="login", name="login")]
    ids = fast(["card blocked stolen pin", "login password locked app",
                "card login blocked password", "zzz qqq"], clusters)
    assert ids[:2] == ["card", "login"]
    assert ids[2:] == [None, None]
    # Only ids among the clusters offered: the round's new clusters in discovery.
    assert fast(["card blocked stolen pin"], [Cluster(id="c9", name="other")]) == [None]


def test_small_clusters_are_not_learnt_and_retraining_waits_for_new_labels():
    texts, labels = intent_requests(30, intents=["card", "login"])
    fast = FastPathClassifier(min_examples=10, random_state=0)
    fast.add(texts[:5], labels[:5])
    assert not fast.needs_fit()
    fast.add(texts, labels)
    assert fast.needs_fit()
    fast.fit()
    assert not fast.needs_fit()
    extra, extra_labels = intent_requests(3, intents=["card", "login"], seed=5)
    fast.add(extra, extra_labels)  # 6 new on 65: under 10%
    assert not fast.needs_fit()


def test_embeddings_from_the_provider_are_used_when_asked(train_and_new):
    train, new = train_and_new
    vocab = sorted({w for t in train + new for w in t.split()[:-2]})

    class Embedding(ScriptedProvider):
        embedded = 0

        def embed(self, texts):
            Embedding.embedded += len(texts)
            return np.array([[w in t.split() for w in vocab] for t in texts], dtype=float)

    model = make(provider=Embedding(), embedder="provider", fast_path="embeddings").fit(train)
    model.partial_fit(new)
    assert Embedding.embedded > 0
    assert model.llm_usage_.texts_judged_by_fast_path > len(new) / 2


def test_embeddings_come_from_the_models_embedder(train_and_new):
    train, new = train_and_new
    seen = []

    class Recording:  # an object with encode(texts), like a SentenceTransformer
        def encode(self, texts):
            seen.extend(texts)
            vocab = sorted({w for t in train + new for w in t.split()[:-2]})
            return np.array([[w in t.split() for w in vocab] for t in texts], dtype=float)

    model = make(embedder=Recording(), fast_path="embeddings").fit(train)
    assert model.fast_path_.embed == model.embedder_.transform
    model.partial_fit(new)
    assert set(new) <= set(seen)
    assert model.llm_usage_.texts_judged_by_fast_path > len(new) / 2


def test_fitted_fast_path_pickles_and_predicts_the_same(train_and_new):
    train, new = train_and_new
    model = make(fast_path=True).fit(train)
    again = pickle.loads(pickle.dumps(model))
    assert np.array_equal(again.predict(new), model.predict(new))


@pytest.mark.parametrize("params, match", [
    ({"fast_path": "sometimes"}, "fast_path must be"),
    ({"fast_path": True, "fast_path_threshold": 0}, "fast_path_threshold"),
    ({"fast_path": True, "fast_path_threshold": 1.5}, "fast_path_threshold"),
    ({"fast_path": "embeddings", "embedder": "provider"}, "embed"),
    ({"fast_path": "embeddings", "embedder": "word2vec"}, "'use-multilingual'"),
])
def test_bad_fast_path_settings_raise_in_fit(params, match):
    with pytest.raises(ValueError, match=match):
        make(**params).fit(["card blocked", "login fails"])
