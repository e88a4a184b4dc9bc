"""sklearn_llmcluster: turn piles of customer requests into named clusters with LLMs."""

from ._version import __version__
from .compat import ClusteringPipeline, ClusteringResult, PartialResult
from .estimator import LLMClusterer
from .exceptions import *  # noqa: F401,F403
from .exceptions import __all__ as _exception_names
from .discovery.judge import LLMJudge
from .llm.client import LLMClient
from .discovery.prompts import PromptBuilder
from .discovery.proposer import LLMProposer
from .protocols import Judge, LLMProvider, Proposer
from .records import Cluster, LLMUsage, Proposal
from .taxonomy.registry import ClusterRegistry, load_clusters, save_clusters
from .report import plot_clusters, plot_trends, trends

__all__ = [
    "__version__",
    "LLMClusterer",
    "Cluster",
    "Proposal",
    "LLMUsage",
    "Proposer",
    "Judge",
    "LLMProvider",
    "LLMJudge",
    "LLMProposer",
    "LLMClient",
    "PromptBuilder",
    "ClusterRegistry",
    "save_clusters",
    "load_clusters",
    "plot_clusters",
    "plot_trends",
    "trends",
    "ClusteringPipeline",
    "ClusteringResult",
    "PartialResult",
    *_exception_names,
]
