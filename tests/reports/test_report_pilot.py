"""The pilot's page: what a product manager reads, checked in its text and in Chromium."""

from __future__ import annotations

import html
import json
import re
import tomllib
from pathlib import Path

import pytest
from browser_helpers import browser_or_skip

from reports.pilot import write_pilot_page
from sim.analysis.pilot_project import AT, project
from sim.analysis.pilot_refit import Settings, refit
from sim.analysis.pilot_stats import parse_stats
from sim.model.scenario import load_scenario, parse_scenario
from tests.analysis.pilot_helpers import SCENARIO, stats_under, truth

pytestmark = pytest.mark.slow  # the fixture fits, re-decides and projects: ~10-20 s


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page of a week of the 50/50 experiment under receptiveness 0.62."""
    body = stats_under(truth({"receptiveness_mean": 0.62, "dialog_cold.ios": 0.46}),
                       devices=3000, days=7)
    body["srm"] = {"observed": {}, "expected_share": {}, "chi2": 0.4, "p_value": 0.53,
                   "mismatch": False}
    body["comparisons"] = [{"metric": "opted_in_rate", "arm": "backoff",
                            "baseline": "cold_baseline", "platform": "ios",
                            "difference": 0.031, "interval": [0.01, 0.05], "alpha": 0.05,
                            "method": "asymptotic confidence sequence"}]
    st = parse_stats(json.dumps(body).encode(), "stats.json")
    sc = load_scenario(SCENARIO)
    res = refit(sc, tomllib.loads(SCENARIO.read_text()), st,
                {s.name: s for s in sc.strategies}, "pilot-1",
                Settings(devices=1200, draws=4, map_devices=400))
    cal = parse_scenario(res.calibrated, "calibrated")
    proj = project(cal, list(sc.strategies), devices=400, replications=2)
    return write_pilot_page(st, res, proj, "stats.json",
                            tmp_path_factory.mktemp("pilot") / "pilot.html")


def _text(path: Path) -> str:
    body = path.read_text().split("</head>", 1)[1]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def test_the_page_says_what_a_pm_needs(page: Path) -> None:
    """Arms, funnels with intervals, fitted beside assumed with sources, the long run at
    day 180 and 365, the pick per platform with what would change it, the SRM check."""
    text = _text(page)
    for heading in ("The pick, and what would still change it", "Each arm's funnel",
                    "Fitted priors beside the assumed ones", "The long run each arm leads to"):
        assert heading in text
    assert "cold_baseline (50%), backoff (50%)" in text
    assert "chi2 0.40, p = 0.53: no mismatch" in text
    assert re.search(r"allowed \(of dialogs shown\) \d+\.\d% \(\d+\.\d-\d+\.\d\)", text)
    assert re.search(r"dialog_cold\.ios iOS: OS dialog allowed, without a soft prompt 0\.58 "
                     r"0\.46-0\.64 calibrated to iOS opt-in", text)
    assert "receptiveness_mean" in text and "simulation; arms backoff" in text
    for day in AT:
        assert re.search(rf"backoff day {day} \d+ \(\d+-\d+\)", text)
    for platform in ("iOS", "Android"):
        assert re.search(rf"{platform} (cold_baseline|backoff) (cold_baseline|backoff) "
                         r"\d+\.\d\d -> \d+\.\d\d", text)
    assert re.search(r"Web - - - not judged too few devices simulated \(1\d\d per draw\)", text)
    assert "expected loss <= 2 per 1,000 installs (assumption" in text
    assert ("opted in rate backoff - cold_baseline iOS +3.10 pts +1.00 to +5.00 95%, "
            "asymptotic confidence sequence") in text


def test_the_page_renders_in_chromium(page: Path) -> None:
    """Self-contained: no request leaves the file, no console error, every table shown."""
    browser_or_skip()
    from browser_helpers import chromium_page

    with chromium_page() as (tab, seen):
        tab.goto(page.resolve().as_uri(), wait_until="load")
        tables = tab.eval_on_selector_all("table", "els => els.map(e => e.offsetHeight)")
        tab.screenshot(path=str(page.with_suffix(".png")), full_page=True)
    assert seen.errors == []
    assert [u for u in seen.requests if not u.startswith(("file:", "data:"))] == []
    # the verdicts, two funnels, the differences, the fits, the long run
    assert len(tables) == 6 and min(tables) > 40


def test_the_pages_text_holds_no_markup_backticks_or_bare_ampersands(page: Path) -> None:
    """The pilot page goes through the same check as every other page (its flip sentences
    carry backticks, shown as code)."""
    from test_report_pages import defects

    assert defects(page.read_text()) == []
