"""``pilot fit`` against a known truth: the simulator plays hidden priors through the
experiment's arms, the fit must find them and the re-recommendation the truth's pick."""

from __future__ import annotations

import json
import tomllib

import msgspec
import numpy as np
import pytest

from sim.analysis import pilot_fit as pf
from sim.analysis.pilot_design import design
from sim.analysis.pilot_refit import Settings, refit
from sim.analysis.pilot_stats import parse_stats
from sim.analysis.pilot_truth import Arm
from sim.analysis.pilot_value import platform_values
from sim.engine.runner import simulate
from sim.model import priors
from sim.model.scenario import Scenario, load_scenario
from tests.analysis.pilot_helpers import SCENARIO, START, arm_index, stats_under, truth


def test_truth_stats_follow_the_contract() -> None:
    """Every device is one unit, in the arm the contract's hash gives it; the cold arm shows
    no soft prompt; counts of a cell never exceed what they count from."""
    hidden = truth({})
    body = stats_under(hidden, devices=3000, days=7)
    st = parse_stats(json.dumps(body).encode(), "stats")
    assert st.total("units") == 3000
    in_cold = sum(arm_index("pilot-1", f"d{i}", (0.5, 0.5)) == 0 for i in range(3000))
    assert st.total("units", arm="cold_baseline") == in_cold
    assert st.total("soft_shown", arm="cold_baseline") == 0
    assert st.total("os_shown", arm="cold_baseline") > 0
    assert st.total("soft_shown", arm="backoff") > st.total("units_soft_shown", arm="backoff")
    assert st.days() == 7
    for c in st.cells:
        assert c.units_os_shown <= c.os_shown and c.opted_in <= c.units
        assert c.os_allowed + c.os_denied + c.os_dismissed <= c.os_shown
        assert c.soft_accepted + c.soft_dismissed <= c.soft_shown
    ios_cold = st.total("blocked", arm="cold_baseline", platform="ios")
    ios_denied = st.total("os_denied", arm="cold_baseline", platform="ios")
    assert 0 < ios_cold <= ios_denied  # an iOS deny is final, unless uninstalled since


def test_a_cold_rate_is_fitted_by_its_beta_posterior() -> None:
    """k of n allowed: the mean is (1 + k) / (2 + n) and the interval holds 95%."""
    mean, lo, hi = pf.beta_interval(40, 100)
    assert mean == pytest.approx(41 / 102)
    from scipy import stats

    assert stats.beta.cdf([lo, hi], 41, 61) == pytest.approx([0.025, 0.975])


def test_stats_that_break_the_contract_name_the_field() -> None:
    body = stats_under(truth({}), devices=600, days=3)
    body["cells"][0]["arm"] = "nope"
    with pytest.raises(ValueError, match=r"cells\[0\]\.arm: unknown arm 'nope'; allowed: "
                                         r"cold_baseline, backoff"):
        parse_stats(json.dumps(body).encode(), "s.json")
    body["cells"][0]["arm"] = "backoff"
    body["cells"][0]["units"] = -1
    with pytest.raises(ValueError, match=r"s.json: .*cells\[0\]\.units"):
        parse_stats(json.dumps(body).encode(), "s.json")


def test_an_arm_that_mixes_cold_and_primed_dialogs_gives_no_allow_rate() -> None:
    """By the counts alone back-off is a primer arm; told that its policy also opens the
    dialog cold, the fit reads no primed allow rate from it (its dialogs are of both
    kinds), and still reads the cold one from the cold arm."""
    sc = load_scenario(SCENARIO)
    st = parse_stats(json.dumps(stats_under(truth({}), devices=2000, days=7)).encode(), "s")
    by = {s.name: s for s in sc.strategies}
    assert "dialog_primed.ios" in {f.prior for f in pf.direct_fits(sc, st)}
    cold = by["cold_baseline"].campaigns[0]
    mixed = msgspec.structs.replace(by["backoff"], campaigns=(
        *by["backoff"].campaigns, msgspec.structs.replace(cold, id="native")))
    policies = {"cold_baseline": by["cold_baseline"], "backoff": mixed}
    assert pf.arm_kinds(st, policies) == (["cold_baseline"], [], ["backoff"])
    found = {f.prior for f in pf.direct_fits(sc, st, policies)}
    assert "dialog_cold.ios" in found and not any(p.startswith("dialog_primed") for p in found)


