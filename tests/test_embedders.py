"""The representation layer's shared interface."""

import numpy as np
import pytest

from sklearn_llmcluster.representation import TfidfEmbedder, resolve_embedder

TEXTS = ["card blocked", "my card is blocked", "login fails", "cannot log in"] * 3


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
    with pytest.raises(ValueError, match="'tfidf'"):
        resolve_embedder("word2vec")
