"""Categories: a level above the clusters ("Cards" above "Card blocked", "Card lost").

With an LLM, the cluster list goes to the model in batches (so hundreds of
clusters work): each batch sees the categories made so far and puts its
clusters into them or into new ones. The offline engine groups the clusters'
vectors (name, criteria and examples, in the model's representation) by
agglomerative clustering and names each category after its most central
cluster. ``partial_fit`` puts new clusters into the existing categories (the
nearest one offline, when it is near enough), or into new ones.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Sequence

import numpy as np

from ..records import Category, Cluster, LLMUsage
from ..representation.normalization import MAX_NAME_CHARS, clean_for_prompt, name_key

__all__ = ["MIN_CLUSTERS", "BATCH_SIZE", "auto_n_categories", "update_categories"]

logger = logging.getLogger("sklearn_llmcluster")

#: With ``n_categories=None``, fewer live clusters than this get no categories.
MIN_CLUSTERS = 6
#: Clusters per LLM call.
BATCH_SIZE = 80
#: Cosine similarity to a category's centre that a new cluster needs to join
#: it offline; below it, the cluster starts a category of its own.
JOIN_SIMILARITY = 0.35
#: Counters of a category call that count towards a run's usage. Its failures
#: do not: the offline grouping takes over, and no label depends on it.
_COUNTED = ("calls", "prompt_tokens", "completion_tokens", "retries", "cache_hits")


def auto_n_categories(n_clusters: int) -> int:
    """Categories for ``n_clusters`` clusters with ``n_categories=None``: about the square root."""
    if n_clusters < MIN_CLUSTERS:
        return 0
    return max(2, int(round(math.sqrt(n_clusters))))


def _live(registry) -> list[Cluster]:
    return [c for c in registry.clusters if c.status not in ("merged", "removed")]


def _material(cluster: Cluster) -> str:
    return " ".join(p for p in (cluster.name, cluster.criteria or cluster.summary,
                                *cluster.examples) if p)


def _vectors(model: Any, clusters: Sequence[Cluster]) -> np.ndarray:
    """Unit vectors of clusters (name, criteria, examples) in the model's representation."""
    material = [_material(c) for c in clusters]
    embedder = getattr(model, "embedder_", None)
    if embedder is not None and getattr(embedder, "is_fitted", False):
        return np.asarray(embedder.transform(material), dtype=float)
    engine = getattr(getattr(model, "proposer_", None), "engine", None)
    if engine is not None and getattr(engine, "_version", 0):
        return np.asarray(engine.transform(material), dtype=float)
    from ..representation.embedders import TfidfEmbedder

    seed = model.random_state if isinstance(model.random_state, (int, np.integer)) else 0
    return np.asarray(TfidfEmbedder(random_state=seed).fit_transform(material), dtype=float)


def update_categories(model: Any, usage: LLMUsage | None = None) -> None:
    """Give every live cluster without a category one; build them all when there are none.

    Parameters
    ----------
    model : LLMClusterer
        Fitted; ``model.registry_`` is changed in place.
    usage : LLMUsage, optional
        Receives the calls and tokens of the LLM's category calls.
    """
    registry = model.registry_
    live = _live(registry)
    wanted = model.n_categories
    if wanted == 0 or not live:
        return
    live_ids = {c.id for c in live}
    for category in registry.categories:  # clusters merged or removed since
        category.cluster_ids = [cid for cid in category.cluster_ids if cid in live_ids]
    todo = [c for c in live if c.category_id is None]
    if not todo:
        return
    if not registry.categories:
        n = auto_n_categories(len(live)) if wanted is None else min(int(wanted), len(live))
        if n == 0:
            return
    else:
        n = None
    if getattr(model, "client_", None) is not None:
        todo = _llm_categories(model, todo, wanted, usage)
    if todo:
        _offline_categories(model, live, todo, n)
    # Categories left with no cluster (all merged or removed) go.
    registry.categories = [c for c in registry.categories if c.cluster_ids]


# -- offline ---------------------------------------------------------------------------


