"""Probabilistic sensitivity analysis: every strategy under many draws of the priors.

Each draw is a full set of the uncertain priors (``sim.model.priors``), taken from
a Latin hypercube over their distributions so a hundred draws cover every range
evenly. Draw ``d`` is simulated as replication ``d``: all strategies on the same
devices and the same random answers (common random numbers), so the differences
within a draw come from the strategies alone. Work is cut into ``(draw, chunk)``
tasks, each seeded from its coordinates (``SeedSequence(seed, spawn_key=(draw,
chunk))``, as every replication is) and its integer counts summed: the result is the
same bytes for any number of workers, on local processes or a Dask cluster
(``sim.engine.executor``).

``contest`` then says which priors move the choice between two strategies, by a
linear regression of their paired value difference on each prior, and where it
flips: the prior's value at which the fitted difference crosses zero.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np
from scipy.stats import qmc

from sim.engine.chunk import FLOWS, STOCKS, ChunkResult
from sim.engine.executor import run_tasks
from sim.engine.runner import RunResult, run_task
from sim.model import priors
from sim.model.population import chunk_count
from sim.model.scenario import Scenario
from sim.rules.config.platforms import PROFILES
from sim.stats import t_quantile

DESIGN_KEY = 7_919
"""Spawn key of the prior design's seed (apart from every (replication, chunk) key)."""
WEIGHTS_KEY = 7_920
"""Spawn key of the objective weights' design (their own, so the priors' draws do not
depend on how many weights are uncertain)."""
WEIGHT_PREFIX = "objective."
"""How a drawn objective weight is named among the drawn priors (``priors.csv``)."""


@dataclass(frozen=True)
class PriorDraws:
    """The drawn priors: ``values[draw, prior]`` for the priors ``names``."""

    names: list[str]
    values: np.ndarray
    low: list[float]
    high: list[float]
    """Each prior's range as drawn (the scenario's override, else the prior's own)."""


def draw_priors(sc: Scenario, draws: int) -> PriorDraws:
    """``draws`` sets of the scenario's sampled priors: a Latin hypercube mapped through
    each prior's distribution, peaked at the scenario's value."""
    chosen = [p for p in priors.sampled(sc.sensitivity.priors) if p.applies(sc.behaviour)]
    if not chosen:
        raise ValueError("sensitivity.priors: no prior to draw")
    rng = np.random.default_rng(np.random.SeedSequence(sc.seed, spawn_key=(DESIGN_KEY,)))
    u = qmc.LatinHypercube(d=len(chosen), rng=rng).random(draws)
    values = np.empty((draws, len(chosen)))
    lows, highs = [], []
    for k, p in enumerate(chosen):
        lo, hi = sc.sensitivity.ranges.get(p.name, (p.low, p.high))
        ranged = dataclasses.replace(p, low=lo, high=hi)
        values[:, k] = ranged.quantile(u[:, k], p.value(sc.behaviour))
        lows.append(lo)
        highs.append(hi)
    return PriorDraws([p.name for p in chosen], values, lows, highs)


def draw_weights(sc: Scenario, draws: int) -> PriorDraws:
    """``draws`` values of each objective weight with a range (``objective.ranges``),
    uniform over it, from their own Latin hypercube; named ``objective.<weight>``.
    ``run_sensitivity`` records them in its scenario's ``objective.drawn`` (the drawn
    priors it returns stay priors only); ``weight_draws`` reads them back."""
    ranges = sc.objective.ranges
    rng = np.random.default_rng(np.random.SeedSequence(sc.seed, spawn_key=(WEIGHTS_KEY,)))
    u = qmc.LatinHypercube(d=max(1, len(ranges)), rng=rng).random(draws)
    lows = [lo for lo, _ in ranges.values()]
    highs = [hi for _, hi in ranges.values()]
    values = np.asarray(lows) + u[:, :len(ranges)] * (np.asarray(highs) - np.asarray(lows))
    return PriorDraws([WEIGHT_PREFIX + k for k in ranges], values, lows, highs)


