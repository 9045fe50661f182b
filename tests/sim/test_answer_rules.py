"""Four behaviour rules of ``sim.model.answers`` against their closed forms: prompt fatigue,
its recovery, the context boost and the growth of annoyance uninstalls.

Each rule is checked twice: at the function (the threshold the uniform is compared with is
the closed form), and in distribution over many simulated users, where the engine lives
every step and the closed form is computed from the event log alone. The closed forms, as
``docs/behaviour-priors.md`` states the rules and ``sim.model.life`` applies them:

- every soft prompt shown adds one unit of fatigue, and each unit halves every half-life
  ``h``: after impressions at ``t_1 .. t_n``, the fatigue at ``t`` is
  ``F(t) = sum_i 2^(-(t - t_i) / h)`` (for ``k`` impressions ``t`` days ago, ``k 2^(-t/h)``);
- the user taps a soft prompt with probability ``p = r * f^F`` (receptiveness ``r``, fatigue
  factor ``f``, ``F`` the fatigue just before this impression), or ``min(1, p * boost)``
  when an app event triggered it (in context);
- a dismissed soft prompt uninstalls the app with probability
  ``min(1, base * (1 + growth * n))``, ``n`` the campaign's earlier impressions.

The distribution tests compare the count of taps (or uninstalls) with the sum of the
closed-form probabilities: given the history, each answer is a Bernoulli draw of its own
uniform, so the count minus that sum has mean 0 and variance ``sum p (1 - p)`` however the
history depends on earlier answers (a martingale). A test fails when ``|z| > 4``: a false
alarm once in about 16,000 runs (normal approximation; the seed is fixed, so it either
always passes or always fails).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sim.engine.runner import simulate
from sim.model.answers import annoyance_uninstall, decayed_fatigue, soft_prompt_accepts
from sim.model.behaviour import Behaviour
from sim.model.events import LogEvent
from sim.model.population import make_chunk
from sim.model.scenario import Scenario, parse_scenario

Z_MAX = 4.0
"""Two-sided bound on the z statistic: P(|Z| > 4) = 6.3e-5 under the rule."""

PRIORS = {"fatigue_factor": 0.6, "fatigue_half_life_days": 3.0, "context_boost": 1.8,
          "annoyance_base": 0.03, "annoyance_growth": 1.0}
"""Priors with effects large enough to see on a few thousand users: fatigue 0.6 a unit with
a 3-day half-life, a 1.8x context boost, 3% annoyance doubling with the first impression."""
B = Behaviour(**PRIORS)  # type: ignore[arg-type]  # floats, checked by msgspec's Behaviour


def fatigue(times: list[float], t: float, h: float) -> float:
    """The closed form: ``sum_i 2^(-(t - t_i) / h)`` over the impressions before ``t``."""
    return sum(float(2.0 ** (-(t - ti) / h)) for ti in times)


def accept_p(r: float, f: float, fat: float, boost: float | None) -> float:
    """The closed form of a tap: ``r * f^F``, times ``boost`` (at most 1) in context."""
    p: float = r * f ** fat
    return p if boost is None else min(1.0, p * boost)


def flips_at(answer: object, p: float) -> bool:
    """Whether a rule answering ``u < p`` answers yes just below ``p`` and no just above."""
    assert callable(answer)
    return bool(answer(p * (1 - 1e-9))) and not answer(min(p * (1 + 1e-9), 1.0 + 1e-9))


# --- the functions ---------------------------------------------------------------------

@pytest.mark.parametrize("r", [0.2, 0.45, 0.9])
@pytest.mark.parametrize("fat", [0.0, 0.5, 1.0, 2.7])
def test_a_tap_is_receptiveness_times_f_to_the_fatigue(r: float, fat: float) -> None:
    """Out of context, the soft prompt is tapped when ``u < r * f^F``."""
    p = accept_p(r, B.fatigue_factor, fat, None)
    assert flips_at(lambda u: soft_prompt_accepts(u, r, fat, False, B), p)


@pytest.mark.parametrize("r", [0.2, 0.45, 0.9])
@pytest.mark.parametrize("fat", [0.0, 1.0, 2.7])
def test_in_context_the_tap_is_boosted_and_capped_at_one(r: float, fat: float) -> None:
    """In context (an app event triggered the prompt): ``u < min(1, r * f^F * boost)``."""
    p = accept_p(r, B.fatigue_factor, fat, B.context_boost)
    if p < 1.0:
        assert flips_at(lambda u: soft_prompt_accepts(u, r, fat, True, B), p)
    else:
        assert soft_prompt_accepts(0.999999, r, fat, True, B)


def test_fatigue_after_k_impressions_t_days_ago_is_k_halved_every_half_life() -> None:
    """The life's update (decay since the last impression, then one more unit) gives the
    closed form: ``F(t) = sum_i 2^(-(t - t_i) / h)``; ``k`` impressions ``t`` days ago leave
    ``k 2^(-t/h)``, so the tap is ``r f^(k 2^(-t/h))``."""
    h = B.fatigue_half_life_days
    for times in ([0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 1.5, 6.0], [2.0, 9.0, 9.2, 30.0]):
        fat, last = 0.0, 0.0
        for ti in times:
            fat, last = decayed_fatigue(fat, ti - last, B) + 1.0, ti
        for t in (times[-1], times[-1] + 1.0, times[-1] + h, times[-1] + 10 * h):
            got = decayed_fatigue(fat, t - last, B)
            assert got == pytest.approx(fatigue(times, t, h), rel=1e-12)
    k, t, r = 3, 2 * h, 0.5
    p = accept_p(r, B.fatigue_factor, k * 2.0 ** (-t / h), None)
    fat = decayed_fatigue(float(k), t, B)
    assert fat == pytest.approx(0.75)
    assert flips_at(lambda u: soft_prompt_accepts(u, r, fat, False, B), p)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 40])
def test_annoyance_grows_linearly_with_earlier_impressions(n: int) -> None:
    """A dismissal uninstalls when ``u < base * (1 + growth * n)``, ``n`` earlier impressions
    (every dismissal uninstalls once that reaches 1)."""
    q = B.annoyance_base * (1 + B.annoyance_growth * n)
    if q < 1.0:
        assert flips_at(lambda u: annoyance_uninstall(u, n, B), q)
    else:
        assert annoyance_uninstall(0.999999, n, B)


# --- in distribution, over simulated users --------------------------------------------------

def oracle_scenario() -> Scenario:
    """iOS users who never reinstall, clear data or upgrade (one install each, the state is
    never reset), under three strategies: a soft prompt every session, one every 3 days (a
    half-life: recovery shows), and one after each order (in context)."""
    return parse_scenario({
        "name": "answer_rules", "seed": 29, "devices": 4000, "days": 90, "replications": 1,
        "chunk_size": 4000,
        "population": {"mix": {"ios": 1.0}, "install_window_days": 20, "second_device": 0.0},
        "behaviour": {"reinstall": 0.0, "clear_data_per_year": 0.0,
                      "os_upgrade_per_year": 0.0, "event_per_session": 0.3, **PRIORS},
        "strategies": [
            {"name": "every_time",
             "campaigns": [{"id": "soft", "frequency": {"type": "every_time"}}]},
            {"name": "spaced", "campaigns": [
                {"id": "soft", "frequency": {"type": "multiple", "limit": 8, "gap_days": 3}}]},
            {"name": "in_context", "campaigns": [
                {"id": "order", "trigger": {"type": "event", "name": "order_placed"},
                 "frequency": {"type": "every_time"}}]},
        ],
    }, "test")


@dataclass(frozen=True)
class Impression:
    """One soft prompt shown, as the log tells it, with its closed-form probabilities."""

    strategy: str
    context: bool
    fatigue: float
    """``F`` just before it, from the closed form over the device's earlier impressions."""
    since_last: float
    """Days since the device's previous impression (inf for the first)."""
    p: float
    """Closed-form chance of a tap."""
    tapped: bool
    shown_before: int
    uninstalled: bool | None
    """After a dismissal: whether the app was uninstalled at once (None when tapped)."""


