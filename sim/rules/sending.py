"""The rules that take delivery or permission away after opt-in, given what a site sends.

Pure functions over a ``DeviceState`` and the native copy of the delivery rules
(``sim.rules.native.DeliveryRulesNative``, from ``sim.rules.config.delivery``), called by
the simulator and callable by the service, as the ``apply_*`` functions of
``sim.rules.permission`` are. Times are in days.

- **Chrome's Safety Hub** (``chrome/browser/ui/safety_hub/
  disruptive_notification_permissions_manager.cc``) runs once a day: a granted site whose
  7-day daily average of notifications shown (an integer division) is at least
  ``min_daily_average`` while its site engagement is at most ``max_engagement`` is
  *proposed*; a run at least ``waiting_days`` later that still finds it disruptive
  revokes it back to *ask* (``not_determined``). A user's re-grant while the revoked entry
  lives keeps the site from being revoked again until ``ignore_days`` (365 inside Safety
  Hub) after the revocation; any other change the user makes deletes the entries.
- **WebKit** counts each push that shows no notification within 30 s and never lowers the
  count; at ``max_silent`` it removes the site's push subscription (the permission stays).
  Declarative Web Push messages show by themselves: never silent.
- Android's hibernation stops delivery too (``sim.rules.permission.hibernated``).
"""

from __future__ import annotations

import math
from typing import Literal

from sim.rules.config.delivery import CHROME_REVOKES, WEBKIT_PENALISES
from sim.rules.native import DeliveryRulesNative, ProfileRules
from sim.rules.permission import receives_push
from sim.rules.state import DeviceState

DeliveryKind = Literal["chrome_revocation", "webkit_penalty", "none"]
"""Which of the rules here a profile's browser runs."""
SafetyHubResult = Literal["proposed", "revoked", "cleared", "ignored", ""]
"""What one daily run of Safety Hub did to one site (``""``: nothing)."""
DAYS_AVERAGED = 7
"""``NotificationsEngagementService::GetDailyAverageNotificationCount``: the last 7 days."""


def delivery_kind(p: ProfileRules) -> DeliveryKind:
    """The rule of this module the profile's browser runs (``CHROME_REVOKES``,
    ``WEBKIT_PENALISES``), else ``"none"``."""
    if p.name in CHROME_REVOKES:
        return "chrome_revocation"
    if p.name in WEBKIT_PENALISES:
        return "webkit_penalty"
    return "none"


def daily_average(shown_7d: int) -> int:
    """Chromium's daily average of the notifications shown over the last 7 days:
    ``std::ceil(total / kDays)`` on two ints, an integer division, so 27 a week is 3."""
    return shown_7d // DAYS_AVERAGED


def is_disruptive(shown_7d: int, engagement: float, r: DeliveryRulesNative) -> bool:
    """``IsNotificationDisruptive``: low engagement and a high daily average, both."""
    return (engagement <= r.chrome_max_engagement
            and daily_average(shown_7d) >= r.chrome_min_daily_average)


def _expire(st: DeviceState, r: DeliveryRulesNative, now: float) -> None:
    """Drop the entries whose lifetime ended: a proposal or a revocation ``cleanup_days``
    after its time, an ignore entry at ``revocation_ignored_until``."""
    until = st.revocation_ignored_until
    if until is not None:
        if now >= until:
            st.revocation_ignored_until = st.revoked_at = None
        return
    proposed = st.revocation_proposed_at
    if proposed is not None and now - proposed >= r.chrome_cleanup_days:
        st.revocation_proposed_at = None
    revoked = st.revoked_at
    if revoked is not None and now - revoked >= r.chrome_cleanup_days:
        st.revoked_at = None


def revoke(st: DeviceState, now: float) -> None:
    """Safety Hub revokes the site's permission back to *ask* (``CONTENT_SETTING_DEFAULT``):
    the site may prompt again; the entry keeps the revocation's time."""
    st.permission = "not_determined"
    st.revoked_at = now
    st.revocation_proposed_at = None


