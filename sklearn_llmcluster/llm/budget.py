"""What a run will cost before it runs: calls, tokens and money.

:func:`estimate_cost` follows the engine's schedule (see
:meth:`~sklearn_llmcluster.discovery.engine.ClusteringEngine.discover`) with the
library's own prompts, so the token counts are those the library would
report for a provider that reports none (4 characters per token). It is an
estimate, not a bound: how many clusters the data holds, how many texts a
proposer assigns directly and how often answers must be retried are only
known afterwards. :meth:`LLMClusterer.estimate_cost
<sklearn_llmcluster.LLMClusterer.estimate_cost>` is the usual entry point.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping, Sequence

import numpy as np

from .client import estimate_tokens
from ..discovery.prompts import PromptBuilder
from ..records import Cluster
from ..representation.normalization import dedup_key, is_blank

__all__ = ["CostEstimate", "PriceTable", "estimate_cost", "resolve_prices",
           "CACHED_PROMPT_DISCOUNT"]

#: What a cached prompt token costs, as a share of an ordinary one, by
#: vendor (their price pages, 2026): Anthropic bills cache reads at 0.1x
#: (writes at 1.25x, counted here as ordinary prompt tokens); OpenAI at 0.5x
#: for the GPT-4o family (0.25x GPT-4.1, 0.1x GPT-5: pass your model's price
#: as ``cached_prompt``). Used when a price table gives no ``cached_prompt``.
CACHED_PROMPT_DISCOUNT = {"anthropic": 0.1, "openai": 0.5}


@dataclass(frozen=True)
class PriceTable:
    """Prices per million tokens: prompt, completion and cached prompt.

    A value users may build and pass anywhere ``prices`` is taken
    (:meth:`LLMClusterer.estimate_cost <sklearn_llmcluster.LLMClusterer.estimate_cost>`,
    :func:`estimate_cost`, a provider's ``prices`` attribute).

    Parameters
    ----------
    prompt, completion : float
        Price per million prompt and completion tokens.
    cached_prompt : float, optional
        Price per million prompt tokens read from the server's prompt cache;
        ``None`` bills them as ordinary prompt tokens.

    Examples
    --------
    >>> from sklearn_llmcluster.llm.budget import PriceTable
    >>> from sklearn_llmcluster.records import LLMUsage
    >>> prices = PriceTable(prompt=1.0, completion=5.0, cached_prompt=0.1)
    >>> usage = LLMUsage(prompt_tokens=1_000_000, cached_prompt_tokens=800_000)
    >>> round(prices.cost_of(usage), 2)  # 0.2 + 0.08
    0.28
    """

    prompt: float
    completion: float
    cached_prompt: float | None = None

    def __iter__(self):
        # (prompt, completion) unpacking, as the pairs used before.
        return iter((self.prompt, self.completion))

    def cost(self, prompt_tokens: int, completion_tokens: int,
             cached_prompt_tokens: int = 0) -> float:
        """Money for these tokens; ``cached_prompt_tokens`` are part of ``prompt_tokens``."""
        cached = min(max(int(cached_prompt_tokens), 0), int(prompt_tokens))
        cached_price = self.prompt if self.cached_prompt is None else self.cached_prompt
        return ((prompt_tokens - cached) * self.prompt + cached * cached_price
                + completion_tokens * self.completion) / 1e6

    def cost_of(self, usage: Any) -> float:
        """Money for an :class:`~sklearn_llmcluster.records.LLMUsage` (``llm_usage_``)."""
        return self.cost(usage.prompt_tokens, usage.completion_tokens,
                         getattr(usage, "cached_prompt_tokens", 0))


#: Share of a round's sample still uncovered after it is judged (shown to the
#: proposer), and share of the sample assigned in the round (by the judge or as
#: a proposal's members); measured with the simulated LLM on BANKING77 and
#: CLINC150 (0.6-0.8 and 0.6-0.7).
_SHOWN_SHARE = 0.75
_RESOLVED_SHARE = 0.65
#: Share of the texts shown to the proposer that it lists as members.
_PROPOSER_MEMBER_SHARE = 0.6
#: Characters of a proposal's name, summary and criteria in an answer.
_PROPOSAL_CHARS = 220
#: Clusters a shortlisted judge call lists on average (the union of its
#: texts' candidates), and the share of texts judged again on a wider list
#: after a "none" when no earlier run says better; measured on BANKING77 and
#: CLINC150 with the packaged embedder (docs/benchmarks.md: 15-26 clusters,
#: TF-IDF about 40; 1-4% of the texts judged again).
_SHORTLIST_CLUSTERS = 25
#: New clusters per consolidation (merge) call: each new cluster with
#: similar neighbours goes to a merge call with them, a few groups a call
#: (docs/benchmarks.md: 15 calls for BANKING77's 77 clusters, 14 for
#: CLINC150's 150, 1 for the demo's 19).
_NEW_CLUSTERS_PER_MERGE_CALL = 8
_RECHECK_SHARE = 0.02


@dataclass(frozen=True)
class CostEstimate:
    """Expected LLM work of one ``fit``/``partial_fit`` call.

    Attributes
    ----------
    n_texts : int
        Rows of ``X``.
    n_unique : int
        Non-blank texts left after de-duplication: only these reach the LLM.
    n_clusters : int
        Clusters assumed to exist at the end (current plus expected new ones).
    judge_calls : int
        Judge calls (batches of ``batch_size`` texts).
    propose_calls : int
        Proposal calls (one per sample, up to 16 samples a round).
    prompt_tokens, completion_tokens : int
        Estimated tokens, 4 characters per token, as the library counts them
        when a provider reports none.
    cost : float or None
        ``prompt_tokens`` and ``completion_tokens`` at ``prices``, in the
        prices' currency (usually US dollars); ``None`` without prices.
    prices : PriceTable or None
        Prices per million tokens used for ``cost``.
    assumptions : tuple of str
        What the estimate assumed, in words.
    cached_prompt_tokens : int
        The part of ``prompt_tokens`` expected from the server's prompt
        cache (billed at ``prices.cached_prompt``): judge calls that repeat
        the same cluster list after the first, when that prefix reaches the
        vendor's minimum (``cache_min_tokens``).
    merge_calls : int
        Consolidation calls that ask which new clusters duplicate others.
    """

    n_texts: int
    n_unique: int
    n_clusters: int
    judge_calls: int
    propose_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None = None
    prices: PriceTable | None = None
    assumptions: tuple[str, ...] = field(default=())
    cached_prompt_tokens: int = 0
    merge_calls: int = 0

    @property
    def calls(self) -> int:
        """Judge, proposal and merge calls, retries not included."""
        return self.judge_calls + self.propose_calls + self.merge_calls

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        """Fields and the derived ``calls`` and ``total_tokens`` as a plain dict."""
        data = asdict(self)
        data["assumptions"] = list(self.assumptions)
        data.update(calls=self.calls, total_tokens=self.total_tokens)
        return data

    def __str__(self) -> str:
        money = "" if self.cost is None else f", about {self.cost:,.2f} at the given prices"
        merges = f", {self.merge_calls:,} merge" if self.merge_calls else ""
        return (f"{self.calls:,} LLM calls ({self.judge_calls:,} judge, {self.propose_calls:,} "
                f"proposal{merges}) and {self.total_tokens:,} tokens ({self.prompt_tokens:,} "
                f"prompt, {self.completion_tokens:,} completion) for {self.n_unique:,} unique texts"
                f"{money}")


def resolve_prices(prices: Any, vendor: str | None = None) -> PriceTable | None:
    """Normalise prices to a :class:`PriceTable` (per million tokens).

    Parameters
    ----------
    prices : PriceTable, tuple, mapping or None
        A :class:`PriceTable`; ``(prompt, completion)`` or ``(prompt,
        completion, cached_prompt)``; or a mapping with ``"prompt"``/``"input"``,
        ``"completion"``/``"output"`` and optionally ``"cached_prompt"``/
        ``"cached_input"`` keys.
    vendor : str, optional
        The provider's name (``"openai"``, ``"anthropic"`` ...): without a
        cached price, cached tokens get that vendor's usual discount
        (:data:`CACHED_PROMPT_DISCOUNT`).

    Returns
    -------
    PriceTable or None

    Raises
    ------
    ValueError
        For any other shape or a negative price.
    """
    if prices is None:
        return None
    cached: Any = None
    if isinstance(prices, PriceTable):
        prompt, completion, cached = prices.prompt, prices.completion, prices.cached_prompt
    elif isinstance(prices, Mapping):
        prompt = prices.get("prompt", prices.get("input"))
        completion = prices.get("completion", prices.get("output"))
        cached = prices.get("cached_prompt", prices.get("cached_input"))
    else:
        try:
            prompt, completion, *rest = prices
            if len(rest) > 1:
                raise ValueError
            cached = rest[0] if rest else None
        except (TypeError, ValueError):
            prompt = completion = None
    try:
        values = (float(prompt), float(completion)) + \
            (() if cached is None else (float(cached),))
    except (TypeError, ValueError):
        raise ValueError(
            "prices must be (prompt, completion) per million tokens, e.g. (0.15, 0.60), "
            "(prompt, completion, cached_prompt), {'prompt': 0.15, 'completion': 0.60, "
            f"'cached_prompt': 0.075}} or a PriceTable; got {prices!r}") from None
    if min(values) < 0 or not all(map(math.isfinite, values)):
        raise ValueError(f"prices must be finite and non-negative, got {prices!r}")
    if cached is None and vendor in CACHED_PROMPT_DISCOUNT:
        values += (values[0] * CACHED_PROMPT_DISCOUNT[vendor],)
    return PriceTable(*values)


def _message_tokens(messages: list[dict]) -> int:
    return sum(estimate_tokens(m.get("content", "")) for m in messages)


def _typical_clusters(n: int) -> list[Cluster]:
    """Stand-ins for clusters not found yet: a 3-word name and a criteria sentence.

    No examples: a cluster's examples are recorded when the call that made it
    ends, so its prompts during that call list none.
    """
    return [Cluster(id=f"c{k + 1}", name="typical cluster name",
                    criteria="The request is about this typical topic and nothing else.")
            for k in range(n)]


class _Pricer:
    """Token counts of judge and proposal calls for one set of texts."""

    def __init__(self, prompts: PromptBuilder, line_tokens: np.ndarray,
                 shortlist: Any = None, cache_min_tokens: int | None = None) -> None:
        self.prompts = prompts
        self.line_tokens = line_tokens
        self.mean_line = float(line_tokens.mean()) if len(line_tokens) else 0.0
        self.shortlist = shortlist
        self.cache_min_tokens = cache_min_tokens
        self.cached_tokens = 0
        self.recheck_share = _RECHECK_SHARE

    def shown(self, clusters: Sequence[Cluster]) -> Sequence[Cluster]:
        """The clusters one judge call lists: all, or a typical shortlist's worth."""
        s = self.shortlist
        if s is None or not s.enabled or len(clusters) <= s.full_list_max:
            return clusters
        return clusters[:min(len(clusters), _SHORTLIST_CLUSTERS)]

    def judge_overhead(self, clusters: Sequence[Cluster]) -> int:
        return _message_tokens(self.prompts.judge_messages([], clusters))

    def stable_prefix(self, clusters: Sequence[Cluster]) -> int:
        """Tokens every call of a pass repeats (system, cluster list), 0 if not cacheable."""
        if self.cache_min_tokens is None or self.shown(clusters) is not clusters:
            return 0  # no cache, or shortlists: the lists differ from call to call
        tokens = self.judge_overhead(clusters)
        return tokens if tokens >= self.cache_min_tokens else 0

    def judge_answer(self, n_texts: int, clusters: Sequence[Cluster]) -> int:
        cid = clusters[-1].id if clusters else "none"
        answer = {"assignments": [{"i": i, "cluster_id": cid} for i in range(n_texts)]}
        return estimate_tokens(json.dumps(answer))

    def judge_pass(self, n_texts: int, batch_size: int, clusters: Sequence[Cluster],
                   text_tokens: float) -> tuple[int, int, int]:
        """(calls, prompt tokens, completion tokens) of one pass over ``n_texts``."""
        if n_texts <= 0 or not clusters:
            return 0, 0, 0
        calls = math.ceil(n_texts / batch_size)
        full, rest = divmod(n_texts, batch_size)
        completion = full * self.judge_answer(batch_size, clusters) + \
            (self.judge_answer(rest, clusters) if rest else 0)
        shown = self.shown(clusters)
        prompt = calls * self.judge_overhead(shown) + int(round(text_tokens))
        if shown is not clusters and self.shortlist.recheck_none:
            # Texts answered "none" from a shortlist, judged again on a wider
            # list: the union of a batch's recheck_k best, about twice that.
            again = int(round(n_texts * self.recheck_share))
            wide = self.shortlist.recheck_k
            wider = clusters if wide is None else clusters[:2 * wide]
            if again:
                prompt += math.ceil(again / batch_size) * self.judge_overhead(wider) + \
                    int(round(again * self.mean_line))
                completion += self.judge_answer(again, wider)
                calls += math.ceil(again / batch_size)
        self.cached_tokens += max(calls - 1, 0) * self.stable_prefix(clusters)
        return calls, prompt, completion

    def merge(self, n_clusters: int) -> tuple[int, int]:
        """(prompt, completion) tokens of one merge call over ``n_clusters`` new clusters
        (five member texts each as examples); half of them merged."""
        shown = [replace(c, examples=["x" * int(self.mean_line * 4)] * 5)
                 for c in _typical_clusters(n_clusters)]
        prompt = _message_tokens(self.prompts.merge_messages(shown))
        merge = {"into": "c1", "ids": ["c2"], "name": "typical cluster name",
                 "summary": "Requests about this typical topic.",
                 "criteria": "The request is about this typical topic and nothing else."}
        completion = estimate_tokens(json.dumps({"merges": [merge] * max(1, n_clusters // 4)}))
        return prompt, completion

    def proposal(self, n_texts: int, clusters: Sequence[Cluster], max_new: int) -> tuple[int, int]:
        """(prompt, completion) tokens of one proposal call shown ``n_texts`` texts."""
        prompt = _message_tokens(self.prompts.propose_messages([], clusters, max_new)) + \
            int(round(n_texts * self.mean_line))
        members = int(n_texts * _PROPOSER_MEMBER_SHARE)
        completion = estimate_tokens(json.dumps({"clusters": []})) + \
            (max_new * _PROPOSAL_CHARS + len(json.dumps(list(range(members))))) // 4
        return prompt, completion


def estimate_cost(
    X: Sequence[str],
    *,
    clusters: Sequence[Cluster] = (),
    n_clusters: int | None = None,
    propose: bool = True,
    batch_size: int = 30,
    proposal_size: int = 200,
    max_new_clusters: int = 10,
    prompts: PromptBuilder | None = None,
    prices: Any = None,
    fast_path_share: float = 0.0,
    shortlist: Any = None,
    shortlister: Any = None,
    vendor: str | None = None,
    cache_min_tokens: int | None = None,
    recheck_share: float | None = None,
) -> CostEstimate:
    """Expected calls, tokens and cost of clustering ``X``.

    Parameters
    ----------
    X : sequence of str
        The texts (validated already).
    clusters : sequence of Cluster, default=()
        Clusters that exist already (a fitted model's); texts are judged
        against them first.
    n_clusters : int, optional
        Clusters expected at the end, existing ones included. Default: the
        existing ones for a fitted model (nothing new expected), else
        ``ceil(sqrt(n_unique))`` — a rule of thumb that gives 56 for the
        3,080 BANKING77 test texts (77 intents) and 150 for the 22,500
        CLINC150 texts (150 intents).
    propose : bool, default=True
        Whether new clusters may be proposed (``fit``/``partial_fit``);
        ``False`` for ``predict``.
    batch_size, proposal_size, max_new_clusters : int
        As in :class:`~sklearn_llmcluster.LLMClusterer`.
    prompts : PromptBuilder, optional
        The prompts that will be sent; default :class:`PromptBuilder`.
    prices : tuple or mapping, optional
        Price per million prompt and completion tokens (see
        :func:`resolve_prices`); gives ``cost``.
    fast_path_share : float, default=0.0
        Share of the texts a trained fast path is expected to take off the
        judge (e.g. ``1 - llm_usage_.texts_judged_by_llm / n`` of a previous run).
    shortlist : ShortlistSettings, optional
        The judge's shortlists (the estimator's ``shortlist``); ``None``:
        every judge call lists every cluster.
    shortlister : Shortlister, optional
        A fitted model's shortlister: the first pass over ``clusters`` is
        priced with the shortlists ``X`` would get (exact prompts) instead of
        a typical shortlist size.
    vendor : str, optional
        Provider name; gives the vendor's cached-token discount when
        ``prices`` has no ``cached_prompt`` (see :func:`resolve_prices`).
    cache_min_tokens : int, optional
        Shortest prefix the server caches (OpenAI and Anthropic: 1,024);
        ``None`` assumes no prompt cache.
    recheck_share : float, optional
        Share of shortlisted texts the judge answers "none" and that are
        judged again on a wider list (a fitted model's
        ``llm_usage_.texts_rechecked / llm_usage_.texts_shortlisted``);
        default 2%.

    Returns
    -------
    CostEstimate

    Notes
    -----
    The schedule assumed is the engine's: with existing clusters, one judge
    pass over every unique text (``ceil(n_unique / batch_size)`` calls, each
    prompt carrying every cluster with its examples). Then, for
    ``new = n_clusters - len(clusters)`` new clusters, proposal rounds of up
    to 16 disjoint samples of ``proposal_size`` texts (one proposal call
    each, ``max_new_clusters`` clusters a call), each round judging its
    samples against the clusters so far (not in the first round of a
    ``fit``) and showing the proposer the three quarters that no cluster
    covers, until the clusters are found; then one more round whose samples
    the clusters cover.
    About 65% of each sample is assumed assigned in its round; one final
    sweep judges the rest against every cluster.
    Every call is assumed to succeed on its first attempt: each retry of an
    invalid answer or failed call adds about one call of the same size.
    Tokens are counted as the library counts them when a provider reports
    none (4 characters per token); real tokenizers differ by 10-30%, more
    for non-Latin scripts.
    """
    prompts = prompts or PromptBuilder()
    seen: set[str] = set()
    unique: list[str] = []
    for text in X:
        if is_blank(text):
            continue
        key = dedup_key(text)
        if key not in seen:
            seen.add(key)
            unique.append(text)
    n_unique = len(unique)
    clusters = list(clusters)
    k0 = len(clusters)
    assumptions: list[str] = []
    if n_clusters is None:
        n_clusters = k0 if k0 else max(1, math.ceil(math.sqrt(n_unique)))
        assumptions.append(
            f"{n_clusters} clusters at the end ("
            + ("the existing ones; nothing new)" if k0 else "sqrt of the unique texts)"))
    else:
        assumptions.append(f"{n_clusters} clusters at the end (given)")
    n_clusters = max(int(n_clusters), k0)
    # Per-text prompt lines, as format_texts renders them.
    line_tokens = np.array([estimate_tokens(prompts.format_texts([t])) + 1 for t in unique],
                           dtype=float)
    pricer = _Pricer(prompts, line_tokens, shortlist, cache_min_tokens)
    if recheck_share is not None:
        pricer.recheck_share = float(recheck_share)
    judge_calls = propose_calls = merge_calls = prompt_tokens = completion_tokens = 0
    share_to_judge = 1.0 - min(max(float(fast_path_share), 0.0), 1.0)

    def add_pass(n_texts: float, of: Sequence[Cluster]) -> None:
        nonlocal judge_calls, prompt_tokens, completion_tokens
        n = int(round(n_texts))
        calls, p, c = pricer.judge_pass(n, batch_size, of, n * pricer.mean_line)
        judge_calls += calls
        prompt_tokens += p
        completion_tokens += c

    unassigned = float(n_unique)
    if k0 and n_unique and shortlister is not None and shortlister.applies(k0):
        # The shortlists these texts would get: the exact prompts of the pass.
        batches, catalogues, _ = shortlister.plan(unique, clusters, batch_size)
        scale = share_to_judge
        for batch, catalogue in zip(batches, catalogues):
            prompt_tokens += scale * _message_tokens(
                prompts.judge_messages([unique[i] for i in batch], catalogue))
            completion_tokens += scale * pricer.judge_answer(len(batch), catalogue)
        judge_calls += int(math.ceil(len(batches) * scale))
        share = _RECHECK_SHARE if recheck_share is None else float(recheck_share)
        again = int(round(n_unique * scale * share)) if shortlister.rechecks() \
            else 0
        wide = shortlister.widened() if again else None
        if wide is not None and wide.applies(k0):
            # The second look's wider lists, planned for texts spread over X.
            picked = np.unique(np.linspace(0, n_unique - 1, again).round().astype(int))
            second, wide_lists, _ = wide.plan([unique[i] for i in picked], clusters, batch_size)
            for batch, catalogue in zip(second, wide_lists):
                prompt_tokens += _message_tokens(
                    prompts.judge_messages([unique[picked[i]] for i in batch], catalogue))
                completion_tokens += pricer.judge_answer(len(batch), catalogue)
            judge_calls += len(second)
        elif again:
            pricer.shortlist = None
            add_pass(again, clusters)
            pricer.shortlist = shortlist
        again_words = f", {share:.1%} of the texts judged again on a wider list" if again \
            else ""
        assumptions.append(f"judge calls list the shortlists of these texts (about "
                           f"{np.mean([len(c) for c in catalogues]):.0f} clusters)"
                           f"{again_words}")
        if fast_path_share:
            assumptions.append(f"the fast path takes {fast_path_share:.0%} of the texts")
        unassigned = n_unique * (n_clusters - k0) / n_clusters
        assumptions.append(f"{unassigned:,.0f} texts left over for new clusters")
    elif k0 and n_unique:
        add_pass(n_unique * share_to_judge, clusters)
        if fast_path_share:
            assumptions.append(f"the fast path takes {fast_path_share:.0%} of the texts")
        # Texts of the new clusters are what the existing ones leave over.
        unassigned = n_unique * (n_clusters - k0) / n_clusters
        assumptions.append(f"{unassigned:,.0f} texts left over for new clusters")
    new = n_clusters - k0
    if propose and n_unique and (new or unassigned):
        # Rounds that create clusters, then one whose samples the clusters
        # cover. A round shows up to PARALLEL_PROPOSALS disjoint samples of
        # proposal_size texts, one proposal call each, after judging them.
        from ..discovery.engine import PARALLEL_PROPOSALS

        all_clusters = clusters + _typical_clusters(new)
        left = unassigned
        created = rounds = calls_made = 0
        while True:
            samples = max(1, min(PARALLEL_PROPOSALS, math.ceil(left / proposal_size)))
            shown_n = min(float(proposal_size) * samples, left)
            shown = all_clusters[: k0 + created]
            if rounds or k0:
                add_pass(shown_n, shown)
            if rounds and created >= new:
                left -= shown_n
                break
            per_call = int(shown_n / samples * _SHOWN_SHARE)
            for _ in range(samples):
                p, c = pricer.proposal(per_call, shown, max_new_clusters)
                prompt_tokens += p
                completion_tokens += c
            propose_calls += samples
            calls_made += samples
            made = min(new, created + samples * max_new_clusters) - created
            if made:
                # Consolidation: the round's new clusters and their neighbours.
                merges = math.ceil(made / _NEW_CLUSTERS_PER_MERGE_CALL)
                p, c = pricer.merge(min(made, _NEW_CLUSTERS_PER_MERGE_CALL) * 2)
                merge_calls += merges
                prompt_tokens += merges * p
                completion_tokens += merges * c
            created += made
            left -= shown_n * _RESOLVED_SHARE
            rounds += 1
            if left <= 0 or rounds > 1000:
                break
        add_pass(max(left, 0.0), all_clusters)
        assumptions.append(f"{rounds} proposal rounds ({calls_made} calls on samples of up to "
                           f"{proposal_size} texts), then one sweep over the rest")
        if merge_calls:
            assumptions.append(f"one merge call per {_NEW_CLUSTERS_PER_MERGE_CALL} new "
                               "clusters of a round, each shown with a neighbour")
    assumptions.append("every call answered on the first attempt; 4 characters per token")
    if shortlist is not None and shortlist.enabled and n_clusters > shortlist.full_list_max \
            and shortlister is None:
        assumptions.append(f"judge calls list about {_SHORTLIST_CLUSTERS} candidate clusters "
                           f"once there are more than {shortlist.full_list_max}")
    cached = min(pricer.cached_tokens, int(prompt_tokens))
    table = resolve_prices(prices, vendor)
    cost = None if table is None else table.cost(prompt_tokens, completion_tokens, cached)
    return CostEstimate(
        n_texts=len(X), n_unique=n_unique, n_clusters=n_clusters,
        judge_calls=judge_calls, propose_calls=propose_calls, merge_calls=merge_calls,
        prompt_tokens=int(prompt_tokens), completion_tokens=int(completion_tokens),
        cost=cost, prices=table, assumptions=tuple(assumptions),
        cached_prompt_tokens=int(cached),
    )