def impressions(log: list[LogEvent], sc: Scenario) -> Iterator[Impression]:
    """Every soft prompt the log shows, per (strategy, device) in time order."""
    chunk = make_chunk(sc, sc.profiles(), 0, 0)
    b = sc.behaviour
    by_life: dict[tuple[str, str], list[LogEvent]] = {}
    for e in log:
        by_life.setdefault((e.strategy, e.device), []).append(e)
    for (strategy, device), events in by_life.items():
        r = chunk.receptiveness[int(device[1:])]
        times: list[float] = []
        pending: LogEvent | None = None
        for k, e in enumerate(events):
            if e.kind == "decision" and e.show:
                pending = e
                continue
            if pending is None or e.kind not in ("soft_prompt_clicked", "soft_prompt_dismissed"):
                continue
            assert e.t == pending.t
            context = pending.trigger == "event"
            fat = fatigue(times, e.t, b.fatigue_half_life_days)
            tapped = e.kind == "soft_prompt_clicked"
            gone = None if tapped else (k + 1 < len(events) and events[k + 1].t == e.t
                                        and events[k + 1].kind == "uninstalled")
            yield Impression(strategy, context, fat, e.t - times[-1] if times else math.inf,
                             accept_p(r, b.fatigue_factor, fat,
                                      b.context_boost if context else None),
                             tapped, len(times), gone)
            times.append(e.t)
            pending = None


