"""Soft-prompt campaigns as data: triggers, frequency strategies, caps, audience, policy.

Each trigger and frequency kind is a tagged Struct, declared here once; the unions
``Trigger`` and ``Frequency`` list them. The rules that apply them are in
``sim.rules.checks`` (one ``match`` arm per kind), reading the campaign's flattened native
copy (``sim.rules.native``). Build a frequency with the named factories ``once()``,
``every_time()``, ``multiple(limit, gap_days)``, ``backoff(gap_days, factor)`` and
``gap_list(gaps)`` (its built-in preset: ``onesignal_slidedown()``). The same Structs decode
from scenario TOML and from the service's JSON.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from sim.rules.config.platforms import DEFAULT_PROFILES, MAX_DAYS, PLATFORMS

MAX_COUNT = 10_000
"""Largest count a campaign compares with (limits, caps, sessions): more impressions of one
campaign on one install than any app shows. An assumption that bounds input."""
MAX_SESSION_SECONDS = 86_400.0
"""Longest session a trigger may wait for: a day in the foreground. Bounds input."""
MAX_BACKOFF_FACTOR = 10.0
"""Largest backoff growth per dismissal: from a one-day gap, 10 reaches :data:`MAX_DAYS` in
four dismissals. Bounds input."""
MIN_GAP_DAYS = 1 / 86_400
"""Shortest gap ``multiple`` and ``backoff`` take: a second, in days. Bounds input, so that
``MAX_DAYS / gap_days`` stays finite (a subnormal gap made the backoff overflow)."""
MAX_PRIORITY = 1000
"""Priorities rank campaigns; +-1000 leaves room for any ranking. Bounds input."""

PositiveInt = Annotated[int, msgspec.Meta(ge=1, le=MAX_COUNT)]
NonNegative = Annotated[float, msgspec.Meta(ge=0, le=MAX_DAYS)]
"""Days, 0 to ``MAX_DAYS``."""
GapDays = Annotated[float, msgspec.Meta(ge=MIN_GAP_DAYS, le=MAX_DAYS)]
"""A gap between impressions: a second (:data:`MIN_GAP_DAYS`) to ``MAX_DAYS``, in days."""
SessionSeconds = Annotated[float, msgspec.Meta(ge=0, le=MAX_SESSION_SECONDS)]


def id_pattern(max_length: int = 64, at: bool = False) -> str:
    """The one spelling of an id's regex: 1 to ``max_length`` letters, digits or ``_ . : -``
    (and ``@`` with ``at``), not starting with ``.`` (so never ``.`` or ``..``, which URLs
    resolve away)."""
    extra = "@" if at else ""
    return rf"^[A-Za-z0-9_:{extra}-][A-Za-z0-9_.:{extra}-]{{0,{max_length - 1}}}$"


ID_PATTERN = id_pattern()
"""Campaign, strategy and scenario names: 1-64 letters, digits or ``_ . : -``."""
Identifier = Annotated[str, msgspec.Meta(pattern=ID_PATTERN)]
"""A campaign, strategy or scenario name (:data:`ID_PATTERN`)."""

TIME_EPS = 1e-9
"""Tolerance of time comparisons, in days (86 us): Unix seconds / 86,400 is inexact, and a
gap of exactly two days must count as two days."""

TriggerType = Literal["app_open", "session_time", "event", "programmatic"]
SiteReputation = Literal["none", "crowd_deny", "abusive_prompts", "abusive_content",
                         "disruptive"]
"""What Chrome's site reputation list (crowd deny preload data, confirmed by Safe Browsing)
says of the app's site: nothing (``none``), or a reason for Chrome's quiet prompt there
(Chromium ``contextual_notification_permission_ui_selector.cc``)."""


# --- triggers ---------------------------------------------------------------

class AppOpen(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="app_open",
              tag_field="type"):
    """Fires at session start (OneSignal: a new session after 30 s out of focus)."""


class SessionTime(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="session_time",
                  tag_field="type"):
    """Fires once the session has lasted ``seconds``."""

    seconds: SessionSeconds
    """Session length, in seconds, at which it fires."""


class OnEvent(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="event",
              tag_field="type"):
    """Fires on a named user event (``order_placed``): the context raises acceptance."""

    name: Identifier
    """The event's name: in a scenario, ``behaviour.event_name`` or one of ``behaviour.events``."""


class Programmatic(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="programmatic",
                   tag_field="type"):
    """Fired by the app itself (a preference center, a profile screen)."""


Trigger = AppOpen | SessionTime | OnEvent | Programmatic


