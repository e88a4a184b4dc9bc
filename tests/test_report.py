"""The HTML report and the bar chart: self-contained, escaped, and rendering in a real browser."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sklearn_llmcluster import Cluster, LLMClusterer
from sklearn_llmcluster.report import build_report, plot_clusters, write_report
from sklearn_llmcluster.testing import ScriptedProvider

HOSTILE = "<script>alert('x')</script>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture
def model(intent_texts):
    texts, _ = intent_texts
    texts = texts + [f"{HOSTILE} card again", "ticket costs $5 and $6", ""]
    return LLMClusterer(ScriptedProvider(), n_jobs=1, random_state=0).fit(texts)


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr class="cluster-row[^"]*" data-cluster-id="([^"]+)"', page)


def test_report_is_one_self_contained_file(model):
    page = build_report(model)
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page
    assert not re.search(r"url\((?!#)", page)  # only in-page references such as clip paths
    assert "<svg" in page and "<?xml" not in page and "<!DOCTYPE svg" not in page


def test_user_text_is_escaped_everywhere(model):
    model.registry_.clusters[0].name = HOSTILE
    model.registry_.clusters[0].summary = '"><img src=x onerror=alert(1)>'
    page = build_report(model, title=HOSTILE)
    assert HOSTILE not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page  # table, title
    assert "&lt;script&gt;alert('x')&lt;/script&gt;</text>" in page  # the SVG's text


def test_table_lists_every_cluster_largest_first_with_share_and_examples(model):
    page = build_report(model)
    by_size = [c.id for c in model.get_clusters()]
    assert _rows(page) == by_size
    biggest = model.get_clusters()[0]
    total = sum(c.size for c in model.clusters_)
    assert f"{biggest.size / total:.1%}" in page
    assert biggest.examples[0] in page.replace("&#x27;", "'")
    assert f"coverage ({(model.labels_ >= 0).sum()} of {len(model.labels_)} requests)" in page


def test_long_examples_are_cut_in_the_table(model):
    model.registry_.clusters[0].examples = ["a" * 1000]
    page = build_report(model)
    assert "a" * 299 + "…" in page and "a" * 300 not in page


def test_dollar_signs_in_names_do_not_start_mathtext(model):
    model.registry_.clusters[0].name = "fee of $5 and $6"
    assert "fee of $5 and $6" in build_report(model)


def test_new_clusters_are_marked_after_update_only(model):
    assert 'class="badge new"' not in build_report(model)  # after fit every cluster is new
    model.partial_fit(["loan please", "loan again", "card lost"])
    page = build_report(model)
    assert model.new_cluster_ids_
    for cid in model.new_cluster_ids_:
        assert f'class="cluster-row new" data-cluster-id="{cid}"' in page
    assert page.count('class="badge new"') == len(model.new_cluster_ids_)
    assert "new in this run" in page  # the chart's legend


def test_without_matplotlib_the_report_draws_html_bars(model, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    page = build_report(model)
    assert "<svg" not in page
    assert page.count('class="bar-row"') == model.n_clusters_
    assert "sklearn-llmcluster[plot]" in page
    assert len(_rows(page)) == model.n_clusters_


def test_chart_keeps_the_largest_clusters_when_there_are_many():
    clusters = [Cluster(f"c{i}", f"cluster {i}", size=i) for i in range(1, 41)]
    page = build_report(_Fitted(clusters), top=10)
    assert "The 10 largest of 40 clusters." in page
    assert len(_rows(page)) == 40
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert "cluster 40" in svg and "cluster 31" in svg and "cluster 30<" not in svg


@pytest.mark.parametrize("price, provider, expected", [
    ((1.0, 2.0), "remote", "$0.0050 (at $1 / $2 per million tokens in / out)"),
    (None, "offline", "none: the offline engine makes no LLM calls"),
    (None, "local", "none: a local model"),
    (None, "remote", "not estimated"),
])
def test_cost_line(price, provider, expected):
    fitted = _Fitted([Cluster("c1", "a", size=1)])
    fitted.llm_usage_.add(calls=2, prompt_tokens=1000, completion_tokens=2000)
    fitted.provider_ = {"offline": "offline", "local": ScriptedProvider(),
                        "remote": _Remote()}[provider]
    assert expected in build_report(fitted, price_per_million=price)


def test_write_report_is_atomic_utf8(model, tmp_path):
    path = tmp_path / "report.html"
    write_report(model, path, title="Обращения")
    assert "<title>Обращения</title>" in path.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_plot_clusters_returns_axes_with_the_top_bars(model):
    import matplotlib

    matplotlib.use("Agg")
    ax = plot_clusters(model, top=2)
    height = {t.get_text(): t.get_position()[1] for t in ax.get_yticklabels()}
    first, second = [c.name for c in model.get_clusters()[:2]]
    assert set(height) == {first, second}
    assert height[first] > height[second]  # largest on top
    assert [int(p.get_width()) for p in ax.patches] == [c.size for c in model.get_clusters()[:2]]
    assert "top 2 of" in ax.get_title(loc="left")


def test_plot_clusters_without_matplotlib_says_what_to_install(model, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"sklearn-llmcluster\[plot\]"):
        plot_clusters(model)


# -- a real browser ---------------------------------------------------------------

def _render_with_selenium(url: str, screenshot: Path, profile: Path) -> dict:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                 "--window-size=1200,1600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(url)
        svg = driver.find_element(By.CSS_SELECTOR, "#chart svg")
        rects = driver.execute_script(
            "return Array.from(document.querySelectorAll('#chart svg path, #chart svg rect'))"
            ".filter(e => e.getBoundingClientRect().width > 0).length")
        result = {
            "svg_size": (svg.size["width"], svg.size["height"]),
            "svg_shapes": rects,
            "rows": len(driver.find_elements(By.CSS_SELECTOR, "#clusters tbody tr")),
            "scripts_run": driver.execute_script("return window.__pwned === true"),
        }
        driver.save_screenshot(str(screenshot))
        return result
    finally:
        driver.quit()


def _render_with_cli(url: str, screenshot: Path, profile: Path) -> dict:
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={profile}", "--window-size=1200,1600"]
    dom = subprocess.run(flags + ["--dump-dom", url], capture_output=True, text=True,
                         timeout=60).stdout
    subprocess.run(flags + [f"--screenshot={screenshot}", url], capture_output=True, timeout=60)
    return {"svg_size": (1, 1) if "<svg" in dom else (0, 0), "svg_shapes": dom.count("<path"),
            "rows": dom.count('<tr class="cluster-row'), "scripts_run": False}


@pytest.mark.browser
def test_report_renders_in_headless_chromium(model, tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium chromium-driver)")
    # A request that would set a flag if the page ever executed it.
    model.registry_.clusters[0].examples.append("<script>window.__pwned = true</script>")
    path = tmp_path / "report.html"
    write_report(model, path)
    screenshot = tmp_path / "report.png"
    try:
        import selenium  # noqa: F401

        render = _render_with_selenium if CHROMEDRIVER else _render_with_cli
    except ImportError:
        render = _render_with_cli
    result = render(path.as_uri(), screenshot, tmp_path / "profile")
    width, height = result["svg_size"]
    assert width > 100 and height > 50
    assert result["svg_shapes"] >= model.n_clusters_  # one bar each, at least
    assert result["rows"] == model.n_clusters_
    assert result["scripts_run"] is False
    assert screenshot.stat().st_size > 10_000


class _Remote:
    name = "openai"
    model = "gpt-4o-mini"
    is_remote = True

    def complete(self, messages, **kwargs):  # pragma: no cover - never called
        raise AssertionError


class _Fitted:
    """The attributes of a fitted model that the report reads, without fitting."""

    def __init__(self, clusters):
        import numpy as np

        from sklearn_llmcluster import LLMUsage

        self.clusters_ = clusters
        self.n_clusters_ = len(clusters)
        self.labels_ = np.zeros(3, dtype=int)
        self.coverage_ = 1.0
        self.llm_usage_ = LLMUsage()
        self.new_cluster_ids_ = []
        self.provider_ = "offline"
        self.business_context = None

    def get_clusters(self):
        return sorted(self.clusters_, key=lambda c: -c.size)


def test_a_report_for_mailing_can_show_placeholders_instead_of_personal_data():
    from sklearn_llmcluster import LLMClusterer
    from sklearn_llmcluster.report import build_report
    from sklearn_llmcluster.testing import ScriptedProvider

    texts = ["card 4111 1111 1111 1111 blocked", "card blocked, call +7 912 345-67-89",
             "login fails, mail ivan.petrov@mail.ru", "login fails again",
             "card blocked. Regards, Иванова Анна Сергеевна",
             "login fails, my name is John Smith"]
    model = LLMClusterer(provider=ScriptedProvider(), random_state=0, min_cluster_size=1)
    model.fit(texts)
    plain, safe = build_report(model), build_report(model, redact_pii=True)
    assert "4111" in plain and "ivan.petrov" in plain  # the default shows texts as given
    assert "Иванова" in plain and "John Smith" in plain
    for secret in ("4111", "345-67-89", "ivan.petrov", "Иванова", "Сергеевна", "John Smith"):
        assert secret not in safe
    assert "&lt;CARD&gt;" in safe and "&lt;PHONE&gt;" in safe and "&lt;NAME&gt;" in safe
    assert "4111" in " ".join(e for c in model.clusters_ for e in c.examples)  # model untouched
