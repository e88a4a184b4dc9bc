"""Clusters over time: counts and shares per day, week or month, and what is new.

Analysts run the clusterer on weekly exports and report what grew, what
shrank and what appeared. :func:`trends` turns the labels of a fit and the
time of each request into one row per cluster and period, with the change
against the previous period and an ``emerging`` flag for a cluster's first
period with requests (never the first period of the data, where everything
is seen for the first time). The CLI writes it as ``trends.csv``, the HTML
report draws it, and :func:`plot_trends` draws it in a notebook.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..records import Cluster

__all__ = ["PERIODS", "TREND_COLUMNS", "UNASSIGNED_NAME", "parse_times", "choose_period",
           "trends", "plot_trends"]

#: The periods :func:`trends` counts by.
PERIODS = ("day", "week", "month")

#: Columns of the frame :func:`trends` returns (and of ``trends.csv``).
TREND_COLUMNS = ["period", "period_start", "label", "cluster_id", "cluster_name", "count",
                 "period_total", "share", "previous_count", "change", "emerging"]

#: ``cluster_name`` of the rows counting requests no cluster fits (label -1).
UNASSIGNED_NAME = "(unassigned)"

# Spans up to these many days are counted by day, then by week; longer by month.
_DAY_SPAN = 14
_WEEK_SPAN = 26 * 7


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def parse_times(times: Sequence[Any], *, source: str = "times") -> pd.Series:
    """Timestamps of ``times``, with ``NaT`` where a value is empty.

    Accepts datetimes, dates, pandas timestamps and strings: ISO 8601
    (``2026-11-02``, ``2026-11-02T10:15:00+03:00``) first, then day-first
    dates as Russian and European exports write them (``02.11.2026 10:15``).
    Time zones are converted to UTC and dropped.

    Parameters
    ----------
    times : sequence
        One value per request.
    source : str, default="times"
        Named in the error message (the CLI passes the column).

    Returns
    -------
    pandas.Series of datetime64[ns]
        Same length and order as ``times``.

    Raises
    ------
    ValueError
        If a non-empty value is not a date, naming the first such value and its row.

    Examples
    --------
    >>> parse_times(["2026-11-02", "03.11.2026 10:15", ""]).dt.strftime("%Y-%m-%d").tolist()
    ['2026-11-02', '2026-11-03', nan]
    """
    values = pd.Series(list(times), dtype=object)
    blank = values.map(_is_blank).to_numpy(dtype=bool)
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    todo = values[~blank]
    if len(todo):
        text = todo.map(lambda v: v.strip() if isinstance(v, str) else v)
        first = _to_utc_naive(text, format="ISO8601")
        failed = first.isna()
        if failed.any():
            # Only what ISO 8601 could not read: read day-first, "2026-11-02"
            # would turn into February.
            first[failed] = _to_utc_naive(text[failed], format="mixed", dayfirst=True)
        bad = first.isna()
        if bad.any():
            row = int(first.index[bad.to_numpy()][0])
            raise ValueError(
                f"{int(bad.sum())} value(s) of {source} are not dates, e.g. "
                f"{values[row]!r} in row {row}; give dates such as 2026-11-02, "
                "2026-11-02 10:15 or 02.11.2026 (empty cells are allowed)")
        parsed[first.index] = first.to_numpy()
    return parsed


def _to_utc_naive(values: pd.Series, **options: Any) -> pd.Series:
    """Parse ``values`` (``NaT`` where it fails); ``options`` apply to the strings."""
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    strings = values.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    # A bare number is no date (pandas would read it as nanoseconds since 1970).
    numbers = values.map(lambda v: isinstance(v, (int, float, np.number))).to_numpy(dtype=bool)
    for mask, kwargs in ((strings, options), (~strings & ~numbers, {})):
        part = values[mask]
        if part.empty:
            continue
        try:
            stamps = pd.to_datetime(part, utc=True, errors="coerce", **kwargs)
        except (ValueError, TypeError, OverflowError):
            # One odd value (an int, a time of day) spoils a whole column: read one by one.
            stamps = pd.Series([_one(v, kwargs) for v in part], index=part.index,
                               dtype="datetime64[ns, UTC]")
        out[part.index] = stamps.dt.tz_convert(None).to_numpy()
    return out


def _one(value: Any, options: dict) -> Any:
    try:
        return pd.to_datetime(value, utc=True, **options)
    except (ValueError, TypeError, OverflowError):
        return pd.NaT


def choose_period(times: pd.Series) -> str:
    """``"day"``, ``"week"`` or ``"month"``: the period that gives a readable series.

    Up to two weeks of data is counted by day, up to half a year by week,
    anything longer by month.

    Parameters
    ----------
    times : pandas.Series of datetime64
        ``NaT`` values are ignored.

    Returns
    -------
    str
    """
    known = times.dropna()
    if known.empty:
        return "week"
    span = (known.max() - known.min()).days
    if span <= _DAY_SPAN:
        return "day"
    return "week" if span <= _WEEK_SPAN else "month"


def _period_starts(times: pd.Series, period: str) -> pd.Series:
    days = times.dt.floor("D")
    if period == "day":
        return days
    if period == "week":  # weeks start on Monday, as ISO 8601 has them
        return days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    return days.dt.to_period("M").dt.start_time


def _period_range(first: pd.Timestamp, last: pd.Timestamp, period: str) -> pd.DatetimeIndex:
    freq = {"day": "D", "week": "7D", "month": "MS"}[period]
    return pd.date_range(first, last, freq=freq)


def _period_label(start: pd.Timestamp, period: str) -> str:
    if period == "month":
        return start.strftime("%Y-%m")
    if period == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return start.strftime("%Y-%m-%d")


def trends(labels: Sequence[int] | np.ndarray, times: Sequence[Any],
           clusters: Sequence[Cluster], *, period: str | None = None) -> pd.DataFrame:
    """Requests per cluster and period, the change, and the clusters that emerged.

    Parameters
    ----------
    labels : array-like of int
        Label per request (``model.labels_``); -1 = no cluster.
    times : sequence
        When each request came, aligned with ``labels``: datetimes, dates or
        strings (see :func:`parse_times`). Requests with an empty time are
        left out of the counts (the frame's ``attrs["undated"]`` says how many).
    clusters : sequence of Cluster
        ``clusters[k]`` for label ``k`` (``model.clusters_``).
    period : {"day", "week", "month"}, optional
        Default: chosen from the span of the times (:func:`choose_period`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TREND_COLUMNS`, one row per period and per label that
        has requests in any period (label -1, named :data:`UNASSIGNED_NAME`,
        included), every period from the first to the last, empty ones too.
        ``share`` is the cluster's part of the period's requests;
        ``change`` = ``count - previous_count`` (``previous_count`` is 0
        in the first period); ``emerging`` is true in a cluster's first
        period with requests, unless that is the first period of the data.
        ``attrs["period"]`` holds the period used.

    Raises
    ------
    ValueError
        If the lengths differ, ``period`` is not one of :data:`PERIODS`, or a
        time cannot be read.

    Examples
    --------
    >>> from sklearn_llmcluster import Cluster
    >>> clusters = [Cluster("c1", "Card blocked"), Cluster("c2", "Refund")]
    >>> table = trends([0, 0, 0, 1, -1], ["2026-11-02", "2026-11-03", "2026-11-09",
    ...                                   "2026-11-10", "2026-11-10"], clusters,
    ...                period="week")
    >>> table[table["emerging"]][["period", "cluster_name", "count"]].values.tolist()
    [['2026-W46', 'Refund', 1]]
    >>> table[table["label"] == 0][["period", "count", "change"]].values.tolist()
    [['2026-W45', 2, 2], ['2026-W46', 1, -1]]
    """
    labels = np.asarray(labels, dtype=int).ravel()
    times = list(times)
    if len(times) != len(labels):
        raise ValueError(f"times and labels differ in length: {len(times)} and {len(labels)}; "
                         "give one time per request, in the order of the labels")
    if period is not None and period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(map(repr, PERIODS))} or None "
                         f"(chosen from the span), got {period!r}")
    stamps = parse_times(times)
    chosen = period or choose_period(stamps)
    known = stamps.notna().to_numpy()
    frame = pd.DataFrame({"label": labels[known],
                          "start": _period_starts(stamps[known], chosen).to_numpy()})
    result = _empty_trends() if frame.empty else _count(frame, clusters, chosen)
    result.attrs["period"] = chosen
    result.attrs["undated"] = int((~known).sum())
    return result


def _empty_trends() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in (
        ("period", object), ("period_start", object), ("label", int), ("cluster_id", object),
        ("cluster_name", object), ("count", int), ("period_total", int), ("share", float),
        ("previous_count", int), ("change", int), ("emerging", bool))})


def _count(frame: pd.DataFrame, clusters: Sequence[Cluster], period: str) -> pd.DataFrame:
    starts = _period_range(frame["start"].min(), frame["start"].max(), period)
    counts = pd.crosstab(frame["start"], frame["label"]).reindex(starts, fill_value=0)
    # Clusters in model order, "unassigned" last: a stable order for files and charts.
    order = sorted(counts.columns, key=lambda label: (label < 0, label))
    counts = counts[order]
    values = counts.to_numpy()
    totals = values.sum(axis=1, keepdims=True)
    previous = np.vstack([np.zeros((1, values.shape[1]), dtype=values.dtype), values[:-1]])
    seen_before = np.cumsum(values, axis=0) - values
    emerging = (values > 0) & (seen_before == 0)
    emerging[0, :] = False  # everything is new in the first period of the data
    emerging[:, [i for i, label in enumerate(order) if label < 0]] = False
    n_periods, n_labels = values.shape
    label_of = np.tile(np.asarray(order, dtype=int), n_periods)
    rows = pd.DataFrame({
        "period": np.repeat([_period_label(s, period) for s in starts], n_labels),
        "period_start": np.repeat([s.date().isoformat() for s in starts], n_labels),
        "label": label_of,
        "cluster_id": [clusters[k].id if k >= 0 else "" for k in label_of],
        "cluster_name": [clusters[k].name if k >= 0 else UNASSIGNED_NAME for k in label_of],
        "count": values.ravel(),
        "period_total": np.repeat(totals.ravel(), n_labels),
        "share": np.divide(values, totals, out=np.zeros(values.shape, dtype=float),
                           where=totals > 0).ravel(),
        "previous_count": previous.ravel(),
        "change": (values - previous).ravel(),
        "emerging": emerging.ravel(),
    }, columns=TREND_COLUMNS)
    return rows


def emerging_ids(table: pd.DataFrame) -> dict[str, str]:
    """Cluster id -> label of the period it emerged in, from a :func:`trends` frame."""
    flagged = table[table["emerging"]]
    return dict(zip(flagged["cluster_id"], flagged["period"]))


def plot_trends(table: pd.DataFrame, *, top: int = 12, fig: Any = None) -> Any:
    """Small multiples: requests per period of the largest clusters, emerging ones marked.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`trends`.
    top : int, default=12
        Clusters drawn, the largest over all periods first; the clusters
        that emerged are drawn even when smaller.
    fig : matplotlib.figure.Figure, optional
        Draw here; a new figure otherwise.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install "sklearn-llmcluster[plot]"``).

    Examples
    --------
    >>> from sklearn_llmcluster import Cluster
    >>> table = trends([0, 0, 1], ["2026-11-02", "2026-11-09", "2026-11-09"],
    ...                [Cluster("c1", "Card blocked"), Cluster("c2", "Refund")],
    ...                period="week")
    >>> [ax.get_title(loc="left") for ax in plot_trends(table).axes]
    ['Card blocked', 'Refund (new 2026-W46)']
    """
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise ImportError(
            'plot_trends needs matplotlib: pip install "sklearn-llmcluster[plot]" '
            '(from a checkout: pip install -e ".[plot]")') from None
    chosen = _top_series(table, top)
    n = max(len(chosen), 1)
    columns = min(n, 3)
    rows = (n + columns - 1) // columns
    if fig is None:
        fig = Figure(figsize=(3.4 * columns, 2.2 * rows), layout="constrained")
    periods = list(dict.fromkeys(table["period"]))
    new = emerging_ids(table)
    for i, (label, series) in enumerate(chosen):
        ax = fig.add_subplot(rows, columns, i + 1)
        counts = series.set_index("period")["count"].reindex(periods, fill_value=0)
        name = series["cluster_name"].iloc[0]
        cid = series["cluster_id"].iloc[0]
        color = "#dd8452" if cid in new else "#4c72b0"
        ax.plot(range(len(periods)), counts.to_numpy(), marker="o", markersize=3, color=color)
        ax.set_title(f"{name} (new {new[cid]})" if cid in new else name, fontsize=9,
                     loc="left")
        ax.set_xticks(range(len(periods)), periods, fontsize=7, rotation=45 if len(periods) > 4
                      else 0)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(axis="y", labelsize=7)
        ax.set_ylim(bottom=0)
        ax.spines[["top", "right"]].set_visible(False)
    return fig


def _top_series(table: pd.DataFrame, top: int) -> list[tuple[int, pd.DataFrame]]:
    """The clusters worth a panel: the largest ``top``, plus every emerging one."""
    named = table[table["label"] >= 0]
    totals = named.groupby("label")["count"].sum().sort_values(ascending=False, kind="stable")
    keep = list(totals.index[:max(int(top), 0)])
    keep += [label for label in named.loc[named["emerging"], "label"].unique()
             if label not in keep]
    return [(label, named[named["label"] == label]) for label in keep]
