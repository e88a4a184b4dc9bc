"""sklearn_llmcluster: turn piles of customer requests into named clusters with LLMs."""

from ._version import __version__
from .exceptions import *  # noqa: F401,F403
from .protocols import Judge, LLMProvider, Proposer
from .records import Cluster, LLMUsage, Proposal

__all__ = ["__version__", "Cluster", "Proposal", "LLMUsage", "Proposer", "Judge", "LLMProvider"]
