"""The permission state machine of one install.

``DeviceState`` is plain data (a msgspec Struct, stored as JSON by the service).
The ``apply_*`` functions are the transitions of ``docs/platform-rules.md`` section 1:
they update the state passed to them and do nothing else (no clock, no I/O, no
randomness), so the simulator and the eligibility service share them.
Times are in days (the service divides Unix seconds by 86,400).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from sim.rules.platforms import PlatformProfile

Permission = Literal["not_determined", "provisional", "granted", "denied"]
DialogOutcome = Literal["allowed", "denied", "dismissed", "ignored"]
DIALOG_OUTCOMES: tuple[DialogOutcome, ...] = ("allowed", "denied", "dismissed", "ignored")
RECEIVES_PUSH: frozenset[str] = frozenset({"granted", "provisional"})
"""Permissions under which a push is delivered (provisional: quietly)."""


class CampaignCounters(msgspec.Struct, gc=False):
    """What one campaign has done on one install: the input of frequency rules."""

    shown: int = 0
    clicked: int = 0
    dismissed: int = 0
    last_shown_at: float | None = None
    day: int = -1
    """Day index of ``shown_today``."""
    shown_today: int = 0
    session: int = -1
    """Session index of ``shown_this_session``."""
    shown_this_session: int = 0


class DeviceState(msgspec.Struct, kw_only=True, gc=False):
    """Everything the rules know about one install of the app on one device.

    Plain data without reference cycles, so untracked by the cyclic garbage
    collector (``gc=False``): millions of them cost a collection nothing.
    """

    profile: str
    permission: Permission
    installed: bool = True
    sdk_reports_permission: bool = True
    dialogs_shown: int = 0
    """OS dialogs shown to this install (answered or not)."""
    dialogs_answered: int = 0
    denials: int = 0
    """Denials counted against ``PlatformProfile.max_denials`` (counted here, since
    Android reports "don't ask again" the same way as "never asked")."""
    dismissals: int = 0
    ignores: int = 0
    embargo_until: float | None = None
    uninstalled_at: float | None = None
    last_active_at: float | None = None
    sessions: int = 0
    campaigns: dict[str, CampaignCounters] = msgspec.field(default_factory=dict)
    last_in_app_at: float | None = None


def new_install(profile: PlatformProfile, *, provisional: bool = False,
                sdk_reports_permission: bool = True) -> DeviceState:
    """State of a fresh install; ``provisional`` asks iOS for quiet delivery up front."""
    perm: Permission = profile.default_permission
    if provisional and profile.supports_provisional and perm == "not_determined":
        perm = "provisional"
    return DeviceState(profile=profile.name, permission=perm,
                       sdk_reports_permission=sdk_reports_permission)


def is_blocked(state: DeviceState, profile: PlatformProfile) -> bool:
    """True when the OS dialog can never be shown to this install again.

    Only the settings path is left (iOS after its one answer, Android 13+ after
    two denials, the web after ``denied``). Opt-out platforms are never blocked.
    """
    if not profile.os_dialog or state.permission == "granted":
        return False
    return state.denials >= profile.max_denials


def dialogs_left(state: DeviceState, profile: PlatformProfile) -> int | None:
    """How many more OS dialogs this install may see; ``None`` means no fixed limit."""
    if not profile.os_dialog or state.permission == "granted" or is_blocked(state, profile):
        return 0
    if profile.embargo_dismissals is not None or profile.requires_user_gesture:
        return None  # the web asks until "denied"
    return profile.max_denials - state.denials


def os_dialog_unavailable(state: DeviceState, profile: PlatformProfile, now: float) -> str | None:
    """Why the app cannot open the OS dialog now, or ``None`` if it can."""
    if not profile.os_dialog:
        return "no_os_dialog"
    if state.permission == "granted":
        return "already_opted_in"
    if not profile.app_can_request:
        return "app_cannot_request"
    if is_blocked(state, profile):
        return "blocked"
    if state.embargo_until is not None and now < state.embargo_until:
        return "embargoed"
    return None


def first_launch_dialog_due(state: DeviceState, profile: PlatformProfile) -> bool:
    """Android 13 with an app targeting <= 32: the OS asks by itself on first launch."""
    return (profile.dialog_on_first_launch and state.installed and state.dialogs_shown == 0
            and state.permission == "not_determined")


def apply_dialog_result(state: DeviceState, profile: PlatformProfile, outcome: DialogOutcome,
                        now: float) -> None:
    """Record the user's answer to an OS dialog."""
    state.dialogs_shown += 1
    if outcome == "dismissed" and profile.dismiss_counts_as_denial:
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
        if profile.embargo_dismissals and state.dismissals >= profile.embargo_dismissals:
            _embargo(state, profile, now)
    else:  # ignored: prompted is not answered (the app quit with the dialog up)
        state.ignores += 1
        if profile.embargo_ignores and state.ignores >= profile.embargo_ignores:
            _embargo(state, profile, now)


