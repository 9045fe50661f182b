"""Shared fixtures: one small simulation run and its report, a run with prior draws, and
every page promptsim writes, each made once per test session."""

from __future__ import annotations

from pathlib import Path

import page_samples
import pytest
from report_helpers import small_scenario

from reports.simulation import Report, write_report
from sim.engine.output import write_run
from sim.engine.runner import simulate


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run directory of ``small_scenario`` (with the event log)."""
    out = tmp_path_factory.mktemp("run") / "small"
    sc = small_scenario()
    write_run(simulate(sc, log=True), out, seconds=0.0, jobs=1, events=True)
    return out


@pytest.fixture(scope="session")
def report(run_dir: Path) -> Report:
    """The report of ``run_dir``, written once."""
    return write_report(run_dir)


@pytest.fixture(scope="session")
def psa_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``simulate --prior-draws 12 --report`` of ``TINY_TOML``: its run directory."""
    return page_samples.psa_run(tmp_path_factory.mktemp("psa") / "run")


@pytest.fixture(scope="session")
def pages(report: Report, psa_run: Path, tmp_path_factory: pytest.TempPathFactory
          ) -> dict[str, Path]:
    """Every kind of page, by a short name: report, report with prior draws, optimize
    (plain and with prior draws), forecast, fitted forecast, load."""
    tmp = tmp_path_factory.mktemp("pages")
    return {"report": report.html, "report_psa": psa_run / "report.html",
            "optimize": page_samples.optimize_page(tmp / "optimize"),
            "optimize_draws": page_samples.optimize_page(tmp / "optimize_draws", 6),
            "forecast": page_samples.forecast_page(tmp / "forecast"),
            "forecast_fitted": page_samples.forecast_page(tmp / "fitted", fitted=True),
            "load": page_samples.load_page(tmp / "load")}
