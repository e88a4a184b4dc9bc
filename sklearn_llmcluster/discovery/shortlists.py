"""Candidate shortlists: the judge sees the clusters likely to fit, not the whole catalogue.

A judge prompt that lists every cluster grows with the catalogue: at 150
clusters it is 98% cluster list. Here each text is compared, in the
representation layer's vector space, with every cluster's description (name
and criteria), its examples and the running centroid of its members; the
clusters closest to a text are its candidates. Texts are then batched with
texts that share their best candidates, and a batch's prompt lists the union
of its texts' candidates (in registry order, so batches with the same
candidates send the same bytes). With a small catalogue (``full_list_max``
clusters or fewer) the judge sees them all, as before.

:class:`ClusterIndex` keeps the member centroids; the estimator holds one
(``shortlist_index_``), updated after every ``fit``/``partial_fit``, so it
pickles with the model and grows with ``partial_fit``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from ..records import Cluster
from ..representation.embedders import Embedder, TfidfEmbedder

__all__ = ["ClusterIndex", "ShortlistSettings", "Shortlister", "cluster_material"]


def cluster_material(cluster: Cluster) -> str:
    """What a cluster says about itself: its name and criteria (or summary)."""
    return f"{cluster.name}. {cluster.criteria or cluster.summary or ''}".strip()


class ClusterIndex:
    """Running centroids of each cluster's member vectors, for one embedder.

    Sums and counts per cluster id, so adding a ``partial_fit`` call's
    members is cheap and the centroid is the mean over every call. Vectors
    are only comparable within one embedder: :meth:`matches` tells whether
    an embedder is the one the index was built with.

    Parameters
    ----------
    embedder : Embedder
        A fitted embedder (its ``transform`` must give the same row for a
        text every time).
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.sums: dict[str, np.ndarray] = {}
        self.counts: dict[str, int] = {}

    def matches(self, embedder: Embedder | None) -> bool:
        """Whether vectors of ``embedder`` are comparable with this index's."""
        return embedder is None or embedder is self.embedder

    def add(self, texts: Sequence[str], ids: Sequence[str | None]) -> None:
        """Add members: ``ids[i]`` is the cluster of ``texts[i]`` (``None`` is skipped)."""
        pairs = [(t, cid) for t, cid in zip(texts, ids) if cid is not None]
        if not pairs:
            return
        vectors = self.embedder.transform([t for t, _ in pairs])
        for (_, cid), vector in zip(pairs, vectors):
            if cid in self.sums:
                self.sums[cid] = self.sums[cid] + vector
                self.counts[cid] += 1
            else:
                self.sums[cid] = vector.astype(np.float32, copy=True)
                self.counts[cid] = 1

    def rename(self, mapping: dict[str, str]) -> None:
        """Fold the centroids of merged clusters into their survivors (``source -> into``)."""
        for source, into in mapping.items():
            if source not in self.sums or source == into:
                continue
            vector, count = self.sums.pop(source), self.counts.pop(source)
            if into in self.sums:
                self.sums[into] = self.sums[into] + vector
                self.counts[into] += count
            else:
                self.sums[into], self.counts[into] = vector, count

    def centroid(self, cluster_id: str) -> np.ndarray | None:
        """Unit mean vector of the cluster's members, ``None`` if it has none here."""
        total = self.sums.get(cluster_id)
        if total is None:
            return None
        norm = float(np.linalg.norm(total))
        return total / norm if norm else None

    def __len__(self) -> int:
        return len(self.sums)

    def __repr__(self) -> str:
        return f"ClusterIndex({len(self)} clusters, embedder={self.embedder!r})"


