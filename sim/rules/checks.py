"""What a campaign allows now: its trigger, its audience and its frequency, as functions.

A campaign's parts are msgspec Structs (``sim.rules.config.campaigns``: scenarios and the
service's API decode them); these rules read the campaign's native, flattened copy
(``sim.rules.native.CampaignRules``, generated from the Structs), apart so that mypyc
compiles them (``sim.COMPILED``). ``decide`` and ``next_chance`` (``sim.rules.decision``)
call them.

Each dispatch on a kind is a ``match`` with one arm per kind and ``assert_never`` for the
rest: a kind added to ``Trigger`` or ``Frequency`` (and to the generated copy) is a mypy
error here until its arms are written.
"""

from __future__ import annotations

import math
from typing import Final, assert_never

from sim.rules.config.campaigns import TIME_EPS, TriggerFired
from sim.rules.config.platforms import MAX_DAYS
from sim.rules.native import NO_LIMIT, CampaignRules, ProfileRules
from sim.rules.state import CampaignCounters


def trigger_matches(c: CampaignRules, fired: TriggerFired) -> bool:
    """Whether the campaign's trigger is met by what fired."""
    kind = c.trigger
    match kind:
        case "app_open":
            return fired.trigger == "app_open"
        case "session_time":
            seconds = fired.session_seconds
            return (fired.trigger == "session_time" and seconds is not None
                    and seconds >= c.trigger_seconds)
        case "event":
            return fired.trigger == "event" and fired.event_name == c.trigger_name
        case "programmatic":
            return fired.trigger == "programmatic"
        case _:
            assert_never(kind)


def in_audience(c: CampaignRules, profile: ProfileRules) -> bool:
    """Whether a device on ``profile`` is in the campaign's audience."""
    if c.audience_platforms and profile.platform not in c.audience_platforms:
        return False
    return not c.audience_profiles or profile.name in c.audience_profiles


_MAX_GROWTH: Final = 700.0
"""``log`` of the largest ``factor ** dismissed`` ever computed: e ** 700 is about 1e304, below
the largest float. With a gap of at least a second (``MIN_GAP_DAYS``), the cap is reached
at ``log(MAX_DAYS / gap_days)``, at most 19.6, long before."""


def backoff_gap(c: CampaignRules, dismissed: int) -> float:
    """``gap_days * factor ** dismissed``, at most ``MAX_DAYS``.

    It cannot overflow: the power is computed only while ``dismissed * log(factor)`` is below
    ``log(MAX_DAYS / gap_days)`` (finite: a gap is at least a second) and below
    :data:`_MAX_GROWTH`; past either, the gap is ``MAX_DAYS``. It never shrinks with another
    dismissal (``factor >= 1``)."""
    if c.frequency_factor == 1.0 or dismissed <= 0:
        return c.frequency_gap_days
    cap = min(_MAX_GROWTH, math.log(MAX_DAYS / c.frequency_gap_days))
    if dismissed * math.log(c.frequency_factor) >= cap:
        return MAX_DAYS
    return min(MAX_DAYS, c.frequency_gap_days * c.frequency_factor ** dismissed)


def _limited(c: CampaignRules, n: CampaignCounters) -> bool:
    """Whether ``multiple`` or ``backoff`` reached its limit of impressions."""
    return c.frequency_limit != NO_LIMIT and n.shown >= c.frequency_limit


def listed_gap(c: CampaignRules, dismissed: int) -> float:
    """``gap_list``: the gap after the ``dismissed``-th dismissal, ``gaps[dismissed - 1]`` (the
    last one for every later dismissal); ``-inf`` before the first."""
    gaps = c.frequency_gaps
    if dismissed <= 0 or not gaps:
        return -math.inf
    return gaps[min(dismissed, len(gaps)) - 1]


def _gap(c: CampaignRules, n: CampaignCounters) -> tuple[float, float | None] | None:
    """The gap the frequency asks for and the time it counts from (``None``: no wait; a gap
    of ``-inf``: none, even for a client clock that went back); ``None``: never again.
    ``gap_list`` counts from the last dismissal, the others from the last impression."""
    kind = c.frequency
    match kind:
        case "once":
            return None if n.shown >= 1 else (-math.inf, None)
        case "every_time":
            return -math.inf, None
        case "multiple":
            return None if _limited(c, n) else (c.frequency_gap_days, n.last_shown_at)
        case "backoff":
            return None if _limited(c, n) else (backoff_gap(c, n.dismissed), n.last_shown_at)
        case "gap_list":
            return listed_gap(c, n.dismissed), n.last_dismissed_at
        case _:
            assert_never(kind)


def frequency_check(c: CampaignRules, n: CampaignCounters, now: float) -> str | None:
    """Why the campaign's frequency rule keeps it from showing at ``now``, or ``None``."""
    wait = _gap(c, n)
    if wait is None:
        return "frequency_limit"
    gap, since = wait
    if since is not None and now - since < gap - TIME_EPS:
        return "gap_not_elapsed"
    return None


def next_allowed(c: CampaignRules, n: CampaignCounters) -> float | None:
    """The earliest time ``frequency_check`` can pass again; ``None`` for never."""
    wait = _gap(c, n)
    if wait is None:
        return None
    gap, since = wait
    return -math.inf if since is None else since + gap - TIME_EPS
