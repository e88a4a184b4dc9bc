"""The cluster registry: ids, unique names, sizes, status, and the JSON format.

A registry owns the clusters of one model. Cluster ``k`` of the registry is
label ``k`` of the estimator; clusters are never removed or renumbered, so
labels and ids stay stable across ``partial_fit`` calls.
"""

from __future__ import annotations

import json
import os
from typing import Iterable, Sequence

from .atomic_io import atomic_write_text
from .records import Cluster, Proposal, utc_now
from .text_normalization import name_key

__all__ = ["ClusterRegistry", "save_clusters", "load_clusters", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "sklearn_llmcluster.clusters"
FORMAT_VERSION = 1


class ClusterRegistry:
    """Ordered, name-unique set of clusters with stable ids.

    Parameters
    ----------
    clusters : iterable of Cluster, optional
        Clusters to start from (e.g. loaded from JSON).
    min_cluster_size : int, default=5
        A cluster is ``"tentative"`` until its size reaches this, then ``"active"``.
    max_examples : int, default=5
        Member texts kept per cluster.
    """

    def __init__(
        self,
        clusters: Iterable[Cluster] = (),
        *,
        min_cluster_size: int = 5,
        max_examples: int = 5,
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.max_examples = max_examples
        self.clusters: list[Cluster] = []
        self._index_by_id: dict[str, int] = {}
        self._index_by_name: dict[str, int] = {}
        self._next_number = 1
        for cluster in clusters:
            self._append(cluster)

    def __len__(self) -> int:
        return len(self.clusters)

    def _append(self, cluster: Cluster) -> int:
        if cluster.id in self._index_by_id:
            raise ValueError(f"duplicate cluster id {cluster.id!r}")
        key = name_key(cluster.name)
        if key in self._index_by_name:
            raise ValueError(f"duplicate cluster name {cluster.name!r}")
        index = len(self.clusters)
        self.clusters.append(cluster)
        self._index_by_id[cluster.id] = index
        self._index_by_name[key] = index
        if cluster.id.startswith("c") and cluster.id[1:].isdigit():
            self._next_number = max(self._next_number, int(cluster.id[1:]) + 1)
        return index

    def index_of(self, cluster_id: str) -> int:
        """Label index of the cluster with ``cluster_id`` (KeyError when unknown)."""
        return self._index_by_id[cluster_id]

    def get(self, cluster_id: str) -> Cluster:
        return self.clusters[self._index_by_id[cluster_id]]

    def find_by_name(self, name: str) -> Cluster | None:
        """The cluster whose name equals ``name`` after normalisation, if any."""
        index = self._index_by_name.get(name_key(name))
        return None if index is None else self.clusters[index]

    def add(self, proposal: Proposal) -> tuple[Cluster, bool]:
        """Add a proposal, or merge it into the cluster that already has its name.

        Returns
        -------
        cluster : Cluster
            The new cluster, or the existing one it merged into.
        created : bool
            ``False`` when the proposal merged into an existing cluster.
        """
        existing = self.find_by_name(proposal.name)
        if existing is not None:
            return existing, False
        now = utc_now()
        cluster = Cluster(
            id=f"c{self._next_number}",
            name=proposal.name.strip(),
            summary=proposal.summary,
            criteria=proposal.criteria,
            status="tentative",
            created_at=now,
            updated_at=now,
        )
        self._append(cluster)
        return cluster, True

    def discard(self, cluster_ids: Sequence[str]) -> None:
        """Remove just-created clusters that ended up with no member.

        Only clusters that no label refers to yet may be removed; the labels of
        the other clusters keep their indices because removed ones are newer.
        """
        drop = set(cluster_ids)
        if not drop:
            return
        first = min(self._index_by_id[cid] for cid in drop)
        if any(c.size for c in self.clusters[first:] if c.id in drop):
            raise ValueError("only clusters without members can be discarded")
        kept = [c for c in self.clusters if c.id not in drop]
        self.clusters = []
        self._index_by_id.clear()
        self._index_by_name.clear()
        next_number = self._next_number
        for cluster in kept:
            self._append(cluster)
        # Ids are never reused, even those of discarded clusters.
        self._next_number = max(self._next_number, next_number)

    def record(self, labels: Sequence[int], texts: Sequence[str]) -> None:
        """Count the rows of one fit/partial_fit call into sizes, examples and status."""
        counts: dict[int, int] = {}
        for label, text in zip(labels, texts):
            if label < 0:
                continue
            counts[label] = counts.get(label, 0) + 1
            cluster = self.clusters[label]
            if len(cluster.examples) < self.max_examples and text not in cluster.examples:
                cluster.examples.append(text)
        now = utc_now()
        for label, n in counts.items():
            cluster = self.clusters[label]
            cluster.size += n
            cluster.updated_at = now
        for cluster in self.clusters:
            cluster.status = "active" if cluster.size >= self.min_cluster_size else "tentative"

    # -- persistence -------------------------------------------------------
    def to_json_dict(self) -> dict:
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "saved_at": utc_now(),
            "min_cluster_size": self.min_cluster_size,
            "clusters": [c.to_dict() for c in self.clusters],
        }

    @classmethod
    def from_json_dict(cls, data: dict) -> "ClusterRegistry":
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise ValueError(
                f"not a clusters file: expected \"format\": \"{FORMAT_NAME}\" "
                "(write one with save_clusters)"
            )
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(
                f"clusters file format_version {version!r} is not supported "
                f"(this version reads {FORMAT_VERSION})"
            )
        return cls(
            (Cluster.from_dict(c) for c in data.get("clusters", [])),
            min_cluster_size=int(data.get("min_cluster_size", 5)),
        )


def save_clusters(clusters: ClusterRegistry | Sequence[Cluster], path: str | os.PathLike) -> None:
    """Write clusters as human-readable UTF-8 JSON (Cyrillic stays Cyrillic).

    Parameters
    ----------
    clusters : ClusterRegistry or list of Cluster
    path : str or path-like
    """
    registry = clusters if isinstance(clusters, ClusterRegistry) else ClusterRegistry(clusters)
    text = json.dumps(registry.to_json_dict(), ensure_ascii=False, indent=2)
    atomic_write_text(path, text + "\n")


def load_clusters(path: str | os.PathLike) -> list[Cluster]:
    """Read clusters written by :func:`save_clusters`.

    Raises
    ------
    ValueError
        If the file is not a clusters file or has an unsupported format version.
    """
    return load_registry(path).clusters


def load_registry(path: str | os.PathLike) -> ClusterRegistry:
    """Read a clusters file into a :class:`ClusterRegistry`."""
    with open(path, encoding="utf-8") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from None
    return ClusterRegistry.from_json_dict(data)
