"""The cluster registry: ids, unique names, sizes, status, and the JSON format.

A registry owns the clusters of one model. Cluster ``k`` of the registry is
label ``k`` of the estimator; clusters are never removed or renumbered, so
labels and ids stay stable across ``partial_fit`` calls.

The registry also holds the taxonomy an analyst owns: the categories above
the clusters and the log of edits (renames, merges, moved texts ...) that
every later ``partial_fit`` and ``predict`` respects.

The clusters file (:func:`save_clusters`, :func:`load_clusters`) is JSON that
people may edit; loading checks every field and names the file, the cluster
and the field of any problem. Format version 2 adds the optional keys
``"categories"``, ``"edits"`` and ``"judge_state"``; version 1 files still load.
"""

from __future__ import annotations

import json
import numbers
import os
import re
from typing import Any, Iterable, Sequence

from ..io.atomic import atomic_write_text
from ..discovery.prompts import NONE_ID
from ..records import Category, Cluster, Proposal, _checked_fields, _shown, utc_now
from ..representation.normalization import dedup_key, name_key, truncate

__all__ = ["ClusterRegistry", "save_clusters", "load_clusters", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "sklearn_llmcluster.clusters"
FORMAT_VERSION = 2
#: Versions :func:`load_clusters` reads.
READABLE_VERSIONS = (1, 2)

# Ids the registry generates: "c" and a number; categories "g" and a number.
_GENERATED_ID = re.compile(r"c([0-9]+)")
_CATEGORY_ID = re.compile(r"g([0-9]+)")

#: Edits an edit log may hold, and the keys naming clusters in each.
EDIT_OPS = ("rename", "merge", "split", "move", "remove", "lock", "unlock")
_ID_KEYS = ("cluster_id", "cluster_ids", "into")


def _is_count(value: Any) -> bool:
    """Whether ``value`` is a whole number of 0 or more (``True``/``False`` are not)."""
    return not isinstance(value, bool) and isinstance(value, numbers.Integral) and value >= 0


class ClusterRegistry:
    """Ordered, name-unique set of clusters with stable ids and their lineage.

    Parameters
    ----------
    clusters : iterable of Cluster, optional
        Clusters to start from (e.g. loaded from JSON).
    min_cluster_size : int, default=5
        A cluster is ``"tentative"`` until its size reaches this, then
        ``"active"``. Setting the attribute recomputes every status.
    max_examples : int, default=5
        Member texts kept per cluster.

    Notes
    -----
    The statuses of the given live ``clusters`` are recomputed from their
    sizes. New clusters get the ids ``"c<number>"``, numbered after the
    highest such id the registry has held; ids of discarded clusters are not
    reused.

    Cluster ``k`` is label ``k`` for the registry's whole life. A cluster
    merged into another (:meth:`merge`) or removed stays in :attr:`clusters`
    as a tombstone (status ``"merged"`` or ``"removed"``) and is never a
    label again; :attr:`live` lists the others and :meth:`resolve` follows a
    merged cluster to its survivor. Names are unique among live clusters; the
    name of a merged cluster keeps pointing to its survivor, so a proposal
    that comes back under it lands there (:meth:`add`).
    """

    def __init__(
        self,
        clusters: Iterable[Cluster] = (),
        *,
        min_cluster_size: int = 5,
        max_examples: int = 5,
    ) -> None:
        self.max_examples = max_examples
        self.clusters: list[Cluster] = []
        self._index_by_id: dict[str, int] = {}
        self._index_by_name: dict[str, int] = {}
        # Names no live cluster has any more (merged or removed clusters, a
        # survivor's name before a rename): key -> index of that cluster.
        self._former_names: dict[str, int] = {}
        self._next_number = 1
        #: Categories above the clusters (see :mod:`..taxonomy.categories`).
        self.categories: list[Category] = []
        self._next_category = 1
        #: The analyst's edits, oldest first (see :mod:`..taxonomy.edits`).
        self.edits: list[dict] = []
        #: What a judge needs to judge exactly as when the file was saved (offline engine).
        self.judge_state: dict | None = None
        for cluster in clusters:
            self._append(cluster)
        self.min_cluster_size = min_cluster_size

    def __len__(self) -> int:
        return len(self.clusters)

    def __setstate__(self, state: dict) -> None:
        # Pickles of earlier versions hold min_cluster_size as a plain attribute.
        if "min_cluster_size" in state:
            state["_min_cluster_size"] = state.pop("min_cluster_size")
        state.setdefault("_former_names", {})
        self.__dict__.update(state)
        # ... and no taxonomy.
        for name, value in (("categories", []), ("_next_category", 1), ("edits", []),
                            ("judge_state", None), ("_former_names", {})):
            self.__dict__.setdefault(name, value)

    @property
    def min_cluster_size(self) -> int:
        """Size from which a cluster is ``"active"``; setting it recomputes every status."""
        return self._min_cluster_size

    @min_cluster_size.setter
    def min_cluster_size(self, value: int) -> None:
        if not _is_count(value):
            raise ValueError(f"min_cluster_size must be a non-negative integer, got {value!r}")
        self._min_cluster_size = int(value)
        self._update_statuses()

    def _update_statuses(self) -> None:
        for cluster in self.clusters:
            if cluster.is_live:
                cluster.status = "active" if cluster.size >= self._min_cluster_size \
                    else "tentative"

    def _append(self, cluster: Cluster) -> int:
        if not isinstance(cluster.id, str) or not cluster.id:
            raise ValueError(f"cluster id must be a non-empty string, got {cluster.id!r}")
        if not isinstance(cluster.name, str):
            raise ValueError(f"cluster name must be a string, got {cluster.name!r}")
        if cluster.id in self._index_by_id:
            raise ValueError(f"duplicate cluster id {cluster.id!r}")
        key = name_key(cluster.name)
        if cluster.is_live and key in self._index_by_name:
            raise ValueError(f"duplicate cluster name {cluster.name!r}")
        index = len(self.clusters)
        self.clusters.append(cluster)
        self._index_by_id[cluster.id] = index
        if cluster.is_live:
            self._index_by_name[key] = index
            self._former_names.pop(key, None)
        elif key not in self._index_by_name:
            self._former_names[key] = index
        match = _GENERATED_ID.fullmatch(cluster.id)
        if match:
            self._next_number = max(self._next_number, int(match.group(1)) + 1)
        return index

    @property
    def live(self) -> list[Cluster]:
        """The clusters that can be labels (neither merged nor removed), in label order."""
        return [c for c in self.clusters if c.is_live]

    def remove(self, cluster_id: str) -> Cluster:
        """Make a live cluster a removed tombstone: never a label again; its name is free."""
        cluster = self.get(cluster_id)
        if not cluster.is_live:
            raise ValueError(f"cluster {cluster_id!r} is {cluster.status} already")
        # As for a removed cluster read from a file: its name finds nothing
        # (resolve gives None), so a proposal under it is not added back.
        key = name_key(cluster.name)
        self._index_by_name.pop(key, None)
        self._former_names[key] = self._index_by_id[cluster.id]
        cluster.status, cluster.updated_at = "removed", utc_now()
        return cluster

    def index_of(self, cluster_id: str) -> int:
        """Label index of the cluster with ``cluster_id`` (KeyError when unknown)."""
        return self._index_by_id[cluster_id]

    def get(self, cluster_id: str) -> Cluster:
        return self.clusters[self._index_by_id[cluster_id]]

    def require(self, cluster_id: Any) -> Cluster:
        """The cluster with ``cluster_id``; KeyError naming a few known ids when unknown."""
        index = self._index_by_id.get(cluster_id) if isinstance(cluster_id, str) else None
        if index is None:
            known = [c.id for c in self.clusters[:8]]
            more = ", ..." if len(self.clusters) > 8 else ""
            raise KeyError(f"no cluster has id {cluster_id!r}; known ids: "
                           f"{', '.join(known) or 'none'}{more}")
        return self.clusters[index]

    def rename(self, cluster: Cluster, name: str) -> None:
        """Give ``cluster`` a new name (ValueError when another cluster has it)."""
        key = name_key(name)
        other = self._index_by_name.get(key)
        if other is not None and self.clusters[other] is not cluster:
            raise ValueError(f"cluster {self.clusters[other].id} is already named "
                             f"{self.clusters[other].name!r}; choose another name")
        index = self._index_by_id[cluster.id]
        old_key = name_key(cluster.name)
        del self._index_by_name[old_key]
        cluster.name = name
        self._index_by_name[key] = index
        former = getattr(self, "_former_names", None)
        if former is not None and old_key != key:
            # A proposal under the old name later lands on the renamed cluster.
            former[old_key] = index
            former.pop(key, None)

    # -- categories --------------------------------------------------------
    def category(self, category_id: str) -> Category:
        """The category with ``category_id`` (KeyError naming known ids when unknown)."""
        for category in self.categories:
            if category.id == category_id:
                return category
        known = ", ".join(c.id for c in self.categories[:8]) or "none"
        raise KeyError(f"no category has id {category_id!r}; known ids: {known}")

    def add_category(self, name: str, summary: str = "") -> Category:
        """A new category (its name made unique by a number if taken)."""
        taken = {name_key(c.name) for c in self.categories}
        unique, number = name.strip() or "Other", 2
        while name_key(unique) in taken:
            unique, number = f"{name.strip()} ({number})", number + 1
        category = Category(id=f"g{self._next_category}", name=unique, summary=summary)
        self._next_category += 1
        self.categories.append(category)
        return category

    def set_category(self, cluster: Cluster, category_id: str | None) -> None:
        """Put ``cluster`` in a category (``None``: in none), keeping both sides in step."""
        for category in self.categories:
            if cluster.id in category.cluster_ids:
                category.cluster_ids.remove(cluster.id)
        cluster.category_id = category_id
        if category_id is not None:
            self.category(category_id).cluster_ids.append(cluster.id)

    def clear_categories(self) -> None:
        """Forget every category (ids are not reused)."""
        self.categories = []
        for cluster in self.clusters:
            cluster.category_id = None

    # -- the edit log -------------------------------------------------------
    def log_edit(self, op: str, **fields: Any) -> dict:
        """Append an edit to the log, stamped with the time."""
        entry = {"op": op, **fields, "at": utc_now()}
        self.edits.append(entry)
        return entry

    def pinned(self) -> dict[str, str]:
        """Cluster id of each text an analyst moved, by :func:`dedup_key`; the last move wins.

        Pins follow merges to the survivor; pins to a cluster that is no
        longer a label (removed) are dropped: those texts go back to -1.
        """
        pins: dict[str, str] = {}
        for entry in self.edits:
            if entry.get("op") == "move":
                for text in entry.get("texts", []):
                    pins[dedup_key(text)] = entry["cluster_id"]
        result = {}
        for key, cid in pins.items():
            target = self.resolve(cid)
            if target is not None:
                result[key] = target.id
        return result

    def resolve(self, cluster_id: str) -> Cluster | None:
        """The live cluster that ``cluster_id`` stands for now.

        A live cluster is itself; a merged one leads, through ``merged_into``
        (perhaps several steps), to its survivor; a removed one (or a chain
        that ends in one) to ``None``.

        Raises
        ------
        KeyError
            If ``cluster_id`` (or an id on its chain) is not in the registry.
        """
        seen = set()
        cluster = self.get(cluster_id)
        while cluster.status == "merged" and cluster.merged_into is not None:
            if cluster.id in seen:  # a hand-made cycle; from_json_dict refuses them
                return None
            seen.add(cluster.id)
            cluster = self.get(cluster.merged_into)
        return cluster if cluster.is_live else None

    def find_by_name(self, name: str) -> Cluster | None:
        """The live cluster named ``name`` (after normalisation), if any.

        A name that a merged cluster had (or a survivor had before a rename)
        finds the survivor; the name of a removed cluster finds nothing.
        """
        key = name_key(name)
        index = self._index_by_name.get(key)
        if index is not None:
            return self.clusters[index]
        index = self._former_names.get(key)
        return None if index is None else self.resolve(self.clusters[index].id)

    def release_names(self, cluster_id: str) -> None:
        """Free the names that lead to the tombstone ``cluster_id``: its own and those of
        clusters merged into it, so that new clusters may take them (a split does this)."""
        target = self._index_by_id[cluster_id]

        def leads_here(index: int) -> bool:
            seen, cluster = set(), self.clusters[index]
            while True:
                if self._index_by_id[cluster.id] == target:
                    return True
                if cluster.merged_into is None or cluster.id in seen:
                    return False
                seen.add(cluster.id)
                cluster = self.get(cluster.merged_into)

        for key in [k for k, i in self._former_names.items() if leads_here(i)]:
            del self._former_names[key]

    def name_taken(self, name: str) -> bool:
        """Whether :meth:`add` would not make a new cluster of this name: a live
        cluster has it, or a merged or removed one had it."""
        key = name_key(name)
        return key in self._index_by_name or key in self._former_names

    def add(self, proposal: Proposal) -> tuple[Cluster | None, bool]:
        """Add a proposal, or merge it into the cluster that already has its name.

        Returns
        -------
        cluster : Cluster or None
            The new cluster, or the existing one it merged into: a live
            cluster of that name, or the survivor of a merged cluster of that
            name (a merged cluster never comes back). ``None`` when the name
            is that of a removed cluster: the proposal is not added.
        created : bool
            ``False`` when the proposal merged into an existing cluster.
        """
        key = name_key(proposal.name)
        if key in self._index_by_name or key in self._former_names:
            return self.find_by_name(proposal.name), False
        now = utc_now()
        cluster = Cluster(
            id=f"c{self._next_number}",
            name=proposal.name.strip(),
            summary=proposal.summary,
            criteria=proposal.criteria,
            status="tentative",
            created_at=now,
            updated_at=now,
            kind=getattr(proposal, "kind", "topic") or "topic",
        )
        self._append(cluster)
        return cluster, True

    def merge(self, source_ids: Sequence[str], into_id: str, *, name: str | None = None,
              summary: str | None = None, criteria: str | None = None) -> Cluster:
        """Fold the clusters ``source_ids`` into the cluster ``into_id`` (the survivor).

        The survivor gains the sources' sizes and (up to ``max_examples``)
        examples; each source becomes a tombstone: status ``"merged"``,
        ``merged_into=into_id``, never a label again, its name finding the
        survivor from then on. Labels of the sources must be rewritten to
        the survivor by the caller (the estimator does this for a fit).

        Parameters
        ----------
        source_ids : sequence of str
            Live clusters to fold in; none may be ``into_id``.
        into_id : str
            The live cluster that stays.
        name : str, optional
            New name of the survivor; it may be a source's name, not that of
            another live cluster.
        summary, criteria : str, optional
            New summary and criteria of the survivor, written to cover all
            the merged clusters (an LLM's merge answer has them). Without
            them the survivor keeps its summary, and its criteria are
            extended by the sources' criteria.

        Returns
        -------
        Cluster
            The survivor.

        Raises
        ------
        ValueError
            If an id is unknown or not live, a source is the survivor, there
            is no source, or ``name`` is blank or taken by another live cluster.
        """
        def live(cluster_id: str, role: str) -> Cluster:
            if not isinstance(cluster_id, str) or cluster_id not in self._index_by_id:
                raise ValueError(f"cannot merge: {role} {cluster_id!r} is not a cluster id of "
                                 f"this model; ids are {_some_ids(self.live)}")
            cluster = self.get(cluster_id)
            if not cluster.is_live:
                where = (f" into {cluster.merged_into!r}" if cluster.merged_into else "")
                raise ValueError(f"cannot merge: {role} {cluster_id!r} ({cluster.name!r}) was "
                                 f"{cluster.status}{where} already; merge live clusters only")
            return cluster

        survivor = live(into_id, "the survivor")
        sources: list[Cluster] = []
        for cid in source_ids:
            if cid == into_id:
                raise ValueError(f"cannot merge cluster {into_id!r} into itself")
            source = live(cid, "source")
            if source not in sources:
                sources.append(source)
        if not sources:
            raise ValueError("cannot merge: no source cluster given")
        involved = {survivor.id, *(c.id for c in sources)}
        if name is not None:
            name = name.strip()
            if not name_key(name):
                raise ValueError(f"cannot merge: the new name {name!r} is blank")
            holder = self._index_by_name.get(name_key(name))
            if holder is not None and self.clusters[holder].id not in involved:
                raise ValueError(f"cannot merge: the name {name!r} is taken by cluster "
                                 f"{self.clusters[holder].id!r}; choose another name")
        now = utc_now()
        for source in sources:
            self._index_by_name.pop(name_key(source.name), None)
            self._former_names[name_key(source.name)] = self._index_by_id[source.id]
            survivor.size += source.size
            for text in source.examples:
                if len(survivor.examples) < self.max_examples and text not in survivor.examples:
                    survivor.examples.append(text)
            source.status = "merged"
            source.merged_into = survivor.id
            source.updated_at = now
        if name is not None and name_key(name) != name_key(survivor.name):
            self._index_by_name.pop(name_key(survivor.name), None)
            self._former_names[name_key(survivor.name)] = self._index_by_id[survivor.id]
            survivor.name = name
        self._index_by_name[name_key(survivor.name)] = self._index_by_id[survivor.id]
        self._former_names.pop(name_key(survivor.name), None)
        if summary is not None and summary.strip():
            survivor.summary = summary.strip()
        if criteria is not None and criteria.strip():
            survivor.criteria = criteria.strip()
        else:
            survivor.criteria = _joined_criteria([survivor, *sources])
        survivor.updated_at = now
        self._update_statuses()
        return survivor

    def discard(self, cluster_ids: Sequence[str]) -> None:
        """Remove just-created clusters that ended up with no member.

        Only clusters that no label refers to yet may be removed; the labels of
        the other clusters keep their indices because removed ones are newer.
        A discarded cluster takes the clusters merged into it along.
        """
        drop = set(cluster_ids)
        if not drop:
            return
        # Tombstones that lead into a dropped cluster go too.
        for cluster in self.clusters:
            chain, current = [], cluster
            while current.status == "merged" and current.merged_into in self._index_by_id \
                    and current.id not in chain:
                chain.append(current.id)
                current = self.get(current.merged_into)
            if current.id in drop:
                drop.update(chain)
        first = min(self._index_by_id[cid] for cid in drop)
        if any(c.size for c in self.clusters[first:] if c.id in drop and c.is_live):
            raise ValueError("only clusters without members can be discarded")
        kept = [c for c in self.clusters if c.id not in drop]
        self.clusters = []
        self._index_by_id.clear()
        self._index_by_name.clear()
        self._former_names.clear()
        next_number = self._next_number
        for cluster in kept:
            self._append(cluster)
        # Ids are never reused, even those of discarded clusters.
        self._next_number = max(self._next_number, next_number)

    def record(self, labels: Sequence[int], texts: Sequence[str]) -> None:
        """Count the rows of one fit/partial_fit call into sizes, examples and status.

        A no-intent cluster that has examples keeps them (its rules gave
        them): a request the judge put there by mistake would otherwise show
        the judge, and the proposer, what the cluster is not.
        """
        counts: dict[int, int] = {}
        for label, text in zip(labels, texts):
            if label < 0:
                continue
            counts[label] = counts.get(label, 0) + 1
            cluster = self.clusters[label]
            if len(cluster.examples) < self.max_examples and text not in cluster.examples \
                    and not (cluster.kind == "no_intent" and cluster.examples):
                cluster.examples.append(text)
        now = utc_now()
        for label, n in counts.items():
            cluster = self.clusters[label]
            cluster.size += n
            cluster.updated_at = now
        self._update_statuses()

    # -- persistence -------------------------------------------------------
    def to_json_dict(self) -> dict:
        """The clusters file's content: format, settings, next id and clusters."""
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "saved_at": utc_now(),
            "min_cluster_size": self.min_cluster_size,
            "next_id": f"c{self._next_number}",
            "clusters": [c.to_dict() for c in self.clusters],
            "next_category_id": f"g{self._next_category}",
            "categories": [c.to_dict() for c in self.categories],
            "edits": [dict(e) for e in self.edits],
            **({"judge_state": self.judge_state} if self.judge_state is not None else {}),
        }

    @classmethod
    def from_json_dict(cls, data: dict, *, source: str | os.PathLike | None = None
                       ) -> "ClusterRegistry":
        """Registry from :meth:`to_json_dict` output, or a hand-edited copy, checking every field.

        Parameters
        ----------
        data : dict
            Parsed clusters file. Each cluster is checked by
            :meth:`Cluster.from_dict <sklearn_llmcluster.Cluster.from_dict>`;
            ids must be unique and other than ``"none"`` (the judge's answer
            for "no cluster"), names of live clusters unique after
            normalisation; a ``"merged"`` cluster's ``merged_into`` must name
            a cluster of the file, and following them must not go round in
            a circle.
            ``min_cluster_size`` (default 5) must be a whole number of 0 or
            more; the statuses are recomputed with it. ``next_id`` (optional,
            ``"c<number>"``) is the id the next new cluster gets; without it,
            or when it is lower, new ids continue after the highest
            ``c<number>`` id.
        source : str or path-like, optional
            The file ``data`` was read from, named in error messages.

        Returns
        -------
        ClusterRegistry

        Raises
        ------
        ValueError
            If ``data`` is not a clusters file, has an unsupported version,
            or a field is missing or wrong. The message names the file, the
            cluster (its position in ``"clusters"``, id and name) and the field.
        """
        where = f"{source}: " if source is not None else ""
        fix = ("; correct it in the file and load it again" if source is not None else "")
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise ValueError(
                f"{where}not a clusters file: expected \"format\": \"{FORMAT_NAME}\" "
                "(write one with save_clusters)"
            )
        version = data.get("format_version")
        if isinstance(version, bool) or version not in READABLE_VERSIONS:
            raise ValueError(
                f"{where}clusters file format_version {version!r} is not supported "
                f"(this version reads {' and '.join(map(str, READABLE_VERSIONS))})"
            )
        min_cluster_size = data.get("min_cluster_size", 5)
        if not _is_count(min_cluster_size):
            raise ValueError(f'{where}"min_cluster_size" must be a whole number of 0 or more, '
                             f'like "min_cluster_size": 5; got {_shown(min_cluster_size)}{fix}')
        next_id = data.get("next_id")
        next_number = 1
        if next_id is not None:
            match = isinstance(next_id, str) and _GENERATED_ID.fullmatch(next_id)
            if not match or int(match.group(1)) < 1:
                raise ValueError(f'{where}"next_id" must be "c" and a number of 1 or more, '
                                 f'like "next_id": "c4"; got {_shown(next_id)} (or remove it: '
                                 f"new ids then continue after the highest one){fix}")
            next_number = int(match.group(1))
        items = data.get("clusters", [])
        if not isinstance(items, list):
            raise ValueError(f'{where}"clusters" must be a list of clusters, like '
                             f'"clusters": [{{"id": "c1", "name": "Card blocked"}}]; '
                             f"got {_shown(items)}{fix}")

        free_id = _free_id(items, next_number)
        clusters: list[Cluster] = []
        first_with_id: dict[str, int] = {}
        first_with_name: dict[str, int] = {}
        for index, item in enumerate(items):
            label = _describe(index, item)
            try:
                cluster = Cluster(**_checked_fields(item, free_id=free_id))
            except ValueError as exc:
                raise ValueError(f"{where}{label}: {exc}{fix}") from None
            if cluster.id == NONE_ID:
                raise ValueError(
                    f'{where}{label}: "id" must not be "{NONE_ID}", the judge\'s answer for '
                    f'"no cluster"; give it an id no other cluster has, like '
                    f'"id": "{free_id}"{fix}')
            earlier = first_with_id.setdefault(cluster.id, index)
            if earlier != index:
                raise ValueError(
                    f"{where}{label}: id {_quoted(cluster.id)} is also the id of "
                    f"{_describe(earlier, items[earlier])}; ids must be unique: give one of them "
                    f'an id no other cluster has, like "id": "{free_id}"'
                    f"{fix}")
            earlier = first_with_name.setdefault(name_key(cluster.name), index) \
                if cluster.is_live else index
            if earlier != index:
                raise ValueError(
                    f"{where}{label}: name {_quoted(cluster.name)} is the same as the name of "
                    f"{_describe(earlier, items[earlier])} (names are compared ignoring case, "
                    "spaces and surrounding punctuation); rename one of them, or merge the "
                    f"two clusters into one{fix}")
            clusters.append(cluster)
        _check_lineage(clusters, items, where, fix)
        registry = cls(clusters, min_cluster_size=int(min_cluster_size))
        registry._next_number = max(registry._next_number, next_number)
        _read_taxonomy(registry, data, where, fix)
        return registry


