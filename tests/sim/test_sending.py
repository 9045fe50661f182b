"""The app's sending in the simulator (issue 24, the life after opt-in): what reaches an
opted-in device, and the rules and behaviour that take it away."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from sim.engine.runner import simulate
from sim.model.objective import Objective, outcomes
from sim.model.scenario import Scenario, ScenarioError
from sim.model.sending import STATED_DISABLE, stated_disable_share

SCHEDULE = [{"id": "soft", "frequency": {"type": "multiple", "limit": 3, "gap_days": 3}}]
"""One soft prompt schedule: three times, three days apart."""


def two_volumes(low: dict[str, Any], high: dict[str, Any]) -> list[dict[str, Any]]:
    """One prompt schedule under two sendings."""
    return [{"name": "low", "campaigns": SCHEDULE, "sending": low},
            {"name": "high", "campaigns": SCHEDULE, "sending": high}]


def totals(r: Any, name: str) -> np.ndarray:
    """A flow summed over replications, cohorts and days, per strategy."""
    out: np.ndarray = r.series(name).sum(axis=(0, 2, 3))
    return out


def at_horizon(r: Any, name: str) -> np.ndarray:
    out: np.ndarray = r.series(name)[:, :, :, -1].sum(axis=(0, 2))
    return out


def test_without_sending_reachable_is_opted_in_minus_hibernating(
        scenario: Callable[..., Scenario]) -> None:
    """No ``[sending]``: nothing revokes or unsubscribes, so with Android's hibernation off
    the reachable devices are the opted-in ones, day by day; with it on, fewer."""
    sc = scenario(platforms={n: {"hibernation_days": None} for n in (
        "android13", "android13_legacy", "huawei_emui13", "fire_os_14")}, replications=1,
        devices=800, days=90, strategies=[
            {"name": "once", "campaigns": SCHEDULE},
            {"name": "cold", "campaigns": [{"id": "native", "primer": False}]}])
    r = simulate(sc)
    np.testing.assert_array_equal(r.series("reachable_devices"), r.series("opted_in_devices"))
    assert totals(r, "disruptive_revocations").sum() == 0
    assert totals(r, "subscriptions_removed").sum() == 0
    hib = simulate(scenario(replications=1, days=200, devices=600, population={
        "mix": {"android13": 1.0}, "install_window_days": 20},
        strategies=[{"name": "once", "campaigns": SCHEDULE}]))
    assert (hib.series("reachable_devices") <= hib.series("opted_in_devices")).all()
    assert at_horizon(hib, "reachable_devices").sum() < at_horizon(hib, "opted_in_devices").sum()


def test_five_pushes_a_day_get_chrome_to_revoke_one_does_not(
        scenario: Callable[..., Scenario]) -> None:
    """Chrome users who do not visit the site (engagement 0) and get 5 notifications a day
    are revoked (Safety Hub); at 1 a day none is; an engaged segment never is. The
    volume's own opt-outs are off here (scale 0) to see the rule alone."""
    quiet = {"volume_opt_out_scale": 0.0}
    sc = scenario(population={"mix": {"chrome": 1.0}, "install_window_days": 10},
                  days=60, replications=1,
                  strategies=two_volumes({"pushes_per_day": 1.0, **quiet},
                                         {"pushes_per_day": 5.0, **quiet}))
    r = simulate(sc)
    low, high = totals(r, "disruptive_revocations")
    assert low == 0 and high > 20
    reach, opted = at_horizon(r, "reachable_devices"), at_horizon(r, "opted_in_devices")
    np.testing.assert_array_equal(reach, opted)  # a revoked device is not opted in either
    assert opted[1] < opted[0]

    engaged = scenario(population={"mix": {"chrome": 1.0}, "install_window_days": 10},
                       days=60, replications=1,
                       strategies=two_volumes({"pushes_per_day": 5.0, "site_engagement": 1.0,
                                               **quiet},
                                              {"pushes_per_day": 5.0, **quiet,
                                               "rules": {"chrome": {"enabled": False}}}))
    assert totals(simulate(engaged), "disruptive_revocations").sum() == 0


def test_silent_pushes_unsubscribe_safari_but_not_declarative_web_push(
        scenario: Callable[..., Scenario]) -> None:
    """Safari users whose pushes are half silent lose their subscription (WebKit's 3rd
    silent push): still opted in, no longer reachable, and no reachability code. Declarative
    Web Push keeps them all."""
    quiet = {"volume_opt_out_scale": 0.0, "silent_share": 0.5}
    sc = scenario(population={"mix": {"safari": 1.0}, "install_window_days": 10,
                              "second_device": 0.0, "sdk_reports_permission": 1.0},
                  days=60, replications=1,
                  strategies=two_volumes({"pushes_per_day": 2.0, **quiet},
                                         {"pushes_per_day": 2.0, "declarative_web_push": True,
                                          **quiet}))
    r = simulate(sc)
    plain, declarative = totals(r, "subscriptions_removed")
    assert plain > 10 and declarative == 0
    reach, opted = at_horizon(r, "reachable_devices"), at_horizon(r, "opted_in_devices")
    assert reach[0] < opted[0] and reach[1] == opted[1]
    np.testing.assert_array_equal(at_horizon(r, "reach_201"), reach)


