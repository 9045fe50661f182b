"""The pages as a person sees them: headless Chromium renders each one and takes a screenshot.

Every figure must have loaded (``naturalWidth > 0``) and be drawn larger than
100 x 100 px; the page must log no console error, raise no page error and ask
for nothing over the network. Needs Debian's ``chromium`` and the ``playwright``
package (no browser download: ``executable_path=/usr/bin/chromium``). Skipped
when either is missing, except under CI (env ``CI`` set), where that fails.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from browser_helpers import browser_or_skip, chromium_page
from report_helpers import TINY_TOML, WIDE, raced_toy, small_scenario

from reports.forecast_page import write_forecast_page
from reports.load import write_load_report
from reports.optimize_page import write_optimize_page
from reports.simulation import Report, write_report
from sim.analysis.forecast import Rollout, run_forecast, write_forecast
from sim.engine.output import write_run
from sim.engine.runner import simulate
from sim.model.scenario import load_scenario

pytestmark = pytest.mark.slow  # a browser, Locust, a cluster or long runs

LOAD = Path(__file__).parent / "fixtures" / "load"


SPLIT_WORDS = """() => [...document.querySelectorAll('th')].flatMap(th => {
    const split = [];
    const walk = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
        for (const word of node.data.matchAll(/\\S+/g)) {
            const range = document.createRange();
            range.setStart(node, word.index);
            range.setEnd(node, word.index + word[0].length);
            const lines = new Set([...range.getClientRects()].filter(b => b.width > 0)
                                  .map(b => Math.round(b.top)));
            if (lines.size > 1) split.push(`${word[0]} in "${th.textContent}"`);
        }
    }
    return split;
})"""
"""Every word of a table header drawn on more than one line (a word split by wrapping)."""


def render(page_path: Path, screenshot: Path) -> dict[str, object]:
    """Open ``page_path`` in headless Chromium; return what the page did."""
    with chromium_page() as (page, seen):
        page.goto(page_path.resolve().as_uri(), wait_until="load")
        images = page.eval_on_selector_all("img", """els => els.map(e => {
            const r = e.getBoundingClientRect();
            return {alt: e.alt, complete: e.complete, natural: e.naturalWidth,
                    width: r.width, height: r.height};
        })""")
        page.screenshot(path=str(screenshot), full_page=True)
    return {"errors": seen.errors, "images": images,
            "remote": [u for u in seen.requests if not u.startswith(("file:", "data:"))]}


def check(result: dict[str, object], figures: int) -> None:
    images = result["images"]
    assert isinstance(images, list) and len(images) == figures
    for img in images:
        assert img["complete"] and img["natural"] > 0, img
        assert img["width"] > 100 and img["height"] > 100, img
    assert result["errors"] == []
    assert result["remote"] == []


def test_simulation_report_in_chromium(report: Report, tmp_path: Path) -> None:
    """The simulation report: eight figures, all loaded and drawn at a real size."""
    browser_or_skip()
    shot = report.html.parent / "report.png"
    check(render(report.html, shot), figures=8)
    assert shot.stat().st_size > 50_000


def test_load_report_in_chromium(tmp_path: Path) -> None:
    """The load report: throughput and latency figures."""
    browser_or_skip()
    d = tmp_path / "load"
    shutil.copytree(LOAD, d)
    rep = write_load_report(d)
    check(render(rep.html, tmp_path / "load.png"), figures=2)


def test_forecast_page_in_chromium(tmp_path: Path) -> None:
    """The forecast page (no observed data: one figure)."""
    browser_or_skip()
    toml = tmp_path / "tiny.toml"
    toml.write_text(TINY_TOML)
    fc = run_forecast(load_scenario(toml), Rollout(installs_per_day=40, horizon=10,
                                                   install_days=10, strategy="once"),
                      trajectories=3, jobs=1)
    write_forecast(fc, tmp_path / "fc")
    page, _ = write_forecast_page(fc, tmp_path / "fc", str(toml))
    check(render(page, tmp_path / "forecast.png"), figures=1)


def test_a_wide_comparison_fits_1280_px_with_the_recommended_column_in_view(
        tmp_path: Path) -> None:
    """Eight strategies with long names at 1280 px: the page is no wider than the window
    (wide tables scroll inside it, their first column kept), and the comparison table
    shows the baseline's and the recommended strategy's columns without scrolling. The
    screenshot is saved beside the report."""
    browser_or_skip()
    out = tmp_path / "wide"
    sc = small_scenario(strategies=WIDE, baseline="once_on_app_open", devices=1500, days=20)
    write_run(simulate(sc), out, seconds=0.0, jobs=1)
    rep = write_report(out)
    rec = rep.recommendation.strategy
    shot = out / "report-1280.png"
    with chromium_page(width=1280) as (page, seen):
        page.goto(rep.html.resolve().as_uri(), wait_until="load")
        got = page.evaluate("""(rec) => {
            const box = document.querySelector('#comparison');
            const r = box.getBoundingClientRect();
            const heads = [...box.querySelectorAll('th')].map(th => {
                const b = th.getBoundingClientRect();
                return {text: th.textContent, left: b.left, right: b.right}; });
            return {page: document.documentElement.scrollWidth, window: window.innerWidth,
                    box: {left: r.left, right: r.right}, scroll: box.scrollWidth,
                    client: box.clientWidth, heads: heads};
        }""", rec)
        page.screenshot(path=str(shot), full_page=True)
        split = page.evaluate(SPLIT_WORDS)
    assert got["page"] <= got["window"] == 1280, got
    assert split == []
    assert got["box"]["right"] <= 1280
    assert got["scroll"] > got["client"], "eight long columns should need scrolling"
    visible = [h["text"] for h in got["heads"] if h["right"] <= got["box"]["right"] + 0.5]
    assert visible[0] == "metric"
    assert any(rec in t for t in visible), (rec, visible)
    assert any("(baseline)" in t for t in visible), visible
    assert seen.errors == []
    assert shot.stat().st_size > 50_000


def test_no_table_header_splits_a_word_at_1280_px(pages: dict[str, Path]) -> None:
    """Issue 23 item 7 ("finalis ts"): on every page at 1280 px, no word of a table
    header is broken across lines (wide tables scroll sideways instead), and the page
    itself is no wider than the window."""
    browser_or_skip()
    found = {}
    with chromium_page(width=1280) as (page, seen):
        for name, path in pages.items():
            page.goto(path.resolve().as_uri(), wait_until="load")
            found[name] = (page.evaluate(SPLIT_WORDS),
                           page.evaluate("document.documentElement.scrollWidth"))
    assert found == {name: ([], 1280) for name in pages}
    assert seen.errors == []


def test_optimize_page_in_chromium(tmp_path: Path) -> None:
    """The optimizer's page: the front figure."""
    browser_or_skip()
    page = write_optimize_page(raced_toy(), tmp_path, Path("toy.toml"), 1.0)
    check(render(page, tmp_path / "optimize.png"), figures=1)
