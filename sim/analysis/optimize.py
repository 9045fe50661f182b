"""``promptsim optimize``: race the candidate schedules of ``[search]``, per platform.

Candidates are the scenario's own strategies plus every combination of its search
families (``sim.model.search``). Round by round, every candidate still alive on
some platform is simulated on more replications; replication ``r`` is the same
devices and random answers for all of them (common random numbers, as the engine
gives strategies). After each round but the last, each platform drops the
candidates that another beats clearly on the objective (``sim.analysis.racing``);
the survivors of the last round, the finalists, have full precision. A device on
one platform never meets a campaign or a device of another, so a candidate's
value on a platform is what it would be with an audience of that platform alone:
the per-platform winners run side by side as one policy with the same values.
(Only the counts of reachable users group a user's devices across platforms of
one family; the objective reads device counts, and the race no reachability.)

With ``prior_draws``, P(best) is computed again under draws of the priors: per
platform the contenders (the finalists, and the best dropped candidates up to
``PRIOR_CONTENDERS``) run under each draw of the priors and of the objective's weight
ranges, drawn as the sensitivity analysis draws them (``sim.analysis.sensitivity``;
draw ``d`` is replication ``d``), and P(best) is the share of draws each is best in,
with its Monte Carlo standard error. Without it P(best) is given the scenario's priors.

Work is cut into (replication, chunk, candidates) tasks seeded by (replication,
chunk) alone, so a candidate's counts do not depend on the candidates it runs
with, the executor or the number of workers; finished tasks are kept in the
output directory (``sim.analysis.optimize_store``) and a rerun reuses them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

from sim.analysis import racing
from sim.analysis.candidate_words import edges
from sim.analysis.optimize_store import Counts, Key, TaskStore
from sim.analysis.recommend import p_best_error, platform_policy
from sim.analysis.sensitivity import PriorDraws, draw_priors, draw_scenario, draw_weights
from sim.engine.chunk import FLOWS, STOCKS, ChunkModel
from sim.engine.executor import run_tasks
from sim.model.objective import outcomes
from sim.model.objective import p_best as share_best
from sim.model.population import Chunk, chunk_count, make_chunk, select
from sim.model.scenario import Scenario, Strategy
from sim.model.search import family_campaigns
from sim.rules.config.platforms import PLATFORMS, PROFILES, PlatformProfile
from sim.stats import Estimate, estimate

CANDIDATES_PER_TASK = 6
"""Candidates simulated together on one chunk: they share its population (drawn once),
and several tasks per replication keep every worker busy."""
PBEST_KEY = 104_729
"""Spawn key of P(best)'s sampling seed (apart from every (replication, chunk) key)."""
Task = tuple[int, int, str, tuple[int, ...]]
"""(replication, chunk, group, candidate indexes)."""
SCENARIO_FAMILY = "scenario"
"""The family of the scenario's own ``[[strategies]]``."""
FIXED_PRIORS = "P(best) given the scenario's priors (held fixed): simulation noise only"
"""What the race's own P(best) rests on."""
PRIOR_CONTENDERS = 5
"""With prior draws, the candidates of a platform P(best) is computed among: its finalists
and, up to this many in all, the candidates with the highest values in the race. The race
dropped the others under the scenario's priors, where they lost clearly; under other
priors one of them may be best, so the finalists alone would overstate the pick's chance."""


@dataclass(frozen=True)
class Candidate:
    """One schedule in the race."""

    name: str
    family: str
    strategy: Strategy


def candidates(sc: Scenario) -> list[Candidate]:
    """The scenario's strategies, then every candidate of its search families."""
    out = [Candidate(s.name, SCENARIO_FAMILY, s) for s in sc.strategies]
    for f in sc.search.families if sc.search else ():
        for name, camp in family_campaigns(f):
            out.append(Candidate(name, f.name, Strategy(name=name, campaigns=(camp,))))
    return out


