"""The app's sending (a scenario's ``[sending]``): what reaches an opted-in device, per segment.

Without ``[sending]`` nothing after opt-in depends on what the app sends (the model before
it, and the golden run). With it, each opted-in device receives ``pushes_per_day`` pushes,
a share ``silent_share`` of them showing no notification, and three things follow:

- Chrome's Safety Hub may revoke the permission of a site that shows many notifications to
  a user who does not engage with it (``sim.rules.sending``, ``site_engagement``);
- WebKit removes the subscription of a site whose pushes show nothing, unless it sends
  Declarative Web Push (``declarative_web_push``);
- users turn notifications off as the volume grows (:func:`stated_disable_share`).

Android's hibernation stops delivery whatever the app sends (``PlatformProfile``). A
strategy may carry its own ``sending`` (``scenarios/sending.toml``: one prompt schedule
with 1 and with 5 pushes a day). The segments are ``Behaviour.segments``'s names.
"""

from __future__ import annotations

import itertools
from typing import Annotated

import msgspec

from sim.model.behaviour import Behaviour
from sim.rules.config.delivery import DeliveryRules
from sim.rules.native import DeliveryRulesNative

Probability = Annotated[float, msgspec.Meta(ge=0, le=1)]
PerDay = Annotated[float, msgspec.Meta(ge=0, le=1000)]
Engagement = Annotated[float, msgspec.Meta(ge=0, le=100)]
"""Chrome's site engagement score, 0 to 100."""
DelayDays = Annotated[float, msgspec.Meta(gt=0, le=3650)]

STATED_DISABLE: tuple[tuple[float, float], ...] = (
    (0.0, 0.0), (1.0, 0.10), (5.0, 0.47), (10.0, 0.80))
"""(pushes a week, share of users who say that volume makes them turn an app's
notifications off), cumulative: Localytics' 2017 survey of 1,000 US smartphone users
(reported by MarketingProfs, 2018): 10% at one a week, 37% more at 2-5, 33% more at 6-10.
The remaining 20% answered more than 10 or never, so the share stays at 80% above 10."""


def stated_disable_share(per_week: float) -> float:
    """The share of users who say ``per_week`` pushes make them turn notifications off
    (:data:`STATED_DISABLE`), linear inside a bin of the survey (an assumption)."""
    pts = STATED_DISABLE
    if per_week <= pts[0][0]:
        return pts[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        if per_week <= x1:
            return y0 + (y1 - y0) * (per_week - x0) / (x1 - x0)
    return pts[-1][1]


class SegmentSending(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One segment's sending, where it differs from the table's (``[sending.segments.loyal]``);
    a field left out is the table's."""

    pushes_per_day: PerDay | None = None
    """Pushes sent a day to each of the segment's devices that receive them."""
    silent_share: Probability | None = None
    """Share of them that show no notification."""
    declarative_web_push: bool | None = None
    """Whether the site sends them as Declarative Web Push."""
    site_engagement: Engagement | None = None
    """Chrome's site engagement score of the segment's users (0-100)."""


class Sending(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What the app sends to its opted-in devices, and how they answer the volume."""

    pushes_per_day: PerDay = 1.0
    """Pushes sent a day to each device that receives them (the team knows it)."""
    silent_share: Probability = 0.0
    """Share of the pushes that show no notification (web: a push whose service worker
    shows none within 30 s; WebKit counts it, Chrome does not count it as shown)."""
    declarative_web_push: bool = False
    """The site sends Declarative Web Push (Safari 18.4+): WebKit shows the notification
    itself, so no push is silent and there is no penalty."""
    site_engagement: Engagement = 0.0
    """Chrome's site engagement score of the users (0-100). Default 0 (assumption, range
    0-100): a user who no longer visits the site, whose score Chrome lets decay to 0; give an
    engaged segment a higher one (``segments``). Safety Hub revokes only at 0 by default."""
    segments: dict[str, SegmentSending] = msgspec.field(default_factory=dict)
    """Per engagement segment (``behaviour.segments`` names), what differs."""
    volume_opt_out_scale: Probability = 1.0
    """The share of the users who say the volume makes them turn notifications off
    (:func:`stated_disable_share`, Localytics 2017) who do, beyond those who do at the
    calibration's volume (``behaviour.pushes_per_week``, which the opt-out hazard already
    holds). Default 1 (assumption, range 0.25-1): said and done alike; a stated intention
    may overstate the act."""
    volume_opt_out_delay_days: DelayDays = 14.0
    """Mean days (exponential) from opting in to turning notifications off for the volume
    (assumption, range 3-60: the survey asks about pushes a week, so about two weeks)."""
    rules: DeliveryRules = msgspec.field(default_factory=DeliveryRules)
    """The browsers' rules after opt-in (``sim.rules.config.delivery``)."""


class SendingPlan:
    """A ``Sending`` resolved per segment, as a life reads it (index: the segment)."""

    __slots__ = ("declarative", "delay_days", "engagement", "extra_opt_out", "per_day",
                 "rules", "shown_per_day", "silent_per_day")

    def __init__(self, sending: Sending, behaviour: Behaviour) -> None:
        names = [s.name for s in behaviour.segments]
        self.per_day: list[float] = []
        """Pushes a day."""
        self.shown_per_day: list[float] = []
        """Pushes a day that show a notification."""
        self.silent_per_day: list[float] = []
        """Pushes a day that show none."""
        self.declarative: list[bool] = []
        self.engagement: list[float] = []
        self.extra_opt_out: list[float] = []
        """Share of the opted-in devices that turn notifications off for the volume."""
        base = stated_disable_share(behaviour.pushes_per_week)
        for name in names:
            seg = sending.segments.get(name, SegmentSending())
            per_day = sending.pushes_per_day if seg.pushes_per_day is None \
                else seg.pushes_per_day
            silent = sending.silent_share if seg.silent_share is None else seg.silent_share
            self.per_day.append(per_day)
            self.shown_per_day.append(per_day * (1.0 - silent))
            self.silent_per_day.append(per_day * silent)
            self.declarative.append(sending.declarative_web_push
                                    if seg.declarative_web_push is None
                                    else seg.declarative_web_push)
            self.engagement.append(sending.site_engagement if seg.site_engagement is None
                                   else seg.site_engagement)
            said = stated_disable_share(7.0 * per_day * (1.0 - silent))
            self.extra_opt_out.append(sending.volume_opt_out_scale * max(0.0, said - base))
        self.delay_days = sending.volume_opt_out_delay_days
        self.rules = DeliveryRulesNative(sending.rules)


def sending_plan(sending: Sending | None, behaviour: Behaviour) -> SendingPlan | None:
    """``sending`` resolved per segment (``None`` stays ``None``: no sending)."""
    return None if sending is None else SendingPlan(sending, behaviour)


def check_sending(sending: Sending, behaviour: Behaviour, where: str) -> None:
    """``segments`` names segments of the behaviour (``ValueError`` naming ``where``)."""
    names = [s.name for s in behaviour.segments]
    for name in sending.segments:
        if name not in names:
            raise ValueError(f"{where}.segments: unknown segment {name!r}; allowed: "
                             f"{', '.join(names)}")
