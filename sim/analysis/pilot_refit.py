"""``promptsim pilot fit`` as a function: fit, calibrate, re-decide, say what is left.

The stats are fitted (``sim.analysis.pilot_fit``), the scenario is rewritten with the
fitted ranges (``calibrated``), and the decision is assessed before and after on the same
small sensitivity run (``sim.analysis.pilot_decide``). A platform's decision is resolved
when its expected loss is at most ``max_loss`` per 1,000 installs; otherwise the
preposterior analysis (``sim.analysis.pilot_value``) on the calibrated scenario, with the
counts per unit the experiment has shown, says how many more units, and so days at the
experiment's rate, would resolve it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.analysis import pilot_fit as pf
from sim.analysis import pilot_value as pv
from sim.analysis.pilot_decide import PlatformCall, assess, units_needed
from sim.analysis.pilot_stats import Stats
from sim.model.scenario import Scenario, parse_scenario


@dataclass(frozen=True)
class Settings:
    """How hard the re-recommendation works: small and fast by default."""

    devices: int = 4000
    """Devices per prior draw of the sensitivity runs."""
    draws: int = 32
    """Prior draws of the sensitivity runs."""
    map_devices: int = 10_000
    """Devices per point of the acceptance map."""
    max_loss: float = 2.0
    """Expected loss (per 1,000 installs) under which a decision is resolved."""
    jobs: int = 1


@dataclass
class PlatformVerdict:
    """One platform before and after the fit."""

    platform: str
    before: str
    after: str
    loss_before: float
    loss_after: float
    resolved: bool
    more_days: int | None
    """Days more at the experiment's rate to resolve it (``None``: resolved, or not within
    reach of these arms)."""
    reachable: bool
    values_after: dict[str, float]
    flips_after: list[str]


@dataclass
class Refit:
    """Everything ``pilot fit`` found."""

    experiment_id: str
    fits: list[pf.Fitted]
    calibrated: dict[str, Any]
    verdicts: list[PlatformVerdict] = field(default_factory=list)
    units_per_day: float = 0.0
    settings: Settings = field(default_factory=Settings)
    thin: dict[str, float] = field(default_factory=dict)
    """Platforms not judged: too few devices per draw in the re-recommendation's runs."""


def signals(st: Stats, fits: list[pf.Fitted], curve: tuple[np.ndarray, np.ndarray] | None,
            ) -> list[pv.Signal]:
    """The counts per unit of the whole experiment each fitted prior was seen with (as
    effective binomial trials: divided by the fit's design effect)."""
    units = max(1, st.total("units"))
    out = []
    for f in fits:
        base, slope = 0.0, 1.0
        if f.method == "simulation" and curve is not None:
            coef = np.polyfit(curve[0], curve[1], 2)
            slope = float(np.polyval(np.polyder(coef), f.mean))
            base = float(np.polyval(coef, f.mean)) - slope * f.mean
        out.append(pv.Signal(f.prior, ",".join(f.arms), f.trials / f.deff / units, base,
                             slope))
    return out


def refit(sc: Scenario, raw: dict[str, Any], st: Stats, strategies: dict[str, Any],
          source: str, settings: Settings,
          on_task_done: Callable[[], None] | None = None) -> Refit:
    """Fit ``st``, write the calibrated tables, assess the decision before and after."""
    small = parse_scenario({**raw, "devices": settings.devices}, sc.name)
    fits = pf.direct_fits(small, st, strategies)
    curve = None
    rec = pf.receptiveness_fit(small, st, strategies, devices=settings.map_devices)
    if rec is not None:
        fits.append(rec[0])
        curve = rec[1]
    cal_raw = pf.calibrated(small, raw, fits, source)
    out = Refit(st.experiment_id, fits, cal_raw, settings=settings)
    if not fits:
        return out
    cal = parse_scenario({**cal_raw, "devices": settings.devices}, f"{sc.name} (calibrated)")
    learn = [f.prior for f in fits]
    before, out.thin = assess(small, learn, draws=settings.draws, jobs=settings.jobs,
                              on_task_done=on_task_done)
    after, _ = assess(cal, learn, draws=settings.draws, jobs=settings.jobs,
                      on_task_done=on_task_done)
    out.units_per_day = st.total("units") / max(1, st.days())
    sig = signals(st, fits, curve)
    for b, a in zip(before, after, strict=True):
        out.verdicts.append(_verdict(b, a, sig, settings.max_loss, out.units_per_day, sc.seed))
    return out


def _verdict(b: PlatformCall, a: PlatformCall, sig: list[pv.Signal], max_loss: float,
             per_day: float, seed: int) -> PlatformVerdict:
    resolved = a.loss_now <= max_loss
    more: int | None = None
    reachable = True
    if not resolved:
        n, _ = units_needed(a, sig, max_loss, seed)
        reachable = n is not None
        if n is not None and per_day > 0:
            more = max(1, math.ceil(n / per_day))
    return PlatformVerdict(a.platform, b.pick, a.pick, b.loss_now, a.loss_now, resolved, more,
                           reachable, a.values, a.flips)