def groups(sc: Scenario) -> list[str]:
    """What a schedule is picked for: each platform of the mix (``PLATFORMS`` order), or
    ``all`` when the search is not per platform."""
    if sc.search is not None and not sc.search.per_platform:
        return ["all"]
    profiles = sc.profiles()
    present = {profiles[n].platform for n in sc.population.mix if sc.population.mix[n] > 0}
    return [p for p in PLATFORMS if p in present]


def _cohorts(sc: Scenario, group: str) -> np.ndarray:
    profiles = sc.profiles()
    return np.array([group == "all" or profiles[n].platform == group for n in PROFILES])


_CHUNK: dict[str, Any] = {}
"""The last chunk drawn in this process: consecutive tasks of a (replication, chunk) share
it (``scenario`` holds the scenario it was drawn for)."""


def _chunk(sc: Scenario, profiles: dict[str, PlatformProfile], r: int, c: int) -> Chunk:
    if _CHUNK.get("scenario") is not sc or _CHUNK.get("at") != (r, c):
        _CHUNK.update(scenario=sc, at=(r, c), chunk=make_chunk(sc, profiles, r, c))
    chunk: Chunk = _CHUNK["chunk"]
    return chunk


def _task(shared: Scenario, task: Task) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Candidates ``idx`` on the devices of ``group`` in chunk ``c`` of replication ``r``:
    (flows summed over days ``[candidate, flow, cohort]``, end stocks ``[candidate, stock,
    cohort]``, engine events, devices)."""
    r, c, group, idx = task
    profiles = shared.profiles()
    chunk = _chunk(shared, profiles, r, c)
    if group != "all":
        chunk = select(chunk, [i for i, p in enumerate(chunk.profile)
                               if profiles[p].platform == group])
    flows = np.zeros((len(idx), len(FLOWS), len(PROFILES)), dtype=np.int64)
    stocks = np.zeros((len(idx), len(STOCKS), len(PROFILES)), dtype=np.int64)
    if chunk.n == 0:
        return flows, stocks, 0, 0
    sub = msgspec.structs.replace(shared, strategies=tuple(shared.strategies[i] for i in idx))
    res = ChunkModel(sub, profiles, chunk, r).run()
    flows[:] = res.flows.sum(axis=-1).transpose(1, 0, 2)
    stocks[:] = res.stocks[..., -1].transpose(1, 0, 2)
    return flows, stocks, res.events, chunk.n


@dataclass
class GroupResult:
    """The race on one platform (or ``all``)."""

    group: str
    finalists: list[str]
    best: str
    value: Estimate
    """The best candidate's value per 1,000 installs, 95% t-interval over its replications."""
    p_best: dict[str, float]
    """Per finalist, the probability that it is best (``racing.p_best``); NaN when the
    finalists outnumber the replications (not estimated)."""
    replications: int
    dropped: dict[str, int] = field(default_factory=dict)
    """Candidate -> replications it had when dropped."""
    means: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per candidate, its mean outcomes (``sim.model.objective.OUTCOMES``) over the
    replications it got: what the front figure draws."""
    confirmed: Estimate | None = None
    """The pick's value on as many fresh replications as the race gave it (numbered after
    the race's), which did not select it: unbiased, unlike ``value``."""
    edge: list[str] = field(default_factory=list)
    """The searched values the pick takes at the end of its family's list (the best may
    lie beyond the grid)."""
    under_draws: DrawnPBest | None = None
    """With prior draws: P(best) among the contenders under draws of the priors."""


@dataclass
class DrawnPBest:
    """P(best) of a platform's contenders under draws of the priors (``--prior-draws``)."""

    draws: int
    p_best: dict[str, float]
    """Per contender, the share of draws in which it has the highest value."""
    se: dict[str, float]
    """Its Monte Carlo standard error, sqrt(p (1 - p) / draws)."""
    value: dict[str, float]
    """Per contender, its mean value per 1,000 installs over the draws."""


