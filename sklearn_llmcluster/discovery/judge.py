"""The LLM-backed judge: assigns a batch of texts to existing clusters in one call."""

from __future__ import annotations

from typing import Any

from ..exceptions import ResponseParseError
from ..llm.client import LLMClient, retry_or_note_problems
from .prompts import NONE_ID, PromptBuilder
from ..records import Cluster

__all__ = ["LLMJudge"]


class LLMJudge:
    """Judge that asks an LLM which cluster each text belongs to.

    One call per batch; the answer's cluster ids are limited by the JSON
    Schema to the current ids plus ``"none"``, and validated again here:
    unknown ids, missing or repeated items never move a label.

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

    def judge(self, texts: list[str], clusters: list[Cluster]) -> list[str | None]:
        """Return one cluster id (or ``None``) per text, in order."""
        if not texts:
            return []
        if not clusters:
            return [None] * len(texts)
        prompts = self.prompts or PromptBuilder()
        texts, clusters = self.client.redact_inputs(texts, clusters)
        ids = [c.id for c in clusters]
        known = set(ids)
        n = len(texts)

        def validate(answer: Any, final: bool) -> list[str | None]:
            items = answer.get("assignments") if isinstance(answer, dict) else None
            if not isinstance(items, list):
                raise ResponseParseError('the answer has no "assignments" list')
            result: list[str | None] = [None] * n
            seen: set[int] = set()
            problems: list[str] = []
            for item in items:
                if not isinstance(item, dict):
                    problems.append("an assignment is not an object")
                    continue
                i, cid = item.get("i"), item.get("cluster_id")
                if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n:
                    problems.append(f"request number {i!r} is out of range 0..{n - 1}")
                    continue
                if i in seen:
                    problems.append(f"request {i} is answered twice")
                    continue
                if cid == NONE_ID or cid is None:
                    seen.add(i)
                    continue
                if not isinstance(cid, str) or cid not in known:
                    problems.append(f"cluster_id {str(cid)[:40]!r} does not exist")
                    continue
                seen.add(i)
                result[i] = cid
            missing = n - len(seen)
            if missing:
                problems.append(f"{missing} of {n} requests have no valid answer")
            retry_or_note_problems(problems, final, "judge")
            return result

        return self.client.request(
            "judge", prompts.judge_messages(texts, clusters), prompts.judge_schema(ids), validate
        )

    def __repr__(self) -> str:
        return f"LLMJudge(client={self.client!r})"
