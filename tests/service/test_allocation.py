"""Thompson-sampling allocation (``sim.service.allocation``) without a server: a simulated
stream moves weight to the better arm and never under the floor; an arm that burns iOS
dialogs loses weight at an equal opt-in rate once burning has a price; the floor holds
after renormalising; a stale copy of the history finds its step due instead of assigning on
old weights; the sample-ratio check compares each cohort day with the weights it was
assigned under."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from scipy import stats

from sim.rules.assignment import arm_index
from sim.rules.config.campaigns import Audience, Policy
from sim.service import allocation as alloc
from sim.service.experiment_stats import ExperimentCell, _srm, arm_counts
from sim.service.experiments import Arm, ExperimentIn, running, validate

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
DAY = 86400.0


def _thompson(min_weight: float = 0.05, blocked: float = 0.0) -> alloc.Thompson:
    return alloc.Thompson(prices=(alloc.Price(platform="ios", blocked=blocked),),
                          prices_source="test", min_weight=min_weight)


def test_a_clearly_better_arm_gains_weight_and_no_arm_goes_under_the_floor() -> None:
    """Three arms with opt-in rates 0.5, 0.3 and 0.3, 300 new units a day split by the
    weights in force, 12 daily updates (10,000 posterior draws each, as GrowthBook's
    ``gbstats/bayesian/bandits.py`` in growthbook/growthbook draws): the best arm ends with
    all but the two floors (0.9), every step's weights sum to 1 and none is under 0.05;
    the same counts give the same step (a seed per update)."""
    a = _thompson()
    rates = np.array([0.5, 0.3, 0.3])
    rng = np.random.default_rng(3)
    counts = np.zeros((3, 3), dtype=np.int64)
    step = alloc.first_step(T0, (1 / 3, 1 / 3, 1 / 3))
    for day in range(1, 13):
        units = rng.multinomial(300, step.weights)
        opted = rng.binomial(units, rates)
        counts += np.column_stack([units, opted, np.zeros(3, dtype=np.int64)])
        since = T0 + day * DAY
        step = alloc.thompson(a, {"ios": counts.copy()}, step, since, alloc.seed_of("e", since),
                              burn_in=300)
        assert step.basis == "thompson"
        assert sum(step.weights) == pytest.approx(1.0, abs=1e-12)
        assert min(step.weights) >= 0.05 - 1e-12
    assert step.weights[0] == pytest.approx(0.9, abs=0.01)
    assert step.p_best[0] > 0.99
    again = alloc.thompson(a, {"ios": counts.copy()}, step, step.since, step.seed, burn_in=300)
    assert again == step


def test_burning_ios_dialogs_costs_weight_at_an_equal_opt_in_rate() -> None:
    """Two iOS arms with the same opt-ins (400 of 1,000 each); one blocks 500 units for good
    (a cold dialog denied: iOS shows it once), the other 100. Priced at 0 (the issue's
    complaint: a burnt dialog counted as free) the arms are a coin flip; at 0.3 of an opt-in
    the burning arm's P(best) is near 0 and it keeps only the floor."""
    counts = {"ios": np.array([[1000, 400, 100], [1000, 400, 500]])}
    prev = alloc.first_step(T0, (0.5, 0.5))
    free = alloc.thompson(_thompson(0.1, 0.0), counts, prev, T0 + DAY, 7, burn_in=0)
    assert 0.35 < free.p_best[1] < 0.65
    priced = alloc.thompson(_thompson(0.1, 0.3), counts, prev, T0 + DAY, 7, burn_in=0)
    assert priced.p_best[1] < 0.001
    assert priced.weights == pytest.approx((0.9, 0.1))


def test_burn_in_holds_the_weights_but_reports_p_best() -> None:
    """Under ``burn_in`` units the step keeps the previous weights (basis ``burn_in``) and
    still says each arm's P(best) and the counts it read (GrowthBook updates no weight
    before 100 units per arm)."""
    counts = {"ios": np.array([[10, 9, 0], [10, 1, 0]])}
    prev = alloc.first_step(T0, (0.5, 0.5))
    step = alloc.thompson(_thompson(), counts, prev, T0 + DAY, 1, burn_in=200)
    assert step.basis == "burn_in" and step.weights == (0.5, 0.5)
    assert step.units == (10, 10) and step.opted_in == (9, 1) and step.p_best[0] > 0.9


