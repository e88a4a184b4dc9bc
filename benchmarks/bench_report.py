"""Size of report.html and how fast headless Chromium opens it, with 300 clusters and 50,000 rows.

The texts come from the bundled demo requests (Russian and English, 20 to
700 characters), repeated with a number so that none is identical; 300
clusters with names, summaries, criteria and five examples; dates over
twelve weeks, so the page carries the trend chart and a sparkline per row.
Measured: the time to build the page, its size, and in headless Chromium
the time from navigation to the load event (the script has parsed the
data and wired the page) and the time the first drill-down page takes.

Usage::

    python benchmarks/bench_report.py                 # 300 clusters, 50,000 rows
    python benchmarks/bench_report.py --rows 5000     # quicker, while iterating
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sklearn_llmcluster import Cluster, LLMUsage
from sklearn_llmcluster.datasets import load_demo
from sklearn_llmcluster.report import build_report


class Fitted:
    """What the report reads of a fitted model."""

    def __init__(self, clusters, labels):
        self.clusters_ = clusters
        self.n_clusters_ = len(clusters)
        self.labels_ = labels
        self.coverage_ = float((labels >= 0).mean())
        self.llm_usage_ = LLMUsage()
        self.new_cluster_ids_ = []
        self.provider_ = "offline"
        self.business_context = None
        self.min_cluster_size = 5

    def get_clusters(self):
        return sorted(self.clusters_, key=lambda c: -c.size)


def make(rows: int, n_clusters: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    demo = load_demo("all")["text"].tolist()
    texts = [f"{demo[i % len(demo)]} #{i}" for i in range(rows)]
    labels = rng.integers(-1, n_clusters, rows)
    clusters = []
    for k in range(n_clusters):
        members = [texts[i] for i in np.flatnonzero(labels == k)[:5]]
        clusters.append(Cluster(f"c{k + 1}", f"Кластер {k + 1}: {demo[k % len(demo)][:40]}",
                                summary=demo[(k + 7) % len(demo)][:200],
                                criteria=demo[(k + 11) % len(demo)][:200],
                                size=int((labels == k).sum()), examples=members,
                                status="active"))
    days = rng.integers(0, 84, rows)
    times = (np.datetime64("2026-09-07") + days).astype(str).tolist()
    return Fitted(clusters, labels), texts, times


def open_in_chromium(path: Path) -> dict:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.get(path.as_uri())  # returns after the load event
        timing = driver.execute_script(
            "var t = performance.getEntriesByType('navigation')[0];"
            "return [t.domContentLoadedEventEnd, t.loadEventEnd];")
        start = time.perf_counter()
        driver.find_element(By.CSS_SELECTOR, "button[data-label]").click()
        driver.find_element(By.CSS_SELECTOR, "#drilldown ol li")
        drill = time.perf_counter() - start
        start = time.perf_counter()
        driver.execute_script(
            "var s = document.getElementById('search'); s.value = 'карт';"
            "s.dispatchEvent(new Event('input'));")
        driver.execute_script("return new Promise(r => setTimeout(r, 200));")
        search = time.perf_counter() - start - 0.15  # the search waits 150 ms for typing
        return {"dom_ready_s": timing[0] / 1000, "load_s": timing[1] / 1000,
                "drill_down_s": drill, "search_s": search}
    finally:
        driver.quit()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--clusters", type=int, default=300)
    args = parser.parse_args(argv)
    model, texts, times = make(args.rows, args.clusters)
    start = time.perf_counter()
    page = build_report(model, texts, times=times)
    built = time.perf_counter() - start
    size = len(page.encode("utf-8"))
    print(f"{args.clusters} clusters, {args.rows:,} rows: built in {built:.2f} s, "
          f"{size / 1e6:.2f} MB")
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        print("chromium and chromedriver are not installed: no browser timings", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.html"
        path.write_text(page, encoding="utf-8")
        runs = [open_in_chromium(path) for _ in range(3)]
    for key in runs[0]:
        values = sorted(r[key] for r in runs)
        each = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {key:<13} median {values[1]:.2f} s (of 3: {each})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
