"""Rules read against the platforms' own code and the vendors' pages (issue 10).

Each test states one rule and names its source (repository and path for code). Where
the sources disagree the rule is a profile setting (``docs/platform-settings.md``),
and the test checks the default and the other reading one switch away.
"""

from __future__ import annotations

import pytest

from sim.rules.config.campaigns import Campaign, Caps, Policy, TriggerFired, every_time
from sim.rules.config.platforms import (
    DEFAULT_PROFILES,
    FAMILY_OF,
    REPORTS,
    DeviceKind,
    PlatformProfile,
    override_profiles,
    resolve_profile,
)
from sim.rules.config.verdict import Decision
from sim.rules.decision import decide, next_chance, record_impression, start_session
from sim.rules.native import PolicyRules, ProfileRules
from sim.rules.permission import (
    DeviceState,
    adaptive_quiet_ui,
    apply_clear_data,
    apply_dialog_result,
    apply_os_upgrade,
    apply_reinstall,
    apply_uninstall,
    dialogs_left,
    first_launch_dialog_due,
    is_blocked,
    local_day,
    new_install,
    os_dialog_unavailable,
)
from sim.rules.reachability import device_reach, user_reach


def overridden(overrides: dict[str, dict[str, object]]) -> dict[str, ProfileRules]:
    """The built-in profiles with ``overrides``, as the rules read them."""
    return {n: ProfileRules(p) for n, p in override_profiles(DEFAULT_PROFILES, overrides).items()}


P = {n: ProfileRules(p) for n, p in DEFAULT_PROFILES.items()}
APP_OPEN = TriggerFired(trigger="app_open")
PROMPT = PolicyRules(Policy(campaigns=(Campaign(id="push", frequency=every_time()),)))


def install(profile: ProfileRules, now: float = 0.0, **kw: object) -> DeviceState:
    state = new_install(profile, **kw)  # type: ignore[arg-type]
    start_session(state, profile, now)
    return state


def button(state: DeviceState, profile: ProfileRules, now: float,
           policy: PolicyRules = PROMPT) -> Decision:
    return decide(state, profile, policy, APP_OPEN, now)


OS_DIALOG = Decision(show=True, reason="eligible", campaign_id="push", action="os_dialog")
EMBARGOED = Decision(show=False, reason="embargoed")


# --- 1. Chrome's embargo counts -------------------------------------------------------

def test_embargo_counts_are_not_reset_by_an_embargo() -> None:
    """Chrome counts dismissals per origin and permission; the 3rd starts a 7-day embargo and
    the counts stay, so after the embargo one more dismissal embargoes the origin again
    (and one more ignore after four). Only clearing the site's data resets them.

    Source: Chromium ``components/permissions/permission_decision_auto_blocker.cc``
    (chromium/chromium: ``RecordDismissAndEmbargo`` increments the count and embargoes when
    it is >= the threshold; nothing but ``RemoveEmbargoAndResetCounts`` clears it) and
    ``components/permissions/permission_decision_auto_blocker_unittest.cc``
    (bloomberg/chromium.bb)."""
    chrome = P["chrome"]
    state = install(chrome)
    for _ in range(3):
        apply_dialog_result(state, chrome, "dismissed", now=0.0)
    assert (state.dismissals, state.embargo_until) == (3, 7.0)
    assert button(state, chrome, 6.99) == EMBARGOED
    assert button(state, chrome, 7.0) == Decision(show=True, reason="eligible",
                                                  campaign_id="push", action="os_dialog",
                                                  prompt_ui="loud")

    apply_dialog_result(state, chrome, "dismissed", now=7.0)
    assert (state.dismissals, state.embargo_until) == (4, 14.0)

    for _ in range(4):
        apply_dialog_result(state, chrome, "ignored", now=20.0)
    assert state.embargo_until == 27.0
    apply_dialog_result(state, chrome, "ignored", now=27.0)
    assert (state.ignores, state.embargo_until) == (5, 34.0)

    apply_clear_data(state, chrome)
    assert (state.dismissals, state.ignores, state.embargo_until) == (0, 0, None)
    apply_dialog_result(state, chrome, "dismissed", now=40.0)
    assert state.embargo_until is None