def truth_pick(hidden: Scenario, platform: str) -> str:
    """The simulator's pick on ``platform`` when the truth is known (no prior draws)."""
    raw = simulate(hidden, jobs=2)
    values = np.nanmean(platform_values(raw, platform), axis=0)
    return hidden.strategy_names()[int(np.argmax(values))]


@pytest.mark.slow
@pytest.mark.parametrize("hidden", [
    {"receptiveness_mean": 0.62, "dialog_cold.ios": 0.46},
    {"receptiveness_mean": 0.30, "dialog_cold.ios": 0.62},
], ids=["primer-side", "cold-side"])
def test_the_fit_recovers_a_hidden_truth_and_its_pick(hidden: dict[str, float]) -> None:
    """The scenario assumes receptiveness 0.45 and a cold iOS allow rate of 0.58 (the pick
    flips near receptiveness 0.55). Under each truth, on either side of that flip, the two
    hidden priors are fitted with the truth inside their 95% intervals, every other prior
    the experiment identifies inside its interval at 99.5% (Bonferroni over the ten or so
    intervals the test checks: at 95% each, one of them would miss by chance one run in
    two), and the re-recommendation on the calibrated scenario is the truth's own pick on
    iOS and Android."""
    sc = load_scenario(SCENARIO)
    world = truth(hidden)
    st = parse_stats(json.dumps(stats_under(world)).encode(), "stats")
    raw = tomllib.loads(SCENARIO.read_text())
    res = refit(sc, raw, st, {s.name: s for s in sc.strategies}, "pilot-1",
                Settings(devices=1500, draws=16, map_devices=3000, jobs=2))
    fitted = {f.prior: f for f in res.fits}
    assert {"dialog_cold.ios", "dialog_cold.android13", "dialog_cold.chrome",
            "dialog_primed.ios", "dialog_primed.android13", "receptiveness_mean"} <= set(fitted)
    for name, f in fitted.items():
        true = priors.BY_NAME[name].value(world.behaviour)
        lo, hi = (f.low, f.high) if name in hidden or f.method != "beta-binomial" \
            else pf.beta_interval(f.successes, f.trials, 0.995)[1:]
        assert lo <= true <= hi, (name, true, f)
    assert res.calibrated["sensitivity"]["sources"]["receptiveness_mean"].startswith("pilot-1")
    verdicts = {v.platform: v for v in res.verdicts}
    for platform in ("ios", "android"):
        assert verdicts[platform].after == truth_pick(world, platform), platform


@pytest.mark.slow
def test_the_fit_recovers_what_the_design_says_it_identifies() -> None:
    """Design -> experiment -> fit: the designed arms, run for the designed days at the
    stated installs under a hidden truth, identify every prior the design says they do,
    and each is fitted with the truth inside its interval (99.5% but for the two hidden
    ones, as above)."""
    sc = load_scenario(SCENARIO)
    hidden = {"receptiveness_mean": 0.62, "dialog_cold.ios": 0.46}
    world = truth(hidden)
    d = design(msgspec.structs.replace(sc, devices=1000), draws=12, installs_per_day=2000,
               max_loss=2.0, experiment_id="pilot-1", start=START, min_days=14, jobs=2)
    arms = [Arm(a.name, a.weight, a.strategy) for a in d.arms]
    body = stats_under(world, devices=int(d.units), days=d.days, arms=arms)
    st = parse_stats(json.dumps(body).encode(), "stats")
    res = refit(sc, tomllib.loads(SCENARIO.read_text()), st,
                {a.name: a.strategy for a in d.arms}, "pilot-1",
                Settings(devices=600, draws=8, map_devices=3000, jobs=2))
    fitted = {f.prior: f for f in res.fits}
    said = {p for a in d.arms for p in a.identifies}
    assert said and said <= set(fitted)
    for name in said:
        f = fitted[name]
        true = priors.BY_NAME[name].value(world.behaviour)
        lo, hi = (f.low, f.high) if name in hidden or f.method != "beta-binomial" \
            else pf.beta_interval(f.successes, f.trials, 0.995)[1:]
        assert lo <= true <= hi, (name, true, f)