@dataclass
class ShortlistSettings:
    """How candidate shortlists are drawn.

    Attributes
    ----------
    enabled : bool
        Off: every judge call lists every cluster (the cost grows with the
        catalogue).
    full_list_max : int
        Catalogues of at most this many clusters are always listed whole.
    k_min, k_max : int or None
        Candidates per text: ``k_min`` for a text one cluster clearly wins,
        up to ``k_max`` when many clusters score close to its best.
        ``k_min=None``: 4 with a pretrained sentence encoder, 8 with TF-IDF
        (whose neighbours are noisier; measured in docs/benchmarks.md).
    margin : float
        "Close to its best": clusters whose similarity is within ``margin``
        times the gap between the text's best and its average cluster.
    recheck_none : bool or None
        Judge again, against a much wider list, a text the judge answered
        "none" from a shortlist (its cluster may have been missing). ``None``
        (default): with TF-IDF, whose shortlists miss about 4% of the
        clusters (there the second look gives back 3.5-4 points of accuracy
        for 10-20% more prompt characters), not with a pretrained encoder,
        whose shortlists miss about 1% (half a point, for 5-16% more; see
        docs/benchmarks.md). ``fit`` and ``partial_fit`` give the texts a
        shortlist left at "none" one last look at every cluster anyway.
    recheck_k : int or None
        Clusters per text in that second look: its ``recheck_k`` most
        similar (about 3 times ``k_max``: the gold cluster is all but always
        among them), the union over a batch; ``None``: the whole catalogue.
    """

    enabled: bool = True
    full_list_max: int = 20
    k_min: int | None = None
    k_max: int = 15
    margin: float = 0.4
    recheck_none: bool | None = None
    recheck_k: int | None = 40


