"""The report's stylesheet and script, inlined into every page (it fetches nothing)."""

STYLE = """
:root { --fg:#1f2328; --muted:#656d76; --line:#d0d7de; --accent:#4c72b0; --new:#dd8452;
        --soft:#f6f8fa; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
       color: var(--fg); margin: 0 auto; max-width: 1200px; padding: 24px; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 28px 0 10px; }
h3 { font-size: 1rem; margin: 18px 0 6px; }
.meta, .note { color: var(--muted); font-size: .9rem; }
nav.toc { font-size: .9rem; margin-top: 8px; }
nav.toc a { margin-right: 14px; }
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
.controls { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 8px 0; }
.controls input[type=search] { flex: 1; min-width: 200px; padding: 6px 10px; font-size: 1rem;
                               border: 1px solid var(--line); border-radius: 6px; }
.controls select { padding: 6px; border: 1px solid var(--line); border-radius: 6px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border-bottom: 1px solid var(--line); padding: 8px; text-align: left;
         vertical-align: top; }
th { background: var(--soft); position: sticky; top: 0; }
th[data-sort] { cursor: pointer; user-select: none; white-space: nowrap; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.category-row td { background: var(--soft); font-weight: 600; }
.name { font-weight: 600; }
.cid { color: var(--muted); font-size: .8rem; }
.badge { display: inline-block; border-radius: 10px; padding: 0 7px; font-size: .75rem;
         margin-left: 4px; }
.badge.new, .badge.emerging { background: var(--new); color: #fff; }
.badge.tentative { border: 1px solid var(--line); color: var(--muted); }
.criteria { color: var(--muted); margin-top: 4px; }
ul.examples { margin: 0; padding-left: 18px; }
ul.examples li { margin: 2px 0; word-break: break-word; }
.repeat { color: var(--muted); font-size: .8rem; }
button { font: inherit; font-size: .85rem; padding: 3px 10px; border: 1px solid var(--line);
         border-radius: 6px; background: #fff; cursor: pointer; }
button:hover { background: var(--soft); }
button:disabled { opacity: .5; cursor: default; }
#drilldown { border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px;
             margin-top: 16px; background: #fff; }
#drilldown[hidden] { display: none; }
#drilldown ol { padding-left: 3.2em; }
#drilldown li { margin: 3px 0; word-break: break-word; }
#drilldown .when { color: var(--muted); font-size: .8rem; margin-right: 6px; }
.pager { display: flex; gap: 8px; align-items: center; margin-top: 8px; }
.small-multiples { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr));
                   gap: 12px; }
.panel { border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; }
.panel .title { font-size: .85rem; font-weight: 600; overflow: hidden; white-space: nowrap;
                text-overflow: ellipsis; }
.panel .sub { color: var(--muted); font-size: .8rem; }
.panel svg, td svg.spark { display: block; }
.panel.emerging { border-color: var(--new); }
dl.usage { display: grid; grid-template-columns: max-content auto; gap: 4px 16px; }
dl.usage dt { color: var(--muted); }
dl.usage dd { margin: 0; }
@media (max-width: 700px) {
  body { padding: 12px; }
  .card { min-width: 0; flex: 1 1 40%; }
  th, td { padding: 6px 4px; }
  .col-summary, .col-examples, .col-trend { display: none; }
}
"""

