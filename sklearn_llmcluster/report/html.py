"""``report.html``: one self-contained page an analyst can work in.

Everything is inline: styles, the bar chart (an SVG drawn by matplotlib, or
plain HTML bars without it), the trend charts (SVG drawn here), a small
script for search, filters, sorting and the drill-down to every request,
and the requests themselves as one JSON block that the script draws a page
at a time. Nothing is fetched. Every piece of user text is escaped in the
HTML, escaped again inside the JSON (no ``</script>`` can end it early), and
drawn by the script with ``textContent``, because requests can contain
anything, ``<script>`` included.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from ..io.atomic import atomic_write_text
from ..records import Cluster, LLMUsage, utc_now
from ._assets import SCRIPT, STYLE
from .plot import _marked_new_ids, clusters_of, draw_cluster_bars

__all__ = ["build_report", "write_report", "chart_svg", "detect_language", "LANGUAGES"]


#: Longer examples are cut in the table (the full texts are in assignments.csv).
MAX_EXAMPLE_CHARS = 300
#: Longer requests are cut in the drill-down (assignments.csv has them whole).
MAX_ROW_CHARS = 300
#: Bytes the requests may take in the page: 50,000 of them stay under 10 MB in all.
ROW_BYTES_BUDGET = 6_000_000
#: Requests per drill-down page.
PAGE_SIZE = 50
#: Panels of the trend chart: the largest clusters, and every emerging one.
TREND_PANELS = 12

#: Languages of the report's headings.
LANGUAGES = ("en", "ru")

_TEXT = {
    "en": {
        "title": "Request clusters",
        "generated": "Generated {when} by sklearn_llmcluster",
        "context": "Business context",
        "coverage": "coverage of this run ({assigned} of {requests} requests)",
        "clusters": "clusters",
        "new_clusters": "new clusters in this run",
        "unassigned_card": "requests no cluster fits",
        "calls": "LLM calls",
        "tokens": "tokens",
        "sizes": "Cluster sizes",
        "largest_of": "The {top} largest of {n} clusters.",
        "no_clusters": "No clusters were found.",
        "trends": "Trends by {period}",
        "trend_note": ("Requests per {period} of the largest clusters; a cluster's first {period} "
                       "with requests is marked as emerging (not in the first {period} of the "
                       "data, where everything is seen for the first time)."),
        "undated": "{n} requests without a time are not counted here.",
        "emerging": "Emerging clusters",
        "emerging_none": "No cluster emerged after the first {period}.",
        "grew": "Changes in the last {period} ({last} vs {previous})",
        "new_in": "new in {period}",
        "table": "Clusters",
        "search": "Search clusters and requests",
        "filter_all": "all clusters",
        "filter_new": "new in this run",
        "filter_emerging": "emerging",
        "filter_tentative": "tentative",
        "shown": "{n} clusters shown",
        "col_cluster": "Cluster",
        "col_category": "Category",
        "col_summary": "Summary and criteria",
        "col_run": "This run",
        "col_size": "Total size",
        "col_share": "Share",
        "col_trend": "Trend",
        "col_examples": "Examples",
        "criteria": "Criteria",
        "requests_button": "Requests ({n})",
        "repeat": "×{n}",
        "uncategorised": "No category",
        "legend": ("<b>tentative</b>: the cluster has fewer than {min} requests so far (the "
                   "model's <code>min_cluster_size</code>); it becomes <b>active</b> when it "
                   "reaches {min}. Treat it as a candidate: check its requests before reporting "
                   "it. <b>new</b>: created by this run on top of an existing model."),
        "sizes_note": ("<b>Total size</b> counts the requests of every run of this model; "
                       "<b>this run</b> counts those of the last run only."),
        "unassigned": "Requests no cluster fits",
        "unassigned_note": ("{n} requests of this run ({share}) fit no cluster (label -1){empty}. "
                            "Look here for topics the clusters miss."),
        "empty_part": ", {n} of them empty",
        "unassigned_button": "Show them",
        "unassigned_title": "Requests no cluster fits",
        "unassigned_absent": ("The requests are not in this report (it was built from the model "
                              "alone); assignments.csv lists them with status unassigned."),
        "no_intent": "Requests without an intent",
        "no_intent_note": ("Greetings, thanks and other messages that ask for nothing; they are "
                           "kept apart from the topics above."),
        "usage": "LLM usage",
        "u_llm": "LLM", "u_calls": "calls", "u_tokens": "tokens",
        "u_retries": "retries / failed calls", "u_cost": "cost",
        "calls_value": "{calls} (+{hits} answered from the cache)",
        "tokens_value": "{prompt} prompt + {completion} completion",
        "matching": "Requests matching “{q}”",
        "page": "{n} requests · page {page} of {pages}",
        "none": "No requests.",
        "prev": "Previous", "next": "Next", "close": "Close",
        "periods": {"day": "day", "week": "week", "month": "month"},
    },
    "ru": {
        "title": "Кластеры обращений",
        "generated": "Создан {when} библиотекой sklearn_llmcluster",
        "context": "Контекст бизнеса",
        "coverage": "покрытие этого запуска ({assigned} из {requests} обращений)",
        "clusters": "кластеров",
        "new_clusters": "новых кластеров в этом запуске",
        "unassigned_card": "обращений вне кластеров",
        "calls": "вызовов LLM",
        "tokens": "токенов",
        "sizes": "Размеры кластеров",
        "largest_of": "{top} крупнейших из {n} кластеров.",
        "no_clusters": "Кластеров не найдено.",
        "trends": "Динамика по периодам: {period}",
        "trend_note": ("Обращения за период ({period}) в крупнейших кластерах; первый период, "
                       "в котором у кластера появились обращения, отмечен как «новая тема» "
                       "(кроме первого периода данных: в нём всё появляется впервые)."),
        "undated": "{n} обращений без даты здесь не учтены.",
        "emerging": "Новые темы",
        "emerging_none": "После первого периода новых тем не появилось.",
        "grew": "Изменения за последний период ({last} к {previous})",
        "new_in": "новая в {period}",
        "table": "Кластеры",
        "search": "Поиск по кластерам и обращениям",
        "filter_all": "все кластеры",
        "filter_new": "новые в этом запуске",
        "filter_emerging": "новые темы",
        "filter_tentative": "предварительные",
        "shown": "показано кластеров: {n}",
        "col_cluster": "Кластер",
        "col_category": "Категория",
        "col_summary": "Описание и критерии",
        "col_run": "Этот запуск",
        "col_size": "Всего",
        "col_share": "Доля",
        "col_trend": "Динамика",
        "col_examples": "Примеры",
        "criteria": "Критерии",
        "requests_button": "Обращения ({n})",
        "repeat": "×{n}",
        "uncategorised": "Без категории",
        "legend": ("<b>предварительный</b> (tentative): в кластере пока меньше {min} обращений "
                   "(параметр модели <code>min_cluster_size</code>); он станет "
                   "<b>подтверждённым</b> (active), когда наберёт {min}. Это кандидат: "
                   "просмотрите его обращения, прежде чем включать в отчёт. <b>новый</b>: "
                   "создан этим запуском поверх существующей модели."),
        "sizes_note": ("<b>Всего</b> — обращения всех запусков этой модели; <b>этот "
                       "запуск</b> — только последнего."),
        "unassigned": "Обращения вне кластеров",
        "unassigned_note": ("{n} обращений этого запуска ({share}) не подошли ни к одному "
                            "кластеру (метка -1){empty}. Здесь ищите темы, которых нет среди "
                            "кластеров."),
        "empty_part": ", из них пустых: {n}",
        "unassigned_button": "Показать",
        "unassigned_title": "Обращения вне кластеров",
        "unassigned_absent": ("Самих обращений в отчёте нет (он построен только по модели); в "
                              "assignments.csv у них статус unassigned."),
        "no_intent": "Обращения без запроса",
        "no_intent_note": ("Приветствия, благодарности и другие сообщения, в которых ничего не "
                           "просят; они отделены от тем выше."),
        "usage": "Использование LLM",
        "u_llm": "LLM", "u_calls": "вызовы", "u_tokens": "токены",
        "u_retries": "повторы / неудачные вызовы", "u_cost": "стоимость",
        "calls_value": "{calls} (+{hits} из кэша)",
        "tokens_value": "{prompt} во входе + {completion} в ответах",
        "matching": "Обращения, содержащие «{q}»",
        "page": "{n} обращений · страница {page} из {pages}",
        "none": "Обращений нет.",
        "prev": "Назад", "next": "Дальше", "close": "Закрыть",
        "periods": {"day": "день", "week": "неделя", "month": "месяц"},
    },
}
_STATUS_RU = {"tentative": "предварительный", "new": "новый"}

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_language(texts: Sequence[str]) -> str:
    """``"ru"`` when most letters of ``texts`` are Cyrillic, else ``"en"``.

    Parameters
    ----------
    texts : sequence of str
        A sample is enough; the first 2,000 are read.

    Returns
    -------
    str

    Examples
    --------
    >>> detect_language(["Карта заблокирована", "card"]), detect_language(["login fails"])
    ('ru', 'en')
    """
    cyrillic = latin = 0
    for text in list(texts)[:2000]:
        text = str(text)
        cyrillic += len(_CYRILLIC.findall(text))
        latin += len(_LATIN.findall(text))
    return "ru" if cyrillic > latin else "en"


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _clip(text: str, limit: int = MAX_EXAMPLE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _distinct(examples: Sequence[str]) -> list[tuple[str, int]]:
    """Examples once each (case and spacing ignored), with how often each came."""
    counts: Counter = Counter()
    first: dict[str, str] = {}
    for example in examples:
        key = " ".join(str(example).split()).casefold()
        counts[key] += 1
        first.setdefault(key, example)
    return [(first[key], counts[key]) for key in first]


@dataclass
class _Summary:
    provider: str
    requests: int
    assigned: int
    empty: int
    coverage: float
    n_clusters: int
    new_clusters: int
    usage: LLMUsage
    cost: str
    business_context: str | None


def _describe_provider(model: Any) -> str:
    provider = getattr(model, "provider_", None)
    if provider == "offline":
        embedder = getattr(getattr(model, "embedder_", None), "name", None)
        return f"offline engine ({embedder}, no LLM)" if embedder else "offline engine (no LLM)"
    if provider is None:
        return "custom proposer and judge"
    name = getattr(provider, "name", None) or type(provider).__name__
    model_name = getattr(provider, "model", None)
    return f"{name}:{model_name}" if model_name else str(name)


def _cost(model: Any, usage: LLMUsage, price_per_million: tuple[float, float] | None) -> str:
    if price_per_million is not None:
        price_in, price_out = price_per_million
        dollars = usage.prompt_tokens / 1e6 * price_in + usage.completion_tokens / 1e6 * price_out
        return f"${dollars:,.4f} (at ${price_in:g} / ${price_out:g} per million tokens in / out)"
    provider = getattr(model, "provider_", None)
    if provider == "offline":
        return "none: the offline engine makes no LLM calls"
    if usage.calls == 0:
        return "none: no LLM calls were made"
    from ..llm.providers import is_remote_provider

    if provider is not None and not is_remote_provider(provider):
        return "none: a local model"
    return "not estimated (give the model's prices per million tokens to see it)"


def _summarise(model: Any, clusters: Sequence[Cluster], texts: Sequence[str] | None,
               price_per_million: tuple[float, float] | None) -> _Summary:
    labels = np.asarray(getattr(model, "labels_", np.empty(0, dtype=int)))
    usage = getattr(model, "llm_usage_", None) or LLMUsage()
    empty = 0
    if texts is not None:
        empty = sum(1 for t, k in zip(texts, labels) if k < 0 and not str(t).strip())
    return _Summary(
        provider=_describe_provider(model),
        requests=int(labels.size),
        assigned=int((labels >= 0).sum()),
        empty=empty,
        coverage=float(getattr(model, "coverage_", 0.0) or 0.0),
        n_clusters=len(clusters),
        new_clusters=len(_marked_new_ids(model, clusters)),
        usage=usage,
        cost=_cost(model, usage, price_per_million),
        business_context=getattr(model, "business_context", None),
    )


def chart_svg(clusters: Sequence[Cluster], *, top: int = 30,
              new_ids: Sequence[str] = (), language: str = "en") -> str | None:
    """The bar chart as an inline ``<svg>`` element, or ``None`` without matplotlib.

    Parameters
    ----------
    clusters : sequence of Cluster
        Largest first.
    top : int, default=30
    new_ids : sequence of str, default=()
    language : {"en", "ru"}, default="en"
        Of the axis label and the legend.

    Returns
    -------
    str or None
    """
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        return None
    n = min(len(clusters), top)
    # A bare Figure, not pyplot: no global state, no GUI backend, thread-safe.
    fig = Figure(figsize=(9, 1.2 + 0.32 * max(n, 1)), layout="constrained")
    draw_cluster_bars(fig.add_subplot(), clusters, top=top, new_ids=new_ids, title=False,
                      language=language)
    buffer = io.StringIO()
    # Real <text> elements (not glyph paths) keep the file small and let the
    # browser draw Cyrillic with its own fonts; a fixed salt keeps ids stable.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "llmcluster"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]  # drop the XML declaration and DOCTYPE
    svg = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"',
                 r'<svg \1', svg, count=1)  # the CSS sizes it
    return svg.replace("<svg ", '<svg role="img" aria-label="Bar chart of cluster sizes" ', 1)


def _html_bars(clusters: Sequence[Cluster], top: int, new_ids: Sequence[str]) -> str:
    shown = list(clusters)[:top]
    largest = max((c.size for c in shown), default=0) or 1
    rows = []
    for c in shown:
        width = 100.0 * c.size / largest
        css = "bar new" if c.id in new_ids else "bar"
        rows.append(
            f'<div class="bar-row"><span class="bar-label">{_esc(c.name)}</span>'
            f'<span class="bar-track"><span class="{css}" style="width:{width:.1f}%"></span></span>'
            f'<span class="bar-value">{c.size}</span></div>')
    note = ('<p class="note">Install matplotlib (<code>pip install '
            '"sklearn-llmcluster[plot]"</code>, or <code>pip install -e ".[plot]"</code> '
            "from a checkout) for the drawn chart.</p>")
    return f'<div class="html-bars">{"".join(rows)}</div>{note}'


def _cards(s: _Summary, t: dict) -> str:
    cards = [
        (f"{s.coverage:.1%}", t["coverage"].format(assigned=s.assigned, requests=s.requests)),
        (str(s.n_clusters), t["clusters"]),
        (str(s.requests - s.assigned), t["unassigned_card"]),
        (f"{s.usage.calls}", t["calls"]),
        (f"{s.usage.total_tokens:,}", t["tokens"]),
    ]
    if s.new_clusters:
        cards.insert(2, (str(s.new_clusters), t["new_clusters"]))
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="value">{_esc(v)}</div>'
        f'<div class="label">{_esc(k)}</div></div>'
        for v, k in cards) + "</div>"


def _usage(s: _Summary, t: dict) -> str:
    u = s.usage
    rows = [
        (t["u_llm"], s.provider),
        (t["u_calls"], t["calls_value"].format(calls=u.calls, hits=u.cache_hits)),
        (t["u_tokens"], t["tokens_value"].format(prompt=f"{u.prompt_tokens:,}",
                                                 completion=f"{u.completion_tokens:,}")),
        (t["u_retries"], f"{u.retries} / {u.failed_calls}"),
        (t["u_cost"], s.cost),
    ]
    return '<dl class="usage">' + "".join(
        f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in rows) + "</dl>"


def _spark(counts: Sequence[int], *, width: int = 90, height: int = 22,
           css: str = "spark", color: str = "#4c72b0", label: str = "",
           stretch: bool = False) -> str:
    """A polyline of ``counts``: an inline SVG a few hundred bytes long.

    ``stretch`` makes it as wide as its box (the trend chart's panels).
    """
    n = len(counts)
    top = max(max(counts, default=0), 1)
    if n == 1:
        points = [(width / 2, height - 2 - (height - 4) * counts[0] / top)]
    else:
        points = [(2 + (width - 4) * i / (n - 1), height - 2 - (height - 4) * c / top)
                  for i, c in enumerate(counts)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    last_x, last_y = points[-1]
    size = (f'width="100%" height="{height}" preserveAspectRatio="none"' if stretch
            else f'width="{width}" height="{height}"')
    line = (f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{path}"'
            + (' vector-effect="non-scaling-stroke"/>' if stretch else "/>"))
    dot = "" if stretch else f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="2" fill="{color}"/>'
    return (f'<svg class="{css}" {size} viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{_esc(label)}">{line}{dot}</svg>')


def _categories(model: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Category id -> name, and cluster id -> category id, from ``categories_``."""
    try:
        found = getattr(model, "categories_", None) or []
    except Exception:  # a property of a model fitted before categories existed
        found = []
    if isinstance(found, dict):
        found = list(found.values())
    names, members = {}, {}
    for category in found:
        get = category.get if isinstance(category, dict) else (
            lambda key, default=None, c=category: getattr(c, key, default))
        cid = get("id") or get("category_id")
        if cid is not None:
            names[str(cid)] = str(get("name") or cid)
            for cluster_id in get("cluster_ids") or []:
                members[str(cluster_id)] = str(cid)
    return names, members


def _category_of(cluster: Cluster, members: dict[str, str]) -> str | None:
    own = getattr(cluster, "category_id", None)
    return str(own) if own else members.get(cluster.id)


class _Trends:
    """What the report draws of a :func:`~sklearn_llmcluster.report.trends` table."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.period = table.attrs.get("period", "week")
        self.undated = int(table.attrs.get("undated", 0))
        self.periods = list(dict.fromkeys(table["period"]))
        self.series: dict[int, list[int]] = {}
        for label, group in table.groupby("label", sort=False):
            self.series[int(label)] = group.sort_values("period_start")["count"].tolist()
        flagged = table[table["emerging"]]
        self.emerging = dict(zip(flagged["cluster_id"], flagged["period"]))


def _trend_section(trend: _Trends, clusters: Sequence[Cluster], label_of: dict[str, int],
                   t: dict) -> str:
    period = t["periods"][trend.period]
    totals = sorted(((sum(trend.series.get(label_of[c.id], [])), c) for c in clusters),
                    key=lambda pair: -pair[0])
    chosen = [c for total, c in totals[:TREND_PANELS] if total > 0]
    chosen += [c for c in clusters if c.id in trend.emerging and c not in chosen]
    panels = []
    for c in chosen:
        counts = trend.series.get(label_of[c.id], [])
        new = c.id in trend.emerging
        since = t["new_in"].format(period=trend.emerging.get(c.id, ""))
        badge = f' <span class="badge emerging">{_esc(since)}</span>' if new else ""
        panels.append(
            f'<div class="panel{" emerging" if new else ""}" data-cluster-id="{_esc(c.id)}">'
            f'<div class="title" title="{_esc(c.name)}">{_esc(c.name)}</div>'
            f'<div class="sub">{sum(counts)} · {_esc(trend.periods[0])} – '
            f'{_esc(trend.periods[-1])}{badge}</div>'
            + _spark(counts, width=210, height=56, css="trend", stretch=True,
                     color="#dd8452" if new else "#4c72b0", label=c.name) + "</div>")
    emerging = [c for c in clusters if c.id in trend.emerging]
    if emerging:
        items = "".join(
            f'<li><span class="name">{_esc(c.name)}</span> '
            f'<span class="badge emerging">{_esc(t["new_in"].format(period=trend.emerging[c.id]))}'
            f'</span> {sum(trend.series.get(label_of[c.id], []))}</li>' for c in emerging)
        emerging_html = f'<ul id="emerging-list">{items}</ul>'
    else:
        emerging_html = f'<p class="note">{_esc(t["emerging_none"].format(period=period))}</p>'
    changes = ""
    if len(trend.periods) > 1:
        moves = sorted(((s[-1] - s[-2], label) for label, s in trend.series.items()
                        if label >= 0 and len(s) > 1 and s[-1] != s[-2]), reverse=True)
        shown = moves[:5] + [m for m in moves[-5:] if m[0] < 0 and m not in moves[:5]]
        by_label = {label_of[c.id]: c for c in clusters}
        rows = "".join(
            f'<tr><td>{_esc(by_label[label].name)}</td>'
            f'<td class="num">{trend.series[label][-2]} → {trend.series[label][-1]}</td>'
            f'<td class="num">{delta:+d}</td></tr>'
            for delta, label in shown if label in by_label)
        if rows:
            heading = t["grew"].format(period=period, last=trend.periods[-1],
                                       previous=trend.periods[-2])
            changes = (f"<h3>{_esc(heading)}</h3>"
                       f'<div class="table-wrap"><table id="changes"><tbody>{rows}</tbody>'
                       "</table></div>")
    undated = (f'<p class="note">{_esc(t["undated"].format(n=trend.undated))}</p>'
               if trend.undated else "")
    return (f'<section id="trends"><h2>{_esc(t["trends"].format(period=period))}</h2>'
            f'<p class="note">{_esc(t["trend_note"].format(period=period))}</p>{undated}'
            f'<div class="small-multiples" id="trend-chart">{"".join(panels)}</div>'
            f'<h3>{_esc(t["emerging"])}</h3>{emerging_html}{changes}</section>')


def _table(clusters: Sequence[Cluster], new_ids: Sequence[str], t: dict, *,
           label_of: dict[str, int], run_counts: np.ndarray | None, show_run: bool,
           trend: _Trends | None, categories: tuple[dict, dict], drill: bool,
           language: str) -> str:
    total = sum(c.size for c in clusters) or 1
    new = set(new_ids)
    categories, members = categories
    grouped = bool(categories) or any(_category_of(c, members) for c in clusters)
    order = list(clusters)
    if grouped:
        # By category (largest category first, ties by id so that two
        # categories of one size do not interleave), then by size; "no
        # category" last.
        weight: Counter = Counter()
        for c in clusters:
            weight[_category_of(c, members)] += c.size
        order.sort(key=lambda c: (_category_of(c, members) is None,
                                  -weight[_category_of(c, members)],
                                  str(_category_of(c, members)), -c.size))
    rows = []
    current: Any = object()
    columns = 6 + show_run + grouped + (trend is not None)
    for rank, c in enumerate(order, start=1):
        category = _category_of(c, members)
        category_name = categories.get(str(category), str(category)) if category else \
            t["uncategorised"]
        if grouped and category != current:
            current = category
            rows.append(f'<tr class="category-row"><td colspan="{columns}">'
                        f"{_esc(category_name)}</td></tr>")
        label = label_of[c.id]
        tags = []
        badges = ""
        if c.id in new:
            tags.append("new")
            badges += f'<span class="badge new">{_esc(_status(language, "new"))}</span>'
        if c.status == "tentative":
            tags.append("tentative")
            badges += ('<span class="badge tentative">'
                       f'{_esc(_status(language, "tentative"))}</span>')
        if trend is not None and c.id in trend.emerging:
            tags.append("emerging")
            badges += (f'<span class="badge emerging">'
                       f'{_esc(t["new_in"].format(period=trend.emerging[c.id]))}</span>')
        examples = "".join(
            f"<li>{_esc(_clip(text))}"
            + (f' <span class="repeat">{_esc(t["repeat"].format(n=n))}</span>' if n > 1 else "")
            + "</li>" for text, n in _distinct(c.examples))
        criteria = (f'<div class="criteria">{_esc(t["criteria"])}: {_esc(c.criteria)}</div>'
                    if c.criteria else "")
        search = " ".join([c.name, c.summary, c.criteria, c.id, category_name,
                           *(_clip(e) for e in c.examples)])
        in_run = int(run_counts[label]) \
            if run_counts is not None and 0 <= label < len(run_counts) else 0
        button = ""
        if drill:
            button = (f'<div><button type="button" data-label="{label}" '
                      f'data-title="{_esc(c.name)}">'
                      f'{_esc(t["requests_button"].format(n=in_run))}</button></div>')
        cells = [f'<td class="num" data-value="{rank}">{rank}</td>',
                 f'<td data-value="{_esc(c.name.casefold())}"><div class="name">{_esc(c.name)}'
                 f'{badges}</div><div class="cid">{_esc(c.id)}</div>{button}</td>']
        if grouped:
            cells.append(f"<td>{_esc(category_name)}</td>")
        cells.append(f'<td class="col-summary">{_esc(c.summary)}{criteria}</td>')
        if show_run:
            cells.append(f'<td class="num" data-value="{in_run}">{in_run}</td>')
        cells += [f'<td class="num" data-value="{c.size}">{c.size}</td>',
                  f'<td class="num" data-value="{c.size / total:.6f}">{c.size / total:.1%}</td>']
        if trend is not None:
            series = trend.series.get(label, [0] * len(trend.periods))
            cells.append(f'<td class="col-trend" data-value="{sum(series)}">'
                         f'{_spark(series, label=c.name)}</td>')
        cells.append(f'<td class="col-examples"><ul class="examples">{examples}</ul></td>')
        row_class = "cluster-row new" if c.id in new else "cluster-row"
        rows.append(f'<tr class="{row_class}" data-cluster-id="{_esc(c.id)}" '
                    f'data-tags="{" ".join(tags)}" data-search="{_esc(search.casefold())}">'
                    + "".join(cells) + "</tr>")
    head = ['<th data-sort="number">#</th>', f'<th data-sort="text">{_esc(t["col_cluster"])}</th>']
    if grouped:
        head.append(f'<th data-sort="text">{_esc(t["col_category"])}</th>')
    head.append(f'<th class="col-summary">{_esc(t["col_summary"])}</th>')
    if show_run:
        head.append(f'<th data-sort="number">{_esc(t["col_run"])}</th>')
    head += [f'<th data-sort="number">{_esc(t["col_size"])}</th>',
             f'<th data-sort="number">{_esc(t["col_share"])}</th>']
    if trend is not None:
        head.append(f'<th class="col-trend" data-sort="number">{_esc(t["col_trend"])}</th>')
    head.append(f'<th class="col-examples">{_esc(t["col_examples"])}</th>')
    return ('<div class="table-wrap"><table id="clusters"><thead><tr>' + "".join(head)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>")


def _status(language: str, status: str) -> str:
    return _STATUS_RU[status] if language == "ru" else status


def _controls(t: dict, trend: _Trends | None, has_new: bool, n: int) -> str:
    options = [("", t["filter_all"]), ("tentative", t["filter_tentative"])]
    if has_new:
        options.insert(1, ("new", t["filter_new"]))
    if trend is not None and trend.emerging:
        options.insert(1, ("emerging", t["filter_emerging"]))
    select = "".join(f'<option value="{v}">{_esc(k)}</option>' for v, k in options)
    return (f'<div class="controls"><input type="search" id="search" '
            f'placeholder="{_esc(t["search"])}" aria-label="{_esc(t["search"])}">'
            f'<select id="filter" aria-label="filter">{select}</select>'
            f'<span class="note" id="shown">{_esc(t["shown"].format(n=n))}</span></div>')


def _drilldown(t: dict) -> str:
    return (f'<div id="drilldown" hidden><h3 class="dd-title"></h3>'
            f'<div class="pager"><button type="button" class="dd-prev">{_esc(t["prev"])}'
            f'</button><button type="button" class="dd-next">{_esc(t["next"])}</button>'
            f'<span class="note dd-count"></span><button type="button" class="dd-close">'
            f'{_esc(t["close"])}</button></div><ol></ol></div>')


def _fit_budget(texts: Sequence[str], budget: int = None) -> list[str]:
    """``texts`` cut so that together they take at most ``budget`` bytes of UTF-8.

    Short texts stay whole: one limit (at most :data:`MAX_ROW_CHARS`) cuts
    only the longer ones, as few as possible, so 50,000 requests of any
    length keep the page under 10 MB.
    """
    budget = ROW_BYTES_BUDGET if budget is None else budget
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    if not lengths.size:
        return []
    sizes = np.fromiter((len(t.encode("utf-8")) for t in texts), dtype=np.int64,
                        count=len(texts))
    per_char = sizes / np.maximum(lengths, 1)
    low, high = 20, MAX_ROW_CHARS
    if (np.minimum(lengths, high) * per_char).sum() > budget:
        while low < high:  # the longest limit that fits the budget
            middle = (low + high + 1) // 2
            if (np.minimum(lengths, middle) * per_char).sum() <= budget:
                low = middle
            else:
                high = middle - 1
    return [_clip(t, high) for t in texts]


def _data_json(payload: dict) -> str:
    # Inside <script>: "<" escaped, so no "</script>" or "<!--" in a request ends the block.
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace(
        "\u2029", "\\u2029")


def build_report(model: Any, texts: Sequence[str] | None = None, *,
                 times: Sequence[Any] | None = None, period: str | None = None,
                 language: str | None = None, title: str | None = None, top: int = 30,
                 price_per_million: tuple[float, float] | None = None,
                 redact_pii: bool = False) -> str:
    """Render the HTML report of a fitted model.

    Parameters
    ----------
    model : LLMClusterer or ClusteringPipeline
        Fitted. Coverage, usage, "this run" counts and new clusters describe
        its last ``fit``/``partial_fit`` call; sizes count every call.
    texts : sequence of str, optional
        The texts of that call, in order (one per ``model.labels_``): each
        cluster then opens to all its requests (a page at a time), the search
        box finds requests too, and the requests no cluster fits are listed.
        Long ones are cut in the page (to 300 characters, less for very
        many requests: the page stays under 10 MB); assignments.csv has them whole.
    times : sequence, optional
        When each of those requests came (datetimes, dates or strings such as
        ``2026-11-02``): adds the trend chart, sparklines, and the emerging clusters
        (see :func:`~sklearn_llmcluster.report.trends`).
    period : {"day", "week", "month"}, optional
        Period of the trends; default: chosen from the span of ``times``.
    language : {"en", "ru"}, optional
        Language of the headings; default: that of the texts (or of the
        clusters' names and examples without them).
    title : str, optional
        Default: "Request clusters" in the report's language.
    top : int, default=30
        Bars in the chart; the table lists every cluster.
    price_per_million : (float, float), optional
        Price in dollars per million prompt and completion tokens, for the
        cost line; without it only local and offline runs show a cost (none).
    redact_pii : bool, default=False
        Show cluster names, summaries, criteria, examples and requests with
        person names, e-mails, phones, cards, bank accounts and other personal
        data replaced by placeholders (see
        :func:`~sklearn_llmcluster.privacy.redaction.redact_pii`), for a report
        that is mailed around. The model keeps its texts as they are.

    Returns
    -------
    str
        A complete HTML document that needs no network.

    Raises
    ------
    ValueError
        If ``texts`` or ``times`` are not one per label of the last call, or
        ``language`` is not one of :data:`LANGUAGES`.

    Examples
    --------
    >>> from sklearn_llmcluster import LLMClusterer
    >>> from sklearn_llmcluster.testing import ScriptedProvider
    >>> texts = ["card blocked", "card stolen", "login fails"]
    >>> model = LLMClusterer(ScriptedProvider(), n_jobs=1).fit(texts)
    >>> page = build_report(model, texts, times=["2026-11-02", "2026-11-09", "2026-11-10"])
    >>> page.count('class="cluster-row'), 'id="trend-chart"' in page
    (2, True)
    """
    estimator = getattr(model, "model", model)  # ClusteringPipeline wraps an LLMClusterer
    labels = np.asarray(getattr(estimator, "labels_", np.empty(0, dtype=int)), dtype=int)
    if texts is not None:
        texts = [str(text) for text in texts]
        if len(texts) != len(labels):
            raise ValueError(f"texts has {len(texts)} items, but the model's last fit or "
                             f"partial_fit labelled {len(labels)}: pass the texts of that call")
    if times is not None and len(times) != len(labels):
        raise ValueError(f"times has {len(times)} items, but the model's last fit or "
                         f"partial_fit labelled {len(labels)}: one time per text of that call")
    if language not in (None, "auto", *LANGUAGES):
        raise ValueError(f"language must be 'en', 'ru' or None (that of the data), "
                         f"got {language!r}")
    every = list(getattr(estimator, "clusters_", None) or clusters_of(model))
    label_of = {c.id: k for k, c in enumerate(every)}
    shown = clusters_of(model)
    for c in shown:
        label_of.setdefault(c.id, -2)
    redact = None
    if redact_pii:
        from ..privacy.redaction import redact_pii as redact

        shown = [replace(
            c, name=redact(c.name), summary=redact(c.summary), criteria=redact(c.criteria),
            examples=[redact(e) for e in c.examples]) for c in shown]
    if language in (None, "auto"):
        sample = texts if texts else [x for c in shown for x in (c.name, *c.examples)]
        language = detect_language(sample)
    t = _TEXT[language]
    title = title or t["title"]
    topics = [c for c in shown if getattr(c, "kind", "topic") != "no_intent"]
    no_intent = [c for c in shown if getattr(c, "kind", "topic") == "no_intent"]
    summary = _summarise(estimator, shown, texts, price_per_million)
    new_ids = _marked_new_ids(estimator, shown)
    run_counts = np.bincount(labels[labels >= 0], minlength=len(every)) if labels.size else None
    show_run = run_counts is not None and any(
        label_of[c.id] >= 0 and run_counts[label_of[c.id]] != c.size for c in shown)

    trend = None
    if times is not None:
        from .trends import trends as count_trends

        trend = _Trends(count_trends(labels, times, every, period=period))

    chart = chart_svg(topics, top=top, new_ids=new_ids, language=language) if topics else None
    if not topics:
        chart_html = f'<p class="note">{_esc(t["no_clusters"])}</p>'
    elif chart is None:
        chart_html = _html_bars(topics, top, new_ids)
    else:
        chart_html = chart
    if len(topics) > top:
        chart_html += f'<p class="note">{_esc(t["largest_of"].format(top=top, n=len(topics)))}</p>'
    context = ""
    if summary.business_context:
        context = f'<p class="meta">{_esc(t["context"])}: {_esc(summary.business_context)}</p>'
    drill = texts is not None
    # The registry's size: min_cluster_size may say "auto".
    min_size = getattr(getattr(estimator, "registry_", None), "min_cluster_size", None) or 5
    legend = t["legend"].format(min=_esc(min_size))
    if show_run:
        legend += " " + t["sizes_note"]
    table_kwargs = dict(label_of=label_of, run_counts=run_counts, show_run=show_run, trend=trend,
                        categories=_categories(estimator), drill=drill, language=language)
    table = (_controls(t, trend, bool(new_ids), len(topics))
             + _table(topics, new_ids, t, **table_kwargs)) if topics else \
        f'<p class="note">{_esc(t["no_clusters"])}</p>'

    unassigned_n = int((labels < 0).sum())
    empty = t["empty_part"].format(n=summary.empty) if summary.empty else ""
    share = f"{unassigned_n / labels.size:.1%}" if labels.size else "0%"
    unassigned = (f'<section id="unassigned"><h2>{_esc(t["unassigned"])}</h2><p>'
                  f'{_esc(t["unassigned_note"].format(n=unassigned_n, share=share, empty=empty))}'
                  "</p>")
    if drill and unassigned_n:
        unassigned += (f'<button type="button" id="unassigned-list" '
                       f'data-title="{_esc(t["unassigned_title"])}">'
                       f'{_esc(t["unassigned_button"])} ({unassigned_n})</button>')
    elif unassigned_n:
        unassigned += f'<p class="note">{_esc(t["unassigned_absent"])}</p>'
    unassigned += "</section>"
    no_intent_html = ""
    if no_intent:
        no_intent_html = (f'<section id="no-intent"><h2>{_esc(t["no_intent"])}</h2>'
                          f'<p class="note">{_esc(t["no_intent_note"])}</p>'
                          + _table(no_intent, new_ids, t, **table_kwargs).replace(
                              'id="clusters"', 'id="no-intent-clusters"') + "</section>")

    payload = {"labels": [], "texts": [], "names": [], "times": None, "page_size": PAGE_SIZE,
               "text": {k: t[k] for k in ("page", "none", "matching", "shown")}}
    if drill:
        rows = _fit_budget(texts)
        if redact is not None:
            rows = [redact(x) for x in rows]
        payload["labels"] = labels.tolist()
        payload["texts"] = rows
        payload["names"] = [redact(c.name) if redact else c.name for c in every]
        if trend is not None:
            from .trends import parse_times

            stamps = parse_times(times)
            known = stamps.dropna()
            fmt = "%Y-%m-%d %H:%M" if (known.dt.floor("D") != known).any() else "%Y-%m-%d"
            payload["times"] = stamps.dt.strftime(fmt).fillna("").tolist()
    sections = [f'<section><h2>{_esc(t["sizes"])}</h2><div id="chart">{chart_html}</div>'
                "</section>"]
    if trend is not None:
        sections.append(_trend_section(trend, topics, label_of, t))
    sections.append(f'<section id="clusters-section"><h2>{_esc(t["table"])}</h2>'
                    f'<p class="note" id="legend">{legend}</p>{table}{_drilldown(t)}</section>')
    sections.append(unassigned)
    if no_intent_html:
        sections.append(no_intent_html)
    sections.append(f'<section><h2>{_esc(t["usage"])}</h2>{_usage(summary, t)}</section>')
    return f"""<!DOCTYPE html>
<html lang="{language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>{_esc(title)}</h1>
<p class="meta">{_esc(t["generated"].format(when=utc_now()))} · {_esc(summary.provider)}</p>
{context}
{_cards(summary, t)}
</header>
{"".join(sections)}
<script type="application/json" id="report-data">{_data_json(payload)}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""


def write_report(model: Any, path: str | os.PathLike, **options: Any) -> None:
    """Write :func:`build_report` output to ``path`` as UTF-8, atomically.

    Parameters
    ----------
    model : LLMClusterer or ClusteringPipeline
    path : str or path-like
    **options
        Passed to :func:`build_report`.
    """
    atomic_write_text(path, build_report(model, **options))
