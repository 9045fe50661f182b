"""The engine: exact equivalence of idle-skipping, determinism, common random numbers."""

from __future__ import annotations

import bisect
import gc
from array import array
from collections.abc import Callable

import hypothesis
import msgspec
import numpy as np
import pytest
import simpy
from hypothesis import strategies as st

from sim.engine.chunk import ChunkModel
from sim.engine.runner import simulate
from sim.model.population import first_at, make_chunk
from sim.model.scenario import Scenario
from sim.rules.config.platforms import PLATFORMS, PROFILES

MakeScenario = Callable[..., Scenario]


@pytest.mark.slow
def test_skipping_idle_sessions_changes_no_outcome(small: Scenario) -> None:
    """Skipping sessions before the rules' next chance gives the same panel as stepping
    through every session, for every strategy kind, trigger and platform."""
    fast = simulate(small, skip_idle=True)
    slow = simulate(small, skip_idle=False)
    assert fast.events < slow.events
    np.testing.assert_array_equal(fast.flows, slow.flows)
    np.testing.assert_array_equal(fast.stocks, slow.stocks)


@pytest.mark.slow
def test_same_seed_same_panel_for_any_number_of_workers(small: Scenario) -> None:
    """The same scenario and seed give identical results with 1 or 2 worker processes."""
    one = simulate(small, jobs=1)
    two = simulate(small, jobs=2)
    np.testing.assert_array_equal(one.flows, two.flows)
    np.testing.assert_array_equal(one.stocks, two.stocks)
    assert one.events == two.events


@pytest.mark.slow
def test_another_seed_gives_another_panel(small: Scenario) -> None:
    """The seed matters: a different seed draws a different population."""
    a = simulate(small)
    b = simulate(msgspec.structs.replace(small, seed=small.seed + 1))
    assert not np.array_equal(a.stocks, b.stocks)


def test_replications_are_independent(small: Scenario) -> None:
    """Each replication draws its own population: replications differ from one another."""
    r = simulate(small)
    assert not np.array_equal(r.stocks[0], r.stocks[1])


def test_common_random_numbers_same_installs_and_churn_across_strategies(
        scenario: MakeScenario) -> None:
    """With no prompt-caused churn, every strategy sees the same installs, reinstalls,
    uninstalls and installed devices, day by day and platform by platform."""
    sc = scenario(behaviour={"annoyance_base": 0.0, "reinstall": 0.5,
                                  "clear_data_per_year": 1.0})
    r = simulate(sc)
    for name in ("installs", "reinstalls", "uninstalls", "active_devices"):
        x = r.series(name)
        for s in range(1, x.shape[1]):
            np.testing.assert_array_equal(x[:, 0], x[:, s], err_msg=name)
    # ... while the prompt outcomes do differ between strategies.
    shown = r.series("soft_prompts_shown").sum(axis=(0, 2, 3))
    assert len(set(shown.tolist())) > 3


def test_common_random_numbers_same_answers_to_the_same_first_prompt(
        scenario: MakeScenario) -> None:
    """Two strategies that show the same first prompt get the same first answers:
    'once' and 'every_time' agree on everything that happens on the install day."""
    sc = scenario(population={"mix": {"ios": 1.0}, "install_window_days": 0},
                       strategies=[{"name": "once", "campaigns": [{"id": "soft"}]},
                                   {"name": "every", "campaigns": [
                                       {"id": "soft",
                                        "frequency": {"type": "multiple", "limit": 9,
                                                      "gap_days": 1.0}}]}],
                       behaviour={"reinstall": 0.0, "clear_data_per_year": 0.0,
                                  "segments": [{"name": "all", "share": 1.0,
                                                "lifetime_mean_days": 30,
                                                "gap_median_hours": 30}]})
    r = simulate(sc)
    for name in ("soft_prompts_shown", "soft_prompts_accepted", "os_dialogs_allowed"):
        day0 = r.series(name)[:, :, :, 0]
        np.testing.assert_array_equal(day0[:, 0], day0[:, 1], err_msg=name)
    later = r.series("soft_prompts_shown")[:, :, :, 1:].sum(axis=(0, 2, 3))
    assert later[0] == 0 < later[1]


def test_simpy_events_are_the_events_simpy_scheduled(small: Scenario) -> None:
    """``simpy_events`` counts the ``Timeout``s SimPy itself schedules (``Environment.schedule``,
    its public API, counted on the chunk's environment), the events a bare SimPy loop counts;
    the only other event is ``env.run(until=...)``'s stop. ``events`` (engine calls) counts
    each install once per strategy: ``installs * (strategies - 1)`` more."""
    profiles = small.profiles()
    model = ChunkModel(small, profiles, make_chunk(small, profiles, 0, 0), 0)
    schedule = model.env.schedule
    timeouts: list[simpy.Event] = []
    others: set[int] = set()

    def counting(event: simpy.Event, priority: int = 1, delay: float = 0) -> None:
        if isinstance(event, simpy.Timeout):
            timeouts.append(event)
        else:
            others.add(id(event))
        schedule(event, priority, delay)  # type: ignore[arg-type]

    model.env.schedule = counting  # type: ignore[method-assign]  # an instance, not SimPy
    try:
        res = model.run()
    finally:
        del model.env.schedule  # the wrapper holds the environment: no cycle left behind
    assert res.simpy_events == len(timeouts) == len(set(map(id, timeouts)))
    assert len(others) == 1
    # A life's wake-up is one event and one call; an install is one event and a call per
    # strategy; the install after the last one lived may be pending past the horizon.
    extra = model.installed * (len(small.strategies) - 1)
    assert res.events - res.simpy_events in (extra, extra - 1)
    assert simulate(small).simpy_events > 0


