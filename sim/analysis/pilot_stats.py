"""An experiment's stats as the service reports them (``GET /v1/experiments/{id}/stats``).

The analysis side of the contract: the cells it reads, validated once here with errors
that name the field. The sample-ratio check and the comparisons (always-valid intervals)
are the service's, shown as they come; fields the analysis does not read are ignored.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

Count = Annotated[int, msgspec.Meta(ge=0)]


class Cell(msgspec.Struct, frozen=True, kw_only=True):
    """Counts of one (arm, platform, profile, cohort day)."""

    arm: str
    platform: str
    profile: str
    cohort_day: dt.date
    units: Count
    soft_shown: Count = 0
    soft_accepted: Count = 0
    soft_dismissed: Count = 0
    units_soft_shown: Count = 0
    os_shown: Count = 0
    os_allowed: Count = 0
    os_denied: Count = 0
    os_dismissed: Count = 0
    units_os_shown: Count = 0
    opted_in: Count = 0
    opt_outs: Count = 0
    uninstalls: Count = 0
    blocked: Count = 0


class ArmWeight(msgspec.Struct, frozen=True):
    """An arm's name and its share of the units."""

    name: str
    weight: Annotated[float, msgspec.Meta(ge=0, le=1)]


class Srm(msgspec.Struct, frozen=True, kw_only=True):
    """The service's sample-ratio-mismatch check."""

    chi2: float
    p_value: float
    mismatch: bool


class Comparison(msgspec.Struct, frozen=True, kw_only=True):
    """The service's always-valid interval of an arm's difference from the first arm."""

    metric: str
    arm: str
    baseline: str
    platform: str | None = None
    """``None``: all platforms pooled."""
    difference: float
    interval: tuple[float, float]
    alpha: float
    method: str = ""


class Stats(msgspec.Struct, frozen=True, kw_only=True):
    """The stats of one experiment."""

    experiment_id: str
    arms: list[ArmWeight]
    cells: list[Cell]
    srm: Srm | None = None
    comparisons: list[Comparison] = msgspec.field(default_factory=list)

    def arm_names(self) -> list[str]:
        """The arms in the experiment's order."""
        return [a.name for a in self.arms]

    def total(self, field: str, *, arm: str | None = None,
              profiles: frozenset[str] | None = None, platform: str | None = None) -> int:
        """``field`` summed over the cells of ``arm``, ``profiles`` and ``platform``."""
        return sum(getattr(c, field) for c in self.cells
                   if (arm is None or c.arm == arm)
                   and (profiles is None or c.profile in profiles)
                   and (platform is None or c.platform == platform))

    def days(self) -> int:
        """Cohort days the experiment has run (first to last, inclusive)."""
        if not self.cells:
            return 0
        days = [c.cohort_day for c in self.cells]
        return (max(days) - min(days)).days + 1

    def last_day(self) -> dt.date | None:
        """The last cohort day."""
        return max((c.cohort_day for c in self.cells), default=None)


def parse_stats(data: bytes, source: str) -> Stats:
    """Decode and check the stats JSON; ``ValueError`` naming ``source`` and the field."""
    try:
        st = msgspec.json.decode(data, type=Stats)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{source}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ValueError(f"{source}: not valid JSON: {exc}") from None
    names = st.arm_names()
    if not names:
        raise ValueError(f"{source}: arms: at least one arm is required")
    for i, c in enumerate(st.cells):
        where = f"{source}: cells[{i}]"
        if c.arm not in names:
            raise ValueError(f"{where}.arm: unknown arm {c.arm!r}; allowed: {', '.join(names)}")
        if c.soft_accepted + c.soft_dismissed > c.soft_shown:
            raise ValueError(f"{where}.soft_accepted: accepted + dismissed must not exceed "
                             f"soft_shown ({c.soft_shown})")
        if c.os_allowed + c.os_denied + c.os_dismissed > c.os_shown:
            raise ValueError(f"{where}.os_allowed: allowed + denied + dismissed must not "
                             f"exceed os_shown ({c.os_shown})")
        for f in ("units_soft_shown", "units_os_shown", "opted_in", "blocked"):
            if getattr(c, f) > c.units:
                raise ValueError(f"{where}.{f}: must not exceed units ({c.units})")
    return st


def observed_rows(st: Stats, arm: str | None = None) -> list[dict[str, int | str]]:
    """One arm's counts as the rows of an ``--observed`` CSV (``sim.analysis.fit``'s
    ``OBSERVED_COLUMNS`` after ``date``): a row per cohort day and platform, summed over
    profiles, days with no unit written as zeros so that the days are consecutive.

    The day is the cohort day (the units' assignment day), not the day an answer happened:
    the experiment's stats count each unit's answers on its cohort day. Read at the end of
    the observed window, the totals per platform, which the fit matches, are the window's
    (each answer of a unit assigned in it); the daily rows then run ahead of the calendar.
    ``ValueError`` names the arms when ``arm`` is missing but needed, or unknown."""
    from sim.analysis.fit import COUNTS  # the fit's columns (fit imports the engine: lazily)

    names = st.arm_names()
    if arm is None:
        if len(names) > 1:
            raise ValueError(f"--arm: the experiment has {len(names)} arms, each its own "
                             f"strategy; name one of {', '.join(names)}")
        arm = names[0]
    if arm not in names:
        raise ValueError(f"--arm: unknown arm {arm!r}; allowed: {', '.join(names)}")
    cells = [c for c in st.cells if c.arm == arm]
    if not cells:
        raise ValueError(f"--arm: arm {arm!r} has no units yet: nothing to export")
    first = min(c.cohort_day for c in cells)
    days = (max(c.cohort_day for c in cells) - first).days + 1
    platforms = sorted({c.platform for c in cells})
    sums: dict[tuple[int, str], list[int]] = {
        (d, p): [0, 0, 0, 0] for d in range(days) for p in platforms}
    for c in cells:
        row = sums[(c.cohort_day - first).days, c.platform]
        for i, v in enumerate((c.soft_shown, c.soft_accepted, c.os_shown, c.os_allowed)):
            row[i] += v  # in COUNTS' order
    return [{"day": d, "date": (first + dt.timedelta(days=d)).isoformat(), "platform": p,
             **dict(zip(COUNTS, v, strict=True))} for (d, p), v in sums.items()]
