"""What an experiment is worth: the expected loss of the decision after it (preposterior).

The sensitivity run (``sim.analysis.sensitivity``) gives, for each draw of the priors,
every strategy's value on a platform. A linear *metamodel* regresses those values on the
priors that matter (the ones the experiment can learn, and the strongest other drivers):
it is the value expected given those priors, the simulation noise and every other prior
averaged out (Strong, Oakley, Brennan & Breeze, "Estimating the expected value of sample
information using the probabilistic sensitivity analysis sample", Medical Decision
Making 35(5), 2015, regress the net benefit on the PSA sample the same way).

The experiment is then played against many truths drawn from the priors: each arm's
counts are drawn (a binomial per ``Signal``: trials per unit, and the observed rate as a
line in the prior), the prior is updated on a grid (its PERT or uniform prior times the
binomial likelihood), the strategy with the highest metamodel value at the posterior
means is chosen, and the loss is the truth's best value minus the chosen one's, both by
the metamodel at the truth. Its mean over truths is the expected loss after the
experiment; with no units it is the expected loss of deciding now.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sim.analysis.sensitivity import Driver, PriorDraws, contest
from sim.engine.runner import RunResult, platform_sum
from sim.model import priors
from sim.model.objective import outcomes
from sim.model.scenario import Scenario
from sim.rules.config.platforms import PLATFORMS

GRID = 201
"""Points of the grid a prior's posterior is computed on."""
MAX_DRIVERS = 3
"""Strongest unlearnable drivers kept in the metamodel beside the learnable priors."""


@dataclass(frozen=True)
class Signal:
    """What one arm's counts say about one prior on one platform."""

    prior: str
    arm: str
    trials_per_unit: float
    """Trials (dialogs, soft prompts on the prior's profiles) on the arm per unit of the
    whole experiment (the arm's weight included)."""
    base: float
    slope: float
    """The observed rate is ``base + slope * prior`` (1 and 0 for a rate seen directly)."""


def platform_values(raw: RunResult, platform: str | None) -> np.ndarray:
    """The objective's value ``[draw, strategy]`` per 1,000 installs on ``platform``
    (``None``: every platform)."""
    sc = raw.scenario

    def total(name: str) -> np.ndarray:
        x = raw.series(name)
        if platform is None:
            out: np.ndarray = x.sum(axis=2)
            return out
        return platform_sum(x, sc)[:, :, PLATFORMS.index(platform)]

    return outcomes(total, sc.objective)["value"]


def values_of(raw: RunResult, platform: str | None, keep: Sequence[str]) -> np.ndarray:
    """``platform_values`` of the strategies ``keep`` only, in that order."""
    names = raw.scenario.strategy_names()
    return platform_values(raw, platform)[:, [names.index(n) for n in keep]]


def platforms_of(sc: Scenario) -> list[str]:
    """The platforms the scenario's population installs on, in ``PLATFORMS`` order."""
    profiles = sc.profiles()
    used = {profiles[p].platform for p in sc.install_profiles()}
    return [p for p in PLATFORMS if p in used]


MIN_DEVICES = 300
"""Installs per draw a platform needs in the sensitivity run to be judged: fewer leave its
values mostly simulation noise, and the metamodel would fit the noise."""


def judged(raw: RunResult) -> tuple[list[str], dict[str, float]]:
    """(the platforms with at least ``MIN_DEVICES`` installs per draw, the others with their
    installs per draw)."""
    sc = raw.scenario
    # every strategy lives on the same devices: count the first one's
    per = platform_sum(raw.series("installs")[:, :1], sc)[:, 0].sum(axis=-1).mean(axis=0)
    ok, thin = [], {}
    for p in platforms_of(sc):
        n = float(per[PLATFORMS.index(p)])
        if n >= MIN_DEVICES:
            ok.append(p)
        else:
            thin[p] = n
    return ok, thin


def drivers(values: np.ndarray, draws: PriorDraws, strategies: list[str]) -> list[Driver]:
    """The priors that move the choice between the best two strategies by expected value,
    the largest effect first (``sim.analysis.sensitivity.contest``)."""
    order = np.argsort(-np.nanmean(values, axis=0), kind="stable")
    a, b = int(order[0]), int(order[1]) if len(order) > 1 else int(order[0])
    return contest(values, draws.values, draws.names, draws.low, draws.high, a, b,
                   strategies).drivers


@dataclass(frozen=True)
class Metamodel:
    """Value ``[truth, strategy]`` as a line in the chosen priors."""

    names: list[str]
    intercept: np.ndarray
    coef: np.ndarray
    """``coef[prior, strategy]``."""
    r2: float
    """Share of the value differences' variance across draws it explains."""

    def value(self, x: np.ndarray) -> np.ndarray:
        """Values ``[row, strategy]`` at priors ``x[row, prior]``."""
        out: np.ndarray = self.intercept + x @ self.coef
        return out


