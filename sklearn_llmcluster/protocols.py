"""The three extension points: a ``Proposer``, a ``Judge`` and an ``LLMProvider``.

Any object with the right method works; subclassing is not needed. The
estimator calls a judge from several threads at once, so a judge (and the
provider behind it) must be safe to call concurrently.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .records import Cluster, Proposal

__all__ = ["Proposer", "Judge", "LLMProvider", "Message"]

Message = dict
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""


@runtime_checkable
class Proposer(Protocol):
    """Suggests new clusters for texts that no existing cluster covers.

    Texts arrive de-duplicated. A proposer that needs to know how many input
    rows each text stands for (to size clusters by rows, say) sets a class
    attribute ``uses_counts = True``; ``propose`` is then also given
    ``counts=`` (a list of int aligned with ``texts``).
    """

    def propose(self, texts: list[str], clusters: list[Cluster]) -> list[Proposal]:
        """Return new clusters for ``texts``.

        Parameters
        ----------
        texts : list of str
            Unassigned, de-duplicated texts (a sample of them on large data).
        clusters : list of Cluster
            The clusters that exist already; proposals should not repeat them.

        Returns
        -------
        list of Proposal
            ``Proposal.members`` index into ``texts``.
        """
        ...


@runtime_checkable
class Judge(Protocol):
    """Assigns texts to existing clusters."""

    def judge(self, texts: list[str], clusters: list[Cluster]) -> list[str | None]:
        """Return one cluster id (or ``None`` for "no cluster fits") per text, in order."""
        ...


@runtime_checkable
class LLMProvider(Protocol):
    """Anything that completes a chat.

    Providers may return a :class:`~sklearn_llmcluster.llm.providers.base.LLMResponse`
    (a ``str`` subclass carrying token usage); a plain ``str`` is fine too.
    """

    def complete(
        self,
        messages: list[dict],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_schema: dict | None = None,
    ) -> str:
        ...
