"""What a campaign allows now: its trigger, its audience and its frequency, as functions.

A campaign's parts are msgspec Structs (``sim.rules.campaigns``: scenarios and the service's
API decode them); these are the rules over them, apart so that mypyc compiles them
(``sim.COMPILED``; it cannot compile a module that defines a Struct). ``decide`` and
``next_chance`` (``sim.rules.decision``) call them.
"""

from __future__ import annotations

import math

from sim.rules.campaigns import (
    TIME_EPS,
    AppOpen,
    Audience,
    Backoff,
    EveryTime,
    Frequency,
    Multiple,
    Once,
    OnEvent,
    SessionTime,
    Trigger,
    TriggerFired,
)
from sim.rules.platforms import MAX_DAYS, PlatformProfile
from sim.rules.state import CampaignCounters


def trigger_matches(trigger: Trigger, fired: TriggerFired) -> bool:
    """Whether a campaign's trigger is met by what fired."""
    if isinstance(trigger, AppOpen):
        return fired.trigger == "app_open"
    if isinstance(trigger, SessionTime):
        return (fired.trigger == "session_time" and fired.session_seconds is not None
                and fired.session_seconds >= trigger.seconds)
    if isinstance(trigger, OnEvent):
        return fired.trigger == "event" and fired.event_name == trigger.name
    return fired.trigger == "programmatic"


def in_audience(audience: Audience, profile: PlatformProfile) -> bool:
    """Whether a device on ``profile`` is in the audience."""
    if audience.platforms and profile.platform not in audience.platforms:
        return False
    return not audience.profiles or profile.name in audience.profiles


def backoff_gap(f: Backoff, dismissed: int) -> float:
    """``gap_days * factor ** dismissed``, at most ``MAX_DAYS`` (never an overflow)."""
    if f.factor == 1.0 or dismissed <= 0:
        return f.gap_days
    if dismissed * math.log(f.factor) >= math.log(MAX_DAYS / f.gap_days):
        return MAX_DAYS
    return min(MAX_DAYS, f.gap_days * f.factor ** dismissed)


def _gap(f: Multiple | Backoff, c: CampaignCounters) -> float | None:
    """The gap ``f`` asks for after the last impression; ``None`` once its limit is reached."""
    if isinstance(f, Multiple):
        return None if c.shown >= f.limit else f.gap_days
    if f.limit is not None and c.shown >= f.limit:
        return None
    return backoff_gap(f, c.dismissed)


def frequency_check(f: Frequency, c: CampaignCounters, now: float) -> str | None:
    """Why the frequency rule ``f`` keeps the campaign from showing at ``now``, or ``None``."""
    if isinstance(f, Once):
        return "frequency_limit" if c.shown >= 1 else None
    if isinstance(f, EveryTime):
        return None
    gap = _gap(f, c)
    if gap is None:
        return "frequency_limit"
    if c.last_shown_at is not None and now - c.last_shown_at < gap - TIME_EPS:
        return "gap_not_elapsed"
    return None


def next_allowed(f: Frequency, c: CampaignCounters) -> float | None:
    """The earliest time ``frequency_check`` can pass again; ``None`` for never."""
    if isinstance(f, Once):
        return None if c.shown >= 1 else -math.inf
    if isinstance(f, EveryTime):
        return -math.inf
    gap = _gap(f, c)
    if gap is None:
        return None
    return -math.inf if c.last_shown_at is None else c.last_shown_at + gap - TIME_EPS