def weight_draws(sc: Scenario) -> PriorDraws:
    """The objective weights a sensitivity run drew (``objective.drawn``), as prior draws
    named ``objective.<weight>`` with their ranges: what the contests regress on beside
    the priors."""
    drawn = sc.objective.drawn
    names = list(drawn)
    values = (np.array([drawn[k] for k in names], dtype=float).T if names
              else np.zeros((sc.sensitivity.draws, 0)))
    return PriorDraws([WEIGHT_PREFIX + k for k in names], values,
                      [sc.objective.ranges[k][0] for k in names],
                      [sc.objective.ranges[k][1] for k in names])


def draw_scenario(sc: Scenario, draws: PriorDraws, d: int) -> Scenario:
    """The scenario with draw ``d``'s priors in its behaviour."""
    values = dict(zip(draws.names, draws.values[d].tolist(), strict=True))
    return msgspec.structs.replace(sc, behaviour=priors.apply(sc.behaviour, values))


def sensitivity_task(sc: Scenario, draws: PriorDraws, d: int, chunk: int) -> ChunkResult:
    """Chunk ``chunk`` of draw ``d``, every strategy: one unit of work, seeded by
    ``(d, chunk)`` alone."""
    res, _ = run_task(draw_scenario(sc, draws, d), d, chunk)
    return res


def _task(shared: tuple[Scenario, PriorDraws], task: tuple[int, int]) -> ChunkResult:
    return sensitivity_task(*shared, *task)


def run_sensitivity(sc: Scenario, draws: int, *, jobs: int = 1,
                    on_task_done: Callable[[], None] | None = None,
                    scheduler: str | None = None,
                    weights: bool = False) -> tuple[RunResult, PriorDraws]:
    """Simulate every strategy under ``draws`` draws of the priors; draw ``d`` is
    replication ``d`` of the result (whose scenario records ``sensitivity.draws``). Tasks
    run on ``jobs`` local processes or the Dask cluster at ``scheduler``. With
    ``weights`` (``simulate --prior-draws``), the objective's uncertain weights are drawn
    too and recorded in the result's ``objective.drawn``; without, the point weights
    stand (a pilot's design, which can only learn the priors)."""
    if draws < 2:
        raise ValueError(f"--prior-draws: at least 2 draws are needed, got {draws}")
    out_sc = msgspec.structs.replace(
        sc, replications=draws,
        sensitivity=msgspec.structs.replace(sc.sensitivity, draws=draws))
    pd_ = draw_priors(out_sc, draws)
    if weights:
        w = draw_weights(out_sc, draws)
        drawn = {k.removeprefix(WEIGHT_PREFIX): tuple(w.values[:, i].tolist())
                 for i, k in enumerate(w.names)}
        out_sc = msgspec.structs.replace(
            out_sc, objective=msgspec.structs.replace(sc.objective, drawn=drawn))
    tasks = [(d, c) for d in range(draws) for c in range(chunk_count(sc))]
    shape = (len(sc.strategies), len(PROFILES), sc.days)
    flows = np.zeros((draws, len(FLOWS), *shape), dtype=np.int64)
    stocks = np.zeros((draws, len(STOCKS), *shape), dtype=np.int64)
    events = simpy_events = 0
    for i, res in run_tasks(_task, (out_sc, pd_), tasks, jobs=jobs, scheduler=scheduler):
        d = tasks[i][0]
        flows[d] += res.flows
        stocks[d] += res.stocks
        events += res.events
        simpy_events += res.simpy_events
        if on_task_done is not None:
            on_task_done()
    return RunResult(scenario=out_sc, flows=flows, stocks=stocks, events=events,
                     simpy_events=simpy_events), pd_