def _read_taxonomy(registry: ClusterRegistry, data: dict, where: str, fix: str) -> None:
    """Categories, edit log and judge state of a clusters file, checked against its clusters."""
    known = {c.id: c for c in registry.clusters}
    shown_ids = ", ".join(list(known)[:8]) or "none"
    items = data.get("categories") or []
    if not isinstance(items, list):
        raise ValueError(f'{where}"categories" must be a list of categories; '
                         f"got {_shown(items)}{fix}")
    names: set[str] = set()
    number = 1
    for index, item in enumerate(items):
        try:
            category = Category.from_dict(item)
        except ValueError as exc:
            raise ValueError(f"{where}categories[{index}]: {exc}{fix}") from None
        if any(c.id == category.id for c in registry.categories):
            raise ValueError(f"{where}categories[{index}]: id {category.id!r} is used twice{fix}")
        if name_key(category.name) in names:
            raise ValueError(f"{where}categories[{index}]: name {category.name!r} is used "
                             f"twice; rename one of them{fix}")
        names.add(name_key(category.name))
        for cid in category.cluster_ids:
            cluster = known.get(cid)
            if cluster is None:
                raise ValueError(f"{where}categories[{index}] ({category.name!r}) lists cluster "
                                 f"{cid!r}, which the file does not have (its ids: "
                                 f"{shown_ids}){fix}")
            if cluster.category_id != category.id:
                raise ValueError(
                    f"{where}categories[{index}] ({category.name!r}) lists cluster {cid!r}, "
                    f'whose "category_id" is {cluster.category_id!r}; make the two agree{fix}')
        registry.categories.append(category)
        match = _CATEGORY_ID.fullmatch(category.id)
        if match:
            number = max(number, int(match.group(1)) + 1)
    by_id = {c.id: c for c in registry.categories}
    for cluster in registry.clusters:
        if cluster.category_id is not None and (
                cluster.category_id not in by_id
                or cluster.id not in by_id[cluster.category_id].cluster_ids):
            raise ValueError(f'{where}cluster {cluster.id!r} has "category_id" '
                             f"{cluster.category_id!r}, but no category of the file lists it "
                             f'(add it to that category\'s "cluster_ids", or set null){fix}')
    next_category = data.get("next_category_id")
    match = _CATEGORY_ID.fullmatch(next_category) if isinstance(next_category, str) else None
    registry._next_category = max(number, int(match.group(1)) if match else 1)

    edits = data.get("edits") or []
    if not isinstance(edits, list):
        raise ValueError(f'{where}"edits" must be a list of edits; got {_shown(edits)}{fix}')
    for index, entry in enumerate(edits):
        if not isinstance(entry, dict) or entry.get("op") not in EDIT_OPS:
            raise ValueError(f'{where}edits[{index}]: an edit is an object whose "op" is one '
                             f"of {', '.join(EDIT_OPS)}; got {_shown(entry)}{fix}")
        for key in _ID_KEYS:
            value = entry.get(key)
            ids = value if isinstance(value, list) else [] if value is None else [value]
            for cid in ids:
                if cid not in known:
                    raise ValueError(
                        f"{where}edits[{index}] ({entry['op']}) names cluster {cid!r}, which "
                        f"the file does not have (its ids: {shown_ids}); an edit log belongs "
                        f"with the clusters it was made on{fix}")
        texts = entry.get("texts")
        if entry["op"] == "move" and not (
                isinstance(texts, list) and all(isinstance(t, str) for t in texts)):
            raise ValueError(f'{where}edits[{index}] (move) needs "texts", a list of texts; '
                             f"got {_shown(texts)}{fix}")
        registry.edits.append(dict(entry))
    state = data.get("judge_state")
    if state is not None and not isinstance(state, dict):
        raise ValueError(f'{where}"judge_state" must be an object written by save_clusters '
                         f"(or be removed); got {_shown(state)}{fix}")
    registry.judge_state = state


