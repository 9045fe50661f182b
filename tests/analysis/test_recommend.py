"""The recommendation maximises the scenario's objective; Pareto efficiency; one policy that
runs each platform's pick."""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis.recommend import platform_policy, recommend, weight_flips
from sim.model.objective import Objective, expected_loss, p_best, pareto_efficient, value
from sim.model.scenario import parse_scenario
from sim.rules.config.campaigns import TriggerFired
from sim.rules.config.platforms import DEFAULT_PROFILES
from sim.rules.config.verdict import Decision
from sim.rules.decision import decide, start_session
from sim.rules.native import PolicyRules, ProfileRules
from sim.rules.permission import new_install


def outcomes(optin: list[list[float]], annoy: list[list[float]],
             blocked: list[list[float]] | None = None) -> dict[str, np.ndarray]:
    """Outcomes ``[replication, strategy]`` from opted in and prompt uninstalls per 1,000
    installs (installed devices = installs, so shares are per 1,000 too)."""
    o = np.array(optin, dtype=float)
    b = np.zeros_like(o) if blocked is None else np.array(blocked, dtype=float)
    out = {"optin_per_1k": o, "optin_share": o / 1000, "provisional_per_1k": 0 * o,
           "provisional_share": 0 * o, "blocked_per_1k": b, "blocked_share": b / 1000,
           "prompt_uninstalls_per_1k": np.array(annoy, dtype=float)}
    out["value"] = value(out, Objective())
    return out


def test_the_objective_weighs_opt_ins_against_uninstalls_and_blocked_devices() -> None:
    """value = 1 x opted in + 0.25 x provisional - 3 x prompt uninstalls - 0.2 x blocked,
    per 1,000 installs (the documented defaults)."""
    o = outcomes([[500.0]], [[10.0]], [[100.0]])
    o["provisional_per_1k"] = np.array([[40.0]])
    assert value(o, Objective())[0, 0] == pytest.approx(500 + 10 - 30 - 20)


def test_recommendation_maximises_the_value_not_the_opt_ins() -> None:
    """``every`` opts in the most but its prompt uninstalls cost more than it gains."""
    o = outcomes([[200, 260, 220], [210, 275, 229], [190, 250, 212]],
                 [[1, 30, 1.5], [1.2, 31, 1.4], [0.8, 29, 1.9]])
    rec = recommend(o, ["once", "every", "multi"], "once", Objective())
    assert rec.strategy == "multi"
    assert "multi: value" in rec.reasons[0]
    assert rec.pareto == ["once", "every", "multi"]  # none dominates another


def test_recommendation_keeps_baseline_when_gain_is_not_significant() -> None:
    """A gain whose paired interval crosses zero does not displace the baseline."""
    o = outcomes([[200, 205], [210, 205], [190, 196]], [[1, 1], [1, 1], [1, 1]])
    rec = recommend(o, ["once", "other"], "once", Objective())
    assert rec.strategy == "once"
    assert "does not beat once significantly" in rec.reasons[0]
    assert rec.tied == ["other"]


def test_one_replication_is_provisional() -> None:
    """Without intervals the means decide, and the page says so."""
    rec = recommend(outcomes([[200, 230]], [[1, 2]]), ["once", "other"], "once", Objective())
    assert rec.strategy == "other" and rec.provisional
    assert "provisional" in rec.reasons[-1]


def test_p_best_expected_loss_and_pareto_by_hand() -> None:
    """Three draws: A best twice, B once (a tie splits a draw); losses are the gaps to the
    best of each draw; C is dominated by B on every outcome."""
    v = np.array([[10.0, 8.0, 1.0], [10.0, 12.0, 2.0], [5.0, 5.0, 0.0]])
    assert p_best(v) == pytest.approx([0.5, 0.5, 0.0])
    assert expected_loss(v) == pytest.approx([2 / 3, 2 / 3, (9 + 10 + 5) / 3])
    eff = pareto_efficient(np.array([0.5, 0.6, 0.55]), np.array([1.0, 2.0, 3.0]),
                           np.array([0.1, 0.1, 0.2]))
    assert eff.tolist() == [True, True, False]


