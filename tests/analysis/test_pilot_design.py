"""``pilot design``: the preposterior loss against its closed form, the arms it picks, the
experiment it writes (with fixed weights, or a Thompson allocation and its prices)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import msgspec
import numpy as np
import pytest

from sim.analysis import pilot_value as pv
from sim.analysis.pilot_decide import PlatformCall
from sim.analysis.pilot_design import COLD_HOLDOUT, choose_arms, design, experiment_body
from sim.model import priors
from sim.model.scenario import Scenario, load_scenario, parse_scenario
from sim.rules.config.campaigns import Campaign
from tests.analysis.pilot_helpers import SCENARIO


def _once_vs_cold() -> tuple[pv.Metamodel, list[pv.PriorBox]]:
    """Per 1,000 installs a cold dialog is worth 300, a soft prompt 600 x receptiveness:
    they tie at 0.5, the middle of a uniform prior on 0.1-0.9."""
    model = pv.Metamodel(["receptiveness_mean"], np.array([300.0, 0.0]),
                         np.array([[0.0, 600.0]]), 1.0)
    p = dataclasses.replace(priors.BY_NAME["receptiveness_mean"], shape="uniform")
    return model, [pv.PriorBox(p.name, 0.1, 0.9, 0.5, p)]


def test_the_expected_loss_matches_its_closed_form() -> None:
    """Deciding now loses E[|600 (r - 0.5)|] = 60 per 1,000 installs; after n soft prompts
    the posterior errs by about sigma^2 = 0.25 / n around the tie, and the loss is
    600 x density 1.25 x sigma^2 / 2 = 93.75 / n (the preposterior loss of a linear
    decision, e.g. Raiffa & Schlaifer 1961, ch. 5)."""
    model, boxes = _once_vs_cold()
    signal = pv.Signal("receptiveness_mean", "once", 1.0, 0.0, 1.0)
    now, at_500, at_2000 = pv.expected_loss(model, boxes, [signal], [0.0, 500.0, 2000.0],
                                            truths=20_000)
    assert now == pytest.approx(60.0, rel=0.05)
    assert at_500 == pytest.approx(93.75 / 500, rel=0.3)
    assert at_2000 == pytest.approx(93.75 / 2000, rel=0.3)
    n, curve = pv.installs_needed(
        lambda units: pv.expected_loss(model, boxes, [signal], units, truths=5000), 0.1)
    assert n is not None and 93.75 / 0.1 / 2 < n < 93.75 / 0.1 * 2
    assert curve[0] == (0.0, pytest.approx(60.0, rel=0.1))


def _call(platform: str, values: dict[str, float]) -> PlatformCall:
    return PlatformCall(platform, max(values, key=values.__getitem__), values,
                        pv.Metamodel([], np.zeros(len(values)), np.zeros((0, len(values))), 1.0),
                        [], 0.0, [])


def _scenario(strategies: list[dict[str, object]]) -> Scenario:
    return parse_scenario({"name": "arms", "devices": 100, "days": 10,
                           "population": {"mix": {"ios": 1.0}}, "strategies": strategies},
                          "arms")


ONCE = {"name": "once", "campaigns": [{"id": "soft"}]}
BACKOFF = {"name": "backoff", "campaigns": [
    {"id": "soft", "frequency": {"type": "backoff", "gap_days": 2, "factor": 2.0}}]}
COLD = {"name": "cold", "campaigns": [{"id": "native", "primer": False}]}
PROVISIONAL = {"name": "provisional", "provisional_on_install": True,
               "campaigns": [{"id": "soft"}]}


def test_a_cold_holdout_joins_where_a_cold_rate_decides() -> None:
    """The two best strategies both show soft prompts, so neither learns the cold iOS allow
    rate: when it decides, the scenario's cold strategy becomes an arm; without one, a
    cold holdout does. A strategy with iOS provisional at install cannot be an arm."""
    sc = _scenario([ONCE, BACKOFF, COLD, PROVISIONAL])
    names = ["receptiveness_mean", "dialog_cold.ios", "dialog_primed.ios"]
    calls = [_call("ios", {"provisional": 9.0, "once": 8.0, "backoff": 7.0, "cold": 1.0})]
    arms, why, skipped = choose_arms(sc, calls, {"ios": 1.0}, {"dialog_cold.ios"}, names, 3)
    assert [a.name for a in arms] == ["once", "cold"]
    assert why[1].startswith("cold holdout") and skipped[0].startswith("provisional:")
    arms, _, _ = choose_arms(sc, calls, {"ios": 1.0}, {"receptiveness_mean"}, names, 3)
    assert [a.name for a in arms] == ["once"]
    sc = _scenario([ONCE, BACKOFF])
    calls = [_call("ios", {"once": 8.0, "backoff": 7.0})]
    arms, _, _ = choose_arms(sc, calls, {"ios": 1.0}, {"dialog_cold.ios"}, names, 2)
    assert [a.name for a in arms] == ["once", "cold_holdout"] and arms[1] == COLD_HOLDOUT


def test_the_design_of_the_pilot_scenario() -> None:
    """Cold against back-off: both are arms (the cold one learns the cold rates, back-off
    the acceptance and the primed rates); the experiment runs at least its minimum days;
    the cold arm burns more iOS dialogs than back-off; the body is the contract's."""
    sc = msgspec.structs.replace(load_scenario(SCENARIO), devices=800)
    d = design(sc, draws=12, installs_per_day=500, max_loss=2.0, experiment_id="pilot-1",
               start=dt.date(2026, 12, 1), min_days=10, jobs=1)
    arms = {a.name: a for a in d.arms}
    assert set(arms) == {"cold_baseline", "backoff"}
    assert "dialog_cold.ios" in arms["cold_baseline"].identifies
    assert {"receptiveness_mean", "dialog_primed.ios"} <= set(arms["backoff"].identifies)
    assert d.days >= 10 and d.units == d.days * 500
    assert arms["cold_baseline"].ios_dialogs_burnt > arms["backoff"].ios_dialogs_burnt > 0
    assert arms["cold_baseline"].blocked > 0
    assert {p.platform for p in d.platforms} == {"ios", "android"}
    assert set(d.thin) == {"web"}  # 10% of 800 devices: under the 300 a platform needs
    body = experiment_body(d, sc)
    assert sum(a["weight"] for a in body["arms"]) == pytest.approx(1.0)  # type: ignore[index]
    assert body["start"] == "2026-12-01T00:00:00Z"
    assert body["end"] == f"{dt.date(2026, 12, 1) + dt.timedelta(days=d.days)}T00:00:00Z"
    for arm in body["arms"]:  # type: ignore[attr-defined]
        for c in arm["campaigns"]:
            msgspec.convert(c, Campaign)
    _check_thompson_body(d, sc, body)


