"""Issue 13 item 12: the notebook API. ``run(scenario) -> Result`` from a path, a TOML
string or a dict, with the panel and summary as DataFrames, the recommendation and the
report, and no run directory; the example under docs/examples/ runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from reports.simulation import write_report
from sim import Result, run
from sim.model.scenario import ScenarioError

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.toml"
SMALL = {"devices": 800, "days": 40, "replications": 2}


def test_a_path_a_toml_string_and_a_dict_give_the_same_run(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.chdir(tmp_path)
    text = QUICKSTART.read_text()
    by_path = run(QUICKSTART, **SMALL)
    by_text = run(text, **SMALL)
    by_dict = run(tomllib.loads(text), **SMALL, jobs=2)
    assert isinstance(by_path, Result)
    for other in (by_text, by_dict):
        pd.testing.assert_frame_equal(by_path.panel, other.panel)
        pd.testing.assert_frame_equal(by_path.summary, other.summary)
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.slow
def test_the_tables_the_recommendation_and_the_report_match_the_command_line(
        tmp_path: Path) -> None:
    res = run(QUICKSTART, **SMALL)
    assert len(res.panel) == 2 * 3 * 10 * 40  # replications x strategies x cohorts x days
    assert set(res.summary["strategy"]) == {"once", "every_time", "multiple_3x3d"}
    cli = tmp_path / "cli"
    subprocess.run([sys.executable, "-m", "sim", "simulate", str(QUICKSTART), "--devices", "800",
                    "--days", "40", "--replications", "2", "--out", str(cli), "--no-progress"],
                   check=True, capture_output=True)
    on_disk = pd.read_csv(cli / "summary.csv")
    pd.testing.assert_frame_equal(res.summary.reset_index(drop=True), on_disk,
                                  check_dtype=False)
    assert res.recommend().strategy == write_report(cli).recommendation.strategy
    page = res.report(tmp_path / "nb" / "report.html")
    assert page == tmp_path / "nb" / "report.html"
    html = page.read_text()
    assert f"Recommended: {res.recommend().strategy}" in html or res.recommend().strategy in html
    assert (tmp_path / "nb" / "figures").is_dir()
    assert (tmp_path / "nb" / "comparison.csv").is_file()


def test_bad_input_is_the_same_error_as_a_file() -> None:
    data = tomllib.loads(QUICKSTART.read_text())
    data["strategies"][0]["campaigns"][0]["frequency"]["type"] = "sometimes"
    with pytest.raises(ScenarioError, match=r"^<dict>: strategies\[0\]\.campaigns\[0\]\."
                                            r"frequency\.type: 'sometimes' is not one of "):
        run(data)
    with pytest.raises(ScenarioError, match="<string>: not valid TOML"):
        run("name = \n")
    with pytest.raises(ScenarioError, match=r"nothing\.toml: cannot read"):
        run("nothing.toml")


@pytest.mark.slow
def test_prior_draws_run_and_report(tmp_path: Path) -> None:
    res = run(QUICKSTART, devices=600, days=30, prior_draws=3)
    assert res.priors is not None and res.scenario.replications == 3
    assert res.recommend().p_best is not None
    assert res.report(tmp_path / "r.html").is_file()


@pytest.mark.slow
def test_the_notebook_example_runs_as_written(tmp_path: Path) -> None:
    script = ROOT / "docs" / "examples" / "notebook.py"
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)},
                       check=False)
    assert r.returncode == 0, r.stderr
    assert "recommended: " in r.stdout
    assert (tmp_path / "runs" / "notebook" / "report.html").is_file()


def test_a_notebook_shows_a_short_repr_the_table_and_the_pick(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 26 item 11: ``repr`` is one line (it printed the whole scenario), the HTML view
    has every strategy over all devices with installs as whole numbers and the pick, and
    ``progress=True`` draws a bar over the chunks."""
    r = run(QUICKSTART, devices=400, days=10, replications=2, progress=True)
    assert "chunk" in capsys.readouterr().err
    assert repr(r).startswith("<Result 'quickstart': 400 devices x 3 strategies x "
                              "2 replications, 10 days; ")
    assert "\n" not in repr(r)
    page = r._repr_html_()
    pick = r.recommend().strategy
    assert f"<td>{pick} <b>(recommended)</b></td>" in page
    for name in ("once", "every_time", "multiple_3x3d"):
        assert f"<td>{name}" in page
    installs = re.findall(r"</td><td>([\d,.]+)</td><td>[\d.]+% \(", page)
    assert installs == ["400"] * 3
