"""Dask distributed: a LocalCluster of 2 worker processes gives the very panels, prior-draw
runs and optimizer results of the local pool (tasks seeded by their coordinates)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

from sim.analysis.optimize import optimize
from sim.analysis.sensitivity import run_sensitivity
from sim.engine import executor
from sim.engine.executor import SchedulerError, run_tasks
from sim.engine.runner import simulate
from sim.model.scenario import Scenario, load_scenario

pytestmark = pytest.mark.slow  # a browser, Locust, a cluster or long runs


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    from distributed import LocalCluster

    # No dashboard; the scheduler's HTTP server (/metrics) on a free port, not the default
    # 8787, which another cluster on the machine may hold (its fallback warns: an error here).
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) as c:
        yield c.scheduler_address


def test_dask_and_the_local_pool_give_byte_identical_panels(
        cluster: str, scenario: Callable[..., Scenario]) -> None:
    sc = scenario(replications=3)
    local = simulate(sc, jobs=2)
    dask = simulate(sc, scheduler=cluster)
    assert local.flows.tobytes() == dask.flows.tobytes()
    assert local.stocks.tobytes() == dask.stocks.tobytes()
    assert local.events == dask.events
    assert local.flows.sum() > 0


def test_dask_runs_the_sensitivity_draws_alike(cluster: str,
                                               scenario: Callable[..., Scenario]) -> None:
    sc = scenario(devices=600, days=60)
    local, drawn = run_sensitivity(sc, 3, jobs=2)
    dask, drawn2 = run_sensitivity(sc, 3, scheduler=cluster)
    assert np.array_equal(drawn.values, drawn2.values)
    assert local.flows.tobytes() == dask.flows.tobytes()
    assert local.stocks.tobytes() == dask.stocks.tobytes()


def test_dask_runs_the_optimizer_alike(cluster: str) -> None:
    sc = load_scenario("scenarios/optimize.toml", devices=400, days=30)
    local = optimize(sc, budget=3, jobs=2)
    dask = optimize(sc, budget=3, scheduler=cluster)
    for g in local.groups:
        a, b = local.groups[g], dask.groups[g]
        assert (a.best, a.finalists, a.means) == (b.best, b.finalists, b.means)
        assert list(a.p_best) == list(b.p_best)  # n/a (NaN) with 3 replications of many
        assert np.array_equal(list(a.p_best.values()), list(b.p_best.values()),
                              equal_nan=True)


def test_an_unreachable_scheduler_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executor, "CONNECT_SECONDS", 1.0)
    with pytest.raises(SchedulerError, match="cannot reach the Dask scheduler"):
        list(run_tasks(divmod, 1, [1, 2], scheduler="tcp://127.0.0.1:9"))
