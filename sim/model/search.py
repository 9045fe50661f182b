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
from msgspec import inspect as mi

from sim.msgspec_paths import split
from sim.rules.config.campaigns import (
    AppOpen,
    Backoff,
    Campaign,
    Frequency,
    Identifier,
    NonNegative,
    OnEvent,
    PositiveInt,
    SessionTime,
    Trigger,
)


def _kinds() -> dict[str, tuple[mi.Field, ...]]:
    union = mi.type_info(Frequency)
    assert isinstance(union, mi.UnionType)
    return {str(m.tag): m.fields for m in union.types if isinstance(m, mi.StructType)}


KINDS = _kinds()
"""The fields of each frequency type, read from ``Frequency``'s tagged Structs."""
FREQUENCIES = tuple(KINDS)
"""Frequency types a family can search: the tags of ``Frequency``."""
SEARCHED = ("limit", "gap_days", "factor")
"""The frequency fields a family lists values of. ``gap_list``'s ``gaps`` is not one: a
``gap_list`` family runs its default, the OneSignal slidedown preset."""
USES: dict[str, tuple[str, ...]] = {
    k: tuple(f.name for f in fs if f.name in SEARCHED) for k, fs in KINDS.items()}
"""The lists each frequency type takes (besides ``trigger`` and ``min_sessions``): its
Struct's fields that a family lists (:data:`SEARCHED`)."""
REQUIRED: dict[str, tuple[str, ...]] = {
    k: tuple(f.name for f in fs if f.required) for k, fs in KINDS.items()}
"""The lists a frequency type needs: its Struct's required fields."""
DEFAULTS: dict[str, dict[str, Any]] = {
    k: {f.name: f.default for f in fs if not f.required and f.default is not None}
    for k, fs in KINDS.items()}
"""A field's value when its list is empty: its Struct's default (``backoff``'s factor)."""


def _bounds(struct: type[msgspec.Struct], field: str) -> msgspec.Meta:
    info = mi.type_info(struct)
    assert isinstance(info, mi.StructType)
    t = next(f.type for f in info.fields if f.name == field)
    assert isinstance(t, mi.FloatType) and t.ge is not None and t.le is not None
    return msgspec.Meta(ge=t.ge, le=t.le)


Factor = Annotated[float, _bounds(Backoff, "factor")]
"""A backoff factor, bounded as ``Backoff.factor`` is."""


class Family(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Candidates of one frequency type: every combination of the listed values."""

    name: Identifier
    """The family's name: the prefix of its candidates' names and one colour in the figure."""
    frequency: str
    """One of once, every_time, multiple, backoff, gap_list (the OneSignal preset)."""
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
    for field in REQUIRED[f.frequency]:
        if not getattr(f, field):
            raise ValueError(f"{where}.{field}: frequency {f.frequency!r} needs a list of "
                             f"values")
    for field in ("trigger", "limit", "gap_days", "factor", "min_sessions"):
        values = getattr(f, field)
        if len(set(values)) != len(values):
            raise ValueError(f"{where}.{field}: a value is listed twice")
    for field in uses:  # each value, checked by the frequency's own Struct
        for v in getattr(f, field):
            try:
                _frequency(f.frequency, {field: v})
            except msgspec.ValidationError as exc:
                raise ValueError(f"{where}.{field}: {v!r}: {split(str(exc))[0]}") from None


def _frequency(kind: str, values: dict[str, Any]) -> None:
    """Validate the ``kind`` frequency with ``values``, its other required fields at a valid
    value: a family's list entries are checked one field at a time."""
    body: dict[str, Any] = {"type": kind}
    for f in KINDS[kind]:
        if f.name in values:
            body[f.name] = values[f.name]
        elif f.required:
            body[f.name] = _valid(f.type)
    msgspec.convert(body, Frequency)


def _valid(t: Any) -> Any:
    """The smallest value ``t`` takes."""
    lo = t.ge if t.ge is not None else t.gt
    return lo if isinstance(t, mi.FloatType) else max(int(lo or 0), 1)


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
            factor = DEFAULTS["backoff"]["factor"] if factor is None else factor
            freq |= {"gap_days": gap, "factor": factor}
            parts += [f"g{_num(gap or 0)}", f"x{_num(factor)}"]
            if limit is not None:
                freq["limit"] = limit
                parts.append(f"l{limit}")
        if len(f.min_sessions) > 1 or sessions != 1:
            parts.append(f"s{sessions}")
        camp = msgspec.convert({"id": "soft", "frequency": freq, "min_sessions": sessions,
                                "primer": f.primer}, Campaign)
        out.append(("-".join(parts), msgspec.structs.replace(camp, trigger=trig)))
    return out
