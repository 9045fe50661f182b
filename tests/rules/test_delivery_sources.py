"""The life after opt-in (issue 24): the rules that take permission or delivery away, read
against the browsers' own code. Each test names its source by repository and path.

Chromium's feature parameters are read in a Chromium fork that carries the launched
values (``cinagroup/CinaBrowser``, ``chrome/common/chrome_features.cc``, at b3278698): the
stored ``chromium/chromium`` copies of that file predate the feature or have moved it. The
manager itself is read in ``chromium/chromium``.
"""

from __future__ import annotations

import math

import pytest

from sim.rules.config.delivery import ChromeRevocation, DeliveryRules
from sim.rules.config.platforms import DEFAULT_PROFILES
from sim.rules.native import DeliveryRulesNative, ProfileRules
from sim.rules.permission import new_install
from sim.rules.reachability import device_reach
from sim.rules.sending import (
    daily_average,
    delivered,
    delivery_kind,
    is_disruptive,
    permission_changed,
    record_push,
    revocation_due,
    safety_hub_run,
    silent_pushes_left,
)
from sim.rules.state import DeviceState

R = DeliveryRulesNative(DeliveryRules())
P = {n: ProfileRules(p) for n, p in DEFAULT_PROFILES.items()}


def granted(profile: str = "chrome") -> DeviceState:
    st = new_install(P[profile])
    st.permission = "granted"
    return st


# --- Chrome: Safety Hub's disruptive-notification revocation ------------------------------

def test_chrome_defaults_are_the_launched_android_parameters() -> None:
    """The defaults are the parameters Chrome for Android launched with: the feature on,
    ``min_notification_count`` 4, ``max_engagement_score`` 0.0, ``waiting_time_as_proposed``
    4 days, ``waiting_for_metrics_days`` 1; a re-grant outside Safety Hub ignores the site
    for 90 days, inside for 365; entries are cleaned up after 30 days.

    Sources: ``cinagroup/CinaBrowser`` ``chrome/common/chrome_features.cc``
    (``kSafetyHubDisruptiveNotificationRevocation``: ``FEATURE_ENABLED_BY_DEFAULT`` under
    ``IS_ANDROID``, else disabled, and its ``FeatureParam``s); ``chromium/chromium``
    ``chrome/browser/ui/safety_hub/disruptive_notification_permissions_manager.cc``
    (``kIgnoreExpirationOutsideSafetyHub = base::Days(90)``,
    ``kIgnoreExpirationInsideSafetyHub = base::Days(365)``); ``chromium/chromium``
    ``components/safety_check/safety_check.cc``
    (``kUnusedSitePermissionsRevocationCleanUpThreshold = base::Days(30)``)."""
    c = ChromeRevocation()
    assert (c.enabled, c.min_daily_average, c.max_engagement, c.waiting_days,
            c.metrics_days) == (True, 4, 0.0, 4.0, 1.0)
    assert (c.ignore_days, c.ignore_days_safety_hub, c.cleanup_days) == (90.0, 365.0, 30.0)
    assert [delivery_kind(P[n]) for n in ("chrome", "chrome_quiet", "safari",
                                          "safari_ios_webapp", "firefox", "ios")] == [
        "chrome_revocation", "chrome_revocation", "webkit_penalty", "webkit_penalty", "none",
        "none"]


def test_the_daily_average_is_an_integer_division_of_seven_days() -> None:
    """Chrome averages the notifications shown over the last 7 days as
    ``std::ceil(notification_count_total / kDays)`` on two ints: the division truncates
    before the ceil, so 27 notifications a week average 3 and do not make a site
    disruptive, 28 do; and only with a site engagement score at most 0.

    Sources: ``chromium/chromium``
    ``components/permissions/notifications_engagement_service.cc``
    (``GetDailyAverageNotificationCount``, ``kDays = 7``) and
    ``chrome/browser/ui/safety_hub/disruptive_notification_permissions_manager.cc``
    (``IsNotificationDisruptive``: ``site_engagement_score <= max_engagement_score &&
    daily_notification_count >= min_notification_count``)."""
    assert (daily_average(27), daily_average(28), daily_average(34)) == (3, 4, 4)
    assert not is_disruptive(27, 0.0, R)
    assert is_disruptive(28, 0.0, R)
    assert not is_disruptive(28, 0.5, R)


