"""``GET /v1/experiments/{id}/stats``: the cells, the sample-ratio check and the comparisons.

The store aggregates (``sim.service.storage.experiment_sql``); this module names the
figures, reads ``blocked`` with the rules (``sim.rules.permission.is_blocked`` on the app's
profiles), and adds the sample-ratio-mismatch test (Pearson's chi-square of the units per
arm against the weights, ``scipy.stats.chisquare``; under an adaptive allocation, against
the weights each cohort day was assigned under) and the always-valid intervals of
:mod:`sim.service.sequential`. An adaptive allocation's weights now and P(best) come from
its history (:mod:`sim.service.allocation`), whose updates read :func:`arm_counts`.

Definitions: a unit's events count from its assignment (its first eligibility call in the
experiment) to the experiment's end. ``opted_in`` and ``blocked`` read the state of the
unit's device now (for ``unit = "user"``, its latest assigned device): permission granted,
and the OS dialog gone for good (``is_blocked``: the rules' view; an uninstalled device
keeps the state it had). ``opt_outs`` are ``permission_changed`` events to ``denied`` that
follow a grant event (an allowed dialog or a change to granted) of the same device.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal, cast

import msgspec
import numpy as np

from sim.rules.permission import is_blocked
from sim.rules.state import DeviceState, Permission
from sim.service import allocation as alloc
from sim.service.experiments import CellRow, Running
from sim.service.sequential import difference_interval
from sim.service.tenant import Tenant

SRM_P = 0.001
"""A sample-ratio mismatch is flagged when the chi-square p-value is below this (the
threshold GrowthBook and Optimizely use: a false alarm once in 1,000 healthy reads)."""
ALPHA = 0.05
"""Level of the always-valid intervals (95%)."""
Metric = Literal["opted_in_rate", "blocked_rate", "uninstall_rate"]
METRICS: tuple[Metric, ...] = ("opted_in_rate", "blocked_rate", "uninstall_rate")
"""What the comparisons compare: units opted in, blocked, uninstalled, over units."""

_FIGURES = ("soft_shown", "soft_accepted", "soft_dismissed", "units_soft_shown", "os_shown",
            "os_allowed", "os_denied", "os_dismissed", "units_os_shown", "opt_outs",
            "uninstalls")
"""The event figures, in the order of ``experiment_sql.event_cells`` after ``units``."""


class ArmShare(msgspec.Struct, frozen=True):
    """An arm and its weight."""

    name: str
    weight: float


class ExperimentCell(msgspec.Struct, kw_only=True):
    """One arm, platform, profile and cohort day (the UTC day of the units' assignment)."""

    arm: str
    platform: str
    profile: str
    """The device's profile when assigned."""
    cohort_day: str
    units: int
    """Units assigned (first eligibility call inside the experiment)."""
    soft_shown: int = 0
    """Soft prompts shown (impressions reserved by eligibility; cold dialogs excluded)."""
    soft_accepted: int = 0
    """Soft prompt clicks."""
    soft_dismissed: int = 0
    """Soft prompt dismissals."""
    units_soft_shown: int = 0
    """Units with at least one soft prompt shown."""
    os_shown: int = 0
    """OS dialog answers (allowed, denied, dismissed, ignored)."""
    os_allowed: int = 0
    os_denied: int = 0
    os_dismissed: int = 0
    units_os_shown: int = 0
    """Units with at least one OS dialog answer."""
    opted_in: int = 0
    """Units whose permission is granted now."""
    opt_outs: int = 0
    """Changes to denied in settings after a grant."""
    uninstalls: int = 0
    """Units with an uninstall."""
    blocked: int = 0
    """Units whose OS dialog can no longer be shown (``is_blocked``)."""


class Srm(msgspec.Struct, frozen=True):
    """The sample-ratio-mismatch check: units per arm against the weights."""

    observed: dict[str, int]
    expected_share: dict[str, float]
    chi2: float
    p_value: float
    mismatch: bool
    """``p_value < 0.001``: the assignment or the logging is broken; do not read the arms."""


class Comparison(msgspec.Struct, frozen=True):
    """An arm against the first arm on one metric, pooled (``platform`` null) or on one
    platform."""

    metric: Metric
    arm: str
    baseline: str
    platform: str | None
    difference: float
    """The arm's rate minus the baseline's."""
    interval: tuple[float, float]
    """Always valid: holds at every read at once with probability >= 1 - alpha."""
    alpha: float
    method: str = "asymptotic confidence sequence"


class AllocationNow(msgspec.Struct, frozen=True, kw_only=True):
    """An adaptive allocation's latest step: the weights new units get, and why."""

    kind: Literal["thompson"] = "thompson"
    since: float
    """Unix seconds: when its weights took over (the start, or an update boundary)."""
    basis: Literal["declared", "burn_in", "thompson"]
    """As the step says (``sim.service.allocation.Step``)."""
    weights: dict[str, float]
    """Per arm: its share of the units enrolling now."""
    p_best: dict[str, float]
    """Per arm: the probability that its value per unit is the highest, at that update
    (empty before the first)."""
    conditional_on: str
    """What ``p_best`` is conditional on: counts, prior, objective, prices, draws, seed."""
    next_update: float | None
    """Unix seconds: the boundary whose update the first unit enrolling after it makes
    (None when the experiment ends first)."""


class ExperimentStats(msgspec.Struct, frozen=True):
    """Everything measured for one experiment."""

    experiment_id: str
    arms: list[ArmShare]
    """Each arm with its weight now (an adaptive allocation's latest step)."""
    cells: list[ExperimentCell]
    srm: Srm
    comparisons: list[Comparison]
    allocation: AllocationNow | msgspec.UnsetType = msgspec.UNSET
    """An adaptive allocation's state (absent for fixed weights)."""


Key = tuple[str, str, str, str]


def cells_of(events: Iterable[CellRow], states: Iterable[CellRow], t: Tenant
             ) -> list[ExperimentCell]:
    """The cells from the store's aggregates, ``opted_in`` and ``blocked`` read by the
    rules."""
    out: dict[Key, ExperimentCell] = {}
    for row in events:
        key = (str(row[0]), str(row[1]), str(row[2]), str(row[3]))
        figures = {name: int(v or 0) for name, v in zip(_FIGURES, row[5:], strict=True)}
        out[key] = ExperimentCell(arm=key[0], platform=key[1], profile=key[2],
                                  cohort_day=key[3], units=int(row[4]), **figures)
    for arm, platform, profile, day, key, n in states:
        cell = out.get((arm, platform, profile, day))
        if cell is None or key is None:
            continue  # a device whose assignment marked it has a key: never None
        now_profile, permission, shown, denials = str(key).split(" ")
        if permission == "granted":
            cell.opted_in += int(n)
        elif now_profile in t.profiles:
            st = DeviceState(profile=now_profile, permission=cast(Permission, permission),
                             dialogs_shown=int(shown), denials=int(denials))
            if is_blocked(st, t.profile(now_profile)):
                cell.blocked += int(n)
    return [out[k] for k in sorted(out)]


def _srm(exp: Running, cells: list[ExperimentCell]) -> Srm:
    if exp.history:
        return _srm_by_step(exp, cells)
    arms = exp.experiment.arms
    observed = {a.name: 0 for a in arms}
    for c in cells:
        observed[c.arm] = observed.get(c.arm, 0) + c.units
    share = {a.name: a.weight for a in arms}
    tested = [a.name for a in arms if a.weight > 0]
    total = sum(observed[n] for n in tested)
    if total == 0 or len(tested) < 2:
        return Srm(observed=observed, expected_share=share, chi2=0.0, p_value=1.0,
                   mismatch=False)
    weight = sum(share[n] for n in tested)
    from scipy import stats as sps  # here: SciPy's stats take ~0.5 s of a worker's start

    res = sps.chisquare([observed[n] for n in tested],
                        [total * share[n] / weight for n in tested])
    chi2, p = float(res.statistic), float(res.pvalue)
    return Srm(observed=observed, expected_share=share, chi2=chi2, p_value=p,
               mismatch=p < SRM_P)


def day_start(day: str) -> float:
    """Unix seconds of the UTC midnight that starts a cohort day (``YYYY-MM-DD``)."""
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp()


def _srm_by_step(exp: Running, cells: list[ExperimentCell]) -> Srm:
    """Under an adaptive allocation: each cohort day's units against the weights of the step
    it was assigned under (steps begin at UTC midnights, so a day lies in one), summed over
    the days, then Pearson's chi-square with arms - 1 degrees of freedom, as GrowthBook's
    bandits check (``gbstats/bayesian/bandits.py``, ``compute_srm``). Comparing them with
    the weights now instead would flag every experiment whose weights moved."""
    names = [a.name for a in exp.experiment.arms]
    observed = np.zeros(len(names))
    expected = np.zeros(len(names))
    for c in cells:
        observed[names.index(c.arm)] += c.units
        expected += c.units * np.asarray(alloc.in_force(exp.history,
                                                        day_start(c.cohort_day)).weights)
    total = float(observed.sum())
    share = {n: float(e / total) if total else w
             for n, e, w in zip(names, expected, exp.history[-1].weights, strict=True)}
    tested = expected > 0
    counts = {n: int(o) for n, o in zip(names, observed, strict=True)}
    if total == 0 or int(tested.sum()) < 2:
        return Srm(observed=counts, expected_share=share, chi2=0.0, p_value=1.0,
                   mismatch=False)
    chi2 = float(np.sum((observed[tested] - expected[tested]) ** 2 / expected[tested]))
    from scipy import stats as sps  # here: SciPy's stats take ~0.5 s of a worker's start

    p = float(sps.chi2.sf(chi2, int(tested.sum()) - 1))
    return Srm(observed=counts, expected_share=share, chi2=chi2, p_value=p, mismatch=p < SRM_P)


def arm_counts(exp: Running, cells: Iterable[ExperimentCell]) -> dict[str, np.ndarray]:
    """Per platform, ``[arm, (units, opted in, blocked)]``: what an adaptive allocation's
    update reads."""
    names = [a.name for a in exp.experiment.arms]
    out: dict[str, np.ndarray] = {}
    for c in cells:
        acc = out.setdefault(c.platform, np.zeros((len(names), 3), dtype=np.int64))
        acc[names.index(c.arm)] += (c.units, c.opted_in, c.blocked)
    return out


def _allocation_now(exp: Running) -> AllocationNow | msgspec.UnsetType:
    kind = alloc.allocation_of(exp.experiment.allocation)
    if not isinstance(kind, alloc.Thompson):
        return msgspec.UNSET
    step = exp.history[-1]
    names = [a.name for a in exp.experiment.arms]
    nxt = alloc.boundary(exp.history[0].since, alloc.every_days(kind),
                         step.since + alloc.every_days(kind) * alloc.DAY)
    end = exp.end * 86400.0
    return AllocationNow(since=step.since, basis=step.basis,
                         weights=dict(zip(names, step.weights, strict=True)),
                         p_best=dict(zip(names, step.p_best, strict=False)),
                         conditional_on=alloc.conditional_on(kind, step),
                         next_update=nxt if nxt is not None and nxt < end else None)


def _rates(cells: Iterable[ExperimentCell]) -> dict[str, list[int]]:
    """Per arm: units, opted in, blocked, uninstalled."""
    out: dict[str, list[int]] = {}
    for c in cells:
        acc = out.setdefault(c.arm, [0, 0, 0, 0])
        acc[0] += c.units
        acc[1] += c.opted_in
        acc[2] += c.blocked
        acc[3] += c.uninstalls
    return out


def _comparisons(exp: Running, cells: list[ExperimentCell]) -> list[Comparison]:
    names = [a.name for a in exp.experiment.arms]
    base = names[0]
    platforms = sorted({c.platform for c in cells})
    out = []
    for platform in (None, *platforms):
        rates = _rates(c for c in cells if platform is None or c.platform == platform)
        b = rates.get(base, [0, 0, 0, 0])
        for arm in names[1:]:
            a = rates.get(arm, [0, 0, 0, 0])
            for k, metric in enumerate(METRICS, start=1):
                d, ci = difference_interval(a[k], a[0], b[k], b[0], ALPHA)
                out.append(Comparison(metric=metric, arm=arm, baseline=base,
                                      platform=platform, difference=d, interval=ci,
                                      alpha=ALPHA))
    return out


def experiment_stats(exp: Running, t: Tenant, events: Iterable[CellRow],
                     states: Iterable[CellRow]) -> ExperimentStats:
    """The stats of ``exp`` from the store's aggregates."""
    cells = cells_of(events, states, t)
    weights = exp.history[-1].weights if exp.history else exp.weights
    return ExperimentStats(
        experiment_id=exp.experiment_id,
        arms=[ArmShare(a.name, w) for a, w in zip(exp.experiment.arms, weights, strict=True)],
        cells=cells, srm=_srm(exp, cells), comparisons=_comparisons(exp, cells),
        allocation=_allocation_now(exp))