def _embargo(state: DeviceState, profile: PlatformProfile, now: float) -> None:
    state.embargo_until = now + profile.embargo_days
    state.dismissals = state.ignores = 0


def apply_settings_change(state: DeviceState, profile: PlatformProfile, enabled: bool) -> None:
    """The user turned notifications on or off in the system (or site) settings.

    Turning them off is a deliberate answer: the OS dialog is not offered again
    on this install (only settings can undo it).
    """
    if enabled:
        state.permission = "granted"
    else:
        state.permission = "denied"
        state.denials = max(state.denials, profile.max_denials)


def _reset(state: DeviceState, profile: PlatformProfile, reset_campaigns: bool) -> None:
    state.permission = profile.default_permission
    state.dialogs_shown = state.dialogs_answered = state.denials = 0
    state.dismissals = state.ignores = 0
    state.embargo_until = None
    if reset_campaigns:
        state.campaigns = {}
        state.last_in_app_at = None
        state.sessions = 0


def apply_uninstall(state: DeviceState, now: float) -> None:
    """The app was removed from the device."""
    state.installed = False
    state.uninstalled_at = now


def apply_reinstall(state: DeviceState, profile: PlatformProfile, now: float,
                    reset_campaigns: bool = True) -> None:
    """The app came back; the permission resets when the platform says so."""
    gone = now - state.uninstalled_at if state.uninstalled_at is not None else 0.0
    state.installed = True
    state.uninstalled_at = None
    state.last_active_at = now
    if profile.reinstall_resets and gone >= profile.reinstall_reset_delay_days:
        _reset(state, profile, reset_campaigns)


def apply_clear_data(state: DeviceState, profile: PlatformProfile,
                     reset_campaigns: bool = True) -> None:
    """The user cleared the app's (or site's) data."""
    if profile.clear_data_resets:
        _reset(state, profile, reset_campaigns)


def apply_os_upgrade(state: DeviceState, old: PlatformProfile, new: PlatformProfile) -> None:
    """The OS moved to a level whose rules are ``new``.

    Android 12 -> 13 with the app installed: pre-granted when notifications were
    on and ``new.upgrade_pregrant``; notifications turned off on 12 carry over as a
    denial the app cannot ask past (only settings can undo it, as for a settings-off
    on 13).
    """
    state.profile = new.name
    if old.default_permission == "granted" and new.default_permission == "not_determined":
        if state.permission == "granted":
            state.permission = "granted" if new.upgrade_pregrant else "not_determined"
        else:
            state.permission = "denied"
            state.denials = max(state.denials, new.max_denials)


def apply_app_update(state: DeviceState, old: PlatformProfile, new: PlatformProfile) -> None:
    """An app update moved the install from ``old`` to ``new`` (Android: target raised to 33+).

    Moving from a profile where the app could not ask to one where it can
    unlocks the dialog again (the one-denial lock of target <= 32 ends).
    """
    state.profile = new.name
    if state.permission != "granted" and new.app_can_request and not old.app_can_request:
        state.denials = 0
        state.dialogs_answered = 0


def hibernation_due(state: DeviceState, profile: PlatformProfile, now: float) -> bool:
    """True when the app has been unused long enough for Android to revoke its permission.

    Android's auto-reset revokes permissions the user *granted*; a denial (and the
    "don't ask again" it may carry) stays as it is.
    """
    return (profile.hibernation_days is not None and state.last_active_at is not None
            and now - state.last_active_at >= profile.hibernation_days
            and state.permission == "granted")


def apply_hibernation(state: DeviceState) -> None:
    """Android revoked the granted permission of an unused app; nothing re-grants it.

    The app may ask again as on a fresh install: denials from before the grant no longer
    count (without this, a grant from settings after a denial would leave a
    "not determined" install that is also blocked).
    """
    state.permission = "not_determined"
    state.denials = 0
    state.dialogs_answered = 0


def receives_push(state: DeviceState) -> bool:
    """Whether a push sent now would be delivered (installed and allowed or provisional)."""
    return state.installed and state.permission in RECEIVES_PUSH