# --- 2. the quiet prompt ------------------------------------------------------------------

def test_chrome_quiet_embargoes_after_one_dismissal_or_two_ignores_and_counts_both() -> None:
    """Chrome's quieter UI (profile ``chrome_quiet``): 1 dismissal or 2 ignores embargo the
    origin for 7 days, and a quiet action counts toward the normal threshold too.

    Source: Chromium ``components/permissions/permission_decision_auto_blocker.cc``
    (chromium/chromium: kDefaultDismissalsBeforeBlockWithQuietUi = 1,
    kDefaultIgnoresBeforeBlockWithQuietUi = 2; ``RecordDismissAndEmbargo`` increments
    dismiss_count always and dismiss_count_quiet_ui for a quiet prompt)."""
    quiet = P["chrome_quiet"]
    assert resolve_profile("web", browser="chrome", quiet_ui=True) == "chrome_quiet"
    state = install(quiet)
    apply_dialog_result(state, quiet, "dismissed", now=0.0)
    assert (state.dismissals, state.quiet_dismissals) == (1, 1)
    assert os_dialog_unavailable(state, quiet, 6.9) == "embargoed"

    state = install(quiet)
    apply_dialog_result(state, quiet, "ignored", now=0.0)
    assert state.embargo_until is None
    apply_dialog_result(state, quiet, "ignored", now=0.0)
    assert (state.ignores, state.quiet_ignores, state.embargo_until) == (2, 2, 7.0)


def test_adaptive_quiet_ui_after_three_denials_in_a_row_within_90_days() -> None:
    """Chrome's adaptive quiet UI turns on after 3 notification denials in a row (across
    sites) within 90 days: an allow breaks the run; dismissals and ignores are skipped.

    Source: Chromium
    ``chrome/browser/permissions/adaptive_quiet_notification_permission_ui_enabler.cc``
    (chromium/chromium: ``DidDenyLastThreeTimes``, kConsecutiveDeniesThresholdForActivation
    = 3, a 90-day window of the actions history)."""
    assert adaptive_quiet_ui([(1.0, "denied"), (2.0, "dismissed"), (3.0, "denied"),
                              (4.0, "ignored"), (5.0, "denied")], now=5.0)
    assert not adaptive_quiet_ui([(1.0, "denied"), (2.0, "denied"), (3.0, "allowed"),
                                  (5.0, "denied")], now=5.0)
    assert not adaptive_quiet_ui([(1.0, "denied"), (50.0, "denied"), (95.0, "denied")],
                                 now=95.0)
    assert adaptive_quiet_ui([(10.0, "denied"), (50.0, "denied"), (95.0, "denied")], now=95.0)


def test_adaptive_quiet_ui_stays_on_once_activated() -> None:
    """Once 3 denials in a row turned the quiet UI on, it stays on: later allows, and the
    denials leaving the 90-day window, do not turn it off. Only the user does, in settings;
    then only answers after that moment count toward a new activation.

    Source: Chromium
    ``chrome/browser/permissions/adaptive_quiet_notification_permission_ui_enabler.cc``
    (chromium/chromium: ``PermissionPromptResolved`` returns at once while
    ``kEnableQuietNotificationPermissionUi`` is set, and nothing but the user clears it;
    ``OnQuietUiStateChanged`` stores ``kQuietNotificationPermissionUiDisabledTime`` and the
    history is read from ``max(cutoff, disable_time)``) and
    ``components/permissions/permission_actions_history.cc`` (chromium/chromium: the
    notification prompts' actions history the enabler reads)."""
    denied3 = [(1.0, "denied"), (2.0, "denied"), (3.0, "denied")]
    assert adaptive_quiet_ui([*denied3, (4.0, "allowed"), (5.0, "allowed")], now=5.0)
    assert adaptive_quiet_ui(denied3, now=400.0)
    # The user turned it off on day 3.5: the denials before count no more, later ones do.
    assert not adaptive_quiet_ui([*denied3, (4.0, "denied")], now=5.0, disabled_at=3.5)
    assert adaptive_quiet_ui([*denied3, (4.0, "denied"), (5.0, "dismissed"), (6.0, "denied"),
                              (7.0, "denied")], now=7.0, disabled_at=3.5)
    # Answers after ``now`` have not happened yet.
    assert not adaptive_quiet_ui(denied3, now=2.5)


