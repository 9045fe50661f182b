"""Android's rationale flag, the legacy dialog's launches and HarmonyOS's one dialog, read
against the platforms' own code (issue 24).

Each test states one rule and names its source by repository and path. Where the sources
disagree the rule is a profile setting (``docs/platform-settings.md``), and the test checks
the default and the other reading one switch away.
"""

from __future__ import annotations

import pytest

from sim.rules.config.platforms import DEFAULT_PROFILES, override_profiles
from sim.rules.decision import start_session
from sim.rules.native import ProfileRules
from sim.rules.permission import (
    DeviceState,
    apply_dialog_request,
    apply_dialog_result,
    apply_os_upgrade,
    apply_settings_change,
    dialog_request_refused,
    dialogs_left,
    first_launch_dialog_due,
    is_blocked,
    new_install,
    should_show_rationale,
)

P = {n: ProfileRules(p) for n, p in DEFAULT_PROFILES.items()}


def install(profile: ProfileRules) -> DeviceState:
    state = new_install(profile)
    start_session(state, profile, 0.0)
    return state


def test_rationale_is_aosps_user_set_flag_unless_granted_or_fixed() -> None:
    """``should_show_rationale`` is false when granted, false when the permission is fixed
    (USER_FIXED after the second denial, or a turn-off in settings), else the USER_SET flag
    the first denial sets; the 12 -> 13 upgrade of a blocked app sets USER_SET too.

    Source: AOSP frameworks base (aosp-mirror/platform_frameworks_base)
    ``services/core/java/com/android/server/pm/permission/PermissionManagerServiceImpl.java``,
    ``shouldShowRequestPermissionRationale``: returns false on PERMISSION_GRANTED, false when
    ``flags & (SYSTEM_FIXED | POLICY_FIXED | USER_FIXED)``, else
    ``(flags & FLAG_PERMISSION_USER_SET) != 0``; the first deny sets USER_SET and the second
    USER_FIXED (packages/modules/Permission ``GrantPermissionsViewModel.kt``)."""
    a13 = P["android13"]
    state = install(a13)
    assert not should_show_rationale(state, a13)  # never asked: no flag
    apply_dialog_result(state, a13, "dismissed", 1.0)
    assert not should_show_rationale(state, a13)  # a cancel sets no flag
    apply_dialog_result(state, a13, "denied", 2.0)
    assert should_show_rationale(state, a13)  # USER_SET: one more dialog is possible
    assert dialogs_left(state, a13) == 1
    apply_dialog_result(state, a13, "denied", 3.0)
    assert is_blocked(state, a13) and not should_show_rationale(state, a13)  # USER_FIXED

    granted = install(a13)
    apply_dialog_result(granted, a13, "denied", 1.0)
    apply_dialog_result(granted, a13, "allowed", 2.0)
    assert not should_show_rationale(granted, a13)  # granted: false whatever the flags

    off = install(a13)
    apply_settings_change(off, a13, enabled=False)
    assert not should_show_rationale(off, a13)  # turned off in settings: fixed

    upgraded = install(P["android12"])
    apply_settings_change(upgraded, P["android12"], enabled=False)
    apply_os_upgrade(upgraded, P["android12"], a13)
    assert should_show_rationale(upgraded, a13)  # revoked with USER_SET on the upgrade


@pytest.mark.parametrize("name", ["ios", "chrome", "android12", "android13_legacy",
                                  "harmony_next"])
def test_rationale_is_false_where_android_has_no_such_answer(name: str) -> None:
    """Off Android (iOS, the web, HarmonyOS NEXT's one-shot dialog), on Android 12 (no
    dialog) and for an app targeting <= 32 (it cannot request), the flag is false even after
    a denial.

    Source: as above (``PermissionManagerServiceImpl.shouldShowRequestPermissionRationale``
    is Android's alone; a legacy app's denial is final, CTS
    ``msft-mirror-aosp/platform.cts``
    ``tests/tests/permission3/src/android/permission3/cts/NotificationPermissionTest.kt``:
    ``legacyAppCannotExplicitlyRequestNotifications``)."""
    p = P[name]
    state = install(p)
    if dialogs_left(state, p) != 0:
        apply_dialog_result(state, p, "denied", 1.0)
    assert not should_show_rationale(state, p)


