"""The cluster-size bar chart, for notebooks and for the HTML report."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from ..records import Cluster

__all__ = ["plot_clusters", "draw_cluster_bars", "clusters_of"]

_BAR_COLOR = "#4c72b0"
_NEW_COLOR = "#dd8452"
_MAX_LABEL = 48


def clusters_of(model: Any) -> list[Cluster]:
    """Clusters of a fitted model, largest first.

    Parameters
    ----------
    model : LLMClusterer, ClusteringPipeline or sequence of Cluster
        Anything with ``get_clusters()``, or the clusters themselves.

    Returns
    -------
    list of Cluster
    """
    if hasattr(model, "get_clusters"):
        clusters = list(model.get_clusters())
    else:
        clusters = list(model)
        if not all(isinstance(c, Cluster) for c in clusters):
            raise TypeError("expected a fitted LLMClusterer, a ClusteringPipeline or a list "
                            "of Cluster")
    # sorted() is stable: equal sizes keep the model's (creation) order.
    return sorted(clusters, key=lambda c: -c.size)


def _label(name: str) -> str:
    return name if len(name) <= _MAX_LABEL else name[: _MAX_LABEL - 1] + "…"


#: The chart's words in the report's languages (the title is the notebook's only).
_WORDS = {"en": ("requests", "existing", "new in this run"),
          "ru": ("обращений", "существовавшие", "новые в этом запуске")}


def draw_cluster_bars(ax: Any, clusters: Sequence[Cluster], *, top: int = 20,
                      new_ids: Iterable[str] = (), title: bool = True,
                      language: str = "en") -> Any:
    """Draw horizontal bars of cluster sizes on ``ax``, the largest on top.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    clusters : sequence of Cluster
        Already sorted, largest first.
    top : int, default=20
        Bars drawn; the title says how many clusters were left out.
    new_ids : iterable of str, default=()
        Ids drawn in a second colour and named in a legend.
    title : bool, default=True
        Set a title (saying how many clusters are left out, if any).
    language : {"en", "ru"}, default="en"
        Of the axis label and the legend.

    Returns
    -------
    matplotlib.axes.Axes
    """
    new = set(new_ids)
    shown = list(clusters)[:max(int(top), 0)]
    positions = list(range(len(shown)))[::-1]
    colors = [_NEW_COLOR if c.id in new else _BAR_COLOR for c in shown]
    bars = ax.barh(positions, [c.size for c in shown], color=colors, height=0.7)
    # parse_math=False: a "$" in a request's cluster name must not start TeX.
    ax.set_yticks(positions, [_label(c.name) for c in shown], parse_math=False)
    ax.bar_label(bars, labels=[str(c.size) for c in shown], padding=3, fontsize=8)
    axis_label, existing, new_label = _WORDS.get(language, _WORDS["en"])
    ax.set_xlabel(axis_label)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    ax.margins(x=0.12)
    ax.set_ylim(-0.6, max(len(shown), 1) - 0.4)  # no empty band above and below the bars
    if title:
        hidden = len(clusters) - len(shown)
        ax.set_title(f"Cluster sizes (top {len(shown)} of {len(clusters)})" if hidden > 0
                     else "Cluster sizes", loc="left", fontsize=11)
    if any(c.id in new for c in shown):
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=_BAR_COLOR, label=existing),
                           Patch(color=_NEW_COLOR, label=new_label)],
                  loc="lower right", frameon=False, fontsize=8)
    return ax


def plot_clusters(model: Any, top: int = 20, *, ax: Any = None) -> Any:
    """Bar chart of cluster sizes, the same one the HTML report shows.

    Parameters
    ----------
    model : LLMClusterer, ClusteringPipeline or sequence of Cluster
        A fitted model (or its clusters).
    top : int, default=20
        Largest clusters shown.
    ax : matplotlib.axes.Axes, optional
        Draw here; a new figure sized to the number of bars otherwise.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install "sklearn-llmcluster[plot]"``,
        or ``pip install -e ".[plot]"`` from a checkout).

    Examples
    --------
    >>> from sklearn_llmcluster import Cluster
    >>> from sklearn_llmcluster.report import plot_clusters
    >>> ax = plot_clusters([Cluster("c1", "Card blocked", size=7),
    ...                     Cluster("c2", "Login fails", size=3)])
    >>> sorted(t.get_text() for t in ax.get_yticklabels())
    ['Card blocked', 'Login fails']
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            'plot_clusters needs matplotlib: pip install "sklearn-llmcluster[plot]" '
            '(from a checkout: pip install -e ".[plot]")') from None
    clusters = clusters_of(model)
    new_ids = _marked_new_ids(model, clusters)
    if ax is None:
        n = min(len(clusters), max(int(top), 0))
        _, ax = plt.subplots(figsize=(8, 1.2 + 0.32 * max(n, 1)), layout="constrained")
    return draw_cluster_bars(ax, clusters, top=top, new_ids=new_ids)


def _marked_new_ids(model: Any, clusters: Sequence[Cluster]) -> list[str]:
    """New clusters worth marking: only when the model had clusters before the run."""
    model = getattr(model, "model", model)  # ClusteringPipeline wraps an LLMClusterer
    new = list(getattr(model, "new_cluster_ids_", []) or [])
    return new if 0 < len(new) < len(clusters) else []
