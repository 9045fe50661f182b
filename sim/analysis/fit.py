"""Fitting behaviour parameters to the first days of a real rollout.

Method: simulation-based (synthetic) likelihood with a quadratic surrogate, in
three rounds that zoom in on the posterior.

1. The data are the observed totals per platform over the observed days:
   soft prompts accepted out of shown, and OS dialogs allowed out of shown.
   Given a parameter value each is modelled as quasi-binomial: binomial with a
   dispersion factor ``phi`` >= 1, because one user answers several prompts
   (heterogeneous receptiveness makes the answers correlated).
2. The simulator gives the expected ratio at a parameter value only with noise,
   so it is run at design points (a Latin hypercube in the current box, each
   with its own seed) and ``logit(ratio)`` is regressed on a quadratic in
   ``(logit receptiveness_mean, log primed_allow_scale)`` by weighted least
   squares (weights: binomial information). The residuals estimate ``phi``.
3. The posterior on a grid is uniform prior x quasi-likelihood, averaged over
   draws of the regression coefficients from their sampling distribution, so
   the surrogate's own uncertainty widens the posterior instead of hiding.
4. Each round's box is the previous posterior's 99.9% range widened by half on
   each side; the quadratic is refitted only on design points inside it.

Everything else in the scenario is held at its value: the intervals are
conditional on those priors being right.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pandas as pd
from scipy.stats import qmc

from sim.engine.runner import simulate
from sim.model.behaviour import Behaviour, DialogOdds
from sim.model.scenario import Scenario
from sim.rules.config.platforms import PLATFORMS

OBSERVED_COLUMNS: tuple[str, ...] = ("day", "platform", "soft_prompts_shown",
                                     "soft_prompts_accepted", "os_dialogs_shown",
                                     "os_dialogs_allowed")
COUNTS: tuple[str, ...] = OBSERVED_COLUMNS[2:]
RATIOS: tuple[tuple[str, str, str], ...] = (
    ("acceptance", "soft_prompts_accepted", "soft_prompts_shown"),
    ("allow", "os_dialogs_allowed", "os_dialogs_shown"),
)
"""(name, successes, trials) of the statistics the fit matches."""
PARAMS: tuple[str, ...] = ("receptiveness_mean", "primed_allow_scale")


class FitError(ValueError):
    """Observed data that cannot be fitted; the message names the file and the problem."""


def read_observed(path: str | Path) -> pd.DataFrame:
    """Read and check the observed daily counts; days are shifted so the first is day 0."""
    path = Path(path)
    try:
        df = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise FitError(f"{path}: cannot read CSV: {exc}") from None
    missing = [c for c in OBSERVED_COLUMNS if c not in df.columns]
    if missing:
        raise FitError(f"{path}: missing columns {', '.join(missing)}; expected "
                       f"{', '.join(OBSERVED_COLUMNS)}")
    if df.empty:
        raise FitError(f"{path}: no rows")
    bad = sorted(set(df["platform"].astype(str)) - set(PLATFORMS))
    if bad:
        raise FitError(f"{path}: unknown platform {bad[0]!r}; allowed: {', '.join(PLATFORMS)}")
    for c in ("day", *COUNTS):
        v = pd.to_numeric(df[c], errors="coerce")
        if v.isna().any() or (v < 0).any() or (v != np.floor(v)).any():
            raise FitError(f"{path}: column {c} must hold non-negative integers")
        df[c] = v.astype(np.int64)
    for _, k, n in RATIOS:
        if (df[k] > df[n]).any():
            raise FitError(f"{path}: {k} exceeds {n} on some row")
    df["platform"] = df["platform"].astype(str)
    if df.duplicated(["day", "platform"]).any():
        raise FitError(f"{path}: more than one row for a (day, platform)")
    days = np.sort(df["day"].unique())
    if not np.array_equal(days, np.arange(days[0], days[0] + len(days))):
        raise FitError(f"{path}: days must be consecutive (found gaps between {days[0]} and "
                       f"{days[-1]})")
    df["day"] -= days[0]
    return df.sort_values(["day", "platform"]).reset_index(drop=True)


def observed_cube(df: pd.DataFrame) -> np.ndarray:
    """Observed counts as ``[count, platform, day]`` (``COUNTS`` x ``PLATFORMS``)."""
    days = int(df["day"].max()) + 1
    out = np.zeros((len(COUNTS), len(PLATFORMS), days))
    p = df["platform"].map({n: i for i, n in enumerate(PLATFORMS)}).to_numpy()
    for i, c in enumerate(COUNTS):
        out[i, p, df["day"].to_numpy()] = df[c].to_numpy()
    return out


# --- parameters -----------------------------------------------------------------

def scale_allow(odds: DialogOdds, scale: float) -> DialogOdds:
    """``odds`` with ``allowed`` multiplied by ``scale`` (at most 1), the rest shrunk alike."""
    return odds.with_allowed(odds.allowed * scale)


def apply_params(b: Behaviour, receptiveness_mean: float,
                 primed_allow_scale: float) -> Behaviour:
    """The behaviour with the two fitted parameters set."""
    primed = {k: scale_allow(v, primed_allow_scale) for k, v in b.dialog_primed.items()}
    return msgspec.structs.replace(b, receptiveness_mean=receptiveness_mean,
                                   dialog_primed=primed)


def prior_box(sc: Scenario) -> np.ndarray:
    """Uniform prior bounds ``[[rho_lo, rho_hi], [s_lo, s_hi]]``.

    The scale's upper bound is where the likeliest primed allow probability in
    the population reaches 1: beyond it the parameter is not identified.
    """
    profiles = sc.profiles()
    top = max((sc.behaviour.dialog_primed[n].allowed for n in sc.population.mix
               if profiles[n].os_dialog and n in sc.behaviour.dialog_primed), default=0.5)
    return np.array([[0.02, 0.95], [0.2, min(3.0, 1.0 / max(top, 1e-9))]])


def to_x(theta: np.ndarray) -> np.ndarray:
    """Parameters to the regression scale: (logit rho, log s)."""
    rho, s = theta[..., 0], theta[..., 1]
    return np.stack([np.log(rho / (1 - rho)), np.log(s)], axis=-1)


def to_theta(x: np.ndarray) -> np.ndarray:
    """Inverse of ``to_x``."""
    return np.stack([1 / (1 + np.exp(-x[..., 0])), np.exp(x[..., 1])], axis=-1)


# --- running the simulator -----------------------------------------------------

SeriesOut = dict[str, np.ndarray]


def run_one(sc: Scenario, names: Sequence[str]) -> SeriesOut:
    """Simulate ``sc`` (one strategy) and keep ``names`` as ``[replication, platform, day]``."""
    res = simulate(sc, jobs=1)
    return {n: res.by_platform(n)[:, 0] for n in names}


def run_many(scenarios: Sequence[Scenario], names: Sequence[str], jobs: int,
             on_done: Callable[[], None] | None = None) -> list[SeriesOut]:
    """``run_one`` over scenarios, on ``jobs`` worker processes (1: in this process), in
    their order; ``on_done`` is called as each simulation finishes."""
    tick = on_done or (lambda: None)
    if jobs <= 1 or len(scenarios) <= 1:
        out = []
        for s in scenarios:
            out.append(run_one(s, names))
            tick()
        return out
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_one, s, tuple(names)) for s in scenarios]
        for _ in as_completed(futures):
            tick()
        return [f.result() for f in futures]


def seed_for(root: int, *key: int) -> int:
    """An independent 32-bit seed per design point or trajectory."""
    return int(np.random.SeedSequence([root, *key]).generate_state(1)[0])


# --- the surrogate and the posterior ----------------------------------------------

def features(x: np.ndarray, centre: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Quadratic features of standardised ``x``: 1, z1, z2, z1^2, z1 z2, z2^2."""
    z = (x - centre) / spread
    z1, z2 = z[..., 0], z[..., 1]
    return np.stack([np.ones_like(z1), z1, z2, z1 * z1, z1 * z2, z2 * z2], axis=-1)