def test_legacy_dialog_needs_a_channel_a_launcher_task_and_an_unlocked_keyguard() -> None:
    """An app targeting <= 32 on Android 13+ gets the OS's own dialog only once it has a
    notification channel, its task came from the launcher, and the keyguard is not locked;
    a launch by another intent gets none, and after the one answer none comes again.

    Source: CTS ``msft-mirror-aosp/platform.cts``
    ``tests/tests/permission3/src/android/permission3/cts/NotificationPermissionTest.kt``
    (``notificationPromptDoesNotShowForLegacyAppWithNoNotificationChannels_onLaunch``,
    ``notificationPromptDoesNotShowForNonLauncherIntentCategoryLaunches_onLaunch``,
    ``notificationPromptShowsForLegacyAppWithNotificationChannelsOnStart``) and AOSP
    frameworks base
    ``services/core/java/com/android/server/policy/PermissionPolicyService.java``
    (``shouldForceShowNotificationPermissionRequest``: not granted, channels created, no
    explicit-set flag, ``!mKeyguardManager.isKeyguardLocked()``; ``isTaskStartedFromLauncher``)."""
    legacy = P["android13_legacy"]
    state = install(legacy)
    assert not first_launch_dialog_due(state, legacy, channel_created=False)
    assert not first_launch_dialog_due(state, legacy, from_launcher=False)
    assert not first_launch_dialog_due(state, legacy, keyguard_locked=True)
    assert first_launch_dialog_due(state, legacy)
    assert not first_launch_dialog_due(state, P["android13"])  # a target-33 app asks itself
    apply_dialog_result(state, legacy, "dismissed", 1.0)
    assert not first_launch_dialog_due(state, legacy) and is_blocked(state, legacy)


def test_harmonyos_spends_its_one_dialog_on_an_answer_by_default() -> None:
    """HarmonyOS NEXT: current OpenHarmony marks the one dialog used (``SetHasPoppedDialog``)
    only when Allow or Deny is tapped, so a dialog closed otherwise can be asked again
    (``dialog_spent_on = "answer"``, the default); older code marked it as soon as the
    dialog was started (``"display"``).

    Source: ``openharmony/notification_distributed_notification_service``
    ``services/ans/src/notification_dialog_manager.cpp`` (``OnDialogButtonClicked`` calls
    ``SetHasPoppedDialog(bundleOption, true)``; ``OnDialogCrashed`` does not) and, older,
    ``openharmony/notification_ans_standard`` ``services/ans/src/advanced_notification_service.cpp``
    (``RequestEnableNotification``: ``SetHasPoppedDialog(bundleOption, true)`` right after
    ``StartEnableNotificationDialogAbility``)."""
    assert DEFAULT_PROFILES["harmony_next"].dialog_spent_on == "answer"
    harmony = P["harmony_next"]
    state = install(harmony)
    apply_dialog_result(state, harmony, "ignored", 1.0)
    assert dialogs_left(state, harmony) == 1 and not is_blocked(state, harmony)
    apply_dialog_result(state, harmony, "denied", 2.0)
    assert is_blocked(state, harmony)

    old = ProfileRules(override_profiles(DEFAULT_PROFILES, {
        "harmony_next": {"dialog_spent_on": "display"}})["harmony_next"])
    state = install(old)
    apply_dialog_result(state, old, "ignored", 1.0)
    assert is_blocked(state, old) and dialogs_left(state, old) == 0


def test_harmonyos_refuses_a_second_request_while_its_dialog_is_open() -> None:
    """A request while the app's dialog is still open fails on HarmonyOS; the answer closes
    it. Android has no such error (``dialog_open_error`` is HarmonyOS NEXT's).

    Source: ``openharmony/notification_distributed_notification_service``
    ``services/ans/src/notification_dialog_manager.cpp``
    (``RequestEnableNotificationDailog``: ``AddDialogInfoIfNotExist`` fails while the
    bundle's dialog is in ``dialogsOpening_``, and it returns ``ERR_ANS_DIALOG_IS_POPPING``;
    ``HandleOneDialogClosed`` removes it)."""
    harmony = P["harmony_next"]
    state = install(harmony)
    assert dialog_request_refused(state, harmony) is None
    apply_dialog_request(state, harmony)
    assert dialog_request_refused(state, harmony) == "dialog_open"
    apply_dialog_result(state, harmony, "allowed", 1.0)
    assert not state.dialog_open

    a13 = P["android13"]
    state = install(a13)
    apply_dialog_request(state, a13)
    assert dialog_request_refused(state, a13) is None
    apply_dialog_result(state, a13, "denied", 1.0)
    apply_dialog_result(state, a13, "denied", 2.0)
    assert dialog_request_refused(state, a13) == "no_dialog_left"


