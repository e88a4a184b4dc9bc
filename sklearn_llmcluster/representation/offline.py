"""The offline engine: propose and judge clusters on text embeddings, no LLM.

:class:`OfflineEngine` does both jobs of the LLM when no provider is
configured (``llmcluster demo``, ``provider="offline"``), and works the same
on Russian and English.

How it works
------------
Representation
    Texts are embedded by an :class:`~sklearn_llmcluster.representation.
    embedders.Embedder` (``embedder``: by default the packaged multilingual
    sentence encoder when it is installed, else TF-IDF). A pretrained
    embedder's vectors are joined with TF-IDF word and character n-gram
    features fitted on the texts (``lexical_weight``): the sentence encoder
    knows paraphrases, the n-grams know the words of this particular data
    (product names, jargon), and together they beat either alone (see
    ``docs/benchmarks.md``). Personal data is redacted
    (:func:`~sklearn_llmcluster.privacy.redaction.redact_pii`) before any text
    is embedded or named. The TF-IDF part is fitted on the texts the proposer
    sees, never on the texts being judged, and refitted only when those have
    doubled: a judge answer depends on the text and the clusters only.

Proposing (how many clusters: ``n_clusters``)
    The texts become a k-nearest-neighbour graph (edges weighted by cosine
    similarity), whose communities are found by modularity optimisation
    (Louvain, from scikit-network). ``n_clusters=None`` uses a resolution
    that suits data sets from dozens to tens of thousands of texts; an int
    or a ``(min, max)`` range searches the resolution until the count fits
    (and merges the most similar communities when a count must come down
    exactly). Communities smaller than ``min_cluster_size`` are dissolved
    into the community their texts are most connected to. Each cluster is
    named by a short phrase from its most central requests (greetings,
    thanks and personal data removed), gets a summary and inclusion
    criteria quoting them, and is proposed biggest first.

Judging
    A text goes to the cluster whose centroid is most similar, if that
    similarity reaches ``threshold``; otherwise ``None`` (in ``partial_fit``
    such texts are what new clusters are made of). Clusters the engine
    proposed are recognised by name (names it makes are unique); for any
    other cluster (loaded from JSON, made by an LLM, renamed) a centroid is
    built from its name, summary, criteria and examples.
"""

from __future__ import annotations

import re
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils import check_random_state

from ..exceptions import LLMClusterWarning
from ..privacy.redaction import redact_pii
from ..records import Cluster, Proposal
from .embedders import Embedder, TfidfEmbedder, resolve_embedder
from .normalization import MAX_NAME_CHARS, clean_for_prompt, name_key, truncate
from .tfidf import (_BOILERPLATE, _CYRILLIC, _LATIN, _NAME_TOKEN, _STOP_WORDS_EN,
                    _STOP_WORDS_RU, _preprocess, _without_pii)

__all__ = ["OfflineEngine", "OfflineProposer", "OfflineJudge", "check_n_clusters"]


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