def test_panel_accounting_identities(small: Scenario) -> None:
    """Counts are consistent: accepted <= shown, allowed <= dialogs, opted in <= installed,
    the installed stock is installs + reinstalls - uninstalls, and 'once' shows at most one
    soft prompt per install."""
    r = simulate(small)
    s = r.series
    assert (s("soft_prompts_accepted") <= s("soft_prompts_shown")).all()
    assert (s("os_dialogs_allowed") + s("os_dialogs_denied") <= s("os_dialogs_shown")).all()
    assert (s("opted_in_devices") + s("provisional_devices") <= s("active_devices")).all()
    assert (s("blocked_devices") <= s("active_devices")).all()
    net = np.cumsum(s("installs") + s("reinstalls") - s("uninstalls"), axis=-1)
    np.testing.assert_array_equal(net, s("active_devices"))
    cold = small.strategy_names().index("cold")
    assert s("soft_prompts_shown")[:, cold].sum() == 0, "the cold baseline has no soft prompt"
    assert s("os_dialogs_shown")[:, cold].sum() > 0


def test_once_shows_at_most_one_prompt_per_install(scenario: MakeScenario) -> None:
    """'once' shows the soft prompt at most once per install (a reinstall starts anew)."""
    sc = scenario(behaviour={"clear_data_per_year": 0.0, "reinstall": 0.5})
    r = simulate(sc)
    once = sc.strategy_names().index("once")
    shown = r.series("soft_prompts_shown")[:, once].sum(axis=-1)
    installs = (r.series("installs") + r.series("reinstalls"))[:, once].sum(axis=-1)
    assert (shown <= installs).all()
    assert shown.sum() > 0.3 * installs.sum()


def test_a_finished_chunk_is_freed_without_the_cyclic_collector(small: Scenario) -> None:
    """The engine runs with the cyclic garbage collector off: a chunk's model (and the
    population it holds) must be freed by reference counting alone once it is done, or
    memory grows with every chunk a worker runs."""
    profiles = small.profiles()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        model = ChunkModel(small, profiles, make_chunk(small, profiles, 0, 0), 0)
        result = model.run()
        del model
        # No weak reference: a mypyc-compiled ChunkModel takes none. A model kept alive by
        # a reference cycle would still be among the objects the collector tracks.
        assert not [o for o in gc.get_objects() if isinstance(o, ChunkModel)]
        assert result.events > 0
    finally:
        if was_enabled:
            gc.enable()


def test_devices_stay_in_the_cohort_they_installed_on(scenario: MakeScenario) -> None:
    """The panel's cohort axis is the profile at install: Android 12 devices that upgrade to
    13 (and may then see a dialog) are still counted as Android 12, and the cohorts of a
    platform add up to the platform's counts."""
    sc = scenario(population={"mix": {"android12": 0.5, "android13": 0.3, "ios": 0.2}},
                  behaviour={"os_upgrade_per_year": 6.0})
    r = simulate(sc)
    a12, a13 = PROFILES.index("android12"), PROFILES.index("android13")
    installs = r.series("installs").sum(axis=(0, 1, 3))
    assert installs[a12] > 0 and installs[a13] > 0
    assert installs.sum() == installs[[a12, a13, PROFILES.index("ios")]].sum()
    dialogs = r.series("os_dialogs_shown")[:, 0].sum(axis=(0, 2))
    assert dialogs[a12] > 0  # upgraded to 13 and asked, still the Android 12 cohort
    for name in ("installs", "opted_in_devices", "reach_201"):
        by_plat = r.by_platform(name)
        np.testing.assert_array_equal(by_plat.sum(axis=2), r.series(name).sum(axis=2))
        np.testing.assert_array_equal(by_plat[:, :, PLATFORMS.index("android")],
                                      r.series(name)[:, :, [a12, a13]].sum(axis=2))


@hypothesis.given(st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.0, 2.25, 3.0, 7.5]), max_size=30),
                  st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 8.0]),
                  st.integers(0, 30), st.integers(0, 30))
def test_first_at_is_bisect_left(values: list[float], t: float, lo: int, hi: int) -> None:
    """The engine's compiled search of a session history is ``bisect.bisect_left``, ties
    and empty ranges included."""
    times = array("d", sorted(values))  # as a chunk holds them (``population.doubles``)
    lo, hi = min(lo, len(times)), min(hi, len(times))
    assert first_at(times, t, lo, hi) == bisect.bisect_left(times, t, lo, hi)
