"""The plain data the rules read and write: one install's state and the decision.

msgspec Structs: the service stores a ``DeviceState`` as JSON and returns a ``Decision``.
The functions over them live in ``sim.rules.permission`` and ``sim.rules.decision``, which
are compiled with mypyc (``sim.COMPILED``); these classes stay Python classes, since mypyc
would drop a Struct's class options (``frozen``, ``omit_defaults``, ``gc``).
"""

from __future__ import annotations

from typing import Literal

import msgspec

Permission = Literal["not_determined", "provisional", "granted", "denied"]
DialogOutcome = Literal["allowed", "denied", "dismissed", "ignored"]


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
    """Dismissed dialogs (Chrome's embargo counts them; an embargo never resets them)."""
    ignores: int = 0
    quiet_dismissals: int = 0
    """Dismissals of Chrome's quiet prompt (they count in ``dismissals`` too)."""
    quiet_ignores: int = 0
    embargo_until: float | None = None
    uninstalled_at: float | None = None
    last_active_at: float | None = None
    sessions: int = 0
    campaigns: dict[str, CampaignCounters] = msgspec.field(default_factory=dict)
    last_in_app_at: float | None = None
    utc_offset_minutes: int = 0
    """The device's time zone: per-day caps count its local day (:func:`local_day`)."""


ButtonAction = Literal["os_dialog", "open_settings", "instructions", "message"]
"""What the soft prompt's button does: open the OS dialog, open the app's notification
settings, show instructions for unblocking the site (the web: a page cannot open the
browser's settings), or another in-app message's own action."""


class Decision(msgspec.Struct, frozen=True, omit_defaults=True):
    """The answer: show or not, which campaign, what the button does, and why.

    ``reason`` is ``eligible`` (the only one with ``show``) or one of: ``not_installed``,
    ``already_opted_in``, ``no_campaign``, ``not_in_audience``, ``trigger_not_met``,
    ``too_early``, ``spacing``, ``outranked``, ``frequency_limit``, ``gap_not_elapsed``,
    ``min_delay``, ``session_cap``, ``daily_cap``, ``total_cap``, ``embargoed``, ``blocked``,
    ``no_os_dialog``, ``app_cannot_request``, ``needs_user_gesture``.
    """

    show: bool
    reason: str
    campaign_id: str | None = None
    action: ButtonAction | None = None
