"""Forecasting a rollout's opt-in share, opted-in and provisional devices and reachable users.

Opt-in is the share of installed devices with notifications allowed, as everywhere in
promptsim; provisional (quiet) devices are their own series. Without ``--strategy``
the rollout uses the strategy the scenario's objective recommends (the scenario is
simulated first to find it).

The forecast scenario is the given one with the rollout's numbers put in by
``msgspec.structs.replace``: one strategy; installs arriving uniformly at
``installs_per_day`` over ``install_days`` (``devices = installs_per_day x
install_days``, ``install_window_days = install_days``); ``days = horizon``.
Above ``max_devices`` a sample of devices is simulated and counts are scaled
up, which makes the intervals wider than they need be (conservative).

Each trajectory is one simulation with its own seed; with ``--observed`` each
also draws its own parameters from the fitted posterior, so the quantiles over
trajectories cover both the simulation's randomness and the parameter
uncertainty.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np
import pandas as pd

from sim.analysis.fit import (
    COUNTS,
    POINTS,
    ROUNDS,
    Fit,
    apply_params,
    fit_observed,
    run_many,
    seed_for,
)
from sim.analysis.recommend import recommend
from sim.engine.runner import simulate
from sim.model.objective import outcomes
from sim.model.scenario import Scenario, pick_strategy

SERIES: dict[str, tuple[tuple[str, ...], str | None]] = {
    "optin_share": (("opted_in_devices",), "active_devices"),
    "opted_in_devices": (("opted_in_devices",), None),
    "provisional_devices": (("provisional_devices",), None),
    "reachable_users": (("reach_200", "reach_201"), None),
}
"""Forecast series: the stocks (summed over platforms) that make each, and the stock it is a
share of (``None``: a count, scaled up to the rollout's installs)."""
LABELS = {"optin_share": "opt-in share of installed devices (%)",
          "opted_in_devices": "opted-in devices",
          "provisional_devices": "provisional devices (quiet delivery, not opted in)",
          "reachable_users": "reachable users (200 + 201)"}
QS = (0.025, 0.10, 0.50, 0.90, 0.975)
QCOLS = ("q2.5", "q10", "q50", "q90", "q97.5")


class ForecastError(ValueError):
    """Rollout numbers that cannot be forecast; the message names the option."""


@dataclass(frozen=True)
class Rollout:
    """What the user told ``promptsim forecast``."""

    installs_per_day: float
    horizon: int
    install_days: float
    strategy: str
    max_devices: int = 20_000
    why: str = ""
    """Why this strategy (given, or recommended by the scenario's objective)."""


def forecast_strategy(sc: Scenario, name: str | None, *, jobs: int = 1,
                      on_task_done: Callable[[], None] | None = None) -> tuple[str, str]:
    """The strategy a rollout forecast uses, and why: ``name`` when given (checked by
    ``pick_strategy``: a ``ScenarioError`` naming ``--strategy``), else the one the
    scenario's objective recommends (``sim.analysis.recommend``, after simulating the
    scenario as it is).

    A forecast answers "what will rolling out the best strategy bring", so its default is
    the recommendation; ``pick_strategy``'s default (the baseline) is what a load test runs.
    """
    if name is not None:
        return pick_strategy(sc, name, "--strategy").name, "given with --strategy"
    names = sc.strategy_names()
    if len(names) == 1:
        return names[0], "the scenario's only strategy"
    res = simulate(sc, jobs=jobs, on_task_done=on_task_done)
    rec = recommend(outcomes(lambda n: res.series(n).sum(axis=2), sc.objective), names,
                    pick_strategy(sc, None).name, sc.objective)
    return rec.strategy, (f"recommended under the scenario's objective ({sc.replications} "
                          f"replication(s) of {sc.devices:,} devices)")


def rollout_scenario(sc: Scenario, r: Rollout, days: int, max_devices: int | None = None,
                     factor: float = 1.0) -> tuple[Scenario, float]:
    """The scenario simulating the first ``days`` of the rollout, and the count scale factor.

    ``factor`` multiplies the simulated devices (the fit simulates more than
    were observed, to make its design points less noisy).
    """
    window = min(r.install_days, float(days))
    real = r.installs_per_day * window
    cap = max_devices or r.max_devices
    devices = max(1, round(min(real * factor, cap)))
    strategy = next(s for s in sc.strategies if s.name == r.strategy)
    pop = msgspec.structs.replace(sc.population, install_window_days=window)
    out = msgspec.structs.replace(sc, devices=devices, days=days, replications=1,
                                  baseline=None, strategies=(strategy,), population=pop)
    return out, real / devices


@dataclass
class Forecast:
    """Trajectories of the forecast and what made them."""

    rollout: Rollout
    scenario: Scenario
    """The simulated scenario (before per-trajectory parameters and seeds)."""
    scale: float
    """Simulated counts are multiplied by this (1 when every device is simulated)."""
    series: dict[str, np.ndarray]
    """``SERIES`` names -> ``[trajectory, day]``; counts scaled, shares in %."""
    predicted: np.ndarray | None
    """Predicted observed counts ``[trajectory, count, platform, day]`` over the observed days."""
    observed: np.ndarray | None
    fit: Fit | None
    notes: list[str] = field(default_factory=list)

    @property
    def trajectories(self) -> int:
        """How many simulations the quantiles are taken over."""
        return int(next(iter(self.series.values())).shape[0])


def simulations(trajectories: int, observed: bool) -> int:
    """How many simulations ``run_forecast`` runs (the fit's, then the trajectories)."""
    return trajectories + (POINTS * ROUNDS if observed else 0)


def run_forecast(sc: Scenario, r: Rollout, *, observed: np.ndarray | None = None,
                 trajectories: int = 40, jobs: int = 0,
                 progress: Callable[[str], None] | None = None,
                 on_done: Callable[[], None] | None = None) -> Forecast:
    """Fit (when ``observed`` is given) and simulate ``trajectories`` futures; ``on_done`` is
    called after each of the ``simulations(...)`` simulations."""
    jobs = jobs or os.cpu_count() or 1
    if r.installs_per_day <= 0:
        raise ForecastError("--installs-per-day: must be more than 0")
    if r.horizon < 1:
        raise ForecastError("--horizon: must be at least 1 day")
    if r.install_days <= 0:
        raise ForecastError("--install-days: must be more than 0")
    if trajectories < 2:
        raise ForecastError("--trajectories: must be at least 2")
    fc_sc, scale = rollout_scenario(sc, r, r.horizon)
    notes = []
    fit = None
    days_obs = 0
    if observed is not None:
        days_obs = observed.shape[-1]
        if days_obs > r.horizon:
            raise ForecastError(f"--horizon: {r.horizon} days is shorter than the "
                                f"{days_obs} observed days")
        fit_sc, _ = rollout_scenario(sc, r, days_obs, max(r.max_devices, 1), factor=2.0)
        fit = fit_observed(fit_sc, observed, jobs=jobs, progress=progress, on_done=on_done)
    rng = np.random.default_rng(seed_for(sc.seed, 3))
    scs = []
    for i in range(trajectories):
        b = sc.behaviour
        if fit is not None:
            rho, s = fit.samples[rng.integers(len(fit.samples))]
            b = apply_params(b, float(rho), float(s))
        scs.append(msgspec.structs.replace(fc_sc, seed=seed_for(sc.seed, 2, i), behaviour=b))
    names = sorted({c for cols, den in SERIES.values() for c in (*cols, den) if c}
                   | set(COUNTS))
    if progress:
        progress(f"simulating {trajectories} trajectories of {fc_sc.devices:,} devices")
    outs = run_many(scs, names, jobs, on_done)
    series = {}
    for k, (cols, den) in SERIES.items():
        num = np.stack([sum(o[c][0].sum(axis=0) for c in cols) for o in outs])
        if den is None:
            series[k] = scale * num
        else:
            d = np.stack([o[den][0].sum(axis=0) for o in outs])
            with np.errstate(divide="ignore", invalid="ignore"):
                series[k] = np.where(d > 0, 100.0 * num / np.maximum(d, 1), np.nan)
    predicted = None
    if observed is not None:
        predicted = scale * np.stack([np.stack([o[c][0][:, :days_obs] for c in COUNTS])
                                      for o in outs])
    if scale > 1:
        notes.append(f"{fc_sc.devices:,} of {scale * fc_sc.devices:,.0f} devices simulated and "
                     f"counts scaled by {scale:.2f}: the intervals are wider than the "
                     f"rollout's own randomness (conservative).")
    if fit is None:
        notes.append("No observed data: the intervals cover the simulation's randomness only, "
                     "with every behaviour prior at the scenario's value. Give --observed to "
                     "fit receptiveness and the primed allow probability and include their "
                     "uncertainty.")
    else:
        notes.append("Each trajectory draws its parameters from the fitted posterior: the "
                     "intervals cover parameter uncertainty and the simulation's randomness, "
                     "conditional on the other priors.")
    return Forecast(rollout=r, scenario=fc_sc, scale=scale, series=series,
                    predicted=predicted, observed=observed, fit=fit, notes=notes)


def quantile_frame(fc: Forecast) -> pd.DataFrame:
    """One row per day and series: mean and the 2.5, 10, 50, 90, 97.5% quantiles."""
    rows = []
    for name, x in fc.series.items():
        q = np.nanquantile(x, QS, axis=0)
        for d in range(x.shape[1]):
            rows.append({"day": d + 1, "series": name, "mean": float(np.nanmean(x[:, d])),
                         **{c: float(q[i, d]) for i, c in enumerate(QCOLS)}})
    return pd.DataFrame(rows)


def coverage(fc: Forecast) -> dict[str, float]:
    """Share of observed daily counts (all platforms) inside the 95% predictive interval."""
    if fc.predicted is None or fc.observed is None:
        return {}
    pred = fc.predicted.sum(axis=2)  # [trajectory, count, day]
    obs = fc.observed.sum(axis=1)  # [count, day]
    lo, hi = np.quantile(pred, (0.025, 0.975), axis=0)
    inside = (obs >= np.floor(lo)) & (obs <= np.ceil(hi))
    return {c: float(inside[i].mean()) for i, c in enumerate(COUNTS)}


def cell(name: str, values: np.ndarray) -> str:
    """A series' median [95% interval] over trajectories, in its unit."""
    q = np.nanquantile(values, (0.025, 0.5, 0.975))
    if SERIES[name][1] is not None:
        return f"{q[1]:.1f}% [{q[0]:.1f}% - {q[2]:.1f}%]"
    return f"{q[1]:,.0f} [{q[0]:,.0f} - {q[2]:,.0f}]"


def check_days(horizon: int) -> list[int]:
    """Days the summary table shows: 7, 30, 90 (those before the horizon) and the horizon."""
    return [d for d in (7, 30, 90) if d < horizon] + [horizon]


def write_forecast(fc: Forecast, out: Path) -> list[Path]:
    """Write ``forecast.csv`` and ``fit.json`` (when fitted); the page is ``forecast_html``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "forecast.csv"]
    quantile_frame(fc).to_csv(paths[0], index=False, float_format="%.1f")
    if fc.fit is not None:
        f = fc.fit
        doc = {"method": f.method, "parameters": f.summary, "prior_uniform": f.prior,
               "dispersion_phi": f.phi, "simulations": f.simulations,
               "goodness_of_fit": {"ratios": f.ratios, "daily_coverage_95": coverage(fc)}}
        paths.append(out / "fit.json")
        paths[-1].write_bytes(msgspec.json.format(msgspec.json.encode(doc), indent=2) + b"\n")
    return paths
