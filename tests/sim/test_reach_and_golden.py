"""Reachability accounting in the panel, and a golden run that pins the model's output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sim.engine.runner import simulate
from sim.model.scenario import Scenario
from sim.rules.config.platforms import PROFILES

GOLDEN = Path(__file__).with_name("golden_small.json")


def test_reach_equals_device_counts_for_one_device_users(
        scenario: Callable[..., Scenario]) -> None:
    """With one device per user and every SDK reporting, 201 users are the devices that
    receive push (allowed or provisional) and 202 users the other installed mobile devices:
    a web origin without permission has no push subscription, so no code (issue 10).
    Android's hibernation is off here: a hibernated app has no code either (issue 24,
    ``test_hibernation_keeps_opt_ins_and_stops_reach_until_the_next_session``)."""
    sc = scenario(population={"mix": {"ios": 0.5, "android13": 0.3, "chrome": 0.2},
                              "second_device": 0.0, "sdk_reports_permission": 1.0},
                  platforms={"android13": {"hibernation_days": None}})
    r = simulate(sc)
    receives = r.series("opted_in_devices") + r.series("provisional_devices")
    np.testing.assert_array_equal(r.series("reach_201"), receives)
    chrome = PROFILES.index("chrome")
    mobile = np.ones(len(PROFILES), bool)
    mobile[chrome] = False
    np.testing.assert_array_equal(r.series("reach_202")[:, :, mobile],
                                  (r.series("active_devices") - receives)[:, :, mobile])
    assert r.series("reach_202")[:, :, chrome].sum() == 0
    assert r.series("active_devices")[:, :, chrome].sum() > receives[:, :, chrome].sum()
    assert r.series("reach_200").sum() == 0


def test_reach_counts_users_not_devices(scenario: Callable[..., Scenario]) -> None:
    """With second devices and old SDKs, each user is counted once per platform: the
    reachable users never exceed the installed devices, and 200 appears."""
    sc = scenario(population={"mix": {"ios": 1.0}, "second_device": 0.5,
                              "sdk_reports_permission": 0.7})
    r = simulate(sc)
    users = r.series("reach_200") + r.series("reach_201") + r.series("reach_202")
    assert (users <= r.series("active_devices")).all()
    assert (users < r.series("active_devices")).any()
    assert r.series("reach_200").sum() > 0


def _fingerprint(sc: Scenario) -> dict[str, list[int]]:
    r = simulate(sc)
    names = ("installs", "soft_prompts_shown", "soft_prompts_accepted", "os_dialogs_shown",
             "os_dialogs_allowed", "settings_enabled", "annoyance_uninstalls")
    out = {n: r.series(n).sum(axis=(0, 2, 3)).tolist() for n in names}
    for n in ("active_devices", "opted_in_devices", "blocked_devices", "reach_201"):
        out[n] = r.series(n)[:, :, :, -1].sum(axis=(0, 2)).tolist()
    return out


def test_golden_run(small: Scenario, request: pytest.FixtureRequest) -> None:
    """The small scenario's totals per strategy are pinned: a change to the model or the
    streams shows here first. Regenerate deliberately with ``--update-golden``."""
    got = _fingerprint(small)
    if request.config.getoption("--update-golden"):
        GOLDEN.write_text(json.dumps(got, indent=1) + "\n")
    assert got == json.loads(GOLDEN.read_text())


def test_a_user_is_counted_in_one_cohort(scenario: Callable[..., Scenario]) -> None:
    """A user whose two devices installed on different OS profiles of one platform (two
    cohorts) is counted in the cohort of the first: a cohort's count of users by
    reachability never goes below zero, and the platform's users are the cohorts' sum."""
    sc = scenario(population={"mix": {"android12": 0.5, "android13": 0.5},
                              "second_device": 0.8, "sdk_reports_permission": 0.7},
                  behaviour={"os_upgrade_per_year": 3.0})
    r = simulate(sc)
    for name in ("reach_200", "reach_201", "reach_202"):
        assert (r.series(name) >= 0).all(), name
        assert r.series(name).sum() > 0, name
    users = sum(r.by_platform(n) for n in ("reach_200", "reach_201", "reach_202"))
    assert (users <= r.by_platform("active_devices")).all()
    assert (users < r.by_platform("active_devices")).any()
