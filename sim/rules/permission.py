"""The permission state machine of one install.

``DeviceState`` is plain data (a dataclass, stored as JSON by the service, defined in
``sim.rules.state`` and re-exported here).
The ``apply_*`` functions are the transitions of ``docs/platform-rules.md`` section 1:
they update the state passed to them and do nothing else (no clock, no I/O, no
randomness), so the simulator and the eligibility service share them. They take the
platform's profile as its native copy (``sim.rules.native``), made once by the caller.
Times are in days (the service divides Unix seconds by 86,400).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

from sim.rules.config.campaigns import SiteReputation
from sim.rules.config.verdict import PromptUi
from sim.rules.native import ProfileRules
from sim.rules.state import CampaignCounters as CampaignCounters
from sim.rules.state import DeviceState as DeviceState
from sim.rules.state import DialogOutcome as DialogOutcome
from sim.rules.state import Permission as Permission

DIALOG_OUTCOMES: tuple[DialogOutcome, ...] = ("allowed", "denied", "dismissed", "ignored")
RECEIVES_PUSH: frozenset[str] = frozenset({"granted", "provisional"})
"""Permissions under which a push is delivered (provisional: quietly)."""


def local_day(state: DeviceState, now: float) -> int:
    """The index of the device's local day at ``now`` (days, UTC): what ``per_day`` caps
    count."""
    return math.floor(now + state.utc_offset_minutes / 1440.0)


def new_install(p: ProfileRules, *, provisional: bool = False,
                sdk_reports_permission: bool = True, utc_offset_minutes: int = 0) -> DeviceState:
    """State of a fresh install; ``provisional`` asks iOS for quiet delivery up front."""
    perm: Permission = p.default_permission
    if provisional and p.supports_provisional and perm == "not_determined":
        perm = "provisional"
    return DeviceState(profile=p.name, permission=perm,
                       sdk_reports_permission=sdk_reports_permission,
                       utc_offset_minutes=utc_offset_minutes)


def is_blocked(state: DeviceState, p: ProfileRules) -> bool:
    """True when the OS dialog can never be shown to this install again.

    Only the settings path is left (iOS after its one answer, Android 13+ after
    two denials, the web after ``denied``, an app targeting <= 32 on Android 13 after
    the one dialog the OS showed it, answered or not). Opt-out platforms are never
    blocked.
    """
    if not p.os_dialog or state.permission == "granted":
        return False
    if p.dialog_on_first_launch and not p.app_can_request \
            and state.dialogs_shown > 0:
        return True  # the OS asks once by itself; the app cannot ask again
    if p.dialog_spent_on == "display" and state.dialogs_shown > 0:
        return True  # older OpenHarmony: the dialog is used up as soon as it appears
    return state.denials >= p.max_denials


def dialogs_left(state: DeviceState, p: ProfileRules) -> int | None:
    """How many more OS dialogs this install may see; ``None`` means no fixed limit."""
    if not p.os_dialog or state.permission == "granted" or is_blocked(state, p):
        return 0
    if p.embargo_dismissals is not None or p.requires_user_gesture:
        return None  # the web asks until "denied"
    return p.max_denials - state.denials


def os_dialog_unavailable(state: DeviceState, p: ProfileRules, now: float) -> str | None:
    """Why the app cannot open the OS dialog now, or ``None`` if it can."""
    if not p.os_dialog:
        return "no_os_dialog"
    if not p.web_push:
        return "needs_home_screen"  # a Safari tab on iOS: web push is for Home Screen apps
    if state.permission == "granted":
        return "already_opted_in"
    if not p.app_can_request:
        return "app_cannot_request"
    if is_blocked(state, p):
        return "blocked"
    if state.embargo_until is not None and now < state.embargo_until:
        return "embargoed"
    return None


def first_launch_dialog_due(state: DeviceState, p: ProfileRules, *,
                            channel_created: bool = True,
                            from_launcher: bool = True,
                            keyguard_locked: bool = False) -> bool:
    """Android 13 with an app targeting <= 32: the OS shows its dialog by itself, once the app
    has created a notification channel and its task was started from the launcher, while the
    keyguard is not locked, and only while it has shown none to this install (one answer,
    either way, ends it). AOSP ``PermissionPolicyService``:
    ``shouldForceShowNotificationPermissionRequest`` and ``isTaskStartedFromLauncher``."""
    return (p.dialog_on_first_launch and channel_created and from_launcher
            and not keyguard_locked
            and state.installed and state.dialogs_shown == 0
            and state.permission == "not_determined")


def apply_dialog_result(state: DeviceState, p: ProfileRules, outcome: DialogOutcome,
                        now: float, ui: PromptUi | None = None) -> None:
    """Record the user's answer to an OS dialog (which closes it). Without a "Not now"
    button (``not_now_button``) a dismissal is an ignore: the prompt was left unanswered.
    ``ui``: the Chrome prompt the user answered (default: the profile's own,
    :func:`prompt_ui`); a quiet one's dismissal or ignore also counts toward the quiet
    thresholds (Chromium ``PermissionDecisionAutoBlocker::RecordDismissAndEmbargo``,
    ``dismissed_prompt_was_quiet``)."""
    quiet = (ui if ui is not None else prompt_ui(p)) == "quiet"
    state.dialogs_shown += 1
    state.dialog_open = False
    if outcome == "dismissed" and not p.not_now_button:
        outcome = "ignored"  # no "Not now": left unanswered (Firefox)
    if (outcome == "dismissed" and p.dismiss_counts_as_denial) \
            or (outcome == "ignored" and p.ignored_ends_dialog):
        outcome = "denied"
    if outcome == "allowed":
        state.permission = "granted"
        state.dialogs_answered += 1
    elif outcome == "denied":
        state.permission = "denied"
        state.dialogs_answered += 1
        state.denials += 1
    elif outcome == "dismissed":
        state.dismissals += 1
        qd = p.quiet_embargo_dismissals if quiet else None
        if qd is not None:
            state.quiet_dismissals += 1
        if (p.embargo_dismissals and state.dismissals >= p.embargo_dismissals) \
                or (qd is not None and state.quiet_dismissals >= qd):
            state.embargo_until = now + p.embargo_days
    else:  # ignored: prompted is not answered (the app quit with the dialog up)
        state.ignores += 1
        qi = p.quiet_embargo_ignores if quiet else None
        if qi is not None:
            state.quiet_ignores += 1
        if (p.embargo_ignores and state.ignores >= p.embargo_ignores) \
                or (qi is not None and state.quiet_ignores >= qi):
            state.embargo_until = now + p.embargo_days


def apply_settings_change(state: DeviceState, p: ProfileRules, enabled: bool) -> None:
    """The user turned notifications on or off in the system (or site) settings.

    Turning them off is a deliberate answer: the OS dialog is not offered again
    on this install (only settings can undo it).
    """
    if enabled:
        state.permission = "granted"
    else:
        state.permission = "denied"
        state.denials = max(state.denials, p.max_denials)


def _reset(state: DeviceState, p: ProfileRules, reset_campaigns: bool) -> None:
    state.permission = p.default_permission
    state.dialogs_shown = state.dialogs_answered = state.denials = 0
    state.dismissals = state.ignores = state.quiet_dismissals = state.quiet_ignores = 0
    state.embargo_until = None
    state.channel_created = state.dialog_open = False  # the app's channels went with its data
    if reset_campaigns:
        state.campaigns = {}
        state.last_in_app_at = None
        state.sessions = 0


def apply_uninstall(state: DeviceState, now: float) -> None:
    """The app was removed from the device."""
    state.installed = False
    state.uninstalled_at = now


def _ask_provisional(state: DeviceState, p: ProfileRules, provisional: bool) -> None:
    if provisional and p.supports_provisional and state.permission == "not_determined":
        state.permission = "provisional"


def apply_reinstall(state: DeviceState, p: ProfileRules, now: float,
                    reset_campaigns: bool = True, provisional: bool = False) -> None:
    """The app came back; the permission resets when the platform says so. ``provisional``:
    the app asks for provisional authorization at install, so it does so again."""
    gone = now - state.uninstalled_at if state.uninstalled_at is not None else 0.0
    state.installed = True
    state.uninstalled_at = None
    state.last_active_at = now
    if p.reinstall_resets and gone >= p.reinstall_reset_delay_days:
        _reset(state, p, reset_campaigns)
        _ask_provisional(state, p, provisional)


def apply_clear_data(state: DeviceState, p: ProfileRules,
                     reset_campaigns: bool = True, provisional: bool = False) -> None:
    """The user cleared the app's (or site's) data: for the embargo counts too (Chromium's
    counts reset only with the site's data, a reset of the permission or a one-time grant)."""
    if p.clear_data_resets:
        _reset(state, p, reset_campaigns)
        _ask_provisional(state, p, provisional)


def apply_os_upgrade(state: DeviceState, old: ProfileRules, new: ProfileRules,
                     now: float | None = None) -> None:
    """The OS moved to a level whose rules are ``new``.

    Android 12 -> 13 with the app installed: pre-granted when notifications were
    on and ``new.upgrade_pregrant``, whatever the app's target SDK. Notifications
    turned off on 12 are revoked and marked USER_SET (``new.upgrade_denied_user_set``):
    an app that can ask gets one more dialog, whose deny is final; an app that cannot
    (target <= 32), or with the setting off, is blocked (only settings undo it). A pre-grant
    at ``now`` posts the "review notification permissions" notice (``apply_review_notice``).
    """
    state.profile = new.name
    if old.default_permission == "granted" and new.default_permission == "not_determined":
        if state.permission == "granted":
            state.permission = "granted" if new.upgrade_pregrant else "not_determined"
            if new.upgrade_pregrant:
                state.review_notice_at = now  # the "review notification permissions" notice
        else:
            state.permission = "denied"
            one_more = new.upgrade_denied_user_set and new.app_can_request
            state.denials = max(state.denials, new.max_denials - (1 if one_more else 0))


def apply_app_update(state: DeviceState, old: ProfileRules, new: ProfileRules) -> None:
    """An app update moved the install from ``old`` to ``new`` (Android: target raised to 33+).

    Moving from a profile where the app could not ask to one where it can
    unlocks the dialog again (the one-denial lock of target <= 32 ends).
    """
    state.profile = new.name
    if state.permission != "granted" and new.app_can_request and not old.app_can_request:
        state.denials = 0
        state.dialogs_answered = 0


def hibernated(state: DeviceState, p: ProfileRules, now: float) -> bool:
    """Whether Android keeps the app hibernated at ``now``: installed and unused for
    ``hibernation_days`` since its last session. A hibernated app receives no push (FCM
    included) until it is used again; its notification permission stays as it is (AOSP
    exempts POST_NOTIFICATIONS from the auto-revoke of unused apps)."""
    return (state.installed and p.hibernation_days is not None
            and state.last_active_at is not None
            and now - state.last_active_at >= p.hibernation_days)


def receives_push(state: DeviceState) -> bool:
    """Whether a push sent now would be delivered (installed and allowed or provisional)."""
    return state.installed and state.permission in RECEIVES_PUSH


ADAPTIVE_QUIET_DENIALS = 3
"""Chrome turns its quiet prompt on after this many notification denials in a row."""
ADAPTIVE_QUIET_WINDOW_DAYS = 90.0
"""... counted over the actions of this many past days."""


def adaptive_quiet_ui(actions: Iterable[tuple[float, DialogOutcome]], now: float,
                      disabled_at: float | None = None) -> bool:
    """Chrome's adaptive quiet UI: whether a browser whose notification prompts (on any site)
    were answered with ``actions`` (time in days, outcome), oldest first, shows quiet prompts
    at ``now``. Chrome checks after each answer whether the last three denials came in a row
    within 90 days (an allow breaks the run, dismissals and ignores are skipped) and, once
    they did, keeps the quiet UI on: a later allow does not turn it off. Only the user turns
    it off, in settings (at ``disabled_at``); from then on only later answers count."""
    history = [(t, o) for t, o in actions
               if t <= now and (disabled_at is None or t > disabled_at)]
    return any(_denied_in_a_row(history, i) for i in range(len(history)))


def _denied_in_a_row(history: list[tuple[float, DialogOutcome]], last: int) -> bool:
    """Whether the answers up to ``history[last]``, within the 90 days before it, end with
    ``ADAPTIVE_QUIET_DENIALS`` denials with no allow between them."""
    at = history[last][0]
    run = 0
    for k in range(last, -1, -1):
        t, outcome = history[k]
        if at - t > ADAPTIVE_QUIET_WINDOW_DAYS:
            break
        if outcome == "allowed":
            return False
        if outcome == "denied":
            run += 1
            if run >= ADAPTIVE_QUIET_DENIALS:
                return True
    return False


# --- Android's rationale flag and the OS dialog's requests (issue 24) ----------------------

ANDROID_PLATFORMS: frozenset[str] = frozenset({"android", "huawei", "amazon"})
"""Platforms whose permission API is Android's (``shouldShowRequestPermissionRationale``)."""


def should_show_rationale(state: DeviceState, p: ProfileRules) -> bool:
    """Android's ``shouldShowRequestPermissionRationale`` for POST_NOTIFICATIONS, with AOSP's
    meaning (``PermissionManagerServiceImpl``): false when granted, false when the permission
    is fixed (USER_FIXED: the dialog is gone, ``is_blocked``; policy and system fixes are not
    modelled), else the USER_SET flag: the user denied it once (``denials``) and the app may
    ask once more. False off Android (iOS and the web have no such call) and where the app
    cannot ask (an app targeting <= 32 never asks, and Android 12 has no dialog)."""
    if p.platform not in ANDROID_PLATFORMS or not p.os_dialog or not p.app_can_request:
        return False
    if state.permission == "granted" or not state.installed or is_blocked(state, p):
        return False
    return state.denials > 0


def dialog_request_refused(state: DeviceState, p: ProfileRules) -> str | None:
    """Why a request for the OS dialog fails now (``None``: it opens, and stays open until
    its answer): ``dialog_open`` when the platform refuses a second request while one is
    open (OpenHarmony ``NotificationDialogManager::RequestEnableNotificationDailog`` returns
    ``ERR_ANS_DIALOG_IS_POPPING``), ``no_dialog_left`` when no dialog can be shown,
    ``needs_user_gesture`` when the request needs a click not yet spent (Safari,
    ``gesture_per_request``)."""
    if p.dialog_open_error and state.dialog_open:
        return "dialog_open"
    if dialogs_left(state, p) == 0:
        return "no_dialog_left"
    if p.gesture_per_request and not state.user_gesture:
        return "needs_user_gesture"  # Safari: the click was spent on an earlier request
    return None


def apply_dialog_request(state: DeviceState, p: ProfileRules) -> None:
    """The app requested the OS dialog and it opened (``dialog_request_refused`` said so);
    where one request consumes the user gesture (``gesture_per_request``), it is spent."""
    state.dialog_open = True
    if p.gesture_per_request:
        state.user_gesture = False


# --- Android backup and restore, the 12 -> 13 review notice (issue 24) --------------------

REVIEW_REMIND_DAYS = 7.0
"""The review notice's "remind me later" re-posts it after 7 days (AOSP
``ReviewNotificationPermissionsReceiver.JOB_RESCHEDULE_TIME``)."""
ReviewAnswer = Literal["turned_off", "kept", "remind_later", "dismissed"]
REVIEW_ANSWERS: tuple[ReviewAnswer, ...] = ("turned_off", "kept", "remind_later", "dismissed")


def user_set(state: DeviceState) -> bool:
    """Whether the permission carries a user's choice (USER_SET or USER_FIXED) on Android 13+:
    it left "not determined" only by a user's answer, a settings change, or the 12 -> 13
    upgrade (which marks every migrated app USER_SET), or a denial stands."""
    return state.permission != "not_determined" or state.denials > 0


def apply_restore(state: DeviceState, p: ProfileRules, granted: bool, was_user_set: bool,
                  was_user_fixed: bool) -> bool:
    """A backup restored onto this install (a new device): the backed-up grant, USER_SET and
    USER_FIXED are applied unless the permission is already user-set here, which is left
    alone; a granted permission is never fixed. Returns whether it applied. AOSP
    ``BackupHelper.BackupPermissionState.restore``: ``if (!perm.isUserSet())`` grant or
    revoke with the user-fixed flag, then ``setUserSet``; granted groups lose USER_FIXED."""
    if p.platform not in ANDROID_PLATFORMS or not p.os_dialog or user_set(state):
        return False
    if granted:
        state.permission = "granted"
    elif was_user_fixed:
        state.permission = "denied"
        state.denials = max(state.denials, p.max_denials)
    elif was_user_set:
        state.permission = "denied"
        state.denials = max(state.denials, 1)
    else:
        return False  # revoked without a flag: "not determined", as it was
    return True


def review_notice_due(state: DeviceState, now: float) -> bool:
    """Whether the 12 -> 13 "review notification permissions" notice is up at ``now``."""
    return state.installed and state.review_notice_at is not None \
        and now >= state.review_notice_at


def apply_review_notice(state: DeviceState, p: ProfileRules, answer: ReviewAnswer,
                        now: float) -> None:
    """The user answered the review notice: ``turned_off`` (its settings page, this app's
    notifications off: the pre-grant is revoked, as a settings change), ``kept`` (the page,
    nothing changed), ``remind_later`` (re-posted after :data:`REVIEW_REMIND_DAYS`) or
    ``dismissed`` (never again). AOSP ``ReviewNotificationPermissionsReceiver``."""
    state.review_notice_at = now + REVIEW_REMIND_DAYS if answer == "remind_later" else None
    if answer == "turned_off":
        apply_settings_change(state, p, enabled=False)


# --- Chrome's prompt UI and the requests it refuses (issue 24, chrome) --------------------

QUIET_REPUTATIONS: frozenset[str] = frozenset({"crowd_deny", "abusive_prompts",
                                                "abusive_content", "disruptive"})
"""Site reputations for which Chrome opens its quiet prompt (Chromium
``GetDecisionBasedOnSiteReputation``: kTriggeredByCrowdDeny, kTriggeredDueToAbusiveRequests,
kTriggeredDueToAbusiveContent, kTriggeredDueToDisruptiveBehavior)."""


def prompt_ui(p: ProfileRules, reputation: SiteReputation = "none") -> PromptUi | None:
    """Which of Chrome's two notification prompts a request on this profile, from a site of
    this ``reputation``, opens: ``quiet`` when the browser's prompts come quiet
    (``quiet_ui``) or the site's reputation asks for it (:data:`QUIET_REPUTATIONS`; for
    ``crowd_deny`` Chrome still opens the loud one with the chance :func:`loud_chance`, a
    draw no page sees), ``loud`` for Chrome's normal bubble, ``None`` where the platform has
    one prompt only. Chrome is the browser with an embargo (``embargo_dismissals`` /
    ``embargo_ignores``, Chromium ``PermissionDecisionAutoBlocker``)."""
    if p.platform != "web" or not p.os_dialog:
        return None
    if p.embargo_dismissals is None and p.embargo_ignores is None and not p.quiet_ui:
        return None
    if p.quiet_ui or reputation in QUIET_REPUTATIONS:
        return "quiet"
    return "loud"


def loud_chance(p: ProfileRules, reputation: SiteReputation) -> float:
    """The chance that Chrome opens its loud prompt where :func:`prompt_ui` says ``quiet``:
    ``crowd_deny_hold_back`` for a crowd-deny site on a browser whose own prompts are loud
    (Chromium ``ShouldHoldBackQuietUI``: only ``kTriggeredByCrowdDeny`` is held back; a
    browser with the quiet UI on still picks it by its next selector), else 0."""
    if reputation == "crowd_deny" and not p.quiet_ui and prompt_ui(p, reputation) == "quiet":
        return p.crowd_deny_hold_back
    return 0.0


def chrome_request_refused(p: ProfileRules, cross_origin_iframe: bool,
                           incognito: bool) -> str | None:
    """Why Chrome answers a notification request ``denied`` without any prompt (``None``: it
    may prompt). Chromium ``NotificationPermissionContext::DecidePermission``: a request from
    a frame whose origin is not the top-level one is blocked at once (``cross_origin_iframe``);
    in incognito it is blocked after a random 1-2 s, to look like a user's click
    (``incognito``). Neither is stored: the site's permission stays as it was."""
    if prompt_ui(p) is None:
        return None
    if cross_origin_iframe:
        return "cross_origin_iframe"
    if incognito:
        return "incognito"
    return None
