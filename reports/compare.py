"""Strategy against baseline: per-replication metrics, paired differences, a recommendation.

Strategies in one run share common random numbers and replication ``r`` of every
strategy uses the same seed stream, so a difference is taken *within* each
replication first; its mean and 95% t-interval over replications are far
tighter than comparing two independent intervals would suggest.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from sim.stats import COUNT, PERCENT, UNBOUNDED, Bounds, mean_ci

Getter = Callable[[str], np.ndarray]
"""Returns a panel column summed over platforms, ``[replication, strategy, day]``."""


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
    Metric("optin_per_1k", "Opted-in devices at the horizon", "per 1,000 installs", "higher", 1),
    Metric("optin_share", "Opt-in share of installed devices at the horizon", "%", "higher", 2,
           PERCENT),
    Metric("reach_201", "Opted-in users (201) at the horizon", "users, counted per platform",
           "higher", 0),
    Metric("reachable", "Reachable users (200 + 201) at the horizon",
           "users, counted per platform", "higher", 0),
    Metric("annoyance_per_1k", "Uninstalls caused by prompts", "per 1,000 installs", "lower", 2),
    Metric("blocked_share", "Devices whose OS dialog is gone for good, at the horizon",
           "% of installed", "lower", 2, PERCENT),
    Metric("dialogs_per_1k", "OS dialogs shown", "per 1,000 installs", None, 1),
    Metric("prompts_per_install", "Soft prompts shown", "per install", None, 2),
    Metric("opt_outs_per_1k", "Opt-outs after opting in", "per 1,000 installs", "lower", 2),
)
"""The comparison table's rows, in order."""
PRIMARY = "optin_per_1k"
"""The metric the recommendation maximises."""
GUARDRAIL = "annoyance_per_1k"
"""The metric the recommendation will not let grow past a tolerance."""


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def metric_values(total: Getter) -> dict[str, np.ndarray]:
    """Every metric of ``METRICS`` as an array ``[replication, strategy]``."""
    installs = total("installs").sum(axis=-1)
    active = total("active_devices")[..., -1]
    opted = total("opted_in_devices")[..., -1]

    def per_1k(flow: str) -> np.ndarray:
        return 1000.0 * _div(total(flow).sum(axis=-1), installs)

    return {
        "optin_per_1k": 1000.0 * _div(opted, installs),
        "optin_share": 100.0 * _div(opted, active),
        "reach_201": total("reach_201")[..., -1],
        "reachable": total("reach_200")[..., -1] + total("reach_201")[..., -1],
        "annoyance_per_1k": per_1k("annoyance_uninstalls"),
        "blocked_share": 100.0 * _div(total("blocked_devices")[..., -1], active),
        "dialogs_per_1k": per_1k("os_dialogs_shown"),
        "prompts_per_install": _div(total("soft_prompts_shown").sum(axis=-1), installs),
        "opt_outs_per_1k": per_1k("opt_outs"),
    }


@dataclass(frozen=True)
class Estimate:
    """A mean over replications and its 95% t-interval (NaN bounds with one replication)."""

    mean: float
    lo: float
    hi: float

    @property
    def significant(self) -> bool | None:
        """Whether the interval excludes zero (``None``: no interval)."""
        if math.isnan(self.lo):
            return None
        return self.lo > 0 or self.hi < 0


def estimate(values: np.ndarray, bounds: Bounds = UNBOUNDED) -> Estimate:
    """``sim.stats.mean_ci`` as an ``Estimate``, clipped to ``bounds``."""
    return Estimate(*mean_ci(np.asarray(values, dtype=float), bounds))


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


@dataclass
class Recommendation:
    """The strategy the report recommends, the rule that picked it and the numbers behind it."""

    strategy: str
    baseline: str
    rule: str
    reasons: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)
    tied: list[str] = field(default_factory=list)
    provisional: bool = False
    """True when intervals are missing (one replication) and only means decided."""


def _fmt(e: Estimate, decimals: int, signed: bool = False) -> str:
    f = f"{{:{'+' if signed else ''}.{decimals}f}}"
    if math.isnan(e.lo):
        return f.format(e.mean)
    return f"{f.format(e.mean)} (95% CI {f.format(e.lo)} to {f.format(e.hi)})"


def recommend(values: dict[str, np.ndarray], strategies: list[str], baseline: str,
              max_extra_annoyance: float = 5.0) -> Recommendation:
    """Pick a strategy by the stated rule (see ``Recommendation.rule``)."""
    rule = (
        f"Maximise opted-in devices at the horizon per 1,000 installs (installs, not installed "
        f"devices, so a strategy gains nothing by driving the people who say no to uninstall). "
        f"A strategy is ruled out when its uninstalls caused by prompts exceed the baseline's "
        f"by more than {max_extra_annoyance:g} per 1,000 installs on average and that excess is "
        f"significant (its paired 95% interval lies above zero). The best remaining strategy is "
        f"recommended only if it beats the baseline significantly (paired 95% interval above "
        f"zero); otherwise keep the baseline. Strategies whose paired difference from the "
        f"recommended one is not significant are reported as tied.")
    b = strategies.index(baseline)
    prim, guard = values[PRIMARY], values[GUARDRAIL]
    rec = Recommendation(strategy=baseline, baseline=baseline, rule=rule)
    rec.provisional = prim.shape[0] < 2
    allowed = []
    for s, name in enumerate(strategies):
        extra = estimate(guard[:, s] - guard[:, b])
        # With one replication there is no interval: the mean alone decides (provisional).
        worse = extra.significant if extra.significant is not None else True
        if s != b and extra.mean > max_extra_annoyance and worse:
            gain = estimate(prim[:, s] - prim[:, b])
            rec.excluded[name] = (f"{_fmt(extra, 2, True)} uninstalls caused by prompts per "
                                  f"1,000 installs against {baseline}, for "
                                  f"{_fmt(gain, 1, True)} opted-in devices per 1,000 installs")
        else:
            allowed.append(s)
    best = max(allowed, key=lambda s: float(np.nanmean(prim[:, s])))
    gain = estimate(prim[:, best] - prim[:, b])
    level = estimate(prim[:, best])
    base_level = estimate(prim[:, b])
    if best == b:
        rec.reasons.append(f"No allowed strategy has more opted-in devices per 1,000 installs "
                           f"than the baseline {baseline} ({_fmt(base_level, 1)}).")
    elif gain.significant or (rec.provisional and gain.mean > 0):
        rec.strategy = strategies[best]
        rec.reasons.append(
            f"{strategies[best]}: {_fmt(level, 1)} opted-in devices per 1,000 installs at the "
            f"horizon against {_fmt(base_level, 1)} for {baseline}; paired difference "
            f"{_fmt(gain, 1, True)}.")
    else:
        rec.reasons.append(
            f"The best allowed strategy, {strategies[best]}, does not beat {baseline} "
            f"significantly: paired difference {_fmt(gain, 1, True)} opted-in devices per 1,000 "
            f"installs. Keep the baseline.")
    r = strategies.index(rec.strategy)
    extra = estimate(guard[:, r] - guard[:, b])
    if r != b:
        rec.reasons.append(f"Its uninstalls caused by prompts: {_fmt(estimate(guard[:, r]), 2)} "
                           f"per 1,000 installs, {_fmt(extra, 2, True)} against {baseline}.")
    for s in allowed:
        if s != r:
            d = estimate(prim[:, s] - prim[:, r])
            if d.significant is False:
                rec.tied.append(strategies[s])
    if rec.provisional:
        rec.reasons.append("Only one replication: no intervals, so this is decided on means "
                           "alone and is provisional. Run more replications.")
    return rec
