"""Consolidation: find clusters that are one intent under two names, and merge them.

Proposers do not keep to "never propose a cluster that duplicates an existing
one": a model re-proposes an intent under a paraphrased name, parallel
proposal calls name the same intent twice, and a judge then spreads that
intent over both. Consolidation runs between proposing and judging:

1. *candidates*: every cluster gets a vector, the mean of the unit vectors of
   its name and criteria, its examples and (during a fit) its members, through
   the representation layer (an :class:`~sklearn_llmcluster.representation.
   embedders.Embedder`). Pairs of live clusters whose vectors are similar,
   at least one of them new, are candidates, gathered in small groups;
2. *decision*: an LLM reads each group (:meth:`PromptBuilder.merge_messages
   <sklearn_llmcluster.discovery.prompts.PromptBuilder.merge_messages>`, in
   parallel, a few clusters a call; one global call over all clusters is
   fragile) and answers which to merge, with a name, summary and criteria
   covering the merged ones. Without an LLM (custom proposer and judge, the
   offline engine) the engine's judge is asked where a few members of each
   new cluster belong; a cluster whose members mostly go to another one is
   merged into it;
3. *merging*: :meth:`ClusterRegistry.merge
   <sklearn_llmcluster.taxonomy.registry.ClusterRegistry.merge>` keeps the
   lineage (the merged cluster becomes a tombstone pointing to its survivor).

A target number of clusters (``n_clusters``) is reached the same way: the
most similar pairs go to the LLM with the target in the prompt, and if the
catalogue is still too large the most similar pairs are merged by their
vectors until it fits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np

from ..exceptions import ResponseParseError
from ..llm.client import LLMClient, retry_or_note_problems, run_in_threads, thread_count
from ..records import Cluster, LLMUsage
from ..representation.normalization import MAX_NAME_CHARS, clean_for_prompt, name_key
from .prompts import PromptBuilder

__all__ = ["MergeDecision", "LLMMerger", "Consolidator", "cluster_vectors"]

logger = logging.getLogger("sklearn_llmcluster")

#: Longest summary or criteria a merge answer may write.
MAX_DESCRIPTION_CHARS = 600


@dataclass
class MergeDecision:
    """Fold the clusters ``ids`` into the cluster ``into``.

    ``name``, ``summary`` and ``criteria`` (optional) describe the merged
    cluster; without them the survivor keeps its own and extends its criteria.
    """

    into: str
    ids: list[str] = field(default_factory=list)
    name: str | None = None
    summary: str | None = None
    criteria: str | None = None


class LLMMerger:
    """Asks an LLM which clusters of a small group are duplicates.

    Parameters
    ----------
    client : LLMClient
        Sends the request (redaction, cache, retries, usage).
    prompts : PromptBuilder, optional
        Renders the messages; defaults to :class:`PromptBuilder`.
    """

    def __init__(self, client: LLMClient, prompts: PromptBuilder | None = None) -> None:
        self.client = client
        self.prompts = prompts

    def merge(self, clusters: list[Cluster], target: str | None = None) -> list[MergeDecision]:
        """Merges among ``clusters``; ``target`` says how many clusters the catalogue wants.

        Decisions naming ids outside ``clusters`` or merging a cluster with
        itself are dropped and noted (after the retries an invalid answer gets).
        """
        if len(clusters) < 2:
            return []
        prompts = self.prompts or PromptBuilder()
        _, shown = self.client.redact_inputs([], clusters)
        ids = [c.id for c in clusters]
        known = set(ids)

        def validate(answer: Any, final: bool) -> list[MergeDecision]:
            items = answer.get("merges") if isinstance(answer, dict) else None
            if not isinstance(items, list):
                raise ResponseParseError('the answer has no "merges" list')
            decisions, problems, used = [], [], set()
            for item in items:
                if not isinstance(item, dict):
                    problems.append("a merge is not an object")
                    continue
                into = item.get("into")
                # "ids" is the schema's name; models (and simulators) drifting
                # from it to "merge" still mean the clusters to fold in.
                sources = item.get("ids", item.get("merge"))
                if not isinstance(into, str) or into not in known:
                    problems.append(f"merge into unknown cluster_id {str(into)[:40]!r}")
                    continue
                if not isinstance(sources, list):
                    problems.append(f"the merge into {into!r} has no ids list")
                    continue
                folded = []
                for cid in sources:
                    if cid == into:
                        problems.append(f"cluster {into!r} merged with itself")
                    elif not isinstance(cid, str) or cid not in known:
                        problems.append(f"merge of unknown cluster_id {str(cid)[:40]!r}")
                    elif cid in used or cid in folded:
                        problems.append(f"cluster {cid!r} is in two merges")
                    else:
                        folded.append(cid)
                if into in used:
                    problems.append(f"cluster {into!r} is in two merges")
                    continue
                if not folded:
                    continue
                used.update(folded)
                used.add(into)
                name = clean_for_prompt(str(item.get("name") or ""), MAX_NAME_CHARS)
                decisions.append(MergeDecision(
                    into=into, ids=folded, name=name if name_key(name) else None,
                    summary=clean_for_prompt(str(item.get("summary") or ""),
                                             MAX_DESCRIPTION_CHARS) or None,
                    criteria=clean_for_prompt(str(item.get("criteria") or ""),
                                              MAX_DESCRIPTION_CHARS) or None))
            retry_or_note_problems(problems, final, "merge")
            return decisions

        return self.client.request("merge", prompts.merge_messages(shown, target=target),
                                   prompts.merge_schema(ids), validate)

    def __repr__(self) -> str:
        return f"LLMMerger(client={self.client!r})"


def cluster_vectors(clusters: Sequence[Cluster], embed: Callable[[list[str]], np.ndarray],
                    members: dict[str, list[str]] | None = None,
                    max_members: int = 30) -> np.ndarray:
    """One unit vector per cluster: the mean of its description's and its texts' vectors.

    Parameters
    ----------
    clusters : sequence of Cluster
    embed : callable
        ``embed(texts) -> (n, d)`` unit rows.
    members : dict, optional
        Member texts of each cluster id (the first ``max_members`` are used)
        on top of its examples.
    """
    texts: list[str] = []
    owner: list[int] = []
    for k, cluster in enumerate(clusters):
        own = [f"{cluster.name}. {cluster.criteria or cluster.summary}".strip()]
        own += list(cluster.examples)
        if members:
            own += [t for t in members.get(cluster.id, [])[:max_members] if t not in own]
        texts += own
        owner += [k] * len(own)
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    rows = np.asarray(embed(texts), dtype=np.float32)
    sums = np.zeros((len(clusters), rows.shape[1]), dtype=np.float32)
    np.add.at(sums, np.asarray(owner), rows)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return sums / np.where(norms == 0, 1.0, norms)


class Consolidator:
    """Finds duplicate clusters among the live ones of a registry and merges them.

    Parameters
    ----------
    merger : LLMMerger or None
        Decides each candidate group. ``None`` (no LLM): the engine judges up
        to ``judge_sample`` members of each new cluster against the others,
        and merges it into the one most of them go to.
    similarity : float, default=0.6
        Cosine similarity from which two clusters are a candidate pair for
        the LLM (TopicGPT uses 0.5 with its embeddings; on TF-IDF vectors of
        BANKING77, 0.6 keeps most pairs of different intents out).
    group_size : int, default=5
        Most clusters in one neighbourhood: a new cluster and its nearest.
    max_call_clusters : int, default=12
        Neighbourhoods are packed into one merge call up to this many clusters.
    judge_sample : int, default=8
        Members of a new cluster judged when there is no merger, or when the
        merger kept it apart from a very similar one (``verify_similarity``).
    n_jobs : int or None, default=4
        Merge calls in parallel (threads).
    verify_similarity : float or None, default=0.8
        A new cluster this similar to an older one that the merger did not
        merge gets a second opinion: ``judge_sample`` of its members are judged
        against the other clusters, and if two thirds of them go to one, it
        is merged into that one (models miss about one duplicate in ten).
        ``None``: the merger's word is final.
    """

    def __init__(self, merger: LLMMerger | None = None, *, similarity: float = 0.6,
                 group_size: int = 5, max_call_clusters: int = 12, judge_sample: int = 8,
                 n_jobs: int | None = 4, verify_similarity: float | None = 0.8) -> None:
        self.merger = merger
        self.verify_similarity = verify_similarity
        self.similarity = similarity
        self.judge_sample = judge_sample
        self.group_size = group_size
        self.max_call_clusters = max_call_clusters
        self.n_jobs = n_jobs

    # -- candidates ----------------------------------------------------------
    def _groups(self, live: list[Cluster], vectors: np.ndarray, fresh: set[str],
                threshold: float) -> list[list[int]]:
        """Small groups of similar clusters, each led by a fresh cluster."""
        sims = vectors @ vectors.T
        np.fill_diagonal(sims, -1.0)
        groups: list[list[int]] = []
        for k in [k for k, c in enumerate(live) if c.id in fresh]:
            # Every new cluster brings its own nearest neighbours: one that
            # is only someone else's neighbour may have its twin elsewhere.
            near = [j for j in np.argsort(-sims[k], kind="stable") if sims[k, j] >= threshold]
            near = near[: self.group_size - 1]
            if near and not any(set([k, *near]) <= set(g) for g in groups):
                groups.append([k, *near])
        # Several small neighbourhoods share one call, up to max_call_clusters.
        packed: list[list[int]] = []
        for group in groups:
            for pack in packed:
                union = pack + [j for j in group if j not in pack]
                if len(union) <= self.max_call_clusters:
                    pack[:] = union
                    break
            else:
                packed.append(list(group))
        return packed

    # -- deciding --------------------------------------------------------------
    def _ask(self, groups: list[list[Cluster]], target: str | None, run_call: Callable,
             usage: LLMUsage, members: dict[str, list[str]] | None = None
             ) -> list[MergeDecision]:
        """Ask the merger about each group in parallel; a failed call merges nothing.

        A cluster proposed during this fit has no examples yet: the merger is
        shown copies with some of its member texts as examples.
        """
        groups = [[_with_examples(c, members) for c in group] for group in groups]
        jobs = thread_count(self.n_jobs)
        outputs = run_in_threads(lambda group: run_call(self.merger.merge, group, target),
                                 groups, min(jobs, len(groups)))
        decisions: list[MergeDecision] = []
        for result, call_usage in outputs:
            usage.merge(call_usage)
            if result is None:
                continue  # failed (noted by run_call): those clusters stay apart
            if not isinstance(result, (list, tuple)):
                usage.note(f"merger returned {type(result).__name__}, not a list; ignored")
                continue
            decisions.extend(d for d in result if isinstance(d, MergeDecision))
        return decisions

    def apply(self, registry, decisions: Sequence[MergeDecision], usage: LLMUsage,
              allowed: set[str] | None = None, floor: int | None = None) -> dict[str, str]:
        """Apply ``decisions`` to ``registry``; return ``{merged id: survivor id}``.

        Ids are followed to their survivors first (two groups may have merged
        the same cluster). A decision with an unknown id, or that would merge
        a cluster into itself, is skipped and noted. ``floor``: no merge that
        would leave fewer live topic clusters.
        """
        merged: dict[str, str] = {}
        for decision in decisions:
            into = _live_id(registry, decision.into)
            if into is None or (allowed is not None and decision.into not in allowed):
                usage.note(f"merge into unknown cluster {str(decision.into)[:40]!r} ignored")
                continue
            sources = []
            for cid in decision.ids:
                source = _live_id(registry, cid)
                if source is None or (allowed is not None and cid not in allowed):
                    usage.note(f"merge of unknown cluster {str(cid)[:40]!r} ignored")
                elif source == into:
                    if cid == decision.into:
                        usage.note(f"merge of cluster {cid!r} with itself ignored")
                elif source not in sources:
                    sources.append(source)
            if registry.get(into).locked or any(registry.get(s).locked for s in sources):
                usage.note("a merge of a locked cluster was ignored")
                continue
            name = decision.name
            no_intent = [cid for cid in [into, *sources] if registry.get(cid).kind == "no_intent"]
            if no_intent:
                # A topic proposal that is a no-intent cluster under another
                # name ("Thank-you messages" beside "Thanks") joins it: the
                # survivor is the no-intent cluster, with its name. Two
                # no-intent clusters (one per rule) stay apart.
                survivor = into if into in no_intent else no_intent[0]
                if len(no_intent) > 1:
                    usage.note("no-intent clusters are not merged with each other")
                sources = [cid for cid in [into, *sources] if cid not in no_intent]
                into, name = survivor, None
            if floor is not None:
                room = _topic_count(registry) - floor
                sources = sources[:max(room, 0)]
            if not sources:
                continue
            if name is not None:
                holder = registry.find_by_name(name)
                if holder is not None and holder.id not in {into, *sources}:
                    name = None  # another live cluster has it: keep the survivor's name
            survivor = registry.merge(sources, into, name=name, summary=decision.summary,
                                      criteria=decision.criteria)
            for source in sources:
                merged[source] = survivor.id
        for source, survivor in list(merged.items()):
            merged[source] = registry.resolve(survivor).id
        return merged

    # -- the two entry points ----------------------------------------------------
    def consolidate(self, registry, fresh: Sequence[str], vectors_of: Callable,
                    run_call: Callable, usage: LLMUsage, *, floor: int | None = None,
                    target: str | None = None,
                    members: dict[str, list[str]] | None = None) -> dict[str, str]:
        """Merge duplicates among the live clusters, where one of a pair is in ``fresh``.

        Parameters
        ----------
        registry : ClusterRegistry
        fresh : sequence of str
            Ids of the clusters proposed since the last consolidation.
        vectors_of : callable
            ``vectors_of(clusters) -> (n, d)`` unit rows (see :func:`cluster_vectors`).
        run_call : callable
            ``run_call(func, *args) -> (result or None, LLMUsage)``: the
            engine's guarded call (circuit breaker, budget, failure notes).
        usage : LLMUsage
        floor : int, optional
            Never merge below this many live topic clusters.
        target : str, optional
            Passed to the merge prompt.
        members : dict, optional
            Member texts of the clusters (by id) found so far in this fit.

        Returns
        -------
        dict
            ``{merged id: survivor id}``.
        """
        if self.merger is None:
            return {}  # without an LLM the engine asks its judge (see ClusteringEngine)
        groups, allowed, _ = self.plan(registry, fresh, vectors_of)
        if not groups:
            return {}
        decisions = self.decide(groups, target, run_call, usage, members)
        return self.apply(registry, decisions, usage, allowed=allowed, floor=floor)

    def plan(self, registry, fresh: Sequence[str], vectors_of: Callable
             ) -> tuple[list[list[Cluster]], set[str], list[str]]:
        """The groups of candidate duplicates to ask about, the ids they may name, and
        the fresh clusters close enough to another for a second opinion.

        The first step of :meth:`consolidate`; :meth:`decide` and
        :meth:`apply` are the others (the engine runs :meth:`decide`, the
        LLM calls, while the next proposal round goes on).
        """
        # No-intent clusters are candidates too: a proposal may name one of
        # them again (see apply); the fresh clusters are topic ones.
        live = _mergeable(registry, no_intent=True)
        fresh = {cid for cid in fresh if cid in {c.id for c in live}}
        if len(live) < 2 or not fresh:
            return [], set(), []
        vectors = vectors_of(live)
        groups = self._groups(live, vectors, fresh, self.similarity)
        close: list[str] = []
        older = [j for j, c in enumerate(live) if c.id not in fresh]
        if self.verify_similarity is not None and older:
            # A proposal that names an older cluster's intent again: the
            # duplicate models make (parallel proposals of one round see
            # disjoint groups of texts, and seldom meet).
            sims = vectors @ vectors[older].T
            close = [c.id for k, c in enumerate(live)
                     if c.id in fresh and sims[k].max() >= self.verify_similarity]
        return [[live[k] for k in g] for g in groups], {c.id for c in live}, close

    def decide(self, groups: list[list[Cluster]], target: str | None, run_call: Callable,
               usage: LLMUsage, members: dict[str, list[str]] | None = None
               ) -> list[MergeDecision]:
        """Ask the merger about each group (in parallel); touches no registry."""
        if not groups or self.merger is None:
            return []
        return self._ask(groups, target, run_call, usage, members)

    def reduce_to(self, registry, most: int, vectors_of: Callable, run_call: Callable,
                  usage: LLMUsage, *, describe_target: str,
                  members: dict[str, list[str]] | None = None) -> dict[str, str]:
        """Merge the most similar clusters until at most ``most`` live topic clusters remain.

        The LLM (if any) is asked first about the closest pairs, with the
        target in the prompt; what it leaves above ``most`` is merged pair by
        pair by similarity, the smaller cluster into the larger.
        """
        merged: dict[str, str] = {}
        if self.merger is not None and _topic_count(registry) > most:
            live = _mergeable(registry)
            vectors = vectors_of(live)
            excess = len(live) - most
            groups = _closest_pairs(vectors, excess)
            if groups:
                decisions = self._ask([[live[a], live[b]] for a, b in groups],
                                      describe_target, run_call, usage, members)
                merged.update(self.apply(registry, decisions, usage,
                                         allowed={c.id for c in live}, floor=most))
        while _topic_count(registry) > most:
            live = _mergeable(registry)
            vectors = vectors_of(live)
            pairs = _closest_pairs(vectors, _topic_count(registry) - most)
            if not pairs:
                break
            decisions = []
            for a, b in pairs:
                keep, fold = (a, b) if (live[a].size, -a) >= (live[b].size, -b) else (b, a)
                decisions.append(MergeDecision(into=live[keep].id, ids=[live[fold].id]))
            merged.update(self.apply(registry, decisions, usage, floor=most))
        for source, survivor in list(merged.items()):
            merged[source] = registry.resolve(survivor).id
        return merged

    def __repr__(self) -> str:
        return f"Consolidator(merger={self.merger!r}, similarity={self.similarity})"


def _closest_pairs(vectors: np.ndarray, count: int) -> list[tuple[int, int]]:
    """Up to ``count`` disjoint pairs of rows, most similar first."""
    n = len(vectors)
    if n < 2 or count <= 0:
        return []
    sims = vectors @ vectors.T
    upper = np.triu_indices(n, k=1)
    order = np.argsort(-sims[upper], kind="stable")
    pairs, used = [], set()
    for position in order:
        a, b = int(upper[0][position]), int(upper[1][position])
        if a in used or b in used:
            continue
        pairs.append((a, b))
        used.update((a, b))
        if len(pairs) >= count:
            break
    return pairs


def _with_examples(cluster: Cluster, members: dict[str, list[str]] | None,
                   count: int = 5) -> Cluster:
    """``cluster``, or a copy whose examples are topped up from ``members``."""
    if not members or len(cluster.examples) >= count:
        return cluster
    examples = list(cluster.examples)
    for text in members.get(cluster.id, ()):
        if len(examples) >= count:
            break
        if text not in examples:
            examples.append(text)
    return replace(cluster, examples=examples)


def _live_id(registry, cluster_id: Any) -> str | None:
    if not isinstance(cluster_id, str):
        return None
    try:
        survivor = registry.resolve(cluster_id)
    except KeyError:
        return None
    return None if survivor is None else survivor.id


def _mergeable(registry, no_intent: bool = False) -> list[Cluster]:
    """Live clusters that may be merged automatically: topic ones (and no-intent
    ones if asked), never the locked ones."""
    kinds = ("topic", "no_intent") if no_intent else ("topic",)
    return [c for c in registry.live if c.kind in kinds and not c.locked]


def _topic_count(registry) -> int:
    return sum(1 for c in registry.live if c.kind == "topic")
