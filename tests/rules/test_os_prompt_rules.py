"""docs/platform-rules.md section 1: the native OS prompt, platform by platform.

Each test walks one install through the permission state machine and asks
``decide`` what the soft prompt's button would do, so a rule is checked the way
the simulator and the eligibility service use it.
"""

from __future__ import annotations

import pytest

from sim.rules.config.campaigns import Campaign, Policy, TriggerFired, every_time
from sim.rules.config.platforms import DEFAULT_PROFILES, override_profiles
from sim.rules.config.verdict import Decision
from sim.rules.decision import decide, start_session
from sim.rules.native import PolicyRules, ProfileRules
from sim.rules.permission import (
    DeviceState,
    apply_app_update,
    apply_clear_data,
    apply_dialog_result,
    apply_os_upgrade,
    apply_reinstall,
    apply_settings_change,
    apply_uninstall,
    dialogs_left,
    first_launch_dialog_due,
    hibernated,
    is_blocked,
    new_install,
    os_dialog_unavailable,
    receives_push,
)


def overridden(overrides: dict[str, dict[str, object]]) -> dict[str, ProfileRules]:
    """The built-in profiles with ``overrides``, as the rules read them."""
    return {n: ProfileRules(p) for n, p in override_profiles(DEFAULT_PROFILES, overrides).items()}


P = {n: ProfileRules(p) for n, p in DEFAULT_PROFILES.items()}
APP_OPEN = TriggerFired(trigger="app_open")
PROMPT = PolicyRules(Policy(campaigns=(Campaign(id="push", frequency=every_time()),)))
"""A soft prompt on every app open, falling back to settings: shows whatever the button does."""
PROMPT_NO_FALLBACK = PolicyRules(Policy(
    campaigns=(Campaign(id="push", frequency=every_time(), fallback_to_settings=False),)
))
OPT_IN_PROFILES = sorted(n for n, p in P.items()
                         if p.default_permission == "not_determined" and p.web_push)


def install(profile: ProfileRules, now: float = 0.0, **kw: bool) -> DeviceState:
    """A fresh install that has opened the app once."""
    state = new_install(profile, **kw)
    start_session(state, profile, now)
    return state


def button(state: DeviceState, profile: ProfileRules, now: float = 0.0,
           policy: PolicyRules = PROMPT) -> Decision:
    """What the soft prompt would do if the app opened now."""
    return decide(state, profile, policy, APP_OPEN, now)


OS_DIALOG = Decision(show=True, reason="eligible", campaign_id="push", action="os_dialog")
CHROME_DIALOG = Decision(show=True, reason="eligible", campaign_id="push", action="os_dialog",
                         prompt_ui="loud")
"""The OS dialog on Chrome: its normal (loud) prompt (issue 24, ``test_chrome_sources.py``)."""
SETTINGS = Decision(show=True, reason="eligible", campaign_id="push", action="open_settings")
INSTRUCTIONS = Decision(show=True, reason="eligible", campaign_id="push", action="instructions")


def fallback(profile: ProfileRules) -> Decision:
    """The settings fallback of ``profile``: a deep link, or instructions on the web."""
    return SETTINGS if profile.settings_link else INSTRUCTIONS


# --- iOS ----------------------------------------------------------------------

def test_ios_shows_the_os_dialog_once_then_the_button_opens_settings() -> None:
    """iOS shows the OS dialog at most once per install; after a denial the button opens
    settings."""
    ios = P["ios"]
    state = install(ios)
    assert state.permission == "not_determined"
    assert button(state, ios) == OS_DIALOG
    assert dialogs_left(state, ios) == 1

    apply_dialog_result(state, ios, "denied", now=0.0)

    assert button(state, ios, now=30.0) == SETTINGS
    assert os_dialog_unavailable(state, ios, 30.0) == "blocked"
    assert is_blocked(state, ios)
    assert dialogs_left(state, ios) == 0
    assert ios.settings_path == "UIApplication.openNotificationSettingsURLString"


def test_ios_allow_is_final_and_only_settings_turns_notifications_back_on() -> None:
    """After an allowed iOS dialog, notifications turned off in Settings come back only there."""
    ios = P["ios"]
    state = install(ios)
    apply_dialog_result(state, ios, "allowed", now=0.0)
    assert button(state, ios) == Decision(show=False, reason="already_opted_in")

    apply_settings_change(state, ios, enabled=False)

    assert state.permission == "denied"
    assert button(state, ios, now=1.0) == SETTINGS
    assert state.dialogs_answered == 1