@pytest.fixture(scope="module")
def shown() -> list[Impression]:
    """The impressions of the oracle scenario's simulated users (engine, every step)."""
    sc = oracle_scenario()
    return list(impressions(simulate(sc, log=True).log, sc))


def z_score(hits: int, probabilities: list[float]) -> float:
    """(hits - sum p) / sqrt(sum p (1 - p)): the standardized count of a Poisson binomial."""
    mean = sum(probabilities)
    var = sum(p * (1 - p) for p in probabilities)
    return (hits - mean) / math.sqrt(var)


def test_the_scenario_shows_enough_of_each_rule(shown: list[Impression]) -> None:
    """The groups the tests below read are large (the tests have power: each rule removed
    moves its z far past 4, see the report of issue 29)."""
    assert sum(1 for i in shown if not i.context and i.fatigue > 0.5) > 2000
    assert sum(1 for i in shown if i.strategy == "spaced" and i.since_last >= 3.0) > 1000
    assert sum(1 for i in shown if i.context and i.fatigue == 0.0) > 1000
    assert sum(1 for i in shown if i.uninstalled is not None and i.shown_before >= 1) > 2000


def test_taps_after_earlier_prompts_follow_r_f_to_the_fatigue(shown: list[Impression]) -> None:
    """Out of context, impressions with fatigue (an earlier prompt): taps ~ sum of
    ``r f^F(t)``, ``F`` the closed-form sum over the earlier impressions."""
    group = [i for i in shown if not i.context and i.fatigue > 0.0]
    z = z_score(sum(i.tapped for i in group), [i.p for i in group])
    assert abs(z) < Z_MAX, f"z = {z:.1f} over {len(group)} impressions"


def test_fatigue_recovers_with_its_half_life(shown: list[Impression]) -> None:
    """Prompts at least a half-life after the previous one (``spaced``, every 3 days):
    taps ~ ``r f^F`` with the recovered ``F`` (each earlier unit halved every 3 days),
    not the unrecovered count of earlier impressions."""
    group = [i for i in shown if i.strategy == "spaced" and i.since_last >= 3.0]
    z = z_score(sum(i.tapped for i in group), [i.p for i in group])
    assert abs(z) < Z_MAX, f"z = {z:.1f} over {len(group)} impressions"


def test_a_prompt_in_context_is_boosted(shown: list[Impression]) -> None:
    """A first prompt after an order (in context, no fatigue): taps ~ sum of
    ``min(1, r * boost)``."""
    group = [i for i in shown if i.context and i.fatigue == 0.0]
    z = z_score(sum(i.tapped for i in group), [i.p for i in group])
    assert abs(z) < Z_MAX, f"z = {z:.1f} over {len(group)} impressions"


def test_annoyance_uninstalls_grow_with_earlier_impressions(shown: list[Impression]) -> None:
    """Dismissals after at least one earlier impression: uninstalls at once ~ sum of
    ``min(1, base (1 + growth n))``."""
    group = [i for i in shown if i.uninstalled is not None and i.shown_before >= 1]
    q = [min(1.0, B.annoyance_base * (1 + B.annoyance_growth * i.shown_before)) for i in group]
    z = z_score(sum(bool(i.uninstalled) for i in group), q)
    assert abs(z) < Z_MAX, f"z = {z:.1f} over {len(group)} dismissals"