def test_chrome_proposes_then_revokes_back_to_ask_after_four_days() -> None:
    """A granted, disruptive site is proposed at one daily run; a run at least
    ``waiting_time_as_proposed`` (4 days) later that still finds it disruptive revokes it to
    the default (*ask*: ``not_determined``), so the site may prompt again. Off (the
    desktop reading of that version) nothing happens.

    Source: ``chromium/chromium``
    ``chrome/browser/ui/safety_hub/disruptive_notification_permissions_manager.cc``
    (``RevokeDisruptiveNotifications``: ``kProposed`` entry, ``CanRevokeNotifications``,
    ``RevokeNotifications`` sets ``CONTENT_SETTING_DEFAULT`` and stamps the revocation's
    time); parameters as in the test above."""
    st = granted()
    assert safety_hub_run(st, R, 10.0, 28, 0.0) == "proposed"
    assert st.revocation_proposed_at == 10.0
    assert safety_hub_run(st, R, 13.0, 35, 0.0) == ""
    assert st.permission == "granted"
    assert safety_hub_run(st, R, 14.0, 35, 0.0) == "revoked"
    assert (st.permission, st.revoked_at, st.revocation_proposed_at) == (
        "not_determined", 14.0, None)
    assert safety_hub_run(st, R, 15.0, 35, 0.0) == ""  # only granted permissions

    off = DeliveryRulesNative(DeliveryRules(chrome=ChromeRevocation(enabled=False)))
    st = granted()
    assert safety_hub_run(st, off, 10.0, 70, 0.0) == ""
    assert st.revocation_proposed_at is None


def test_a_proposal_is_dropped_when_the_site_is_no_longer_disruptive() -> None:
    """A proposed site that a later run finds no longer disruptive (fewer notifications, or
    the user visited it) has its proposal deleted; the wait starts again next time.

    Source: ``chromium/chromium``
    ``chrome/browser/ui/safety_hub/disruptive_notification_permissions_manager.cc``
    (``case RevocationState::kProposed: if (!is_disruptive) ... DeleteRevocationEntry``)."""
    st = granted()
    safety_hub_run(st, R, 10.0, 28, 0.0)
    assert safety_hub_run(st, R, 12.0, 28, 3.0) == "cleared"
    assert st.revocation_proposed_at is None
    assert safety_hub_run(st, R, 13.0, 28, 0.0) == "proposed"
    assert safety_hub_run(st, R, 16.0, 28, 0.0) == ""
    assert safety_hub_run(st, R, 17.0, 28, 0.0) == "revoked"


def test_a_regrant_ignores_the_site_90_days_from_the_revocation_365_in_safety_hub() -> None:
    """A user who allows the revoked site again (outside Safety Hub) makes it exempt from
    revocation; the exemption is the entry kept with the revocation's own time and a 90-day
    lifetime, so it ends 90 days after the *revocation*, not after the re-grant (365 when
    re-granted inside Safety Hub). After it, the site can be proposed again.

    Source: ``chromium/chromium``
    ``chrome/browser/ui/safety_hub/disruptive_notification_permissions_manager.cc``
    (``OnPermissionChanged`` -> ``OnPermissionRegranted(..., false)``;
    ``RegrantPermissionForUrl`` -> ``OnPermissionRegranted(..., true)``; both keep
    ``revocation_entry.timestamp``, and ``PersistRevocationEntry`` sets
    ``ContentSettingConstraints(entry.timestamp)`` with the 90- or 365-day lifetime)."""
    st = granted()
    safety_hub_run(st, R, 10.0, 28, 0.0)
    safety_hub_run(st, R, 14.0, 28, 0.0)
    st.permission = "granted"  # the user allows it again, 6 days on
    assert permission_changed(st, R, 20.0)
    assert st.revocation_ignored_until == 14.0 + 90.0
    assert safety_hub_run(st, R, 103.0, 70, 0.0) == "ignored"
    assert safety_hub_run(st, R, 104.0, 70, 0.0) == "proposed"

    st = granted()
    safety_hub_run(st, R, 10.0, 28, 0.0)
    safety_hub_run(st, R, 14.0, 28, 0.0)
    st.permission = "granted"
    assert permission_changed(st, R, 20.0, in_safety_hub=True)
    assert st.revocation_ignored_until == 14.0 + 365.0


