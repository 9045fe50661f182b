"""What a campaign allows now: its trigger, its audience and its frequency, as functions.

A campaign's parts are msgspec Structs (``sim.rules.config.campaigns``: scenarios and the service's
API decode them); these rules read the campaign's native, flattened copy
(``sim.rules.native.CampaignRules``), apart so that mypyc compiles them (``sim.COMPILED``;
it cannot compile a module that defines a Struct). ``decide`` and ``next_chance``
(``sim.rules.decision``) call them.
"""

from __future__ import annotations

import math

from sim.rules.config.campaigns import TIME_EPS, TriggerFired
from sim.rules.config.platforms import MAX_DAYS
from sim.rules.native import NO_LIMIT, CampaignRules, ProfileRules
from sim.rules.state import CampaignCounters


def trigger_matches(c: CampaignRules, fired: TriggerFired) -> bool:
    """Whether the campaign's trigger is met by what fired."""
    kind = c.trigger
    if kind == "app_open":
        return fired.trigger == "app_open"
    if kind == "session_time":
        seconds = fired.session_seconds
        return (fired.trigger == "session_time" and seconds is not None
                and seconds >= c.trigger_seconds)
    if kind == "event":
        return fired.trigger == "event" and fired.event_name == c.trigger_event
    return fired.trigger == "programmatic"


def in_audience(c: CampaignRules, profile: ProfileRules) -> bool:
    """Whether a device on ``profile`` is in the campaign's audience."""
    if c.platforms and profile.platform not in c.platforms:
        return False
    return not c.profiles or profile.name in c.profiles


def backoff_gap(c: CampaignRules, dismissed: int) -> float:
    """``gap_days * factor ** dismissed``, at most ``MAX_DAYS`` (never an overflow)."""
    if c.factor == 1.0 or dismissed <= 0:
        return c.gap_days
    if dismissed * math.log(c.factor) >= math.log(MAX_DAYS / c.gap_days):
        return MAX_DAYS
    return min(MAX_DAYS, c.gap_days * c.factor ** dismissed)


def _gap(c: CampaignRules, n: CampaignCounters) -> float | None:
    """The gap ``multiple`` or ``backoff`` asks for after the last impression; ``None`` once
    its limit is reached."""
    if c.limit != NO_LIMIT and n.shown >= c.limit:
        return None
    return c.gap_days if c.frequency == "multiple" else backoff_gap(c, n.dismissed)


def frequency_check(c: CampaignRules, n: CampaignCounters, now: float) -> str | None:
    """Why the campaign's frequency rule keeps it from showing at ``now``, or ``None``."""
    kind = c.frequency
    if kind == "once":
        return "frequency_limit" if n.shown >= 1 else None
    if kind == "every_time":
        return None
    gap = _gap(c, n)
    if gap is None:
        return "frequency_limit"
    if n.last_shown_at is not None and now - n.last_shown_at < gap - TIME_EPS:
        return "gap_not_elapsed"
    return None


def next_allowed(c: CampaignRules, n: CampaignCounters) -> float | None:
    """The earliest time ``frequency_check`` can pass again; ``None`` for never."""
    kind = c.frequency
    if kind == "once":
        return None if n.shown >= 1 else -math.inf
    if kind == "every_time":
        return -math.inf
    gap = _gap(c, n)
    if gap is None:
        return None
    return -math.inf if n.last_shown_at is None else n.last_shown_at + gap - TIME_EPS
