"""The report of a real (small) simulation run: files, self-containment, content, the CLI."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import msgspec
import pytest
from report_helpers import TINY_TOML

from reports.assumptions import PROFILE_SOURCES
from reports.html import png_size
from reports.rundir import RunDirError, kind_of, read_run
from reports.simulation import Report
from sim.cli import main
from sim.model import priors
from sim.model.behaviour import Behaviour
from sim.rules.config.platforms import DEFAULT_PROFILES

FIGURES = ("tradeoff", "optin_share", "funnel", "platforms", "dialogs_blocked", "annoyance",
           "reachability", "differences")


def test_every_figure_is_written_as_png_and_svg(report: Report, run_dir: Path) -> None:
    """Each figure exists in figures/ as a real PNG of useful size and as an SVG."""
    for name in FIGURES:
        png = (run_dir / "figures" / f"{name}.png").read_bytes()
        w, h = png_size(png)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and w > 500 and h > 200, name
        svg = (run_dir / "figures" / f"{name}.svg").read_text()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg, name
    assert (run_dir / "comparison.csv").is_file()


def test_page_is_self_contained(report: Report) -> None:
    """No script, no stylesheet or image from elsewhere: every image is a data: URL."""
    page = report.html.read_text()
    assert "<script" not in page
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", page)
    assert not re.search(r"https?://", page)
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == len(FIGURES)


def test_page_states_scenario_seed_version_assumptions_and_recommendation(
        report: Report, run_dir: Path) -> None:
    """The page says what was run, with which assumptions, and what to do."""
    page = report.html.read_text()
    for text in ("small", "<dt>seed</dt><dd>3</dd>", "promptsim 0.1.0", "once (baseline)",
                 "every_time", "multiple_3x2d", "Recommended strategy", "Decision rule",
                 "Bilogrevic et al., USENIX Security 2021", "AppsFlyer", "Quettra",
                 "permission_decision_auto_blocker", "The resolved scenario"):
        assert text in page, text
    assert report.recommendation.strategy in read_run(run_dir).strategies


def test_assumptions_cover_every_behaviour_field_and_profile() -> None:
    """A new behaviour prior or platform profile cannot reach a report without a source."""
    fields = {f.name for f in msgspec.structs.fields(Behaviour)}
    assert fields == {p.field for p in priors.PRIORS} | set(priors.SETTINGS)
    assert set(DEFAULT_PROFILES) <= set(PROFILE_SOURCES)


@pytest.mark.slow
def test_report_command_and_bad_baseline(run_dir: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """``promptsim report`` writes the page; a wrong --baseline is one line and exit 2."""
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("figures", "report.html"))
    assert main(["report", str(copy), "--baseline", "every_time"]) == 0
    assert "recommended:" in capsys.readouterr().out
    assert "every_time (baseline)" in (copy / "report.html").read_text()
    assert main(["report", str(copy), "--baseline", "sometimes"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["promptsim report: error: --baseline: 'sometimes' is not a strategy of "
                   "this run; allowed: once, every_time, multiple_3x2d"]


def test_directory_kind_is_judged_by_its_files(run_dir: Path, tmp_path: Path) -> None:
    """A run directory is a simulation; an empty one is neither, said in one message."""
    assert kind_of(run_dir) == "simulation"
    with pytest.raises(RunDirError, match="neither a simulation run"):
        kind_of(tmp_path)


@pytest.mark.slow
def test_simulate_with_report_flag(tmp_path: Path) -> None:
    """``promptsim simulate ... --report`` writes the run and its report in one go."""
    toml = tmp_path / "tiny.toml"
    toml.write_text(TINY_TOML)
    out = tmp_path / "run"
    assert main(["simulate", str(toml), "--out", str(out), "--no-progress", "--report"]) == 0
    assert (out / "report.html").is_file()
    assert (out / "figures" / "optin_share.svg").is_file()
