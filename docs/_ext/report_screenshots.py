"""``.. report-screenshot::``: screenshots of a report the page's examples just wrote.

The ``run-example`` blocks of a page run in one scratch folder; this
directive opens a ``report.html`` from that folder in headless Chromium,
saves screenshots (desktop width, phone width, and the desktop page after a
click on the first "Requests" button, which opens the drill-down) and shows
them, with a link to the report itself. Screenshots are taken when the HTML
docs are built on a machine with Chromium, chromedriver and selenium;
elsewhere the page says how to get them, and the build does not warn.

Run as a script, it regenerates the small screenshot the README shows::

    python docs/_ext/report_screenshots.py        # writes docs/_static/report-demo.png
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

HERE = Path(__file__).resolve().parent
SHOTS = "_screenshots"  # under the docs source folder, written by the build (git-ignored)
# What the directive needs of the build: whether it makes HTML, and the reports to copy.
_BUILD: dict = {"html": False, "copies": {}}


def browser_available() -> bool:
    """Chromium, chromedriver and selenium are all here."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    return bool(chromium and shutil.which("chromedriver"))


def take_screenshots(report: Path, folder: Path, stem: str, *, desktop: int = 1200,
                     height: int = 1500, phone: int | None = 390,
                     drill_down: bool = True, scroll_to: str | None = None) -> list[Path]:
    """PNG screenshots of ``report``: desktop, drill-down opened, phone.

    ``scroll_to`` names the element (an id: ``trends``, ``clusters-section``)
    the desktop screenshot starts at.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    folder.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    profile = tempfile.mkdtemp(prefix="llmcluster-shots-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--hide-scrollbars",
                 f"--user-data-dir={profile}", f"--window-size={desktop},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    written = []
    try:
        driver.get(report.as_uri())
        if scroll_to:
            driver.execute_script("var e = document.getElementById(arguments[0]);"
                                  "if (e) { e.scrollIntoView(); }", scroll_to)
        written.append(folder / f"{stem}-desktop.png")
        driver.save_screenshot(str(written[-1]))
        if drill_down:
            buttons = driver.find_elements(By.CSS_SELECTOR, "button[data-label]")
            if buttons:
                buttons[0].click()
                time.sleep(0.2)
                written.append(folder / f"{stem}-drilldown.png")
                driver.save_screenshot(str(written[-1]))
        if phone:
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": phone, "height": height, "deviceScaleFactor": 1, "mobile": True})
            driver.get(report.as_uri())
            written.append(folder / f"{stem}-phone.png")
            driver.save_screenshot(str(written[-1]))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return written


class ReportScreenshot(SphinxDirective):
    """Show screenshots of ``argument`` (a report.html in the page's example folder)."""

    required_arguments = 1
    option_spec = {"name": directives.unchanged, "alt": directives.unchanged,
                   "scroll-to": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        state = self.env.temp_data.get("run_example", {})
        folder = state.get("folder")
        if folder is None:
            raise self.error("report-screenshot needs run-example blocks before it")
        report = Path(folder) / self.arguments[0]
        if not report.is_file():
            raise self.error(f"{self.arguments[0]} was not written by the examples above")
        if not _BUILD["html"]:
            return []  # the doctest builder reads the page too: nothing to draw there
        stem = self.options.get("name") or report.parent.name
        _BUILD["copies"][f"{stem}.html"] = str(report)  # copied next to the pages at the end
        link = nodes.paragraph()
        link += nodes.Text("Open the report: ")
        link += nodes.reference("", f"{stem}.html", refuri=f"_static/reports/{stem}.html")
        link += nodes.Text(" (the real page, with its search and drill-down).")
        if not browser_available():
            note = nodes.paragraph(text=(
                "Screenshots appear here when the docs are built on a machine with Chromium, "
                "chromedriver and selenium (apt-get install chromium chromium-driver; "
                "pip install selenium)."))
            return [link, note]
        shots = take_screenshots(report, Path(self.env.srcdir) / SHOTS, stem,
                                 scroll_to=self.options.get("scroll-to"))
        result: list[nodes.Node] = [link]
        captions = {"desktop": "At desktop width (scrolled to "
                    f"{self.options.get('scroll-to', 'the top')}).", "drilldown":
                    "A cluster opened to its requests (50 a page).",
                    "phone": "At phone width (390 px)."}
        for shot in shots:
            kind = shot.stem.rsplit("-", 1)[-1]
            figure = nodes.figure()
            image = nodes.image(uri=f"{SHOTS}/{shot.name}",
                                alt=self.options.get("alt", f"report.html, {kind}"))
            image["candidates"] = {"*": f"{SHOTS}/{shot.name}"}
            if kind == "phone":
                image["width"] = "320px"
            figure += image
            figure += nodes.caption(text=captions.get(kind, ""))
            result.append(figure)
        return result


def _builder_inited(app) -> None:
    _BUILD["html"] = app.builder.format == "html"
    _BUILD["copies"] = {}


def _copy_reports(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    copies = _BUILD["copies"]
    target = Path(app.outdir) / "_static" / "reports"
    for name, source in copies.items():
        if Path(source).is_file():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / name)


def setup(app):
    app.add_directive("report-screenshot", ReportScreenshot)
    app.connect("builder-inited", _builder_inited)
    app.connect("build-finished", _copy_reports)
    return {"version": "1.0", "parallel_read_safe": False, "parallel_write_safe": True}


def dated_demo(lang: str = "ru"):
    """The demo requests with synthetic dates over four weeks (ISO weeks 45-48 of 2026).

    The demo data has no dates; these are made up, deterministically, so that
    trends have something to show: two of its intents only start in the third
    and fourth week, and one grows week by week.
    """
    import numpy as np

    from sklearn_llmcluster.datasets import load_demo

    frame = load_demo(lang)
    rng = np.random.default_rng(48)
    intents = sorted(frame["label"].unique())
    late = {intents[3]: 14, intents[7]: 21}  # start on day 14 and day 21
    growing = intents[0]
    days = []
    for label in frame["label"]:
        if label in late:
            days.append(int(rng.integers(late[label], 28)))
        elif label == growing:
            days.append(int(27 - np.sqrt(rng.integers(0, 28 * 28))))  # more each week
        else:
            days.append(int(rng.integers(0, 28)))
    start = np.datetime64("2026-11-02")
    frame["created"] = [str(start + day) for day in days]
    return frame.drop(columns=["label"])


def main() -> int:
    """Regenerate ``docs/_static/report-demo.png`` (the README's screenshot)."""
    sys.path.insert(0, str(HERE.parents[1]))
    os.environ["OLLAMA_API_URL"] = "http://127.0.0.1:9"  # never a real LLM: offline engine
    from sklearn_llmcluster.cli import main as cli

    if not browser_available():
        print("needs chromium, chromedriver and selenium", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "requests.csv"
        dated_demo("ru").to_csv(data, index=False)
        code = cli(["fit", "-i", str(data), "--time-column", "created", "--provider",
                    "offline", "--out", str(Path(scratch) / "out"), "-q"])
        if code:
            return code
        shot, = take_screenshots(Path(scratch) / "out" / "report.html", Path(scratch),
                                 "readme", desktop=1000, height=760, phone=None,
                                 drill_down=False, scroll_to="trends")
        target = HERE.parent / "_static" / "report-demo.png"
        shutil.copyfile(shot, target)
        print(f"wrote {target} ({target.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
