"""The per-platform picks and the composite policy, decided in one place.

``platform_picks`` applies the recommendation rule (``sim.analysis.recommend``) to each
platform's devices alone, then values the composite policy that runs each platform's
pick there against the best single strategy (the highest mean value over all devices).
The CLI's summary line, the report and ``sim.api.Result.decision`` all call it, so they
cannot name different picks.

The composite's value in each replication (or prior draw) is each platform's pick's value
weighted by that platform's installs under the pick: the objective is linear in per-install
counts and a device only ever meets its own platform's schedule, so this is the value of
the policy that runs the picks side by side. The picks are made on the same replications
that value them, so the gain is optimistic by the selection (for a platform whose pick is
the baseline it is exact); ``PlatformPicks.gain`` is its paired 95% interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.analysis.recommend import Recommendation, platform_policy, recommend
from sim.model.objective import outcomes
from sim.model.scenario import Scenario, Strategy
from sim.rules.config.platforms import PLATFORMS
from sim.stats import Estimate, estimate

PlatformCube = Callable[[str], np.ndarray]
"""A panel column summed per platform: ``[replication, strategy, platform, day]``."""


@dataclass
class PlatformPicks:
    """Per platform the recommended strategy, and the composite policy against one for all."""

    platforms: dict[str, Recommendation]
    """Per platform with installs, the recommendation among its devices alone."""
    best_single: str
    """The strategy with the highest mean value over all devices."""
    single_value: Estimate
    """Its value per 1,000 installs."""
    composite_value: Estimate
    """The composite policy's value per 1,000 installs (each platform runs its pick)."""
    gain: Estimate
    """Composite minus best single, per 1,000 installs, paired over replications (or draws)."""
    policy: Strategy | None
    """One strategy running each platform's pick there (None when one pick fits all)."""

    @property
    def picks(self) -> dict[str, str]:
        """Per platform, the strategy picked."""
        return {p: r.strategy for p, r in self.platforms.items()}

    def line(self) -> str:
        """One line for the CLI: each platform's pick with its value, then the composite."""
        parts = [f"{p} {r.strategy} ({r.value[r.strategy].mean:.1f})"
                 for p, r in self.platforms.items()]
        head = "picks per platform (the report's rule): " + ", ".join(parts)
        if self.policy is None:
            return head + f"; one strategy for all: {self.best_single}"
        g = self.gain
        ci = "" if np.isnan(g.lo) else f" (95% CI {g.lo:+.1f} to {g.hi:+.1f})"
        return (head + f"; composite policy {self.composite_value.mean:.1f} vs best single "
                f"{self.best_single} {self.single_value.mean:.1f}: {g.mean:+.1f}{ci} "
                "per 1,000 installs")


def _installs(cube: PlatformCube) -> np.ndarray:
    """Installs ``[replication, strategy, platform]``."""
    out: np.ndarray = cube("installs").sum(axis=-1)
    return out


def platform_picks(cube: PlatformCube, sc: Scenario, baseline: str,
                   draws: bool = False) -> PlatformPicks:
    """The picks of every platform with installs, and the composite policy's gain."""
    names = sc.strategy_names()
    installs = _installs(cube)
    plats: dict[str, Recommendation] = {}
    values: dict[str, np.ndarray] = {}
    for p, plat in enumerate(PLATFORMS):
        if installs[:, :, p].sum() == 0:
            continue

        def total(name: str, _p: int = p) -> np.ndarray:
            x: np.ndarray = cube(name)[:, :, _p]
            return x

        out = outcomes(total, sc.objective)
        plats[plat] = recommend(out, names, baseline, sc.objective, draws=draws)
        values[plat] = out["value"]
    overall = outcomes(lambda name: cube(name).sum(axis=2), sc.objective)["value"]
    best = int(np.nanargmax(np.nanmean(overall, axis=0)))
    num = np.zeros(overall.shape[0])
    den = np.zeros(overall.shape[0])
    for name, rec in plats.items():
        s, p = names.index(rec.strategy), PLATFORMS.index(name)
        w = installs[:, s, p]
        num += np.nan_to_num(values[name][:, s]) * w
        den += w
    with np.errstate(divide="ignore", invalid="ignore"):
        composite = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    picks = {p: r.strategy for p, r in plats.items()}
    policy = platform_policy(sc, picks) if len(set(picks.values())) > 1 else None
    return PlatformPicks(plats, names[best], estimate(overall[:, best]), estimate(composite),
                         estimate(composite - overall[:, best]), policy)
