"""The LLM-backed proposer: suggests new clusters for texts nothing covers yet."""

from __future__ import annotations

from typing import Any

from .exceptions import ResponseParseError
from .llm_client import LLMClient, current_usage
from .prompts import PromptBuilder
from .records import Cluster, Proposal
from .text_normalization import clean_for_prompt, name_key

__all__ = ["LLMProposer"]

#: Longer names are cut: a name is a label in a table, not a paragraph.
MAX_NAME_CHARS = 80
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
    """

    def __init__(
        self, client: LLMClient, prompts: PromptBuilder | None = None, max_new_clusters: int = 10
    ) -> None:
        self.client = client
        self.prompts = prompts
        self.max_new_clusters = max_new_clusters

    def propose(self, texts: list[str], clusters: list[Cluster]) -> list[Proposal]:
        """Return new clusters for ``texts``; ``members`` index into ``texts``."""
        if not texts:
        texts, clusters = self.client.redact_inputs(texts, clusters)
            return []
        prompts = self.prompts or PromptBuilder()
        n = len(texts)

        def validate(answer: Any, final: bool) -> list[Proposal]:
            items = answer.get("clusters") if isinstance(answer, dict) else None
            if not isinstance(items, list):
                raise ResponseParseError('the answer has no "clusters" list')
            proposals, problems = [], []
            names: set[str] = set()
            for item in items:
                if not isinstance(item, dict):
                    problems.append("a cluster is not an object")
                    continue
                name = clean_for_prompt(str(item.get("name") or ""), MAX_NAME_CHARS)
                if not name_key(name):
                    problems.append("a cluster has an empty name")
                    continue
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
                        elif m not in members:
                            members.append(m)
                proposals.append(Proposal(
                    name=name,
                    summary=clean_for_prompt(str(item.get("summary") or ""), MAX_DESCRIPTION_CHARS),
                    criteria=clean_for_prompt(str(item.get("criteria") or ""),
                                              MAX_DESCRIPTION_CHARS),
                    members=members,
                ))
            if problems and not final and not proposals:
                raise ResponseParseError("; ".join(problems[:5]))
            if problems:
                # Usable proposals survive a few bad items; retrying would
                # throw the good ones away too.
                usage = current_usage()
                if usage is not None:
                    usage.note(f"proposal answer partly invalid: {problems[0]}")
            return proposals

        return self.client.request(
            "propose",
            prompts.propose_messages(texts, clusters, self.max_new_clusters),
            prompts.propose_schema(self.max_new_clusters),
            validate,
        )

    def __repr__(self) -> str:
        return f"LLMProposer(client={self.client!r}, max_new_clusters={self.max_new_clusters})"