def _offline_categories(model: Any, live: list[Cluster], todo: list[Cluster],
                        n: int | None) -> None:
    registry = model.registry_
    if not registry.categories:
        vectors = _vectors(model, todo)
        if len(todo) == 1 or n is None or n <= 1:
            groups = np.zeros(len(todo), dtype=int)
        else:
            from sklearn.cluster import AgglomerativeClustering

            groups = AgglomerativeClustering(n_clusters=min(n, len(todo)), metric="cosine",
                                             linkage="average").fit_predict(vectors)
        # Biggest groups first, so category ids follow size.
        sizes = {g: sum(c.size for c, h in zip(todo, groups) if h == g) for g in set(groups)}
        for g in sorted(sizes, key=lambda g: (-sizes[g], int(g))):
            members = [i for i in range(len(todo)) if groups[i] == g]
            _new_category(registry, [todo[i] for i in members], vectors[members])
        return
    placed = [c for c in live if c.category_id is not None]
    vectors = _vectors(model, placed + todo)
    by_category: dict[str, list[int]] = {}
    for i, cluster in enumerate(placed):
        by_category.setdefault(cluster.category_id, []).append(i)
    ids = list(by_category)
    centres = np.vstack([_unit(vectors[rows].mean(axis=0)) for rows in by_category.values()]) \
        if ids else np.zeros((0, vectors.shape[1]))
    for j, cluster in enumerate(todo):
        vector = vectors[len(placed) + j]
        similarity = centres @ vector if len(ids) else np.array([])
        if len(similarity) and similarity.max() >= JOIN_SIMILARITY:
            registry.set_category(cluster, ids[int(np.argmax(similarity))])
        else:
            _new_category(registry, [cluster], vector[None, :])


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vector)
    return vector / norm if norm else vector


def _new_category(registry, clusters: list[Cluster], vectors: np.ndarray) -> Category:
    """A category of ``clusters`` named after the most central one."""
    centre = _unit(vectors.mean(axis=0))
    central = clusters[int(np.argmax(vectors @ centre))]
    others = [c.name for c in clusters if c is not central][:4]
    summary = central.name + (f"; also {', '.join(others)}" if others else "")
    category = registry.add_category(central.name, summary=summary)
    for cluster in clusters:
        registry.set_category(cluster, category.id)
    return category


# -- LLM -------------------------------------------------------------------------------


def _llm_categories(model: Any, todo: list[Cluster], wanted: int | None,
                    usage: LLMUsage | None) -> list[Cluster]:
    """Categories from the LLM, batch by batch; returns the clusters it left without one."""
    from ..discovery.prompts import PromptBuilder
    from ..exceptions import BudgetExceededError
    from ..llm.client import collect_usage, is_fatal

    registry = model.registry_
    client = model.client_
    prompts = model.prompts or PromptBuilder(
        business_context=model.business_context, language=model.language,
        max_text_chars=model.max_text_chars)
    left: list[Cluster] = []
    for start in range(0, len(todo), BATCH_SIZE):
        batch = todo[start:start + BATCH_SIZE]
        with collect_usage() as call_usage:
            try:
                answer = _ask(client, prompts, batch, registry.categories, wanted)
            except BudgetExceededError:
                answer = None
            except Exception as exc:
                if is_fatal(exc):
                    raise
                logger.info("the LLM could not group the clusters into categories (%s: %s); "
                            "the offline grouping places them", type(exc).__name__,
                            str(exc)[:200])
                answer = None
        if usage is not None:
            usage.add(**{name: getattr(call_usage, name) for name in _COUNTED})
        if answer is None:
            left.extend(batch)
            continue
        by_id = {c.id: c for c in batch}
        existing = {name_key(c.name): c for c in registry.categories}
        for name, summary, ids in answer:
            members = [by_id.pop(cid) for cid in ids if cid in by_id]
            if not members:
                continue
            category = existing.get(name_key(name))
            if category is None:
                category = registry.add_category(name, summary=summary)
                existing[name_key(category.name)] = category
            for cluster in members:
                registry.set_category(cluster, category.id)
        left.extend(by_id.values())
    return left


def _ask(client, prompts, clusters: list[Cluster], categories: list[Category],
         wanted: int | None) -> list[tuple[str, str, list[str]]]:
    from ..exceptions import ResponseParseError
    from ..llm.client import retry_or_note_problems

    _, shown = client.redact_inputs([], clusters)
    ids = [c.id for c in clusters]
    known = set(ids)

    def validate(answer: Any, final: bool) -> list[tuple[str, str, list[str]]]:
        items = answer.get("categories") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise ResponseParseError('the answer has no "categories" list')
        result, problems, placed = [], [], set()
        for item in items:
            if not isinstance(item, dict):
                problems.append("a category is not an object")
                continue
            name = clean_for_prompt(str(item.get("name") or ""), MAX_NAME_CHARS)
            if not name_key(name):
                problems.append("a category has an empty name")
                continue
            members = []
            for cid in item.get("cluster_ids") or []:
                if cid not in known:
                    problems.append(f"cluster_id {str(cid)[:40]!r} is not in the list")
                elif cid in placed:
                    problems.append(f"cluster {cid} is in two categories")
                else:
                    placed.add(cid)
                    members.append(cid)
            result.append((name, clean_for_prompt(str(item.get("summary") or ""), 300),
                           members))
        if len(placed) < len(known):
            problems.append(f"{len(known) - len(placed)} of {len(known)} clusters have no "
                            "category")
        retry_or_note_problems(problems, final, "categories")
        return result

    return client.request("categorize", prompts.categorize_messages(shown, categories, wanted),
                          prompts.categorize_schema(ids), validate)