@dataclass
class Composite:
    """The per-platform picks run side by side against the best single candidate."""

    single: str
    """The candidate with the highest value over all devices in the first round."""
    value: Estimate
    """The composite policy's value per 1,000 installs over all devices, on the fresh
    replications (95% t-interval)."""
    single_value: Estimate
    """The single candidate's, on the same replications."""
    gain: Estimate
    """Composite minus single, paired over those replications."""

    same: bool = False
    """Every platform picked ``single``: the composite is that one candidate."""

    def line(self) -> str:
        """One sentence for the CLI, the page and ``winner.toml``."""
        g = self.gain
        if self.same:
            return (f"every platform picks {self.single}, also the best single candidate "
                    f"everywhere ({self.value.mean:.1f} per 1,000 installs over all devices "
                    f"on the fresh replications): no composite policy gains over it")
        return (f"the per-platform picks as one policy: {self.value.mean:.1f} per 1,000 "
                f"installs against {self.single_value.mean:.1f} for the best single candidate "
                f"everywhere, {self.single}: {g.mean:+.1f} (95% CI {g.lo:+.1f} to "
                f"{g.hi:+.1f}), on the fresh replications over all devices")


@dataclass
class Progress:
    """Where the race is, for a progress bar."""

    done: float
    """Device-years simulated (or found on disk)."""
    total: float
    """``done`` plus what the alive candidates still need to reach full precision."""
    alive: int
    candidates: int
    replications: int
    """Replications of the round under way."""
    full: int


@dataclass
class OptimizeResult:
    """Everything ``promptsim optimize`` prints, draws and writes."""

    scenario: Scenario
    """The scenario as raced: its strategies are every candidate."""
    candidates: list[Candidate]
    groups: dict[str, GroupResult]
    schedule: list[int]
    alpha: float
    device_years: float
    """Simulated, over every task (resumed ones included)."""
    full_device_years: float
    """What running every candidate to full precision would simulate."""
    events: int
    tasks_run: int
    tasks_reused: int
    """(replication, chunk, candidate) results found on disk."""
    composite: Composite | None = None
    """With picks on several platforms: their policy against the best single candidate."""
    prior_draws: int = 0
    """Draws of the priors P(best) was also computed under (0: none)."""
    drawn_weights: list[str] = field(default_factory=list)
    """The objective weights those draws drew too (``[objective] ranges``)."""

    def p_best_label(self) -> str:
        """What the P(best) a page or the CLI leads with rests on."""
        if not self.prior_draws:
            return FIXED_PRIORS
        weights = (f" and of the objective's weights {', '.join(self.drawn_weights)}"
                   if self.drawn_weights else "")
        return (f"P(best) under {self.prior_draws} draws of the priors{weights} (the "
                f"sensitivity analysis' draws), among each platform's finalists (topped up to "
                f"{PRIOR_CONTENDERS} with the best dropped candidates); \u00b1 its Monte Carlo "
                "standard error")

    def winner(self, name: str = "optimized") -> Strategy:
        """The per-platform picks as one policy (campaigns with platform audiences), or the
        one pick when the search is not per platform."""
        if list(self.groups) == ["all"]:
            best = self.groups["all"].best
            s = next(c.strategy for c in self.candidates if c.name == best)
            return msgspec.structs.replace(s, name=name)
        picks = {g: r.best for g, r in self.groups.items()}
        return platform_policy(self.scenario, picks, name)


