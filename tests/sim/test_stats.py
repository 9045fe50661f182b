"""Intervals over replications (``sim.stats``): exact t quantiles, clipped to the valid range."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from sim.engine.runner import simulate
from sim.engine.summary import COLUMNS, summary_rows
from sim.model.scenario import Scenario
from sim.stats import COUNT, PERCENT, SHARE, band, mean_ci, t_quantile


def test_t_quantile_is_exact_above_30_degrees_of_freedom() -> None:
    """The 97.5% quantile of t with 40 df is 2.021 (tables), not the normal 1.96."""
    assert t_quantile(40) == pytest.approx(2.0211, abs=1e-4)
    assert t_quantile(1) == pytest.approx(12.7062, abs=1e-4)
    assert t_quantile(np.array([2, 40])) == pytest.approx([4.3027, 2.0211], abs=1e-4)


def test_interval_uses_t_with_n_minus_1_degrees_of_freedom() -> None:
    """41 replications: half-width 2.021 sd / sqrt(41), wider than a normal interval."""
    v = np.random.default_rng(1).normal(size=41)
    m, lo, hi = mean_ci(v)
    sd = float(np.std(v, ddof=1))
    assert m == pytest.approx(float(v.mean()))
    assert hi - m == pytest.approx(2.0211 * sd / math.sqrt(41), rel=1e-4)
    assert hi - m > 1.96 * sd / math.sqrt(41)
    assert m - lo == pytest.approx(hi - m)


def test_intervals_widen_with_fewer_replications_and_higher_level() -> None:
    """Same spread: fewer replications or a higher level give a wider interval."""
    base = np.array([0.4, 0.5, 0.6])
    width = {n: np.subtract(*mean_ci(np.tile(base, n))[2:0:-1]) for n in (1, 2, 10)}
    assert width[1] > width[2] > width[10] > 0
    w95 = np.subtract(*mean_ci(base)[2:0:-1])
    w99 = np.subtract(*mean_ci(base, level=0.99)[2:0:-1])
    assert w99 > w95


def test_shares_and_counts_are_clipped_to_their_range() -> None:
    """A share's interval stays inside [0, 1] and a count's above 0; a difference is not
    clipped."""
    near_zero = np.array([0.0, 0.0, 0.02])
    m, lo, hi = mean_ci(near_zero)
    assert lo < 0
    assert mean_ci(near_zero, SHARE) == (m, 0.0, hi)
    assert mean_ci(near_zero * 1000, COUNT)[1] == 0.0
    near_one = np.array([1.0, 0.99, 1.0])
    assert mean_ci(near_one, SHARE)[2] == 1.0
    assert mean_ci(100 * near_one, PERCENT)[2] == 100.0


def test_one_replication_has_no_interval() -> None:
    """With one value the bounds are NaN, also after clipping; NaN values are dropped."""
    m, lo, hi = mean_ci(np.array([0.3, np.nan]), SHARE)
    assert m == 0.3 and math.isnan(lo) and math.isnan(hi)


def test_band_is_mean_ci_elementwise() -> None:
    """``band`` agrees with ``mean_ci`` column by column, drops NaNs and clips."""
    x = np.array([[1.0, 5.0, 0.0], [3.0, np.nan, 0.0], [5.0, 7.0, 3.0]])
    mean, lo, hi = band(x, COUNT)
    for j in range(3):
        assert (mean[j], lo[j], hi[j]) == pytest.approx(mean_ci(x[:, j], COUNT))
    assert lo[2] == 0.0


def test_summary_intervals_stay_in_range_and_columns_are_documented(small: Scenario) -> None:
    """Every share interval of the summary lies in [0, 1] and every count interval above 0
    (the objective's value may be negative); each column of summary.csv is documented in
    ``COLUMNS``."""
    rows = summary_rows(simulate(msgspec.structs.replace(small, devices=600, days=40)))
    for r in rows:
        for k, v in r.items():
            if k.endswith(("_lo", "_hi")) and not k.startswith("value") \
                    and not math.isnan(float(v)):  # type: ignore[arg-type]
                assert float(v) >= 0.0  # type: ignore[arg-type]
                if k.startswith(("optin_", "blocked_share", "provisional_")):
                    assert float(v) <= 1.0  # type: ignore[arg-type]
    documented = {k.replace("dN", "d7") for k in COLUMNS} | {"optin_d30", "optin_d90"}
    for k in rows[0]:
        assert k.removesuffix("_lo").removesuffix("_hi") in documented, k