def _check_lineage(clusters: Sequence[Cluster], items: Sequence[Any], where: str,
                   fix: str) -> None:
    """Every ``merged_into`` names a cluster of the file, and no chain goes in a circle."""
    position = {c.id: i for i, c in enumerate(clusters)}
    for index, cluster in enumerate(clusters):
        if cluster.merged_into is None:
            continue
        if cluster.merged_into not in position:
            raise ValueError(
                f"{where}{_describe(index, items[index])}: \"merged_into\" "
                f"{_quoted(cluster.merged_into)} is not the id of a cluster in the file; "
                f"give the id of the cluster it was merged into{fix}")
        seen, current = {cluster.id}, clusters[position[cluster.merged_into]]
        while current.merged_into is not None:
            if current.id in seen:
                raise ValueError(
                    f"{where}{_describe(index, items[index])}: following \"merged_into\" "
                    f"from it comes back to {_quoted(current.id)}; a chain of merges must end "
                    f"at a cluster that was not merged{fix}")
            seen.add(current.id)
            current = clusters[position[current.merged_into]]


def _some_ids(clusters: Sequence[Cluster], limit: int = 8) -> str:
    """The first ids of ``clusters``, for an error message."""
    ids = [c.id for c in clusters[:limit]]
    return ", ".join(ids) + (", ..." if len(clusters) > limit else "") if ids else "(none)"