class TriggerFired(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What happened in the app: the question put to ``decide``."""

    trigger: TriggerType
    event_name: str | None = None
    session_seconds: SessionSeconds | None = None
    cross_origin_iframe: bool = False
    """The web: the request comes from an iframe of another origin than the top-level page
    (Chrome denies it without a prompt)."""
    incognito: bool = False
    """The web: the page is in an incognito window (Chrome denies after a random 1-2 s)."""


# --- frequency strategies -----------------------------------------------------

class Once(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="once",
           tag_field="type"):
    """Show at most once per install."""


class EveryTime(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="every_time",
                tag_field="type"):
    """Show every time the trigger fires."""


class Multiple(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="multiple",
               tag_field="type"):
    """Show up to ``limit`` times, at least ``gap_days`` apart (OneSignal limit + delay)."""

    limit: PositiveInt
    """At most this many impressions."""
    gap_days: GapDays
    """At least this many days between two (at least a second)."""


class Backoff(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="backoff",
              tag_field="type"):
    """A gap that grows by ``factor`` with each dismissal (Toutiao's case study), up to
    ``MAX_DAYS``."""

    gap_days: GapDays
    """The first gap, in days (at least a second)."""
    factor: Annotated[float, msgspec.Meta(ge=1, le=MAX_BACKOFF_FACTOR)] = 2.0
    """The gap is multiplied by this after each dismissal."""
    limit: PositiveInt | None = None
    """At most this many impressions (none: no limit)."""


# --- an explicit list of gaps (issue 24, web) ----------------------------------

ONESIGNAL_SLIDEDOWN_GAPS: tuple[float, ...] = (3.0, 7.0, 30.0)
"""OneSignal's web slidedown back-off: 3 days after the first dismissal, 7 after the second,
30 after each later one, never reset (OneSignal/OneSignal-Website-SDK
``src/shared/helpers/dismiss.ts``, ``markPromptDismissedWithType``)."""
MAX_GAPS = 32
"""Longest list of gaps a ``gap_list`` takes: more dismissals than any schedule spells out
(the last gap repeats). Bounds input."""


class GapList(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="gap_list",
              tag_field="type"):
    """After the n-th dismissal, wait ``gaps[n - 1]`` days from that dismissal (the last gap
    for every later one); before any dismissal, no wait. The count is never reset (only a
    reinstall or cleared data that resets the campaign counters starts it again).

    Its default is the built-in preset :data:`ONESIGNAL_SLIDEDOWN_GAPS` (OneSignal's web
    slidedown: 3, 7, then 30 days)."""

    gaps: Annotated[tuple[GapDays, ...], msgspec.Meta(min_length=1, max_length=MAX_GAPS)] = (
        ONESIGNAL_SLIDEDOWN_GAPS)
    """Days to wait after the 1st, 2nd, ... dismissal; the last repeats."""


Frequency = Once | EveryTime | Multiple | Backoff | GapList


def once() -> Once:
    """Only once per install."""
    return Once()


def every_time() -> EveryTime:
    """Every time the trigger fires."""
    return EveryTime()


def multiple(limit: int, gap_days: float) -> Multiple:
    """At most ``limit`` times, ``gap_days`` apart."""
    return msgspec.convert({"limit": limit, "gap_days": gap_days}, Multiple)


def backoff(gap_days: float, factor: float = 2.0, limit: int | None = None) -> Backoff:
    """A gap of ``gap_days * factor ** dismissals`` (at most ``MAX_DAYS``)."""
    return msgspec.convert({"gap_days": gap_days, "factor": factor, "limit": limit}, Backoff)


def gap_list(gaps: tuple[float, ...] | list[float]) -> GapList:
    """``gaps[n - 1]`` days after the n-th dismissal (the last gap repeats)."""
    return msgspec.convert({"gaps": list(gaps)}, GapList)


def onesignal_slidedown() -> GapList:
    """The built-in preset: OneSignal's web slidedown back-off (3, 7, then 30 days after each
    dismissal, never reset; :data:`ONESIGNAL_SLIDEDOWN_GAPS`)."""
    return GapList()


# --- campaigns ----------------------------------------------------------------

class Caps(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Caps per session, per day and in total (AWS Pinpoint)."""

    per_session: PositiveInt | None = None
    """At most this many impressions in one session."""
    per_day: PositiveInt | None = None
    """At most this many impressions in one day."""
    total: PositiveInt | None = None
    """At most this many impressions per install."""


Action = Literal["push_permission_prompt", "open_settings", "message"]


def _one_of(names: tuple[str, ...] | list[str]) -> msgspec.Meta:
    return msgspec.Meta(pattern=f"^({'|'.join(names)})$",
                        description=f"one of: {', '.join(names)}")


PlatformName = Annotated[str, _one_of(PLATFORMS)]
ProfileName = Annotated[str, _one_of(list(DEFAULT_PROFILES))]


class Audience(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Which devices a campaign is for: platforms and OS profiles (empty: every device).

    Vendors target an audience (OneSignal, Braze, MoEngage); here by what the device
    reports about itself, so one policy can run a different schedule per platform.
    """

    platforms: Annotated[tuple[PlatformName, ...], msgspec.Meta(max_length=32)] = ()
    """Only devices on these platforms (ios, android, huawei, amazon, web)."""
    profiles: Annotated[tuple[ProfileName, ...], msgspec.Meta(max_length=64)] = ()
    """Only devices on these OS profiles (``android13``, ``chrome``...)."""

EVERYONE = Audience()


class Campaign(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One in-app message: the push soft prompt, or another message it competes with.

    ``action = "message"`` is any other in-app message (it only competes for the
    slot). ``primer = False`` models apps that open the OS dialog directly when
    the trigger fires, with no soft prompt (the cold baseline).
    """

    id: Identifier
    """The campaign's id, unique in its policy (the service's ``PUT /v1/campaigns/{id}``)."""
    trigger: Trigger = AppOpen()
    """What in the app asks whether to show it."""
    frequency: Frequency = Once()
    """How often it may show to one install."""
    action: Action = "push_permission_prompt"
    """What its button does: the push permission prompt (the OS dialog, or settings once the
    dialog is gone), settings directly, or another in-app message."""
    priority: Annotated[int, msgspec.Meta(ge=-MAX_PRIORITY, le=MAX_PRIORITY)] = 0
    """Higher wins when several campaigns could show on one trigger."""
    min_delay_days: NonNegative = 0.0
    """Minimum delay between two impressions of this campaign (MoEngage, Pushwoosh)."""
    caps: Caps = Caps()
    """Caps per session, per day and in total."""
    min_sessions: PositiveInt = 1
    """Show from this session of the install on (1 = the first)."""
    fallback_to_settings: bool = True
    """When the OS dialog is gone, the button opens notification settings instead."""
    primer: bool = True
    """False: the trigger opens the OS dialog directly, no soft prompt (the cold baseline)."""
    audience: Audience = EVERYONE
    """The devices it is for (default: all); the others never see it."""

    @property
    def is_permission(self) -> bool:
        """Whether this campaign is about push permission (critical-functional)."""
        return self.action != "message"


class PolicySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The rules between an app's campaigns: every ``Policy`` field but the campaigns (what
    the service's ``PUT /v1/settings`` takes besides its platform overrides)."""

    min_spacing_seconds: Annotated[float, msgspec.Meta(ge=0, le=MAX_DAYS * 86_400)] = 0.0
    """Minimum time between any two in-app messages (Braze: 30 s)."""
    permission_first: bool = True
    """Permission campaigns win over other messages on the same trigger (MoEngage)."""
    provisional_on_install: bool = False
    """iOS: ask for provisional authorization at install, no dialog."""
    reset_on_reinstall: bool = True
    """A reinstall (or cleared data) starts the campaign counters from zero."""
    site_reputation: SiteReputation = "none"
    """Chrome: what its site reputation list says of the app's web origin. Every reason but
    ``none`` makes Chrome show its quiet prompt there; for ``crowd_deny`` only, Chrome shows
    the loud one instead with the chance ``PlatformProfile.crowd_deny_hold_back`` (its
    control group), a draw the page cannot see."""


def policy_settings(p: PolicySettings) -> dict[str, Any]:
    """The :class:`PolicySettings` fields of ``p`` (a ``Policy``, a scenario's strategy, the
    service's settings), by name."""
    return {f: getattr(p, f) for f in PolicySettings.__struct_fields__}


class Policy(PolicySettings, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """An app's in-app messaging setup: its campaigns and the rules between them."""

    campaigns: tuple[Campaign, ...] = ()
    """The app's in-app messages: the push soft prompt and those it competes with."""

    def __post_init__(self) -> None:
        ids = [c.id for c in self.campaigns]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"campaigns: duplicate id {sorted(dup)[0]!r}")

        # Kept in the order ``decide`` considers them: the winner comes first.
        def key(c: Campaign) -> tuple[int, int, str]:
            first = 0 if (self.permission_first and c.is_permission) else 1
            return (first, -c.priority, c.id)
        msgspec.structs.force_setattr(self, "campaigns", tuple(sorted(self.campaigns, key=key)))

    def campaign(self, campaign_id: str) -> Campaign | None:
        """The campaign with this id, if any."""
        return next((c for c in self.campaigns if c.id == campaign_id), None)