def test_the_floor_holds_after_renormalising() -> None:
    """P(best) 0.97, 0.02, 0.01 under a floor of 0.1: 0.8, 0.1, 0.1. Flooring and then
    dividing by the sum (``p[p < min] = min; p /= sum(p)`` in growthbook/growthbook
    ``packages/stats/gbstats/bayesian/bandits.py``) would leave 0.085 for the two."""
    assert alloc.floored((0.97, 0.02, 0.01), 0.1) == pytest.approx((0.8, 0.1, 0.1))
    assert alloc.floored((0.5, 0.3, 0.2), 0.1) == pytest.approx((0.5, 0.3, 0.2))
    assert alloc.floored((1.0, 0.0), 0.5) == pytest.approx((0.5, 0.5))
    naive = np.maximum([0.97, 0.02, 0.01], 0.1)
    assert (naive / naive.sum())[1] < 0.1


def test_a_stale_copy_finds_the_step_due_and_never_misses_one() -> None:
    """Boundaries are UTC midnights every ``update_every`` days from the start's day. A
    worker whose copy lacks the store's step finds it due at any enrolment after its
    boundary (it stores nothing twice and re-reads); before the boundary both copies give
    every unit the same arm. So no enrolment is assigned on weights other than the store's:
    the staleness that reaches an assignment is zero."""
    a = _thompson()
    s0 = alloc.first_step(T0, (0.5, 0.5))
    b1 = alloc.boundary(T0, 1, T0 + DAY)
    assert b1 == 1_700_006_400.0  # 2023-11-15T00:00:00Z
    assert alloc.boundary(T0, 1, b1 - 1) is None
    s1 = alloc.Step(since=b1, weights=(0.9, 0.1), basis="thompson")
    stale, store = (s0,), (s0, s1)
    end = T0 + 30 * DAY
    for t in (T0 + 10, b1 - 1):
        assert alloc.due(stale, a, end, t) is None and alloc.due(store, a, end, t) is None
        assert alloc.in_force(stale, t) == alloc.in_force(store, t) == s0
    for t in (b1, b1 + DAY - 1):
        assert alloc.due(stale, a, end, t) == b1
        assert alloc.due(store, a, end, t) is None
        assert alloc.in_force(store, t) == s1
    assert alloc.due(store, a, end, b1 + DAY) == b1 + DAY
    assert alloc.due(store, a, b1 + DAY, b1 + DAY) is None  # the experiment has ended
    weekly = alloc.Thompson(prices=(alloc.Price(platform="ios", blocked=0),),
                            prices_source="test",
                            update_every="7d")
    assert alloc.due(stale, weekly, end, T0 + 6 * DAY) is None
    assert alloc.due(stale, weekly, end, T0 + 7 * DAY) == b1 - DAY + 7 * DAY


def test_srm_compares_each_cohort_day_with_its_weights() -> None:
    """Day 1 at 0.5 / 0.5, then 0.9 / 0.1 for two days, 300 units a day assigned by the
    contract's hash: the check under the weights each day was assigned under passes; the
    same counts against the weights now would flag a mismatch (p < 0.001), the false alarm
    it avoids. GrowthBook's bandits sum each period's expected counts the same way
    (``compute_srm``, growthbook/growthbook ``packages/stats/gbstats/bayesian/bandits.py``)."""
    body = ExperimentIn(arms=(Arm(name="a", weight=0.5), Arm(name="b", weight=0.5)),
                        start=T0, end=T0 + 30 * DAY, audience=Audience(platforms=("ios",)),
                        allocation=_thompson(0.1))
    exp = validate("e", body, Policy(), [], None)
    assert not isinstance(exp.history, msgspec.UnsetType)
    b1 = alloc.boundary(T0, 1, T0 + DAY)
    assert b1 is not None
    step = alloc.Step(since=b1, weights=(0.9, 0.1), basis="thompson")
    run = running(msgspec.structs.replace(exp, history=(*exp.history, step)), {})
    cells = []
    for day, t in (("2023-11-14", T0 + 60), ("2023-11-15", b1 + 60), ("2023-11-16", b1 + DAY)):
        n = [0, 0]
        for i in range(300):
            n[run.arm_at(f"{day}-{i}", t)] += 1
        cells += [ExperimentCell(arm=arm, platform="ios", profile="ios", cohort_day=day,
                                 units=k) for arm, k in zip("ab", n, strict=True)]
    srm = _srm(run, cells)
    assert not srm.mismatch and srm.p_value > 0.01
    assert srm.expected_share["a"] == pytest.approx((0.5 + 0.9 + 0.9) / 3)
    observed = [srm.observed["a"], srm.observed["b"]]
    naive = stats.chisquare(observed, [900 * 0.9, 900 * 0.1])
    assert naive.pvalue < 0.001
    assert arm_counts(run, cells)["ios"][:, 0].sum() == 900
    assert run.arm_at("x", b1 + 60) == arm_index("e", "x", (0.9, 0.1))
    assert run.arm_at("x", T0 + 60) == arm_index("e", "x", (0.5, 0.5))