def safety_hub_run(st: DeviceState, r: DeliveryRulesNative, now: float, shown_7d: int,
                   engagement: float) -> SafetyHubResult:
    """One daily run of ``RevokeDisruptiveNotifications`` for the site of ``st``:
    ``shown_7d`` notifications shown over the last 7 days, site engagement ``engagement``."""
    if not r.chrome_enabled:
        return ""
    _expire(st, r, now)
    if not st.installed or st.permission != "granted":
        return ""  # only granted permissions can be revoked
    if st.revocation_ignored_until is not None:
        return "ignored"
    st.revoked_at = None  # granted with a revoked entry: inconsistent, the run deletes it
    hot = is_disruptive(shown_7d, engagement, r)
    proposed = st.revocation_proposed_at
    if proposed is not None:
        if not hot:
            st.revocation_proposed_at = None
            return "cleared"
        if now - proposed >= max(r.chrome_waiting_days, r.chrome_metrics_days):
            revoke(st, now)
            return "revoked"
        return ""
    if hot:
        st.revocation_proposed_at = now
        return "proposed"
    return ""


def permission_changed(st: DeviceState, r: DeliveryRulesNative, now: float,
                       in_safety_hub: bool = False) -> bool:
    """The user changed the site's permission (``OnPermissionChanged``, which Chrome calls
    only on a change of the setting: a dismissed prompt is none; inside Safety Hub,
    ``RegrantPermissionForUrl``). A re-grant while the revoked entry lives makes the site
    immune until ``ignore_days`` (or ``ignore_days_safety_hub``) after the revocation: the
    entry keeps the revocation's time. Any other change deletes the entries. Returns
    whether the site is now immune."""
    _expire(st, r, now)
    revoked = st.revoked_at
    if revoked is not None and st.revocation_ignored_until is None \
            and st.permission == "granted":
        days = r.chrome_ignore_days_safety_hub if in_safety_hub else r.chrome_ignore_days
        st.revocation_ignored_until = revoked + days
        return True
    st.revocation_proposed_at = st.revoked_at = st.revocation_ignored_until = None
    return False


def revocation_due(st: DeviceState, r: DeliveryRulesNative, granted_at: float,
                   per_day: float, engagement: float, until: float) -> float:
    """The time of the daily run (one at each whole day) that revokes the site granted at
    ``granted_at``, when it shows ``per_day`` notifications a day from then on and nothing
    else changes; ``inf`` if none before ``until``. A run counts the 7 days before it. The
    runs are :func:`safety_hub_run` on a copy of the site's entries: once the 7-day count is
    steady, a site not proposed is never, so the search ends there."""
    if not r.chrome_enabled or per_day <= 0.0:
        return math.inf
    scratch = DeviceState(profile=st.profile, permission="granted",
                          revocation_proposed_at=st.revocation_proposed_at,
                          revoked_at=st.revoked_at,
                          revocation_ignored_until=st.revocation_ignored_until)
    c = math.floor(granted_at) + 1.0
    ignored = st.revocation_ignored_until
    if ignored is not None and c < ignored:
        c = float(math.ceil(ignored))
    last = max(c, granted_at + DAYS_AVERAGED) + r.chrome_waiting_days + r.chrome_metrics_days \
        + 1.0
    while c <= last and c < until:
        shown = int(per_day * min(float(DAYS_AVERAGED), c - granted_at) + 1e-9)
        if safety_hub_run(scratch, r, c, shown, engagement) == "revoked":
            return c
        c += 1.0
    return math.inf


def record_push(st: DeviceState, r: DeliveryRulesNative, shown: bool,
                declarative: bool = False) -> bool:
    """A push reached the site's service worker (WebKit); ``shown``: a notification showed
    within 30 s. A silent one counts, for good; the ``max_silent``-th removes the
    subscription. Returns whether this push removed it."""
    if shown or declarative or st.push_unsubscribed:
        return False
    st.silent_pushes += 1
    if st.silent_pushes >= r.webkit_max_silent:
        st.push_unsubscribed = True
        return True
    return False


def silent_pushes_left(st: DeviceState, r: DeliveryRulesNative) -> int:
    """Silent pushes the subscription survives before the one that removes it is due:
    ``max_silent - silent_pushes`` (0 once removed)."""
    if st.push_unsubscribed:
        return 0
    return max(0, r.webkit_max_silent - st.silent_pushes)


def delivered(st: DeviceState, hibernated: bool = False) -> bool:
    """A push sent now is delivered: installed, allowed or provisional
    (``sim.rules.permission.receives_push``), not ``hibernated`` (Android) and its
    subscription not removed (WebKit)."""
    return receives_push(st) and not hibernated and not st.push_unsubscribed
