"""Interval helpers shared by the summary, the reports and the analyses.

Student-t quantiles come from :mod:`scipy.stats` (exact for every degree of
freedom), never from a hand-kept table. An interval of a quantity that has a
valid range (a share in [0, 1], a count or rate >= 0) is clipped to that range:
the t-interval is symmetric, so with few replications or a share near 0 or 1
it would otherwise reach past what the quantity can be. Differences (paired
comparisons) have no range and are never clipped.

SciPy is imported by the first quantile, not with this module: the simulator's summary
imports it, and ``promptsim simulate``'s worker processes, forked before the run, would
each carry SciPy's ~60 MiB without using it (``bench/bench_sim.py``'s peak memory).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Bounds = tuple[float, float]
"""The valid range ``(low, high)`` of a quantity; ``math.inf`` for no upper limit."""
SHARE: Bounds = (0.0, 1.0)
"""A share of devices, as a fraction."""
PERCENT: Bounds = (0.0, 100.0)
"""A share of devices, in percent."""
COUNT: Bounds = (0.0, math.inf)
"""A count, or a count per install (per 1,000 installs): never negative."""
UNBOUNDED: Bounds = (-math.inf, math.inf)
"""A difference between strategies."""


def t_quantile(df: int | np.ndarray, level: float = 0.95) -> float | np.ndarray:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom
    (``t_quantile(40) == 2.021...``); elementwise for an array of ``df``."""
    from scipy import stats

    q = stats.t.ppf(0.5 + level / 2.0, df)
    return float(q) if np.ndim(q) == 0 else np.asarray(q, dtype=float)


def mean_ci(values: np.ndarray, bounds: Bounds = UNBOUNDED,
            level: float = 0.95) -> tuple[float, float, float]:
    """Mean and t-interval of per-replication ``values`` (NaNs dropped), clipped to ``bounds``.

    With one value there is no interval: both bounds are NaN.
    """
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if v.size < 2:
        return m, math.nan, math.nan
    half = float(t_quantile(v.size - 1, level)) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return m, max(bounds[0], m - half), min(bounds[1], m + half)


def band(x: np.ndarray, bounds: Bounds = UNBOUNDED,
         level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``mean_ci`` over axis 0 (replications), elementwise: ``(mean, lo, hi)`` arrays."""
    n = np.sum(~np.isnan(x), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(x, axis=0) if x.shape[0] else np.full(x.shape[1:], np.nan)
        sd = np.nanstd(x, axis=0, ddof=1) if x.shape[0] > 1 else np.full(x.shape[1:], np.nan)
    t = np.where(n >= 2, t_quantile(np.maximum(n - 1, 1), level), np.nan)
    half = t * sd / np.sqrt(np.maximum(n, 1))
    return mean, np.maximum(mean - half, bounds[0]), np.minimum(mean + half, bounds[1])


@dataclass(frozen=True)
class Estimate:
    """A mean over replications and its t-interval (NaN bounds with one replication)."""

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
    """``mean_ci`` as an ``Estimate``, clipped to ``bounds``."""
    return Estimate(*mean_ci(np.asarray(values, dtype=float), bounds))