def test_ios_quitting_with_the_dialog_up_does_not_use_it_up() -> None:
    """Prompted is not answered: an iOS dialog left unanswered can still be shown."""
    ios = P["ios"]
    state = install(ios)
    apply_dialog_result(state, ios, "ignored", now=0.0)
    assert (state.dialogs_shown, state.dialogs_answered) == (1, 0)
    assert button(state, ios) == OS_DIALOG


def test_ios_provisional_stays_eligible_and_can_still_get_the_full_dialog_once() -> None:
    """iOS provisional delivers quietly without a dialog; the soft prompt still shows and the
    full dialog can be shown once."""
    ios = P["ios"]
    state = install(ios, provisional=True)
    assert state.permission == "provisional"
    assert receives_push(state)
    assert state.dialogs_shown == 0

    assert button(state, ios) == OS_DIALOG
    apply_dialog_result(state, ios, "denied", now=0.0)

    assert button(state, ios) == SETTINGS
    assert not receives_push(state)


def test_provisional_is_only_for_platforms_that_support_it() -> None:
    """Asking for provisional authorization elsewhere than iOS leaves the default state."""
    assert new_install(P["android13"], provisional=True).permission == "not_determined"
    assert new_install(P["android12"], provisional=True).permission == "granted"


def test_ios_dismissing_counts_as_the_one_answer() -> None:
    """iOS has no "dismiss": closing the dialog is an answer (a denial) by default."""
    ios = P["ios"]
    state = install(ios)
    apply_dialog_result(state, ios, "dismissed", now=0.0)
    assert state.permission == "denied"
    assert button(state, ios) == SETTINGS


# --- Android 13+, app targeting 33+ ---------------------------------------------

def test_android13_allows_two_denials_then_blocks() -> None:
    """Android 13+ (target 33+): a second Deny means "don't ask again"; settings only after that."""
    a13 = P["android13"]
    state = install(a13)
    assert button(state, a13) == OS_DIALOG

    apply_dialog_result(state, a13, "denied", now=0.0)
    assert button(state, a13, now=1.0) == OS_DIALOG
    assert dialogs_left(state, a13) == 1

    apply_dialog_result(state, a13, "denied", now=1.0)
    assert button(state, a13, now=2.0) == SETTINGS
    assert dialogs_left(state, a13) == 0
    assert a13.settings_path == "Settings.ACTION_APP_NOTIFICATION_SETTINGS"


def test_android13_dismissal_leaves_the_state_unchanged_by_default() -> None:
    """Officially, swiping the Android dialog away is not a denial: it can be asked again."""
    a13 = P["android13"]
    state = install(a13)
    for day in range(5):
        apply_dialog_result(state, a13, "dismissed", now=float(day))
    assert (state.permission, state.denials) == ("not_determined", 0)
    assert button(state, a13, now=5.0) == OS_DIALOG


def test_dismissal_counts_as_denial_only_when_the_setting_says_so() -> None:
    """With ``dismiss_counts_as_denial`` (OneSignal's reading), two swipes lock Android 13."""
    a13 = overridden({"android13": {"dismiss_counts_as_denial": True}})["android13"]
    state = install(a13)
    apply_dialog_result(state, a13, "dismissed", now=0.0)
    assert (state.permission, state.denials) == ("denied", 1)
    apply_dialog_result(state, a13, "dismissed", now=1.0)
    assert is_blocked(state, a13)
    assert button(state, a13, now=2.0) == SETTINGS


# --- Android 13+, app targeting <= 32 ----------------------------------------------

def test_android13_legacy_target_gets_the_dialog_from_the_os_at_first_launch() -> None:
    """Android 13 with an app targeting <= 32: the OS shows the dialog by itself on first launch
    and the app cannot request it."""
    legacy = P["android13_legacy"]
    state = new_install(legacy)
    assert first_launch_dialog_due(state, legacy)
    assert os_dialog_unavailable(state, legacy, 0.0) == "app_cannot_request"
    start_session(state, legacy, 0.0)
    assert button(state, legacy, policy=PROMPT_NO_FALLBACK) == Decision(
        show=False, reason="app_cannot_request")
    assert button(state, legacy) == SETTINGS

    apply_dialog_result(state, legacy, "ignored", now=0.0)
    assert not first_launch_dialog_due(state, legacy)


