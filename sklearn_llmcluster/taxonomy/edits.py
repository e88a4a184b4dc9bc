"""An analyst's edits of a fitted model: rename, merge, split, move texts, remove, lock.

Each edit checks everything before it changes anything (a refused edit
leaves the model as it was), changes the registry, ``labels_`` and
``clusters_`` together, and is appended to the registry's edit log, which
clusters.json keeps. Later ``partial_fit`` and ``predict`` calls respect the
edits: the clusters keep their new names and shapes, texts moved by hand are
always labelled with the cluster they were moved to (and shown to the judge
as its examples, and taught to the fast path), and locked clusters are never
renamed, merged or removed automatically.

The estimator's methods (:meth:`LLMClusterer.rename_cluster
<sklearn_llmcluster.LLMClusterer.rename_cluster>` ...) call these functions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, Sequence

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..records import Cluster, Proposal, utc_now
from ..representation.normalization import MAX_NAME_CHARS, clean_for_prompt, dedup_key, \
    is_blank, name_key

__all__ = ["export_judge_state", "restore_judge_state",
           "rename_cluster", "merge_clusters", "split_cluster", "move_texts",
           "remove_cluster", "lock_cluster", "row_keys", "live_clusters", "pinned_ids",
           "offline_engine"]


def row_keys(texts: Sequence[str]) -> np.ndarray:
    """A 64-bit key per row (0 for blanks), so edits can find the rows of ``labels_`` by text.

    The model keeps these keys instead of the texts: 8 bytes a row, like the labels.
    """
    keys = np.zeros(len(texts), dtype=np.uint64)
    for row, text in enumerate(texts):
        if not is_blank(text):
            digest = hashlib.blake2b(dedup_key(text).encode("utf-8"), digest_size=8).digest()
            keys[row] = int.from_bytes(digest, "little") or 1
    return keys


def live_clusters(registry) -> list[Cluster]:
    """The clusters a judge sees: every cluster but tombstones (merged, removed)."""
    return list(registry.live)


def pinned_ids(registry, texts: Sequence[str]) -> list[str | None]:
    """The cluster id an analyst pinned each of ``texts`` to, or ``None``."""
    if not registry.edits:
        return [None] * len(texts)
    pins = registry.pinned()
    if not pins:
        return [None] * len(texts)
    return [pins.get(dedup_key(t)) for t in texts]


def export_judge_state(model: Any) -> dict | None:
    """What the model's judge needs to judge exactly as now after a save and a load.

    The offline engine's state (its representation and centroids), or, for
    an LLM judge with shortlists, the shortlists' member centroids and the
    fit of the TF-IDF embedder they were computed with. ``None`` when there
    is nothing to keep or it cannot be repeated.
    """
    engine = offline_engine(model)
    if engine is not None:
        return engine.export_state(model.registry_.clusters)
    index = getattr(model, "shortlist_index_", None)
    embedder = getattr(index, "embedder", None)
    if index is None or embedder is not getattr(model, "embedder_", None):
        return None
    fit = None
    if embedder.requires_fit:
        fitted = embedder.fitted_from() if hasattr(embedder, "fitted_from") else None
        if fitted is None:
            return None
        fit = {"n_components": embedder.n_components, "seed": int(fitted[1]),
               "texts": list(fitted[0])}

    def packed(vector: np.ndarray) -> str:
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")

    return {"engine": "shortlist", "embedder_name": embedder.name, "embedder": fit,
            "sums": {cid: packed(v) for cid, v in index.sums.items()},
            "counts": {cid: int(n) for cid, n in index.counts.items()}}


def restore_judge_state(model: Any, state: dict, clusters: Sequence[Cluster]) -> None:
    """Undo :func:`export_judge_state` on a model just set up by ``load_clusters``.

    Raises
    ------
    ValueError
        If ``state`` does not fit the model's judge (another embedder, a
        damaged file).
    """
    engine = offline_engine(model)
    kind = state.get("engine")
    if engine is not None and kind == "offline":
        engine.restore_state(state, clusters)
        return
    embedder = getattr(model, "embedder_", None)
    if kind != "shortlist" or engine is not None or embedder is None \
            or model._shortlist_settings() is None:
        return  # written for another kind of judge: judge by the descriptions
    from ..discovery.shortlists import ClusterIndex

    try:
        if state["embedder_name"] != embedder.name:
            raise ValueError(f"its shortlists were computed with the "
                             f"{state['embedder_name']!r} embedder, this model has "
                             f"{embedder.name!r}")
        fit = state["embedder"]
        if (fit is None) == bool(embedder.requires_fit):
            raise ValueError("its embedder fit does not match this model's embedder")
        index = ClusterIndex(embedder)
        for cid, data in state["sums"].items():
            index.sums[cid] = np.frombuffer(base64.b64decode(data, validate=True),
                                            dtype="<f4").astype(np.float32)
            index.counts[cid] = int(state["counts"][cid])
        if fit is not None:
            texts, seed = [str(t) for t in fit["texts"]], int(fit["seed"])
            n_components = int(fit["n_components"])
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
        raise ValueError(f'"judge_state" is not what save_clusters writes for this model '
                         f"({exc}); remove it to judge by the clusters' descriptions") from None
    if fit is not None:
        embedder.n_components = n_components
        embedder.refit_from(texts, seed)
    model.shortlist_index_ = index


def offline_engine(model: Any):
    """The model's offline engine (``OfflineEngine``), when it is the judge; else ``None``."""
    from ..representation.offline import OfflineJudge

    judge = getattr(model, "judge_", None)
    return judge.engine if isinstance(judge, OfflineJudge) else None


