"""Forecasts: observed counts in, known parameters recovered, the command end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_helpers import TINY_TOML, observed_frame, small_scenario

from sim.analysis.fit import (
    FitError,
    fit_observed,
    observed_cube,
    read_observed,
    scale_allow,
)
from sim.analysis.forecast import Rollout, rollout_scenario
from sim.cli import main
from sim.model.behaviour import DialogOdds
from sim.rules.config.platforms import PLATFORMS


@pytest.mark.slow
def test_fit_recovers_known_parameters(tmp_path: Path) -> None:
    """Counts simulated with receptiveness 0.5 and primed allow scale 0.9 (defaults: 0.35
    and 1) are fitted back: both truths inside the 95% intervals, the defaults outside."""
    sc = small_scenario()
    r = Rollout(installs_per_day=250, horizon=12, install_days=12, strategy="multiple_3x2d")
    csv = tmp_path / "observed.csv"
    observed_frame(sc, r, 12, 0.5, 0.9, seed=2024).to_csv(csv, index=False)
    obs = observed_cube(read_observed(csv))
    fit_sc, _ = rollout_scenario(sc, r, 12, factor=2.0)
    fit = fit_observed(fit_sc, obs, jobs=2)
    lo, hi = fit.interval("receptiveness_mean")
    assert lo <= 0.5 <= hi and hi - lo < 0.1 and not lo <= 0.35 <= hi
    lo, hi = fit.interval("primed_allow_scale")
    assert lo <= 0.9 <= hi and hi - lo < 0.2 and not lo <= 1.0 <= hi
    assert all(abs(x["z"]) < 3 for x in fit.ratios)
    assert fit.phi["acceptance"] >= 1.0


def test_scale_allow_keeps_odds_summing_to_one() -> None:
    """The other answers shrink in proportion; allow is capped at 1."""
    o = DialogOdds(allowed=0.6, denied=0.2, dismissed=0.15, ignored=0.05)
    s = scale_allow(o, 1.5)
    assert s.allowed == pytest.approx(0.9)
    assert s.denied / s.dismissed == pytest.approx(0.2 / 0.15)
    assert scale_allow(o, 3.0).allowed == 1.0


@pytest.mark.parametrize(("edit", "message"), [
    (lambda df: df.drop(columns="os_dialogs_allowed"), "missing columns os_dialogs_allowed"),
    (lambda df: df.assign(platform="windows"), "unknown platform 'windows'"),
    (lambda df: df.assign(soft_prompts_accepted=df.soft_prompts_shown + 1),
     "soft_prompts_accepted exceeds soft_prompts_shown"),
    (lambda df: df[df.day != 2], "days must be consecutive"),
    (lambda df: df.assign(os_dialogs_shown=-1), "non-negative integers"),
])
def test_observed_file_errors(tmp_path: Path, edit: object, message: str) -> None:
    """Each problem with the observed file is named."""
    df = pd.DataFrame({"day": [1, 2, 3], "platform": ["ios"] * 3,
                       "soft_prompts_shown": [10, 12, 9], "soft_prompts_accepted": [4, 5, 3],
                       "os_dialogs_shown": [4, 5, 3], "os_dialogs_allowed": [3, 4, 2]})
    csv = tmp_path / "o.csv"
    edit(df).to_csv(csv, index=False)  # type: ignore[operator]
    with pytest.raises(FitError, match=message):
        read_observed(csv)


def test_observed_days_start_at_zero(tmp_path: Path) -> None:
    """The first observed day becomes day 0 of the rollout."""
    csv = tmp_path / "o.csv"
    csv.write_text("day,platform,soft_prompts_shown,soft_prompts_accepted,os_dialogs_shown,"
                   "os_dialogs_allowed\n5,web,10,3,3,1\n6,web,8,2,2,2\n")
    cube = observed_cube(read_observed(csv))
    assert cube.shape == (4, len(PLATFORMS), 2)
    assert cube[0, PLATFORMS.index("web")].tolist() == [10, 8]


@pytest.mark.slow
def test_forecast_command_with_observed_days(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """``promptsim forecast --observed`` fits, forecasts, and writes csv, json and html."""
    toml = tmp_path / "tiny.toml"
    toml.write_text(TINY_TOML)
    from sim.model.scenario import load_scenario

    sc = load_scenario(toml)
    r = Rollout(installs_per_day=100, horizon=20, install_days=20, strategy="twice")
    observed_frame(sc, r, 7, 0.45, 1.0, seed=7).to_csv(tmp_path / "obs.csv", index=False)
    out = tmp_path / "fc"
    assert main(["forecast", str(toml), "--installs-per-day", "100", "--horizon", "20",
                 "--observed", str(tmp_path / "obs.csv"), "--strategy", "twice",
                 "--trajectories", "4", "--max-devices", "1500", "--jobs", "2",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fitted receptiveness_mean" in text and "opt-in share of installed devices" in text
    df = pd.read_csv(out / "forecast.csv")
    assert set(df["series"]) == {"optin_share", "opted_in_devices", "provisional_devices",
                                 "reachable_users"}
    share = df[df["series"] == "optin_share"]
    assert ((share["q50"] >= 0) & (share["q50"] <= 100)).all()
    assert df["day"].max() == 20
    ok = df[["q2.5", "q10", "q50", "q90", "q97.5"]].to_numpy()
    assert np.all(np.diff(ok, axis=1) >= -1e-9)
    fit = json.loads((out / "fit.json").read_text())
    assert set(fit["parameters"]) == {"receptiveness_mean", "primed_allow_scale"}
    assert "daily_coverage_95" in fit["goodness_of_fit"]
    page = (out / "forecast.html").read_text()
    assert page.count('<img src="data:image/png;base64,') == 2
    assert "Goodness of fit" in page and "Method." in page


@pytest.mark.slow
def test_forecast_command_without_observed_days(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Without observed data the page says the intervals cover randomness only; without
    --strategy the forecast uses the strategy the scenario's objective recommends."""
    toml = tmp_path / "tiny.toml"
    # the baseline shows no prompt: the recommendation is another strategy
    toml.write_text(TINY_TOML.replace('baseline = "once"', 'baseline = "silent"')
                    + '[[strategies]]\nname = "silent"\ncampaigns = []\n')
    out = tmp_path / "fc"
    assert main(["forecast", str(toml), "--installs-per-day", "50", "--horizon", "10",
                 "--trajectories", "3", "--jobs", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    from sim.analysis.forecast import forecast_strategy
    from sim.model.scenario import load_scenario, pick_strategy

    sc = load_scenario(toml)
    chosen, why = forecast_strategy(sc, None)
    assert why.startswith("recommended under the scenario's objective")
    # not the baseline, which a load test runs by default
    assert pick_strategy(sc, None).name == "silent" and chosen != "silent"
    assert forecast_strategy(sc, "once") == ("once", "given with --strategy")
    assert f"strategy {chosen} (recommended under the scenario's objective" in printed
    page = (out / "forecast.html").read_text()
    assert "randomness only" in page and "recommended under the scenario" in page
    assert main(["forecast", str(toml), "--installs-per-day", "50", "--horizon", "10",
                 "--strategy", "never"]) == 2
    assert "--strategy: 'never' is not in the scenario" in capsys.readouterr().err