#: Longest criteria a merge writes (as long as a proposal's description may be).
_MAX_CRITERIA_CHARS = 600


def _joined_criteria(clusters: Sequence[Cluster]) -> str:
    """One criteria text covering ``clusters``: the first one's, extended by the others'."""
    parts: list[str] = []
    for cluster in clusters:
        text = (cluster.criteria or cluster.summary or cluster.name).strip()
        if text and text not in parts:
            parts.append(text)
    return truncate(" Also: ".join(parts), _MAX_CRITERIA_CHARS)


def _describe(index: int, item: Any) -> str:
    """How an error message names cluster ``index`` of a file: position, id and name."""
    label = f"clusters[{index}]"
    if isinstance(item, dict):
        known = [f"{key} {_quoted(item[key])}"
                 for key in ("id", "name") if isinstance(item.get(key), str)]
        if known:
            label += f" ({', '.join(known)})"
    return label


def _quoted(text: str) -> str:
    """``text`` in JSON quotes, cut to 40 characters."""
    return truncate(json.dumps(text, ensure_ascii=False), 40)


def _free_id(items: Sequence[Any], next_number: int) -> str:
    """An id that neither the registry would generate nor any of ``items`` has."""
    number = next_number
    for item in items:
        cid = item.get("id") if isinstance(item, dict) else None
        match = _GENERATED_ID.fullmatch(cid) if isinstance(cid, str) else None
        if match:
            number = max(number, int(match.group(1)) + 1)
    return f"c{number}"


