"""What a platform does after opt-in: the rules that take delivery or permission away.

Two browsers act on what a site sends (``sim.rules.sending`` holds the rules, section 4 of
``docs/platform-rules.md`` their sources): Chrome's Safety Hub revokes the permission of a
site that sends many notifications to a user who does not visit it, and WebKit removes the
push subscription of a site whose pushes show no notification. Android's hibernation, the
third, is a profile setting (``PlatformProfile.hibernation_days``). Where Chromium's
versions disagree the number is a field here, with the default and the other readings in
``docs/platform-settings.md``.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from sim.rules.config.platforms import MAX_DAYS, MAX_THRESHOLD

Days = Annotated[float, msgspec.Meta(ge=0, le=MAX_DAYS)]
Threshold = Annotated[int, msgspec.Meta(ge=1, le=MAX_THRESHOLD)]

CHROME_REVOKES: Final = frozenset({"chrome", "chrome_quiet"})
"""Profiles whose browser runs Safety Hub's disruptive-notification revocation."""
WEBKIT_PENALISES: Final = frozenset({"safari", "safari_ios_webapp"})
"""Profiles whose browser removes a subscription after silent pushes (WebKit's webpushd)."""


class ChromeRevocation(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Chrome's Safety Hub revocation of disruptive notifications (Chromium
    ``chrome/browser/ui/safety_hub/disruptive_notification_permissions_manager.cc`` and the
    ``kSafetyHubDisruptiveNotificationRevocation`` feature parameters)."""

    enabled: bool = True
    """Whether the daily run revokes. On by default on Android (``FEATURE_ENABLED_BY_DEFAULT``
    under ``IS_ANDROID``); off is the desktop reading of that version."""
    min_daily_average: Threshold = 4
    """``min_notification_count``: the 7-day daily average (an integer division) of
    notifications shown that makes a site disruptive (Android 4; a later desktop reading 6)."""
    max_engagement: Annotated[float, msgspec.Meta(ge=0, le=100)] = 0.0
    """``max_engagement_score``: the site engagement score at or below which it is."""
    waiting_days: Days = 4.0
    """``waiting_time_as_proposed``: days a site stays proposed, still disruptive, before the
    run revokes it (Android 4; a later desktop reading 14)."""
    metrics_days: Days = 1.0
    """``waiting_for_metrics_days``: a proposal is at least this old before a revocation
    (unless its metrics were reported, which is not modelled)."""
    ignore_days: Days = 90.0
    """``kIgnoreExpirationOutsideSafetyHub``: a re-grant outside Safety Hub keeps the site
    from being revoked again until this long after the revocation."""
    ignore_days_safety_hub: Days = 365.0
    """``kIgnoreExpirationInsideSafetyHub``: the same for a re-grant inside Safety Hub."""
    cleanup_days: Days = 30.0
    """``GetUnusedSitePermissionsRevocationCleanUpThreshold`` (``components/safety_check``):
    a proposed or revoked entry expires this long after its time; a re-grant after that
    finds no entry and buys no immunity."""


class WebKitSilentPush(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """WebKit's penalty for pushes that show nothing (``WebPushDaemonConstants.h``)."""

    max_silent: Threshold = 3
    """``maxSilentPushCount``: the silent push at which the origin's subscription is removed;
    the count never decreases. A push is silent when no notification shows within 30 s;
    Declarative Web Push messages are never silent."""


class DeliveryRules(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The browsers' rules after opt-in (a scenario's ``[sending.rules]``)."""

    chrome: ChromeRevocation = msgspec.field(default_factory=ChromeRevocation)
    """Chrome's disruptive-notification revocation (profiles ``CHROME_REVOKES``)."""
    webkit: WebKitSilentPush = msgspec.field(default_factory=WebKitSilentPush)
    """WebKit's silent-push penalty (profiles ``WEBKIT_PENALISES``)."""