# Renders requests from the embedded JSON with textContent only: a request's
# "<script>" stays text. Rows are drawn a page at a time, so 50,000 requests
# cost nothing until someone asks to see them.
SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var T = data.text;
  var PAGE = data.page_size;
  var byLabel = null, lowered = null;
  function rowsOf(label) {
    if (byLabel === null) {
      byLabel = {};
      for (var i = 0; i < data.labels.length; i++) {
        var k = data.labels[i];
        (byLabel[k] = byLabel[k] || []).push(i);
      }
    }
    return byLabel[label] || [];
  }
  var panel = document.getElementById("drilldown");
  var state = { rows: [], page: 0 };
  function show(title, rows, focus) {
    state.rows = rows; state.page = 0;
    panel.querySelector(".dd-title").textContent = title;
    panel.hidden = false;
    draw();
    if (focus) { panel.scrollIntoView({ block: "start" }); }
  }
  function draw() {
    var list = panel.querySelector("ol");
    list.textContent = "";
    var pages = Math.max(1, Math.ceil(state.rows.length / PAGE));
    var start = state.page * PAGE;
    list.start = start + 1;
    state.rows.slice(start, start + PAGE).forEach(function (i) {
      var li = document.createElement("li");
      if (data.times && data.times[i]) {
        var when = document.createElement("span");
        when.className = "when"; when.textContent = data.times[i];
        li.appendChild(when);
      }
      li.appendChild(document.createTextNode(data.texts[i]));
      if (data.show_cluster && data.labels[i] >= 0) {
        var c = document.createElement("span");
        c.className = "cid"; c.textContent = " \u2192 " + data.names[data.labels[i]];
        li.appendChild(c);
      }
      list.appendChild(li);
    });
    panel.querySelector(".dd-count").textContent = state.rows.length === 0 ? T.none :
      T.page.replace("{page}", state.page + 1).replace("{pages}", pages)
            .replace("{n}", state.rows.length);
    panel.querySelector(".dd-prev").disabled = state.page === 0;
    panel.querySelector(".dd-next").disabled = state.page >= pages - 1;
  }
  panel.querySelector(".dd-prev").addEventListener("click", function () {
    state.page -= 1; draw();
  });
  panel.querySelector(".dd-next").addEventListener("click", function () {
    state.page += 1; draw();
  });
  panel.querySelector(".dd-close").addEventListener("click", function () {
    panel.hidden = true;
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-label]");
    if (!button) { return; }
    var label = Number(button.getAttribute("data-label"));
    data.show_cluster = false;
    show(button.getAttribute("data-title"), rowsOf(label), true);
  });

  var table = document.getElementById("clusters");
  var body = table ? table.tBodies[0] : null;
  var search = document.getElementById("search");
  var filter = document.getElementById("filter");
  var counter = document.getElementById("shown");
  function apply() {
    var query = search.value.trim().toLowerCase();
    var wanted = filter ? filter.value : "";
    var shown = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      if (row.classList.contains("category-row")) { return; }
      var ok = (!query || row.getAttribute("data-search").indexOf(query) >= 0) &&
               (!wanted ||
                (" " + row.getAttribute("data-tags") + " ").indexOf(" " + wanted + " ") >= 0);
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    Array.prototype.forEach.call(body.querySelectorAll("tr.category-row"), function (head) {
      var next = head.nextElementSibling, any = false;
      while (next && !next.classList.contains("category-row")) {
        if (!next.hidden) { any = true; }
        next = next.nextElementSibling;
      }
      head.hidden = !any;
    });
    counter.textContent = T.shown.replace("{n}", shown);
    if (query.length >= 2 && data.texts.length) {
      if (lowered === null) { lowered = data.texts.map(function (t) { return t.toLowerCase(); }); }
      var hits = [];
      for (var i = 0; i < lowered.length; i++) {
        if (lowered[i].indexOf(query) >= 0) { hits.push(i); }
      }
      data.show_cluster = true;
      show(T.matching.replace("{q}", search.value.trim()), hits, false);
    }
  }
  var timer = null;
  if (search) {
    search.addEventListener("input", function () {
      clearTimeout(timer); timer = setTimeout(apply, 150);
    });
  }
  if (filter) { filter.addEventListener("change", apply); }

  function sortBy(th) {
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.getAttribute("data-sort") === "number";
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(th.parentNode.children, function (other) {
      other.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var rows = Array.prototype.filter.call(body.rows, function (row) {
      return !row.classList.contains("category-row");
    });
    // Sorting drops the grouping by category: one list, in the chosen order.
    Array.prototype.forEach.call(body.querySelectorAll("tr.category-row"), function (row) {
      row.remove();
    });
    rows.sort(function (a, b) {
      var x = a.cells[index].getAttribute("data-value") || a.cells[index].textContent;
      var y = b.cells[index].getAttribute("data-value") || b.cells[index].textContent;
      var order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  if (table) {
    Array.prototype.forEach.call(table.querySelectorAll("th[data-sort]"), function (th) {
      th.addEventListener("click", function () { sortBy(th); });
    });
  }
  var unassigned = document.getElementById("unassigned-list");
  if (unassigned) {
    unassigned.addEventListener("click", function () {
      data.show_cluster = false;
      show(unassigned.getAttribute("data-title"), rowsOf(-1), true);
    });
  }
})();
"""
