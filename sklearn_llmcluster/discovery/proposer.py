"""The LLM-backed proposer: suggests new clusters for texts nothing covers yet."""

from __future__ import annotations

from typing import Any

from ..exceptions import ResponseParseError
from ..llm.client import LLMClient, retry_or_note_problems
from .prompts import PromptBuilder
from ..records import Cluster, Proposal
from ..representation.normalization import MAX_NAME_CHARS, clean_for_prompt, name_key

__all__ = ["LLMProposer"]

MAX_DESCRIPTION_CHARS = 600


class LLMProposer:
    """Proposer that asks an LLM for new clusters (name, summary, criteria, members).

    Parameters
    ----------
    client : LLMClient
        Sends the request (redaction, cache, retries, usage).
    prompts : PromptBuilder, optional
        Renders the messages; defaults to :class:`PromptBuilder`.
    max_new_clusters : int, default=10
        Most clusters asked for per call.

    target : str, optional
        The catalogue size asked for, in words ("about 30 clusters in all").
    """

    def __init__(
        self, client: LLMClient, prompts: PromptBuilder | None = None, max_new_clusters: int = 10,
        target: str | None = None,
    ) -> None:
        self.client = client
        self.prompts = prompts
        self.max_new_clusters = max_new_clusters
        self.target = target

    def propose(self, texts: list[str], clusters: list[Cluster]) -> list[Proposal]:
        """Return new clusters for ``texts``; ``members`` index into ``texts``."""
        if not texts:
            return []
        prompts = self.prompts or PromptBuilder()
        texts, clusters = self.client.redact_inputs(texts, clusters)
        target = getattr(self, "target", None)  # pickles of earlier versions have none
        n = len(texts)

        def validate(answer: Any, final: bool) -> list[Proposal]:
            items = answer.get("clusters") if isinstance(answer, dict) else None
            if not isinstance(items, list):
                raise ResponseParseError('the answer has no "clusters" list')
            proposals, problems = [], []
            names: set[str] = set()
            placed: set[int] = set()
            conflicted: set[int] = set()
            for item in items:
                if not isinstance(item, dict):
                    problems.append("a cluster is not an object")
                    continue
                full_name = clean_for_prompt(str(item.get("name") or ""))
                name = clean_for_prompt(full_name, MAX_NAME_CHARS)
                if not name_key(name):
                    problems.append("a cluster has an empty name")
                    continue
                if len(full_name) > 2 * MAX_NAME_CHARS:
                    # Cut to size below, but a paragraph for a name means
                    # the model lost the format; worth a retry.
                    problems.append(f"the name {name!r} is {len(full_name)} characters long; "
                                    "a name has 2-6 words")
                if name_key(name) in names:
                    problems.append(f"the name {name!r} is used twice")
                    continue
                names.add(name_key(name))
                raw_members = item.get("members")
                members = []
                if isinstance(raw_members, list):
                    for m in raw_members:
                        if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m < n:
                            problems.append(f"member {str(m)[:20]!r} is out of range 0..{n - 1}")
                        elif m in placed:
                            if m not in members:
                                conflicted.add(m)
                        else:
                            members.append(m)
                            placed.add(m)
                proposals.append(Proposal(
                    name=name,
                    summary=clean_for_prompt(str(item.get("summary") or ""), MAX_DESCRIPTION_CHARS),
                    criteria=clean_for_prompt(str(item.get("criteria") or ""),
                                              MAX_DESCRIPTION_CHARS),
                    members=members,
                    kind="no_intent" if item.get("kind") == "no_intent" else "topic",
                ))
            if conflicted:
                # The first cluster keeps such a request (as the engine does
                # for custom proposers), but the answer is worth a retry.
                problems.append(f"{len(conflicted)} requests are in two clusters "
                                f"(e.g. request {min(conflicted)})")
            # Any flaw is worth a retry: a dropped proposal or member leaves
            # its texts unassigned (and the engine does not show them to the
            # proposer again), and out-of-range numbers suggest the model
            # miscounted the others too. The last attempt keeps what is usable.
            retry_or_note_problems(problems, final, "proposal")
            return proposals

        return self.client.request(
            "propose",
            # Passed only when set: subclasses written before it keep working.
            prompts.propose_messages(texts, clusters, self.max_new_clusters,
                                     **({"target": target} if target else {})),
            prompts.propose_schema(self.max_new_clusters),
            validate,
        )

    def __repr__(self) -> str:
        return f"LLMProposer(client={self.client!r}, max_new_clusters={self.max_new_clusters})"
