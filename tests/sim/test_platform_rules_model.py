"""The platform rules of issue 10 in the shared device life (engine and load-test device alike)."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import numpy as np
import pytest

from sim.engine.runner import event_log, simulate
from sim.model.scenario import Scenario, ScenarioError, parse_scenario
from sim.rules.config.platforms import PROFILES


def test_unsubscribed_is_a_user_turning_notifications_off_not_an_uninstall(
        scenario: Callable[..., Scenario]) -> None:
    """"Unsubscribed from Push" is tracked "when a user directly unsubscribes" (MoEngage): on
    Android <= 12 (on by default) with no opt-outs, uninstalls make no Unsubscribed; with
    opt-outs, every Unsubscribed is one."""
    quiet = scenario(population={"mix": {"android12": 1.0}},
                     behaviour={"opt_out_per_year": 0.0, "uninstall_after_churn":
                                {"android": 0.9}})
    r = simulate(quiet)
    assert r.series("uninstalls").sum() > 100
    assert r.series("unsubscribed").sum() == 0

    r = simulate(scenario(population={"mix": {"android12": 1.0}},
                          behaviour={"opt_out_per_year": 2.0}))
    assert r.series("opt_outs").sum() > 50
    np.testing.assert_array_equal(r.series("unsubscribed"), r.series("opt_outs"))


def test_one_reachability_code_per_user_and_family(scenario: Callable[..., Scenario]) -> None:
    """Reachability per user and platform family, Huawei and Amazon devices in Android (as
    the service counts): with Android phones, Huawei and Fire tablets and two devices per
    user, the users with a code on the last day are the users with an installed device that
    is not hibernated (used within its profile's ``hibernation_days`` of the horizon)."""
    sc = scenario(population={"mix": {"android13": 0.4, "huawei_emui12": 0.3,
                                      "fire_os_8": 0.3},
                              "second_device": 0.9, "sdk_reports_permission": 1.0},
                  strategies=[{"name": "once", "campaigns": [{"id": "soft"}]}])
    run = event_log(sc, devices=600)
    profiles = sc.profiles()
    installed: dict[str, bool] = {}
    user_of: dict[str, str] = {}
    profile: dict[str, str] = {}
    last_used: dict[str, float] = {}
    for e in run.log:
        user_of[e.device] = e.user
        if e.kind == "install":
            assert e.profile is not None
            profile[e.device] = e.profile
        elif e.kind == "os_upgraded":
            profile[e.device] = profiles[profile[e.device]].upgrade_to or profile[e.device]
        if e.kind in ("install", "reinstalled"):
            installed[e.device] = True
        elif e.kind == "uninstalled":
            installed[e.device] = False
        elif e.kind == "session_start":
            last_used[e.device] = e.t

    def awake(d: str) -> bool:
        hib = profiles[profile[d]].hibernation_days
        return hib is None or sc.days - last_used[d] <= hib

    users = {user_of[d] for d, on in installed.items() if on and awake(d)}
    assert not all(awake(d) for d in installed)  # some apps hibernate
    assert len(users) < sum(installed.values())  # some users have two installed devices
    last = sum(run.series(f"reach_{c}")[0, 0, :, -1].sum() for c in (200, 201, 202))
    assert last == len(users)


def test_population_devices_resolve_like_registrations(
        scenario: Callable[..., Scenario]) -> None:
    """A scenario may describe its devices as they register with the service (a platform
    family plus version, resolved by the rules' ``resolve_profile``): the same names in
    scenarios and in the API (issue 13, item 8)."""
    sc = scenario(population={"mix": {"ios": 0.5}, "devices": [
        {"platform": "android", "os_version": 14, "app_target_sdk": 34, "share": 0.2},
        {"platform": "huawei", "os_kind": "harmonyos", "api_level": 31, "share": 0.2},
        {"platform": "web", "browser": "chrome", "quiet_ui": True, "share": 0.1}]})
    assert sc.population.mix == {"ios": 0.5, "android13": 0.2, "huawei_emui12": 0.2,
                                 "chrome_quiet": 0.1}
    with pytest.raises(ScenarioError, match=r"population\.devices\[0\]\.os_kind: required "
                                            r"for platform huawei; allowed: emui"):
        scenario(population={"mix": {"ios": 0.5},
                             "devices": [{"platform": "huawei", "share": 0.5}]})


def test_adaptive_quiet_share_puts_chrome_devices_on_the_quiet_profile(
        scenario: Callable[..., Scenario]) -> None:
    """``behaviour.chrome_adaptive_quiet``: that share of Chrome devices installs on
    ``chrome_quiet`` (its own cohort in the panel), drawn after every other draw so the
    rest of the population is unchanged."""
    base = scenario(population={"mix": {"chrome": 0.5, "ios": 0.5}})
    raw = msgspec.to_builtins(base)
    raw["behaviour"]["chrome_adaptive_quiet"] = 0.5
    quiet = parse_scenario(raw)
    assert "chrome_quiet" in quiet.install_profiles()
    r0, r1 = simulate(base), simulate(quiet)
    q, c = PROFILES.index("chrome_quiet"), PROFILES.index("chrome")
    assert r0.series("installs")[:, :, q].sum() == 0
    assert 0 < r1.series("installs")[:, :, q].sum() < r0.series("installs")[:, :, c].sum()
    total = r1.series("installs")[:, :, [c, q]].sum()
    assert total == r0.series("installs")[:, :, c].sum()



def test_hibernation_keeps_opt_ins_and_stops_reach_until_the_next_session(
        scenario: Callable[..., Scenario]) -> None:
    """Android hibernation (issue 24): an app unused for ``hibernation_days`` keeps its
    notification permission (AOSP ``AutoRevokePermissions.kt`` exempts POST_NOTIFICATIONS)
    but no push reaches it until its next session (developer.android.com "App
    hibernation"). With a 3-day delay (a setting) against hibernation off, the opted-in
    devices and every prompt are the same, while some opted-in users are not reachable on
    some days, and are again once they use the app."""
    base = {"population": {"mix": {"android13": 1.0}, "second_device": 0.0,
                           "sdk_reports_permission": 1.0},
            "strategies": [{"name": "once", "campaigns": [{"id": "soft"}]}]}
    off = simulate(scenario(**base, platforms={"android13": {"hibernation_days": None}}))
    on = simulate(scenario(**base, platforms={"android13": {"hibernation_days": 3.0}}))
    for name in ("opted_in_devices", "active_devices", "soft_prompts_shown",
                 "os_dialogs_allowed"):
        np.testing.assert_array_equal(on.series(name), off.series(name), err_msg=name)
    np.testing.assert_array_equal(off.series("reach_201"), off.series("opted_in_devices"))
    asleep = off.series("reach_201") - on.series("reach_201")
    assert (asleep >= 0).all()
    assert asleep.sum() > 0
    # Devices wake up again: some day has fewer hibernated opted-in users than the day before.
    assert (np.diff(asleep, axis=-1) < 0).any()