def save_clusters(clusters: Any, path: str | os.PathLike) -> None:
    """Write clusters as human-readable UTF-8 JSON (Cyrillic stays Cyrillic).

    The file holds the clusters, the ``min_cluster_size`` their statuses
    follow, ``next_id``, the id the next new cluster gets (so ids stay
    unique across a save and a load), the categories and the edit log.
    Nothing is written that :func:`load_clusters` would refuse.

    Parameters
    ----------
    clusters : LLMClusterer, ClusterRegistry or list of Cluster
        A fitted model is saved with what its judge needs to judge exactly
        as it does (``"judge_state"``: for the offline engine the texts its
        representation was fitted on, its seeds and its clusters' centroids;
        for an LLM judge with shortlists their member centroids and the
        TF-IDF embedder's texts and seed),
        so that ``LLMClusterer(...).load_clusters(path).predict(X)`` gives
        the labels of ``model.predict(X)``. A plain list is checked as
        :func:`load_clusters` checks a file, and saved with
        ``min_cluster_size`` 5 and the statuses that follow from it; the
        given clusters are not changed.
    path : str or path-like

    Raises
    ------
    ValueError
        If a cluster has a missing or wrong field, or two share an id or a
        name; the message names the cluster and the field.
    """
    atomic_write_text(path, clusters_file_text(clusters, path))


