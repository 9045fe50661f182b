"""The optimizer's candidates in words, and whether a pick sits on the edge of its grid.

A candidate's name (``multiple-l5-g1-s1``) is short for its one campaign; ``describe``
says it as a PM reads it ("up to 5 prompts, 1 day apart, from the 1st session").
``edges`` names the searched values a pick takes at the end of its family's list: the
best may lie beyond the grid, which the output then says.
"""

from __future__ import annotations

from sim.model.search import Family
from sim.rules.config.campaigns import (
    AppOpen,
    Backoff,
    Campaign,
    EveryTime,
    GapList,
    Multiple,
    Once,
    OnEvent,
    SessionTime,
    Trigger,
)
from sim.rules.config.platforms import PLATFORMS


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _days(x: float) -> str:
    return f"{x:g} day" + ("" if x == 1 else "s")


def _trigger(t: Trigger) -> str:
    if isinstance(t, SessionTime):
        return f"after {t.seconds:g} s in a session"
    if isinstance(t, OnEvent):
        return f"on the event {t.name}"
    return "at app open" if isinstance(t, AppOpen) else "when the app asks"


def describe_campaign(c: Campaign) -> str:
    """One campaign in words: how often, how far apart, from which session, on what."""
    f = c.frequency
    if isinstance(f, Once):
        how = "one prompt"
    elif isinstance(f, EveryTime):
        how = "a prompt every time it triggers"
    elif isinstance(f, Multiple):
        how = f"up to {f.limit} prompts, {_days(f.gap_days)} apart"
    elif isinstance(f, Backoff):
        cap = f"up to {f.limit} prompts" if f.limit is not None else "prompts without limit"
        how = f"{cap}, the first gap {_days(f.gap_days)}, each next one x{f.factor:g}"
    elif isinstance(f, GapList):
        waits = ", ".join(_days(g) for g in f.gaps)
        how = f"a prompt until dismissed, then waits of {waits} after each dismissal"
    else:
        how = "prompts"
    words = f"{how}, from the {_ordinal(c.min_sessions)} session, {_trigger(c.trigger)}"
    if not c.primer:
        words += " (no soft prompt: the OS dialog directly)"
    if c.audience.platforms and set(c.audience.platforms) != set(PLATFORMS):
        words = f"{'/'.join(c.audience.platforms)}: {words}"
    return words


def describe(campaigns: tuple[Campaign, ...]) -> str:
    """A strategy's campaigns in words (``; ``-separated)."""
    return "; ".join(describe_campaign(c) for c in campaigns) or "no prompt"


def edges(c: Campaign, family: Family) -> list[str]:
    """The searched values (lists of two or more) that ``c`` takes at their end of
    ``family``'s list, as ``field = value (the largest tried)``."""
    f = c.frequency
    taken: dict[str, float | None] = {"min_sessions": c.min_sessions}
    if isinstance(f, Multiple | Backoff):
        taken |= {"limit": f.limit, "gap_days": f.gap_days}
    if isinstance(f, Backoff):
        taken["factor"] = f.factor
    out = []
    for field, value in taken.items():
        tried: tuple[float, ...] = getattr(family, field)
        if value is None or len(tried) < 2:
            continue
        if value == max(tried):
            out.append(f"{field} = {value:g} (the largest tried)")
        elif value == min(tried) and not (field == "min_sessions" and value == 1) \
                and not (field == "gap_days" and value == 0):
            out.append(f"{field} = {value:g} (the smallest tried)")
    return out