def _check_thompson_body(d: Any, sc: Any, body: dict[str, Any]) -> None:
    """With ``--allocation thompson`` the body adds prices for every platform of its
    audience, which the service accepts: an iOS block costs the later opt-in (a share
    strictly between 0 and 1) plus the objective's weight of a block, and an opt-in now is
    worth the rest of one opted-in device."""
    from sim.rules.config.campaigns import Policy
    from sim.service.allocation import Thompson
    from sim.service.experiments import ExperimentIn, validate

    prices = {p.platform: p for p in d.prices}
    assert set(prices) == set(body["audience"]["platforms"])
    ios = prices["ios"]
    assert 0 < ios.later < 1 and ios.blocked > sc.objective.blocked
    assert ios.opt_in + ios.blocked == pytest.approx(sc.objective.opted_in + sc.objective.blocked)
    exp = validate("pilot-1", msgspec.convert(experiment_body(d, sc, thompson=True),
                                              ExperimentIn), Policy(), [], None)
    assert isinstance(exp.allocation, Thompson)
    assert {p.platform: p.blocked for p in exp.allocation.prices}["ios"] == round(ios.blocked, 4)
    assert "pilot design" in exp.allocation.prices_source


def test_the_same_scenario_and_seed_give_the_same_design() -> None:
    """Same scenario, seed and start: the same bytes, experiment and numbers."""
    sc = msgspec.structs.replace(load_scenario(SCENARIO), devices=700)

    def once() -> bytes:
        d = design(sc, draws=8, installs_per_day=500, max_loss=2.0, experiment_id="pilot-1",
                   start=dt.date(2026, 12, 1), min_days=7, jobs=1)
        return msgspec.json.encode([experiment_body(d, sc), d])

    assert once() == once()


def test_a_cold_holdout_the_scenario_lacks_is_simulated_for_its_counts_and_cost() -> None:
    """The scenario has soft prompts only: the cold holdout is simulated beside them, so its
    cold dialogs per unit and the iOS dialogs it burns are known, and it is no candidate."""
    from sim.analysis.pilot_decide import call
    from sim.analysis.pilot_design import ArmPlan, costs, window_signals
    from sim.analysis.sensitivity import run_sensitivity

    sc = _scenario([ONCE, BACKOFF])
    sc = msgspec.structs.replace(sc, devices=400)
    probe = msgspec.structs.replace(sc, strategies=(*sc.strategies, COLD_HOLDOUT))
    raw, draws = run_sensitivity(probe, 4, jobs=1)
    signals = window_signals(sc, raw, draws, [COLD_HOLDOUT], [1.0], 7)
    cold = [s for s in signals if s.prior == "dialog_cold.ios"]
    assert len(cold) == 1 and 0.3 < cold[0].trials_per_unit <= 1.5
    plan = costs(sc, raw, ArmPlan("cold_holdout", 1.0, COLD_HOLDOUT, [], "x"), 1000, 7)
    assert 200 < plan.ios_dialogs_burnt < 700 and plan.blocked > 0
    assert set(call(sc, raw, draws, "ios", []).values) == {"once", "backoff"}