def optimize(sc: Scenario, *, budget: int | None = None, jobs: int = 1,
             scheduler: str | None = None, store: TaskStore | None = None,
             on_progress: Callable[[Progress], None] | None = None,
             prior_draws: int = 0) -> OptimizeResult:
    """Race the candidates of ``sc`` (which must have ``[search]``); ``budget`` replaces
    ``search.replications`` (full precision). With ``prior_draws`` (at least 2), P(best) is
    also computed under that many draws of the priors (``DrawnPBest``)."""
    if prior_draws == 1 or prior_draws < 0:
        raise ValueError(f"--prior-draws: at least 2 draws are needed, got {prior_draws}")
    if sc.search is None:
        raise ValueError("search: the scenario has no [search] table to optimize over")
    search = sc.search
    cands = candidates(sc)
    raced = msgspec.structs.replace(sc, strategies=tuple(c.strategy for c in cands),
                                    search=None, baseline=None)
    names = [c.name for c in cands]
    known = set(names)
    full = budget or search.replications
    plan = racing.schedule(min(search.first_round, full), full)
    alpha = racing.per_test_alpha(search.confidence, len(cands), len(plan))
    n_chunks = chunk_count(sc)
    gs = groups(sc)
    profiles = sc.profiles()
    share = {g: sum(v for k, v in sc.population.mix.items()
                    if g == "all" or profiles[k].platform == g) for g in gs}
    chunk_dy = [min(sc.chunk_size, sc.devices - c * sc.chunk_size) * sc.days / 365.0
                for c in range(n_chunks)]
    year = sc.days / 365.0
    data: dict[Key, Counts] = {}
    devices: dict[tuple[int, int, str], int] = {}
    events = 0
    if store is not None:
        data, devices, events = store.load()
    reused = sum(1 for k in data if k[3] in known)
    alive = {g: list(range(len(cands))) for g in gs}
    dropped: dict[str, dict[str, int]] = {g: {} for g in gs}
    done = [sum(devices[k[:3]] * year for k in data if k[3] in known and k[0] < full)]
    left = [0.0]
    """Device-years the prior draws still need (once the race is over)."""
    state = {"tasks": 0, "events": events}
    values: dict[str, np.ndarray] = {}
    under: dict[Key, Counts] = {}
    """Counts under prior draws (draw ``d`` as replication ``d``): never stored, since the
    store's keys are the race's replications."""

    def report(n: int, finished: bool = False) -> None:
        if on_progress is None:
            return
        need = left[0] if finished else sum(
            chunk_dy[c] * share[g] for g in gs for i in alive[g] for r in range(full)
            for c in range(n_chunks) if (r, c, g, names[i]) not in data)
        union = set().union(*alive.values())
        on_progress(Progress(done[0], done[0] + need, len(union), len(cands), n,
                             full))

    def todo(reps: range, who: dict[str, list[int]], have: dict[Key, Counts]) -> list[Task]:
        tasks: list[Task] = []
        for r in reps:
            for c in range(n_chunks):
                for g in gs:
                    new = tuple(i for i in who[g] if (r, c, g, names[i]) not in have)
                    tasks += [(r, c, g, new[j:j + CANDIDATES_PER_TASK])
                              for j in range(0, len(new), CANDIDATES_PER_TASK)]
        return tasks

    def simulate(tasks: list[Task], n: int, drawn: PriorDraws | None = None) -> None:
        fn: Any = _task if drawn is None else _draw_task
        shared: Any = raced if drawn is None else (raced, drawn)
        into = data if drawn is None else under
        for t, (flows, stocks, ev, devs) in run_tasks(fn, shared, tasks, jobs=jobs,
                                                      scheduler=scheduler):
            r, c, g, idx = tasks[t]
            for s, i in enumerate(idx):
                into[(r, c, g, names[i])] = (flows[s], stocks[s])
            if drawn is None:
                devices[(r, c, g)] = devs
                if store is not None:
                    store.save(r, c, g, [names[i] for i in idx], flows, stocks, ev, devs)
            state["events"] += ev
            state["tasks"] += 1
            done[0] += devs * year * len(idx)
            if drawn is not None:
                left[0] = max(0.0, left[0] - chunk_dy[c] * share[g] * len(idx))
            report(n, finished=drawn is not None)

    n = plan[0]
    for k, n in enumerate(plan):
        report(n)
        simulate(todo(range(n), alive, data), n)
        for g in gs:
            values[g] = _outcomes(raced, data, names, alive[g], n, n_chunks, g)["value"]
            if k == len(plan) - 1 or len(alive[g]) == 1:
                continue
            out = set(racing.beaten(values[g], alpha))
            for col in out:
                dropped[g][names[alive[g][col]]] = n
            values[g] = values[g][:, [j for j in range(len(alive[g])) if j not in out]]
            alive[g] = [i for j, i in enumerate(alive[g]) if j not in out]
    # The pick's value again, on replications the race never saw (full .. 2 full - 1): the
    # race's own mean of its best is biased upwards by the selection.
    picked = {g: [alive[g][int(np.nanargmax(np.nanmean(values[g], axis=0)))]] for g in gs}
    # The best single candidate for every platform, by its value over all devices in the
    # first round (which every candidate ran everywhere), runs on the same fresh
    # replications, so the composite policy's gain over it is measured on neither's
    # selection replications.
    single = None
    if len(gs) > 1:
        first = _pooled(raced, data, names, {g: list(range(len(cands))) for g in gs},
                        range(plan[0]), n_chunks)["value"]
        single = int(np.nanargmax(np.nanmean(first, axis=0)))
    fresh_who = {g: picked[g] + ([single] if single is not None and single not in picked[g]
                                 else []) for g in gs}
    simulate(todo(range(full, 2 * full), fresh_who, data), n)
    report(n, finished=True)
    seed = int(np.random.SeedSequence(sc.seed, spawn_key=(PBEST_KEY,)).generate_state(1)[0])
    results = {}
    for g in gs:
        v = values[g]
        fin = [names[i] for i in alive[g]]
        b = int(np.nanargmax(np.nanmean(v, axis=0)))
        pb = racing.p_best(v, seed)
        res = GroupResult(g, fin, fin[b], estimate(v[:, b]),
                          dict(zip(fin, pb.tolist(), strict=True)), v.shape[0], dropped[g])
        fresh = _outcomes(raced, data, names, picked[g], 2 * full, n_chunks, g)["value"]
        res.confirmed = estimate(fresh[full:, 0])
        pick = cands[names.index(res.best)]
        fam = next((f for f in search.families if f.name == pick.family), None)
        res.edge = [] if fam is None else edges(pick.strategy.campaigns[0], fam)
        for i, name in enumerate(names):
            got = max([m for m in plan if all((r, c, g, name) in data for r in range(m)
                                              for c in range(n_chunks))], default=0)
            if got:
                o = _outcomes(raced, data, names, [i], got, n_chunks, g)
                res.means[name] = {key: float(np.nanmean(x)) for key, x in o.items()}
                res.means[name]["replications"] = float(got)
        results[g] = res
    spent = sum(devices[k[:3]] * year for k in data if k[3] in known)
    full_dy = len(cands) * full * sum(chunk_dy)
    result = OptimizeResult(raced, cands, results, plan, alpha, spent, full_dy, state["events"],
                            state["tasks"], reused)
    if single is not None:
        reps = range(full, 2 * full)
        comp = _pooled(raced, data, names, {g: picked[g] for g in gs}, reps, n_chunks)["value"]
        one = _pooled(raced, data, names, {g: [single] for g in gs}, reps, n_chunks)["value"]
        result.composite = Composite(names[single], estimate(comp[:, 0]), estimate(one[:, 0]),
                                     estimate(comp[:, 0] - one[:, 0]),
                                     all(picked[g] == [single] for g in gs))
    if prior_draws:
        pd_ = draw_priors(raced, prior_draws)
        weights = draw_weights(raced, prior_draws)
        drawn_sc = msgspec.structs.replace(raced, objective=msgspec.structs.replace(
            raced.objective, drawn={k: tuple(weights.values[:, j].tolist())
                                    for j, k in enumerate(raced.objective.ranges)}))
        who = {g: [names.index(x) for x in contenders(results[g])] for g in gs}
        tasks = todo(range(prior_draws), who, under)
        left[0] = sum(chunk_dy[t[1]] * share[t[2]] * len(t[3]) for t in tasks)
        simulate(tasks, n, drawn=pd_)
        for g in gs:
            v = _outcomes(drawn_sc, under, names, who[g], prior_draws, n_chunks, g)["value"]
            pb = share_best(v).tolist()
            cn = [names[i] for i in who[g]]
            results[g].under_draws = DrawnPBest(
                prior_draws, dict(zip(cn, pb, strict=True)),
                {x: p_best_error(p, prior_draws) for x, p in zip(cn, pb, strict=True)},
                dict(zip(cn, np.nanmean(v, axis=0).tolist(), strict=True)))
        result.prior_draws = prior_draws
        result.drawn_weights = list(raced.objective.ranges)
        result.events = state["events"]
        result.tasks_run = state["tasks"]
    return result