def test_android13_legacy_one_denial_locks_until_reinstall() -> None:
    """Android 13, target <= 32: one Deny locks the dialog; a reinstall brings it back."""
    legacy = P["android13_legacy"]
    state = install(legacy)
    apply_dialog_result(state, legacy, "denied", now=0.0)
    assert is_blocked(state, legacy)
    assert dialogs_left(state, legacy) == 0

    apply_uninstall(state, now=1.0)
    apply_reinstall(state, legacy, now=2.0)

    assert first_launch_dialog_due(state, legacy)
    assert not is_blocked(state, legacy)


def test_android13_legacy_app_update_to_target_33_unlocks_the_dialog() -> None:
    """An app update to target 33+ ends the one-denial lock: the app may ask, twice."""
    legacy, a13 = P["android13_legacy"], P["android13"]
    state = install(legacy)
    apply_dialog_result(state, legacy, "denied", now=0.0)

    apply_app_update(state, legacy, a13)

    assert state.profile == "android13"
    assert button(state, a13, now=1.0) == OS_DIALOG
    assert dialogs_left(state, a13) == 2


@pytest.mark.parametrize("name", ["ios", "android13", "harmony_next", "chrome"])
def test_an_app_update_that_keeps_the_rules_unlocks_nothing(name: str) -> None:
    """An app update that does not change what the app may ask leaves a blocked install blocked."""
    profile = P[name]
    state = install(profile)
    while not is_blocked(state, profile):
        apply_dialog_result(state, profile, "denied", now=0.0)

    apply_app_update(state, profile, profile)

    assert is_blocked(state, profile)
    assert button(state, profile, now=1.0) == fallback(profile)


# --- Android <= 12L and the 12 -> 13 upgrade -------------------------------------

@pytest.mark.parametrize("name", ["android12", "huawei_emui12", "fire_os_8"])
def test_opt_out_platforms_grant_by_default_and_have_no_dialog(name: str) -> None:
    """Android <= 12L (and Huawei EMUI on it, Fire OS 7/8): granted by default, no OS dialog;
    if the user turns notifications off, the button opens settings."""
    profile = P[name]
    state = install(profile)
    assert state.permission == "granted"
    assert button(state, profile) == Decision(show=False, reason="already_opted_in")
    assert dialogs_left(state, profile) == 0

    apply_settings_change(state, profile, enabled=False)

    assert os_dialog_unavailable(state, profile, 1.0) == "no_os_dialog"
    assert not is_blocked(state, profile)
    assert button(state, profile, now=1.0) == SETTINGS
    assert button(state, profile, now=1.0, policy=PROMPT_NO_FALLBACK) == Decision(
        show=False, reason="no_os_dialog")


UPGRADES = [("android12", "android13"), ("huawei_emui12", "huawei_emui13"),
            ("fire_os_8", "fire_os_14")]


@pytest.mark.parametrize(("old", "new"), UPGRADES)
def test_upgrade_to_13_pre_grants_an_app_with_notifications_on(old: str, new: str) -> None:
    """12 -> 13 with the app installed and notifications on: pre-granted (Fire OS 8 -> 14 too)."""
    assert P[old].upgrade_to == new
    state = install(P[old])

    apply_os_upgrade(state, P[old], P[new])

    assert (state.profile, state.permission) == (new, "granted")
    assert button(state, P[new]) == Decision(show=False, reason="already_opted_in")


def test_upgrade_to_13_without_pregrant_asks_from_scratch() -> None:
    """With ``upgrade_pregrant`` overridden False, the upgraded app starts not determined."""
    profiles = overridden({"android13": {"upgrade_pregrant": False}})
    state = install(profiles["android12"])

    apply_os_upgrade(state, profiles["android12"], profiles["android13"])

    assert state.permission == "not_determined"
    assert button(state, profiles["android13"]) == OS_DIALOG