# --- 3. the web's fallback and the embargo ----------------------------------------------

@pytest.mark.parametrize("name", ["chrome", "chrome_quiet", "firefox", "safari"])
def test_a_page_cannot_open_browser_settings_it_shows_instructions(name: str) -> None:
    """A web page cannot open the browser's settings: after ``denied`` the fallback button
    shows instructions for unblocking the site (action ``instructions``), and a
    navigate-to-settings campaign does the same.

    Source: MDN ``Notification.requestPermission`` (no API reopens the prompt or opens
    settings); OneSignal "Prompt for push permissions" (web: instructions to unblock)."""
    profile = P[name]
    state = install(profile)
    apply_dialog_result(state, profile, "denied", now=0.0)
    assert button(state, profile, 1.0).action == "instructions"
    nav = PolicyRules(Policy(campaigns=(Campaign(id="push", action="open_settings"),)))
    assert button(state, profile, 1.0, nav).action == "instructions"
    assert button(install(P["android13"]), P["android13"], 0.0, nav).action == "open_settings"


def test_during_an_embargo_the_os_dialog_prompt_is_not_shown_and_waits_for_its_end() -> None:
    """During an embargo the browser returns without showing anything, so a soft prompt whose
    only action is the OS dialog is not shown (``embargoed``), and ``next_chance`` is the
    embargo's end.

    Source: Chromium ``components/permissions/permission_decision_auto_blocker.cc``
    (chromium/chromium: ``GetEmbargoResult`` answers DENIED without a prompt)."""
    chrome = P["chrome"]
    state = install(chrome)
    for _ in range(3):
        apply_dialog_result(state, chrome, "dismissed", now=1.0)
    assert button(state, chrome, 2.0) == EMBARGOED
    assert next_chance(state, chrome, PROMPT, 2.0) == 8.0


# --- 4. no permission, no token -----------------------------------------------------------

def test_a_web_origin_without_permission_has_no_token_hence_no_code() -> None:
    """A web origin without permission has no push subscription: neither 201 nor 202 for
    that device (MoEngage's 202 is for devices with a valid token that opted out). Mobile
    installs have a token whatever their permission.

    Source: MoEngage "Push reachability" (202: valid token, opted out); the Push API
    (``PushManager.subscribe`` needs the notification permission)."""
    for perm, code in (("not_determined", None), ("denied", None), ("granted", 201)):
        assert device_reach(True, True, perm, P["chrome"].token_needs_permission) == code
    assert device_reach(True, True, "denied", P["android13"].token_needs_permission) == 202
    assert user_reach([None, None]) is None


# --- 5. Android cancels -----------------------------------------------------------------

def test_android_cancel_is_not_a_denial_unless_the_setting_says_so() -> None:
    """AOSP: backing out of the dialog or tapping outside it (CANCELED) changes no flag, so it
    never counts toward the two-denial lock; ``dismiss_counts_as_denial`` (default off)
    models SDKs that count it (OneSignal).

    Source: AOSP PermissionController ``permission/ui/GrantPermissionsActivity.java``
    (GrapheneOS/platform_packages_modules_Permission: ``onBackPressed`` reports CANCELED,
    which falls through to no grant or revoke)."""
    a13 = P["android13"]
    state = install(a13)
    for _ in range(5):
        apply_dialog_result(state, a13, "dismissed", now=0.0)
    assert (state.denials, dialogs_left(state, a13)) == (0, 2)
    counted = overridden({"android13": {"dismiss_counts_as_denial": True}})
    state = install(counted["android13"])
    apply_dialog_result(state, counted["android13"], "dismissed", now=0.0)
    assert state.denials == 1


# --- 6. the 12 -> 13 upgrade ---------------------------------------------------------------

