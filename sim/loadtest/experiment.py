"""An experiment a load run hosts: its file, its ``PUT``, and each device's arm.

``promptsim load --experiment FILE.json`` puts the experiment (the body of
``PUT /v1/experiments/{id}``: arms, unit, audience, window; the id from ``--experiment-id``,
else the file's ``id`` field, else the file's name) on the service before the run. Each
device then computes its own arm as the service does (``sim.rules.assignment``: a hash of
the experiment id and the unit id, nothing looked up) and, while the experiment takes it
in (its platform and profile in the audience, the rule clock inside the window), lives and
replays the rules on the arm's campaigns, under the ids the service reserves them by
(``experiment:arm:campaign``). The service is the validator of the file: what it refuses
is reported with its own words.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec

from sim.model.scenario import Strategy
from sim.rules.assignment import arm_index
from sim.rules.config.campaigns import EVERYONE, Audience, Campaign, Policy, policy_settings

__all__ = ["ExperimentError", "ExperimentPlan", "arm_campaign_id", "read_experiment"]


class ExperimentError(ValueError):
    """An experiment file the load run cannot use; the message names the field."""


class _Arm(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    weight: float
    campaigns: tuple[Campaign, ...] = ()
    campaign_ids: tuple[str, ...] = ()


class _Doc(msgspec.Struct, frozen=True, kw_only=True):
    arms: tuple[_Arm, ...]
    unit: Literal["device", "user"] = "device"
    audience: Audience = EVERYONE
    start: float | str
    end: float | str | None = None


def arm_campaign_id(experiment_id: str, arm: str, campaign_id: str) -> str:
    """The id the service reserves an arm's campaign under (and events name it by)."""
    return f"{experiment_id}:{arm}:{campaign_id}"


def _seconds(value: float | str | None, name: str) -> float:
    if value is None:
        return math.inf
    if not isinstance(value, str):
        return float(value)
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ExperimentError(f"{name}: {value!r} is not an RFC 3339 date-time such as "
                              "2026-01-01T00:00:00Z") from None
    if when.tzinfo is None:
        raise ExperimentError(f"{name}: {value!r} has no time zone; allowed: e.g. "
                              "2026-01-01T00:00:00Z")
    return when.timestamp()


@dataclass(frozen=True)
class ExperimentPlan:
    """The experiment as the devices follow it."""

    experiment_id: str
    body: dict[str, Any]
    """The ``PUT`` body, as the file holds it (without ``id``)."""
    arms: tuple[str, ...]
    weights: tuple[float, ...]
    policies: tuple[Policy, ...]
    """Each arm's campaigns (namespaced ids) with the strategy's policy settings: what the
    service decides with."""
    unit: str
    audience: Audience
    start: float
    """Unix seconds."""
    end: float
    """Unix seconds; infinite when open."""

    def arm_of(self, device_id: str, user_id: str) -> int:
        """The unit's arm index (the contract's hash of ``sim.rules.assignment``)."""
        unit = user_id if self.unit == "user" and user_id else device_id
        return arm_index(self.experiment_id, unit, self.weights)

    def takes(self, platform: str, profile: str) -> bool:
        """Whether the audience takes in a device of this platform and profile."""
        a = self.audience
        return (not a.platforms or platform in a.platforms) and \
            (not a.profiles or profile in a.profiles)

    def running(self, at: float) -> bool:
        """Whether the window holds ``at`` (Unix seconds, the app's clock)."""
        return self.start <= at < self.end


def read_experiment(path: Path, strategy: Strategy,
                    experiment_id: str | None = None) -> ExperimentPlan:
    """Read an experiment file; its arms' campaigns resolved against ``strategy`` (the
    app's campaigns, for ``campaign_ids``). :class:`ExperimentError` names the field."""
    try:
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        raise ExperimentError(f"--experiment: cannot read {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExperimentError(f"--experiment: {path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ExperimentError(f"--experiment: {path}: expected a JSON object (the body of "
                              "PUT /v1/experiments/{id})")
    body = {k: v for k, v in doc.items() if k != "id"}
    allocation = body.get("allocation")
    kind = allocation.get("kind") if isinstance(allocation, dict) else "fixed"
    if kind != "fixed":
        raise ExperimentError(f"--experiment: allocation.kind: {kind!r}; allowed: 'fixed' "
                              "(a device computes its arm by the arms' weights, which an "
                              "adaptive allocation moves)")
    eid = experiment_id or doc.get("id") or path.stem
    if not isinstance(eid, str) or not eid or ":" in eid:
        raise ExperimentError(f"--experiment-id: {eid!r} is not an experiment id; allowed: "
                              "1-64 letters, digits or _ . - (no ':')")
    try:
        d = msgspec.convert(body, _Doc)
    except msgspec.ValidationError as exc:
        raise ExperimentError(f"--experiment: {path}: {exc}") from None
    settings = policy_settings(strategy)
    own = {c.id: c for c in strategy.campaigns}
    policies = []
    for i, arm in enumerate(d.arms):
        camps = list(arm.campaigns)
        for j, cid in enumerate(arm.campaign_ids):
            if cid not in own:
                raise ExperimentError(f"--experiment: arms[{i}].campaign_ids[{j}]: {cid!r} is "
                                      f"not a campaign of strategy {strategy.name!r}; allowed: "
                                      f"{', '.join(own) or 'none'}")
            camps.append(own[cid])
        policies.append(Policy(campaigns=tuple(
            msgspec.structs.replace(c, id=arm_campaign_id(eid, arm.name, c.id))
            for c in camps), **settings))
    return ExperimentPlan(
        experiment_id=eid, body=body, arms=tuple(a.name for a in d.arms),
        weights=tuple(a.weight for a in d.arms), policies=tuple(policies), unit=d.unit,
        audience=d.audience, start=_seconds(d.start, "start"), end=_seconds(d.end, "end"))