def test_the_volume_opt_out_follows_the_stated_shares(
        scenario: Callable[..., Scenario]) -> None:
    """Users turn notifications off as the volume grows, by Localytics' 2017 stated shares
    above the calibration's volume (3 a week, which the opt-out hazard holds): at 5 a day
    many more opt out than at 1 a day, and at the calibration's volume none more than
    without sending."""
    assert [stated_disable_share(x) for x, _ in STATED_DISABLE] == [y for _, y in STATED_DISABLE]
    assert stated_disable_share(3.0) == pytest.approx(0.285)
    assert stated_disable_share(70.0) == 0.80
    off = {"rules": {"chrome": {"enabled": False}}}
    sc = scenario(population={"mix": {"android13": 0.5, "chrome": 0.5},
                              "install_window_days": 10},
                  days=60, replications=1,
                  strategies=two_volumes({"pushes_per_day": 1.0, **off},
                                         {"pushes_per_day": 5.0, **off}))
    low, high = totals(simulate(sc), "opt_outs")
    assert high > 1.15 * low
    base = scenario(population={"mix": {"android13": 1.0}}, days=60, replications=1,
                    strategies=[{"name": "none", "campaigns": SCHEDULE},
                                {"name": "calibrated", "campaigns": SCHEDULE,
                                 "sending": {"pushes_per_day": 3.0 / 7.0}}])
    none, calibrated = totals(simulate(base), "opt_outs")
    assert none == calibrated


def test_both_drivers_agree_with_sending(scenario: Callable[..., Scenario]) -> None:
    """Skipping idle sessions and stepping through every one give the same panel with the
    sending's timers (revocations, removed subscriptions, volume opt-outs)."""
    sc = scenario(population={"mix": {"chrome": 0.4, "safari": 0.3, "android13": 0.3},
                              "install_window_days": 10},
                  days=45, replications=1, devices=500,
                  strategies=[{"name": "once", "campaigns": SCHEDULE},
                              {"name": "every_time", "campaigns": [
                                  {"id": "soft", "frequency": {"type": "every_time"}}]}],
                  sending={"pushes_per_day": 5.0, "silent_share": 0.1})
    fast, slow = simulate(sc, skip_idle=True), simulate(sc, skip_idle=False)
    for name in ("disruptive_revocations", "subscriptions_removed", "opt_outs",
                 "reachable_devices", "opted_in_devices", "os_dialogs_shown"):
        np.testing.assert_array_equal(fast.series(name), slow.series(name), err_msg=name)
    assert totals(fast, "disruptive_revocations").sum() > 0  # 4.5 shown a day
    assert totals(fast, "subscriptions_removed").sum() > 0


def test_the_objective_can_value_reachable_devices(scenario: Callable[..., Scenario]) -> None:
    """The ``reachable`` weight (default 0) adds each reachable device per 1,000 installs:
    the value with it is the value without it plus weight x reachable per 1,000."""
    sc = scenario(population={"mix": {"chrome": 1.0}}, days=40, replications=1,
                  sending={"pushes_per_day": 5.0})
    r = simulate(sc)

    def total(metric: str) -> np.ndarray:
        out: np.ndarray = r.series(metric).sum(axis=2)
        return out

    plain = outcomes(total, Objective())
    valued = outcomes(total, Objective(reachable=0.5))
    np.testing.assert_allclose(valued["value"],
                               plain["value"] + 0.5 * plain["reachable_per_1k"])
    assert "reachable" not in Objective().describe()
    assert "reachable 0.5" in Objective(reachable=0.5).describe()


def test_a_sending_segment_must_be_a_behaviour_segment(
        scenario: Callable[..., Scenario]) -> None:
    """A segment the behaviour does not have is an error naming the field and the allowed
    names."""
    with pytest.raises(ScenarioError, match=r"sending\.segments: unknown segment 'whales'; "
                                            r"allowed: one_and_done, casual, loyal"):
        scenario(sending={"segments": {"whales": {"pushes_per_day": 9}}})
    with pytest.raises(ScenarioError, match=r"strategies\[0\]\.sending\.segments"):
        scenario(strategies=[{"name": "a", "campaigns": SCHEDULE,
                              "sending": {"segments": {"whales": {}}}}])