# -- helpers ---------------------------------------------------------------------------


def _fitted(model: Any) -> Any:
    check_is_fitted(model, "registry_")
    return model.registry_


def _live(registry, cluster_id: Any) -> Cluster:
    cluster = registry.require(cluster_id)
    if cluster.status in ("merged", "removed"):
        where = f" into {cluster.merged_into}" if getattr(cluster, "merged_into", None) else ""
        raise ValueError(f"cluster {cluster.id} ({cluster.name!r}) was {cluster.status}{where}; "
                         "edit a live cluster")
    return cluster


def _clean_name(name: Any) -> str:
    if not isinstance(name, str):
        raise ValueError(f"a cluster name must be text, got {type(name).__name__}")
    cleaned = clean_for_prompt(name, MAX_NAME_CHARS)
    if not name_key(cleaned):
        raise ValueError("a cluster name must not be blank")
    return cleaned


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text, got {type(value).__name__}")
    return value.strip()


def _refresh(model: Any) -> None:
    """``clusters_``, ``n_clusters_``, ``categories_`` and ``edits_`` after an edit."""
    model.clusters_ = list(model.registry_.clusters)
    model.n_clusters_ = len(model.registry_.live)
    model.categories_ = list(model.registry_.categories)
    model.edits_ = [dict(e) for e in model.registry_.edits]


# -- the edits -------------------------------------------------------------------------


def rename_cluster(model: Any, cluster_id: str, name: str | None = None,
                   summary: str | None = None, criteria: str | None = None) -> Cluster:
    """Give a cluster a new name, summary or criteria (see ``LLMClusterer.rename_cluster``)."""
    registry = _fitted(model)
    cluster = _live(registry, cluster_id)
    new_name = _clean_name(name) if name is not None else None
    new_summary = _text(summary, "summary") if summary is not None else None
    new_criteria = _text(criteria, "criteria") if criteria is not None else None
    if new_name is None and new_summary is None and new_criteria is None:
        raise ValueError("rename_cluster needs a new name, summary or criteria")
    if new_name is not None:
        other = registry.find_by_name(new_name)
        if other is not None and other is not cluster:
            raise ValueError(f"cluster {other.id} is already named {other.name!r}; choose "
                             "another name, or merge the two clusters")
    changes: dict[str, str] = {}
    if new_name is not None and new_name != cluster.name:
        old = cluster.name
        registry.rename(cluster, new_name)
        engine = offline_engine(model)
        if engine is not None:
            engine.rename_own(old, new_name)
        changes["name"] = new_name
    if new_summary is not None:
        cluster.summary = changes["summary"] = new_summary
    if new_criteria is not None:
        cluster.criteria = changes["criteria"] = new_criteria
    cluster.updated_at = utc_now()
    registry.log_edit("rename", cluster_id=cluster.id, **changes)
    _refresh(model)
    return cluster


def lock_cluster(model: Any, cluster_id: str, locked: bool = True) -> Cluster:
    """Lock (or unlock) a cluster against automatic renames, merges and removal."""
    registry = _fitted(model)
    cluster = _live(registry, cluster_id)
    cluster.locked = bool(locked)
    registry.log_edit("lock" if locked else "unlock", cluster_id=cluster.id)
    _refresh(model)
    return cluster


