"""Experiments as data: arms of campaigns, weights, an audience and a window.

``PUT /v1/experiments/{id}`` takes an :class:`ExperimentIn`; :func:`validate` checks it
against the app's campaigns and its other experiments and gives the :class:`Experiment`
the store keeps. Each worker turns the stored experiments into :class:`Running` ones (with
the app's policy, in :mod:`sim.service.tenant`): :meth:`Running.arm_of` says which arm a
device is in, by the stateless hash of :mod:`sim.rules.assignment` through the arms' weights,
or, for an adaptive allocation (:mod:`sim.service.allocation`), the weights in force at the
unit's enrolment, the arm its record keeps once assigned.

An arm's campaigns are stored and reserved like the app's own, under ids namespaced by
experiment and arm (:func:`arm_campaign_id`), so two arms, or an arm and the app, never
share a campaign's counters. Experiment ids cannot contain ``:`` (which ends the
experiment's part of those ids).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import msgspec

from sim.rules.assignment import arm_index
from sim.rules.config.campaigns import EVERYONE, Audience, Campaign, Identifier, Policy
from sim.rules.config.platforms import DEFAULT_PROFILES
from sim.rules.native import PolicyRules
from sim.service import allocation as alloc
from sim.service.errors import Conflict
from sim.service.schemas import CampaignId, DeviceRecord, Time, unix_seconds

ExperimentId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")]
"""Experiment ids: 1-64 letters, digits or ``_ . -``, not starting with ``.`` (no ``:``,
which namespaces the arms' campaign ids)."""
WEIGHT_TOLERANCE = 1e-9
"""How far from 1 the weights of the arms may sum (floating-point rounding)."""
MAX_ARMS = 16
"""Most arms in one experiment: more than any pilot needs. Bounds input."""
MEMO_UNITS = 200_000
"""Units whose arm each worker keeps per experiment (about 25 MB at most)."""
CellRow = tuple[Any, ...]
"""A row of the store's aggregates (``sim.service.storage.experiment_sql``): the cell, then
its figures."""


class Arm(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True,
          omit_defaults=True):
    """One arm: its share of the units and the campaigns its devices get instead of the
    app's (none: no soft prompt at all)."""

    name: Identifier
    """The arm's name, unique in the experiment."""
    weight: Annotated[float, msgspec.Meta(ge=0, le=1)]
    """Its share of the units; the weights of an experiment sum to 1."""
    campaigns: Annotated[tuple[Campaign, ...], msgspec.Meta(max_length=32)] = ()
    """Its campaigns, as ``PUT /v1/campaigns/{id}`` takes them, with their ids; a cold
    arm is one campaign with ``primer = false``."""
    campaign_ids: Annotated[tuple[CampaignId, ...], msgspec.Meta(max_length=32)] = ()
    """Campaigns of the app to copy into ``campaigns`` as they are now (the copy is the
    arm's: later changes to the app's campaign do not reach it)."""


class ExperimentIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``PUT /v1/experiments/{experiment_id}``: the arms, the unit, who is in it and when."""

    arms: Annotated[tuple[Arm, ...], msgspec.Meta(min_length=2, max_length=MAX_ARMS)]
    """At least two arms."""
    unit: Literal["device", "user"] = "device"
    """What is assigned: the device, or its ``user_id`` (a reinstall keeps its arm)."""
    audience: Audience = EVERYONE
    """Platforms and profiles in the experiment (empty: every device)."""
    start: Time
    """When it starts (Unix seconds or RFC 3339; the app's clock)."""
    end: Time | None = None
    """When it ends (none: runs until ended); after ``start``."""
    allocation: alloc.Allocation | msgspec.UnsetType = msgspec.UNSET
    """How new units are split between the arms (none: ``fixed``, the arms' weights)."""


class Experiment(ExperimentIn, frozen=True, kw_only=True):
    """An experiment as stored and read: its id, each arm's campaigns copied in, and an
    adaptive allocation's history."""

    experiment_id: ExperimentId
    history: tuple[alloc.Step, ...] | msgspec.UnsetType = msgspec.UNSET
    """An adaptive allocation's steps, oldest first: the weights new units get from each
    step's ``since`` (only the service appends to it)."""


class ExperimentList(msgspec.Struct, frozen=True):
    """``GET /v1/experiments``: every experiment of the app, by id."""

    experiments: list[Experiment]


def state_key(rec: DeviceRecord) -> str:
    """What the stats read of a device's state, stored beside its document on every write
    (``devices.state_key``) so that they never parse documents: profile, permission, whether
    an OS dialog was shown, and denials (what ``is_blocked`` reads)."""
    st = rec.state
    return f"{st.profile} {st.permission} {min(st.dialogs_shown, 1)} {st.denials}"


def arm_campaign_id(experiment_id: str, arm: str, campaign_id: str) -> str:
    """The id an arm's campaign is stored and reserved under (its counters' key)."""
    return f"{experiment_id}:{arm}:{campaign_id}"


def window(exp: ExperimentIn) -> tuple[float, float]:
    """``(start, end)`` in Unix seconds (``end`` infinite when open)."""
    start = unix_seconds(exp.start, "start")
    end = unix_seconds(exp.end, "end")
    assert start is not None
    return start, math.inf if end is None else end


def cells(audience: Audience) -> frozenset[tuple[str, str]]:
    """Every ``(platform, profile)`` an audience takes in."""
    return frozenset((p.platform, name) for name, p in DEFAULT_PROFILES.items()
                     if (not audience.platforms or p.platform in audience.platforms)
                     and (not audience.profiles or name in audience.profiles))


def _resolve(arms: tuple[Arm, ...], app: Policy) -> tuple[Arm, ...]:
    out = []
    for i, arm in enumerate(arms):
        copied = []
        for j, cid in enumerate(arm.campaign_ids):
            camp = app.campaign(cid)
            if camp is None:
                raise Conflict("unknown_campaign", f"no campaign {cid!r} in this app; "
                                   "allowed: the ids GET /v1/campaigns lists, or the campaign "
                                   "itself in 'campaigns'", f"arms[{i}].campaign_ids[{j}]")
            copied.append(camp)
        out.append(Arm(name=arm.name, weight=arm.weight, campaigns=arm.campaigns + tuple(copied)))
    return tuple(out)


def _check_arms(experiment_id: str, arms: tuple[Arm, ...]) -> None:
    total = math.fsum(a.weight for a in arms)
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        raise Conflict("invalid_weights", f"the weights of the arms sum to {total!r}; "
                           f"allowed: weights >= 0 that sum to 1 (within "
                           f"{WEIGHT_TOLERANCE:g})", "arms")
    names: set[str] = set()
    for i, arm in enumerate(arms):
        if arm.name in names:
            raise Conflict("duplicate_arm", f"two arms are named {arm.name!r}; allowed: "
                               "unique names", f"arms[{i}].name")
        names.add(arm.name)
        ids: set[str] = set()
        for j, camp in enumerate(arm.campaigns):
            if camp.id in ids:
                raise Conflict("duplicate_campaign", f"arm {arm.name!r} has two campaigns "
                                   f"{camp.id!r}; allowed: unique ids within an arm",
                                   f"arms[{i}].campaigns[{j}].id")
            ids.add(camp.id)
            full = arm_campaign_id(experiment_id, arm.name, camp.id)
            if len(full) > 64:
                raise Conflict("id_too_long", f"{full!r} (experiment:arm:campaign, the "
                                   "id devices report the campaign by) is longer than 64 "
                                   "characters; allowed: shorter ids", f"arms[{i}].campaigns"
                                   f"[{j}].id")


def validate(experiment_id: str, body: ExperimentIn, app: Policy,
             others: Iterable[Experiment], locked: Experiment | None) -> Experiment:
    """The experiment to store, or :class:`Conflict` naming the field: 409, as for every
    request that fits the API's types but not its rules (the types answer 422).

    ``others`` are the app's other experiments; ``locked`` is the stored experiment of this
    id if it has started or has units (only its ``end`` may change then).
    """
    exp = Experiment(experiment_id=experiment_id, arms=_resolve(body.arms, app),
                     unit=body.unit, audience=body.audience, start=body.start, end=body.end,
                     allocation=body.allocation)
    _check_arms(experiment_id, exp.arms)
    start, end = window(exp)
    if end <= start:
        raise Conflict("invalid_window", "the experiment ends before it starts; allowed: "
                           "an end after the start, or none", "end")
    kind = alloc.allocation_of(exp.allocation)
    weights = [a.weight for a in exp.arms]
    alloc.check(kind, weights, sorted({p for p, _ in cells(exp.audience)}))
    if isinstance(kind, alloc.Thompson):
        history = locked.history if locked is not None else (alloc.first_step(start, weights),)
        exp = msgspec.structs.replace(exp, history=history)
    if locked is not None:
        for name in ("arms", "unit", "audience", "start", "allocation"):
            if getattr(locked, name) != getattr(exp, name) and \
                    (name != "start" or window(locked)[0] != start):
                raise Conflict("experiment_running", f"experiment {experiment_id!r} has "
                               f"started or has units: its {name} cannot change (only its "
                               "end); put the new version under a new experiment id",
                               name)
    mine = cells(exp.audience)
    for other in others:
        o_start, o_end = window(other)
        if o_start < end and start < o_end and mine & cells(other.audience):
            raise Conflict("experiment_overlap", f"experiment {other.experiment_id!r} runs "
                           "at the same time for some of the same devices; allowed: an "
                           "audience or a window that does not overlap it (or end it first)",
                           "audience")
    return exp


@dataclass(frozen=True, slots=True)
class Running:
    """An experiment as the decisions use it."""

    experiment: Experiment
    start: float
    """Days (the rules' clock)."""
    end: float
    """Days; infinite when open."""
    cells: frozenset[tuple[str, str]]
    """The ``(platform, profile)`` pairs of its audience."""
    weights: tuple[float, ...]
    """The arms' weights (an adaptive allocation's first step)."""
    policies: tuple[Policy, ...]
    """Each arm's campaigns (namespaced ids) with the app's policy settings."""
    rules: tuple[PolicyRules, ...]
    """``policies`` as the rules read them (converted once)."""
    cold: frozenset[str]
    """Namespaced ids of its campaigns with no soft prompt (``primer = false``)."""
    history: tuple[alloc.Step, ...] = ()
    """An adaptive allocation's steps (none: fixed weights)."""
    memo: dict[str, int] = field(default_factory=dict)
    """Arm index by unit id, as computed (a hash costs ~4 us; a look-up ~0.1 us), emptied
    at :data:`MEMO_UNITS`."""

    @property
    def experiment_id(self) -> str:
        """The experiment's id."""
        return self.experiment.experiment_id

    def arm_of(self, rec: DeviceRecord, device_id: str, now: float) -> int | None:
        """The arm index of a device, or None outside the audience or the window."""
        if not self.start <= now < self.end:
            return None
        if (rec.platform, rec.state.profile) not in self.cells:
            return None
        unit = self.unit_of(rec, device_id)
        if self.history:
            kept = None if isinstance(rec.arms, msgspec.UnsetType) else \
                rec.arms.get(self.experiment_id)
            return kept if kept is not None else self.arm_at(unit, now * 86400.0)
        i = self.memo.get(unit)
        if i is None:
            if len(self.memo) >= MEMO_UNITS:
                self.memo.clear()
            i = self.memo[unit] = arm_index(self.experiment_id, unit, self.weights)
        return i

    def arm_at(self, unit: str, t: float) -> int:
        """The arm of a unit enrolling at ``t`` (Unix seconds): the hash through the weights
        in force then (an adaptive allocation's step) or the arms' weights."""
        weights = alloc.in_force(self.history, t).weights if self.history else self.weights
        return arm_index(self.experiment_id, unit, weights)

    def unit_of(self, rec: DeviceRecord, device_id: str) -> str:
        """The id the device is assigned by: its own, or its user's (``unit = "user"``)."""
        return rec.user_id if self.experiment.unit == "user" and rec.user_id else device_id


def running(exp: Experiment, settings: Mapping[str, Any]) -> Running:
    """The runtime form of a stored experiment; ``settings`` are the app's policy settings."""
    start, end = window(exp)
    policies = []
    for arm in exp.arms:
        camps = tuple(msgspec.structs.replace(
            c, id=arm_campaign_id(exp.experiment_id, arm.name, c.id)) for c in arm.campaigns)
        policies.append(Policy(campaigns=camps, **settings))
    return Running(experiment=exp, start=start / 86400.0, end=end / 86400.0,
                   cells=cells(exp.audience), weights=tuple(a.weight for a in exp.arms),
                   policies=tuple(policies), rules=tuple(PolicyRules(p) for p in policies),
                   cold=frozenset(cold_ids(exp)),
                   history=() if isinstance(exp.history, msgspec.UnsetType) else exp.history)


def cold_ids(exp: Experiment) -> list[str]:
    """Namespaced ids of the experiment's campaigns with no soft prompt, sorted."""
    return sorted(arm_campaign_id(exp.experiment_id, arm.name, c.id)
                  for arm in exp.arms for c in arm.campaigns if not c.primer)


_stored = msgspec.json.Decoder(Experiment)


def aggregate_facts(doc: bytes) -> tuple[float | None, list[str]]:
    """What the stats' triggers read of a stored experiment: its end (Unix seconds, None
    when open) and its cold campaigns' ids."""
    exp = _stored.decode(doc)
    end = window(exp)[1]
    return (None if math.isinf(end) else end), cold_ids(exp)
