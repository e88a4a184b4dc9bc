"""The offline engine: propose and judge clusters with TF-IDF features, no LLM.

:class:`OfflineEngine` does both jobs of the LLM when no provider is
configured, and works the same on Russian and English.

How it works
------------
Representation
    Word 1-2-grams and ``char_wb`` 3-5-grams (sublinear TF-IDF, lower case,
    "ё" read as "е"; personal data and numbers blanked out, and function
    words and greetings left out of the word n-grams), reduced with
    :class:`~sklearn.decomposition.TruncatedSVD` and L2-normalised, so a dot
    product is a cosine similarity. Character n-grams carry Russian
    morphology (``карта``/``карту``/``карты``) without a
    stemmer. The representation is fitted on the texts the proposer sees,
    never on the texts being judged, and refitted only when the texts seen by
    the proposer have doubled since the last fit (or by an explicit
    :meth:`OfflineEngine.fit`): a judge answer depends on the text and the
    clusters only, not on the other texts of the batch or their order.

Proposing (the number of clusters is discovered)
    The texts become a k-nearest-neighbour graph (edges weighted by cosine
    similarity; the degree grows with the logarithm of the number of texts),
    whose communities are found by modularity optimisation (Louvain). The
    ``resolution`` sets the granularity; no number of clusters is given. On
    BANKING77 and CLINC150 this beats k-means given the true number of
    clusters (see ``docs/benchmarks.md``). Communities smaller than
    ``min_cluster_size`` are dissolved into the community their texts are
    most connected to; the others become proposals, biggest first. Each is
    named by its most distinctive words (class-based TF-IDF: frequent in the
    cluster, rare in the others), e.g. ``"card / arrive / waiting"``, and
    gets a summary and inclusion criteria quoting the texts closest to its
    centroid. When a caller caps the proposals per call, the texts it shows
    again are grouped as the first search grouped them.

    The search needs many texts per intent to see the structure: show the
    proposer all unassigned texts at once (it is local and fast), not small
    samples as one would an LLM.

Judging
    A text goes to the cluster whose centroid is most similar, if that
    similarity reaches ``threshold``; otherwise ``None``. Clusters the engine
    proposed are recognised by name (names it makes are unique); for any
    other cluster (loaded from JSON, made by an LLM, renamed) a centroid is
    built from its name, summary, criteria and examples.
"""

from __future__ import annotations

import base64
import binascii
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils import check_random_state

from ..records import Cluster, Proposal
from .normalization import MAX_NAME_CHARS, clean_for_prompt, name_key, truncate
from .tfidf import (_BOILERPLATE, _CYRILLIC, _LATIN, _NAME_TOKEN, _STOP_WORDS_EN,
                    _STOP_WORDS_RU, _preprocess, _TextSpace)

__all__ = ["OfflineEngine", "OfflineProposer", "OfflineJudge"]


def _resolve_language(language: str | None) -> str:
    """``"en"``, ``"ru"`` or ``"auto"`` from a free-form language setting."""
    if language is None:
        return "auto"
    value = str(language).strip().lower()
    if value.startswith(("ru", "рус")):
        return "ru"
    if value.startswith(("en", "анг")):
        return "en"
    return "auto"


def _is_russian(texts: Iterable[str]) -> bool:
    joined = " ".join(texts)
    return len(_CYRILLIC.findall(joined)) > len(_LATIN.findall(joined))


# -- community detection -------------------------------------------------------------