@dataclass
class Surrogate:
    """``logit E[ratio] = features(x) @ beta`` for every (statistic, platform) observed."""

    keys: list[tuple[int, int]]
    """(ratio index, platform index) of each row of ``beta``."""
    beta: np.ndarray
    cov: np.ndarray
    """Sampling covariance of each row of ``beta`` (already times ``phi``)."""
    phi: np.ndarray
    """Dispersion per ratio (>= 1)."""
    centre: np.ndarray
    spread: np.ndarray


def fit_surrogate(x: np.ndarray, k: np.ndarray, n: np.ndarray,
                  keys: list[tuple[int, int]]) -> Surrogate:
    """Weighted least squares of logit ratios on quadratic features, ``k, n: [point, key]``."""
    centre, spread = x.mean(axis=0), x.std(axis=0) + 1e-9
    f = features(x, centre, spread)
    p = (k + 0.5) / (n + 1.0)
    y = np.log(p / (1 - p))
    w = n * p * (1 - p)
    betas, covs, res2, dfs = [], [], np.zeros(len(RATIOS)), np.zeros(len(RATIOS))
    for j, (r, _) in enumerate(keys):
        fw = f * w[:, j, None]
        xtwx = f.T @ fw + 1e-9 * np.eye(f.shape[1])
        beta = np.linalg.solve(xtwx, fw.T @ y[:, j])
        resid = y[:, j] - f @ beta
        res2[r] += float(np.sum(w[:, j] * resid ** 2))
        dfs[r] += max(len(x) - f.shape[1], 1)
        betas.append(beta)
        covs.append(np.linalg.inv(xtwx))
    phi = np.maximum(1.0, np.divide(res2, dfs, out=np.ones_like(res2), where=dfs > 0))
    cov = np.stack([c * phi[r] for c, (r, _) in zip(covs, keys, strict=True)])
    return Surrogate(keys, np.stack(betas), cov, phi, centre, spread)


