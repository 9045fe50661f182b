"""The default priors reproduce the published benchmarks (docs/benchmarks-published.md)."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import msgspec
import pytest

from sim.analysis.calibration import TARGETS, Row, Target, calibrate, format_rows
from sim.model.behaviour import Behaviour

SEEDS = tuple(range(3, 11))
"""Eight independent replications of the calibration (6,000 devices per cohort, about a
second each): their spread is the sampling noise the check allows."""
SPREAD = 3.0
"""Standard errors of the replication mean allowed on either side of the published range."""


@pytest.fixture(scope="module")
def replications() -> dict[str, list[float]]:
    """Each row's model figure in every replication, by row key."""
    runs = [calibrate(devices=6000, seed=s, jobs=1) for s in SEEDS]
    return {t.key: [next(r.model for r in run if r.target.key == t.key) for run in runs]
            for t in TARGETS}


def tolerance(values: list[float]) -> float:
    """Three standard errors of the mean of ``values`` (sample standard deviation)."""
    return SPREAD * statistics.stdev(values) / math.sqrt(len(values))


def within(target: Target, mean: float, tol: float) -> bool:
    """Whether a replication mean lies in the published range widened by ``tol``."""
    return target.low - tol <= mean <= target.high + tol


@pytest.mark.parametrize("key", [t.key for t in TARGETS])
def test_each_calibration_row_is_within_its_published_range(
        replications: dict[str, list[float]], key: str) -> None:
    """Cold OS dialog at first launch: iOS 41-58%, Android 13+ 60-67%, Android <= 12 81-91%
    opted in (Batch 2025, Netcore 2024, Airship); Chrome 10-23% and Firefox about 1.6% of
    dialogs granted (Bilogrevic et al. 2021; Mozilla 2019); 28-50% uninstalled within 30
    days, Android about 2x iOS (AppsFlyer); retention D1 25-30%, D7 10-15%, D30 5-8%
    (Quettra). The mean of the replications must lie in the range widened by three standard
    errors of that mean, computed from the replications themselves."""
    target = next(t for t in TARGETS if t.key == key)
    values = replications[key]
    mean, tol = statistics.fmean(values), tolerance(values)
    row = Row(target, mean)
    assert within(target, mean, tol), f"{format_rows([row])}\ntolerance {tol:.4f}: {values}"


def test_the_tolerance_is_the_noise_not_three_points(
        replications: dict[str, list[float]]) -> None:
    """The widening is the noise of the mean (0.2 to 1.1 points on the shares here), well
    under the fixed 3 points it replaced: a day-30 retention of 2% or 11% fails (it passed
    anywhere in 2-11% before), and so does every share row 1.5 points outside its range."""
    d30 = next(t for t in TARGETS if t.key == "retention_d30")
    tol = tolerance(replications["retention_d30"])
    assert not within(d30, 0.02, tol) and not within(d30, 0.11, tol)
    for t in TARGETS:
        if not t.key.endswith("ratio"):
            tol = tolerance(replications[t.key])
            assert not within(t, t.low - 0.015, tol), (t.key, tol)
            assert not within(t, t.high + 0.015, tol), (t.key, tol)


def test_the_old_opt_out_hazard_misses_android_12() -> None:
    """The check can fail: the pre-calibration opt-out hazard (0.06 a year) keeps about 96%
    of Android <= 12 devices opted in, above the published 81-91%."""
    old = msgspec.structs.replace(Behaviour(), opt_out_per_year=0.06)
    row = next(r for r in calibrate(old, devices=3000, seed=3)
               if r.target.key == "optin_android12")
    assert row.model > row.target.high + 0.03


@pytest.mark.slow
def test_the_docs_carry_the_calibration_table_of_the_current_defaults() -> None:
    """docs/behaviour-priors.md shows what ``python bench/calibrate.py`` prints now."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "behaviour-priors.md").read_text()
    for line in format_rows(calibrate(devices=20_000, seed=1, jobs=1)).splitlines():
        assert line in doc, line


def test_holding_out_a_source_predicts_it_from_the_others() -> None:
    """Issue 23: calibrate on every opt-in source but Airship (Batch 2025: iOS 56%, Android
    13+ 67%; Netcore 2024: Android 13+ 60%, Android <= 12 80-90%) and read Airship's figures
    (iOS 51%, Android <= 12 81%) off the fit. The fit must land each cohort on the mean of
    its remaining figures, so the model's Airship iOS is Batch's 56% (+5 points against
    Airship) and its Android <= 12 Netcore's middle, 85% (+4 against 81%, 0 against
    Netcore's own range); values outside the priors' ranges are allowed (wide brackets)."""
    from sim.analysis.holdout import SOURCES, format_hold_outs, hold_out

    res = hold_out("Airship", devices=1500, seed=3)
    assert res.targets == pytest.approx({"optin_ios": 0.56, "optin_android13": 0.635,
                                         "optin_android12": 0.85})
    assert res.at_bracket_end == []
    for row, share in res.shares.items():
        assert share == pytest.approx(res.targets[row], abs=0.004), row
    figs = {f.row: f for f in res.figures}
    assert set(figs) == set(SOURCES["Airship"])
    assert figs["optin_ios"].model == res.shares["optin_ios"]
    assert figs["optin_ios"].error == pytest.approx(0.05, abs=0.004)
    assert figs["optin_android12"].error == pytest.approx(0.04, abs=0.004)
    assert set(res.fitted) == {"opt_out_per_year", "dialog_cold.ios", "dialog_cold.android13"}
    table = format_hold_outs([res], 1500, 3)
    assert f"| Airship | iOS | 51% | {100 * figs['optin_ios'].model:.1f}% | " \
           f"{100 * figs['optin_ios'].error:+.1f} |" in table
    with pytest.raises(ValueError, match="it alone measures its rows, so it cannot be held"):
        hold_out("Mozilla 2019")
    with pytest.raises(ValueError, match="not one of Batch 2025, Airship, Netcore 2024"):
        hold_out("Gartner")
