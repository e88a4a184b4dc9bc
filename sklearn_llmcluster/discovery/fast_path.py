"""The fast path: a cheap classifier, distilled from the LLM's labels, takes the easy texts.

Once an LLM has labelled enough texts of a cluster, most new texts of that
cluster look like ones it has seen. :class:`FastPathClassifier` learns the
LLM's labels with a linear classifier on TF-IDF features (or on the
provider's embeddings) and assigns a text itself only when its confidence is
high enough; everything else still goes to the LLM judge. The estimator
plugs it into the engine's ``pre_assign`` seam (``LLMClusterer(fast_path=True)``).

When it is trained
------------------
- At the end of the first ``fit``/``partial_fit`` call (the discovery, with
  the LLM judging everything), on the texts the LLM labelled.
- After every later ``fit``/``partial_fit`` call, the texts the LLM labelled
  in it are added, and it is retrained when they grew its training set by
  10% or more, or brought a cluster to ``min_examples``. It never learns from
  its own answers, so its mistakes cannot reinforce themselves.
- Only clusters with at least ``min_examples`` LLM-labelled texts are learnt;
  texts of the others always go to the judge. At most ``max_per_cluster``
  texts per cluster are kept (a uniform sample), so memory stays bounded on
  streams of any length.

How confident is confident enough
---------------------------------
The confidence of a text is the margin between the classifier's best and
second-best cluster scores. ``threshold`` is not a margin but the accuracy
the fast path must reach *against the LLM's own labels*, relative to how
consistent those labels are. A quarter of the training texts is held out;
the agreement on its clearest fifth (largest margins, where the classifier
is almost surely right) measures the LLM's own noise (``llm_consistency_``,
about 1 for a consistent LLM, 0.9 for one that errs at random on 10% of the
texts). The margin cut is the lowest at which the held-out texts above it
agree with the LLM at least ``threshold * llm_consistency_`` of the time;
the classifier is then refitted on all texts and keeps that cut. With
``threshold=0.98`` the fast path is expected to cost at most about two points
of accuracy against judging everything, on the share of texts it takes.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from ..records import Cluster

__all__ = ["FastPathClassifier"]

#: Smallest held-out set worth calibrating a cut on.
_MIN_HOLDOUT = 10


class FastPathClassifier:
    """Assigns the texts it is sure about, learnt from the LLM's labels.

    Parameters
    ----------
    threshold : float, default=0.98
        Agreement with the LLM's labels that the texts the fast path takes
        must reach, relative to the agreement on the clearest texts
        (``llm_consistency_``), measured on held-out LLM-labelled texts (see
        the module notes). Higher sends more texts to the LLM.
    min_examples : int, default=10
        LLM-labelled texts a cluster needs before the fast path learns it.
    max_per_cluster : int, default=500
        Training texts kept per cluster (a uniform sample of those seen).
    embed : callable, optional
        ``embed(texts) -> ndarray of shape (n, dim)``, e.g. a provider's
        ``embed``; used instead of TF-IDF features when given.
    random_state : int or None, default=None
        Seeds the training sample, the held-out split and the classifier.

    Attributes
    ----------
    classes_ : list of str
        Cluster ids the classifier knows (empty until trained).
    cut_ : float
        Margin at or above which a text is assigned (``inf``: none is).
    estimated_precision_ : float
        Held-out agreement with the LLM of the texts above ``cut_``.
    estimated_coverage_ : float
        Held-out share of texts above ``cut_``.
    llm_consistency_ : float
        Held-out agreement with the LLM on the fifth of the texts with the
        largest margins: about 1 for a consistent LLM, lower by the share of
        labels the LLM gets arbitrarily wrong.
    n_training_texts_ : int
        Texts the classifier was last trained on.
    """

    def __init__(self, threshold: float = 0.98, *, min_examples: int = 10,
                 max_per_cluster: int = 500, embed: Callable | None = None,
                 random_state: int | None = None) -> None:
        self.threshold = threshold
        self.min_examples = min_examples
        self.max_per_cluster = max_per_cluster
        self.embed = embed
        self.random_state = random_state
        self._rng = np.random.RandomState(random_state)
        self._texts: dict[str, list[str]] = {}
        self._seen: dict[str, int] = {}
        self._added_since_fit = 0
        self._model = None
        self.classes_: list[str] = []
        self.cut_ = float("inf")
        self.estimated_precision_ = float("nan")
        self.estimated_coverage_ = 0.0
        self.llm_consistency_ = float("nan")
        self.n_training_texts_ = 0

    # -- training data -----------------------------------------------------
    def add(self, texts: Sequence[str], ids: Sequence[str | None]) -> None:
        """Remember LLM-labelled texts (``None`` ids are skipped)."""
        for text, cid in zip(texts, ids):
            if cid is None:
                continue
            kept = self._texts.setdefault(cid, [])
            seen = self._seen.get(cid, 0) + 1
            self._seen[cid] = seen
            # Reservoir sampling: every text seen so far is kept with the same chance.
            if len(kept) < self.max_per_cluster:
                kept.append(text)
            else:
                j = self._rng.randint(seen)
                if j < self.max_per_cluster:
                    kept[j] = text
            self._added_since_fit += 1

    def forget(self, cluster_ids: Sequence[str]) -> None:
        """Drop the training texts of clusters that no longer exist."""
        for cid in cluster_ids:
            self._texts.pop(cid, None)
            self._seen.pop(cid, None)

    def _trainable(self) -> list[str]:
        # At least 4, so that the held-out quarter can hold one of each.
        need = max(self.min_examples, 4)
        return [cid for cid, texts in self._texts.items() if len(texts) >= need]

    @property
    def is_trained(self) -> bool:
        """Whether the classifier can assign anything."""
        return self._model is not None and np.isfinite(self.cut_)

    def needs_fit(self) -> bool:
        """Whether enough new LLM labels arrived since the last training."""
        trainable = self._trainable()
        if len(trainable) < 2:
            return False
        if self._model is None or set(trainable) - set(self.classes_):
            return True
        return self._added_since_fit >= 0.1 * max(self.n_training_texts_, 1)

    # -- training ----------------------------------------------------------
    def _features(self, texts: list[str], *, fit: bool = False):
        if self.embed is not None:
            vectors = np.asarray(self.embed(texts), dtype=float)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            return vectors / np.where(norms == 0, 1.0, norms)
        if fit:
            from sklearn.feature_extraction.text import TfidfVectorizer
            from sklearn.pipeline import FeatureUnion

            min_df = 2 if len(texts) >= 1000 else 1
            self._vectorizer = FeatureUnion([
                ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True,
                                          min_df=min_df, dtype=np.float32)),
                # Character n-grams carry typos, inflections and other scripts.
                ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5),
                                          sublinear_tf=True, min_df=min_df, dtype=np.float32)),
            ])
            return self._vectorizer.fit_transform(texts)
        return self._vectorizer.transform(texts)

    def _train(self, X, y: np.ndarray):
        from sklearn.svm import LinearSVC

        # A linear SVM: as accurate as logistic regression on TF-IDF
        # features and an order of magnitude faster to train with many clusters.
        return LinearSVC(C=0.5, random_state=self.random_state).fit(X, y)

    @staticmethod
    def _margins(model, X) -> tuple[np.ndarray, np.ndarray]:
        """Best class index and best-minus-second score of each row."""
        scores = model.decision_function(X)
        if scores.ndim == 1:  # two classes: one signed score
            return (scores > 0).astype(int), 2 * np.abs(scores)
        top2 = np.partition(scores, -2, axis=1)[:, -2:]
        return scores.argmax(axis=1), top2[:, 1] - top2[:, 0]

    def _calibrate(self, texts: list[str], y: np.ndarray) -> None:
        from sklearn.model_selection import train_test_split

        fit_idx, held_idx = train_test_split(
            np.arange(len(texts)), test_size=0.25, stratify=y, random_state=self.random_state)
        X_fit = self._features([texts[i] for i in fit_idx], fit=True)
        model = self._train(X_fit, y[fit_idx])
        best, margin = self._margins(model, self._features([texts[i] for i in held_idx]))
        correct = model.classes_[best] == y[held_idx]
        order = np.argsort(-margin, kind="stable")
        precision = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
        # The clearest fifth of the texts is where the classifier is almost
        # surely right: disagreement there is the LLM's own noise, which no
        # cut can remove, so the target is relative to it.
        top = max(_MIN_HOLDOUT, len(order) // 5)
        self.llm_consistency_ = float(precision[min(top, len(order)) - 1])
        ok = np.flatnonzero(precision >= self.threshold * self.llm_consistency_)
        if len(ok):
            k = ok[-1]
            self.cut_ = float(margin[order[k]])
            self.estimated_precision_ = float(precision[k])
            self.estimated_coverage_ = (k + 1) / len(order)
        else:
            self.cut_ = float("inf")
            self.estimated_precision_ = float("nan")
            self.estimated_coverage_ = 0.0

    def fit(self) -> "FastPathClassifier":
        """Train on the remembered texts of every cluster with ``min_examples`` of them.

        Returns
        -------
        self
        """
        classes = self._trainable()
        self._added_since_fit = 0
        texts = [t for cid in classes for t in self._texts[cid]]
        y = np.array([cid for cid in classes for _ in self._texts[cid]], dtype=object)
        if len(classes) < 2 or len(texts) * 0.25 < _MIN_HOLDOUT:
            self._model, self.classes_, self.cut_ = None, [], float("inf")
            return self
        self._calibrate(texts, y)
        self._model = self._train(self._features(texts, fit=True), y)
        self.classes_ = [str(c) for c in self._model.classes_]
        self.n_training_texts_ = len(texts)
        return self

    def refresh(self, report: Callable[[str], None] | None = None) -> bool:
        """Retrain when :meth:`needs_fit`; return whether it did."""
        if not self.needs_fit():
            return False
        start = time.perf_counter()
        self.fit()
        if report is not None:
            report(f"fast path trained on {self.n_training_texts_} LLM-labelled texts of "
                   f"{len(self.classes_)} clusters in {time.perf_counter() - start:.1f}s: "
                   f"takes ~{self.estimated_coverage_:.0%} of texts at "
                   f"~{self.estimated_precision_:.1%} agreement with the LLM")
        return True

    # -- assigning -----------------------------------------------------------
    def predict(self, texts: Sequence[str], allowed: set[str] | None = None
                ) -> tuple[list[str | None], np.ndarray]:
        """Cluster id (or ``None``) and confidence margin of each text.

        Parameters
        ----------
        texts : sequence of str
        allowed : set of str, optional
            Cluster ids it may answer; a text whose best cluster is not among
            them gets ``None``.

        Returns
        -------
        ids : list of (str or None)
            ``None`` where the margin is below ``cut_``.
        margins : ndarray of shape (n,)
        """
        n = len(texts)
        if self._model is None or not n:
            return [None] * n, np.zeros(n)
        best, margin = self._margins(self._model, self._features(list(texts)))
        ids: list[str | None] = []
        for b, m in zip(best, margin):
            cid = self.classes_[b]
            ids.append(cid if m >= self.cut_ and (allowed is None or cid in allowed) else None)
        return ids, margin

    def __call__(self, texts: list[str], clusters: list[Cluster]) -> list[str | None]:
        """The engine's ``pre_assign``: ids among ``clusters`` only, ``None`` for the judge."""
        allowed = {c.id for c in clusters}.intersection(self.classes_)
        if not self.is_trained or not allowed:
            return [None] * len(texts)
        return self.predict(texts, allowed)[0]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_rng", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._rng = np.random.RandomState(self.random_state)

    def __repr__(self) -> str:
        return (f"FastPathClassifier(threshold={self.threshold}, classes={len(self.classes_)}, "
                f"cut={self.cut_:.3g})")