def move_texts(model: Any, texts: Any, cluster_id: str) -> Cluster:
    """Pin ``texts`` to a cluster (see ``LLMClusterer.move_texts``)."""
    from ..io.validation import validate_texts

    registry = _fitted(model)
    cluster = _live(registry, cluster_id)
    values = validate_texts(texts)
    blank = [i for i, t in enumerate(values) if is_blank(t)]
    if blank:
        raise ValueError(f"text {blank[0]} is empty; only texts with content can be moved")
    if not values:
        raise ValueError("move_texts needs at least one text")
    values = list(dict.fromkeys(values))
    registry.log_edit("move", texts=values, cluster_id=cluster.id)
    keys = {dedup_key(t) for t in values}
    # Moved texts are the cluster's first examples, and no other cluster's.
    for other in registry.clusters:
        if other is not cluster:
            other.examples = [e for e in other.examples if dedup_key(e) not in keys]
    rest = [e for e in cluster.examples if dedup_key(e) not in keys]
    cluster.examples = (values + rest)[:max(registry.max_examples, 1)]
    cluster.updated_at = utc_now()
    fast = getattr(model, "fast_path_", None)
    if fast is not None:
        fast.add(values, [cluster.id] * len(values))
        fast.refresh()
    _relabel(model, {_key(t): registry.index_of(cluster.id) for t in values})
    _refresh(model)
    return cluster


def _key(text: str) -> int:
    return int(row_keys([text])[0])


def _relabel(model: Any, new_label_of_key: dict[int, int]) -> None:
    """Set the label of the rows of ``labels_`` whose text has one of the keys."""
    keys = getattr(model, "_row_keys_", None)
    labels = getattr(model, "labels_", None)
    if keys is None or labels is None or len(keys) != len(labels) or not new_label_of_key:
        return
    labels = labels.copy()
    for key, label in new_label_of_key.items():
        labels[keys == np.uint64(key)] = label
    model.labels_ = labels
    model.coverage_ = float((labels >= 0).mean()) if len(labels) else 0.0


def _relabel_labels(model: Any, mapping: dict[int, int]) -> None:
    """Rewrite labels by ``mapping`` (old label -> new label, -1 for none)."""
    labels = getattr(model, "labels_", None)
    if labels is None or not mapping:
        return
    labels = labels.copy()
    for old, new in mapping.items():
        labels[labels == old] = new
    model.labels_ = labels
    model.coverage_ = float((labels >= 0).mean()) if len(labels) else 0.0


def new_proposal_clusters(registry, proposals: Sequence[Proposal]) -> list[Cluster]:
    """Add ``proposals`` as clusters of origin ``"edit"`` (names made unique)."""
    made = []
    for proposal in proposals:
        name = proposal.name
        number = 2
        while registry.name_taken(name):
            name = f"{proposal.name} ({number})"
            number += 1
        cluster, _ = registry.add(Proposal(name=name, summary=proposal.summary,
                                           criteria=proposal.criteria))
        cluster.origin = "edit"
        made.append(cluster)
    return made


def _unlocked(cluster: Cluster, what: str) -> None:
    if cluster.locked:
        raise ValueError(f"cluster {cluster.id} ({cluster.name!r}) is locked; {what} it after "
                         f"unlock_cluster({cluster.id!r}) (llmcluster edit ... unlock "
                         f"{cluster.id})")


def merge_clusters(model: Any, cluster_ids: Sequence[str], name: str | None = None) -> Cluster:
    """Merge clusters into the first one (see ``LLMClusterer.merge_clusters``)."""
    registry = _fitted(model)
    if isinstance(cluster_ids, str) or len(list(cluster_ids)) < 2:
        raise ValueError("merge_clusters needs a list of two or more cluster ids, the first "
                         "being the one that stays")
    clusters = [_live(registry, cid) for cid in cluster_ids]
    if len({c.id for c in clusters}) != len(clusters):
        raise ValueError(f"merge_clusters got a cluster id twice: {list(cluster_ids)}")
    for cluster in clusters:
        _unlocked(cluster, "merge")
    new_name = _clean_name(name) if name is not None else None
    survivor, sources = clusters[0], clusters[1:]
    old_names = [c.name for c in clusters]
    registry.merge([c.id for c in sources], survivor.id, name=new_name)
    engine = offline_engine(model)
    if engine is not None:
        engine.merge_own(old_names[1:], into=old_names[0])
        if survivor.name != old_names[0]:
            engine.rename_own(old_names[0], survivor.name)
    for source in sources:
        if source.category_id is not None:
            registry.set_category(source, None)
    fast = getattr(model, "fast_path_", None)
    if fast is not None:
        fast.forget([c.id for c in sources])
    registry.log_edit("merge", cluster_ids=[c.id for c in sources], into=survivor.id,
                      **({"name": survivor.name} if new_name is not None else {}))
    into = registry.index_of(survivor.id)
    _relabel_labels(model, {registry.index_of(c.id): into for c in sources})
    _refresh(model)
    return survivor


