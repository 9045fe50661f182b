"""Replications and chunks over worker processes; one result, whatever the number of workers.

Work is cut into (replication, chunk) tasks. Each task draws its own
population from ``SeedSequence(seed, spawn_key=(replication, chunk))`` and
returns integer daily counts, which are summed (exactly, in any order): the result
is identical for any ``jobs``, on local processes or a Dask cluster
(``sim.engine.executor``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
import numpy as np

from sim.engine.chunk import FLOWS, STOCKS, ChunkModel, ChunkResult
from sim.engine.executor import run_tasks
from sim.model.events import LogEvent
from sim.model.population import chunk_count, make_chunk
from sim.model.scenario import Scenario
from sim.rules.config.platforms import PLATFORMS, PROFILES


@dataclass
class RunResult:
    """Daily counts of a whole run: ``flows[r, f, s, c, d]`` and ``stocks[r, k, s, c, d]``,
    ``c`` the cohort: the OS profile a device installed on (``PROFILES`` order)."""

    scenario: Scenario
    flows: np.ndarray
    stocks: np.ndarray
    events: int
    """Wake-ups the lives lived (engine calls; ``ChunkResult.events``)."""
    simpy_events: int
    """Events the engine scheduled in SimPy (``ChunkResult.simpy_events``)."""
    log: list[LogEvent] = field(default_factory=list)

    def series(self, name: str) -> np.ndarray:
        """One panel column as an array indexed ``[replication, strategy, cohort, day]``."""
        if name in FLOWS:
            return self.flows[:, FLOWS.index(name)]
        return self.stocks[:, STOCKS.index(name)]

    def by_platform(self, name: str) -> np.ndarray:
        """One panel column summed over the cohorts of each platform: ``[replication,
        strategy, platform, day]`` (``PLATFORMS`` order)."""
        return platform_sum(self.series(name), self.scenario)


def platform_sum(x: np.ndarray, sc: Scenario) -> np.ndarray:
    """``x[..., cohort, day]`` summed into ``[..., platform, day]`` by each profile's platform."""
    profiles = sc.profiles()
    out = np.zeros((*x.shape[:-2], len(PLATFORMS), x.shape[-1]), dtype=x.dtype)
    for c, name in enumerate(PROFILES):
        out[..., PLATFORMS.index(profiles[name].platform), :] += x[..., c, :]
    return out


def run_task(sc: Scenario, replication: int, chunk: int, *, skip_idle: bool = True,
             log: bool = False) -> tuple[ChunkResult, list[LogEvent]]:
    """Simulate one chunk of one replication under every strategy."""
    profiles = sc.profiles()
    events: list[LogEvent] | None = [] if log else None
    model = ChunkModel(sc, profiles, make_chunk(sc, profiles, replication, chunk), replication,
                       skip_idle=skip_idle, log=events)
    return model.run(), events or []


def _task(shared: tuple[Scenario, bool, bool],
          task: tuple[int, int]) -> tuple[ChunkResult, list[LogEvent]]:
    sc, skip_idle, log = shared
    return run_task(sc, *task, skip_idle=skip_idle, log=log)


def simulate(sc: Scenario, *, jobs: int = 1, skip_idle: bool = True, log: bool = False,
             on_task_done: Callable[[], None] | None = None,
             scheduler: str | None = None) -> RunResult:
    """Run every replication of ``sc``; ``jobs`` worker processes (0: one per core), or the
    Dask cluster at ``scheduler`` (``sim.engine.executor``)."""
    n_chunks = chunk_count(sc)
    tasks = [(r, c) for r in range(sc.replications) for c in range(n_chunks)]
    shape = (len(sc.strategies), len(PROFILES), sc.days)
    flows = np.zeros((sc.replications, len(FLOWS), *shape), dtype=np.int64)
    stocks = np.zeros((sc.replications, len(STOCKS), *shape), dtype=np.int64)
    events = simpy_events = 0
    logged: list[LogEvent] = []
    for i, (res, ev) in run_tasks(_task, (sc, skip_idle, log), tasks, jobs=jobs,
                                  scheduler=scheduler):
        r = tasks[i][0]
        flows[r] += res.flows
        stocks[r] += res.stocks
        events += res.events
        simpy_events += res.simpy_events
        logged.extend(ev)
        if on_task_done is not None:
            on_task_done()
    logged.sort(key=lambda e: (e.replication, e.strategy, e.device, e.t))
    return RunResult(scenario=sc, flows=flows, stocks=stocks, events=events,
                     simpy_events=simpy_events, log=logged)


def event_log(sc: Scenario, devices: int = 200) -> RunResult:
    """Every event of ``devices`` devices (one replication), every session stepped.

    This is the history ``promptsim parity`` replays through the HTTP service:
    stepping every session means the service sees every ``session_start``.
    """
    small = msgspec.structs.replace(sc, devices=devices, replications=1)
    return simulate(small, skip_idle=False, log=True)
