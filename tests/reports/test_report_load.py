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
    assert set(h["Name"]) == {"GET /", "GET /missing", "Aggregated"}
    assert h["Requests/s"].max() == pytest.approx(52.2)


def test_load_report_shows_budgets_consistency_and_figures(load_dir: Path) -> None:
    """Budgets failed (one endpoint), consistency passed, two figures, Locust's page kept."""
    assert kind_of(load_dir) == "load"
    rep = write_load_report(load_dir)
    assert rep.passed is False
    page = (load_dir / REPORT_NAME).read_text()
    assert "Checks FAILED" in page
    assert re.search(r"GET /missing</td><td>fail_ratio</td>.*?FAILED", page)
    assert "decisions_match_rules" in page and "400 of 400" in page
    assert "HTTPError" in page  # from run_failures.csv
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == 2
    assert not re.search(r"https?://|<script", page)
    for name in ("load_throughput", "load_latency"):
        assert (load_dir / "figures" / f"{name}.png").is_file()
        assert (load_dir / "figures" / f"{name}.svg").is_file()
    assert (load_dir / "report.html").read_text() == "<html>Locust's report</html>"


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


def test_report_command_on_a_load_dir(load_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``promptsim report LOAD_DIR`` detects the kind and says the checks failed."""
    assert main(["report", str(load_dir)]) == 0
    assert "checks FAILED" in capsys.readouterr().out
