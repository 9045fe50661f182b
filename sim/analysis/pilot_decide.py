"""The decision a pilot informs: the pick per platform, how sure it is, what would resolve it.

``assess`` runs the sensitivity analysis (``sim.analysis.sensitivity``) and, per platform,
picks the strategy with the highest expected value and builds the metamodel of
``sim.analysis.pilot_value`` on the priors an experiment with the given signals can learn
and the strongest other drivers. The expected loss of each pick is the metamodel's (the
simulation noise averaged out); ``units_needed`` finds the units of the experiment that bring it
under a stated figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sim.analysis import pilot_value as pv
from sim.analysis.sensitivity import PriorDraws, run_sensitivity
from sim.engine.runner import RunResult
from sim.model import priors
from sim.model.scenario import Scenario
from sim.rules.config.platforms import FAMILY_OF, PROFILES


@dataclass(frozen=True)
class PlatformCall:
    """The decision on one platform."""

    platform: str
    pick: str
    values: dict[str, float]
    """Expected value per strategy, per 1,000 installs on the platform (over the draws)."""
    model: pv.Metamodel
    boxes: list[pv.PriorBox]
    loss_now: float
    """Expected loss of the pick against the truth's best (metamodel), per 1,000 installs."""
    flips: list[str]
    """What would still change the pick: the drivers' flip sentences."""


def platform_priors(sc: Scenario, platform: str, names: Sequence[str]) -> list[str]:
    """Of ``names``, those that act on ``platform`` (per-profile priors of its profiles, and
    every prior that is not per profile)."""
    profiles = sc.profiles()
    mine = {n for n in PROFILES if n in profiles and profiles[n].platform == platform}
    mine.add(FAMILY_OF[platform])  # uninstall_after_churn is keyed by family
    return [n for n in names if not priors.BY_NAME[n].keys or mine & set(priors.BY_NAME[n].keys)]


def call(sc: Scenario, raw: RunResult, draws: PriorDraws, platform: str,
         learnable: Sequence[str]) -> PlatformCall:
    """The pick on ``platform`` among ``sc``'s strategies (``raw`` may have simulated more)
    and its metamodel on the ``learnable`` priors (those acting on the platform) and the
    strongest significant other drivers."""
    names = sc.strategy_names()
    values = pv.values_of(raw, platform, names)
    mean = np.nanmean(values, axis=0)
    pick = names[int(np.nanargmax(mean))]
    found = pv.drivers(values, draws, names)
    chosen = [n for n in platform_priors(sc, platform, learnable) if n in draws.names]
    for d in found:
        if len(chosen) >= len(learnable) + pv.MAX_DRIVERS:
            break
        if d.significant and d.prior not in chosen and platform_priors(sc, platform, [d.prior]):
            chosen.append(d.prior)
    order = np.argsort(-mean, kind="stable")
    a, b = names[int(order[0])], names[int(order[min(1, len(order) - 1)])]
    flips = [f"`{a}` beats `{b}` only if {d.prior} {'>' if d.effect > 0 else '<'} "
             f"{d.flip:.3g}" for d in found if d.flip is not None][:3]
    model = pv.metamodel(values, draws, chosen)
    bx = pv.boxes(sc, draws, chosen)
    loss = pv.expected_loss(model, bx, [], [0.0], seed=sc.seed)[0] if chosen else 0.0
    return PlatformCall(platform, pick, dict(zip(names, mean.tolist(), strict=True)), model,
                        bx, loss, flips)


def assess(sc: Scenario, learnable: Sequence[str], *, draws: int, jobs: int = 1,
           on_task_done: Callable[[], None] | None = None,
           ) -> tuple[list[PlatformCall], dict[str, float]]:
    """The sensitivity run of ``sc`` with ``draws`` draws and the call on each platform it
    simulated enough devices of; the others with their installs per draw
    (``pilot_value.judged``)."""
    raw, pd_ = run_sensitivity(sc, draws, jobs=jobs, on_task_done=on_task_done)
    ok, thin = pv.judged(raw)
    return [call(sc, raw, pd_, p, learnable) for p in ok], thin


def units_needed(c: PlatformCall, signals: Sequence[pv.Signal], max_loss: float,
                 seed: int) -> tuple[float | None, list[tuple[float, float]]]:
    """Units of the experiment for the platform's expected loss to reach ``max_loss`` (``None``: not
    within two million), and the loss curve."""
    names = {b.name for b in c.boxes}
    mine = [s for s in signals if s.prior in names]

    def loss_at(units: list[float]) -> list[float]:
        if not c.boxes:
            return [0.0] * len(units)
        return pv.expected_loss(c.model, c.boxes, mine, units, seed=seed)

    return pv.installs_needed(loss_at, max_loss)