@pytest.mark.parametrize(("old", "new"), UPGRADES)
def test_a_denial_before_the_upgrade_is_user_set_one_more_dialog_whose_deny_is_final(
        old: str, new: str) -> None:
    """Notifications turned off on 12 stay off on 13, marked USER_SET: the next request shows
    one more dialog, whose "Don't allow" is final (USER_FIXED).

    Sources: AOSP ``services/core/java/com/android/server/notification/PermissionHelper.java``
    (aosp-mirror/platform_frameworks_base: on the S -> T upgrade a user-modified, blocked app
    is revoked with FLAG_PERMISSION_USER_SET); PermissionController
    ``permission/ui/model/GrantPermissionsViewModel.kt``
    (GrapheneOS/platform_packages_modules_Permission: for a USER_SET permission the dialog
    shows DENY_AND_DONT_ASK_AGAIN instead of DENY).
    """
    state = install(P[old])
    apply_settings_change(state, P[old], enabled=False)

    apply_os_upgrade(state, P[old], P[new])

    assert state.permission == "denied"
    assert not is_blocked(state, P[new])
    assert dialogs_left(state, P[new]) == 1
    assert button(state, P[new]) == OS_DIALOG
    apply_dialog_result(state, P[new], "denied", now=0.0)
    assert is_blocked(state, P[new])
    assert button(state, P[new], now=1.0) == SETTINGS


def test_a_blocked_app_is_blocked_at_once_when_the_user_set_setting_is_off() -> None:
    """``upgrade_denied_user_set = false``: a denial from 12 blocks the dialog on 13 at once
    (the reading before AOSP's PermissionHelper was checked); and an app targeting <= 32
    cannot ask, so it is blocked either way."""
    profiles = overridden({"android13": {"upgrade_denied_user_set": False}})
    for new in ("android13", "android13_legacy"):
        state = install(profiles["android12"])
        apply_settings_change(state, profiles["android12"], enabled=False)
        apply_os_upgrade(state, profiles["android12"], profiles[new])
        assert is_blocked(state, profiles[new]), new
        assert dialogs_left(state, profiles[new]) == 0


def test_fire_os_14_asks_like_android_13() -> None:
    """Fire OS 14 behaves like Android 13+: off until granted, two denials, settings after."""
    fire14, a13 = P["fire_os_14"], P["android13"]
    for field in ("default_permission", "os_dialog", "app_can_request", "max_denials",
                  "dismiss_counts_as_denial", "clear_data_resets", "upgrade_pregrant",
                  "hibernation_days"):
        assert getattr(fire14, field) == getattr(a13, field), field


def test_ios_keeps_its_state_across_os_upgrades() -> None:
    """iOS: an OS upgrade keeps the permission state (there is no upgrade profile)."""
    assert P["ios"].upgrade_to is None
    ios = P["ios"]
    state = install(ios)
    apply_dialog_result(state, ios, "denied", now=0.0)
    apply_os_upgrade(state, ios, ios)
    assert (state.permission, state.denials) == ("denied", 1)


# --- reinstall, clear data, hibernation --------------------------------------------

@pytest.mark.parametrize("name", OPT_IN_PROFILES)
def test_reinstall_resets_the_permission_and_the_deny_counter(name: str) -> None:
    """Reinstalling resets the permission and the denial counter (iOS with no delay, by default)."""
    profile = P[name]
    state = install(profile)
    while not is_blocked(state, profile):
        apply_dialog_result(state, profile, "denied", now=0.0)

    apply_uninstall(state, now=1.0)
    assert button(state, profile, now=1.0) == Decision(show=False, reason="not_installed")
    apply_reinstall(state, profile, now=1.0)
    start_session(state, profile, 1.0)

    assert (state.permission, state.denials, state.dialogs_answered) == ("not_determined", 0, 0)
    if profile.app_can_request:
        ui = {"chrome": "loud", "chrome_quiet": "quiet"}.get(name)
        assert button(state, profile, now=1.0) == Decision(
            show=True, reason="eligible", campaign_id="push", action="os_dialog", prompt_ui=ui)
    else:
        assert first_launch_dialog_due(state, profile)


def test_android12_reinstall_turns_notifications_on_again() -> None:
    """Opt-out platforms: a reinstall (or cleared data) turns notifications back on."""
    a12 = P["android12"]
    state = install(a12)
    apply_settings_change(state, a12, enabled=False)
    apply_uninstall(state, now=1.0)
    apply_reinstall(state, a12, now=2.0)
    assert state.permission == "granted"
    apply_settings_change(state, a12, enabled=False)
    apply_clear_data(state, a12)
    assert state.permission == "granted"


