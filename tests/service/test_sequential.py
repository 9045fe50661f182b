"""Always-valid intervals (``sim.service.sequential``): the published margin, and coverage
over whole streams that are read again and again."""

from __future__ import annotations

import math

import numpy as np

from sim.service.sequential import PLANNED_UNITS, difference_interval, margin, rho_for


def test_margin_is_the_normal_mixture_boundary() -> None:
    """Theorem 2.2 of Waudby-Smith et al.: at t = 1,000, rho^2 = 0.1, alpha = 0.05 and a unit
    standard deviation, sqrt(2 * 101 * log(sqrt(101) / 0.05) / (1e6 * 0.1)) = 0.103502"""
    expected = math.sqrt(2 * 101 * math.log(math.sqrt(101) / 0.05) / (1e6 * 0.1))
    assert math.isclose(margin(1000, 1.0, 0.05, math.sqrt(0.1)), expected, rel_tol=1e-12)
    assert round(expected, 6) == 0.103502


def test_wider_than_a_fixed_sample_interval_and_narrowest_near_the_planned_size() -> None:
    """The price of peeking: at every t it is wider than the 95% normal interval (1.96 sd /
    sqrt(t)), and its ratio to that interval is smallest near the planned units."""
    rho = rho_for(PLANNED_UNITS, 0.05)
    ratios = {t: margin(t, 1.0, 0.05, rho) / (1.96 / math.sqrt(t))
              for t in (100, 1000, PLANNED_UNITS, 50_000, 500_000)}
    assert all(r > 1 for r in ratios.values())
    assert min(ratios, key=lambda t: ratios[t]) == PLANNED_UNITS


def test_difference_interval_of_known_counts() -> None:
    """400/1,000 against 300/1,000: the difference is 0.1 and the interval contains it,
    within (-1, 1); an arm with no units says nothing."""
    d, (lo, hi) = difference_interval(400, 1000, 300, 1000, 0.05)
    assert math.isclose(d, 0.1)
    assert lo < 0.1 < hi and lo >= -1 and hi <= 1
    assert difference_interval(0, 0, 5, 10, 0.05) == (0.0, (-1.0, 1.0))
    d0, (lo0, hi0) = difference_interval(0, 500, 0, 500, 0.05)
    assert d0 == 0 and lo0 < 0 < hi0  # no event in either arm: still not certain


def test_coverage_over_streams_read_at_every_step() -> None:
    """300 streams of 4,000 units (two arms, rates 0.30 and 0.25), each read after every 20
    units: the share of streams whose interval ever misses the true difference stays below
    alpha = 0.05 plus three Monte Carlo standard errors (seed 7). A fixed-sample 95%
    interval read as often misses far more often (the reason for the sequence)."""
    rng = np.random.default_rng(7)
    streams, n, step, alpha = 300, 4000, 20, 0.05
    arm = rng.random((streams, n)) < 0.5
    y = np.where(arm, rng.random((streams, n)) < 0.30, rng.random((streams, n)) < 0.25)
    looks = np.arange(step, n + 1, step)
    n_a = np.cumsum(arm, axis=1)[:, looks - 1]
    n_b = looks - n_a
    x_a = np.cumsum(y & arm, axis=1)[:, looks - 1]
    x_b = np.cumsum(y & ~arm, axis=1)[:, looks - 1]
    missed = fixed_missed = 0
    for s in range(streams):
        miss = fixed = False
        for k in range(len(looks)):
            d, (lo, hi) = difference_interval(int(x_a[s, k]), int(n_a[s, k]), int(x_b[s, k]),
                                              int(n_b[s, k]), alpha)
            miss |= not lo <= 0.05 <= hi
            pa, pb = x_a[s, k] / n_a[s, k], x_b[s, k] / n_b[s, k]
            se = math.sqrt(pa * (1 - pa) / n_a[s, k] + pb * (1 - pb) / n_b[s, k])
            fixed |= abs(d - 0.05) > 1.96 * se
        missed += miss
        fixed_missed += fixed
    mc = 3 * math.sqrt(alpha * (1 - alpha) / streams)
    assert missed / streams <= alpha + mc, missed
    assert fixed_missed / streams > 2 * alpha, fixed_missed