def contenders(r: GroupResult) -> list[str]:
    """The candidates P(best) under prior draws is computed among on ``r``'s platform: the
    finalists, then the best-valued others in the race, up to ``PRIOR_CONTENDERS``."""
    rest = sorted((x for x in r.means if x not in r.finalists),
                  key=lambda x: (-r.means[x]["value"], x))
    return r.finalists + rest[:max(0, PRIOR_CONTENDERS - len(r.finalists))]


_DRAWN: dict[str, Any] = {}
"""The scenario of the last prior draw used in this process (``base`` is the scenario it
was drawn from), so consecutive tasks of a draw share its chunk (``_CHUNK``)."""


def _draw_task(shared: tuple[Scenario, PriorDraws], task: Task
               ) -> tuple[np.ndarray, np.ndarray, int, int]:
    """``_task`` under draw ``d = task[0]`` of the priors, as replication ``d``: what the
    sensitivity analysis simulates for that draw, on one platform's devices."""
    sc, drawn = shared
    if _DRAWN.get("base") is not sc or _DRAWN.get("draw") != task[0]:
        _DRAWN.update(base=sc, draw=task[0], scenario=draw_scenario(sc, drawn, task[0]))
    return _task(_DRAWN["scenario"], task)


def _pooled(sc: Scenario, data: dict[Key, Counts], names: list[str],
            who: dict[str, list[int]], reps: range, n_chunks: int) -> dict[str, np.ndarray]:
    """Outcomes ``[replication, column]`` over every platform's devices at once, column
    ``j`` running candidate ``who[g][j]`` on the devices of platform ``g`` (one candidate
    everywhere, or each platform's pick: the composite), over replications ``reps``."""
    width = len(next(iter(who.values())))
    flows = np.zeros((len(reps), width, len(FLOWS)), dtype=np.int64)
    stocks = np.zeros((len(reps), width, len(STOCKS)), dtype=np.int64)
    for g, idx in who.items():
        mask = _cohorts(sc, g)
        for k, r in enumerate(reps):
            for s, i in enumerate(idx):
                for c in range(n_chunks):
                    f, st = data[(r, c, g, names[i])]
                    flows[k, s] += f[:, mask].sum(axis=1)
                    stocks[k, s] += st[:, mask].sum(axis=1)

    def total(name: str) -> np.ndarray:
        if name in FLOWS:
            return flows[:, :, FLOWS.index(name), None]
        return stocks[:, :, STOCKS.index(name), None]

    return outcomes(total, sc.objective)


def _outcomes(sc: Scenario, data: dict[Key, Counts], names: list[str], idx: list[int],
              n: int, n_chunks: int, group: str) -> dict[str, np.ndarray]:
    """Outcomes ``[replication, candidate]`` of candidates ``idx`` over replications ``< n``,
    on the devices of ``group``."""
    mask = _cohorts(sc, group)
    flows = np.zeros((n, len(idx), len(FLOWS)), dtype=np.int64)
    stocks = np.zeros((n, len(idx), len(STOCKS)), dtype=np.int64)
    for r in range(n):
        for s, i in enumerate(idx):
            for c in range(n_chunks):
                f, k = data[(r, c, group, names[i])]
                flows[r, s] += f[:, mask].sum(axis=1)
                stocks[r, s] += k[:, mask].sum(axis=1)

    def total(name: str) -> np.ndarray:
        if name in FLOWS:
            return flows[:, :, FLOWS.index(name), None]
        return stocks[:, :, STOCKS.index(name), None]

    return outcomes(total, sc.objective)