def test_restore_carries_grant_and_flags_unless_already_user_set() -> None:
    """A restore onto a new device applies the backed-up grant, USER_SET and USER_FIXED to a
    permission nobody set there yet, and leaves a user-set one alone; a granted permission
    is never fixed.

    Source: AOSP frameworks base (aosp-mirror/platform_frameworks_base)
    ``services/companion/java/com/android/server/companion/datatransfer/permbackup/BackupHelper.java``
    (the PermissionController backup helper's copy): ``BackupPermissionState.restore`` grants
    or revokes with ``mIsUserFixed`` and sets ``setUserSet(mIsUserSet)`` only
    ``if (!perm.isUserSet())``; ``BackupPackageState.restore`` clears USER_FIXED of granted
    groups."""
    from sim.rules.permission import apply_restore

    a13 = P["android13"]
    fresh = install(a13)
    assert apply_restore(fresh, a13, granted=True, was_user_set=True, was_user_fixed=False)
    assert fresh.permission == "granted"

    once = install(a13)
    assert apply_restore(once, a13, granted=False, was_user_set=True, was_user_fixed=False)
    assert once.permission == "denied" and should_show_rationale(once, a13)
    assert dialogs_left(once, a13) == 1  # USER_SET: one more dialog

    fixed = install(a13)
    assert apply_restore(fixed, a13, granted=False, was_user_set=True, was_user_fixed=True)
    assert is_blocked(fixed, a13) and not should_show_rationale(fixed, a13)

    answered = install(a13)
    apply_dialog_result(answered, a13, "allowed", 1.0)  # user-set here: left alone
    assert not apply_restore(answered, a13, granted=False, was_user_set=True,
                             was_user_fixed=True)
    assert answered.permission == "granted"

    assert not apply_restore(install(P["ios"]), P["ios"], True, True, False)  # not Android


def test_review_notice_remind_later_reposts_after_7_days_and_can_revoke() -> None:
    """After the 12 -> 13 upgrade pre-grants an app, Android posts a "review notification
    permissions" notice: "remind me later" re-posts it after 7 days, dismissing it ends it,
    and turning the app off from it revokes the pre-grant (a settings change).

    Source: AOSP frameworks base (aosp-mirror/platform_frameworks_base)
    ``services/core/java/com/android/server/notification/ReviewNotificationPermissionsReceiver.java``
    (``JOB_RESCHEDULE_TIME`` = 7 days for REVIEW_NOTIF_ACTION_REMIND; DISMISS sets the
    notice's state to dismissed) and ``ReviewNotificationPermissionsJobService.java``
    (re-posts it with ``setMinimumLatency``)."""
    from sim.rules.permission import apply_review_notice, review_notice_due

    a12, a13 = P["android12"], P["android13"]
    state = install(a12)
    apply_os_upgrade(state, a12, a13, now=10.0)
    assert state.permission == "granted" and review_notice_due(state, 10.0)
    apply_review_notice(state, a13, "remind_later", 10.5)
    assert not review_notice_due(state, 17.4) and review_notice_due(state, 17.5)
    apply_review_notice(state, a13, "turned_off", 17.5)
    assert state.permission == "denied" and not review_notice_due(state, 100.0)

    kept = install(a12)
    apply_os_upgrade(kept, a12, a13, now=10.0)
    apply_review_notice(kept, a13, "dismissed", 11.0)
    assert kept.permission == "granted" and not review_notice_due(kept, 100.0)

    off = install(a12)  # notifications off on 12: no pre-grant, no notice
    apply_settings_change(off, a12, enabled=False)
    apply_os_upgrade(off, a12, a13, now=10.0)
    assert not review_notice_due(off, 10.0)
