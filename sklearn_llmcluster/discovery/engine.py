"""The clustering loop: judge what existing clusters cover, propose clusters for the rest.

:class:`ClusteringEngine` works on de-duplicated, non-empty texts and cluster
ids; the estimator turns its result into labels. Judge calls run in parallel
batches through joblib; every batch is isolated, so one failure leaves only
its own texts unassigned.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
# joblib's own Parallel, not scikit-learn's wrapper: the wrapper resets the
# process-wide warning filters inside every task, which is not thread-safe
# (scikit-learn#32631); over thousands of threaded judge calls it wipes the
# filters and floods the run with UserWarnings. Judges need no sklearn config.
from joblib import Parallel, delayed
from sklearn.cluster import MiniBatchKMeans
from sklearn.utils import check_random_state

from ..exceptions import BudgetExceededError, ProviderUnavailableError
from ..llm.client import ThreadShared, collect_usage, is_fatal, run_in_threads, thread_count
from ..records import Cluster, LLMUsage, Proposal
from .consolidation import Consolidator, MergeDecision, cluster_vectors
from ..taxonomy.registry import ClusterRegistry
from ..representation.normalization import MAX_NAME_CHARS, clean_for_prompt

__all__ = ["ClusteringEngine", "EngineSettings"]

logger = logging.getLogger("sklearn_llmcluster")


#: Default most proposal calls per round (EngineSettings.parallel_proposals).
PARALLEL_PROPOSALS = 16


#: Seconds the first proposal call of a run goes alone (see ClusteringEngine._propose_round).
FIRST_CALL_PROBE_S = 0.5


@dataclass
class EngineSettings:
    """Knobs of the loop; the estimator fills them from its parameters."""

    batch_size: int = 30
    max_new_clusters: int = 10
    proposal_size: int = 200
    max_rounds: int | None = 30
    n_jobs: int | None = 4
    random_state: object = None
    #: Consecutive failed calls, with no success in between, that stop the run.
    max_consecutive_failures: int = 8
    #: None (no target), an int (about that many clusters) or a (min, max) range.
    n_clusters: object = None
    #: Most proposal calls (on disjoint samples) in one round; n_jobs of them run at once.
    parallel_proposals: int = field(default_factory=lambda: PARALLEL_PROPOSALS)
    #: A topic cluster created by ``discover`` that ends it with fewer requests
    #: (rows) than this is dissolved (see :meth:`ClusteringEngine.discover`).
    min_cluster_size: int = 1


class _CircuitBreaker(ThreadShared):
    """Stops a run whose every call fails (server down) instead of labelling all -1."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.consecutive = 0
        self.successes = 0
        self.failures = 0
        self.last_error: BaseException | None = None
        self.budget_error: BudgetExceededError | None = None
        self._lock = threading.Lock()

    def success(self) -> None:
        with self._lock:
            self.consecutive = 0
            self.successes += 1

    def failure(self, exc: BaseException) -> None:
        with self._lock:
            self.consecutive += 1
            self.failures += 1
            self.last_error = exc

    def _stop(self, what: str) -> ProviderUnavailableError:
        exc = self.last_error
        return ProviderUnavailableError(
            f"stopping: {what}, the last with {type(exc).__name__}: {exc}",
            provider=getattr(exc, "provider", None), model=getattr(exc, "model", None),
            url=getattr(exc, "url", None),
        )

    def check(self) -> None:
        """Raise when the run must stop; called before each call."""
        if self.budget_error is not None:
            raise self.budget_error
        if self.consecutive >= self.threshold:
            raise self._stop(f"the last {self.consecutive} LLM calls all failed") \
                from self.last_error

    def check_something_worked(self) -> None:
        """Raise when calls failed and none succeeded.

        A run too small to reach the threshold would otherwise end with every
        text at -1 and a warning, which hides an outage, a wrong model or an
        answer format the model cannot produce.
        """
        if self.failures and not self.successes and self.budget_error is None:
            raise self._stop(f"all {self.failures} LLM calls failed") from self.last_error

    def absorb(self, copy: "_CircuitBreaker", ok: bool) -> None:
        """Learn what one call did through a copy of this breaker in another process."""
        if copy.budget_error is not None:
            self.budget_error = self.budget_error or copy.budget_error
        elif ok:
            self.success()
        elif copy.last_error is not None:
            self.failure(copy.last_error)


def _survivor_id(registry: ClusterRegistry, cluster_id: str) -> str | None:
    """The id of the live cluster ``cluster_id`` stands for (``None``: removed)."""
    survivor = registry.resolve(cluster_id)
    return None if survivor is None else survivor.id


def _guarded_call(breaker: _CircuitBreaker, func: Callable, *args):
    """Run one judge/proposer call; return (result or None, usage)."""
    with collect_usage() as usage:
        if breaker.budget_error is not None:
            # Spent already (another thread or an earlier pass): a clean stop,
            # not an error, so the caller keeps what is labelled.
            return None, usage
        breaker.check()
        try:
            result = func(*args)
        except BudgetExceededError as exc:
            breaker.budget_error = exc
            return None, usage
        except Exception as exc:
            if is_fatal(exc):
                raise
            breaker.failure(exc)
            usage.add(failed_calls=1)
            usage.note(f"{type(exc).__name__}: {str(exc)[:200]}")
            return None, usage
        breaker.success()
        return result, usage


