"""A known truth for the pilot tests: stats the simulator makes under hidden priors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from sim.analysis.pilot_truth import Arm, truth_stats
from sim.model import priors
from sim.model.scenario import Scenario, load_scenario
from sim.rules.assignment import arm_index  # the service's own assignment

SCENARIO = Path(__file__).with_name("pilot.toml")
START = dt.date(2026, 12, 1)


def truth(values: dict[str, float], path: Path = SCENARIO) -> Scenario:
    """The scenario with the hidden priors ``values`` in its behaviour."""
    sc = load_scenario(path)
    return msgspec.structs.replace(sc, behaviour=priors.apply(sc.behaviour, values))


def stats_under(hidden: Scenario, *, devices: int = 40_000, days: int = 21,
                experiment_id: str = "pilot-1",
                arms: Sequence[Arm] | None = None) -> dict[str, Any]:
    """The stats of an experiment of ``arms`` (default: the scenario's strategies, equal
    weights) under ``hidden``."""
    if arms is None:
        arms = [Arm(s.name, 1.0 / len(hidden.strategies), s) for s in hidden.strategies]
    weights = [a.weight for a in arms]
    return truth_stats(hidden, experiment_id, arms,
                       lambda unit: arm_index(experiment_id, unit, weights),
                       devices=devices, days=days, start=START)
