"""The report of a load run, from real Locust CSVs (fixtures/load) and a load_summary.json."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from reports.load import REPORT_NAME, read_history, read_load, write_load_report
from reports.rundir import RunDirError, kind_of
from sim.cli import main

LOAD = Path(__file__).parent / "fixtures" / "load"


@pytest.fixture
def load_dir(tmp_path: Path) -> Path:
    """A copy of the fixture with a stand-in for Locust's own report.html."""
    out = tmp_path / "load"
    shutil.copytree(LOAD, out)
    (out / "report.html").write_text("<html>Locust's report</html>")
    return out


def test_history_columns_and_missing_percentiles() -> None:
    """Locust writes N/A before the first request; those become NaN, time starts at 0."""
    h = read_history(LOAD / "run_stats_history.csv")
    first = h.iloc[0]
    assert first["Name"] == "Aggregated" and first["t"] == 0
    assert first["95%"] != first["95%"]  # NaN
    # Rows whose window held no request (Requests/s 0): Locust wrote 0 ms, read as no value.
    idle = h[h["Requests/s"] == 0]
    assert len(idle) >= 3 and idle["50%"].isna().all() and idle["99%"].isna().all()
    assert (h.loc[h["Requests/s"] > 0, "50%"] > 0).all()
    assert set(h["Name"]) == {"GET /", "GET /missing", "Aggregated"}
    assert h["Requests/s"].max() == pytest.approx(52.2)


@pytest.mark.slow
def test_load_report_shows_budgets_consistency_and_figures(load_dir: Path) -> None:
    """Budgets failed (one endpoint), consistency passed, two figures, Locust's page kept."""
    assert kind_of(load_dir) == "load"
    rep = write_load_report(load_dir)
    assert rep.passed is False
    page = (load_dir / REPORT_NAME).read_text()
    assert "Checks FAILED" in page
    assert re.search(r"GET /missing</td><td>fail_ratio</td>.*?FAILED", page)
    # limits as written (issue 26: they printed as 50.000 and 0.010)
    assert re.search(r"<td>p95_ms</td><td[^>]*>50</td>", page), page
    assert re.search(r"<td>fail_ratio</td><td[^>]*>0.01</td>", page)
    assert "decisions_match_rules" in page and "400 of 400" in page
    assert "HTTPError" in page  # from run_failures.csv
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == 2
    assert not re.search(r"https?://|<script", page)
    for name in ("load_throughput", "load_latency"):
        assert (load_dir / "figures" / f"{name}.png").is_file()
        assert (load_dir / "figures" / f"{name}.svg").is_file()
    assert (load_dir / "report.html").read_text() == "<html>Locust's report</html>"


@pytest.mark.slow
def test_summary_only_and_history_only(tmp_path: Path) -> None:
    """Either file alone makes a load directory; the page says what is missing."""
    only_json = tmp_path / "j"
    only_json.mkdir()
    shutil.copy(LOAD / "load_summary.json", only_json)
    write_load_report(only_json)
    assert "No *_stats_history.csv" in (only_json / REPORT_NAME).read_text()
    only_csv = tmp_path / "c"
    only_csv.mkdir()
    shutil.copy(LOAD / "run_stats_history.csv", only_csv)
    rep = write_load_report(only_csv)
    assert rep.passed is None
    assert "No budgets recorded" in (only_csv / REPORT_NAME).read_text()


def test_not_a_locust_history(tmp_path: Path) -> None:
    """A CSV without Locust's columns is refused by name."""
    (tmp_path / "x_stats_history.csv").write_text("a,b\n1,2\n")
    with pytest.raises(RunDirError, match="not a Locust stats history"):
        read_load(tmp_path)


@pytest.mark.slow
def test_report_command_on_a_load_dir(load_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``promptsim report LOAD_DIR`` detects the kind and says the checks failed."""
    assert main(["report", str(load_dir)]) == 0
    assert "checks FAILED" in capsys.readouterr().out


@pytest.mark.slow
def test_load_report_names_scenario_target_shape_time_and_version(load_dir: Path) -> None:
    """From load_meta.json (written by ``promptsim load``): what ran, against what, how and
    when, by which version; endpoints without requests have no percentiles, not 0 ms."""
    import json

    (load_dir / "load_meta.json").write_text(json.dumps({
        "scenario": "quickstart", "strategy": "once", "url": "http://127.0.0.1:8123",
        "shape": "spike", "users": 40, "duration_s": 30, "day_seconds": 0.5,
        "started_at": "2026-11-27 22:00:00 UTC", "promptsim_version": "0.1.0"}))
    summary = json.loads((load_dir / "load_summary.json").read_text())
    summary["endpoints"]["idle"] = {"requests": 0, "failures": 0, "rps": 0.0, "p50_ms": 0.0,
                                    "p95_ms": 0.0, "p99_ms": 0.0, "fail_ratio": 0.0}
    (load_dir / "load_summary.json").write_text(json.dumps(summary))
    page = (write_load_report(load_dir).html).read_text()
    assert "<h1>Load test: quickstart</h1>" in page
    for fact in ("<dt>scenario</dt><dd>quickstart</dd>", "<dt>strategy</dt><dd>once</dd>",
                 "<dt>target</dt><dd>http://127.0.0.1:8123</dd>",
                 "<dt>shape</dt><dd>spike, 40 users (peak), 30 s, 0.5 s per simulated day</dd>",
                 "<dt>started</dt><dd>2026-11-27 22:00:00 UTC</dd>",
                 "<dt>run by</dt><dd>promptsim 0.1.0</dd>"):
        assert fact in page, fact
    assert re.search(r"<td>idle</td><td class=\"num\">0</td><td class=\"num\">0</td>"
                     r"<td class=\"num\">0.0</td><td class=\"num\">n/a</td>", page)
