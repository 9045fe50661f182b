"""Fit the behaviour priors an experiment identifies to its stats.

Which arm tells what (by the arms' policies where known, else read from the counts):

- an arm that showed no soft prompt (``soft_shown`` 0) opened every OS dialog *cold*:
  its ``os_allowed`` of ``os_shown`` on a platform's profiles is the cold allow rate
  (``dialog_cold.<platform>``) seen directly;
- an arm that showed soft prompts opened the OS dialog after a tap: ``os_allowed`` of
  ``os_shown`` is the primed allow rate (``dialog_primed.<platform>``), except on profiles
  whose OS asks by itself at first launch (Android 13 with an app targeting <= 32), whose
  dialogs are cold and left out;
- an arm whose policy mixes campaigns with and without a primer opens dialogs of both
  kinds: no allow rate is read from it;
- the soft-prompt arms' ``soft_accepted`` of ``soft_shown`` is the acceptance of the soft prompt,
  which is ``receptiveness_mean`` only through the arm's schedule (repeats and fatigue,
  per-user spread, context): it is mapped by simulation (``acceptance_map``).

A rate seen directly gets the Beta-binomial posterior under a uniform prior, Beta(1 + k,
1 + n - k); its 95% equal-tailed interval is the fitted range, computed on the effective
sample ``n / deff`` where the cells vary more than binomial counts would (``deff``, the
design effect of the cluster variance: one unit's answers need not be independent). The
mapped one inverts the simulated acceptance curve at that interval of the observed rate,
the map's own simulation noise added (conditional on the scenario's other priors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

from sim.analysis.pilot_stats import Stats
from sim.engine.runner import simulate
from sim.model import priors
from sim.model.scenario import Scenario, Strategy
from sim.rules.native import ProfileRules

LEVEL = 0.95
"""Probability inside each fitted interval."""
MAP_GRID: tuple[float, ...] = (0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95)
"""Receptiveness values the acceptance map simulates."""


@dataclass(frozen=True)
class Fitted:
    """One prior fitted to the experiment."""

    prior: str
    method: str
    """``beta-binomial`` (seen directly) or ``simulation`` (through the acceptance map)."""
    arms: tuple[str, ...]
    successes: int
    trials: int
    mean: float
    low: float
    high: float
    assumed: float
    """The scenario's value."""
    assumed_range: tuple[float, float]
    deff: float = 1.0
    """The design effect the interval was widened by (``design_effect``)."""


def beta_interval(k: int, n: int, level: float = LEVEL) -> tuple[float, float, float]:
    """Posterior mean and ``level`` interval of a rate, ``k`` of ``n``, uniform prior."""
    from scipy import stats

    a, b = 1.0 + k, 1.0 + n - k
    tail = (1.0 - level) / 2.0
    lo, hi = stats.beta.ppf([tail, 1.0 - tail], a, b)
    return a / (a + b), float(lo), float(hi)


def design_effect(st: Stats, hits: str, trials: str, arms: Sequence[str],
                  profiles: frozenset[str] | None = None) -> float:
    """How much wider than binomial the rate ``hits / trials`` varies between the cells
    (the units of a cell are independent of another cell's; within a unit, answers may
    not be): the cluster (ratio-estimator) variance over the binomial one, at least 1."""
    cells = [c for c in st.cells if c.arm in arms
             and (profiles is None or c.profile in profiles) and getattr(c, trials) > 0]
    k = np.array([getattr(c, hits) for c in cells], dtype=float)
    n = np.array([getattr(c, trials) for c in cells], dtype=float)
    if len(cells) < 2 or n.sum() == 0:
        return 1.0
    total = float(n.sum())
    r = float(k.sum()) / total
    if r <= 0 or r >= 1:
        return 1.0
    cluster = len(cells) / (len(cells) - 1) * float(np.sum((k - r * n) ** 2)) / total ** 2
    return max(1.0, cluster / (r * (1 - r) / total))