def test_ios_reinstall_delay_setting_is_respected() -> None:
    """TN2265's reading as a setting: with a one-day delay, an iOS reinstall within a day keeps
    the old answer, and one after a day resets it."""
    ios = overridden({"ios": {"reinstall_reset_delay_days": 1.0}})["ios"]
    state = install(ios)
    apply_dialog_result(state, ios, "denied", now=0.0)

    apply_uninstall(state, now=1.0)
    apply_reinstall(state, ios, now=1.5)
    assert state.permission == "denied"
    assert button(state, ios, now=1.5) == SETTINGS

    apply_uninstall(state, now=2.0)
    apply_reinstall(state, ios, now=3.0)
    assert (state.permission, state.denials) == ("not_determined", 0)
    assert P["ios"].reinstall_reset_delay_days == 0.0


@pytest.mark.parametrize("name", sorted(n for n, p in P.items() if p.clear_data_resets))
def test_clear_data_resets_the_permission_and_the_deny_counter(name: str) -> None:
    """Clearing app (Android) or site (web) data resets the permission and the denial counter."""
    profile = P[name]
    state = install(profile)
    apply_dialog_result(state, profile, "denied", now=0.0)
    apply_settings_change(state, profile, enabled=False)

    apply_clear_data(state, profile)

    assert (state.permission, state.denials) == (profile.default_permission, 0)


def test_ios_clear_data_reset_is_a_setting() -> None:
    """iOS: MoEngage's iOS reachability page says the permission is "reset on every reinstall
    and clear data" (the default, ``clear_data_resets = true``); with the setting off (iOS
    has no "clear data" of its own) the answer stays until a reinstall."""
    ios = P["ios"]
    state = install(ios)
    apply_dialog_result(state, ios, "denied", now=0.0)
    apply_clear_data(state, ios)
    assert (state.permission, state.denials) == ("not_determined", 0)

    kept = overridden({"ios": {"clear_data_resets": False}})["ios"]
    state = install(kept)
    apply_dialog_result(state, kept, "denied", now=0.0)
    apply_clear_data(state, kept)
    assert (state.permission, state.denials) == ("denied", 1)


def test_hibernation_keeps_the_permission_and_ends_at_the_next_session() -> None:
    """Android 13+: unused for ``hibernation_days`` (90), the app hibernates; its notification
    permission is kept (nothing to ask again) and the next session wakes it.

    Source: AOSP packages/modules/Permission
    ``PermissionController/src/com/android/permissioncontroller/permission/service/AutoRevokePermissions.kt``
    (LineageOS/android_packages_modules_Permission: ``AUTO_REVOKE_EXEMPT_PERMISSIONS =
    listOf(ACTIVITY_RECOGNITION, POST_NOTIFICATIONS)``, skipped when the revocable groups are
    chosen); developer.android.com "App hibernation" (no push, FCM included, while
    hibernated)."""
    a13 = P["android13"]
    state = install(a13)
    apply_dialog_result(state, a13, "allowed", now=0.0)

    assert not hibernated(state, a13, 89.9)
    assert not start_session(state, a13, 89.0)
    assert hibernated(state, a13, 89.0 + 90.0)
    assert start_session(state, a13, 89.0 + 90.0)
    assert (state.permission, state.denials, state.dialogs_answered) == ("granted", 0, 1)
    assert not hibernated(state, a13, 179.5)
    assert button(state, a13, now=179.5) == Decision(show=False, reason="already_opted_in")

    denied = install(a13)
    apply_dialog_result(denied, a13, "denied", now=0.0)
    assert start_session(denied, a13, 200.0)
    assert (denied.permission, denied.denials) == ("denied", 1)
    apply_uninstall(denied, 201.0)
    assert not hibernated(denied, a13, 400.0)


def test_hibernation_days_is_a_setting() -> None:
    """The hibernation delay can be overridden; profiles without it never hibernate."""
    a13 = overridden({"android13": {"hibernation_days": 30.0}})["android13"]
    state = install(a13)
    apply_dialog_result(state, a13, "allowed", now=0.0)
    assert start_session(state, a13, 30.0)

    for name in ("ios", "android12", "chrome"):
        state = install(P[name])
        apply_settings_change(state, P[name], enabled=True)
        assert not hibernated(state, P[name], 10_000.0)
        assert not start_session(state, P[name], 10_000.0)
        assert state.permission == "granted"


# --- Huawei HarmonyOS NEXT --------------------------------------------------------