def log_posterior(s: Surrogate, grid_x: np.ndarray, k_obs: np.ndarray, n_obs: np.ndarray,
                  rng: np.random.Generator, draws: int = 64) -> np.ndarray:
    """Posterior density (normalised) on ``grid_x``, averaged over surrogate coefficient draws.

    The prior is uniform on (rho, s); on the grid's (logit rho, log s) scale
    that is the Jacobian rho (1 - rho) s.
    """
    f = features(grid_x, s.centre, s.spread)  # [g, 6]
    theta = to_theta(grid_x)
    log_jac = np.log(theta[:, 0] * (1 - theta[:, 0]) * theta[:, 1])
    chol = np.stack([np.linalg.cholesky(c + 1e-12 * np.eye(len(c))) for c in s.cov])
    post = np.zeros(len(grid_x))
    for _ in range(draws):
        ll = log_jac.copy()
        for j, (r, _) in enumerate(s.keys):
            beta = s.beta[j] + chol[j] @ rng.standard_normal(len(s.beta[j]))
            eta = f @ beta
            # log p = -log(1 + e^-eta), log (1 - p) = -log(1 + e^eta)
            ll += (-k_obs[j] * np.logaddexp(0, -eta)
                   - (n_obs[j] - k_obs[j]) * np.logaddexp(0, eta)) / s.phi[r]
        ll -= ll.max()
        dens = np.exp(ll)
        post += dens / dens.sum()
    return post / draws


