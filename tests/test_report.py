"""The HTML report and the bar chart: self-contained, escaped, and rendering in a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from types import SimpleNamespace
from pathlib import Path

import numpy as np
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
    model = LLMClusterer(ScriptedProvider(), n_jobs=1, random_state=0).fit(texts)
    model._texts = texts  # the tests' own note of what was fitted
    return model


def intent_texts_of(model):
    return model._texts, None


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr class="cluster-row[^"]*" data-cluster-id="([^"]+)"', page)


def test_report_is_one_self_contained_file(model):
    texts, _ = intent_texts_of(model)
    page = build_report(model, texts, times=[f"2026-11-{1 + i % 28:02d}" for i in
                                             range(len(texts))])
    assert page.startswith("<!DOCTYPE html>")
    # Two inline scripts, the data and the code; nothing loaded from anywhere.
    assert re.findall(r"<script[^>]*>", page) == [
        '<script type="application/json" id="report-data">', "<script>"]
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
    assert f"coverage of this run ({(model.labels_ >= 0).sum()} of {len(model.labels_)} " \
        "requests)" in page


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


# -- a report an analyst can work in ---------------------------------------------------

def _weekly_model():
    """Card and login every week, refunds from week 3; one request fits nothing."""
    texts, times = [], []
    for week, counts in enumerate([(3, 2, 0), (4, 2, 0), (6, 2, 3), (8, 2, 4)]):
        for topic, count in zip(("card", "login", "refund"), counts):
            for i in range(count):
                texts.append(f"{topic} trouble {week}-{i}")
                times.append(f"2026-11-{2 + 7 * week + i % 5:02d}")
    texts.append("")  # empty: label -1
    times.append("2026-11-30")
    model = LLMClusterer(ScriptedProvider(), n_jobs=1, random_state=0).fit(texts)
    return model, texts, times


def test_headings_follow_the_language_of_the_data(model):
    russian = LLMClusterer(ScriptedProvider(), n_jobs=1, random_state=0).fit(
        ["карта заблокирована", "карта не работает", "вход не работает"])
    page = build_report(russian, ["карта заблокирована", "карта не работает",
                                  "вход не работает"])
    assert '<html lang="ru">' in page and "Кластеры обращений" in page
    assert "Обращения вне кластеров" in page and "покрытие этого запуска" in page
    assert "обращений</text>" in page  # the chart's axis too
    assert '<html lang="en">' in build_report(model)
    forced = build_report(russian, language="en")
    assert '<html lang="en">' in forced and "Requests no cluster fits" in forced
    with pytest.raises(ValueError, match="language must be 'en', 'ru'"):
        build_report(model, language="de")


def test_unassigned_and_tentative_are_explained():
    model, texts, _ = _weekly_model()
    page = build_report(model, texts)
    section = page[page.index('<section id="unassigned">'):]
    assert f"1 requests of this run ({1 / len(texts):.1%}) fit no cluster (label -1), 1 of " \
        "them empty" in section
    assert 'id="unassigned-list"' in section
    assert "<b>tentative</b>: the cluster has fewer than 5 requests so far" in page
    assert "becomes <b>active</b> when it reaches 5" in page
    # Without the texts the section says where the requests are.
    assert "assignments.csv lists them" in build_report(model)


def test_update_report_shows_this_run_apart_from_total_sizes():
    model, texts, _ = _weekly_model()
    assert "This run" not in build_report(model, texts)  # after a fit they are the same
    more = ["card again 1", "card again 2", "loan please", "loan again"]
    model.partial_fit(more)
    page = build_report(model, more)
    assert "This run</th>" in page and "Total size</th>" in page
    card = next(c for c in model.clusters_ if c.name == "card")
    row = page[page.index(f'data-cluster-id="{card.id}"'):]
    row = row[:row.index("</tr>")]
    cells = re.findall(r'<td class="num" data-value="([^"]+)"', row)
    assert cells[1:3] == ["2", str(card.size)]  # rank, this run, total
    assert "counts the requests of every run" in page
    with pytest.raises(ValueError, match="pass the texts of that call"):
        build_report(model, texts)


def test_repeated_examples_are_shown_once_with_a_count(model):
    model.registry_.clusters[0].examples = ["Card blocked"] * 4 + ["card  blocked", "other"]
    page = build_report(model)
    row = page[page.index('data-cluster-id="c1"'):]
    row = row[:row.index("</tr>")]
    assert row.count("<li>") == 2 and "×5" in row


def test_redacted_report_hides_names_and_requests_in_the_data_too(monkeypatch):
    import sklearn_llmcluster.privacy.redaction as redaction

    texts = ["card blocked, call +7 912 345-67-89", "card blocked again",
             "login fails, mail ivan.petrov@mail.ru"]
    model = LLMClusterer(ScriptedProvider(), n_jobs=1, random_state=0,
                         min_cluster_size=1).fit(texts)
    seen = []
    original = redaction.redact_pii
    monkeypatch.setattr(redaction, "redact_pii", lambda t, **k: seen.append(t) or original(t))
    page = build_report(model, texts, redact_pii=True)
    assert "345-67" not in page and "ivan.petrov" not in page
    assert set(texts) <= set(seen)  # every request went through redact_pii (names included)


def test_categories_group_the_table_and_no_intent_has_its_own_section():
    model, texts, _ = _weekly_model()
    card, login, refund = (next(c for c in model.clusters_ if c.name == n)
                           for n in ("card", "login", "refund"))
    card.category_id = "cat-money"
    model.categories_ = [{"id": "cat-money", "name": "Money"}]
    refund.kind = "no_intent"
    page = build_report(model, texts)
    table = page[page.index('<table id="clusters"'):page.index("</table>")]
    assert '<tr class="category-row"><td colspan="7">Money</td></tr>' in table
    assert table.index("Money") < table.index(card.id) < table.index("No category") \
        < table.index(login.id)
    # Categories that list their clusters (cluster_ids) group them just the same.
    card.category_id = None
    model.categories_ = [SimpleNamespace(id="g1", name="Money", cluster_ids=[card.id])]
    listed = build_report(model, texts)
    assert '<tr class="category-row"><td colspan="7">Money</td></tr>' in listed
    card.category_id = "cat-money"
    assert refund.id not in table
    section = page[page.index('<section id="no-intent">'):]
    assert refund.id in section and "ask for nothing" in section


def test_request_data_cannot_end_the_script_block():
    model, texts, _ = _weekly_model()
    texts = list(texts)
    texts[0] = "</script><script>window.__pwned = true</script>\u2028"
    page = build_report(model, texts)
    data = page[page.index('id="report-data">'):page.index("</script>")]
    assert "</script" not in data.lower()[len('id="report-data">'):]
    payload = json.loads(data[len('id="report-data">'):])
    assert payload["texts"][0] == texts[0]
    assert page.count("</script>") == 2


def test_a_big_report_stays_small():
    """300 clusters, 50,000 requests of 50 to 400 characters: under 10 MB."""
    rng = np.random.default_rng(0)
    clusters = [Cluster(f"c{i}", f"Кластер номер {i}", summary="Описание " * 8,
                        criteria="Критерий " * 8, size=0,
                        examples=["пример обращения " * 6] * 5) for i in range(300)]
    labels = rng.integers(-1, 300, 50_000)
    for k in labels[labels >= 0]:
        clusters[k].size += 1
    words = "карта заблокирована не могу войти в приложение верните деньги".split()
    texts = [" ".join(rng.choice(words, rng.integers(8, 60))) for _ in labels]
    times = (np.datetime64("2026-11-02") + rng.integers(0, 28, labels.size)).astype(str)
    fitted = _Fitted(clusters)
    fitted.labels_ = labels
    page = build_report(fitted, texts, times=list(times))
    assert len(page.encode("utf-8")) < 10_000_000
    assert page.count('class="cluster-row') == 300


def _browser(width: int, height: int, profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                 f"--window-size={width},{height}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.mark.browser
def test_search_drill_down_unassigned_and_trends_work_in_headless_chromium(tmp_path):
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("chromium and chromedriver are not installed "
                    "(apt-get install chromium chromium-driver)")
    pytest.importorskip("selenium")
    from selenium.webdriver.common.by import By

    model, texts, times = _weekly_model()
    texts = list(texts)
    texts[0] = "card <script>window.__pwned = true</script> trouble"
    # 120 card requests more: the drill-down needs three pages.
    extra = [f"card lost again {i}" for i in range(120)]
    texts += extra
    times += ["2026-11-28"] * len(extra)
    model.fit(texts)
    path = tmp_path / "report.html"
    write_report(model, path, texts=texts, times=times)
    card = next(c for c in model.clusters_ if c.name == "card")
    refund = next(c for c in model.clusters_ if c.name == "refund")

    driver = _browser(1280, 1600, tmp_path / "desktop")
    try:
        driver.get(path.as_uri())
        # The trend chart: one panel per cluster, the refund one marked as emerging.
        panels = driver.find_elements(By.CSS_SELECTOR, "#trend-chart .panel")
        assert len(panels) == 3
        emerging = driver.find_element(By.CSS_SELECTOR, '#trend-chart .panel.emerging')
        assert emerging.get_attribute("data-cluster-id") == refund.id
        assert emerging.find_element(By.CSS_SELECTOR, "svg polyline").size["width"] > 100
        driver.save_screenshot(str(tmp_path / "desktop.png"))

        # Drill-down: every request of the card cluster, 50 a page.
        driver.find_element(By.CSS_SELECTOR, f'button[data-label="{model.clusters_.index(card)}"]'
                            ).click()
        panel = driver.find_element(By.ID, "drilldown")
        assert panel.is_displayed()
        items = panel.find_elements(By.CSS_SELECTOR, "ol li")
        assert len(items) == 50
        n_card = int((model.labels_ == model.clusters_.index(card)).sum())
        assert f"{n_card} requests · page 1 of 3" in panel.text
        panel.find_element(By.CSS_SELECTOR, ".dd-next").click()
        panel.find_element(By.CSS_SELECTOR, ".dd-next").click()
        assert len(panel.find_elements(By.CSS_SELECTOR, "ol li")) == n_card - 100
        assert "page 3 of 3" in panel.text
        driver.save_screenshot(str(tmp_path / "drilldown.png"))

        # The unassigned section lists the request that fits nothing.
        driver.find_element(By.ID, "unassigned-list").click()
        assert "Requests no cluster fits" in panel.text
        assert len(panel.find_elements(By.CSS_SELECTOR, "ol li")) == 1

        # Search: the table keeps the matching cluster, and matching requests are listed.
        box = driver.find_element(By.ID, "search")
        box.send_keys("refund")
        driver.implicitly_wait(0)
        import time

        for _ in range(50):  # the search waits for typing to pause
            if driver.find_element(By.ID, "shown").text == "1 clusters shown":
                break
            time.sleep(0.1)
        visible = [r.get_attribute("data-cluster-id") for r in
                   driver.find_elements(By.CSS_SELECTOR, "#clusters tbody tr.cluster-row")
                   if r.is_displayed()]
        assert visible == [refund.id]
        assert "Requests matching “refund”" in panel.text
        assert len(panel.find_elements(By.CSS_SELECTOR, "ol li")) == 7
        # Sorting by name puts "card" first among all rows again after the search is cleared.
        box.clear()
        box.send_keys(" ")
        for _ in range(50):
            if driver.find_element(By.ID, "shown").text == "3 clusters shown":
                break
            time.sleep(0.1)
        driver.find_elements(By.CSS_SELECTOR, "#clusters th[data-sort]")[1].click()
        first = driver.find_element(By.CSS_SELECTOR, "#clusters tbody tr.cluster-row")
        assert first.get_attribute("data-cluster-id") == card.id
        assert driver.execute_script("return window.__pwned === true") is False
        assert driver.execute_script(
            "return document.body.textContent.indexOf('window.__pwned') >= 0") is True
    finally:
        driver.quit()

    phone = _browser(800, 1400, tmp_path / "phone")
    try:
        # Chrome keeps windows at least 500 px wide: a phone is emulated instead.
        phone.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": 390, "height": 1400, "deviceScaleFactor": 1, "mobile": True})
        phone.get(path.as_uri())
        width = phone.execute_script("return document.documentElement.scrollWidth")
        assert width <= 400  # nothing wider than the phone's screen
        assert not phone.find_element(By.CSS_SELECTOR, "#clusters td.col-examples").is_displayed()
        phone.save_screenshot(str(tmp_path / "phone.png"))
    finally:
        phone.quit()
    for name in ("desktop.png", "drilldown.png", "phone.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_examples_that_redaction_makes_identical_are_shown_once(model):
    model.registry_.clusters[0].examples = [f"перезвоните на +7 912 345-67-{10 + i}"
                                            for i in range(5)]
    page = build_report(model, redact_pii=True)
    row = page[page.index('data-cluster-id="c1"'):]
    row = row[:row.index("</tr>")]
    assert row.count("<li>") == 1 and "×5" in row and "345-67" not in row