def arm_kinds(st: Stats, strategies: dict[str, Strategy] | None = None,
              ) -> tuple[list[str], list[str], list[str]]:
    """(cold arms, primer arms, mixed arms). With the arms' policies: cold arms have only
    campaigns without a primer, primer arms only campaigns with one, mixed arms both (their
    dialogs are of either kind, so no allow rate is read from them). Without: from the
    counts, arms that showed OS dialogs but no soft prompt, and arms that showed soft
    prompts."""
    cold, primer, mixed = [], [], []
    for a in st.arm_names():
        s = (strategies or {}).get(a)
        if s is not None:
            kinds = {c.primer for c in s.campaigns}
            if kinds == {False}:
                cold.append(a)
            elif kinds == {True}:
                primer.append(a)
            elif kinds:
                mixed.append(a)
        elif st.total("soft_shown", arm=a) > 0:
            primer.append(a)
        elif st.total("os_shown", arm=a) > 0:
            cold.append(a)
    return cold, primer, mixed


def _range(sc: Scenario, p: priors.Prior) -> tuple[float, float]:
    return sc.sensitivity.ranges.get(p.name, (p.low, p.high))


def _os_asks_itself(sc: Scenario) -> frozenset[str]:
    out = set()
    for name, prof in sc.profiles().items():
        r = ProfileRules(prof)
        if r.dialog_on_first_launch and not r.app_can_request:
            out.add(name)
    return frozenset(out)


def direct_fits(sc: Scenario, st: Stats,
                strategies: dict[str, Strategy] | None = None) -> list[Fitted]:
    """The cold and primed allow rates the arms saw, per prior (platform); ``strategies``
    gives the arms' policies where known (``arm_kinds``)."""
    cold, primer, _ = arm_kinds(st, strategies)
    self_asking = _os_asks_itself(sc)
    out = []
    for p in priors.PRIORS:
        if p.field not in ("dialog_cold", "dialog_primed") or not p.applies(sc.behaviour):
            continue
        keys = frozenset(p.keys)
        arms = cold if p.field == "dialog_cold" else primer
        if p.field == "dialog_primed":
            keys -= self_asking
        k = sum(st.total("os_allowed", arm=a, profiles=keys) for a in arms)
        n = sum(st.total("os_shown", arm=a, profiles=keys) for a in arms)
        if n == 0:
            continue
        deff = design_effect(st, "os_allowed", "os_shown", arms, keys)
        _, lo, hi = beta_interval(round(k / deff), round(n / deff))
        mean = (1.0 + k) / (2.0 + n)
        out.append(Fitted(p.name, "beta-binomial", tuple(arms), k, n, mean, lo, hi,
                          p.value(sc.behaviour), _range(sc, p), deff))
    return out


def pilot_scenario(sc: Scenario, strategies: Sequence[Strategy], *, devices: int,
                   days: int) -> Scenario:
    """``sc`` cut to an experiment: these strategies, installs over ``days`` days."""
    population = msgspec.structs.replace(sc.population, install_window_days=float(days))
    return msgspec.structs.replace(sc, strategies=tuple(strategies), devices=devices,
                                   days=days, replications=1, baseline=None,
                                   population=population, search=None,
                                   sensitivity=msgspec.structs.replace(sc.sensitivity,
                                                                       draws=0))