def clusters_file_text(clusters: Any, path: str | os.PathLike = "the clusters file") -> str:
    """The text :func:`save_clusters` writes for ``clusters``, checked, without writing it.

    For callers that must render several files before writing any (the
    ``llmcluster edit`` command writes the model and its clusters file together).
    """
    if hasattr(clusters, "get_params") and hasattr(clusters, "fit"):  # an estimator
        from sklearn.utils.validation import check_is_fitted

        from .edits import export_judge_state

        check_is_fitted(clusters, "registry_")
        data = clusters.registry_.to_json_dict()
        state = export_judge_state(clusters)
        if state is not None:
            data["judge_state"] = state
        try:
            ClusterRegistry.from_json_dict(data)
        except ValueError as exc:
            raise ValueError(f"clusters not saved to {path}: {exc}") from None
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if not isinstance(clusters, (ClusterRegistry, list, tuple)):
        raise TypeError("save_clusters takes a fitted LLMClusterer, a ClusterRegistry or a "
                        f"list of Cluster records, got {type(clusters).__name__}")
    try:
        if isinstance(clusters, ClusterRegistry):
            data = clusters.to_json_dict()
            ClusterRegistry.from_json_dict(data)
        else:
            data = ClusterRegistry.from_json_dict({
                "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                "clusters": [c.to_dict() if isinstance(c, Cluster) else c for c in clusters],
            }).to_json_dict()
    except ValueError as exc:
        raise ValueError(f"clusters not saved to {path}: {exc}") from None
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def load_clusters(path: str | os.PathLike) -> list[Cluster]:
    """Read clusters written by :func:`save_clusters` (and perhaps edited by hand).

    Every field is checked (see :meth:`ClusterRegistry.from_json_dict
    <sklearn_llmcluster.ClusterRegistry.from_json_dict>`), and the statuses
    are recomputed with the file's ``min_cluster_size``.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    list of Cluster

    Raises
    ------
    ValueError
        If the file is not UTF-8 JSON, not a clusters file, has an
        unsupported format version, or a missing or wrong field; the message
        names the file, the cluster (position, id and name) and the field.
    """
    return load_registry(path).clusters


def load_registry(path: str | os.PathLike) -> ClusterRegistry:
    """Read a clusters file into a :class:`ClusterRegistry`, checked as in :func:`load_clusters`."""
    with open(path, encoding="utf-8") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path} is not UTF-8 text: {exc}; save it as UTF-8") from None
    return ClusterRegistry.from_json_dict(data, source=path)
