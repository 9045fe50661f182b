"""The search space of ``promptsim optimize``: families of candidate schedules, as data.

A scenario's ``[search]`` lists families (``[[search.families]]``); each is one
frequency type with lists of values, and its candidates are every combination
of them (trigger x limit x gap x factor x min_sessions). Candidates are named
after their values (``multiple-l3-g7-s2``) and join the scenario's own
strategies in the race; each family is one colour in the front figure.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any

import msgspec

from sim.rules.config.campaigns import (
    MAX_BACKOFF_FACTOR,
    AppOpen,
    Campaign,
    Identifier,
    NonNegative,
    OnEvent,
    PositiveInt,
    SessionTime,
    Trigger,
)

FREQUENCIES = ("once", "every_time", "multiple", "backoff")
"""Frequency types a family can search."""
USES: dict[str, tuple[str, ...]] = {
    "once": (),
    "every_time": (),
    "multiple": ("limit", "gap_days"),
    "backoff": ("gap_days", "factor", "limit"),
}
"""The lists each frequency type takes (besides ``trigger`` and ``min_sessions``)."""
REQUIRED: dict[str, tuple[str, ...]] = {"multiple": ("limit", "gap_days"),
                                        "backoff": ("gap_days",)}
Factor = Annotated[float, msgspec.Meta(ge=1, le=MAX_BACKOFF_FACTOR)]


class Family(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Candidates of one frequency type: every combination of the listed values."""

    name: Identifier
    """The family's name: the prefix of its candidates' names and one colour in the figure."""
    frequency: str
    """One of once, every_time, multiple, backoff."""
    primer: bool = True
    """False: no soft prompt, the trigger opens the OS dialog directly (the cold baseline)."""
    trigger: Annotated[tuple[Trigger, ...], msgspec.Meta(min_length=1, max_length=10)] = (
        AppOpen(),)
    """Triggers to try, as campaigns take them (``{ type = "session_time", seconds = 30 }``)."""
    limit: Annotated[tuple[PositiveInt, ...], msgspec.Meta(max_length=50)] = ()
    """Most impressions per install (multiple: required; backoff: none when empty)."""
    gap_days: Annotated[tuple[NonNegative, ...], msgspec.Meta(max_length=50)] = ()
    """Days between impressions (multiple), or the first gap (backoff, > 0)."""
    factor: Annotated[tuple[Factor, ...], msgspec.Meta(max_length=50)] = ()
    """Backoff growth of the gap per dismissal (default 2)."""
    min_sessions: Annotated[tuple[PositiveInt, ...], msgspec.Meta(min_length=1,
                                                                  max_length=50)] = (1,)
    """Show from this session of the install on."""


class Search(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What ``promptsim optimize`` searches and how much it simulates (``[search]``)."""

    families: Annotated[tuple[Family, ...], msgspec.Meta(min_length=1)]
    """The families of candidate schedules (``[[search.families]]``), each a frequency type
    with lists of values whose product gives its candidates."""
    replications: Annotated[int, msgspec.Meta(ge=2, le=1000)] = 12
    """Full precision: the replications every finalist gets (``--budget`` overrides)."""
    first_round: Annotated[int, msgspec.Meta(ge=2, le=1000)] = 4
    """Replications of every candidate before the first elimination; each later round
    doubles the replications, up to ``replications``."""
    confidence: Annotated[float, msgspec.Meta(gt=0.5, lt=1)] = 0.95
    """Chance that the racing never drops the best candidate of a platform (family-wise,
    Bonferroni over every comparison of every round; see docs/optimize.md)."""
    per_platform: bool = True
    """Pick a schedule per platform (ios, android, huawei, amazon, web), else one for all."""


def _num(x: float) -> str:
    return f"{x:g}".replace(".", "p")


def _trigger_tag(t: Trigger) -> str:
    if isinstance(t, SessionTime):
        return f"t{_num(t.seconds)}s"
    if isinstance(t, OnEvent):
        return f"ev.{t.name}"
    return "open" if isinstance(t, AppOpen) else "prog"


def check_family(f: Family, where: str) -> None:
    """Raise ``ValueError`` naming the field if ``f`` lists what its frequency does not take."""
    if f.frequency not in FREQUENCIES:
        raise ValueError(f"{where}.frequency: {f.frequency!r} is not one of "
                         f"{', '.join(FREQUENCIES)}")
    uses = USES[f.frequency]
    for field in ("limit", "gap_days", "factor"):
        if getattr(f, field) and field not in uses:
            allowed = ", ".join(("trigger", "min_sessions", "primer", *uses))
            raise ValueError(f"{where}.{field}: not used by frequency {f.frequency!r}; its "
                             f"lists are {allowed}")
    for field in REQUIRED.get(f.frequency, ()):
        if not getattr(f, field):
            raise ValueError(f"{where}.{field}: frequency {f.frequency!r} needs a list of "
                             f"values")
    if f.frequency == "backoff" and any(g <= 0 for g in f.gap_days):
        raise ValueError(f"{where}.gap_days: backoff gaps must be > 0")
    for field in ("trigger", "limit", "gap_days", "factor", "min_sessions"):
        values = getattr(f, field)
        if len(set(values)) != len(values):
            raise ValueError(f"{where}.{field}: a value is listed twice")


def family_campaigns(f: Family) -> list[tuple[str, Campaign]]:
    """Every candidate of ``f``: (name, its one campaign, id ``soft``)."""
    several_triggers = len(f.trigger) > 1
    out = []
    limits: tuple[int | None, ...] = f.limit or (None,)
    factors: tuple[float | None, ...] = f.factor or (None,)
    gaps: tuple[float | None, ...] = f.gap_days or (None,)
    for trig, limit, gap, factor, sessions in itertools.product(
            f.trigger, limits, gaps, factors, f.min_sessions):
        parts = [f.name]
        if several_triggers:
            parts.append(_trigger_tag(trig))
        freq: dict[str, Any] = {"type": f.frequency}
        if f.frequency == "multiple":
            freq |= {"limit": limit, "gap_days": gap}
            parts += [f"l{limit}", f"g{_num(gap or 0)}"]
        elif f.frequency == "backoff":
            freq |= {"gap_days": gap, "factor": factor or 2.0}
            parts += [f"g{_num(gap or 0)}", f"x{_num(factor or 2.0)}"]
            if limit is not None:
                freq["limit"] = limit
                parts.append(f"l{limit}")
        if len(f.min_sessions) > 1 or sessions != 1:
            parts.append(f"s{sessions}")
        camp = msgspec.convert({"id": "soft", "frequency": freq, "min_sessions": sessions,
                                "primer": f.primer}, Campaign)
        out.append(("-".join(parts), msgspec.structs.replace(camp, trigger=trig)))
    return out
