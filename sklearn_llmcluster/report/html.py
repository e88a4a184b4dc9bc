"""``report.html``: one self-contained page describing a fitted model.

The page has no scripts and fetches nothing: styles are inline, the chart is
an inline SVG drawn by matplotlib (or plain HTML bars when matplotlib is not
installed), and every piece of user text is escaped, because requests can
contain anything, ``<script>`` included.
"""

from __future__ import annotations


import html
import io
import os
import re
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from ..io.atomic import atomic_write_text
from ..records import Cluster, LLMUsage, utc_now
from .plot import _marked_new_ids, clusters_of, draw_cluster_bars

__all__ = ["build_report", "write_report", "chart_svg"]


#: Longer examples are cut in the table (the full texts are in assignments.csv).
MAX_EXAMPLE_CHARS = 300


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _clip(text: str, limit: int = MAX_EXAMPLE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class _Summary:
    provider: str
    requests: int
    assigned: int
    coverage: float
    n_clusters: int
    new_clusters: int
    usage: LLMUsage
    cost: str
    business_context: str | None


def _describe_provider(model: Any) -> str:
    provider = getattr(model, "provider_", None)
    if provider == "offline":
        return "offline engine (TF-IDF, no LLM)"
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


def _summarise(model: Any, clusters: Sequence[Cluster],
               price_per_million: tuple[float, float] | None) -> _Summary:
    labels = np.asarray(getattr(model, "labels_", np.empty(0, dtype=int)))
    usage = getattr(model, "llm_usage_", None) or LLMUsage()
    return _Summary(
        provider=_describe_provider(model),
        requests=int(labels.size),
        assigned=int((labels >= 0).sum()),
        coverage=float(getattr(model, "coverage_", 0.0) or 0.0),
        n_clusters=len(clusters),
        new_clusters=len(_marked_new_ids(model, clusters)),
        usage=usage,
        cost=_cost(model, usage, price_per_million),
        business_context=getattr(model, "business_context", None),
    )


def chart_svg(clusters: Sequence[Cluster], *, top: int = 30,
              new_ids: Sequence[str] = ()) -> str | None:
    """The bar chart as an inline ``<svg>`` element, or ``None`` without matplotlib.

    Parameters
    ----------
    clusters : sequence of Cluster
        Largest first.
    top : int, default=30
    new_ids : sequence of str, default=()

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
    draw_cluster_bars(fig.add_subplot(), clusters, top=top, new_ids=new_ids, title=False)
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


_STYLE = """
:root { --fg:#1f2328; --muted:#656d76; --line:#d0d7de; --accent:#4c72b0; --new:#dd8452; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
       color: var(--fg); margin: 0 auto; max-width: 1200px; padding: 24px; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 28px 0 10px; }
.meta, .note { color: var(--muted); font-size: .9rem; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 16px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 150px; }
.card .value { font-size: 1.4rem; font-weight: 600; }
.card .label { color: var(--muted); font-size: .85rem; }
#chart svg { width: 100%; height: auto; max-width: 900px; }
.html-bars { max-width: 900px; }
.bar-row { display: flex; align-items: center; gap: 8px; margin: 3px 0; font-size: .85rem; }
.bar-label { width: 35%; text-align: right; overflow: hidden; white-space: nowrap;
             text-overflow: ellipsis; }
.bar-track { flex: 1; background: #f0f2f4; height: 14px; border-radius: 3px; }
.bar { display: block; height: 100%; background: var(--accent); border-radius: 3px; }
.bar.new { background: var(--new); }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border-bottom: 1px solid var(--line); padding: 8px; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; position: sticky; top: 0; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.name { font-weight: 600; }
.cid { color: var(--muted); font-size: .8rem; }
.badge { display: inline-block; border-radius: 10px; padding: 0 7px; font-size: .75rem;
         margin-left: 4px; }
.badge.new { background: var(--new); color: #fff; }
.badge.tentative { border: 1px solid var(--line); color: var(--muted); }
.criteria { color: var(--muted); margin-top: 4px; }
ul.examples { margin: 0; padding-left: 18px; }
ul.examples li { margin: 2px 0; word-break: break-word; }
dl.usage { display: grid; grid-template-columns: max-content auto; gap: 4px 16px; }
dl.usage dt { color: var(--muted); }
dl.usage dd { margin: 0; }
"""


def _cards(s: _Summary) -> str:
    cards = [
        (f"{s.coverage:.1%}", f"coverage ({s.assigned} of {s.requests} requests)"),
        (str(s.n_clusters), "clusters"),
        (f"{s.usage.calls}", "LLM calls"),
        (f"{s.usage.total_tokens:,}", "tokens"),
    ]
    if s.new_clusters:
        cards.insert(2, (str(s.new_clusters), "new clusters in this run"))
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="value">{_esc(v)}</div>'
        f'<div class="label">{_esc(k)}</div></div>'
        for v, k in cards) + "</div>"


def _usage(s: _Summary) -> str:
    u = s.usage
    rows = [
        ("LLM", s.provider),
        ("calls", f"{u.calls} (+{u.cache_hits} answered from the cache)"),
        ("tokens", f"{u.prompt_tokens:,} prompt + {u.completion_tokens:,} completion"),
        ("retries / failed calls", f"{u.retries} / {u.failed_calls}"),
        ("cost", s.cost),
    ]
    return '<dl class="usage">' + "".join(
        f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in rows) + "</dl>"


def _table(clusters: Sequence[Cluster], new_ids: Sequence[str]) -> str:
    total = sum(c.size for c in clusters) or 1
    new = set(new_ids)
    rows = []
    for rank, c in enumerate(clusters, start=1):
        badges = ""
        if c.id in new:
            badges += '<span class="badge new">new</span>'
        if c.status == "tentative":
            badges += '<span class="badge tentative">tentative</span>'
        examples = "".join(f"<li>{_esc(_clip(e))}</li>" for e in c.examples)
        criteria = f'<div class="criteria">Criteria: {_esc(c.criteria)}</div>' if c.criteria else ""
        row_class = "cluster-row new" if c.id in new else "cluster-row"
        rows.append(
            f'<tr class="{row_class}" data-cluster-id="{_esc(c.id)}">'
            f'<td class="num">{rank}</td>'
            f'<td><div class="name">{_esc(c.name)}{badges}</div>'
            f'<div class="cid">{_esc(c.id)}</div></td>'
            f"<td>{_esc(c.summary)}{criteria}</td>"
            f'<td class="num">{c.size}</td>'
            f'<td class="num">{c.size / total:.1%}</td>'
            f'<td><ul class="examples">{examples}</ul></td></tr>')
    return ('<table id="clusters"><thead><tr><th>#</th><th>Cluster</th>'
            '<th>Summary and criteria</th><th>Size</th><th>Share</th><th>Examples</th>'
            '</tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def build_report(model: Any, *, title: str = "Request clusters", top: int = 30,
                 price_per_million: tuple[float, float] | None = None,
                 redact_pii: bool = False) -> str:
    """Render the HTML report of a fitted model.

    Parameters
    ----------
    model : LLMClusterer or ClusteringPipeline
        Fitted. Coverage, usage and new clusters describe its last
        ``fit``/``partial_fit`` call; sizes count every call.
    title : str, default="Request clusters"
    top : int, default=30
        Bars in the chart; the table lists every cluster.
    price_per_million : (float, float), optional
        Price in dollars per million prompt and completion tokens, for the
        cost line; without it only local and offline runs show a cost (none).
    redact_pii : bool, default=False
        Show cluster names, summaries, criteria and examples with person
        names, e-mails, phones, cards, bank accounts and other personal data
        replaced by placeholders (see
        :func:`~sklearn_llmcluster.privacy.redaction.redact_pii`), for a report that
        is mailed around. The model keeps its texts as they are.

    Returns
    -------
    str
        A complete HTML document that needs no network.

    Examples
    --------
    >>> from sklearn_llmcluster import LLMClusterer
    >>> from sklearn_llmcluster.testing import ScriptedProvider
    >>> model = LLMClusterer(ScriptedProvider(), n_jobs=1).fit(
    ...     ["card blocked", "card stolen", "login fails"])
    >>> page = build_report(model)
    >>> page.count('class="cluster-row')
    2
    """
    estimator = getattr(model, "model", model)  # ClusteringPipeline wraps an LLMClusterer
    clusters = clusters_of(model)
    if redact_pii:
        from ..privacy.redaction import redact_pii as redact

        clusters = [replace(
            c, name=redact(c.name), summary=redact(c.summary), criteria=redact(c.criteria),
            examples=[redact(e) for e in c.examples]) for c in clusters]
    summary = _summarise(estimator, clusters, price_per_million)
    new_ids = _marked_new_ids(estimator, clusters)
    chart = chart_svg(clusters, top=top, new_ids=new_ids) if clusters else None
    if not clusters:
        chart_html = '<p class="note">No clusters were found.</p>'
    elif chart is None:
        chart_html = _html_bars(clusters, top, new_ids)
    else:
        chart_html = chart
    if len(clusters) > top:
        chart_html += f'<p class="note">The {top} largest of {len(clusters)} clusters.</p>'
    context = ""
    if summary.business_context:
        context = f'<p class="meta">Business context: {_esc(summary.business_context)}</p>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<h1>{_esc(title)}</h1>
<p class="meta">Generated {_esc(utc_now())} by sklearn_llmcluster · {_esc(summary.provider)}</p>
{context}
{_cards(summary)}
</header>
<section>
<h2>Cluster sizes</h2>
<div id="chart">{chart_html}</div>
</section>
<section>
<h2>Clusters, largest first</h2>
{_table(clusters, new_ids) if clusters else '<p class="note">No clusters.</p>'}
</section>
<section>
<h2>LLM usage</h2>
{_usage(summary)}
</section>
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