@pytest.mark.parametrize("new", ["android13", "android13_legacy"])
def test_the_upgrade_pre_grants_every_app_that_had_notifications_on(new: str) -> None:
    """12 -> 13: an app with notifications on is pre-granted whatever its target SDK.

    Source: AOSP ``services/core/java/com/android/server/notification/PermissionHelper.java``,
    ``setNotificationPermission(PackagePermission)``, "upon phone version upgrade from S- to
    T+": it calls ``setNotificationPermission(pkg, user, pkgPerm.granted, true /* userSet
    always true on upgrade */)``, which grants when ``grant && !currentlyGranted`` (``granted``:
    the app's notifications were not off on 12), for every package that requests the
    permission (msft-mirror-aosp/platform.frameworks.base at c696657d; the Android 13 fork
    crdroid-13-fork/android_frameworks_base at e19e3aa8, the same). A development version
    (aosp-mirror/platform_frameworks_base at 39bec003) read ``userSet = mForceUserSetOnUpgrade
    ? true : pkgPerm.userModifiedSettings`` and only marked the rest REVIEW_REQUIRED (no
    grant); that device flag is gone from the code that shipped, so its default does not
    matter. The other reading stays a setting, ``upgrade_pregrant = false``, tested in
    ``tests/rules/test_os_prompt_rules.py``. source.android.com "Notification permission"."""
    state = install(P["android12"])
    apply_os_upgrade(state, P["android12"], P[new])
    assert state.permission == "granted"


# --- 7. apps targeting <= 32 on Android 13 --------------------------------------------------

def test_legacy_dialog_needs_a_channel_and_a_launcher_start_and_one_answer_ends_it() -> None:
    """An app targeting <= 32 on Android 13: the OS shows the dialog itself only after the app
    created a notification channel and was launched from the launcher; one answer, allowed
    or not (a dismissal too), ends it: no phantom ``dialogs_left = 1``.

    Source: developer.android.com "Notification runtime permission" (apps targeting 12L or
    lower: the dialog appears when the app creates its first channel after a launch, or at
    the next launch after it); AOSP ``PermissionHelper.java`` (REVIEW_REQUIRED)."""
    legacy = P["android13_legacy"]
    state = install(legacy)
    assert not first_launch_dialog_due(state, legacy, channel_created=False)
    assert not first_launch_dialog_due(state, legacy, from_launcher=False)
    assert first_launch_dialog_due(state, legacy)
    assert dialogs_left(state, legacy) == 1

    apply_dialog_result(state, legacy, "dismissed", now=0.0)

    assert not first_launch_dialog_due(state, legacy)
    assert dialogs_left(state, legacy) == 0
    assert is_blocked(state, legacy)


# --- 8. Huawei says which OS it runs ------------------------------------------------------

@pytest.mark.parametrize(("kw", "profile"), [
    ({"os_kind": "emui", "api_level": 31}, "huawei_emui12"),
    ({"os_kind": "harmonyos", "api_level": 33}, "huawei_emui13"),
    ({"os_kind": "harmonyos", "os_version": 4, "api_level": 31}, "huawei_emui12"),
    ({"os_kind": "harmonyos_next", "os_version": 5}, "harmony_next"),
])
def test_huawei_registration_says_its_os_kind(kw: dict[str, object], profile: str) -> None:
    """A Huawei device says which OS it runs: EMUI or HarmonyOS 2-4 with the Android API level
    underneath (33+ asks like Android 13), or HarmonyOS NEXT; ``os_version`` 5 no longer
    silently means NEXT.

    Source: Huawei "Requesting Notification Authorization" (HarmonyOS NEXT's own API);
    HarmonyOS 2-4 and EMUI run Android apps on AOSP (their API level decides the rules)."""
    assert resolve_profile("huawei", **kw) == profile  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^api_level: required for os_kind 'emui'"):
        resolve_profile("huawei", 5, os_kind="emui")
    with pytest.raises(ValueError, match=r"^os_kind: 'eumi' not one of emui, harmonyos"):
        resolve_profile("huawei", 5, os_kind="eumi")


def test_every_profile_has_a_device_kind_that_resolves_back_to_it() -> None:
    """A platform family plus version resolves to a profile in scenarios and in the API alike:
    what a device on each built-in profile reports resolves back to it."""
    assert set(REPORTS) == set(P)
    for name, kind in REPORTS.items():
        assert isinstance(kind, DeviceKind)
        assert kind.profile() == name
        assert kind.platform == P[name].platform