def _knn_graph(X: np.ndarray, n_neighbors: int, chunk: int = 2048) -> sp.csr_matrix:
    """Symmetric k-nearest-neighbour graph weighted by cosine similarity (rows are unit)."""
    n = X.shape[0]
    k = min(n_neighbors, n - 1)
    rows, cols, vals = [], [], []
    for start in range(0, n, chunk):
        sims = X[start:start + chunk] @ X.T
        block = np.arange(sims.shape[0])
        sims[block, block + start] = -np.inf
        nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        rows.append(np.repeat(block + start, k))
        cols.append(nearest.ravel())
        vals.append(sims[np.repeat(block, k), nearest.ravel()])
    weights = np.clip(np.concatenate(vals), 1e-6, None)
    graph = sp.csr_matrix((weights, (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    return graph.maximum(graph.T).tocsr()


def _move_nodes(graph: sp.csr_matrix, resolution: float,
                order: np.ndarray) -> tuple[np.ndarray, bool]:
    """Louvain's local moving phase: each node joins the neighbouring community that
    raises modularity most, until (almost) nothing moves."""
    n = graph.shape[0]
    indptr, indices, data = graph.indptr, graph.indices, graph.data
    degree = np.asarray(graph.sum(axis=1)).ravel()
    scaled = degree * (resolution / degree.sum())
    community = np.arange(n)
    total = degree.copy()
    moved = False
    for _ in range(50):
        moves = 0
        for i in order.tolist():
            ci = community[i]
            links: dict[int, float] = {}
            for j, w in zip(indices[indptr[i]:indptr[i + 1]].tolist(),
                            data[indptr[i]:indptr[i + 1]].tolist()):
                if j != i:
                    c = community[j]
                    links[c] = links.get(c, 0.0) + w
            total[ci] -= degree[i]
            best, best_gain = ci, links.get(ci, 0.0) - total[ci] * scaled[i]
            for c, w in links.items():
                gain = w - total[c] * scaled[i]
                if gain > best_gain + 1e-12:
                    best, best_gain = c, gain
            total[best] += degree[i]
            if best != ci:
                community[i] = best
                moves += 1
        moved = moved or moves > 0
        # The last sweeps move a handful of nodes for almost no gain.
        if moves <= n // 1000:
            break
    return np.unique(community, return_inverse=True)[1], moved


def _louvain(graph: sp.csr_matrix, resolution: float, rng: np.random.Generator) -> np.ndarray:
    """Community of each node (Louvain modularity optimisation, weighted graph)."""
    n = graph.shape[0]
    membership = np.arange(n)
    for _ in range(20):
        community, moved = _move_nodes(graph, resolution, rng.permutation(graph.shape[0]))
        if not moved:
            break
        membership = community[membership]
        to_community = sp.csr_matrix((np.ones(len(community)), (np.arange(len(community)),
                                                                community)))
        graph = (to_community.T @ graph @ to_community).tocsr()
    return np.unique(membership, return_inverse=True)[1]


def _absorb_small(graph: sp.csr_matrix, labels: np.ndarray, min_size: int,
                  weights: np.ndarray | None = None) -> np.ndarray:
    """Move the nodes of communities smaller than ``min_size`` to the big community
    they have the most edge weight to (nodes with no such edge stay put).

    Too small to be proposed, such communities would leave their texts
    unassigned although their nearest neighbours have a cluster. A community's
    size is the sum of its nodes' ``weights`` (how often each text occurs).
    """
    sizes = np.bincount(labels, weights=weights)
    small = sizes[labels] < min_size
    if not small.any() or small.all():
        return labels
    labels = labels.copy()
    big_only = graph[small][:, ~small].tocsr()
    big_labels = labels[~small]
    for row, node in enumerate(np.flatnonzero(small)):
        start, end = big_only.indptr[row], big_only.indptr[row + 1]
        if start == end:
            continue
        weight = np.bincount(big_labels[big_only.indices[start:end]],
                             weights=big_only.data[start:end])
        labels[node] = int(np.argmax(weight))
    return np.unique(labels, return_inverse=True)[1]


# -- naming --------------------------------------------------------------------------


def _same_stem(a: str, b: str) -> bool:
    """Crude "same word" test for names: one contains the other, or a long common prefix."""
    if a in b or b in a:
        return True
    prefix = 0
    for x, y in zip(a, b):
        if x != y:
            break
        prefix += 1
    return prefix >= max(4, min(len(a), len(b)) - 2)


def _distinctive_terms(texts: Sequence[str], labels: np.ndarray, n_labels: int,
                       stop_words: frozenset[str], n_terms: int) -> list[list[str]]:
    """Per label, up to ``n_terms`` words ranked by class-based TF-IDF.

    A word's score in a cluster is the share of its texts containing it times
    ``log(1 + A / f)``, with ``f`` the word's count over all texts and ``A``
    the average number of words per cluster (as in BERTopic's c-TF-IDF).
    """
    vectorizer = CountVectorizer(preprocessor=_preprocess, token_pattern=_NAME_TOKEN,
                                 binary=True)
    try:
        counts = vectorizer.fit_transform(texts).tocsc()
    except ValueError:
        return [[] for _ in range(n_labels)]
    vocabulary = vectorizer.get_feature_names_out()
    allowed = np.array([t not in stop_words for t in vocabulary])
    member = sp.csr_matrix((np.ones(len(labels)), (labels, np.arange(len(labels)))),
                           shape=(n_labels, len(labels)))
    per_label = np.asarray((member @ counts).todense())
    sizes = np.bincount(labels, minlength=n_labels).astype(float)
    frequency = per_label.sum(axis=0)
    average = frequency.sum() / max(n_labels, 1)
    share = per_label / np.maximum(sizes, 1)[:, None]
    scores = share * np.log1p(average / np.maximum(frequency, 1))
    result = []
    for c in range(n_labels):
        # A name word should be shared by at least two members.
        ok = allowed & (per_label[c] >= min(2, sizes[c]))
        ranked = sorted(np.flatnonzero(ok), key=lambda t: (-scores[c, t], vocabulary[t]))
        chosen: list[str] = []
        for t in ranked:
            word = str(vocabulary[t])
            if not any(_same_stem(word, w) for w in chosen):
                chosen.append(word)
            if len(chosen) == n_terms:
                break
        result.append(chosen)
    return result


def _quote(text: str, max_chars: int = 120) -> str:
    return truncate(clean_for_prompt(text), max_chars)


def _enumerate(items: list[str], conjunction: str) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _describe(terms: list[str], examples: list[str], russian: bool) -> tuple[str, str]:
    """Summary and inclusion criteria from a cluster's words and its most central texts."""
    quoted = [_quote(t) for t in examples]
    if russian:
        words = _enumerate([f"«{t}»" for t in terms], "и")
        summary = (f"Обращения со словами {words}, например: «{quoted[0]}»." if terms
                   else f"Обращения, похожие на «{quoted[0]}».")
        criteria = ("Относите сюда обращения на ту же тему, что и эти: "
                    + "; ".join(f"«{q}»" for q in quoted) + ".")
    else:
        words = _enumerate([f'"{t}"' for t in terms], "and")
        summary = (f'Requests about {words}, such as "{quoted[0]}".' if terms
                   else f'Requests like "{quoted[0]}".')
        criteria = ("Assign a request here when it is about the same thing as these: "
                    + "; ".join(f'"{q}"' for q in quoted) + ".")
    return summary, criteria


def _unique_name(terms: list[str], n_terms: int, fallback: str, taken: set[str]) -> str:
    """``"a / b / c"``, lengthened by a word or numbered until no cluster has it yet."""
    if terms:
        candidates = [" / ".join(terms[:k]) for k in range(min(n_terms, len(terms)),
                                                           len(terms) + 1)]
    else:
        candidates = [clean_for_prompt(fallback)]
    candidates = [truncate(name, MAX_NAME_CHARS - 5) for name in candidates]
    for name in candidates:
        if name_key(name) not in taken:
            return name
    number = 2
    while name_key(f"{candidates[0]} ({number})") in taken:
        number += 1
    return f"{candidates[0]} ({number})"


# -- the engine ----------------------------------------------------------------------


@dataclass
class _Partition:
    """One community search: the space it ran in, its texts and their communities."""

    space: _TextSpace
    nodes: list[str]
    index: dict[str, int]
    labels: np.ndarray
    vectors: np.ndarray | None  # dropped from pickles, recomputed on demand


@dataclass
class _OwnCluster:
    """A cluster this engine proposed: its centroid and the texts it was built from."""

    centroid: np.ndarray
    texts: list[str] = field(default_factory=list)


class OfflineEngine:
    """Proposer and judge on TF-IDF features, for clustering without an LLM.

    :attr:`proposer` and :attr:`judge` are the two protocol objects the
    estimator uses; both share this engine's state (the representation and a
    centroid per cluster), which is how the judge knows the proposer's
    clusters. :meth:`propose` and :meth:`assign` do the work.

    Parameters
    ----------
    random_state : int, RandomState or None, default=None
        Seeds the SVD and the order in which the community search visits
        texts. With an int, the same calls give the same clusters.
    language : {"auto", "en", "ru"} or None, default="auto"
        Language of cluster summaries and criteria, and which function words
        are kept out of names. ``"auto"``/``None``: per cluster, from its texts.
        Other values (``"English"``, ``"русский"``) are read by their first letters.
    max_new_clusters : int or None, default=None
        Most proposals per :meth:`propose` call (the biggest clusters);
        ``None`` for no cap. The rest come back in later calls if their texts
        stay unassigned.
    min_cluster_size : int, default=3
        Fewest texts a proposed cluster has.
    threshold : float, default=0.35
        Cosine similarity to a centroid a text needs to be assigned by
        :meth:`judge`; below it the answer is ``None``. Higher: purer
        clusters, more texts left for new clusters or ``-1``.
    resolution : float, default=3.0
        Granularity of the community search (modularity resolution); higher
        finds more, smaller clusters.
    n_neighbors : int or "auto", default="auto"
        Neighbours per text in the similarity graph. ``"auto"``:
        ``log2(n) - 5`` for ``n`` texts, between 3 and 15 (3 up to 256
        texts, 5 at 1,000, 8 at 10,000).
    n_components : int, default=200
        Dimensions kept by the SVD.
    n_name_terms : int, default=3
        Words in a cluster name.
    max_fit_texts : int, default=50_000
        Most texts the representation is fitted on; later texts are still
        clustered and judged, just not learnt from.

    Attributes
    ----------
    n_fit_texts_ : int
        Texts the current representation was fitted on (0 before any).

    Notes
    -----
    Safe to call :meth:`judge` from several threads at once, and picklable
    (the lock is rebuilt on unpickling). A judge answer depends only on the
    text and the clusters, never on the other texts of the call or their
    order. The representation is fitted on the texts passed to
    :meth:`propose` (or :meth:`fit`) and refitted when they have doubled;
    before any of that, a judge call fits it on the clusters' own words.

    Examples
    --------
    >>> from sklearn_llmcluster.representation.offline import OfflineEngine
    >>> texts = ["where is my card", "my card has not arrived", "card not delivered yet",
    ...          "how do I reset my password", "forgot my password", "password reset link"]
    >>> engine = OfflineEngine(random_state=0, min_cluster_size=2, resolution=1.0,
    ...                        n_neighbors=2)
    >>> proposals = engine.propose(texts, [])
    >>> sorted(sorted(p.members) for p in proposals)
    [[0, 1, 2], [3, 4, 5]]
    """

    def __init__(
        self,
        *,
        random_state: Any = None,
        language: str | None = "auto",
        max_new_clusters: int | None = None,
        min_cluster_size: int = 3,
        threshold: float = 0.35,
        resolution: float = 3.0,
        n_neighbors: int | str = "auto",
        n_components: int = 200,
        n_name_terms: int = 3,
        max_fit_texts: int = 50_000,
    ) -> None:
        checked = [("min_cluster_size", min_cluster_size, 1), ("n_components", n_components, 1),
                   ("n_name_terms", n_name_terms, 1), ("max_fit_texts", max_fit_texts, 2)]
        if n_neighbors != "auto":
            checked.append(("n_neighbors", n_neighbors, 1))
        for name, value, low in checked:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if max_new_clusters is not None and (
                isinstance(max_new_clusters, bool)
                or not isinstance(max_new_clusters, (int, np.integer)) or max_new_clusters < 1):
            raise ValueError(f"max_new_clusters must be a positive integer or None, "
                             f"got {max_new_clusters!r}")
        if not -1.0 <= float(threshold) <= 1.0:
            raise ValueError(f"threshold is a cosine similarity in [-1, 1], got {threshold!r}")
        if not float(resolution) > 0:
            raise ValueError(f"resolution must be positive, got {resolution!r}")
        self.random_state = random_state
        self.language = language
        self.max_new_clusters = max_new_clusters
        self.min_cluster_size = int(min_cluster_size)
        self.threshold = float(threshold)
        self.resolution = float(resolution)
        self.n_neighbors = n_neighbors if n_neighbors == "auto" else int(n_neighbors)
        self.n_components = int(n_components)
        self.n_name_terms = int(n_name_terms)
        self.max_fit_texts = int(max_fit_texts)
        self._lock = threading.RLock()
        self._space: _TextSpace | None = None
        self._corpus: dict[str, None] = {}  # texts seen by propose/fit, insertion-ordered
        self.n_fit_texts_ = 0
        self._own: dict[str, _OwnCluster] = {}  # by name_key of the proposed name
        self._built: dict[tuple, np.ndarray] = {}  # centroids of foreign clusters, by content
        self._partition: _Partition | None = None  # the last community search

    # -- public objects for the estimator --------------------------------------
    @property
    def proposer(self) -> "OfflineProposer":
        """A :class:`~sklearn_llmcluster.protocols.Proposer` backed by this engine."""
        return OfflineProposer(self)

    @property
    def judge(self) -> "OfflineJudge":
        """A :class:`~sklearn_llmcluster.protocols.Judge` backed by this engine."""
        return OfflineJudge(self)

    # -- representation ------------------------------------------------------------
    def fit(self, texts: Iterable[str]) -> "OfflineEngine":
        """Fit the representation on ``texts`` now (e.g. all texts of a run).

        Optional: :meth:`propose` fits it on what it is shown. Fitting on the
        whole corpus first gives :meth:`propose` on small samples a richer
        vocabulary. Centroids of clusters proposed earlier are recomputed.

        Parameters
        ----------
        texts : iterable of str

        Returns
        -------
        self
        """
        with self._lock:
            for text in texts:
                if len(self._corpus) >= self.max_fit_texts:
                    break
                if isinstance(text, str) and text.strip():
                    self._corpus.setdefault(text, None)
            self._refit()
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts`` in the fitted representation.

        Parameters
        ----------
        texts : sequence of str

        Returns
        -------
        ndarray of shape (n_texts, n_dims)

        Raises
        ------
        RuntimeError
            If nothing has been fitted yet.
        """
        space = self._space
        if space is None:
            raise RuntimeError("the offline engine has not seen any text yet; call fit or propose")
        return space.transform(list(texts))

    def _seed(self) -> int:
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _refit(self) -> None:
        """Fit the representation on the corpus and recompute own centroids (lock held)."""
        # Sorted, so that the order texts arrived in does not change the fit.
        corpus = sorted(self._corpus)
        self._space_seed = self._seed()
        self._space = _TextSpace(corpus, self.n_components, self._space_seed)
        self.n_fit_texts_ = len(corpus)
        for own in self._own.values():
            own.centroid = self._mean_direction(self._space.transform(own.texts))
        self._built.clear()

    def _learn(self, texts: Sequence[str]) -> None:
        """Add proposer texts to the corpus; refit when it has doubled (lock held)."""
        for text in texts:
            if len(self._corpus) >= self.max_fit_texts:
                break
            self._corpus.setdefault(text, None)
        if self._space is None or len(self._corpus) >= 2 * self.n_fit_texts_:
            self._refit()

    @staticmethod
    def _mean_direction(vectors: np.ndarray) -> np.ndarray:
        return normalize(vectors.mean(axis=0, keepdims=True))[0]

    def _neighbours(self, n_texts: int) -> int:
        if self.n_neighbors != "auto":
            return self.n_neighbors
        # Chosen on subsamples of BANKING77 train (1k, 3k, 6k, 10k texts), whose
        # best degrees at the default resolution were about 4-5, 5, 6 and 8:
        # a fixed degree splits large corpora too finely and small ones too coarsely.
        return int(np.clip(round(np.log2(max(n_texts, 2)) - 5), 3, 15))

    # -- proposing -------------------------------------------------------------------
    def propose(self, texts: list[str], clusters: list[Cluster],
                counts: Sequence[int] | None = None) -> list[Proposal]:
        """Discover clusters among ``texts``; biggest first, at most ``max_new_clusters``.

        Parameters
        ----------
        texts : list of str
            Texts no existing cluster covers.
        clusters : list of Cluster
            Existing clusters; new names never repeat theirs.
        counts : sequence of int, optional
            How many rows of the input each text stands for (the estimator
            sends each distinct text once): a community's size for
            ``min_cluster_size`` and for the order of proposals is its rows.

        Returns
        -------
        list of Proposal
            ``members`` index into ``texts``; texts in no proposal are left out.
        """
        positions: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            if isinstance(text, str) and text.strip():
                positions.setdefault(text, []).append(i)
        if len(positions) < 2:
            return []
        rows = {text: (len(where) if counts is None else int(sum(counts[i] for i in where)))
                for text, where in positions.items()}
        with self._lock:
            self._learn(positions)
            space = self._space
        nodes, X, labels = self._communities(space, rows)
        n_labels = int(labels.max()) + 1
        groups = [np.flatnonzero(labels == c) for c in range(n_labels)]
        # Texts with no features left (digits only, "NA", a lone greeting) say
        # nothing about a topic: no community may claim them.
        given = np.array([text in positions for text in nodes]) \
            & (np.abs(X).sum(axis=1) > 0)
        sizes = [sum(rows[nodes[i]] for i in group if given[i]) for group in groups]
        kept = [c for c in range(n_labels) if sizes[c] >= self.min_cluster_size]
        # Biggest first (ties by the texts themselves): a caller that caps the
        # number of proposals keeps the largest clusters.
        kept.sort(key=lambda c: (-sizes[c], nodes[groups[c][0]]))
        if self.max_new_clusters is not None:
            kept = kept[:self.max_new_clusters]

        language = _resolve_language(self.language)
        stop_words = {"en": _STOP_WORDS_EN, "ru": _STOP_WORDS_RU}.get(
            language, _STOP_WORDS_EN | _STOP_WORDS_RU) | _BOILERPLATE
        terms = _distinctive_terms(nodes, labels, n_labels, stop_words, self.n_name_terms + 2)
        taken = {name_key(c.name) for c in clusters}
        proposals, own = [], {}
        for c in kept:
            group = groups[c][given[groups[c]]]
            centroid = self._mean_direction(X[group])
            order = group[np.argsort(-(X[group] @ centroid), kind="stable")]
            central = [nodes[i] for i in order[:3]]
            russian = language == "ru" or (language == "auto" and _is_russian(central))
            name = _unique_name(terms[c], self.n_name_terms, central[0], taken)
            taken.add(name_key(name))
            summary, criteria = _describe(terms[c][:self.n_name_terms], central, russian)
            proposals.append(Proposal(
                name=name, summary=summary, criteria=criteria,
                members=sorted(j for i in group for j in positions[nodes[i]])))
            # Most central texts first, so a capped list keeps the best ones.
            own[name_key(name)] = _OwnCluster(centroid=centroid,
                                              texts=[nodes[i] for i in order[:500]])
        with self._lock:
            for key, entry in own.items():
                if space is not self._space:  # refitted meanwhile by another call
                    entry.centroid = self._mean_direction(self._space.transform(entry.texts))
                self._own[key] = entry
        return proposals

    def _communities(self, space: _TextSpace, texts: dict[str, int]
                     ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Texts, their vectors and community labels, from a search covering ``texts``.

        ``texts`` maps each text to the rows it stands for.

        The last search is reused when it covered every text of ``texts``: a
        caller that caps proposals per call shows the left-over texts again,
        and a new search on fewer texts would cut them differently (smaller
        graphs split finer). Otherwise ``texts`` are searched afresh.
        """
        with self._lock:
            last = self._partition
        if last is not None and last.space is space and all(t in last.index for t in texts):
            if last.vectors is None:
                last.vectors = space.transform(last.nodes)
            return last.nodes, last.vectors, last.labels
        # Sorted: the order texts arrived in does not change the graph or the search.
        nodes = sorted(texts)
        vectors = space.transform(nodes)
        graph = _knn_graph(vectors, self._neighbours(len(nodes)))
        weights = np.array([texts[t] for t in nodes], dtype=float)
        resolution = self.resolution
        while True:
            labels = _louvain(graph, resolution, np.random.default_rng(self._seed()))
            labels = _absorb_small(graph, labels, self.min_cluster_size, weights)
            # The resolution suits thousands of texts; on a few dozen it can cut
            # every community below min_cluster_size. Coarser, then, down to
            # plain modularity, rather than proposing nothing.
            if np.bincount(labels, weights=weights).max() >= self.min_cluster_size \
                    or resolution <= 1.5:
                break
            resolution = max(resolution / 2, 1.5)
        with self._lock:
            self._partition = _Partition(space, nodes, {t: i for i, t in enumerate(nodes)},
                                         labels, vectors)
        return nodes, vectors, labels

    # -- judging ---------------------------------------------------------------------
    def _foreign_centroid(self, cluster: Cluster) -> np.ndarray:
        """Centroid of a cluster this engine did not propose (lock held)."""
        key = (cluster.name, cluster.summary, cluster.criteria, tuple(cluster.examples))
        centroid = self._built.get(key)
        if centroid is None:
            description = " ".join(p for p in (cluster.name, cluster.summary, cluster.criteria)
                                   if p)
            described = self._space.transform([description or cluster.name or " "])[0]
            if cluster.examples:
                # Examples are real requests, so they sit where members will be;
                # the description (often written in another register) only steers.
                examples = self._mean_direction(self._space.transform(list(cluster.examples)))
                centroid = normalize((examples + 0.5 * described)[None, :])[0]
            else:
                centroid = described
            self._built[key] = centroid
        return centroid

    def _centroids(self, clusters: Sequence[Cluster]) -> tuple[_TextSpace, np.ndarray]:
        with self._lock:
            if self._space is None:
                # Nothing proposed yet (clusters loaded from a file): learn the
                # words of the clusters themselves, so judging never fits on the
                # texts being judged.
                material = [p for c in clusters
                            for p in (c.name, c.summary, c.criteria, *c.examples) if p]
                self._corpus.update(dict.fromkeys(m for m in material if m.strip()))
                self._refit()
            rows = []
            for cluster in clusters:
                own = self._own.get(name_key(cluster.name))
                rows.append(own.centroid if own is not None else self._foreign_centroid(cluster))
            return self._space, np.vstack(rows)

    def assign(self, texts: list[str], clusters: list[Cluster]) -> list[str | None]:
        """Most similar cluster id per text, or ``None`` below ``threshold``.

        Parameters
        ----------
        texts : list of str
        clusters : list of Cluster

        Returns
        -------
        list of (str or None)
            One answer per text, in order.
        """
        if not texts:
            return []
        if not clusters:
            return [None] * len(texts)
        space, centroids = self._centroids(clusters)
        similarity = space.transform(list(texts)) @ centroids.T
        best = np.argmax(similarity, axis=1)
        best_similarity = similarity[np.arange(len(texts)), best]
        return [clusters[b].id if s >= self.threshold else None
                for b, s in zip(best.tolist(), best_similarity.tolist())]

    # -- what a clusters file keeps ---------------------------------------------------
    def export_state(self, clusters: Sequence[Cluster]) -> dict | None:
        """What :meth:`assign` needs to answer exactly as now, as JSON-ready data.

        The texts the representation was fitted on (and those seen since),
        its seed, and the centroid and texts of each of ``clusters`` this
        engine proposed, by cluster id. ``None`` before anything was fitted.
        :meth:`restore_state` rebuilds the same representation and centroids.
        """
        with self._lock:
            seed = getattr(self, "_space_seed", None)
            if self._space is None or seed is None:
                return None
            position = {t: i for i, t in enumerate(self._corpus)}
            own = {}
            for cluster in clusters:
                entry = self._own.get(name_key(cluster.name))
                if entry is not None:
                    # Exact float64 bytes, base64: a JSON list would be a line per number.
                    data = np.asarray(entry.centroid, dtype="<f8").tobytes()
                    # Texts by position in the corpus (base64 int32), the others in full.
                    rows = np.array([position.get(t, -1) for t in entry.texts], dtype="<i4")
                    own[cluster.id] = {
                        "centroid": base64.b64encode(data).decode("ascii"),
                        "corpus_rows": base64.b64encode(rows.tobytes()).decode("ascii"),
                        "other_texts": [t for t in entry.texts if t not in position]}
            return {"engine": "offline", "seed": int(seed), "n_components": self.n_components,
                    "n_fit_texts": self.n_fit_texts_, "corpus": list(self._corpus), "own": own}

    def restore_state(self, state: dict, clusters: Sequence[Cluster]) -> None:
        """Judge as the engine that wrote ``state`` with :meth:`export_state` did.

        Raises
        ------
        ValueError
            If ``state`` was not written by :meth:`export_state`.
        """
        try:
            corpus = [str(t) for t in state["corpus"]]
            n_fit, seed = int(state["n_fit_texts"]), int(state["seed"])
            n_components = int(state["n_components"])
            own = {}
            for cid, entry in state["own"].items():
                centroid = np.frombuffer(base64.b64decode(entry["centroid"], validate=True),
                                         dtype="<f8").astype(float)
                rows = np.frombuffer(base64.b64decode(entry["corpus_rows"], validate=True),
                                     dtype="<i4")
                others = iter(entry["other_texts"])
                own[cid] = (centroid, [corpus[r] if r >= 0 else str(next(others))
                                       for r in rows.tolist()])
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, StopIteration,
                binascii.Error) as exc:
            raise ValueError(f'"judge_state" is not what save_clusters writes ({exc!r}); '
                             "remove it to judge by the clusters' descriptions") from None
        names = {c.id: c.name for c in clusters}
        with self._lock:
            self._corpus = dict.fromkeys(corpus)
            self._space_seed = seed
            self._space = _TextSpace(sorted(corpus[:n_fit]), n_components, seed)
            self.n_fit_texts_ = n_fit
            self._own = {name_key(names[cid]): _OwnCluster(centroid, texts)
                         for cid, (centroid, texts) in own.items() if cid in names}
            self._built.clear()
            self._partition = None

    def rename_own(self, old_name: str, new_name: str) -> None:
        """Keep the centroid of a cluster this engine proposed when an analyst renames it."""
        with self._lock:
            entry = self._own.pop(name_key(old_name), None)
            if entry is not None:
                self._own[name_key(new_name)] = entry

    def merge_own(self, names: Sequence[str], into: str) -> None:
        """One centroid for clusters an analyst merged: from the texts of all of them.

        The survivor ``into`` keeps the name; a merged cluster that this engine
        did not propose adds nothing (its centroid was built from its description).
        """
        with self._lock:
            entries = [self._own.pop(name_key(n)) for n in (into, *names)
                       if name_key(n) in self._own]
            if not entries or self._space is None:
                return
            texts = list(dict.fromkeys(t for e in entries for t in e.texts))
            self._own[name_key(into)] = _OwnCluster(
                self._mean_direction(self._space.transform(texts)), texts)

    def forget_own(self, name: str) -> None:
        """Drop the centroid of a cluster that is no longer judged (removed or split)."""
        with self._lock:
            self._own.pop(name_key(name), None)

    # -- pickling --------------------------------------------------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_lock"]  # locks do not pickle
        last = state.get("_partition")
        if last is not None and last.vectors is not None:
            # The vectors are a cache (tens of MB on large runs); transform rebuilds them.
            state["_partition"] = _Partition(last.space, last.nodes, last.index, last.labels,
                                             None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return (f"OfflineEngine(random_state={self.random_state!r}, language={self.language!r}, "
                f"threshold={self.threshold}, resolution={self.resolution}, "
                f"{len(self._own)} clusters proposed, fitted on {self.n_fit_texts_} texts)")


class OfflineProposer:
    """The proposer of an :class:`OfflineEngine` (see :meth:`OfflineEngine.propose`).

    Parameters
    ----------
    engine : OfflineEngine
    """

    def __init__(self, engine: OfflineEngine) -> None:
        self.engine = engine

    #: The engine passes ``counts`` (rows per distinct text) to a proposer that says so.
    uses_counts = True

    def propose(self, texts: list[str], clusters: list[Cluster],
                counts: Sequence[int] | None = None) -> list[Proposal]:
        """Discover clusters among ``texts``; see :meth:`OfflineEngine.propose`."""
        return self.engine.propose(texts, clusters, counts)

    def __repr__(self) -> str:
        return f"OfflineProposer({self.engine!r})"


class OfflineJudge:
    """The judge of an :class:`OfflineEngine` (see :meth:`OfflineEngine.assign`).

    Parameters
    ----------
    engine : OfflineEngine
    """

    def __init__(self, engine: OfflineEngine) -> None:
        self.engine = engine

    def judge(self, texts: list[str], clusters: list[Cluster]) -> list[str | None]:
        """Most similar cluster id per text, or ``None``; see :meth:`OfflineEngine.assign`."""
        return self.engine.assign(texts, clusters)

    def __repr__(self) -> str:
        return f"OfflineJudge({self.engine!r})"
