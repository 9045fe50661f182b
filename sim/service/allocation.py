"""How an experiment splits its new units between its arms: fixed weights, or Thompson
sampling.

``allocation`` in the body of ``PUT /v1/experiments/{id}`` is one of the kinds declared here
(:data:`Allocation`): ``fixed``, the default, keeps the arms' weights for the whole
experiment (the body without ``allocation`` is that, stored and answered as before);
``thompson`` moves the weights that *new* units get towards the arm most likely to be best.

**Stickiness.** A unit never changes arm. An adaptive experiment keeps ``history``, an
append-only list of :class:`Step` ``(since, weights)``: the first is the declared weights
from ``start``, and the service appends one at each update boundary (UTC midnights, every
``update_every`` days from the start's day: :func:`boundary`) when the first unit enrols
after it. A unit's arm is the contract's hash of (experiment id, unit id)
(:mod:`sim.rules.assignment`) mapped through the weights in force at its enrolment (its
first assignment, stored with its arm; :func:`in_force`), and its device records keep that
arm. Since boundaries are UTC midnights, a cohort day of the stats lies in one step: the
sample-ratio check compares each cohort's units with the weights it was assigned under.

**Objective.** Each unit of an arm on a platform ends in one of three states the stats
count: opted in, blocked for good (the OS dialog can no longer be shown: on iOS one denial),
or neither. Its value is ``prices[platform].opt_in`` for an opt-in minus
``prices[platform].blocked`` for a block: what the simulator says each is worth over the
horizon (``prices_source`` names where they come from; ``promptsim pilot design`` is one).
An arm's value per unit is the mean over the experiment's platform mix.

**Thompson sampling** (Thompson, "On the likelihood that one unknown probability exceeds
another in view of the evidence of two samples", *Biometrika* 25, 1933; Russo, Van Roy,
Kazerouni, Osband and Wen, "A Tutorial on Thompson Sampling", *Foundations and Trends in
Machine Learning* 11(1), 2018, sections 3-4): per arm and platform a Dirichlet(1, 1, 1) prior
on the three states, updated with the counts (:func:`thompson`); the probability that each
arm has the highest value is the share of :data:`DRAWS` joint posterior draws in which it
does, with a seed fixed per update (the same stats give the same weights on every worker).
The weights are those probabilities floored at ``min_weight`` (:func:`floored`). GrowthBook
does the same with a Gaussian posterior on one metric (``gbstats/bayesian/bandits.py``:
10,000 draws, a seed per update, a minimum variation weight, no update before 100 units per
arm, the sample-ratio check against each period's weights).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal, assert_never

import msgspec
import numpy as np

from sim.rules.config.platforms import Platform
from sim.service.errors import Conflict

DAY = 86400.0
DRAWS = 10_000
"""Posterior draws per update (GrowthBook's ``n_samples``, 1e4): the Monte Carlo error of
a P(best) near 0.5 is about 0.005."""
BURN_IN_PER_ARM = 100
"""Units per arm before the first update moves a weight, unless ``burn_in_units`` says
otherwise (GrowthBook's minimum, ``100 * num_variations``)."""
WEIGHT_TOLERANCE = 1e-9


class Price(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What a unit's end state is worth on one platform, in the objective's units (one
    opted-in device: the simulator's ``[objective]``)."""

    platform: Platform
    opt_in: Annotated[float, msgspec.Meta(ge=0, le=1e6)] = 1.0
    """Value of a unit opted in."""
    blocked: Annotated[float, msgspec.Meta(ge=0, le=1e6)]
    """Price of a unit blocked for good (on iOS a denied dialog: the permission is lost for
    the install's life), over the simulator's horizon."""


class Fixed(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag="fixed",
            tag_field="kind"):
    """The arms' weights hold for the whole experiment (the default)."""


class Thompson(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True,
               tag="thompson", tag_field="kind"):
    """New units' weights follow each arm's probability of being best, floored."""

    prices: Annotated[tuple[Price, ...], msgspec.Meta(min_length=1, max_length=5)]
    """A price per platform of the audience (every platform when it names none)."""
    prices_source: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    """Where the prices come from (the command and scenario, say)."""
    min_weight: Annotated[float, msgspec.Meta(ge=0, lt=1)] = 0.01
    """No arm's weight goes below it (GrowthBook's default ``min_variation_weight``)."""
    update_every: Annotated[str, msgspec.Meta(pattern=r"^[1-9][0-9]?d$")] = "1d"
    """Days between updates, ``"1d"`` to ``"99d"``: whole days, so that each cohort day of
    the stats lies in one step."""
    burn_in_units: Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)] | None = None
    """Units before an update moves a weight (none: 100 per arm)."""


Allocation = Fixed | Thompson
"""The kinds of allocation, declared once."""


class Step(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One step of an adaptive experiment's history: the weights new units get from
    ``since`` on, and what they were computed from."""

    since: float
    """Unix seconds: the experiment's start, then an update boundary (a UTC midnight)."""
    weights: tuple[float, ...]
    """Per arm, in the experiment's order."""
    basis: Literal["declared", "burn_in", "thompson"]
    """``declared``: the arms' weights; ``burn_in``: an update held them (fewer units than
    the burn-in); ``thompson``: P(best) floored at ``min_weight``."""
    units: tuple[int, ...] = ()
    """Per arm, the units the update read (every unit enrolled until it)."""
    opted_in: tuple[int, ...] = ()
    """Per arm, of those units, the ones opted in."""
    blocked: tuple[int, ...] = ()
    """Per arm, of those units, the ones blocked for good."""
    p_best: tuple[float, ...] = ()
    """Per arm, the posterior probability that its value per unit is the highest."""
    seed: int = 0
    """The seed of the update's draws (from the experiment id and ``since``)."""


def allocation_of(a: Allocation | msgspec.UnsetType) -> Allocation:
    """The allocation a body declares (none: fixed)."""
    return Fixed() if isinstance(a, msgspec.UnsetType) else a


def every_days(a: Thompson) -> int:
    """``update_every`` in days."""
    return int(a.update_every[:-1])


def check(a: Allocation, weights: Sequence[float], platforms: Sequence[str]) -> None:
    """:class:`Conflict` naming the field when the allocation does not fit the arms
    (``weights``, declared) or the audience (its ``platforms``)."""
    match a:
        case Fixed():
            return
        case Thompson():
            if a.min_weight * len(weights) > 1 + WEIGHT_TOLERANCE:
                raise Conflict("invalid_allocation", f"min_weight {a.min_weight!r} times "
                               f"{len(weights)} arms exceeds 1; allowed: at most "
                               f"1 / {len(weights)}", "allocation.min_weight")
            seen: set[str] = set()
            for i, price in enumerate(a.prices):
                if price.platform in seen:
                    raise Conflict("invalid_allocation", f"two prices for {price.platform}; "
                                   "allowed: one per platform",
                                   f"allocation.prices[{i}].platform")
                seen.add(price.platform)
            missing = [p for p in platforms if p not in seen]
            if missing:
                raise Conflict("invalid_allocation", f"no price for {', '.join(missing)}; "
                               "allowed: a price for every platform of the audience",
                               "allocation.prices")
            for i, w in enumerate(weights):
                if w < a.min_weight - WEIGHT_TOLERANCE:
                    raise Conflict("invalid_allocation", f"weight {w!r} is below "
                                   f"allocation.min_weight {a.min_weight!r}; allowed: at "
                                   "least min_weight", f"arms[{i}].weight")
        case _:
            assert_never(a)


def first_step(start: float, weights: Sequence[float]) -> Step:
    """The history's first step: the declared weights from the start."""
    return Step(since=start, weights=tuple(weights), basis="declared")


def in_force(history: Sequence[Step], t: float) -> Step:
    """The step whose weights a unit enrolled at ``t`` (Unix seconds) gets: the last one
    with ``since <= t`` (the first before the start)."""
    found = history[0]
    for s in history:
        if s.since <= t:
            found = s
    return found


def boundary(start: float, every: int, t: float) -> float | None:
    """The last update boundary at or before ``t``: UTC midnights ``every`` days apart from
    the start's day; None before the first (Unix seconds)."""
    day0 = math.floor(start / DAY) * DAY
    k = math.floor((t - day0) / (every * DAY))
    return day0 + k * every * DAY if k >= 1 else None


def due(history: Sequence[Step], a: Thompson, end: float, t: float) -> float | None:
    """The boundary whose step must be stored before a unit enrols at ``t``, or None.

    A copy of the history older than the store's may find due a step the store holds
    already; it never misses one, since its last step is no later than the store's."""
    b = boundary(history[0].since, every_days(a), t)
    return b if b is not None and b > history[-1].since and b < end else None


def seed_of(experiment_id: str, since: float) -> int:
    """The seed of an update: 4 bytes of ``sha256(f"{experiment_id}:{since!r}")``."""
    digest = hashlib.sha256(f"{experiment_id}:{since!r}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def floored(p: Sequence[float], m: float) -> tuple[float, ...]:
    """``p`` (summing to 1) with every share at least ``m`` (``m * len(p) <= 1``), the rest
    shared in proportion to ``p``: arms under the floor get it, and the floor is checked
    again after the others are rescaled (a plain floor-then-renormalise, as in GrowthBook's
    ``compute_result``, can leave a floored arm under ``m``)."""
    w = np.asarray(p, dtype=float)
    low = np.zeros(len(w), dtype=bool)
    while True:
        free = ~low
        rest = 1.0 - m * float(low.sum())
        total = float(w[free].sum()) if free.any() else 0.0
        out = np.where(low, m, 0.0)
        if free.any():
            out[free] = (w[free] / total * rest) if total > 0 else rest / float(free.sum())
        newly = free & (out < m)
        if not newly.any():
            return tuple(float(x) for x in out)
        low |= newly


def thompson(a: Thompson, counts: Mapping[str, np.ndarray], previous: Step, since: float,
             seed: int, burn_in: int) -> Step:
    """The step from ``since``: ``counts[platform]`` is ``[arm, (units, opted in, blocked)]``
    of every unit enrolled so far. Held at ``previous``'s weights (basis ``burn_in``) while
    the units are fewer than ``burn_in``."""
    platforms = sorted(counts)
    arms = len(previous.weights)
    total = np.zeros((arms, 3), dtype=np.int64)
    for p in platforms:
        total += counts[p]
    n = int(total[:, 0].sum())
    rng = np.random.default_rng(seed)
    value = np.zeros((DRAWS, arms))
    for p in platforms:
        c = counts[p]
        share = float(c[:, 0].sum()) / n if n else 0.0
        price = price_of(a, p)
        for i in range(arms):
            u, opted, blocked = (int(x) for x in c[i])
            neither = max(0, u - opted - blocked)
            theta = rng.dirichlet([1 + opted, 1 + blocked, 1 + neither], DRAWS)
            value[:, i] += share * (price.opt_in * theta[:, 0] - price.blocked * theta[:, 1])
    if n:
        best = np.argmax(value, axis=1)
        p_best = tuple(float(x) for x in np.bincount(best, minlength=arms) / DRAWS)
    else:  # no unit yet: every arm's value is the prior's, alike
        p_best = (1.0 / arms,) * arms
    held = n < burn_in
    return Step(since=since, weights=previous.weights if held else floored(p_best, a.min_weight),
                basis="burn_in" if held else "thompson",
                units=tuple(int(x) for x in total[:, 0]),
                opted_in=tuple(int(x) for x in total[:, 1]),
                blocked=tuple(int(x) for x in total[:, 2]), p_best=p_best, seed=seed)


def price_of(a: Thompson, platform: str) -> Price:
    """The price of ``platform`` (``check`` made sure the audience's have one)."""
    return next(p for p in a.prices if p.platform == platform)


def burn_in_of(a: Thompson, arms: int) -> int:
    """Units before an update moves a weight."""
    return BURN_IN_PER_ARM * arms if a.burn_in_units is None else a.burn_in_units


def conditional_on(a: Thompson, s: Step) -> str:
    """What a step's P(best) is conditional on, in words."""
    if s.basis == "declared":
        return "nothing yet: the declared weights, until the first update"
    return (f"the service's counts of the {sum(s.units):,} units enrolled before the update "
            f"of {s.since:.0f} (Unix seconds): opted in, blocked for good, neither, per arm "
            "and platform, each under a Dirichlet(1, 1, 1) prior; value per unit = opt_in "
            "price x P(opted in) - blocked price x P(blocked), averaged over the platform "
            f"mix, prices from {a.prices_source!r}; {DRAWS:,} draws, seed {s.seed}")
