"""``ClusteringPipeline``: the DataFrame workflow of the earlier ``llm_clustering`` library.

Analysts who used ``llm_clustering`` call ``fit(df)``, iterate over
``fit_partial(df)`` and keep a registry file of clusters between sessions.
This module keeps those names on top of :class:`~sklearn_llmcluster.LLMClusterer`,
which does all the work; the pipeline only turns DataFrames into texts and
labels back into tables with request ids.

Like the earlier library, a pipeline *accumulates* clusters: every ``fit``
after the first (or after loading ``registry_path``) labels the new rows
against the clusters it already has and proposes clusters only for what is
new. Start a new pipeline (without ``registry_path``) to start from scratch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd

from .io.assignments import assignments_frame, generated_ids, new_batch_id
from .estimator import LLMClusterer
from .records import Cluster, LLMUsage
from .taxonomy.registry import load_clusters
from .io.tables import column_as_ids, column_as_texts, require_column

__all__ = ["ClusteringPipeline", "ClusteringResult", "PartialResult"]

_ID_COLUMN = "request_id"


def _earlier_frame(*args, **kwargs) -> pd.DataFrame:
    """The assignments table in the earlier result shape (no ``kind`` column)."""
    return assignments_frame(*args, **kwargs).drop(columns="kind")


@dataclass
class ClusteringResult:
    """What one ``fit`` or ``refit`` produced.

    Attributes
    ----------
    batch_id : str
    assignments : pandas.DataFrame
        One row per input row: ``batch_id``, ``request_id``, ``text``,
        ``cluster_id`` (``None`` when unassigned), ``cluster_name``, ``status``.
    clusters : list of Cluster
        Every cluster of the pipeline, largest first.
    coverage : float
        Percentage (0-100) of rows with a cluster.
    metrics : dict
        ``total_requests``, ``assigned_requests``, ``coverage_pct``,
        ``n_clusters``, ``new_clusters`` and the LLM usage counters (``llm_calls`` ...).
    """

    batch_id: str
    assignments: pd.DataFrame
    clusters: list[Cluster]
    coverage: float
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def total_requests(self) -> int:
        """Rows processed."""
        return len(self.assignments)

    @property
    def assigned_requests(self) -> int:
        """Rows with a cluster."""
        return int(self.assignments["cluster_id"].notna().sum())


@dataclass
class PartialResult:
    """What one batch of :meth:`ClusteringPipeline.fit_partial` produced.

    Attributes
    ----------
    batch_number : int
        1 for the first batch of the call.
    batch_id : str
    assignments : pandas.DataFrame
        The batch's rows, as in :class:`ClusteringResult`.
    new_clusters : list of Cluster
        Clusters this batch created.
    processed_rows : int
        Position in the DataFrame after this batch (``start_from`` counts).
    total_rows : int
        Rows of the DataFrame.
    """

    batch_number: int
    batch_id: str
    assignments: pd.DataFrame
    new_clusters: list[Cluster]
    processed_rows: int
    total_rows: int


def _params_from_settings(settings: Any) -> dict[str, Any]:
    """LLMClusterer parameters from a dict (strict) or an object (matching attributes)."""
    names = LLMClusterer._get_param_names()
    if settings is None:
        return {}
    if isinstance(settings, Mapping):
        unknown = sorted(set(settings) - set(names))
        if unknown:
            raise ValueError(
                f"settings has keys that are not LLMClusterer parameters: {', '.join(unknown)}; "
                f"valid keys: {', '.join(names)}")
        return dict(settings)
    # Objects such as the earlier library's Settings hold much more; take what
    # matches, and treat None as "not set" so the clusterer's defaults apply.
    return {name: getattr(settings, name) for name in names
            if getattr(settings, name, None) is not None}


class ClusteringPipeline:
    """DataFrame-in, DataFrame-out clustering with request ids, over :class:`LLMClusterer`.

    Parameters
    ----------
    llm_provider : str, LLMProvider, callable or None, default=None
        The ``provider`` of the clusterer (``"ollama:qwen3:30b"``, an object
        with ``complete`` ...); ``None`` resolves from the environment.
    settings : dict or object, optional
        Other :class:`LLMClusterer` parameters: a dict (unknown keys are an
        error) or an object whose attributes named like the parameters are
        used (``None`` attributes are skipped).
    business_context : str, optional
        What the business is; goes into every prompt.
    registry_path : str or path-like, optional
        A clusters JSON file (:meth:`save_clusters` format). If it exists it
        is loaded on the first fit; it is saved after every ``fit``,
        ``refit`` and ``fit_partial`` batch.

    Attributes
    ----------
    model : LLMClusterer
        The estimator doing the work.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_llmcluster.compat import ClusteringPipeline
    >>> from sklearn_llmcluster.testing import ScriptedProvider
    >>> df = pd.DataFrame({"request_id": ["r1", "r2", "r3"],
    ...                    "text": ["card blocked", "card stolen", "login fails"]})
    >>> pipeline = ClusteringPipeline(llm_provider=ScriptedProvider(), settings={"n_jobs": 1})
    >>> result = pipeline.fit(df, text_column="text")
    >>> result.coverage
    100.0
    >>> [c.name for c in pipeline.get_clusters()]
    ['card', 'login']
    """

    def __init__(self, llm_provider: Any = None, settings: Any = None,
                 business_context: str | None = None,
                 registry_path: str | os.PathLike | None = None) -> None:
        params = _params_from_settings(settings)
        if llm_provider is not None:
            params["provider"] = llm_provider
        if business_context is not None:
            params["business_context"] = business_context
        self.llm_provider = llm_provider
        self.settings = settings
        self.business_context = business_context
        self.registry_path = Path(registry_path) if registry_path is not None else None
        self.model = LLMClusterer(**params)

    def __repr__(self) -> str:
        return f"ClusteringPipeline(model={self.model!r}, registry_path={self.registry_path!r})"

    # -- helpers ------------------------------------------------------------
    def _started(self) -> bool:
        return hasattr(self.model, "registry_")

    def _start(self) -> None:
        """Load ``registry_path`` into the model once, before its first fit."""
        if not self._started() and self.registry_path is not None and self.registry_path.exists():
            self.model.load_clusters(self.registry_path)

    def _has_clusters(self) -> bool:
        return self._started() and len(self.model.registry_) > 0

    def _save(self) -> None:
        if self.registry_path is not None and self._started():
            self.model.save_clusters(self.registry_path)

    @staticmethod
    def _rows(df: pd.DataFrame, text_column: str, batch_id: str,
              positions: range) -> tuple[list[str], list[str]]:
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
        require_column(df, text_column, source="df", option="text_column=")
        texts = column_as_texts(df[text_column].tolist())
        if _ID_COLUMN in df.columns:
            ids = column_as_ids(df[_ID_COLUMN].tolist())
        else:
            ids = generated_ids(batch_id, positions)
        return texts, ids

    def _label(self, texts: list[str]) -> tuple[np.ndarray, list[str], LLMUsage]:
        """Cluster ``texts`` on top of what the pipeline has.

        Returns labels, the new ids to mark, and the usage.
        """
        self._start()
        had_clusters = self._has_clusters()
        if self._started():
            self.model.partial_fit(texts)
        else:
            self.model.fit(texts)
        marked = list(self.model.new_cluster_ids_) if had_clusters else []
        return self.model.labels_, marked, self.model.llm_usage_

    def _result(self, batch_id: str, assignments: pd.DataFrame, usage: LLMUsage,
                n_new: int) -> ClusteringResult:
        total = len(assignments)
        assigned = int(assignments["cluster_id"].notna().sum())
        coverage = 100.0 * assigned / total if total else 0.0
        clusters = self.get_clusters()
        metrics: dict[str, Any] = {
            "batch_id": batch_id,
            "total_requests": total,
            "assigned_requests": assigned,
            "coverage_pct": round(coverage, 2),
            "n_clusters": len(clusters),
            "new_clusters": n_new,
            **{f"llm_{name}": value for name, value in usage.as_dict().items()},
        }
        return ClusteringResult(batch_id=batch_id, assignments=assignments, clusters=clusters,
                                coverage=coverage, metrics=metrics)

    # -- the earlier library's API ------------------------------------------------
    def fit(self, df: pd.DataFrame, text_column: str = "text", batch_id: str | None = None,
            limit: int | None = None) -> ClusteringResult:
        """Cluster the rows of ``df`` (all, or the first ``limit``).

        The first fit of a pipeline finds clusters from scratch (or starts
        from ``registry_path``); later fits label against the clusters found
        so far and add clusters only for what is new.

        Parameters
        ----------
        df : pandas.DataFrame
            A text column, and ``request_id`` if the rows have ids (otherwise
            ids ``req-{batch_id}-{row}`` are generated).
        text_column : str, default="text"
        batch_id : str, optional
            Generated (``batch-<UTC time>-<hex>``) when omitted.
        limit : int, optional
            Only the first ``limit`` rows.

        Returns
        -------
        ClusteringResult
        """
        if limit is not None and (isinstance(limit, bool) or int(limit) < 1):
            raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
        batch_id = batch_id or new_batch_id()
        work = df if limit is None else df.iloc[:int(limit)]
        texts, ids = self._rows(work, text_column, batch_id, range(len(work)))
        labels, marked, usage = self._label(texts)
        assignments = _earlier_frame(ids, texts, labels, self.model.clusters_,
                                     new_cluster_ids=marked)
        assignments.insert(0, "batch_id", batch_id)
        self._save()
        return self._result(batch_id, assignments, usage, len(self.model.new_cluster_ids_))

    def fit_partial(self, df: pd.DataFrame, text_column: str = "text", batch_size: int = 50,
                    start_from: int = 0) -> Iterator[PartialResult]:
        """Cluster ``df`` batch by batch, yielding after each; stop whenever you like.

        Each batch is labelled against the clusters found so far, then new
        clusters are proposed for what is left; the registry file is saved
        after every batch, so an interrupted loop loses nothing finished.

        Parameters
        ----------
        df : pandas.DataFrame
        text_column : str, default="text"
        batch_size : int, default=50
            Rows per batch.
        start_from : int, default=0
            Row position to start at (resume with the last ``processed_rows``).

        Yields
        ------
        PartialResult
        """
        if isinstance(batch_size, bool) or int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(start_from, bool) or int(start_from) < 0:
            raise ValueError(f"start_from must be a non-negative integer, got {start_from!r}")
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
        require_column(df, text_column, source="df", option="text_column=")
        # Validation above runs at call time; the work runs as the caller iterates.
        return self._partial_batches(df, text_column, int(batch_size), int(start_from))

    def _partial_batches(self, df: pd.DataFrame, text_column: str, batch_size: int,
                         start_from: int) -> Iterator[PartialResult]:
        run_id = new_batch_id()
        total = len(df)
        for number, start in enumerate(range(start_from, total, batch_size), start=1):
            end = min(start + batch_size, total)
            batch_id = f"{run_id}-{number:03d}"
            texts, ids = self._rows(df.iloc[start:end], text_column, batch_id, range(start, end))
            labels, marked, _ = self._label(texts)
            assignments = _earlier_frame(ids, texts, labels, self.model.clusters_,
                                         new_cluster_ids=marked)
            assignments.insert(0, "batch_id", batch_id)
            self._save()
            new_clusters = [self.model.registry_.get(cid) for cid in self.model.new_cluster_ids_]
            yield PartialResult(batch_number=number, batch_id=batch_id, assignments=assignments,
                                new_clusters=new_clusters, processed_rows=end, total_rows=total)

    def refit(self, df: pd.DataFrame, previous_assignments: pd.DataFrame | None = None,
              text_column: str = "text") -> ClusteringResult:
        """Label ``df`` against the existing clusters and propose clusters for what is new.

        Rows found in ``previous_assignments`` with a cluster that still
        exists *keep* it (status ``"kept"``): they cost no LLM call and are
        not counted into cluster sizes again. Rows are matched on
        ``request_id`` when both tables have it, otherwise on the exact text.
        Every other row (new, previously unassigned, or whose cluster is
        gone) is judged against the existing clusters, and clusters are
        proposed for what none of them covers. Without
        ``previous_assignments`` every row is judged again, and cluster
        sizes count the rows again.

        Parameters
        ----------
        df : pandas.DataFrame
        previous_assignments : pandas.DataFrame, optional
            An earlier ``assignments`` table (``request_id`` or ``text``, and ``cluster_id``).
        text_column : str, default="text"

        Returns
        -------
        ClusteringResult
        """
        batch_id = new_batch_id()
        texts, ids = self._rows(df, text_column, batch_id, range(len(df)))
        self._start()
        keep: dict[int, int] = {}
        if previous_assignments is not None and self._has_clusters():
            keep = self._kept_labels(df, texts, ids, previous_assignments)
        todo = [i for i in range(len(texts)) if i not in keep]
        labels = np.full(len(texts), -1, dtype=np.intp)
        marked: list[str] = []
        usage = LLMUsage()
        n_new = 0
        if todo:
            sub_labels, marked, usage = self._label([texts[i] for i in todo])
            labels[todo] = sub_labels
            n_new = len(self.model.new_cluster_ids_)
        for i, label in keep.items():
            labels[i] = label
        assignments = _earlier_frame(ids, texts, labels, self.model.clusters_,
                                     new_cluster_ids=marked)
        if keep:
            assignments.loc[list(keep), "status"] = "kept"
        assignments.insert(0, "batch_id", batch_id)
        self._save()
        return self._result(batch_id, assignments, usage, n_new)

    def _kept_labels(self, df: pd.DataFrame, texts: list[str], ids: list[str],
                     previous: pd.DataFrame) -> dict[int, int]:
        """Row position → label for rows whose previous cluster still exists."""
        if "cluster_id" not in previous.columns:
            raise ValueError("previous_assignments needs a cluster_id column")
        if _ID_COLUMN in df.columns and _ID_COLUMN in previous.columns:
            keys, previous_keys = ids, column_as_ids(previous[_ID_COLUMN].tolist())
        elif "text" in previous.columns:
            keys, previous_keys = texts, column_as_texts(previous["text"].tolist())
        else:
            raise ValueError("previous_assignments needs a request_id or a text column "
                             "to match rows")
        registry = self.model.registry_
        known: dict[str, int] = {}
        for key, cid in zip(previous_keys, previous["cluster_id"].tolist()):
            if isinstance(cid, str) and cid:
                try:
                    known[key] = registry.index_of(cid)
                except KeyError:
                    continue  # that cluster no longer exists: judge the row again
        return {i: known[key] for i, key in enumerate(keys) if key in known}

    def get_clusters(self) -> list[Cluster]:
        """All clusters, largest first (from ``registry_path`` before the first fit)."""
        if self._started():
            return self.model.get_clusters()
        if self.registry_path is not None and self.registry_path.exists():
            return sorted(load_clusters(self.registry_path), key=lambda c: -c.size)
        return []

    def save_clusters(self, path: str | os.PathLike) -> None:
        """Write the clusters as UTF-8 JSON (see :func:`~sklearn_llmcluster.save_clusters`)."""
        self._start()
        if not self._started():
            raise ValueError("there are no clusters to save yet: call fit first")
        self.model.save_clusters(path)

    def load_clusters(self, path: str | os.PathLike) -> None:
        """Replace the pipeline's clusters by those saved in ``path``."""
        self.model.load_clusters(path)