def write_draws(draws: PriorDraws, path: Path) -> None:
    """``priors.csv``: one row per draw (= replication), one column per drawn prior."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["draw", *draws.names])
        for d, row in enumerate(draws.values.tolist()):
            w.writerow([d, *(f"{x:.6g}" for x in row)])


def read_draws(path: Path) -> np.ndarray:
    """The values of ``priors.csv`` as ``[draw, prior]`` (names: its header after draw)."""
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)[:, 1:]


# --- what drives the choice ------------------------------------------------------------

@dataclass(frozen=True)
class Driver:
    """How much one prior moves the value difference between two strategies."""

    prior: str
    effect: float
    """Change of the difference per standard deviation of the prior (per 1,000 installs)."""
    r2: float
    """Share of the difference's variance across draws this prior explains alone."""
    significant: bool
    """Whether the slope differs from zero at 5% after a Bonferroni correction over the
    priors regressed (|t| > the t quantile at 0.05 / their number, two-sided): with
    thirty priors and thirty draws a chance correlation of 0.4 is otherwise
    "significant" about once per contest."""
    flip: float | None
    """The prior's value at which the fitted difference is zero, when the slope is
    significant and that value lies within the prior's drawn range."""


@dataclass(frozen=True)
class Contest:
    """Strategy ``a`` against strategy ``b`` over the draws."""

    a: str
    b: str
    mean: float
    """Mean value difference a - b per 1,000 installs."""
    share_a: float
    """Share of draws in which a has the higher value."""
    drivers: list[Driver]
    """Every prior, the largest effect first."""

    def sentence(self, driver: Driver) -> str | None:
        """"`a` beats `b` only if prior > X" (the other priors averaged over their
        ranges), for a driver with a flip point."""
        if driver.flip is None:
            return None
        side = ">" if driver.effect > 0 else "<"
        return f"`{self.a}` beats `{self.b}` only if {driver.prior} {side} {driver.flip:.3g}"


def contest(values: np.ndarray, x: np.ndarray, names: list[str], low: list[float],
            high: list[float], a: int, b: int, strategies: list[str], *,
            alpha: float = 0.05) -> Contest:
    """Regress ``values[:, a] - values[:, b]`` on each prior of ``x[draw, prior]`` alone.

    One prior at a time: the Latin hypercube makes the drawn priors nearly
    uncorrelated, so each slope estimates that prior's effect with the others averaged
    over their ranges, and a hundred draws suffice for thirty priors (a joint regression
    would need many more draws than priors). The flip point is where the fitted line
    crosses zero. Each slope is tested at ``alpha`` divided by the number of priors
    (Bonferroni), since a report reads every prior's slope and acts on any that passes.
    """
    diff = values[:, a] - values[:, b]
    ok = ~np.isnan(diff)
    diff, x = diff[ok], x[ok]
    n = len(diff)
    dm = diff - diff.mean()
    ss = float(np.sum(dm ** 2))
    t_crit = float(t_quantile(max(n - 2, 1), 1.0 - alpha / max(1, len(names))))
    drivers = []
    for k, name in enumerate(names):
        xk = x[:, k]
        sd = float(xk.std())
        if sd == 0 or ss == 0 or n < 3:
            drivers.append(Driver(name, 0.0, 0.0, False, None))
            continue
        slope = float(np.sum((xk - xk.mean()) * dm) / np.sum((xk - xk.mean()) ** 2))
        r2 = min(1.0, slope ** 2 * float(np.sum((xk - xk.mean()) ** 2)) / ss)
        t = math.sqrt(r2 * (n - 2) / max(1e-12, 1.0 - r2))
        significant = t > t_crit
        flip = None
        if significant and slope != 0:
            at = float(xk.mean() - diff.mean() / slope)
            if low[k] <= at <= high[k]:
                flip = at
        drivers.append(Driver(name, slope * sd, r2, significant, flip))
    drivers.sort(key=lambda dr: -abs(dr.effect))
    return Contest(strategies[a], strategies[b], float(diff.mean()), float(np.mean(diff > 0)),
                   drivers)
