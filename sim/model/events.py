"""The flat record of what happened to a device: the simulator's event log.

One ``LogEvent`` per thing that happened, in the vocabulary of the service's
event API, so a logged history can be replayed through HTTP (``promptsim
parity``) or turned into a DataFrame at the edge. Fields that do not apply to a
kind stay ``None``.
"""

from __future__ import annotations

from typing import Literal

import msgspec

EventKind = Literal[
    "install", "session_start", "decision", "soft_prompt_clicked", "soft_prompt_dismissed",
    "os_dialog_result", "permission_changed", "os_upgraded", "app_updated", "reinstalled",
    "data_cleared", "uninstalled", "notification_channel_created", "app_launched",
    "review_notice", "permission_revoked", "push_received",
]


class LogEvent(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    """One event of one device in one (replication, strategy) run. ``t`` is in days."""

    t: float
    replication: int
    strategy: str
    device: str
    user: str
    kind: EventKind
    platform: str | None = None
    profile: str | None = None
    os_version: float | None = None
    os_kind: str | None = None
    """``install`` of a Huawei device: emui, harmonyos or harmonyos_next."""
    api_level: int | None = None
    """``install``, ``os_upgraded``: the Android API level of a Huawei EMUI / HarmonyOS device."""
    app_target_sdk: int | None = None
    browser: str | None = None
    quiet_ui: bool | None = None
    """``install`` on Chrome: it shows the quieter prompt."""
    webapk: bool | None = None
    """``install`` on Chrome for Android: the site is installed as a WebAPK."""
    browser_id: str | None = None
    """``install`` on Chrome: the browser, shared by the user's Chrome installs (Chrome's
    adaptive quiet UI counts their answers together)."""
    utc_offset_minutes: int | None = None
    """``install``: the device's time zone (absent: UTC)."""
    permission: str | None = None
    """``install``: the permission at install; ``permission_changed``: the new one."""
    sdk_reports_permission: bool | None = None
    trigger: str | None = None
    event_name: str | None = None
    session_seconds: float | None = None
    show: bool | None = None
    reason: str | None = None
    campaign_id: str | None = None
    action: str | None = None
    outcome: str | None = None
    """``os_dialog_result``: allowed, denied, dismissed or ignored."""
    prompt_ui: str | None = None
    """Chrome, a ``decision`` whose button opens the browser's prompt: which prompt it
    announces, ``quiet`` or ``loud``; an ``os_dialog_result``: the one the user answered (on
    a crowd-deny site, as Chrome drew it). Absent elsewhere."""
    summary: bool | None = None
    """``os_dialog_result`` on iOS: an allow given as "Allow in Scheduled Summary"."""
    loud_chance: float | None = None
    """Chrome, a ``decision`` announcing the quiet prompt on a crowd-deny site: the chance
    that Chrome opens the loud one instead (absent when the prompt is certain)."""
    source: str | None = None
    """``app_launched``: launcher or other (an Android app targeting <= 32)."""
    answer: str | None = None
    """``review_notice``: turned_off or kept (Android 12 -> 13)."""
    display: str | None = None
    """``push_received``: shown, silent or declarative (WebKit counts the silent ones)."""