# --- 9-11. iOS -----------------------------------------------------------------------------

def test_ios_ignored_dialog_stays_not_determined_by_default() -> None:
    """iOS: an ignored dialog (the app quit with it up) leaves the status "not determined"
    (Apple: the status is set only by the user's answer), so the app may ask again; with
    ``ignored_ends_dialog`` (MoEngage's "denies or ignores") it ends the dialog.

    Sources: Apple "Asking permission to use notifications"; MoEngage "iOS Push Permission
    and Reachability"."""
    ios = P["ios"]
    state = install(ios)
    apply_dialog_result(state, ios, "ignored", now=0.0)
    assert (state.permission, dialogs_left(state, ios)) == ("not_determined", 1)
    moe = overridden({"ios": {"ignored_ends_dialog": True}})["ios"]
    state = install(moe)
    apply_dialog_result(state, moe, "ignored", now=0.0)
    assert dialogs_left(state, moe) == 0
    assert is_blocked(state, moe)


def test_ios_provisional_is_asked_again_on_reinstall_and_clear_data() -> None:
    """A strategy that asks for provisional authorization at install asks again after a
    reinstall (or cleared data) resets the permission.

    Source: Apple "Asking permission to use notifications" (provisional authorization is
    requested by the app, without a dialog); MoEngage (reset on reinstall)."""
    ios = P["ios"]
    state = install(ios, provisional=True)
    apply_dialog_result(state, ios, "denied", now=0.0)
    apply_uninstall(state, 1.0)
    apply_reinstall(state, ios, 2.0, provisional=True)
    assert state.permission == "provisional"
    apply_dialog_result(state, ios, "denied", now=3.0)
    apply_clear_data(state, ios, provisional=True)
    assert state.permission == "provisional"
    apply_uninstall(state, 4.0)
    apply_reinstall(state, ios, 5.0)
    assert state.permission == "not_determined"


# --- 12. one reachability family -----------------------------------------------------------

def test_huawei_and_amazon_devices_count_in_the_android_family() -> None:
    """Reachability per user and platform family: iOS, Android (with Huawei and Amazon
    devices), web; a user with an Android phone and a Huawei tablet has one Android code.

    Source: MoEngage "Push reachability" (reported per iOS, Android and Web)."""
    assert {FAMILY_OF[p] for p in ("android", "huawei", "amazon")} == {"android"}
    assert user_reach([202, 201]) == 201


# --- 14. the device's local day --------------------------------------------------------------

def test_per_day_caps_count_the_devices_local_day() -> None:
    """``per_day`` caps count the device's local day (its UTC offset; default UTC): at 23:00
    UTC a device at UTC+2 is already in its next day.

    Source: AWS Pinpoint in-app message caps (per day, per session, total); the day of
    the person holding the device is the local one."""
    capped = PolicyRules(Policy(campaigns=(Campaign(id="push", frequency=every_time(),
                                        caps=Caps(per_day=1)),)))
    ios = P["ios"]
    east = install(ios, utc_offset_minutes=120)
    utc = install(ios)
    for state in (east, utc):
        record_impression(state, "push", 0.5)  # 12:00 UTC, day 0
    at = 23.0 / 24.0  # 23:00 UTC on day 0
    assert local_day(east, at) == 1 and local_day(utc, at) == 0
    assert button(east, ios, at, capped).show
    assert button(utc, ios, at, capped).reason == "daily_cap"
    assert next_chance(utc, ios, capped, at) == 1.0
    assert next_chance(east, ios, capped, 0.6) == pytest.approx(1.0 - 120 / 1440)


def test_the_docs_list_every_platform_setting() -> None:
    """``docs/platform-settings.md`` lists every field of a platform profile (its default, the
    source of the default and what other sources say) and every profile."""
    from pathlib import Path

    import msgspec

    doc = (Path(__file__).resolve().parents[2] / "docs" / "platform-settings.md").read_text()
    for f in msgspec.structs.fields(PlatformProfile):
        if f.name not in ("name", "platform"):
            assert f"`{f.name}`" in doc, f.name
    for name in P:
        assert f"`{name}`" in doc, name