def test_harmony_next_shows_its_dialog_once() -> None:
    """HarmonyOS NEXT: ``requestEnableNotification`` once; after a denial, the settings sheet."""
    nxt = P["harmony_next"]
    state = install(nxt)
    assert button(state, nxt) == OS_DIALOG
    apply_dialog_result(state, nxt, "denied", now=0.0)
    assert button(state, nxt, now=1.0) == SETTINGS
    assert nxt.settings_path == "notificationManager.openNotificationSettings"
    assert nxt.upgrade_to is None


# --- web ----------------------------------------------------------------------------

def test_chrome_embargoes_after_three_dismissals_for_seven_days() -> None:
    """Chrome: 3 dismissals put the origin under a 7-day embargo, while now < start + 7 days;
    during it the browser returns without a dialog, so a prompt whose action is the OS
    dialog does not show (``embargoed``), fallback or not: instructions for unblocking do
    not apply to an origin that is not blocked.

    Source: Chromium ``components/permissions/permission_decision_auto_blocker.cc``
    (chromium/chromium: kDefaultDismissalsBeforeBlock = 3, kDefaultEmbargoDays = 7,
    ``IsUnderEmbargo``: current_time < start + duration)."""
    chrome = P["chrome"]
    state = install(chrome)
    apply_dialog_result(state, chrome, "dismissed", now=0.0)
    apply_dialog_result(state, chrome, "dismissed", now=0.0)
    assert button(state, chrome) == CHROME_DIALOG

    apply_dialog_result(state, chrome, "dismissed", now=0.0)

    assert state.embargo_until == 7.0
    assert state.permission == "not_determined"
    assert button(state, chrome, now=6.9) == Decision(show=False, reason="embargoed")
    assert button(state, chrome, now=6.9, policy=PROMPT_NO_FALLBACK) == Decision(
        show=False, reason="embargoed")
    assert button(state, chrome, now=7.0) == CHROME_DIALOG


def test_chrome_embargoes_after_four_ignores() -> None:
    """Chrome: 4 ignored dialogs also put the origin under the 7-day embargo."""
    chrome = P["chrome"]
    state = install(chrome)
    for _ in range(3):
        apply_dialog_result(state, chrome, "ignored", now=1.0)
    assert state.embargo_until is None
    apply_dialog_result(state, chrome, "ignored", now=1.0)
    assert state.embargo_until == 8.0
    assert os_dialog_unavailable(state, chrome, 7.9) == "embargoed"


def test_chrome_embargo_thresholds_are_settings() -> None:
    """The embargo thresholds are profile fields a scenario may override."""
    strict = overridden({"chrome": {"embargo_dismissals": 1, "embargo_ignores": 2}})["chrome"]
    state = install(strict)
    apply_dialog_result(state, strict, "dismissed", now=0.0)
    assert os_dialog_unavailable(state, strict, 0.0) == "embargoed"


def test_chrome_denied_is_permanent_until_site_data_is_cleared() -> None:
    """Web ``denied`` is permanent for the origin; only resetting the site (its data) undoes it."""
    chrome = P["chrome"]
    state = install(chrome)
    apply_dialog_result(state, chrome, "denied", now=0.0)
    assert button(state, chrome, now=365.0) == INSTRUCTIONS
    assert button(state, chrome, now=365.0, policy=PROMPT_NO_FALLBACK) == Decision(
        show=False, reason="blocked")

    apply_clear_data(state, chrome)
    start_session(state, chrome, 365.0)
    assert button(state, chrome, now=365.0) == CHROME_DIALOG


@pytest.mark.parametrize("name", ["firefox", "safari"])
def test_firefox_and_safari_need_a_user_gesture(name: str) -> None:
    """Firefox 72+ and Safari open the dialog only from a user gesture: a direct (no primer)
    request is refused with ``needs_user_gesture``; a soft prompt's click is a gesture."""
    profile = P[name]
    state = install(profile)
    direct = PolicyRules(Policy(campaigns=(Campaign(id="push", primer=False),)))
    assert decide(state, profile, direct, APP_OPEN, 0.0) == Decision(
        show=False, reason="needs_user_gesture")
    assert button(state, profile) == OS_DIALOG


def test_chrome_allows_a_direct_request() -> None:
    """Chrome needs no gesture: the cold baseline (no primer) opens the OS dialog directly."""
    chrome = P["chrome"]
    direct = PolicyRules(Policy(campaigns=(Campaign(id="push", primer=False),)))
    assert decide(install(chrome), chrome, direct, APP_OPEN, 0.0) == CHROME_DIALOG
