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
    is the highest, ties shared; seeded: deterministic. NaN for every column when there
    are no more replications than candidates: their sample covariance is then singular
    (rank ``n - 1 < m``), the joint noise of the candidates is not estimated, and draws
    from it called one of 42 near-equal candidates certain.

    Empirical Bayes, so the best of several near-equal candidates is not called certain:
    the true means are modelled as drawn around their average with a variance ``tau2``
    estimated from the spread of the sample means less the noise of their contrasts; the
    sample means have noise covariance ``V``, the replications' covariance / n (which keeps
    the positive correlation of common random numbers). The true means' posterior is then
    normal, mean ``mu + tau2 (tau2 I + V)^-1 (xbar - mu)`` (each mean shrunk to the average
    as far as its noise allows: the best sample mean is biased up by the selection) and
    covariance ``tau2 I - tau2^2 (tau2 I + V)^-1``; it is drawn ``PBEST_SAMPLES`` times.
    For 5 equal candidates at 8 replications the highest P(best) averaged 0.53 without the
    shrinkage (0.2 is right) and 0.36 with it (``tests/analysis/test_optimize.py``)."""
    n, m = values.shape
    if m == 1:
        return np.ones(1)
    v = values[~np.isnan(values).any(axis=1)]
    n = v.shape[0]
    if n - 1 < m:
        return np.full(m, np.nan)
    xbar = v.mean(axis=0)
    var = np.cov(v, rowvar=False) / n
    mu = float(xbar.mean())
    spread = float(np.sum((xbar - mu) ** 2)) / (m - 1)
    noise = float(np.trace(var) - var.sum() / m) / (m - 1)
    tau2 = max(spread - noise, 1e-9 * (spread + float(np.trace(var)) / m) + 1e-300)
    inv = np.linalg.solve(tau2 * np.eye(m) + var, np.eye(m))
    mean = mu + tau2 * inv @ (xbar - mu)
    cov = tau2 * np.eye(m) - tau2 * tau2 * inv
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal(mean, (cov + cov.T) / 2.0, size=PBEST_SAMPLES,
                                    method="eigh")
    best = draws == draws.max(axis=1, keepdims=True)
    out: np.ndarray = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
    return out


def p_best_text(p: float) -> str:
    """A P(best) as printed: a whole percentage, or "n/a" when it is not estimated."""
    return "n/a" if math.isnan(p) else f"{100 * p:.0f}%"


def not_estimated(replications: int, finalists: int) -> str:
    """Why P(best) is "n/a"."""
    return (f"P(best) n/a: {replications} replications cannot estimate the joint noise of "
            f"{finalists} finalists (it needs more replications than finalists); raise "
            f"--budget, or search.first_round so that the race drops more")