def test_a_regrant_after_the_entry_expired_or_any_other_change_buys_nothing() -> None:
    """The revoked entry lives 30 days: a re-grant after that finds none and the site is
    judged afresh. Any other change the user makes (turning it off) deletes the entries,
    an exemption included.

    Sources: ``chromium/chromium``
    ``chrome/browser/ui/safety_hub/disruptive_notification_permissions_manager.cc``
    (``PersistRevocationEntry``: ``kRevoked`` lifetime
    ``GetUnusedSitePermissionsRevocationCleanUpThreshold()``; ``OnPermissionChanged``'s
    other branch clears ``REVOKED_DISRUPTIVE_NOTIFICATION_PERMISSIONS``) and
    ``components/safety_check/safety_check.cc`` (30 days)."""
    st = granted()
    safety_hub_run(st, R, 10.0, 28, 0.0)
    safety_hub_run(st, R, 14.0, 28, 0.0)
    st.permission = "granted"
    assert not permission_changed(st, R, 44.0)
    assert (st.revoked_at, st.revocation_ignored_until) == (None, None)
    assert safety_hub_run(st, R, 45.0, 28, 0.0) == "proposed"

    st = granted()
    safety_hub_run(st, R, 10.0, 28, 0.0)
    safety_hub_run(st, R, 14.0, 28, 0.0)
    st.permission = "granted"
    permission_changed(st, R, 15.0)
    st.permission = "denied"
    assert not permission_changed(st, R, 16.0)
    assert (st.revoked_at, st.revocation_ignored_until, st.revocation_proposed_at) == (
        None, None, None)


def test_revocation_due_is_the_daily_runs_over_a_steady_rate() -> None:
    """The simulator's shortcut, ``revocation_due``, is the daily runs above at each whole
    day, counting the 7 days before each: granted at day 0.5 with 5 notifications a day,
    the run at day 7 counts 32 (average 4) and proposes, day 11 revokes; at day 6 the count
    was 27 (average 3). Below 4 a day, above engagement 0, or while a re-grant's exemption
    lasts, the answer moves or never comes. Sources as the tests above."""
    st = granted()
    assert revocation_due(st, R, 0.5, 5.0, 0.0, math.inf) == 11.0
    assert revocation_due(st, R, 0.5, 3.9, 0.0, math.inf) == math.inf
    assert revocation_due(st, R, 0.5, 5.0, 1.0, math.inf) == math.inf
    assert revocation_due(st, R, 0.5, 5.0, 0.0, 10.0) == math.inf
    st.revoked_at, st.revocation_ignored_until = 0.0, 90.0
    assert revocation_due(st, R, 0.5, 5.0, 0.0, math.inf) == 94.0
    assert st.revocation_ignored_until == 90.0  # the search ran on a copy


# --- WebKit: silent pushes ------------------------------------------------------------------

def test_webkit_removes_the_subscription_at_the_third_silent_push_for_good() -> None:
    """Each push that shows no notification within 30 s counts as silent; shown pushes do
    not lower the count (nothing ever does); the 3rd removes the origin's subscription,
    while the permission stays granted: no push reaches it, and it has no token (no
    reachability code). Declarative Web Push messages show by themselves and never count.

    Sources: ``WebKit/WebKit`` ``Source/WebKit/Shared/WebPushDaemonConstants.h``
    (``maxSilentPushCount = 3``) and
    ``Tools/TestWebKitAPI/Tests/WebKitCocoa/WebPushDaemon.mm``
    (``TooManySilentPushesCausesUnsubscribe``: ``maxSilentPushCount`` pushes without a
    notification, then ``hasPushSubscription()`` is false)."""
    st = granted("safari")
    assert silent_pushes_left(st, R) == 3
    assert not record_push(st, R, shown=False)
    assert not record_push(st, R, shown=True)
    assert not record_push(st, R, shown=False, declarative=True)
    assert not record_push(st, R, shown=False)
    assert (st.silent_pushes, st.push_unsubscribed, silent_pushes_left(st, R)) == (2, False, 1)
    assert delivered(st)
    assert record_push(st, R, shown=False)
    assert (st.silent_pushes, st.push_unsubscribed, st.permission) == (3, True, "granted")
    assert not delivered(st)
    assert silent_pushes_left(st, R) == 0
    assert device_reach(True, True, st.permission, True, st.push_unsubscribed) is None
    assert not record_push(st, R, shown=False)
    assert st.silent_pushes == 3


@pytest.mark.parametrize("field", ["revocation_proposed_at", "revoked_at",
                                   "revocation_ignored_until"])
def test_the_service_answers_the_new_times_as_rfc3339(field: str) -> None:
    """The state's new times go out as RFC 3339 like the others (``sim.wire``)."""
    import msgspec

    from sim.service.schemas import state_view

    st = granted()
    setattr(st, field, 20454.5)
    assert getattr(state_view(st), field) == "2026-01-01T12:00:00Z"
    assert msgspec.json.decode(msgspec.json.encode(st), type=DeviceState).__getattribute__(
        field) == 20454.5
