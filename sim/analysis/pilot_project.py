"""The long run a pilot cannot see: each arm simulated past the experiment.

Each arm's policy runs as a strategy of the (calibrated) scenario for a year, every arm on
the same devices (common random numbers); per 1,000 installs, at each of ``AT`` days:
devices opted in, devices blocked for good, and uninstalls so far, with a 95% interval
over the replications (simulation noise; the priors are the scenario's values).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

from sim.engine.runner import simulate
from sim.model.scenario import Scenario, Strategy
from sim.stats import Estimate, estimate

AT: tuple[int, ...] = (180, 365)
"""Days the projection reports."""


@dataclass(frozen=True)
class Projection:
    """One arm at one day, per 1,000 installs."""

    arm: str
    day: int
    opted_in: Estimate
    blocked: Estimate
    uninstalls: Estimate


def project(sc: Scenario, arms: Sequence[Strategy], *, devices: int, replications: int,
            jobs: int = 1) -> list[Projection]:
    """Each arm for ``max(AT)`` days, ``devices`` devices, ``replications`` replications."""
    horizon = max(AT)
    run = simulate(msgspec.structs.replace(
        sc, strategies=tuple(arms), devices=devices, days=horizon, replications=replications,
        baseline=None, search=None,
        sensitivity=msgspec.structs.replace(sc.sensitivity, draws=0)), jobs=jobs)
    installs = np.cumsum(run.series("installs").sum(axis=2), axis=-1)  # [rep, strategy, day]
    uninst = np.cumsum(run.series("uninstalls").sum(axis=2), axis=-1)
    opted = run.series("opted_in_devices").sum(axis=2)
    blocked = run.series("blocked_devices").sum(axis=2)
    per = 1000.0 / np.maximum(installs, 1)
    out = []
    for s, arm in enumerate(arms):
        for day in AT:
            d = day - 1
            out.append(Projection(arm.name, day, estimate(opted[:, s, d] * per[:, s, d]),
                                  estimate(blocked[:, s, d] * per[:, s, d]),
                                  estimate(uninst[:, s, d] * per[:, s, d])))
    return out
