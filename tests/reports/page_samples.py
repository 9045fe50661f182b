"""Every HTML page promptsim writes, made from small real runs: the simulation report
(plain and with prior draws), the optimizer's page, the forecast (plain and fitted to
observed days) and the load report. The tests that look at all pages take them from the
``pages`` fixture (conftest.py), which calls these."""

from __future__ import annotations

import shutil
from pathlib import Path

from report_helpers import TINY_TOML, observed_frame, raced_toy

from reports.forecast_page import write_forecast_page
from reports.load import write_load_report
from reports.optimize_page import write_optimize_page
from sim.analysis.fit import observed_cube, read_observed
from sim.analysis.forecast import Forecast, Rollout, run_forecast, write_forecast
from sim.cli import main
from sim.model.scenario import load_scenario

LOAD = Path(__file__).parent / "fixtures" / "load"
ROLLOUT = Rollout(installs_per_day=40, horizon=10, install_days=10, strategy="once")


def psa_run(out: Path) -> Path:
    """``simulate --prior-draws 12 --report`` of ``TINY_TOML`` into ``out``: the report with
    P(best), expected loss and what would change the answer."""
    out.parent.mkdir(parents=True, exist_ok=True)
    toml = out.parent / "tiny.toml"
    toml.write_text(TINY_TOML)
    assert main(["simulate", str(toml), "--prior-draws", "12", "--out", str(out),
                 "--no-progress", "--jobs", "2", "--report"]) == 0
    return out


def optimize_page(out: Path, prior_draws: int = 0) -> Path:
    """``optimize.html`` of ``raced_toy`` (with P(best) under ``prior_draws`` draws: two
    more columns in the picks table)."""
    out.mkdir(parents=True, exist_ok=True)
    return write_optimize_page(raced_toy(prior_draws), out, Path("toy.toml"), 1.0)


def forecast(out: Path, fitted: bool = False) -> Forecast:
    """The forecast of ``TINY_TOML`` (written into ``out``) over 10 days; ``fitted``: fitted
    to 5 observed days simulated with receptiveness 0.45."""
    out.mkdir(parents=True, exist_ok=True)
    toml = out / "tiny.toml"
    toml.write_text(TINY_TOML)
    sc = load_scenario(toml)
    obs = None
    if fitted:
        observed_frame(sc, ROLLOUT, 5, 0.45, 1.0, seed=7).to_csv(out / "obs.csv", index=False)
        obs = observed_cube(read_observed(out / "obs.csv"))
    return run_forecast(sc, ROLLOUT, observed=obs, trajectories=3, jobs=1)


def forecast_page(out: Path, fitted: bool = False) -> Path:
    """``forecast.html`` of ``forecast(out, fitted)``."""
    fc = forecast(out, fitted)
    write_forecast(fc, out)
    page, _ = write_forecast_page(fc, out, str(out / "tiny.toml"))
    return page


def load_page(out: Path) -> Path:
    """``load_report.html`` of the recorded Locust run in ``fixtures/load``."""
    shutil.copytree(LOAD, out)
    return write_load_report(out).html
