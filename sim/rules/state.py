"""One install's state as the rules see it: ``DeviceState`` and its ``CampaignCounters``.

Plain data, read and written by the rule functions of ``sim.rules.permission`` and
``sim.rules.decision``. This module is compiled with mypyc (``sim.COMPILED``), so these are
native classes: a compiled rule reads a field from a C struct, not through Python's generic
attribute lookup (about 160 instructions; the simulator reads and writes these fields
millions of times a second). They are dataclasses, so the service stores them as JSON
through msgspec, to the same JSON as the msgspec Structs they were.

mypyc keeps only the runtime class of each annotation (``type`` for a ``Literal`` or an
optional, ``dict`` for ``dict[str, CampaignCounters]``), which is all msgspec would see;
:data:`_DECLARED` gives msgspec the declared types back. And msgspec makes a dataclass
without running ``__init__``, then fills in the defaults of the fields it finds missing;
a native int or bool field is never missing (it reads 0 or False), so one whose default is
something else would decode wrong from JSON that lacks it. Four fields have such a default
(``installed``, ``sdk_reports_permission``, ``day``, ``session``); the service writes every
field of every state it stores, and these have been in every state it ever wrote.
``tests/rules/test_state.py`` checks the JSON, the validation, and fails when a new field
joins those four.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Permission = Literal["not_determined", "provisional", "granted", "denied"]
DialogOutcome = Literal["allowed", "denied", "dismissed", "ignored"]


@dataclass(init=False)
class CampaignCounters:
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
    last_dismissed_at: float | None = None
    """When the soft prompt was last dismissed (``gap_list`` counts its gap from it)."""

    def __init__(self, shown: int = 0, clicked: int = 0, dismissed: int = 0,
                 last_shown_at: float | None = None, day: int = -1, shown_today: int = 0,
                 session: int = -1, shown_this_session: int = 0,
                 last_dismissed_at: float | None = None) -> None:
        # Written out (``init=False``): mypyc compiles it, where the one ``dataclass``
        # generates is interpreted (~9,000 instructions a call).
        self.shown, self.clicked, self.dismissed = shown, clicked, dismissed
        self.last_shown_at, self.day, self.shown_today = last_shown_at, day, shown_today
        self.session, self.shown_this_session = session, shown_this_session
        self.last_dismissed_at = last_dismissed_at


@dataclass(init=False)
class DeviceState:
    """Everything the rules know about one install of the app on one device."""

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
    """Dismissed dialogs (Chrome's embargo counts them; an embargo never resets them)."""
    ignores: int = 0
    quiet_dismissals: int = 0
    """Dismissals of Chrome's quiet prompt (they count in ``dismissals`` too)."""
    quiet_ignores: int = 0
    embargo_until: float | None = None
    uninstalled_at: float | None = None
    last_active_at: float | None = None
    sessions: int = 0
    campaigns: dict[str, CampaignCounters] = field(default_factory=dict)
    last_in_app_at: float | None = None
    utc_offset_minutes: int = 0
    """The device's time zone: per-day caps count its local day (``local_day``)."""
    channel_created: bool = False
    """Android, app targeting <= 32: the app has created a notification channel (the OS asks
    by itself only then; cleared data and a reinstall delete the channels)."""
    dialog_open: bool = False
    """The OS dialog was requested and is not answered yet (HarmonyOS refuses a second
    request meanwhile: ``PlatformProfile.dialog_open_error``)."""
    review_notice_at: float | None = None
    """Android 12 -> 13: when the "review notification permissions" notice is (re)posted
    (``None``: not pending); "remind me later" re-posts it 7 days on."""
    user_gesture: bool = False
    """A click on the soft prompt not yet spent: the user gesture an OS dialog request needs
    where one request consumes it (``PlatformProfile.gesture_per_request``, Safari). A new
    session starts without one."""
    revocation_proposed_at: float | None = None
    """Chrome's Safety Hub proposed revoking the site's permission then (``None``: no
    proposal; ``sim.rules.sending.safety_hub_run``)."""
    revoked_at: float | None = None
    """Chrome's Safety Hub revoked the permission then (its entry's time, kept while the
    entry lives)."""
    revocation_ignored_until: float | None = None
    """The user re-granted after that revocation: Safety Hub leaves the site alone until
    then."""
    silent_pushes: int = 0
    """WebKit: pushes to the site that showed no notification within 30 s (never
    decreases)."""
    push_unsubscribed: bool = False
    """WebKit removed the site's push subscription after ``max_silent`` silent pushes: no push
    reaches it, although the permission stays."""

    def __init__(self, *, profile: str, permission: Permission, installed: bool = True,
                 sdk_reports_permission: bool = True, dialogs_shown: int = 0,
                 dialogs_answered: int = 0, denials: int = 0, dismissals: int = 0,
                 ignores: int = 0, quiet_dismissals: int = 0, quiet_ignores: int = 0,
                 embargo_until: float | None = None, uninstalled_at: float | None = None,
                 last_active_at: float | None = None, sessions: int = 0,
                 campaigns: dict[str, CampaignCounters] | None = None,
                 last_in_app_at: float | None = None, utc_offset_minutes: int = 0,
                 channel_created: bool = False, dialog_open: bool = False,
                 review_notice_at: float | None = None, user_gesture: bool = False,
                 revocation_proposed_at: float | None = None, revoked_at: float | None = None,
                 revocation_ignored_until: float | None = None, silent_pushes: int = 0,
                 push_unsubscribed: bool = False) -> None:
        self.profile, self.permission, self.installed = profile, permission, installed
        self.sdk_reports_permission = sdk_reports_permission
        self.dialogs_shown, self.dialogs_answered = dialogs_shown, dialogs_answered
        self.denials, self.dismissals, self.ignores = denials, dismissals, ignores
        self.quiet_dismissals, self.quiet_ignores = quiet_dismissals, quiet_ignores
        self.embargo_until, self.uninstalled_at = embargo_until, uninstalled_at
        self.last_active_at, self.sessions = last_active_at, sessions
        self.campaigns = {} if campaigns is None else campaigns
        self.last_in_app_at, self.utc_offset_minutes = last_in_app_at, utc_offset_minutes
        self.channel_created, self.dialog_open = channel_created, dialog_open
        self.review_notice_at, self.user_gesture = review_notice_at, user_gesture
        self.revocation_proposed_at, self.revoked_at = revocation_proposed_at, revoked_at
        self.revocation_ignored_until = revocation_ignored_until
        self.silent_pushes, self.push_unsubscribed = silent_pushes, push_unsubscribed


_DECLARED: dict[type, dict[str, object]] = {
    CampaignCounters: {"last_shown_at": float | None, "last_dismissed_at": float | None},
    DeviceState: {"permission": Permission, "embargo_until": float | None,
                  "uninstalled_at": float | None, "last_active_at": float | None,
                  "campaigns": dict[str, CampaignCounters], "last_in_app_at": float | None,
                  "review_notice_at": float | None, "revocation_proposed_at": float | None,
                  "revoked_at": float | None, "revocation_ignored_until": float | None},
}
"""The annotations mypyc erases, as declared (see the module's docstring)."""
for _cls, _types in _DECLARED.items():
    _cls.__annotations__.update(_types)
