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
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .client import estimate_tokens
from ..discovery.prompts import PromptBuilder
from ..records import Cluster
from ..representation.normalization import dedup_key, is_blank

__all__ = ["CostEstimate", "estimate_cost", "resolve_prices"]

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
        Proposal calls (one per proposal round).
    prompt_tokens, completion_tokens : int
        Estimated tokens, 4 characters per token, as the library counts them
        when a provider reports none.
    cost : float or None
        ``prompt_tokens`` and ``completion_tokens`` at ``prices``, in the
        prices' currency (usually US dollars); ``None`` without prices.
    prices : tuple of (float, float) or None
        Price per million prompt and completion tokens used for ``cost``.
    assumptions : tuple of str
        What the estimate assumed, in words.
    """

    n_texts: int
    n_unique: int
    n_clusters: int
    judge_calls: int
    propose_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None = None
    prices: tuple[float, float] | None = None
    assumptions: tuple[str, ...] = field(default=())

    @property
    def calls(self) -> int:
        """Judge plus proposal calls, retries not included."""
        return self.judge_calls + self.propose_calls

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
        return (f"{self.calls:,} LLM calls ({self.judge_calls:,} judge, {self.propose_calls:,} "
                f"proposal) and {self.total_tokens:,} tokens ({self.prompt_tokens:,} prompt, "
                f"{self.completion_tokens:,} completion) for {self.n_unique:,} unique texts"
                f"{money}")


def resolve_prices(prices: Any) -> tuple[float, float] | None:
    """Normalise a price table to ``(prompt, completion)`` per million tokens.

    Parameters
    ----------
    prices : tuple, mapping or None
        ``(prompt, completion)``, or a mapping with ``"prompt"``/``"input"``
        and ``"completion"``/``"output"`` keys, per million tokens.

    Returns
    -------
    tuple of (float, float) or None

    Raises
    ------
    ValueError
        For any other shape or a negative price.
    """
    if prices is None:
        return None
    if isinstance(prices, Mapping):
        prompt = prices.get("prompt", prices.get("input"))
        completion = prices.get("completion", prices.get("output"))
    else:
        try:
            prompt, completion = prices
        except (TypeError, ValueError):
            prompt = completion = None
    try:
        pair = (float(prompt), float(completion))
    except (TypeError, ValueError):
        raise ValueError(
            "prices must be (prompt, completion) per million tokens, e.g. (0.15, 0.60), or "
            f"{{'prompt': 0.15, 'completion': 0.60}}; got {prices!r}") from None
    if min(pair) < 0 or not all(map(math.isfinite, pair)):
        raise ValueError(f"prices must be finite and non-negative, got {prices!r}")
    return pair


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

    def __init__(self, prompts: PromptBuilder, line_tokens: np.ndarray) -> None:
        self.prompts = prompts
        self.line_tokens = line_tokens
        self.mean_line = float(line_tokens.mean()) if len(line_tokens) else 0.0

    def judge_overhead(self, clusters: Sequence[Cluster]) -> int:
        return _message_tokens(self.prompts.judge_messages([], clusters))

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
        prompt = calls * self.judge_overhead(clusters) + int(round(text_tokens))
        return calls, prompt, completion

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
    pricer = _Pricer(prompts, line_tokens)
    judge_calls = propose_calls = prompt_tokens = completion_tokens = 0
    share_to_judge = 1.0 - min(max(float(fast_path_share), 0.0), 1.0)

    def add_pass(n_texts: float, of: Sequence[Cluster]) -> None:
        nonlocal judge_calls, prompt_tokens, completion_tokens
        n = int(round(n_texts))
        calls, p, c = pricer.judge_pass(n, batch_size, of, n * pricer.mean_line)
        judge_calls += calls
        prompt_tokens += p
        completion_tokens += c

    unassigned = float(n_unique)
    if k0 and n_unique:
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
            created = min(new, created + samples * max_new_clusters)
            left -= shown_n * _RESOLVED_SHARE
            rounds += 1
            if left <= 0 or rounds > 1000:
                break
        add_pass(max(left, 0.0), all_clusters)
        assumptions.append(f"{rounds} proposal rounds ({calls_made} calls on samples of up to "
                           f"{proposal_size} texts), then one sweep over the rest")
    assumptions.append("every call answered on the first attempt; 4 characters per token")
    pair = resolve_prices(prices)
    cost = None if pair is None else \
        prompt_tokens / 1e6 * pair[0] + completion_tokens / 1e6 * pair[1]
    return CostEstimate(
        n_texts=len(X), n_unique=n_unique, n_clusters=n_clusters,
        judge_calls=judge_calls, propose_calls=propose_calls,
        prompt_tokens=int(prompt_tokens), completion_tokens=int(completion_tokens),
        cost=cost, prices=pair, assumptions=tuple(assumptions),
    )
