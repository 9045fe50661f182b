"""The optimizer: its search space, its race, and resuming it."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from sim.analysis import racing
from sim.analysis.optimize import Progress, _task, candidates, optimize
from sim.analysis.optimize_store import StoreMismatch, TaskStore
from sim.engine.chunk import STOCKS
from sim.model.scenario import ScenarioError, load_scenario, parse_scenario

TRUE_BEST = "more-l9-g2"


def toy(seed: int = 1, devices: int = 1500, days: int = 60, **search: Any) -> dict[str, Any]:
    """A scenario whose best candidate is known: only opted-in devices count, a declined soft
    prompt never causes an uninstall, so every extra chance to ask can only add opt-ins
    (with common random numbers, the first k prompts of a device are the same under every
    limit >= k): the largest limit is best."""
    return {
        "name": "toy", "seed": seed, "devices": devices, "days": days,
        "population": {"mix": {"ios": 0.5, "chrome": 0.5}, "install_window_days": 10},
        "behaviour": {"annoyance_base": 0.0},
        "objective": {"opted_in": 1.0, "provisional": 0.0, "prompt_uninstall": 0.0,
                      "blocked": 0.0},
        "strategies": [{"name": "once", "campaigns": [{"id": "soft"}]}],
        "search": {"replications": 6, "first_round": 3, "families": [
            {"name": "more", "frequency": "multiple", "limit": [1, 3, 9], "gap_days": [2]},
        ]} | search,
    }


def test_the_shipped_search_has_40_candidates_or_more() -> None:
    sc = load_scenario("scenarios/optimize.toml")
    names = [c.name for c in candidates(sc)]
    assert len(names) >= 40
    assert len(set(names)) == len(names)
    assert {c.family for c in candidates(sc)} == {"scenario", "cold", "once", "every_time",
                                                 "multiple", "backoff"}


@pytest.mark.parametrize(("family", "message"), [
    ({"frequency": "sometimes"}, "search.families[0].frequency: 'sometimes' is not one of "
                                 "once, every_time, multiple, backoff, gap_list"),
    ({"frequency": "once", "limit": [2]}, "search.families[0].limit: not used by frequency "
                                          "'once'; its lists are trigger, min_sessions, primer"),
    ({"frequency": "multiple", "limit": [2]}, "search.families[0].gap_days: frequency "
                                              "'multiple' needs a list of values"),
    ({"frequency": "multiple", "limit": [2, 2], "gap_days": [1]},
     "search.families[0].limit: a value is listed twice"),
    ({"frequency": "backoff", "gap_days": [1], "factor": [20]},
     "search.families[0].factor[0]: Expected `float` <= 10.0"),
    ({"frequency": "backoff", "gap_days": [0, 1]},
     "search.families[0].gap_days: 0.0: Expected `float` >= 1.1574074074074073e-05"),
    ({"frequency": "multiple", "limit": [2], "gap_days": [1e-9]},
     "search.families[0].gap_days: 1e-09: Expected `float` >= 1.1574074074074073e-05"),
    ({"frequency": "once", "trigger": [{"type": "event", "name": "signup"}]},
     "search.families[0].trigger: event 'signup' is never sent by the simulated users "
     "(events sent: order_placed); its candidates would never show: declare its rate, "
     "e.g. [behaviour.events] signup = 0.3"),
    ({"frequency": "once", "colour": "red"},
     "search.families[0]: unknown field 'colour'; allowed fields: name, frequency, primer, "
     "trigger, limit, gap_days, factor, min_sessions"),
])
def test_a_bad_search_names_the_field_and_what_is_allowed(family: dict[str, Any],
                                                          message: str) -> None:
    data = toy()
    data["search"]["families"] = [{"name": "f"} | family]
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data, "s.toml")
    assert str(err.value) == f"s.toml: {message}"


def test_a_candidate_on_one_platform_is_what_it_is_among_all() -> None:
    """The race simulates each platform's devices apart; the counts of devices must be those
    of the whole population, cohort by cohort, whichever candidates run together. (Users by
    reachability group a user's devices across Android, Huawei and Amazon, so those stocks
    differ; the objective and the front read none of them.)"""
    sc = load_scenario("scenarios/optimize.toml", devices=1500, days=60)
    cands = candidates(sc)
    raced = msgspec.structs.replace(sc, strategies=tuple(c.strategy for c in cands),
                                    search=None, baseline=None)
    whole_f, whole_s, _, n = _task(raced, (1, 0, "all", (0, 1, 8, 20, 35)))
    parts_f, parts_s, total = np.zeros_like(whole_f), np.zeros_like(whole_s), 0
    for g in ("ios", "android", "huawei", "amazon", "web"):
        f, s, _, m = _task(raced, (1, 0, g, (0, 1, 8, 20, 35)))
        parts_f += f
        parts_s += s
        total += m
    devices = [STOCKS.index(k) for k in ("active_devices", "opted_in_devices",
                                         "provisional_devices", "blocked_devices")]
    assert np.array_equal(whole_f, parts_f)
    assert np.array_equal(whole_s[:, devices], parts_s[:, devices])
    assert total == n == 1500
    alone_f, _, _, _ = _task(raced, (1, 0, "web", (20,)))
    with_f, _, _, _ = _task(raced, (1, 0, "web", (0, 20)))
    assert np.array_equal(alone_f[0], with_f[1])


def test_it_recovers_the_known_best_on_each_platform() -> None:
    sc = parse_scenario(toy())
    res = optimize(sc, jobs=2)
    assert list(res.groups) == ["ios", "web"]
    for g in res.groups.values():
        assert g.best == TRUE_BEST
        assert g.p_best[TRUE_BEST] > 0.5
        assert g.value.lo < g.value.mean < g.value.hi
        means = {n: m["value"] for n, m in g.means.items() if n.startswith("more")}
        assert means["more-l1-g2"] < means["more-l3-g2"] < means["more-l9-g2"]
    assert res.device_years < res.full_device_years


def test_the_first_round_never_drops_the_true_best_over_20_seeds() -> None:
    dropped_any = 0
    for seed in range(20):
        sc = parse_scenario(toy(seed=seed, devices=500, days=45))
        res = optimize(sc, budget=3)  # the first round only: 3 replications, then stop
        for g in res.groups.values():
            assert TRUE_BEST in g.finalists, (seed, g.group, g.dropped)
        dropped_any += sum(len(g.dropped) for g in res.groups.values()) > 0
    assert dropped_any == 0  # one round only: nobody is dropped before full precision
    for seed in range(20):
        sc = parse_scenario(toy(seed=seed, devices=500, days=45))
        res = optimize(sc, budget=6)  # rounds at 3 and 6 replications: one elimination
        for g in res.groups.values():
            assert TRUE_BEST in g.finalists, (seed, g.group, g.dropped)
            assert g.dropped.get(TRUE_BEST) is None
        dropped_any += sum(len(g.dropped) for g in res.groups.values()) > 0
    assert dropped_any >= 10  # and the race does drop the clear losers


def test_racing_statistics() -> None:
    assert racing.schedule(3, 12) == [3, 6, 12]
    assert racing.schedule(4, 10) == [4, 8, 10]
    assert racing.schedule(5, 5) == [5]
    assert racing.per_test_alpha(0.95, 41, 3) == pytest.approx(0.05 / 80)
    rng = np.random.default_rng(0)
    shared = rng.normal(0, 10, size=(8, 1))  # common random numbers: a shared noise
    v = shared + np.array([0.0, 0.1, 5.0]) + rng.normal(0, 0.2, size=(8, 3))
    assert racing.beaten(v, 0.01) == [0, 1]
    assert racing.beaten(v[:, :2], 0.01) == []
    pb = racing.p_best(v[:, 1:], seed=3)
    assert pb.sum() == pytest.approx(1.0) and pb[1] > 0.99
    assert np.array_equal(pb, racing.p_best(v[:, 1:], seed=3))


def test_p_best_does_not_call_one_of_many_equal_candidates_best() -> None:
    """Issue 23 item 2 ("P(best) 100% against 0%" with 42 finalists after 4 replications).
    With 4 replications the joint noise of 42 candidates is not estimated (the sample
    covariance has rank 3), so P(best) is not given. For 5 candidates with equal true
    values and common noise at 8 replications each P(best) should be near 0.2: drawn from a
    normal with the sample means the highest averaged 0.53 over these ten data sets; with
    the empirical-Bayes shrinkage it must stay under 0.45. A clear winner stays certain."""
    rng = np.random.default_rng(0)
    v = rng.normal(0, 10, size=(4, 1)) + rng.normal(0, 4, size=(4, 42))
    assert np.isnan(racing.p_best(v, 0)).all()
    assert racing.p_best_text(float("nan")) == "n/a"
    highest = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        v = rng.normal(0, 10, size=(8, 1)) + rng.normal(0, 4, size=(8, 5))
        pb = racing.p_best(v, seed)
        assert pb.sum() == pytest.approx(1.0)
        highest.append(float(pb.max()))
    assert np.mean(highest) < 0.45, highest
    assert racing.p_best(v + np.array([12.0, 0, 0, 0, 0]), 0)[0] > 0.99


def _same(a: Any, b: Any) -> None:
    for g in a.groups:
        x, y = a.groups[g], b.groups[g]
        assert (x.best, x.finalists, x.p_best, x.dropped, x.means) == \
               (y.best, y.finalists, y.p_best, y.dropped, y.means)


class Stop(Exception):
    pass


def test_an_interrupted_optimize_resumes_without_redoing_finished_tasks(tmp_path: Path) -> None:
    sc = parse_scenario(toy(devices=600, days=45))
    clean = optimize(sc, store=TaskStore(tmp_path / "clean", sc))
    assert clean.tasks_reused == 0
    seen: list[float] = []

    def stop_after_four_tasks(p: Progress) -> None:
        seen.append(p.done)
        if len(set(seen)) > 4:
            raise Stop

    with pytest.raises(Stop):
        optimize(sc, store=TaskStore(tmp_path / "cut", sc), on_progress=stop_after_four_tasks)
    finished = len(list((tmp_path / "cut" / "tasks").glob("*.npz")))
    assert finished == 4
    resumed = optimize(sc, store=TaskStore(tmp_path / "cut", sc))
    assert resumed.tasks_run == clean.tasks_run - finished
    assert resumed.tasks_reused > 0
    _same(clean, resumed)
    again = optimize(sc, store=TaskStore(tmp_path / "cut", sc))
    assert again.tasks_run == 0
    _same(clean, again)
    other = parse_scenario(toy(seed=99, devices=600, days=45))
    with pytest.raises(StoreMismatch, match="another scenario"):
        TaskStore(tmp_path / "cut", other)


def test_progress_counts_device_years_to_the_end_and_candidates_only_leave() -> None:
    sc = parse_scenario(toy(devices=600, days=45))
    seen: list[Progress] = []
    res = optimize(sc, on_progress=seen.append)
    assert seen[0].done == 0 and seen[0].alive == seen[0].candidates == 4
    assert all(a.done <= b.done for a, b in itertools.pairwise(seen))
    assert all(a.alive >= b.alive for a, b in itertools.pairwise(seen))
    assert seen[-1].done == pytest.approx(seen[-1].total)
    assert seen[-1].done == pytest.approx(res.device_years)
    assert seen[-1].replications == max(g.replications for g in res.groups.values())


def test_optimize_without_a_search_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from sim.cli import main

    assert main(["optimize", "scenarios/quickstart.toml", "--no-progress"]) == 2
    assert capsys.readouterr().err == (
        "promptsim optimize: error: scenarios/quickstart.toml: search: the scenario has no "
        "[search] table; see scenarios/optimize.toml and docs/optimize.md\n")


def test_the_last_survivor_runs_to_full_precision_on_fresh_replications(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 23 item 2: every rival is dropped after the first round (3 replications), yet
    the survivor runs to the full 12, as docs/optimize.md says; its value is reported on
    12 more replications the race never saw; it takes the largest limit tried, which the
    output flags as the edge of the grid; and P(best) says it holds the priors fixed."""
    import tomli_w

    from sim.cli import main

    res = optimize(parse_scenario(toy()), budget=12, jobs=2)
    for g in res.groups.values():
        assert g.finalists == [TRUE_BEST] and set(g.dropped.values()) == {3}
        assert g.replications == 12 and g.means[TRUE_BEST]["replications"] == 12
        assert g.confirmed is not None and g.confirmed.mean != g.value.mean
        assert g.confirmed.lo < g.value.mean < g.confirmed.hi  # same schedule, fresh noise
        assert g.edge == ["limit = 9 (the largest tried)"]
    toml = tmp_path / "toy.toml"
    toml.write_text(tomli_w.dumps(toy()))
    assert main(["optimize", str(toml), "--budget", "12", "--jobs", "2", "--no-progress",
                 "--out", str(tmp_path / "opt")]) == 0
    out = capsys.readouterr().out
    ios = res.groups["ios"].confirmed
    assert ios is not None
    assert f"{ios.mean:.1f} ({ios.lo:.1f} to {ios.hi:.1f})" in out
    assert "up to 9 prompts, 2 days apart, from the 1st session, at app open" in out
    m = res.groups["web"].means[TRUE_BEST]
    assert (f"opted in {100 * m['optin_share']:.1f}% of installed devices, "
            f"{m['prompt_uninstalls_per_1k']:.2f} uninstalls caused by prompts / 1,000 "
            f"installs, {100 * m['blocked_share']:.1f}% blocked for good") in \
        out.split("\nweb ")[1]
    assert "warning: on the edge of the search grid (limit = 9 (the largest tried))" in out
    assert "P(best) given the scenario's priors (held fixed)" in out
    assert "draws" not in out.split("value: the pick's mean")[1]
    head = (tmp_path / "opt" / "winner.toml").read_text().split("\n[")[0]
    assert ("# P(best) given the scenario's priors (held fixed): simulation noise only: "
            f"ios {TRUE_BEST} 100%, web {TRUE_BEST} 100%.") in head
    assert "draws" not in head
    page = (tmp_path / "opt" / "optimize.html").read_text()
    assert "prior draws" not in page and "rerun with <code>--prior-draws N</code>" in page