def check_n_clusters(value: Any) -> None | int | tuple[int, int]:
    """``n_clusters`` checked: ``None``, a positive int, or a ``(min, max)`` pair.

    Parameters
    ----------
    value : None, int or (int, int)
        How many clusters to make: ``None`` lets the data decide, an int is a
        target, a pair bounds the count.

    Returns
    -------
    None, int or tuple of (int, int)

    Raises
    ------
    ValueError
        Naming the accepted forms, for anything else.
    """
    forms = ("n_clusters must be None (found from the data), a positive int (a target, "
             "e.g. 30) or a (min, max) pair of positive ints with min <= max (e.g. (20, 40))")

    def positive_int(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1

    if value is None:
        return None
    if positive_int(value):
        return int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 \
            and all(positive_int(v) for v in value) and value[0] <= value[1]:
        return int(value[0]), int(value[1])
    raise ValueError(f"{forms}; got {value!r}")


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
    weights = np.clip(np.concatenate(vals), 1e-6, None).astype(np.float64)
    graph = sp.csr_matrix((weights, (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    return graph.maximum(graph.T).tocsr()


_FALLBACK_WARNED = False


def _louvain(graph: sp.csr_matrix, resolution: float) -> np.ndarray:
    """Community of each node: scikit-network's Louvain (weighted, undirected modularity).

    Deterministic (nodes are visited in index order, which the caller makes
    independent of the order texts arrived in). Without scikit-network
    installed, a plain-Python Louvain of the same objective runs instead, with
    a warning saying how to install the fast one.
    """
    try:
        from sknetwork.clustering import Louvain
    except ImportError:
        global _FALLBACK_WARNED
        if not _FALLBACK_WARNED:
            _FALLBACK_WARNED = True
            warnings.warn(
                "scikit-network is not installed, so the offline engine finds communities "
                "with its slower built-in Louvain; pip install 'sklearn-llmcluster[offline]' "
                "for the maintained, compiled one.", LLMClusterWarning, stacklevel=3)
        return _python_louvain(graph, resolution)
    labels = Louvain(resolution=resolution, modularity="newman", return_probs=False,
                     return_aggregate=False, sort_clusters=True).fit_predict(graph)
    return np.unique(np.asarray(labels), return_inverse=True)[1]


def _python_louvain(graph: sp.csr_matrix, resolution: float) -> np.ndarray:
    """Louvain in plain Python, used only when scikit-network is missing."""
    n = graph.shape[0]
    membership = np.arange(n)
    for _ in range(20):
        community, moved = _move_nodes(graph, resolution)
        if not moved:
            break
        membership = community[membership]
        to_community = sp.csr_matrix((np.ones(len(community)), (np.arange(len(community)),
                                                                community)))
        graph = (to_community.T @ graph @ to_community).tocsr()
    return np.unique(membership, return_inverse=True)[1]


def _move_nodes(graph: sp.csr_matrix, resolution: float) -> tuple[np.ndarray, bool]:
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
        for i in range(n):
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
        if moves <= n // 1000:  # the last sweeps move a handful of nodes for almost no gain
            break
    return np.unique(community, return_inverse=True)[1], moved


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


def _merge_closest(X: np.ndarray, labels: np.ndarray, weights: np.ndarray,
                   keep: np.ndarray, target: int) -> np.ndarray:
    """Merge the two kept communities with the most similar centroids until ``target`` are left.

    ``keep`` marks the communities big enough to be proposed; the others are
    left alone. Used when a resolution search cannot land on an exact count
    (the count jumps by several clusters between close resolutions).
    """
    labels = labels.copy()
    members = {c: np.flatnonzero(labels == c) for c in np.flatnonzero(keep)}
    sums = {c: (X[m] * weights[m, None]).sum(axis=0) for c, m in members.items()}
    while len(members) > target:
        ids = sorted(members)
        centroids = normalize(np.vstack([sums[c] for c in ids]))
        similarity = centroids @ centroids.T
        np.fill_diagonal(similarity, -np.inf)
        a, b = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
        into, gone = ids[min(a, b)], ids[max(a, b)]
        labels[members[gone]] = into
        members[into] = np.concatenate([members[into], members.pop(gone)])
        sums[into] = sums[into] + sums.pop(gone)
    return np.unique(labels, return_inverse=True)[1]


# -- naming --------------------------------------------------------------------------

# Greetings, courtesies and fillers that open or close a request but never say
# what it is about. Cut from the start of a clause (repeatedly) and from its end.
_OPENERS = [
    r"доброго\s+(?:времени\s+суток|дня|утра|вечера)", r"добр(?:ый|ое|ого)\s+(?:день|утро|вечер)",
    r"здра(?:в|)ствуйте", r"здрасьте", r"привет(?:ствую)?", r"алло", r"ал[её]",
    r"уважаем(?:ый|ая|ые)\s+\w+", r"девушка", r"слушайте",
    r"подскажите(?:\s+пожалуйста)?", r"скажите(?:\s+пожалуйста)?", r"пожалуйста",
    r"извините", r"прошу\s+прощения", r"у\s+меня\s+вопрос", r"вопрос",
    r"hello", r"hi", r"hey", r"good\s+(?:morning|afternoon|evening)", r"dear\s+\w+",
    r"please", r"excuse\s+me", r"sorry",
]
_OPENER = re.compile(r"^(?:(?:" + "|".join(_OPENERS) + r")(?![\w])[\s,.!?:;)\-–—]*)+",
                     re.IGNORECASE)
_CLOSERS = re.compile(
    r"[\s,.;:!\-–—]*(?:(?:заранее\s+)?спасибо(?:\s+(?:большое|заранее))?|благодарю|"
    r"пожалуйста|please|thanks?(?:\s+you)?(?:\s+in\s+advance)?)[\s,.!)]*$", re.IGNORECASE)
# Where a signature starts: what follows is a name, not the request.
_SIGNATURE = re.compile(r"(?:с\s+уважением|best\s+regards|kind\s+regards|regards|sincerely)\b.*$",
                        re.IGNORECASE | re.DOTALL)
# A clause ends at sentence punctuation or a line break.
_CLAUSE = re.compile(r"[^.!?;\n…]+")
_PLACEHOLDER_WORD = re.compile(r"<[A-Z_]+>")
_LONG_NUMBER = re.compile(r"\d[\d\s\-]{3,}\d")
# A name never ends on a word that needs a continuation ("на", "with", "и").
_DANGLING = (_STOP_WORDS_EN | _STOP_WORDS_RU) - {"не", "нет", "not", "no"}
_NAME_WORDS = re.compile(r"\S+")


def _clean_clause(clause: str) -> str:
    """A clause without greetings, courtesies, personal data or stray punctuation."""
    clause = _PLACEHOLDER_WORD.sub(" ", clause)
    clause = _LONG_NUMBER.sub(" ", clause)
    clause = re.sub(r"\s+", " ", clause).strip(" ,:;-–—()\"'«»")
    previous = None
    while previous != clause:
        previous = clause
        clause = _OPENER.sub("", clause).strip(" ,:;-–—()\"'«»")
        clause = _CLOSERS.sub("", clause).strip(" ,:;-–—()\"'«»")
    return clause


def _shorten(phrase: str, max_words: int) -> tuple[str, bool]:
    """At most ``max_words`` words, never ending on a function word; and whether it was cut."""
    all_words = _NAME_WORDS.findall(phrase)
    words = all_words[:max_words]
    while len(words) > 1 and words[-1].lower().strip(",.:;!?") in _DANGLING:
        words.pop()
    phrase = " ".join(words).strip(" ,:;-–—")
    return phrase[:1].upper() + phrase[1:], len(words) < len(all_words)


def _name_candidates(texts: Sequence[str], max_words: int) -> list[tuple[str, bool]]:
    """Cleaned clauses of ``texts`` (most central first), each a possible name,
    with whether it had to be cut to ``max_words``."""
    seen, result = set(), []
    for text in texts:
        redacted = _SIGNATURE.sub("", redact_pii(text))
        for clause in _CLAUSE.findall(redacted):
            phrase, cut = _shorten(_clean_clause(clause), max_words)
            if not re.search(_NAME_TOKEN, phrase) or name_key(phrase) in seen:
                continue
            seen.add(name_key(phrase))
            result.append((phrase, cut))
    return result


def _term_weights(texts: Sequence[str], labels: np.ndarray, n_labels: int,
                  stop_words: frozenset[str], n_terms: int) -> list[dict[str, float]]:
    """Per label, its ``n_terms`` most distinctive words with their class-based TF-IDF.

    A word's score in a cluster is the share of its texts containing it times
    ``log(1 + A / f)``, with ``f`` the word's count over all texts and ``A``
    the average number of words per cluster (as in BERTopic's c-TF-IDF).
    Personal data and numbers are blanked out first.
    """
    vectorizer = CountVectorizer(preprocessor=_preprocess, token_pattern=_NAME_TOKEN,
                                 binary=True)
    try:
        counts = vectorizer.fit_transform(texts).tocsc()
    except ValueError:
        return [{} for _ in range(n_labels)]
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
        # A key word is shared by at least two members.
        ok = allowed & (per_label[c] >= min(2, sizes[c]))
        ranked = sorted(np.flatnonzero(ok), key=lambda t: (-scores[c, t], vocabulary[t]))
        result.append({str(vocabulary[t]): float(scores[c, t]) for t in ranked[:n_terms]})
    return result


def _stem(word: str) -> str:
    """Crude stem for matching a word form to a key word (``карту``/``карта``)."""
    word = word.lower().replace("ё", "е")
    return word[:max(4, len(word) - 2)] if len(word) > 4 else word


def _phrase_score(phrase: str, cut: bool, terms: dict[str, float], rank: int) -> float:
    """How well ``phrase`` names a cluster with key ``terms``: the key words it holds,
    less for phrases cut short, one-word phrases and less central requests."""
    stems = {_stem(w) for w in re.findall(_NAME_TOKEN, phrase)}
    covered = sum(score for term, score in terms.items() if _stem(term) in stems)
    n_words = len(_NAME_WORDS.findall(phrase))
    shape = (0.6 if cut else 1.0) * (0.7 if n_words == 1 else 1.0)
    return (covered + 1e-3) * shape * (1.0 - 0.03 * rank)


def _choose_name(candidates: list[tuple[str, bool]], terms: dict[str, float], taken: set[str],
                 fallback: str) -> str:
    """The best-scoring candidate that no cluster has yet (numbered if all are taken)."""
    ranked = sorted(range(len(candidates)),
                    key=lambda i: (-_phrase_score(*candidates[i], terms, i), i))
    names = [truncate(candidates[i][0], MAX_NAME_CHARS - 5) for i in ranked] or [fallback]
    for name in names:
        if name_key(name) not in taken:
            return name
    number = 2
    while name_key(f"{names[0]} ({number})") in taken:
        number += 1
    return f"{names[0]} ({number})"


def _quote(text: str, max_chars: int = 120) -> str:
    """A request as quoted in a summary: personal data redacted, one line, capped."""
    return truncate(clean_for_prompt(redact_pii(text)), max_chars)


def _describe(name: str, terms: list[str], examples: list[str],
              russian: bool) -> tuple[str, str]:
    """Summary and inclusion criteria from a cluster's name, key words and central texts."""
    quoted = [_quote(t) for t in examples]
    if russian:
        words = ", ".join(terms)
        summary = f"Обращения вида «{name}», например: «{quoted[0]}»." + (
            f" Ключевые слова: {words}." if terms else "")
        criteria = ("Относите сюда обращения с той же просьбой или проблемой, что и эти: "
                    + "; ".join(f"«{q}»" for q in quoted) + ".")
    else:
        words = ", ".join(terms)
        summary = f'Requests like "{name}", such as "{quoted[0]}".' + (
            f" Key words: {words}." if terms else "")
        criteria = ("Assign a request here when it asks for or reports the same thing as these: "
                    + "; ".join(f'"{q}"' for q in quoted) + ".")
    return summary, criteria


# -- the engine ----------------------------------------------------------------------

# Words that say nothing about a request; a text made only of them (a greeting,
# thanks, "алло") has no topic, and no community may claim it.
_NO_CONTENT = _STOP_WORDS_EN | _STOP_WORDS_RU | _BOILERPLATE | frozenset(
    "времени суток дня ок ok okay yes no да нет ага угу".split())
_TOKEN = re.compile(_NAME_TOKEN)


def _has_content(text: str) -> bool:
    """Whether a text holds a topic word: three letters or more, not a function word
    or greeting (spreadsheet formulas such as ``=SUM(A1:A2)`` hold none)."""
    if text.lstrip().startswith("="):
        return False
    return any(len(word) >= 3 and word not in _NO_CONTENT
               for word in _TOKEN.findall(_preprocess(text)))


def _feature_text(text: str) -> str:
    """What an embedder sees of a text: personal data taken out (placeholders too)."""
    return _without_pii(text)


@dataclass
class _Partition:
    """One community search: the representation it ran in, its texts and their communities."""

    version: int
    nodes: list[str]
    index: dict[str, int]
    labels: np.ndarray
    vectors: np.ndarray | None  # dropped from pickles, recomputed on demand


@dataclass
class _OwnCluster:
    """A cluster this engine proposed: its centroid and the texts it was built from."""

    centroid: np.ndarray
    texts: list[str] = field(default_factory=list)


#: The judge's default threshold per kind of representation: a text of a known
#: intent is at least this similar to its centroid 95% of the time (BANKING77,
#: the demo and MInDS-14); a text of an intent with no cluster mostly is not.
_AUTO_THRESHOLD = {"tfidf": 0.35, "embedding": 0.5}


def _auto_graph(n_texts: int, kind: str) -> tuple[int, float]:
    """Neighbours per text and resolution for ``n_texts`` texts when none are given.

    On embeddings, chosen on MInDS-14 ru (70 texts, 14 intents), the bundled
    Russian demo (529, 19), BANKING77 test (3,080, 77) and CLINC150 in-scope
    (22,500, 150), where it lands within 0.6x-1.5x the true number of intents
    (docs/benchmarks.md): larger sets hold more, finer intents, which a
    fixed resolution under-splits. On TF-IDF, the engine's earlier tuning
    on subsamples of BANKING77 train.
    """
    n = max(n_texts, 2)
    if kind == "tfidf":
        return int(np.clip(round(np.log2(n) - 5), 3, 15)), 3.0
    return int(np.clip(round(np.sqrt(n) / 2), 3, 15)), float(np.clip(2 * np.log2(n) - 15, 3.5, 10))


class OfflineEngine:
    """Proposer and judge on text embeddings, for clustering without an LLM.

    :attr:`proposer` and :attr:`judge` are the two protocol objects the
    estimator uses; both share this engine's state (the representation and a
    centroid per cluster), which is how the judge knows the proposer's
    clusters. :meth:`propose` and :meth:`assign` do the work.

    Parameters
    ----------
    embedder : None, str or Embedder, default=None
        The representation (see
        :func:`~sklearn_llmcluster.representation.embedders.resolve_embedder`):
        ``None`` for the best local embedder installed (the packaged
        multilingual sentence encoder, else TF-IDF), ``"tfidf"``,
        ``"use-multilingual"``, or an
        :class:`~sklearn_llmcluster.representation.embedders.Embedder`,
        used as it is (not copied: the estimator shares its ``embedder_``).
        An embedder that needs fitting and is not fitted yet is fitted by the
        engine on the texts it proposes from; a fitted one is never refitted.
    n_clusters : None, int or (int, int), default=None
        How many clusters the first search makes: ``None`` lets the data
        decide (the ``resolution``), an int is a target, a ``(min, max)``
        pair bounds the count. Later searches (on texts the judge found new,
        e.g. in ``partial_fit``) find clusters only for those texts, and never
        go past the pair's ``max`` in all (a warning says when that leaves
        texts without a cluster).
    random_state : int, RandomState or None, default=None
        Seeds the SVD of the TF-IDF features. With an int, the same calls
        give the same clusters.
    language : {"auto", "en", "ru"} or None, default="auto"
        Language of cluster summaries and criteria, and which function words
        are kept out of key words. ``"auto"``/``None``: per cluster, from its
        texts. Other values (``"English"``, ``"русский"``) are read by their
        first letters. Names are phrases of the texts, so in their language.
    max_new_clusters : int or None, default=None
        Most proposals per :meth:`propose` call (the biggest clusters);
        ``None`` for no cap. The rest come back in later calls if their texts
        stay unassigned.
    min_cluster_size : int, default=3
        Fewest texts a proposed cluster has.
    threshold : float or None, default=None
        Cosine similarity to a centroid a text needs to be assigned by
        :meth:`assign`; below it the answer is ``None``. Higher: purer
        clusters, more texts left for new clusters or ``-1``. ``None``: 0.5
        on embeddings, 0.35 on TF-IDF alone.
    resolution : float or None, default=None
        Granularity of the community search when ``n_clusters`` is ``None``
        (modularity resolution; higher finds more, smaller clusters).
        ``None``: on embeddings ``2 log2(n) - 15`` for ``n`` texts, between
        3.5 and 10 (larger sets hold finer intents); 3.0 on TF-IDF alone.
    n_neighbors : int or "auto", default="auto"
        Neighbours per text in the similarity graph. ``"auto"``, for ``n``
        texts: on embeddings ``sqrt(n) / 2`` (on TF-IDF ``log2(n) - 5``),
        between 3 and 15.
    lexical_weight : float, default=0.5
        Weight of TF-IDF features (fitted on the texts) joined to a pretrained
        embedder's vectors; 0 for the embedder alone. Ignored when the
        embedder is TF-IDF itself.
    n_components : int, default=200
        Dimensions kept by the SVD of the TF-IDF features.
    max_name_words : int, default=6
        Most words in a cluster name.
    max_fit_texts : int, default=50_000
        Most distinct texts the TF-IDF features are fitted on; later texts
        are still clustered and judged, just not learnt from (a warning says
        so once).

    Attributes
    ----------
    embedder_ : Embedder or None
        The resolved embedder (``None`` until first used).
    n_fit_texts_ : int
        Texts the current TF-IDF features were fitted on (0 before any).

    Notes
    -----
    Safe to call :meth:`assign` from several threads at once, and picklable
    (the lock is rebuilt on unpickling; the embedder pickles without its
    model weights). A judge answer depends only on the text and the clusters,
    never on the other texts of the call or their order.

    Examples
    --------
    >>> from sklearn_llmcluster.representation.offline import OfflineEngine
    >>> texts = ["where is my card", "my card has not arrived", "card not delivered yet",
    ...          "how do I reset my password", "forgot my password", "password reset link"]
    >>> engine = OfflineEngine(embedder="tfidf", random_state=0, min_cluster_size=2,
    ...                        n_clusters=2, n_neighbors=2)
    >>> proposals = engine.propose(texts, [])
    >>> sorted(sorted(p.members) for p in proposals)
    [[0, 1, 2], [3, 4, 5]]
    """

    def __init__(
        self,
        *,
        embedder: Any = None,
        n_clusters: None | int | tuple[int, int] = None,
        random_state: Any = None,
        language: str | None = "auto",
        max_new_clusters: int | None = None,
        min_cluster_size: int = 3,
        threshold: float | None = None,
        resolution: float | None = None,
        n_neighbors: int | str = "auto",
        lexical_weight: float = 0.5,
        n_components: int = 200,
        max_name_words: int = 6,
        max_fit_texts: int = 50_000,
    ) -> None:
        checked = [("min_cluster_size", min_cluster_size, 1), ("n_components", n_components, 1),
                   ("max_name_words", max_name_words, 1), ("max_fit_texts", max_fit_texts, 2)]
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
        if threshold is not None and not -1.0 <= float(threshold) <= 1.0:
            raise ValueError(f"threshold is a cosine similarity in [-1, 1] (or None for the "
                             f"default), got {threshold!r}")
        if resolution is not None and not float(resolution) > 0:
            raise ValueError(f"resolution must be positive (or None for the default), "
                             f"got {resolution!r}")
        if not 0.0 <= float(lexical_weight) <= 10.0:
            raise ValueError(f"lexical_weight must be in [0, 10], got {lexical_weight!r}")
        self.embedder = embedder
        self.n_clusters = check_n_clusters(n_clusters)
        self.random_state = random_state
        self.language = language
        self.max_new_clusters = max_new_clusters
        self.min_cluster_size = int(min_cluster_size)
        self.threshold = None if threshold is None else float(threshold)
        self.resolution = None if resolution is None else float(resolution)
        self.n_neighbors = n_neighbors if n_neighbors == "auto" else int(n_neighbors)
        self.lexical_weight = float(lexical_weight)
        self.n_components = int(n_components)
        self.max_name_words = int(max_name_words)
        self.max_fit_texts = int(max_fit_texts)
        self._lock = threading.RLock()
        self.embedder_: Embedder | None = None
        self._fits_embedder = False  # the engine fits embedder_ on its corpus
        self._lexical: TfidfEmbedder | None = None  # TF-IDF joined to a pretrained embedder
        self._version = 0  # bumped whenever the representation changes
        self._corpus: dict[str, None] = {}  # texts seen by propose/fit, insertion-ordered
        self._left_out = 0  # distinct texts not learnt from (max_fit_texts)
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
    def _resolve(self) -> Embedder:
        """The embedder, resolved on first use (lock held)."""
        if self.embedder_ is None:
            seed = self._seed()
            # An Embedder is shared as it is (the estimator passes its embedder_).
            embedder = self.embedder if isinstance(self.embedder, Embedder) \
                else resolve_embedder(self.embedder, random_state=seed)
            self._fits_embedder = embedder.requires_fit and not embedder.is_fitted
            if not embedder.requires_fit and self.lexical_weight > 0:
                self._lexical = TfidfEmbedder(self.n_components, random_state=seed)
            self.embedder_ = embedder
        return self.embedder_

    @property
    def _kind(self) -> str:
        """``"tfidf"`` when the vectors are TF-IDF alone, else ``"embedding"``."""
        embedder = self.embedder_
        return "tfidf" if embedder is not None and embedder.requires_fit else "embedding"

    def _needs_fit(self) -> bool:
        return self._fits_embedder or self._lexical is not None

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
            self._resolve()
            self._add_to_corpus(t for t in texts if isinstance(t, str) and t.strip())
            self._refit()
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts`` in the current representation.

        Parameters
        ----------
        texts : sequence of str

        Returns
        -------
        ndarray of shape (n_texts, n_dims)

        Raises
        ------
        RuntimeError
            If the representation needs fitting and nothing has been fitted yet.
        """
        with self._lock:
            self._resolve()
            if self._needs_fit() and self.n_fit_texts_ == 0:
                raise RuntimeError("the offline engine has not seen any text yet; "
                                   "call fit or propose")
            embedder, lexical = self.embedder_, self._lexical
        return self._vectors(list(texts), embedder, lexical)

    def _vectors(self, texts: list[str], embedder: Embedder,
                 lexical: TfidfEmbedder | None) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        clean = [_feature_text(t) for t in texts]
        vectors = embedder.transform(clean)
        if lexical is not None:
            vectors = np.hstack([vectors, self.lexical_weight * lexical.transform(clean)])
        return normalize(vectors).astype(np.float32, copy=False)

    def _seed(self) -> int:
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _add_to_corpus(self, texts: Iterable[str]) -> None:
        """Remember texts to learn from, up to ``max_fit_texts`` (lock held)."""
        for text in texts:
            if text in self._corpus:
                continue
            if len(self._corpus) >= self.max_fit_texts:
                self._left_out += 1
                continue
            self._corpus[text] = None
        if self._left_out and self._needs_fit() and not getattr(self, "_warned_cap", False):
            self._warned_cap = True
            warnings.warn(
                f"the offline engine's TF-IDF features learn from at most max_fit_texts="
                f"{self.max_fit_texts:,} distinct texts; later texts are clustered with them "
                f"but their words are not learnt. Raise max_fit_texts (more memory and time) "
                f"if the later texts use words the first ones do not.",
                LLMClusterWarning, stacklevel=4)

    def _refit(self) -> None:
        """Fit the representation on the corpus and recompute own centroids (lock held)."""
        if not self._needs_fit() and self._version:
            return
        # Sorted, so that the order texts arrived in does not change the fit.
        corpus = sorted(self._corpus)
        if self._fits_embedder:
            self.embedder_.fit(corpus)
        if self._lexical is not None:
            self._lexical.fit(corpus)
        self.n_fit_texts_ = len(corpus) if self._needs_fit() else 0
        self._version += 1
        for own in self._own.values():
            own.centroid = self._mean_direction(
                self._vectors(own.texts, self.embedder_, self._lexical))
        self._built.clear()

    def _learn(self, texts: Iterable[str]) -> None:
        """Add proposer texts to the corpus; refit when it has doubled (lock held)."""
        self._resolve()
        self._add_to_corpus(texts)
        if self._version == 0 or (self._needs_fit()
                                  and len(self._corpus) >= 2 * self.n_fit_texts_):
            self._refit()

    @staticmethod
    def _mean_direction(vectors: np.ndarray) -> np.ndarray:
        return normalize(vectors.mean(axis=0, keepdims=True))[0]

    def _neighbours(self, n_texts: int) -> int:
        if self.n_neighbors != "auto":
            return self.n_neighbors
        return _auto_graph(n_texts, self._kind)[0]

    def _threshold(self) -> float:
        return self.threshold if self.threshold is not None else _AUTO_THRESHOLD[self._kind]

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
            version, embedder, lexical = self._version, self.embedder_, self._lexical
        live = [c for c in clusters if getattr(c, "status", "active") not in ("merged", "removed")]
        nodes, X, labels = self._communities(rows, version, embedder, lexical, len(live))
        n_labels = int(labels.max()) + 1
        groups = [np.flatnonzero(labels == c) for c in range(n_labels)]
        # Texts with no topic words (digits only, "NA", a lone greeting) say
        # nothing about a topic: no community may claim them.
        given = np.array([text in positions and _has_content(text) for text in nodes])
        sizes = [sum(rows[nodes[i]] for i in group if given[i]) for group in groups]
        kept = [c for c in range(n_labels) if sizes[c] >= self.min_cluster_size]
        # Biggest first (ties by the texts themselves): a caller that caps the
        # number of proposals keeps the largest clusters.
        kept.sort(key=lambda c: (-sizes[c], nodes[groups[c][0]]))
        kept = self._within_range(kept, len(live), sum(sizes[c] for c in kept))
        if self.max_new_clusters is not None:
            kept = kept[:self.max_new_clusters]

        language = _resolve_language(self.language)
        stop_words = {"en": _STOP_WORDS_EN, "ru": _STOP_WORDS_RU}.get(
            language, _STOP_WORDS_EN | _STOP_WORDS_RU) | _NO_CONTENT
        terms = _term_weights(nodes, labels, n_labels, stop_words, 8)
        taken = {name_key(c.name) for c in clusters}
        proposals, own = [], {}
        for c in kept:
            group = groups[c][given[groups[c]]]
            centroid = self._mean_direction(X[group])
            order = group[np.argsort(-(X[group] @ centroid), kind="stable")]
            central = [nodes[i] for i in order[:10]]
            russian = language == "ru" or (language == "auto" and _is_russian(central[:3]))
            name = _choose_name(_name_candidates(central, self.max_name_words), terms[c],
                                taken, fallback="Запросы" if russian else "Requests")
            taken.add(name_key(name))
            summary, criteria = _describe(name, list(terms[c])[:3], central[:3], russian)
            proposals.append(Proposal(
                name=name, summary=summary, criteria=criteria,
                members=sorted(j for i in group for j in positions[nodes[i]])))
            # Most central texts first, so a capped list keeps the best ones.
            own[name_key(name)] = _OwnCluster(centroid=centroid,
                                              texts=[nodes[i] for i in order[:500]])
        with self._lock:
            for key, entry in own.items():
                if version != self._version:  # refitted meanwhile by another call
                    entry.centroid = self._mean_direction(
                        self._vectors(entry.texts, self.embedder_, self._lexical))
                self._own[key] = entry
        return proposals

    def _within_range(self, kept: list[int], n_live: int, n_rows: int) -> list[int]:
        """``kept`` cut so that the clusters never exceed ``n_clusters``'s max (with a warning)."""
        if not isinstance(self.n_clusters, tuple) or n_live == 0:
            return kept
        room = max(self.n_clusters[1] - n_live, 0)
        if len(kept) > room:
            warnings.warn(
                f"n_clusters={self.n_clusters} allows at most {self.n_clusters[1]} clusters and "
                f"{n_live} exist, so {len(kept) - room} new groups of texts found by the offline "
                f"engine get no cluster and their texts stay unassigned (-1). Raise the "
                f"maximum of n_clusters to give them clusters.", LLMClusterWarning, stacklevel=4)
            kept = kept[:room]
        return kept

    def _communities(self, texts: dict[str, int], version: int, embedder: Embedder,
                     lexical: TfidfEmbedder | None, n_live: int
                     ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Texts, their vectors and community labels, from a search covering ``texts``.

        ``texts`` maps each text to the rows it stands for.

        The last search is reused when it covered every text of ``texts``: a
        caller that caps proposals per call shows the left-over texts again,
        and a new search on fewer texts would cut them differently (smaller
        graphs split finer). Otherwise ``texts`` are searched afresh, for
        ``n_clusters`` clusters if no cluster exists yet, else with the
        default granularity (what is left is what is new).
        """
        with self._lock:
            last = self._partition
        if last is not None and last.version == version and all(t in last.index for t in texts):
            if last.vectors is None:
                last.vectors = self._vectors(last.nodes, embedder, lexical)
            return last.nodes, last.vectors, last.labels
        # Sorted: the order texts arrived in does not change the graph or the search.
        nodes = sorted(texts)
        # Texts that read the same once personal data is out ("call +7 912 ...")
        # are one node of the graph, weighted by their rows.
        keys, inverse = np.unique([_feature_text(t) for t in nodes], return_inverse=True)
        unique_vectors = self._vectors(keys.tolist(), embedder, lexical)
        weights = np.bincount(inverse, weights=[texts[t] if _has_content(t) else 0
                                                for t in nodes], minlength=len(keys))
        graph = _knn_graph(unique_vectors, self._neighbours(len(keys)))
        target = self.n_clusters if n_live == 0 else None
        labels = self._search(graph, unique_vectors, weights, target)[inverse]
        vectors = unique_vectors[inverse]
        with self._lock:
            self._partition = _Partition(version, nodes, {t: i for i, t in enumerate(nodes)},
                                         labels, vectors)
        return nodes, vectors, labels

    def _search(self, graph: sp.csr_matrix, X: np.ndarray, weights: np.ndarray,
                target: None | int | tuple[int, int]) -> np.ndarray:
        """Community labels at the default resolution, or at one giving ``target`` clusters."""
        size = self.min_cluster_size
        resolution = self.resolution or _auto_graph(graph.shape[0], self._kind)[1]

        def run(res: float) -> tuple[np.ndarray, int, float]:
            """Labels, communities big enough to propose, and the share of rows they hold."""
            labels = _absorb_small(graph, _louvain(graph, res), size, weights)
            kept = np.bincount(labels, weights=weights) >= size
            return labels, int(kept.sum()), float(weights[kept[labels]].sum()
                                                  / max(weights.sum(), 1e-12))

        if target is None:
            while True:
                labels, count, _ = run(resolution)
                # The resolution suits thousands of texts; on a few dozen it can
                # cut every community below min_cluster_size. Coarser, then,
                # down to plain modularity, rather than proposing nothing.
                if count or resolution <= 1.0:
                    return labels
                resolution = max(resolution / 2, 1.0)
        low, high = (target, target) if isinstance(target, int) else target
        # A geometric grid of resolutions around the default (Louvain on a
        # sparse graph is fast). A cut counts only if its big-enough
        # communities hold most rows: a fine cut of many tiny communities can
        # have the right count of big ones and leave a whole topic out.
        tried = [(res, *run(res)) for res in resolution * 2.0 ** np.arange(-6.0, 4.5, 0.5)]
        whole = [t for t in tried if t[3] >= 0.9] or tried
        fits = [t for t in whole if low <= t[2] <= high]
        if fits:
            middle = (low + high) / 2
            return min(fits, key=lambda t: (-round(t[3], 2), abs(t[2] - middle), t[0]))[1]
        finer = [t for t in whole if t[2] > high]
        if finer:
            # The count jumps past the range between two close resolutions:
            # merge the most alike communities of the next finer cut down to it.
            labels = min(finer, key=lambda t: (t[2], t[0]))[1]
            keep = np.bincount(labels, weights=weights) >= size
            return _merge_closest(X, labels, weights, keep, high)
        _, labels, count, _ = max(tried, key=lambda t: (t[2], t[3]))
        warnings.warn(
            f"the offline engine found only {count} groups of at least min_cluster_size="
            f"{size} texts, fewer than n_clusters={self.n_clusters} asks for: the texts do not "
            f"hold that many distinct topics at this size. Lower n_clusters or "
            f"min_cluster_size.", LLMClusterWarning, stacklevel=5)
        return labels

    # -- judging ---------------------------------------------------------------------
    def _foreign_centroid(self, cluster: Cluster) -> np.ndarray:
        """Centroid of a cluster this engine did not propose (lock held)."""
        key = (cluster.name, cluster.summary, cluster.criteria, tuple(cluster.examples))
        centroid = self._built.get(key)
        if centroid is None:
            description = " ".join(p for p in (cluster.name, cluster.summary, cluster.criteria)
                                   if p)
            described = self._vectors([description or cluster.name or " "],
                                      self.embedder_, self._lexical)[0]
            if cluster.examples:
                # Examples are real requests, so they sit where members will be;
                # the description (often written in another register) only steers.
                examples = self._mean_direction(
                    self._vectors(list(cluster.examples), self.embedder_, self._lexical))
                centroid = normalize((examples + 0.5 * described)[None, :])[0]
            else:
                centroid = described
            self._built[key] = centroid
        return centroid

    def _centroids(self, clusters: Sequence[Cluster]
                   ) -> tuple[Embedder, TfidfEmbedder | None, np.ndarray]:
        with self._lock:
            self._resolve()
            if self._version == 0:
                # Nothing proposed yet (clusters loaded from a file): learn the
                # words of the clusters themselves, so judging never fits on the
                # texts being judged.
                material = [p for c in clusters
                            for p in (c.name, c.summary, c.criteria, *c.examples) if p]
                self._add_to_corpus(m for m in material if m.strip())
                self._refit()
            rows = []
            for cluster in clusters:
                own = self._own.get(name_key(cluster.name))
                rows.append(own.centroid if own is not None else self._foreign_centroid(cluster))
            return self.embedder_, self._lexical, np.vstack(rows)

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
        embedder, lexical, centroids = self._centroids(clusters)
        similarity = self._vectors(list(texts), embedder, lexical) @ centroids.T
        best = np.argmax(similarity, axis=1)
        best_similarity = similarity[np.arange(len(texts)), best]
        threshold = self._threshold()
        return [clusters[b].id if s >= threshold else None
                for b, s in zip(best.tolist(), best_similarity.tolist())]

    # -- pickling --------------------------------------------------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_lock"]  # locks do not pickle
        last = state.get("_partition")
        if last is not None and last.vectors is not None:
            # The vectors are a cache (tens of MB on large runs); _vectors rebuilds them.
            state["_partition"] = _Partition(last.version, last.nodes, last.index, last.labels,
                                             None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        embedder = self.embedder_.name if self.embedder_ is not None else self.embedder
        return (f"OfflineEngine(embedder={embedder!r}, n_clusters={self.n_clusters!r}, "
                f"random_state={self.random_state!r}, language={self.language!r}, "
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
