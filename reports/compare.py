"""Strategy against baseline: per-replication metrics and paired differences.

Strategies in one run share common random numbers and replication ``r`` of every
strategy uses the same seed stream, so a difference is taken *within* each
replication first; its mean and 95% t-interval over replications are far
tighter than comparing two independent intervals would suggest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from sim.model.objective import Objective, outcomes, ratio
from sim.stats import COUNT, PERCENT, UNBOUNDED, Bounds, Estimate, estimate

Getter = Callable[[str], np.ndarray]
"""Returns a panel column summed over the devices in view, ``[replication, strategy, day]``."""


@dataclass(frozen=True)
class Metric:
    """A number per replication and strategy that the comparison table reports."""

    key: str
    label: str
    unit: str
    better: Literal["higher", "lower"] | None
    decimals: int
    bounds: Bounds = COUNT
    """Valid range of a strategy's value: its interval is clipped to it (not a difference's)."""


METRICS: tuple[Metric, ...] = (
    Metric("value", "Value under the scenario's objective", "per 1,000 installs", "higher", 1,
           UNBOUNDED),
    Metric("optin_share", "Opted in: share of installed devices at the horizon",
           "% of installed devices", "higher", 1, PERCENT),
    Metric("provisional_share", "Provisional (quiet delivery, not opted in), at the horizon",
           "% of installed devices", None, 1, PERCENT),
    Metric("blocked_share", "Blocked for good (OS dialog gone, not opted in), at the horizon",
           "% of installed devices", "lower", 1, PERCENT),
    Metric("reachable_share", "Opted in and receiving push (not revoked by Chrome, subscription "
           "kept by WebKit, not hibernating), at the horizon", "% of installed devices",
           "higher", 1, PERCENT),
    Metric("prompt_uninstalls_per_1k", "Uninstalls caused by prompts", "per 1,000 installs",
           "lower", 2),
    Metric("reach_201", "Users receiving push (201: opted in or provisional) at the horizon",
           "users, counted per platform", "higher", 0),
    Metric("reachable", "Reachable users (200 + 201) at the horizon",
           "users, counted per platform", "higher", 0),
    Metric("dialogs_per_1k", "OS dialogs shown", "per 1,000 installs", None, 1),
    Metric("prompts_per_install", "Soft prompts shown", "per install", None, 2),
    Metric("opt_outs_per_1k", "Opt-outs after opting in", "per 1,000 installs", "lower", 2),
)
"""The comparison table's rows, in order. Shares are of installed (active) devices, the one
unit of opt-in everywhere; provisional devices are their own row."""


def metric_values(total: Getter, objective: Objective) -> dict[str, np.ndarray]:
    """Every metric of ``METRICS`` as an array ``[replication, strategy]``, plus the raw
    outcomes of ``sim.model.objective.outcomes`` (shares as fractions)."""
    installs = total("installs").sum(axis=-1)
    out = outcomes(total, objective)

    def per_1k(flow: str) -> np.ndarray:
        return 1000.0 * ratio(total(flow).sum(axis=-1), installs)

    return {
        **{f"raw_{k}": v for k, v in out.items()},
        "value": out["value"],
        "optin_share": 100.0 * out["optin_share"],
        "provisional_share": 100.0 * out["provisional_share"],
        "blocked_share": 100.0 * out["blocked_share"],
        "reachable_share": 100.0 * out["reachable_share"],
        "prompt_uninstalls_per_1k": out["prompt_uninstalls_per_1k"],
        "reach_201": total("reach_201")[..., -1],
        "reachable": total("reach_200")[..., -1] + total("reach_201")[..., -1],
        "dialogs_per_1k": per_1k("os_dialogs_shown"),
        "prompts_per_install": ratio(total("soft_prompts_shown").sum(axis=-1), installs),
        "opt_outs_per_1k": per_1k("opt_outs"),
    }


def raw_outcomes(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The ``sim.model.objective.outcomes`` inside ``metric_values``' result."""
    return {k[4:]: v for k, v in values.items() if k.startswith("raw_")}


@dataclass(frozen=True)
class Row:
    """One metric of one strategy: its level and its paired difference from the baseline."""

    metric: Metric
    strategy: str
    value: Estimate
    diff: Estimate
    """Strategy minus baseline, paired by replication (zero for the baseline itself)."""


def paired_rows(values: dict[str, np.ndarray], strategies: list[str],
                baseline: str) -> list[Row]:
    """The comparison table: every metric x strategy, differences paired by replication."""
    b = strategies.index(baseline)
    rows = []
    for m in METRICS:
        v = values[m.key]
        for s, name in enumerate(strategies):
            rows.append(Row(m, name, estimate(v[:, s], m.bounds), estimate(v[:, s] - v[:, b])))
    return rows