def latin_hypercube(box: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points in ``box`` ([dim, 2]) with one point per stratum of every axis
    (``scipy.stats.qmc.LatinHypercube``, drawn from ``rng``)."""
    u = qmc.LatinHypercube(d=len(box), rng=rng).random(n)
    out: np.ndarray = qmc.scale(u, box[:, 0], box[:, 1])
    return out


def quantiles(values: np.ndarray, weights: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Weighted quantiles of a discrete distribution."""
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    cum /= cum[-1]
    out: np.ndarray = np.interp(qs, cum, values[order])
    return out


@dataclass
class Fit:
    """The fitted parameters: posterior draws, summaries, and how they were obtained."""

    method: str
    samples: np.ndarray
    """Posterior draws ``[draw, (receptiveness_mean, primed_allow_scale)]``."""
    summary: dict[str, dict[str, float]]
    """Per parameter: mean, q2.5, q10, q50, q90, q97.5."""
    prior: dict[str, tuple[float, float]]
    phi: dict[str, float]
    simulations: int
    ratios: list[dict[str, Any]] = field(default_factory=list)
    """Per statistic and platform: observed and fitted ratio, trials, z-score."""

    def interval(self, name: str, level: int = 95) -> tuple[float, float]:
        """The central credible interval of a parameter (80 or 95)."""
        lo, hi = {80: ("q10", "q90"), 95: ("q2.5", "q97.5")}[level]
        return self.summary[name][lo], self.summary[name][hi]


QS = (0.025, 0.10, 0.50, 0.90, 0.975)
QNAMES = ("q2.5", "q10", "q50", "q90", "q97.5")


POINTS = 16
"""Design points per round of the fit."""
ROUNDS = 3
"""Rounds of the fit: ``POINTS * ROUNDS`` simulations."""


def fit_observed(sc: Scenario, observed: np.ndarray, *, jobs: int = 1, points: int = POINTS,
                 rounds: int = ROUNDS, samples: int = 400, seed: int | None = None,
                 progress: Callable[[str], None] | None = None,
                 on_done: Callable[[], None] | None = None) -> Fit:
    """Fit ``receptiveness_mean`` and ``primed_allow_scale`` to ``observed`` ([count, platform,
    day], see ``observed_cube``).

    ``sc`` is the rollout scenario over the observed days (one strategy, the
    observed installs); it is simulated at ``points`` design points per round.
    """
    rng = np.random.default_rng(sc.seed if seed is None else seed)
    tot = observed.sum(axis=-1)  # [count, platform]
    keys = [(r, p) for r, (_, kc, nc) in enumerate(RATIOS) for p in range(len(PLATFORMS))
            if tot[COUNTS.index(nc), p] > 0]
    if not keys:
        raise FitError("observed data: no soft prompt or OS dialog shown on any day")
    k_obs = np.array([tot[COUNTS.index(RATIOS[r][1]), p] for r, p in keys])
    n_obs = np.array([tot[COUNTS.index(RATIOS[r][2]), p] for r, p in keys])
    box_theta = prior_box(sc)
    prior = {n: (float(b[0]), float(b[1])) for n, b in zip(PARAMS, box_theta, strict=True)}
    box = to_x(box_theta.T).T  # [dim, 2] on the regression scale
    xs: list[np.ndarray] = []
    ks: list[np.ndarray] = []
    ns: list[np.ndarray] = []
    names = list(dict.fromkeys(c for _, kc, nc in RATIOS for c in (kc, nc)))
    sims = 0
    for rnd in range(rounds):
        pts = latin_hypercube(box, points, rng)
        th = to_theta(pts)
        scs = [msgspec.structs.replace(
            sc, seed=seed_for(sc.seed, 1, rnd, i), replications=1,
            behaviour=apply_params(sc.behaviour, float(t[0]), float(t[1])))
            for i, t in enumerate(th)]
        out = run_many(scs, names, jobs, on_done)
        sims += len(scs)
        for pt, o in zip(pts, out, strict=True):
            sums = {c: o[c].sum(axis=(0, 2)) for c in names}
            xs.append(pt)
            ks.append(np.array([sums[RATIOS[r][1]][p] for r, p in keys]))
            ns.append(np.array([sums[RATIOS[r][2]][p] for r, p in keys]))
        x_all, k_all, n_all = np.array(xs), np.array(ks), np.array(ns)
        inside = np.all((x_all >= box[:, 0]) & (x_all <= box[:, 1]), axis=1)
        sur = fit_surrogate(x_all[inside], k_all[inside], n_all[inside], keys)
        g = 61 if rnd < rounds - 1 else 121
        axes = [np.linspace(box[d, 0], box[d, 1], g) for d in range(2)]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
        post = log_posterior(sur, grid, k_obs, n_obs, rng)
        if progress:
            progress(f"fit round {rnd + 1}/{rounds}: {sims} simulations")
        if rnd < rounds - 1:
            new = []
            for d in range(2):
                lo, hi = quantiles(grid[:, d], post, (0.0005, 0.9995))
                pad = max(0.5 * (hi - lo), (box[d, 1] - box[d, 0]) / 40)
                full = to_x(box_theta.T).T[d]
                new.append([max(full[0], lo - pad), min(full[1], hi + pad)])
            box = np.array(new)
    cell = (box[:, 1] - box[:, 0]) / (g - 1)
    idx = rng.choice(len(grid), size=samples, p=post)
    draws = to_theta(grid[idx] + (rng.random((samples, 2)) - 0.5) * cell)
    summary: dict[str, dict[str, float]] = {}
    th_grid = to_theta(grid)
    for d, name in enumerate(PARAMS):
        q = quantiles(th_grid[:, d], post, QS)
        summary[name] = {"mean": float(np.sum(th_grid[:, d] * post)),
                         **{qn: float(v) for qn, v in zip(QNAMES, q, strict=True)}}
    best = np.array([[summary[n]["q50"] for n in PARAMS]])
    fitted = 1 / (1 + np.exp(-(features(to_x(best), sur.centre, sur.spread) @ sur.beta.T)[0]))
    ratios = []
    for j, (r, p) in enumerate(keys):
        obs = k_obs[j] / n_obs[j]
        se = math.sqrt(sur.phi[r] * fitted[j] * (1 - fitted[j]) / n_obs[j])
        ratios.append({"statistic": RATIOS[r][0], "platform": PLATFORMS[p],
                       "trials": int(n_obs[j]), "observed": float(obs),
                       "fitted": float(fitted[j]), "z": float((obs - fitted[j]) / se)})
    return Fit(method=METHOD, samples=draws, summary=summary, prior=prior,
               phi={RATIOS[r][0]: float(v) for r, v in enumerate(sur.phi)},
               simulations=sims, ratios=ratios)


METHOD = (
    "Simulation-based quasi-likelihood: the observed totals per platform of soft prompts "
    "accepted / shown and OS dialogs allowed / shown are modelled as binomial with a dispersion "
    "factor phi estimated from the simulator. The simulator is run at Latin-hypercube design "
    "points (three rounds zooming in on the posterior); logit ratios are regressed on a "
    "quadratic in (logit receptiveness_mean, log primed_allow_scale); the posterior under a "
    "uniform prior is computed on a grid and averaged over draws of the regression "
    "coefficients, so the surrogate's own uncertainty is included. All other behaviour "
    "priors are held at the scenario's values.")
"""How the fit works, as the forecast report states it."""