def flipping(**over: Any) -> dict[str, Any]:
    """``toy`` where a declined soft prompt may make the user uninstall, at a cost of 3:
    at the scenario's annoyance_base (0) the largest limit is best and beats every rival
    clearly, while the drawn range (0 to 0.3) reaches values at which fewer prompts win.
    The weight of an uninstall is drawn too (2 to 4)."""
    data = toy(devices=600, days=45, **over)
    data["objective"] = {"opted_in": 1.0, "provisional": 0.0, "prompt_uninstall": 3.0,
                         "blocked": 0.0, "ranges": {"prompt_uninstall": [2.0, 4.0]}}
    data["sensitivity"] = {"priors": ["annoyance_base"],
                           "ranges": {"annoyance_base": [0.0, 0.3]}}
    return data


def test_p_best_under_prior_draws_is_the_sensitivity_analysis_share() -> None:
    """Issue 23: with the priors held fixed the race is sure (P(best) 100%: every rival was
    dropped), under draws of a prior range that flips the pick it is not (strictly between
    0 and 1); and the figure is what ``simulate --prior-draws`` computes for the same
    contenders on that platform's devices, draw by draw (same draws, same devices)."""
    from sim.analysis.sensitivity import run_sensitivity
    from sim.model.objective import outcomes
    from sim.model.objective import p_best as share_best
    from sim.rules.config.platforms import PROFILES

    sc = parse_scenario(flipping())
    res = optimize(sc, budget=6, prior_draws=12)
    assert res.prior_draws == 12 and res.drawn_weights == ["prompt_uninstall"]
    assert "under 12 draws of the priors and of the objective's weights prompt_uninstall" \
        in res.p_best_label()
    for g in res.groups.values():
        u = g.under_draws
        assert u is not None and g.finalists == [TRUE_BEST] and g.p_best[TRUE_BEST] == 1.0
        assert next(iter(u.p_best)) == TRUE_BEST and len(u.p_best) == 4  # and 3 dropped ones
        assert 0.0 < u.p_best[TRUE_BEST] < 1.0
        assert sum(u.p_best.values()) == pytest.approx(1.0)
        p = u.p_best[TRUE_BEST]
        assert u.se[TRUE_BEST] == pytest.approx((p * (1 - p) / 12) ** 0.5)
    ios = res.groups["ios"].under_draws
    assert ios is not None
    by_name = {c.name: c.strategy for c in res.candidates}
    psa = msgspec.structs.replace(sc, search=None, baseline=None,
                                  strategies=tuple(by_name[n] for n in ios.p_best))
    run, _ = run_sensitivity(psa, 12, weights=True)
    profiles = run.scenario.profiles()
    cohorts = [c for c, n in enumerate(PROFILES) if profiles[n].platform == "ios"]
    v = outcomes(lambda k: run.series(k)[:, :, cohorts].sum(axis=2),
                 run.scenario.objective)["value"]
    assert share_best(v).tolist() == pytest.approx(list(ios.p_best.values()))
    assert np.nanmean(v, axis=0).tolist() == pytest.approx(list(ios.value.values()))
    assert optimize(sc, budget=6, prior_draws=12).groups["ios"].under_draws == ios


