"""The statistics of the optimizer's race: the round schedule, who is dropped, P(best).

Candidates are compared on paired replications: replication ``r`` of every
candidate runs on the same devices with the same random answers (common random
numbers), so the difference of two candidates' values in one replication is free
of the noise they share. After a round with ``n`` replications, candidate ``i`` is
dropped when some other alive candidate ``j`` beats it clearly: the one-sided
lower confidence bound of the mean paired difference ``v_j - v_i``,

    mean(d) - t(n - 1, 1 - alpha') * sd(d) / sqrt(n),

is above zero. ``alpha' = (1 - confidence) / ((K - 1) * E)``, ``K`` the candidates
and ``E`` the elimination rounds: to drop the truly best candidate some rival must
beat it in some round, and there are at most ``(K - 1) * E`` such tests, so by
Bonferroni the chance the best is ever dropped is at most ``1 - confidence``
(given t-distributed paired means). Elimination rounds are every round but the
last; the survivors of the last are the finalists, at full precision.
"""

from __future__ import annotations

import math

import numpy as np

from sim.stats import t_quantile

PBEST_SAMPLES = 20_000
"""Draws of the finalists' mean values behind P(best)."""


def schedule(first: int, full: int) -> list[int]:
    """Cumulative replications after each round: ``first``, doubling, up to ``full``."""
    out = [min(first, full)]
    while out[-1] < full:
        out.append(min(full, 2 * out[-1]))
    return out


def per_test_alpha(confidence: float, candidates: int, rounds: int) -> float:
    """``alpha'``: the one-sided level of each paired test (Bonferroni)."""
    tests = max(1, (candidates - 1) * max(1, rounds - 1))
    return (1.0 - confidence) / tests


def beaten(values: np.ndarray, alpha: float) -> list[int]:
    """Columns of ``values[replication, candidate]`` some other column beats clearly (paired
    lower bound of the difference above zero at one-sided level ``alpha``); a pair with a
    missing value (no devices of the platform in a replication) is not compared."""
    n, m = values.shape
    if n < 2 or m < 2:
        return []
    t = float(t_quantile(n - 1, 1.0 - 2.0 * alpha))
    out = []
    for i in range(m):
        for j in range(m):
            if i == j:
                continue
            d = values[:, j] - values[:, i]
            if np.isnan(d).any():
                continue
            lb = float(d.mean()) - t * float(d.std(ddof=1)) / math.sqrt(n)
            if lb > 0:
                out.append(i)
                break
    return out


def p_best(values: np.ndarray, seed: int) -> np.ndarray:
    """Per column of ``values[replication, candidate]``, the probability that its true mean
    is the highest: the mean vector drawn ``PBEST_SAMPLES`` times from a normal with the
    sample means and their covariance (the replications' covariance / n, which keeps the
    positive correlation of common random numbers); ties share. Seeded: deterministic."""
    n, m = values.shape
    if m == 1:
        return np.ones(1)
    v = values[~np.isnan(values).any(axis=1)]
    n = v.shape[0]
    if n < 2:
        return np.full(m, 1.0 / m)
    mean = v.mean(axis=0)
    cov = np.cov(v, rowvar=False) / n
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal(mean, cov, size=PBEST_SAMPLES, method="eigh")
    best = draws == draws.max(axis=1, keepdims=True)
    out: np.ndarray = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
    return out