def _judge_batch(breaker: _CircuitBreaker, judge, texts: list[str],
                 clusters: list[Cluster]) -> tuple[list[str | None] | None, LLMUsage]:
    """One judge call; ``None`` answers mean the call failed and may be retried."""
    result, usage = _guarded_call(breaker, judge.judge, texts, clusters)
    if result is None:
        return None, usage
    if not isinstance(result, (list, tuple, np.ndarray)) or len(result) != len(texts):
        got = len(result) if hasattr(result, "__len__") else type(result).__name__
        usage.add(failed_calls=1)
        usage.note(f"judge returned {got} answers for {len(texts)} texts; batch left unassigned")
        return [None] * len(texts), usage
    known = {c.id for c in clusters}
    answers = []
    for cid in result:
        # isinstance first: an unhashable answer (a dict, a list) must not raise here.
        if cid is not None and not (isinstance(cid, str) and cid in known):
            usage.note(f"judge returned unknown cluster id {str(cid)[:40]!r}; text left unassigned")
            cid = None
        answers.append(cid)
    return answers, usage


def _judge_task(breaker: _CircuitBreaker, judge, texts: list[str], clusters: list[Cluster],
                parent: int):
    """What a joblib worker runs: one judge batch, plus news for another process's parent.

    In the parent's threads the breaker (and the LLM client's budget) are the
    parent's own objects. A process-based backend (Dask, loky) works on
    copies, so the copy of the breaker goes back and the parent replays it.
    """
    answers, usage = _judge_batch(breaker, judge, texts, clusters)
    return answers, usage, (None if os.getpid() == parent else breaker)