def test_the_per_platform_policy_runs_each_pick_on_its_platform_only() -> None:
    """iOS keeps the soft prompt, Android the cold dialog: one policy whose campaigns carry
    audiences, so ``decide`` shows each device its platform's campaign."""
    sc = parse_scenario({
        "name": "p", "devices": 10, "days": 10, "population": {"mix": {"ios": 1.0}},
        "strategies": [{"name": "cold", "campaigns": [{"id": "native", "primer": False}]},
                       {"name": "soft", "provisional_on_install": True,
                        "campaigns": [{"id": "soft"}]}]})
    policy = platform_policy(sc, {"ios": "soft", "android": "cold"})
    assert [c.id for c in policy.campaigns] == ["android.native", "ios.soft"]
    assert policy.provisional_on_install
    fired = TriggerFired(trigger="app_open")

    def first_session(name: str) -> Decision:
        profile = ProfileRules(DEFAULT_PROFILES[name])
        st = new_install(profile)
        start_session(st, profile, 0.0)
        return decide(st, profile, PolicyRules(policy), fired, 0.0)

    assert first_session("ios").campaign_id == "ios.soft"
    assert first_session("android13").campaign_id == "android.native"
    assert first_session("chrome").reason == "not_in_audience"


def test_the_weight_at_which_another_strategy_would_win_is_exact() -> None:
    """The value is linear in each weight: ``every`` (260 opted in, 30 prompt uninstalls)
    beats ``multi`` (220, 1.5) once an uninstall costs less than 40 / 28.5 = 1.40."""
    o = outcomes([[260, 220]], [[30, 1.5]])
    flips = weight_flips(o, ["every", "multi"], "multi", Objective())
    assert flips == ["`every` would beat `multi` if a prompt-caused uninstall cost less than "
                     "1.40 opted-in devices (now 3)."]


def test_weight_flips_use_the_point_weights_when_the_draws_drew_others() -> None:
    """A sensitivity run values each draw at its own weights; the flip sentence names the
    point weight ("now 3"), so it is computed at the point weights, not at their draws."""
    o = outcomes([[260, 220], [260, 220]], [[30, 1.5], [30, 1.5]])
    drawn = Objective(drawn={"prompt_uninstall": (1.0, 1.2)})
    o["value"] = value(o, drawn)  # both draws cheaper than 1.40: every wins in each
    assert o["value"][:, 0].mean() > o["value"][:, 1].mean()
    assert weight_flips(o, ["every", "multi"], "multi", drawn) == [
        "`every` would beat `multi` if a prompt-caused uninstall cost less than 1.40 "
        "opted-in devices (now 3)."]


def test_an_underpowered_run_says_it_cannot_separate_the_two() -> None:
    """Issue 23 item 3: keeping the baseline because the gain is not significant is said as
    what it is, with the replications that would separate them if the gain is real."""
    o = outcomes([[200, 212], [210, 209], [190, 203]], [[1, 1], [1, 1], [1, 1]])
    rec = recommend(o, ["once", "other"], "once", Objective())
    assert rec.strategy == "once"
    assert rec.reasons[0].startswith("Not enough replications to separate other and once:")
    need = int(rec.reasons[0].split("about ")[1].split(" ")[0])
    assert need > 3 and f"--replications {need}" in rec.reasons[0]


def test_with_prior_draws_the_reasons_label_the_interval_and_give_p_best_its_error() -> None:
    """The interval of the mean is not the spread across draws, and P(best) over 4 draws
    carries its Monte Carlo standard error (here sqrt(0.75 x 0.25 / 4) = 22 points)."""
    o = outcomes([[200, 230], [210, 205], [190, 230], [260, 300]], [[1, 1]] * 4)
    rec = recommend(o, ["once", "other"], "once", Objective(), draws=True)
    assert rec.strategy == "other"
    text = rec.reasons[0]
    assert "(that interval is of the mean; across the draws its value spans" in text
    assert "best in 75% of the draws (\u00b122 points, Monte Carlo standard error)" in text