class Shortlister:
    """Draws candidate clusters per text and forms batches that share them.

    Parameters
    ----------
    settings : ShortlistSettings
    embedder : Embedder, optional
        The representation layer's embedder (fitted). ``None``: a
        :class:`~sklearn_llmcluster.representation.embedders.TfidfEmbedder`
        is fitted on the texts and the clusters' material at hand.
    index : ClusterIndex, optional
        Member centroids; used when built with the same embedder.
    random_state : int or None
        Seeds the fallback TF-IDF embedder.
    """

    def __init__(self, settings: ShortlistSettings, embedder: Embedder | None = None,
                 index: ClusterIndex | None = None, random_state: int | None = 0) -> None:
        self.settings = settings
        self.embedder = embedder
        self.index = index
        self.random_state = random_state

    def prepare(self, texts: Sequence[str], clusters: Sequence[Cluster]) -> None:
        """Fit the fallback TF-IDF embedder once, on a whole call's texts and clusters.

        Without it each judge pass would fit its own on the texts it judges.
        Nothing to do when the representation layer's embedder or the
        index's is there.
        """
        if self.embedder is None and self.index is None and texts:
            self.embedder = self._embedder_for(texts, clusters)

    def widened(self) -> "Shortlister | None":
        """The shortlister of the second look after "none" (``None``: the whole catalogue)."""
        k = self.settings.recheck_k
        if k is None:
            return None
        settings = replace(self.settings, k_min=k, k_max=k, full_list_max=k,
                           recheck_none=False)
        return Shortlister(settings, embedder=self.embedder, index=self.index,
                           random_state=self.random_state)

    def rechecks(self) -> bool:
        """Whether a "none" from a shortlist gets the second look (see ``recheck_none``)."""
        if self.settings.recheck_none is not None:
            return bool(self.settings.recheck_none)
        embedder = getattr(self, "last_embedder_", None) or self.embedder or \
            getattr(self.index, "embedder", None)
        # No embedder yet: TF-IDF will be fitted on the texts at hand.
        return embedder is None or bool(getattr(embedder, "requires_fit", False))

    def applies(self, n_clusters: int) -> bool:
        """Whether a catalogue of ``n_clusters`` is shortlisted (else listed whole)."""
        return self.settings.enabled and n_clusters > self.settings.full_list_max

    def _embedder_for(self, texts: Sequence[str], clusters: Sequence[Cluster]) -> Embedder:
        embedder = self.embedder
        if embedder is None and self.index is not None:
            embedder = self.index.embedder
        if embedder is not None and embedder.is_fitted:
            return embedder
        # No representation layer: TF-IDF over what is at hand, texts and clusters.
        material = list(texts) + [cluster_material(c) for c in clusters] + \
            [e for c in clusters for e in c.examples]
        return TfidfEmbedder(random_state=self.random_state).fit(material)

    def scores(self, texts: Sequence[str], clusters: Sequence[Cluster]) -> np.ndarray:
        """Similarity of each text to each cluster, shape ``(len(texts), len(clusters))``.

        The best of: the description (name and criteria), the nearest
        example, and the members' centroid (from the index, else the
        examples' mean). A cluster loaded from JSON has no centroid in the
        index; its description and examples stand in.
        """
        embedder = self._embedder_for(texts, clusters)
        self.last_embedder_ = embedder
        text_vectors = embedder.transform(list(texts))
        descriptions = embedder.transform([cluster_material(c) for c in clusters])
        best = text_vectors @ descriptions.T
        examples = [(j, e) for j, c in enumerate(clusters) for e in c.examples]
        centroids = np.zeros_like(descriptions)
        has_centroid = np.zeros(len(clusters), dtype=bool)
        if examples:
            example_vectors = embedder.transform([e for _, e in examples])
            owners = np.array([j for j, _ in examples])
            sims = text_vectors @ example_vectors.T
            for j in np.unique(owners):
                columns = owners == j
                np.maximum(best[:, j], sims[:, columns].max(axis=1), out=best[:, j])
                mean = example_vectors[columns].sum(axis=0)
                norm = float(np.linalg.norm(mean))
                if norm:
                    centroids[j] = mean / norm
                    has_centroid[j] = True
        index = self.index if self.index is not None and \
            self.index.matches(embedder) and self.index.embedder is embedder else None
        if index is not None:
            for j, c in enumerate(clusters):
                centroid = index.centroid(c.id)
                if centroid is not None:
                    centroids[j], has_centroid[j] = centroid, True
        if has_centroid.any():
            central = text_vectors @ centroids[has_centroid].T
            best[:, has_centroid] = np.maximum(best[:, has_centroid], central)
        return best

    def candidates(self, scores: np.ndarray, k_min: int | None = None) -> list[np.ndarray]:
        """Candidate cluster positions per text (best first), ``k`` adapted per text."""
        s = self.settings
        n_clusters = scores.shape[1]
        k_max = min(s.k_max, n_clusters)
        k_min = min(k_min or s.k_min or 4, k_max)
        if not len(scores):
            return []
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k_max]
        top_scores = np.take_along_axis(scores, top, axis=1)
        # "Close" relative to how far the best stands out from the typical
        # cluster, so one margin suits embedders whose similarities differ
        # in scale (TF-IDF's are low, sentence encoders' high).
        spread = top_scores[:, :1] - scores.mean(axis=1, keepdims=True)
        close = (top_scores >= top_scores[:, :1] - s.margin * spread).sum(axis=1)
        ks = np.clip(close, k_min, k_max)
        return [top[i, :ks[i]] for i in range(len(scores))]

    def batches(self, candidates: list[np.ndarray], n_clusters: int,
                batch_size: int) -> list[list[int]]:
        """Text positions in batches of ``batch_size`` whose texts share candidates.

        Greedy: a batch starts from the first text left (texts ordered by
        their best cluster) and takes, one at a time, the text that adds the
        fewest candidates not yet in the batch's union, so each prompt lists
        few clusters. About a second for 3,000 texts and 150 clusters.
        """
        n = len(candidates)
        size = max(1, int(batch_size))
        member = np.zeros((n, max(n_clusters, 1)), dtype=bool)
        for i, c in enumerate(candidates):
            member[i, c] = True
        left = np.ones(n, dtype=bool)
        order = np.argsort([int(c[0]) if len(c) else -1 for c in candidates], kind="stable")
        out: list[list[int]] = []
        while left.any():
            seed = int(order[left[order]][0])
            union = member[seed].copy()
            batch = [seed]
            left[seed] = False
            while len(batch) < size and left.any():
                rest = np.flatnonzero(left)
                added = (member[rest] & ~union).sum(axis=1)
                pick = int(rest[int(np.argmin(added))])
                batch.append(pick)
                left[pick] = False
                union |= member[pick]
            out.append(sorted(batch))
        return out

    def plan(self, texts: Sequence[str], clusters: Sequence[Cluster],
             batch_size: int) -> tuple[list[list[int]], list[list[Cluster]], list[np.ndarray]]:
        """``(batches, catalogue of each batch, candidates per text)``.

        Each batch's catalogue is the union of its texts' candidates in the
        order of ``clusters`` (the registry's), so batches with the same
        candidates get byte-identical cluster lists.
        """
        clusters = list(clusters)
        scores = self.scores(texts, clusters)
        weak = getattr(self.last_embedder_, "requires_fit", False)  # TF-IDF-like
        candidates = self.candidates(scores, None if self.settings.k_min else (8 if weak else 4))
        batches = self.batches(candidates, len(clusters), batch_size)
        catalogues = []
        for batch in batches:
            union = sorted(set(int(j) for i in batch for j in candidates[i]))
            catalogues.append([clusters[j] for j in union])
        return batches, catalogues, candidates