def remove_cluster(model: Any, cluster_id: str) -> Cluster:
    """Remove a cluster (see ``LLMClusterer.remove_cluster``)."""
    registry = _fitted(model)
    cluster = _live(registry, cluster_id)
    _unlocked(cluster, "remove")
    _retire(model, cluster)
    registry.log_edit("remove", cluster_id=cluster.id)
    _relabel_labels(model, {registry.index_of(cluster.id): -1})
    _refresh(model)
    return cluster


def _retire(model: Any, cluster: Cluster) -> None:
    """Make ``cluster`` a removed tombstone: never a label, never judged again."""
    registry = model.registry_
    registry.remove(cluster.id)
    engine = offline_engine(model)
    if engine is not None:
        engine.forget_own(cluster.name)
    if cluster.category_id is not None:
        registry.set_category(cluster, None)
    fast = getattr(model, "fast_path_", None)
    if fast is not None:
        fast.forget([cluster.id])


def _members(model: Any, texts: list[str], label: int) -> list[str]:
    """The texts with ``label``: by ``labels_`` for the last fit's texts, else by ``predict``."""
    keys = getattr(model, "_row_keys_", None)
    labels = getattr(model, "labels_", None)
    known: dict[int, int] = {}
    if keys is not None and labels is not None and len(keys) == len(labels):
        known = dict(zip(keys.tolist(), labels.tolist()))
    text_keys = row_keys(texts).tolist()
    unknown = [t for t, k in zip(texts, text_keys) if k not in known]
    predicted = dict(zip(unknown, model.predict(unknown).tolist())) if unknown else {}
    return [t for t, k in zip(texts, text_keys)
            if (known[k] if k in known else predicted[t]) == label]


def split_cluster(model: Any, cluster_id: str, X: Any) -> list[Cluster]:
    """Split a cluster into sub-clusters found among its texts in ``X``."""
    import copy

    from ..io.validation import validate_texts

    registry = _fitted(model)
    cluster = _live(registry, cluster_id)
    _unlocked(cluster, "split")
    texts = [t for t in dict.fromkeys(validate_texts(X)) if not is_blank(t)]
    label = registry.index_of(cluster.id)
    members = _members(model, texts, label)
    if len(members) < 2:
        raise ValueError(f"cluster {cluster.id} ({cluster.name!r}) has {len(members)} of the "
                         "given texts; pass the texts it should be split on (e.g. the texts "
                         "of the last fit), at least two of them in the cluster")
    others = [c for c in live_clusters(registry) if c is not cluster]
    proposals = model.proposer_.propose(members, others)
    proposals = [p for p in proposals or [] if isinstance(p, Proposal) and p.members]
    if len(proposals) < 2:
        raise ValueError(f"the proposer found {len(proposals)} sub-cluster(s) among the "
                         f"{len(members)} texts of cluster {cluster.id} ({cluster.name!r}); "
                         "nothing was split (pass more of its texts, or merge and rename "
                         "instead)")
    engine = offline_engine(model)
    saved = (copy.deepcopy(registry), getattr(model, "labels_", None),
             getattr(model, "coverage_", None), dict(engine._own) if engine else None)
    try:
        category = cluster.category_id
        _retire(model, cluster)  # first: its names (and merged ones') are free again
        registry.release_names(cluster.id)
        made = new_proposal_clusters(registry, proposals)
        for proposal, sub in zip(proposals, made):
            if engine is not None and sub.name != proposal.name:
                engine.rename_own(proposal.name, sub.name)
            if category is not None:
                registry.set_category(sub, category)
        # Every text of the cluster is judged again, now against the sub-clusters.
        new_labels = model.predict(members)
        registry.record(new_labels, members)
        registry.log_edit("split", cluster_id=cluster.id, into=[c.id for c in made])
        keys = getattr(model, "_row_keys_", None)
        labels = getattr(model, "labels_", None)
        if keys is not None and labels is not None and len(keys) == len(labels):
            # Rows of the cluster whose text is not among X go back to -1.
            _relabel_labels(model, {label: -1})
            _relabel(model, {_key(t): int(k) for t, k in zip(members, new_labels)})
    except BaseException:
        model.registry_, model.labels_, model.coverage_, own = saved
        if engine is not None:
            engine._own = own
        raise
    _refresh(model)
    return made