def metamodel(values: np.ndarray, draws: PriorDraws, names: Sequence[str]) -> Metamodel:
    """Least squares of each strategy's value on the priors ``names`` over the draws."""
    ok = ~np.isnan(values).any(axis=1)
    v = values[ok]
    cols = [draws.names.index(n) for n in names]
    x = draws.values[ok][:, cols]
    design = np.column_stack([np.ones(len(x)), x])
    beta, *_ = np.linalg.lstsq(design, v, rcond=None)
    diff = v - v.mean(axis=1, keepdims=True)
    fit = design @ beta
    fdiff = fit - fit.mean(axis=1, keepdims=True)
    ss = float(np.sum((diff - diff.mean(axis=0)) ** 2))
    res = float(np.sum((diff - fdiff) ** 2))
    r2 = 1.0 - res / ss if ss > 0 else 1.0
    return Metamodel(list(names), beta[0], beta[1:], max(0.0, r2))


@dataclass(frozen=True)
class PriorBox:
    """A prior as the preposterior draws it: its range and its PERT (or uniform) shape."""

    name: str
    low: float
    high: float
    mode: float
    prior: priors.Prior

    def draw(self, u: np.ndarray) -> np.ndarray:
        """Values at probabilities ``u``."""
        return dataclasses.replace(self.prior, low=self.low, high=self.high).quantile(
            u, self.mode)

    def log_density(self, grid: np.ndarray) -> np.ndarray:
        """Log density (up to a constant) on ``grid`` (inside the range)."""
        lo, hi = self.low, self.high
        if self.prior.shape == "uniform" or hi <= lo:
            return np.zeros_like(grid)
        m = min(max(self.mode, lo), hi)
        a = 1.0 + 4.0 * (m - lo) / (hi - lo)
        b = 1.0 + 4.0 * (hi - m) / (hi - lo)
        z = np.clip((grid - lo) / (hi - lo), 1e-9, 1 - 1e-9)
        out: np.ndarray = (a - 1.0) * np.log(z) + (b - 1.0) * np.log1p(-z)
        return out


def boxes(sc: Scenario, draws: PriorDraws, names: Sequence[str]) -> list[PriorBox]:
    """The ``names`` priors with the ranges the draws used and the scenario's values."""
    out = []
    for n in names:
        k = draws.names.index(n)
        p = priors.BY_NAME[n]
        out.append(PriorBox(n, draws.low[k], draws.high[k], p.value(sc.behaviour), p))
    return out


def expected_loss(model: Metamodel, pboxes: list[PriorBox], signals: Sequence[Signal],
                  units: Sequence[float], *, truths: int = 2000,
                  seed: int = 0) -> list[float]:
    """Expected loss (per 1,000 installs) of the decision after an experiment with each of
    each of ``units`` units in all (a signal's trials are per unit of the experiment); the
    same truths and uniforms for every size."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(31,)))
    u = rng.random((truths, len(pboxes)))
    theta = np.column_stack([b.draw(u[:, k]) for k, b in enumerate(pboxes)])
    true_v = model.value(theta)
    best = true_v.max(axis=1)
    grids = [np.linspace(b.low, b.high, GRID) for b in pboxes]
    logp = [b.log_density(g) for b, g in zip(pboxes, grids, strict=True)]
    noise = rng.random((truths, len(signals)))
    out = []
    for n in units:
        post = np.empty_like(theta)
        for k, b in enumerate(pboxes):
            ll = np.broadcast_to(logp[k], (truths, GRID)).copy()
            for j, s in enumerate(signals):
                if s.prior != b.name:
                    continue
                trials = round(n * s.trials_per_unit)
                if trials <= 0:
                    continue
                rate = np.clip(s.base + s.slope * theta[:, k], 1e-6, 1 - 1e-6)
                hits = _binomial_quantile(trials, rate, noise[:, j])
                rg = np.clip(s.base + s.slope * grids[k], 1e-6, 1 - 1e-6)
                ll += hits[:, None] * np.log(rg) + (trials - hits)[:, None] * np.log1p(-rg)
            ll -= ll.max(axis=1, keepdims=True)
            w = np.exp(ll)
            post[:, k] = (w @ grids[k]) / w.sum(axis=1)
        chosen = np.argmax(model.value(post), axis=1)
        out.append(float(np.mean(best - true_v[np.arange(truths), chosen])))
    return out


def _binomial_quantile(n: int, p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Binomial(n, p) counts at probabilities ``u`` (the same ``u`` for every size: the
    counts of one truth grow smoothly with ``n``)."""
    from scipy import stats

    out: np.ndarray = stats.binom.ppf(u, n, p).astype(float)
    return out


def installs_needed(loss_at: Callable[[list[float]], list[float]], max_loss: float,
                    *, low: float = 100.0, high: float = 2_000_000.0,
                    points: int = 24) -> tuple[float | None, list[tuple[float, float]]]:
    """The fewest units of the experiment (on a geometric grid from ``low`` to ``high``)
    whose expected loss is at most ``max_loss``, ``None`` if none is; and the (units, loss)
    curve."""
    grid = [0.0, *np.geomspace(low, high, points).tolist()]
    losses = loss_at(grid)
    curve = list(zip(grid, losses, strict=True))
    for n, loss in curve:
        if loss <= max_loss:
            return n, curve
    return None, curve