class ClusteringEngine:
    """Runs judge passes and proposal rounds against a registry.

    Parameters
    ----------
    proposer : Proposer
    judge : Judge
    registry : ClusterRegistry
    settings : EngineSettings
    pre_assign : callable, optional
        ``pre_assign(texts, clusters) -> list[str | None]``: a cheaper assigner
        tried before the judge (the fast path); only its ``None`` texts go to
        the judge.
    report : callable, optional
        Receives one-line progress messages.
    budget : object, optional
        The LLM client's call/token budget (``charge``, ``calls_left``). Judge
        calls made in other processes are charged to it when their batches
        come back, and with a call cap a pass is sent in waves of at most the
        calls left, so caps hold on process-based joblib backends too.
    embedder : Embedder, optional
        The representation everything that compares texts uses (see
        :mod:`sklearn_llmcluster.representation.embedders`), fitted when it
        needs fitting. ``None`` (custom proposer and judge without one):
        such code fits a ``TfidfEmbedder`` on the texts at hand.
    consolidator : Consolidator, optional
        Merges duplicate clusters after each proposal round (see
        :mod:`sklearn_llmcluster.discovery.consolidation`); ``None`` merges
        nothing but identical names.
    shortlister : Shortlister, optional
        Draws each judge batch's candidate clusters (see
        :mod:`~sklearn_llmcluster.discovery.shortlists`); ``None`` lists
        every cluster in every judge call.
    """

    def __init__(self, proposer, judge, registry: ClusterRegistry, settings: EngineSettings,
                 *, pre_assign: Callable | None = None,
                 report: Callable[[str], None] | None = None, budget=None,
                 consolidator: Consolidator | None = None, embedder=None,
                 shortlister=None) -> None:
        self.shortlister = shortlister
        self._second_look = False  # judging the texts a shortlist left at "none" again
        self._narrow_none: set[str] = set()
        self._discovering = False
        self.proposer = proposer
        self.judge = judge
        self.registry = registry
        self.settings = settings
        self.pre_assign = pre_assign
        self.report = report or logger.info
        self.budget = budget
        self.consolidator = consolidator
        self.embedder = embedder
        # TF-IDF fitted on the texts at hand, when no embedder was given.
        self._fallback_embedder = None
        self.breaker = _CircuitBreaker(settings.max_consecutive_failures)
        #: Texts the LLM judge has answered for, for counting each once.
        self.judged_texts: set[str] = set()
        #: Whether discovery stopped at ``max_rounds`` with texts it could still propose for.
        self.stopped_at_max_rounds = False

    @property
    def budget_exhausted(self) -> bool:
        return self.breaker.budget_error is not None

    # -- judging -----------------------------------------------------------
    def assign(self, texts: Sequence[str], clusters: Sequence[Cluster],
               usage: LLMUsage) -> list[str | None]:
        """Judge ``texts`` against ``clusters`` in parallel batches."""
        n = len(texts)
        result: list[str | None] = [None] * n
        if not n or not clusters or self.budget_exhausted:
            return result
        todo = list(range(n))
        if self.pre_assign is not None:
            pre = self.pre_assign(list(texts), list(clusters))
            todo = [i for i in todo if pre[i] is None]
            for i in range(n):
                result[i] = pre[i]
            usage.add(texts_judged_by_fast_path=n - len(todo))
        size = max(1, int(self.settings.batch_size))
        clusters = list(clusters)
        shortlisted = self.shortlister is not None and self.shortlister.applies(len(clusters)) \
            and bool(todo)
        if shortlisted:
            plan, catalogues, _ = self.shortlister.plan([texts[i] for i in todo], clusters, size)
            batches = [[todo[j] for j in batch] for batch in plan]
            catalogue_of = {id(b): c for b, c in zip(batches, catalogues)}
            usage.add(shortlisted_judge_calls=len(batches))
            if not self._second_look:
                usage.add(texts_shortlisted=len(todo))
        else:
            batches = [todo[k:k + size] for k in range(0, len(todo), size)]
            catalogue_of = {}
        # Failed batches get one more pass at the end: most failures (timeouts,
        # overload) are transient, and by then the server has had time to recover.
        # A failure the second pass recovers is logged, not counted in
        # failed_calls or warned about: its texts are labelled.
        unsettled: dict[int, LLMUsage] = {}  # first failure of each batch, by id(batch)
        answered: set[int] = set()
        for attempt in range(2):
            if attempt:
                usage.add(retries=len(batches))
            failed = []
            for wave in self._waves(batches):
                outputs = Parallel(n_jobs=self.settings.n_jobs, prefer="threads")(
                    delayed(_judge_task)(self.breaker, self.judge, [texts[i] for i in batch],
                                         catalogue_of.get(id(batch), clusters), os.getpid())
                    for batch in wave
                )
                for batch, (answers, batch_usage, remote) in zip(wave, outputs):
                    if remote is not None:
                        self.breaker.absorb(remote, answers is not None)
                        if self.budget is not None:
                            self.budget.charge(batch_usage.calls, batch_usage.total_tokens)
                    if answers is None:
                        failed.append(batch)
                        if attempt == 0:
                            unsettled[id(batch)] = batch_usage
                            continue
                    elif id(batch) in unsettled:
                        first = unsettled.pop(id(batch))
                        logger.info("a judge call failed and succeeded on retry: %s",
                                    "; ".join(first.notes))
                        first.notes.clear()
                        first.failed_calls = 0
                        usage.merge(first)
                    usage.merge(batch_usage)
                    if answers is not None:
                        answered.update(batch)
                        for i, cid in zip(batch, answers):
                            result[i] = cid
                        # Unique texts: one judged in two passes counts once.
                        fresh = {texts[i] for i in batch} - self.judged_texts
                        self.judged_texts |= fresh
                        usage.add(texts_judged_by_llm=len(fresh))
                if self.budget_exhausted:
                    break  # later waves stay unassigned
            batches = failed
            if not batches or self.budget_exhausted:
                break
        for first in unsettled.values():
            usage.merge(first)  # failed, and never retried or failed again
        self.breaker.check_something_worked()
        # Texts a shortlist left at "none" (see _last_look). A later look
        # without one may have listed only the clusters made since.
        if shortlisted:
            self._narrow_none.update(texts[i] for i in todo if result[i] is None
                                     and i in answered)
        # While discovering, "none" mostly means the cluster does not exist
        # yet: the texts go to the proposer, and the last look (see
        # discover) catches those a shortlist missed, once, at the end.
        if shortlisted and self.shortlister.rechecks() \
                and not self._discovering and not self.budget_exhausted:
            # "None" from a shortlist may mean its cluster was not listed:
            # one more look against a much wider list (only for answered texts).
            again = [i for i in todo if result[i] is None and i in answered]
            if again:
                usage.add(texts_rechecked=len(again))
                saved, self.shortlister = self.shortlister, self.shortlister.widened()
                self._second_look = True
                try:
                    second = self.assign([texts[i] for i in again], clusters, usage)
                finally:
                    self.shortlister, self._second_look = saved, False
                for i, cid in zip(again, second):
                    result[i] = cid
        return result

    def _waves(self, batches: list[list[int]]):
        """``batches`` in waves of at most the calls the budget has left (one without a cap)."""
        start = 0
        while start < len(batches):
            left = self.budget.calls_left() if self.budget is not None else None
            size = len(batches) if left is None else max(left, 1)
            yield batches[start:start + size]
            start += size

    # -- consolidating -------------------------------------------------------
    def _embed(self, texts: list[str]) -> np.ndarray:
        """Unit rows of ``texts`` through the engine's embedder (or TF-IDF on the texts at hand).

        Each distinct text is embedded once per engine: consolidation asks for
        the same members' vectors every round.
        """
        memo = self.__dict__.setdefault("_vectors", {})
        missing = list(dict.fromkeys(t for t in texts if t not in memo))
        if missing:
            for text, row in zip(missing, self._embed_now(missing)):
                memo[text] = row
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([memo[t] for t in texts])

    def _embed_now(self, texts: list[str]) -> np.ndarray:
        embedder = self.embedder
        if embedder is not None and getattr(embedder, "is_fitted", True):
            return np.asarray(embedder.transform(texts), dtype=np.float32)
        if self._fallback_embedder is None:
            from ..representation.embedders import TfidfEmbedder

            seed = self.settings.random_state
            fallback = TfidfEmbedder(
                random_state=seed if isinstance(seed, (int, np.integer)) else 0)
            fallback.fit(list(getattr(self, "_texts", ())) + list(texts))
            self._fallback_embedder = fallback
        return self._fallback_embedder.transform(texts)

    def _member_texts(self, texts: Sequence[str], ids: list[str | None]) -> dict[str, list[str]]:
        members: dict[str, list[str]] = {}
        for text, cid in zip(texts, ids):
            if cid is not None:
                members.setdefault(cid, []).append(text)
        return members

    def _target(self) -> tuple[int | None, int | None, str | None]:
        """``(least, most, words)`` of the ``n_clusters`` setting; ``None`` where unset."""
        wanted = self.settings.n_clusters
        if wanted is None:
            return None, None, None
        if isinstance(wanted, tuple):
            least, most = int(wanted[0]), int(wanted[1])
            return least, most, f"between {least} and {most} clusters in all"
        return int(wanted), int(wanted), f"about {int(wanted)} clusters in all"

    def _second_opinion(self, members: dict[str, list[str]], cluster_ids: Sequence[str],
                        usage: LLMUsage, floor: int | None) -> dict[str, str]:
        """Merge each cluster whose judged members go, two thirds of them, to one other.

        Up to ``judge_sample`` members of each cluster (three at least) are
        judged, in one pass, against the live clusters but those under
        review (offered both of an intent's clusters, a judge spreads it
        over the two).
        """
        reviewed = set(cluster_ids)
        candidates = [c for c in self.registry.live if not c.locked and c.id not in reviewed]
        return self._merges_by_votes(members, cluster_ids, candidates, usage, floor,
                                     least=3, wins=lambda count, shown: 3 * count >= 2 * shown)

    def _merge_by_judge(self, members: dict[str, list[str]], fresh: Sequence[str],
                        usage: LLMUsage, floor: int | None) -> dict[str, str]:
        """Without an LLM merger: judge a few members of each new cluster against all.

        A new cluster whose judged members mostly go to one other cluster is
        one intent under two names: it is merged into that cluster. A judge
        that answers "none" or the cluster itself merges nothing.
        """
        # A locked cluster (a seed, or one an analyst locked) is never merged automatically.
        live = [c for c in self.registry.live if c.kind == "topic" and not c.locked]
        wanted = set(fresh)
        new = [c.id for c in live if c.id in wanted]
        if len(live) < 2 or not new:
            return {}
        return self._merges_by_votes(members, new, live, usage, floor,
                                     least=1, wins=lambda count, shown: 2 * count > shown)

    def _merges_by_votes(self, members: dict[str, list[str]], cluster_ids: Sequence[str],
                         candidates: list[Cluster], usage: LLMUsage, floor: int | None, *,
                         least: int, wins: Callable[[int, int], bool]) -> dict[str, str]:
        """Judge up to ``judge_sample`` members of each cluster (if it has ``least``) against
        ``candidates`` in one pass; merge a cluster into the one its votes elect.

        ``wins(votes for the leader, members judged)`` says whether the leader
        won; "none" and the cluster itself never do.
        """
        sample: list[str] = []
        owner: list[str] = []
        for cid in cluster_ids:
            taken = members.get(cid, [])[: self.consolidator.judge_sample]
            if len(taken) >= least:
                sample += taken
                owner += [cid] * len(taken)
        if not sample:
            return {}
        answers = self.assign(sample, candidates, usage)
        decisions = []
        for cid in dict.fromkeys(owner):
            votes = Counter(a for o, a in zip(owner, answers) if o == cid)
            target, count = votes.most_common(1)[0]
            if target not in (None, cid) and wins(count, sum(votes.values())):
                decisions.append(MergeDecision(into=target, ids=[cid]))
        return self.consolidator.apply(self.registry, decisions, usage, floor=floor)

    def _consolidate(self, texts: Sequence[str], ids: list[str | None], fresh: Sequence[str],
                     usage: LLMUsage, *, reduce: bool = False) -> int:
        """Merge duplicates among the live clusters (one of each pair in ``fresh``).

        With ``reduce``, also merge down to the most clusters ``n_clusters``
        allows. Labels in ``ids`` move to the survivors. A failed merge call
        merges nothing; no text loses its label. Returns the merges made.
        """
        if self.consolidator is None or self.budget_exhausted:
            return 0
        least, most, words = self._target()
        members = self._member_texts(texts, ids)

        def vectors_of(clusters):
            return cluster_vectors(clusters, self._embed, members)

        def run_call(func, *args):
            return _guarded_call(self.breaker, func, *args)

        merged: dict[str, str] = {}
        try:
            topics = sum(1 for c in self.registry.live if c.kind == "topic")
            target = None if words is None else f"{words}; it has {topics} now"
            if self.consolidator.merger is None:
                merged.update(self._merge_by_judge(members, fresh, usage, least))
            else:
                merged.update(self.consolidator.consolidate(
                    self.registry, fresh, vectors_of, run_call, usage, floor=least,
                    target=target, members=members))
            if reduce and most is not None:
                topics = sum(1 for c in self.registry.live if c.kind == "topic")
                merged.update(self.consolidator.reduce_to(
                    self.registry, most, vectors_of, run_call, usage,
                    describe_target=f"{words}; it has {topics} now", members=members))
        except ValueError as exc:
            # The fallback TF-IDF found nothing to learn from: no merge.
            usage.note(f"consolidation skipped: {exc}")
        return self._relabel(ids, merged)

    def _relabel(self, ids: list[str | None], merged: dict[str, str]) -> int:
        """Move the labels in ``ids`` to the survivors of ``merged``; return how many merged."""
        if merged:
            for i, cid in enumerate(ids):
                if cid is not None:
                    ids[i] = _survivor_id(self.registry, cid)
            self.report(f"consolidation: {len(merged)} clusters merged into others, "
                        f"{len(self.registry.live)} left")
        return len(merged)

    def _start_consolidation(self, texts: Sequence[str], ids: list[str | None],
                             fresh: Sequence[str], usage: LLMUsage):
        """Begin consolidating ``fresh``: plan here, ask the LLM in the background.

        Returns what :meth:`_finish_consolidation` needs, or ``None`` when
        nothing is pending (nothing to ask, or no LLM merger: then it ran
        :meth:`_consolidate` at once). The merge calls (seconds each with a
        real model) then overlap the next round's judging and proposing
        instead of adding to every round; their decisions are applied before
        that round's proposals are taken, so results do not depend on timing.
        """
        if self.consolidator is None or self.budget_exhausted:
            return None
        if self.consolidator.merger is None:
            self._consolidate(texts, ids, fresh, usage)
            return None
        members = self._member_texts(texts, ids)
        least, _, words = self._target()
        topics = sum(1 for c in self.registry.live if c.kind == "topic")
        target = None if words is None else f"{words}; it has {topics} now"
        try:
            groups, allowed, close = self.consolidator.plan(
                self.registry, fresh, lambda clusters: cluster_vectors(clusters, self._embed,
                                                                       members))
        except ValueError as exc:  # the fallback TF-IDF found nothing to learn from
            usage.note(f"consolidation skipped: {exc}")
            return None
        if not groups:
            return None
        call_usage = LLMUsage()

        def run_call(func, *args):
            return _guarded_call(self.breaker, func, *args)

        future = self._background.submit(self.consolidator.decide, groups, target, run_call,
                                         call_usage, members)
        return future, allowed, call_usage, least, close

    def _finish_consolidation(self, pending, ids: list[str | None], usage: LLMUsage) -> int:
        """Wait for a consolidation begun by :meth:`_start_consolidation` and apply it.

        Then the second opinion: a new cluster very similar to another that
        the merger kept apart has a few members judged against the others.
        """
        if pending is None:
            return 0
        future, allowed, call_usage, least, close = pending
        decisions = future.result()
        usage.merge(call_usage)
        merged = self.consolidator.apply(self.registry, decisions, usage, allowed=allowed,
                                         floor=least)
        touched = set(merged) | set(merged.values())
        unmerged = [cid for cid in close
                    if cid not in touched and self.registry.get(cid).is_live]
        if unmerged:
            members = self._member_texts(self._texts, ids)
            merged.update(self._second_opinion(members, unmerged, usage, least))
        return self._relabel(ids, merged)

    # -- proposing ---------------------------------------------------------
    def _checked_proposals(self, proposals, n_sample: int, usage: LLMUsage) -> list[Proposal]:
        if not isinstance(proposals, (list, tuple)):
            usage.note(f"proposer returned {type(proposals).__name__}, not a list; ignored")
            return []
        cap = self.settings.max_new_clusters
        if len(proposals) > cap:
            # Not a fault: the proposer may list more than asked; the rest
            # come back in later rounds if their texts stay uncovered.
            self.report(f"proposer returned {len(proposals)} clusters; kept the first {cap}")
            proposals = list(proposals)[:cap]
        checked, taken = [], set()
        for p in proposals:
            # Custom proposers get the same limits as the LLM one: a name is a
            # one-line label (it goes into every judge prompt), members a list.
            name = clean_for_prompt(str(p.name), MAX_NAME_CHARS) \
                if isinstance(p, Proposal) and p.name is not None else ""
            if not name:
                usage.note("a proposal without a usable name was ignored")
                continue
            raw_members = p.members
            if not isinstance(raw_members, (list, tuple, np.ndarray)):
                if raw_members is not None:
                    usage.note(f"proposal {name[:40]!r} has members that are not a list; "
                               "ignored")
                raw_members = []
            members = []
            for m in raw_members:
                if isinstance(m, (int, np.integer)) and not isinstance(m, bool) \
                        and 0 <= m < n_sample and m not in taken:
                    members.append(int(m))
                    taken.add(int(m))
                elif isinstance(m, (int, np.integer)) and m in taken:
                    usage.note("a text was proposed for two clusters; the first one kept it")
            kind = getattr(p, "kind", "topic")
            checked.append(Proposal(name=name, summary=str(p.summary or ""),
                                    criteria=str(p.criteria or ""), members=members,
                                    kind=kind if kind in ("topic", "no_intent") else "topic"))
        return checked

    def _catch_up(self, texts: Sequence[str], ids: list[str | None], rows: Sequence[int],
                  checked: np.ndarray, usage: LLMUsage) -> None:
        """Judge unassigned ``rows`` against the clusters each has not been judged against.

        ``checked[i]`` is how many clusters (in registry order) text ``i`` has
        been judged against. All such rows go in one pass against
        ``clusters[min(checked):]``: a prompt's cost is mostly its cluster
        list, so one pass of full batches is cheaper in calls and tokens than
        a small batch per starting point (and keeps a pass at
        ``ceil(rows / batch_size)`` calls).
        """
        n_clusters = len(self.registry)
        members = [i for i in rows if ids[i] is None and checked[i] < n_clusters]
        if not members or self.budget_exhausted:
            return
        start = int(min(checked[i] for i in members))
        answers = self.assign([texts[i] for i in members],
                              [c for c in self.registry.clusters[start:] if c.is_live], usage)
        for i, cid in zip(members, answers):
            ids[i] = cid
        checked[members] = n_clusters
        # Judged against clusters[start:], and (by checked >= start) already
        # against the ones before, unless skipped at the proposal cap.
        self._judged[[i for i in members if self._judged[i] >= start]] = n_clusters

    def _samples(self, texts: Sequence[str], candidates: list[int], rng) -> list[list[int]]:
        """Disjoint samples of ``candidates`` for one round of proposal calls.

        One random sample of ``proposal_size`` while the candidates fit one
        call. Otherwise one sample per ``proposal_size`` candidates, at most
        ``parallel_proposals``, each drawn from one group of similar texts
        (k-means on the embedder's vectors), so each call sees few intents
        and parallel calls seldom propose the same one. The samples do not
        depend on ``n_jobs`` (only how many calls run at once does), so
        neither do the results.
        """
        s = self.settings
        size = s.proposal_size
        k = min(max(1, s.parallel_proposals), -(-len(candidates) // size)) \
            if size < len(candidates) else 1
        if k <= 1:
            if len(candidates) > size:
                return [sorted(rng.choice(candidates, size=size, replace=False).tolist())]
            return [candidates]
        try:
            vectors = self._embed([texts[i] for i in candidates])
        except ValueError:  # nothing for TF-IDF to learn from: random samples
            vectors = None
        if vectors is not None and len(vectors) and vectors.shape[1] > 0:
            seed = int(rng.randint(np.iinfo(np.int32).max))
            groups = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=1,
                                     batch_size=1024).fit_predict(vectors)
        else:
            groups = rng.permutation(len(candidates)) % k
        samples = []
        for g in range(k):
            members = [candidates[j] for j in np.flatnonzero(groups == g)]
            if len(members) > size:
                members = sorted(rng.choice(members, size=size, replace=False).tolist())
            if members:
                samples.append(members)
        return samples

    def _propose_on(self, texts: Sequence[str], sample: list[int]):
        """One proposal call on ``sample``: (raw answer or None, usage)."""
        propose = self.proposer.propose
        if self._counts is not None and getattr(self.proposer, "uses_counts", False):
            propose = functools.partial(propose, counts=[int(self._counts[i]) for i in sample])
        return _guarded_call(self.breaker, propose, [texts[i] for i in sample],
                             self.registry.live)

    def _explore(self, texts: Sequence[str], ids: list[str | None], checked: np.ndarray,
                 exhausted: np.ndarray, rng, usage: LLMUsage, rounds: list[int]) -> list[Cluster]:
        """Proposal rounds on samples until a round brings no new cluster.

        The merges of the last round may still be pending (``self._pending``)
        when it returns: they overlap the sweep.

        A round sends up to ``n_jobs`` proposal calls at once, on disjoint
        samples (see :meth:`_samples`), then consolidates once; so the
        sequential rounds grow with how many waves the clusters take to
        find, not with the number of clusters.
        """
        created: list[Cluster] = []
        self._rounds(texts, ids, checked, exhausted, rng, usage, rounds, created)
        return created

    def _rounds(self, texts: Sequence[str], ids: list[str | None], checked: np.ndarray,
                exhausted: np.ndarray, rng, usage: LLMUsage, rounds: list[int],
                created: list[Cluster]) -> None:
        """The proposal rounds of :meth:`_explore`, adding new clusters to ``created``."""
        s = self.settings
        while not self.budget_exhausted:
            if s.max_rounds is not None and rounds[0] >= s.max_rounds:
                self.stopped_at_max_rounds = True
                break
            candidates = [i for i, cid in enumerate(ids) if cid is None and not exhausted[i]]
            if not candidates:
                break
            rounds[0] += 1
            samples = self._samples(texts, candidates, rng)
            # Show the proposer only what the clusters so far do not cover
            # (one judge pass for all the round's samples).
            self._catch_up(texts, ids, [i for sample in samples for i in sample], checked, usage)
            samples = [[i for i in sample if ids[i] is None] for sample in samples]
            samples = [sample for sample in samples if sample]
            if not samples:
                # The clusters cover the whole sample: few texts are left
                # for new ones, and the sweep reaches them for the price of one
                # pass instead of a judged sample per round.
                break
            weight = self._rows(len(ids))
            if sum(int(weight[i]) for sample in samples for i in sample) \
                    < s.min_cluster_size:
                # Too few requests left for a cluster that would not be
                # dissolved at the end: a proposal call would be wasted.
                break
            outputs = self._propose_round(texts, samples)
            # The last round's merges land before this round's proposals do.
            pending, self._pending = self._pending, None
            self._finish_consolidation(pending, ids, usage)
            new_here = 0
            failed_here = 0
            for uncovered, (raw, call_usage) in zip(samples, outputs):
                new, failed = self._take_proposals(ids, checked, exhausted, uncovered, raw,
                                                   call_usage, usage, created)
                new_here += new
                failed_here += failed
            if failed_here == len(samples):
                self.report(f"round {rounds[0]}: the proposal calls failed; trying other samples")
                continue
            if new_here:
                self._pending = self._start_consolidation(
                    texts, ids, [c.id for c in created[-new_here:]], usage)
            self.report(f"round {rounds[0]}: {new_here} new clusters from "
                        f"{sum(map(len, samples))} uncovered texts in {len(samples)} calls, "
                        f"{sum(cid is None for cid in ids)} unassigned")
            if new_here == 0:
                break

    def _propose_round(self, texts: Sequence[str], samples: list[list[int]]) -> list:
        """One proposal call per sample, in parallel: ``[(raw answer or None, usage)]``.

        Until a call has worked, one goes first, so that a wrong key, model
        or address stops the run after one call, not after a round of them.
        Those fail within a fraction of a second; a first call still running
        after :data:`FIRST_CALL_PROBE_S` was accepted, and the others start
        then instead of after it (a proposal takes seconds).
        """
        s = self.settings
        jobs = min(thread_count(s.n_jobs), len(samples))
        propose = functools.partial(self._propose_on, texts)
        if self.breaker.successes or len(samples) == 1:
            return run_in_threads(propose, samples, jobs)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="first-call") as first_call:
            first = first_call.submit(propose, samples[0])
            done, _ = wait([first], timeout=FIRST_CALL_PROBE_S)
            if done:
                outputs = [first.result()]  # a fatal error stops the run here
                return outputs + run_in_threads(propose, samples[1:], jobs)
            rest = run_in_threads(propose, samples[1:], max(jobs - 1, 1))
            return [first.result()] + rest

    def _take_proposals(self, ids: list[str | None], checked: np.ndarray, exhausted: np.ndarray,
                        uncovered: list[int], raw, call_usage: LLMUsage, usage: LLMUsage,
                        created: list[Cluster]) -> tuple[int, bool]:
        """Add one call's proposals to the registry; return (new clusters, whether it failed)."""
        s = self.settings
        if raw is None and call_usage.failed_calls:
            # Settled at the end of discover(): a failure only counts
            # (and warns) if texts it was about end up unassigned.
            self._failed_proposal_usage.append(call_usage)
        else:
            usage.merge(call_usage)
        if raw is None and call_usage.failed_calls and not self.budget_exhausted:
            # The call failed (timeout, overload): no verdict on these
            # texts, so another sample is drawn; max_rounds and the
            # circuit breaker bound a proposer that keeps failing.
            # A text in two failed calls may be what they choke on (a
            # content filter, a reply the model cannot format): it is not
            # shown again, so one such text cannot stall the whole run.
            self._failed_proposals[uncovered] += 1
            exhausted[self._failed_proposals >= 2] = True
            return 0, True
        proposals = self._checked_proposals(raw if raw is not None else [], len(uncovered), usage)
        new_here = 0
        assigned_here = 0
        for p in proposals:
            cluster, is_new = self.registry.add(p)
            if cluster is None:
                usage.note(f"a proposal named like a removed cluster ({p.name[:40]!r}) "
                           "was not added")
                continue
            if is_new:
                created.append(cluster)
                new_here += 1
            for m in p.members:
                if ids[uncovered[m]] is None:
                    ids[uncovered[m]] = cluster.id
                    assigned_here += 1
        if len(proposals) >= s.max_new_clusters:
            # At the cap, the texts left out may be waiting for clusters
            # of their own: the proposer sees them again first, and the
            # sweep (which reads _judged) offers them these clusters.
            checked[uncovered] = len(self.registry)
        # Below the cap, texts the proposer saw but did not list stay
        # "checked" only against the clusters before this round: a
        # proposer may list a cluster's members incompletely, so the
        # judge still offers them this round's clusters (next round's
        # sample, or the sweep). And as the proposer made nothing for them
        # while it still had room, it is not shown them again.
        if len(proposals) < s.max_new_clusters or assigned_here == 0:
            exhausted[uncovered] = True
        return new_here, False

    def _rows(self, n: int) -> np.ndarray:
        """Input rows each of the ``n`` texts stands for (1 each without counts)."""
        return self._counts if self._counts is not None else np.ones(n, dtype=np.intp)

    def _last_look(self, texts: Sequence[str], ids: list[str | None], usage: LLMUsage,
                   gone: set[str] = frozenset()) -> None:
        """Judge against every cluster the unassigned texts a shortlist once left at "none".

        Once discovery is over, a text the judge left at "none" from a
        shortlist (and the second look's wider list) and for which no new
        cluster came up may be an existing intent its shortlists missed: it
        gets one look at the whole catalogue (but ``gone``: clusters just
        dissolved) before it is left at -1. A few percent of the texts at
        most, so a few calls.
        """
        last = [i for i, cid in enumerate(ids) if cid is None and texts[i] in self._narrow_none]
        if not last or self.shortlister is None or self.budget_exhausted:
            return
        saved, self.shortlister = self.shortlister, None
        try:
            answers = self.assign([texts[i] for i in last],
                                  [c for c in self.registry.live if c.id not in gone], usage)
        finally:
            self.shortlister = saved
        for i, cid in zip(last, answers):
            ids[i] = cid

    def _dissolve_small(self, texts: Sequence[str], ids: list[str | None],
                        created: list[Cluster], usage: LLMUsage) -> set[str]:
        """Dissolve the new clusters that hold fewer than ``min_cluster_size`` requests.

        Such a cluster is most often an intent proposed twice, whose second
        name caught a few stragglers, or a handful of odd requests (two
        "okay" among thousands make no "Unclear request" cluster). Its texts
        are judged once more against the other clusters (so a straggler
        joins its intent's cluster) and those that fit none are left
        unassigned (-1); the empty cluster is then discarded. Clusters that
        existed before this call, seeds and locked clusters are never
        dissolved, and neither is a topic cluster ``n_clusters`` needs to
        reach its lower bound.
        """
        least = self.settings.min_cluster_size
        if least <= 1 or not created:
            return set()
        weight = self._rows(len(ids))
        sizes: dict[str, int] = {}
        for i, cid in enumerate(ids):
            if cid is not None:
                cid = _survivor_id(self.registry, cid)
                sizes[cid] = sizes.get(cid, 0) + int(weight[i])
        small = [c for c in created if c.is_live and not c.locked
                 and 0 < sizes.get(c.id, 0) < least]
        floor = self._target()[0]
        if floor is not None:
            topics = sum(1 for c in self.registry.live if c.kind == "topic")
            kept_apart = sorted((c for c in small if c.kind == "topic"),
                                key=lambda c: sizes[c.id])[:max(topics - floor, 0)]
            small = [c for c in small if c.kind != "topic"] + kept_apart
        if not small:
            return set()
        gone = {c.id for c in small}
        rows = [i for i, cid in enumerate(ids)
                if cid is not None and _survivor_id(self.registry, cid) in gone]
        others = [c for c in self.registry.live if c.id not in gone]
        answers = self.assign([texts[i] for i in rows], others, usage) if others \
            else [None] * len(rows)
        for i, answer in zip(rows, answers):
            ids[i] = answer
        left = sum(int(weight[i]) for i, answer in zip(rows, answers) if answer is None)
        self.report(f"{len(small)} clusters below min_cluster_size={least} dissolved: "
                    f"{len(rows) - sum(a is None for a in answers)} of their texts joined "
                    f"other clusters, {left} requests left unassigned")
        return gone

    def discover(self, texts: Sequence[str], ids: list[str | None],
                 usage: LLMUsage, checked: np.ndarray | None = None,
                 counts: Sequence[int] | None = None, made: Sequence[str] = ()
                 ) -> tuple[list[str | None], list[str]]:
        """Propose clusters for unassigned texts until nothing new comes up.

        Explore, then sweep, until a sweep leaves nothing to propose from:

        - *explore*: rounds that show the proposer a sample of unassigned
          texts that the clusters so far do not cover (the sample is judged
          first), adding its proposals to the registry (a proposal named like
          an existing cluster merges into it), until a round brings no new
          cluster;
        - *sweep*: one judge pass of every still-unassigned text against all
          clusters it has not been judged against.

        Judging everything once against the full set of clusters (instead of
        after every round) costs one pass and lets the judge choose among all
        clusters.

        Parameters
        ----------
        texts : sequence of str
            Unique, non-blank texts.
        ids : list of (str or None)
            Current assignment per text.
        usage : LLMUsage
            Receives the calls' usage.
        checked : ndarray of int, optional
            Clusters each text was already judged against (registry prefix
            length); defaults to all for assigned texts and to the current
            registry for the rest (the estimator judged them already).
        counts : sequence of int, optional
            Rows of the input each text stands for; passed on to a proposer
            whose ``uses_counts`` attribute is true (as ``counts=``).
        made : sequence of str, default=()
            Clusters this call made before discovery (the no-intent rules'):
            ``checked`` leaves them out, so what discovery leaves unassigned
            is judged against them at the end; like the clusters discovery
            creates, they are dissolved below ``min_cluster_size``.

        Returns
        -------
        ids : list of (str or None)
            Updated assignment per text.
        created : list of str
            Ids of the clusters created (those that ended with no member are
            removed again).
        """
        rng = check_random_state(self.settings.random_state)
        ids = list(ids)
        n = len(texts)
        if checked is None:
            checked = np.full(n, len(self.registry), dtype=np.intp)
        self._judged = checked.copy()  # clusters each text was really judged against
        self._texts = list(texts)
        self._fallback_embedder = None
        self._vectors = {}
        self._counts = None if counts is None else np.asarray(counts)
        exhausted = np.zeros(n, dtype=bool)
        self._failed_proposals = np.zeros(n, dtype=np.intp)
        self._failed_proposal_usage: list[LLMUsage] = []
        created: list[Cluster] = []
        rounds = [0]
        # One thread for the merge calls that overlap a round (see _start_consolidation).
        # A consolidation whose merge calls run during the next round, or the sweep.
        self._pending = None
        self._discovering = True
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="consolidate") \
                as self._background:
            try:
                while not self.budget_exhausted:
                    new = self._explore(texts, ids, checked, exhausted, rng, usage, rounds)
                    created.extend(new)
                    # The sweep goes by what each text was really judged against.
                    np.minimum(checked, self._judged, out=checked)
                    self._catch_up(texts, ids, range(n), checked, usage)
                    pending, self._pending = self._pending, None
                    self._finish_consolidation(pending, ids, usage)
                    if not new:
                        break
            except BaseException:
                if self._pending is not None:
                    wait([self._pending[0]])  # its calls end before the error goes up
                self._pending = None
                raise
            finally:
                self._discovering = False
        made_here = [self.registry.get(cid) for cid in made]
        made_here = [c for c in made_here if c.is_live]
        left = [i for i, cid in enumerate(ids) if cid is None]
        if made_here and left and not self.budget_exhausted:
            # Offered to no text yet: thanks or greetings the rules missed.
            for i, cid in zip(left, self.assign([texts[i] for i in left], made_here, usage)):
                ids[i] = cid
        if self._target()[1] is not None:
            # The target is a count of the whole catalogue: reached once all is found.
            self._consolidate(texts, ids, [], usage, reduce=True)
        created = made_here + created
        gone = self._dissolve_small(texts, ids, created, usage)
        self._last_look(texts, ids, usage, gone)
        lost = any(ids[i] is None for i in np.flatnonzero(self._failed_proposals))
        for call_usage in self._failed_proposal_usage:
            if not lost:
                logger.info("a proposal call failed and later rounds made up for it: %s",
                            "; ".join(call_usage.notes))
                call_usage.notes.clear()
                call_usage.failed_calls = 0
            usage.merge(call_usage)
        self.breaker.check_something_worked()
        # Labels go to survivors: a merged cluster is never a label again.
        ids = [None if cid is None else _survivor_id(self.registry, cid) for cid in ids]
        used = {cid for cid in ids if cid is not None}
        unused = [c.id for c in created if c.is_live and c.id not in used and not c.size]
        self.registry.discard(unused)
        kept = {c.id for c in self.registry.clusters}
        return ids, [c.id for c in created if c.id in used and c.id in kept]