def test_the_cli_page_and_winner_say_p_best_is_under_prior_draws(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import tomli_w

    from sim.cli import main

    toml = tmp_path / "flip.toml"
    toml.write_text(tomli_w.dumps(flipping()))
    assert main(["optimize", str(toml), "--budget", "6", "--prior-draws", "1",
                 "--no-progress", "--out", str(tmp_path / "bad")]) == 2
    assert capsys.readouterr().err == ("promptsim optimize: error: --prior-draws: draws from "
                                       "2 to 10000, got 1\n")
    assert main(["optimize", str(toml), "--budget", "6", "--prior-draws", "8", "--jobs", "1",
                 "--no-progress", "--out", str(tmp_path / "opt")]) == 0
    out = capsys.readouterr().out
    res = optimize(parse_scenario(flipping()), budget=6, prior_draws=8)
    label = res.p_best_label()
    assert f"**{label}" in out and "*P(best) given the scenario's priors (held fixed)" in out
    winner = (tmp_path / "opt" / "winner.toml").read_text()
    for g in ("ios", "web"):
        u = res.groups[g].under_draws
        assert u is not None
        drawn = f"{100 * u.p_best[TRUE_BEST]:.0f}% \u00b1{100 * u.se[TRUE_BEST]:>3.0f}"
        assert next(line for line in out.splitlines() if line.startswith(g)).count(drawn) == 1
        assert f"{g} {TRUE_BEST} {100 * u.p_best[TRUE_BEST]:.0f}% " \
               f"(\u00b1{100 * u.se[TRUE_BEST]:.0f})" in winner
    assert f"\n# {label}: ios {TRUE_BEST}" in winner
    assert res.composite is not None and res.composite.same
    line = res.composite.line()
    assert line in winner and line[1:] in out and line.replace("'", "&#39;") in \
        (tmp_path / "opt" / "optimize.html").read_text()
    assert f"\n# P(best) given the scenario's priors (held fixed): simulation noise only: " \
           f"ios {TRUE_BEST} 100%" in winner
    page = (tmp_path / "opt" / "optimize.html").read_text()
    picks = page.split("<h2>The pick per platform</h2>")[1].split("<h2>")[0]
    assert "P(best) under 8 prior draws (\u00b1 Monte Carlo SE)" in picks
    ios = res.groups["ios"].under_draws
    assert ios is not None
    assert (f"{100 * ios.p_best[TRUE_BEST]:.0f}% (\u00b1{100 * ios.se[TRUE_BEST]:.0f})"
            in picks.split("<td>iOS</td>")[1].split("</tr>")[0])
    rows = list(csv.DictReader((tmp_path / "opt" / "candidates.csv").read_text().splitlines()))
    assert {r["candidate"]: float(r["p_best_under_draws"]) for r in rows
            if r["platform"] == "ios" and r["p_best_under_draws"]} == \
        pytest.approx(ios.p_best, abs=1e-4)


@pytest.mark.parametrize(("campaign", "words"), [
    ({"frequency": {"type": "multiple", "limit": 5, "gap_days": 1}},
     "up to 5 prompts, 1 day apart, from the 1st session, at app open"),
    ({"frequency": {"type": "backoff", "gap_days": 2, "factor": 3}, "min_sessions": 2,
      "trigger": {"type": "session_time", "seconds": 30}},
     "prompts without limit, the first gap 2 days, each next one x3, from the 2nd session, "
     "after 30 s in a session"),
    ({"frequency": {"type": "once"}, "primer": False},
     "one prompt, from the 1st session, at app open (no soft prompt: the OS dialog "
     "directly)"),
])
def test_a_candidate_is_described_in_words(campaign: dict[str, Any], words: str) -> None:
    from sim.analysis.candidate_words import describe
    from sim.rules.config.campaigns import Campaign

    assert describe((msgspec.convert({"id": "soft", **campaign}, Campaign),)) == words


def test_the_composite_is_valued_against_the_best_single_on_fresh_replications() -> None:
    """Issue 23 item 4 for the optimizer: where the platforms pick different candidates
    (here iOS ``once``, web ``more-l3-g2``: uninstalls cost 6 and a declined soft prompt
    uninstalls 2%), the picks as one policy are valued against the candidate with the
    best first-round value over all devices, on the fresh replications 6-11, which chose
    neither. The figures are what ``simulate`` gives for the policy ``winner.toml`` holds
    and for that candidate on those replications (common random numbers: same devices)."""
    from sim.engine.runner import simulate
    from sim.model.objective import outcomes
    from sim.stats import estimate

    data = toy(devices=600, days=45)
    data["behaviour"] = {"annoyance_base": 0.02}
    data["objective"] = {"opted_in": 1.0, "provisional": 0.0, "prompt_uninstall": 6.0,
                         "blocked": 0.0}
    sc = parse_scenario(data)
    res = optimize(sc, budget=6)
    comp = res.composite
    assert comp is not None and not comp.same
    assert {g: r.best for g, r in res.groups.items()} == {"ios": "once", "web": "more-l3-g2"}
    single = next(c.strategy for c in res.candidates if c.name == comp.single)
    both = msgspec.structs.replace(sc, search=None, baseline=None, replications=12,
                                   strategies=(res.winner(), single))
    run = simulate(both)
    v = outcomes(lambda k: run.series(k).sum(axis=2), run.scenario.objective)["value"][6:]
    assert comp.value == pytest.approx(estimate(v[:, 0]))
    assert comp.single_value == pytest.approx(estimate(v[:, 1]))
    assert comp.gain == pytest.approx(estimate(v[:, 0] - v[:, 1]))
    assert f"{comp.gain.mean:+.1f} (95% CI {comp.gain.lo:+.1f} to {comp.gain.hi:+.1f})" \
        in comp.line()