def acceptance_map(sc: Scenario, arms: dict[str, Strategy], units: dict[str, int], *,
                   days: int, devices: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Soft-prompt acceptance (accepted / shown, pooled over ``arms`` weighted by their
    ``units``) simulated at each receptiveness of ``MAP_GRID``, the other priors at the
    scenario's values, the same devices at every point (common random numbers); and the
    fewest soft prompts a point counted (its precision)."""
    strategies = [msgspec.structs.replace(s, name=a) for a, s in arms.items()]
    base = pilot_scenario(sc, strategies, devices=devices, days=days)
    weight = np.array([units[a] for a in arms], dtype=float) / devices
    rates, counted = [], []
    for r in MAP_GRID:
        run = simulate(msgspec.structs.replace(
            base, behaviour=priors.apply(base.behaviour, {"receptiveness_mean": r})))
        shown = run.series("soft_prompts_shown")[0].sum(axis=(1, 2))
        acc = run.series("soft_prompts_accepted")[0].sum(axis=(1, 2))
        rates.append(float(weight @ acc) / max(1e-9, float(weight @ shown)))
        counted.append(float(shown.sum()))
    return np.array(MAP_GRID), np.array(rates), min(counted)


def invert(grid: np.ndarray, rates: np.ndarray, r: float) -> float:
    """The receptiveness whose simulated acceptance is ``r`` (a quadratic through the map,
    inverted on a fine grid; clipped to [0, 1])."""
    coef = np.polyfit(grid, rates, 2)
    fine = np.linspace(0.0, 1.0, 2001)
    curve = np.maximum.accumulate(np.polyval(coef, fine))
    return float(np.interp(r, curve, fine))


def receptiveness_fit(sc: Scenario, st: Stats, strategies: dict[str, Strategy], *,
                      devices: int) -> tuple[Fitted, tuple[np.ndarray, np.ndarray]] | None:
    """``receptiveness_mean`` from the primer arms' acceptance, through the map (returned
    with it); ``None`` without a primer arm. ``strategies`` gives each arm's policy."""
    _, primer, mixed = arm_kinds(st, strategies)
    arms = {a: strategies[a] for a in primer + mixed if a in strategies}
    if not arms:
        return None
    k = sum(st.total("soft_accepted", arm=a) for a in arms)
    n = sum(st.total("soft_shown", arm=a) for a in arms)
    units = {a: st.total("units", arm=a) for a in arms}
    grid, rates, n_map = acceptance_map(sc, arms, units, days=max(1, st.days()),
                                        devices=devices)
    # The observed rate's variance (widened by the cells' design effect: a unit's answers
    # share its receptiveness) plus the map's own (a simulation of n_map prompts, with the
    # same clustering), as one effective binomial sample.
    deff = design_effect(st, "soft_accepted", "soft_shown", list(arms))
    n_eff = 1.0 / (deff / n + deff / n_map)
    _, lo, hi = beta_interval(round(k / n * n_eff), round(n_eff))
    mean = invert(grid, rates, k / n)
    p = priors.BY_NAME["receptiveness_mean"]
    return Fitted(p.name, "simulation", tuple(arms), k, n, mean, invert(grid, rates, lo),
                  invert(grid, rates, hi), p.value(sc.behaviour), _range(sc, p),
                  deff), (grid, rates)


def calibrated(sc: Scenario, raw: dict[str, object], fits: Sequence[Fitted],
               source: str) -> dict[str, object]:
    """The scenario's TOML tables with each fitted prior's value (the posterior mean), its
    range (the fitted interval) and its source (``source``, the experiment) in place."""
    b = priors.apply(sc.behaviour, {f.prior: f.mean for f in fits})
    behaviour = dict(raw.get("behaviour", {}))  # type: ignore[call-overload]
    new = msgspec.to_builtins(b)
    for f in fits:
        field = priors.BY_NAME[f.prior].field
        behaviour[field] = new[field]
    sens = dict(raw.get("sensitivity", {}))  # type: ignore[call-overload]
    ranges = dict(sens.get("ranges", {}))
    sources = dict(sens.get("sources", {}))
    for f in fits:
        ranges[f.prior] = [round(f.low, 6), round(f.high, 6)]
        sources[f.prior] = (f"{source}: {f.successes:,} of {f.trials:,} "
                            f"({f.method}, arms {', '.join(f.arms)}), {100 * LEVEL:g}% interval")
    sens["ranges"], sens["sources"] = ranges, sources
    return {**raw, "behaviour": behaviour, "sensitivity": sens}
