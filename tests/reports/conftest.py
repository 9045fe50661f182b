"""Shared fixtures: one small simulation run and its report, made once per test session."""

from __future__ import annotations

from pathlib import Path

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
