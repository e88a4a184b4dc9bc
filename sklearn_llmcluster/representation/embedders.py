"""Text embedders: one interface for everything that needs text similarity.

The offline engine, consolidation, the judge's shortlists and the fast path
all compare texts through an :class:`Embedder`. Every embedder returns
L2-normalised ``float32`` rows, so a dot product is a cosine similarity, and
the row of a text depends on that text only (never on the others of the call).

Some embedders learn from the data (TF-IDF: its vocabulary); they say so with
``requires_fit`` and are fitted once on the texts of a run. Pretrained ones
need no fit.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.utils import check_random_state

from .tfidf import _TextSpace

__all__ = ["Embedder", "TfidfEmbedder", "resolve_embedder", "unit_rows"]


def unit_rows(vectors: Any) -> np.ndarray:
    """``vectors`` as ``float32`` rows of length 1 (all-zero rows stay zero)."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"an embedder must return a 2-D array (texts x dimensions), "
                         f"got shape {array.shape}")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.where(norms == 0, 1.0, norms)


class Embedder:
    """Base class: ``transform(texts)`` gives unit ``float32`` rows.

    Subclasses implement :meth:`_embed` (and :meth:`_fit` when
    ``requires_fit``). ``name`` says which representation it is, for logs,
    reports and benchmarks.
    """

    name = "embedder"
    #: Whether :meth:`fit` must see texts before :meth:`transform` works.
    requires_fit = False

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`transform` can be called."""
        return not self.requires_fit or self._is_fitted()

    def _is_fitted(self) -> bool:
        return True

    def fit(self, texts: Sequence[str]) -> "Embedder":
        """Learn what the representation needs from ``texts`` (nothing for pretrained models)."""
        if self.requires_fit:
            self._fit(list(texts))
        return self

    def _fit(self, texts: list[str]) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Unit ``float32`` rows of shape ``(len(texts), dim)``.

        Raises
        ------
        RuntimeError
            If the embedder needs fitting and was not fitted.
        """
        texts = list(texts)
        if not self.is_fitted:
            raise RuntimeError(f"the {self.name} embedder has not been fitted; call fit(texts)")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return unit_rows(self._embed(texts))

    def fit_transform(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        return self.fit(texts).transform(texts)

    def _embed(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def dim(self) -> int:
        """Number of dimensions of a row."""
        return int(self.transform(["dimension probe"]).shape[1])

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class TfidfEmbedder(Embedder):
    """Word and character n-gram TF-IDF, reduced by SVD (see :mod:`.tfidf`).

    Needs no model and no network; learns its vocabulary from the texts it
    is fitted on.

    Parameters
    ----------
    n_components : int, default=200
        Dimensions kept by the SVD.
    random_state : int, RandomState or None, default=None
        Seeds the SVD.
    """

    name = "tfidf"
    requires_fit = True

    def __init__(self, n_components: int = 200, random_state: Any = None) -> None:
        self.n_components = n_components
        self.random_state = random_state
        self.space_: _TextSpace | None = None

    def _is_fitted(self) -> bool:
        return self.space_ is not None

    def _fit(self, texts: list[str]) -> None:
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        # Sorted and de-duplicated: the order texts arrive in does not change the fit.
        self.space_ = _TextSpace(sorted(set(texts)), self.n_components, seed)

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self.space_.transform(texts)

    def __repr__(self) -> str:
        return f"TfidfEmbedder(n_components={self.n_components})"


def resolve_embedder(spec: Any = "tfidf", *, random_state: Any = None) -> Embedder:
    """An :class:`Embedder` from a spec.

    Parameters
    ----------
    spec : "tfidf" or Embedder, default="tfidf"
        A name or an embedder (returned as it is).
    random_state : int, RandomState or None
        Seeds embedders that draw random numbers.

    Returns
    -------
    Embedder

    Raises
    ------
    ValueError
        If ``spec`` names no known embedder.
    """
    if isinstance(spec, Embedder):
        return spec
    if spec == "tfidf":
        return TfidfEmbedder(random_state=random_state)
    raise ValueError(f"embedder must be 'tfidf' or an Embedder, got {spec!r}")
