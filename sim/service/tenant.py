"""Apps (the service's tenants): who they are, and their rules in memory.

An :class:`App` is what a key authenticates: id, name, clock. A :class:`Tenant`
is that app as the rules see it: its ``Policy``, platform profiles and clock, each as the
API's Struct and as the rules' native copy (``sim.rules.native``), converted once.
Each worker caches a ``Tenant`` per app and rebuilds it when the app's
``policy_version`` (bumped by every campaign or settings write) changes. The
cache only saves decoding; device state is always read inside the device's
transaction, so once-only guarantees never depend on it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from sim.rules.config.campaigns import Campaign, Policy, policy_settings
from sim.rules.config.platforms import DEFAULT_PROFILES, PlatformProfile, override_profiles
from sim.rules.native import PolicyRules, ProfileRules
from sim.service.errors import Conflict, InvalidInput
from sim.service.experiments import Experiment, Running, running
from sim.service.schemas import AppSettings, Clock, DeviceRecord

_campaign = msgspec.json.Decoder(Campaign)
_experiment = msgspec.json.Decoder(Experiment)
_settings = msgspec.json.Decoder(AppSettings)


@dataclass(frozen=True, slots=True)
class App:
    """An app (a tenant of the service) as stored: its key's hash finds it."""

    app_id: str
    name: str
    clock: Clock


@dataclass(frozen=True, slots=True)
class Tenant:
    """An app as the rules see it."""

    app_id: str
    clock: Clock
    version: int
    policy: Policy
    """The campaigns and settings as the API reads and writes them."""
    profiles: dict[str, PlatformProfile]
    settings: AppSettings
    rules: PolicyRules
    """``policy`` as the rules read it."""
    profile_rules: dict[str, ProfileRules]
    """``profiles`` as the rules read them."""
    experiments: tuple[Running, ...] = ()
    """The app's experiments (``sim.service.experiments``), by id."""
    arm_campaigns: frozenset[str] = frozenset()
    """The namespaced ids of every arm's campaigns (events may name them)."""

    def now(self, at: float | None, field: str = "at") -> float:
        """The rules' time in days: the client's ``at`` (client clock) or the server's."""
        if self.clock == "client":
            if at is None:
                raise Conflict("at_required", "this app uses the client clock: 'at' (Unix "
                               "seconds or RFC 3339) is required", field)
            return at / 86400.0
        return time.time() / 86400.0

    def profile(self, name: str) -> ProfileRules:
        """The platform profile a device's state names, as the rules read it."""
        return self.profile_rules[name]

    def knows(self, campaign_id: str) -> bool:
        """Whether a campaign id is the app's or one of its experiments' arms'."""
        return campaign_id in self.arm_campaigns or self.policy.campaign(campaign_id) is not None

    def experiment(self, experiment_id: str) -> Running | None:
        """The experiment with this id, if any."""
        return next((e for e in self.experiments if e.experiment_id == experiment_id), None)

    def arm_of(self, rec: DeviceRecord, device_id: str,
               now: float) -> tuple[Running, int] | None:
        """The experiment a device is in now and its arm index (running experiments never
        share a device: the first that takes it in is the only one)."""
        for e in self.experiments:
            i = e.arm_of(rec, device_id, now)
            if i is not None:
                return e, i
        return None


def profiles_for(settings: AppSettings) -> dict[str, PlatformProfile]:
    """Built-in profiles with the app's overrides; :class:`InvalidInput` naming the field
    if one is bad (the settings' type already allows only built-in profiles and their rule
    fields)."""
    try:
        return override_profiles(DEFAULT_PROFILES, settings.overrides())
    except ValueError as exc:
        text = str(exc)
        field, _, detail = text.partition(": ")
        raise InvalidInput("invalid_value", detail or text, field or "platforms") from None


def build_tenant(app_id: str, clock: Clock, version: int, settings_doc: bytes | None,
                 campaign_docs: Iterable[bytes],
                 experiment_docs: Iterable[bytes] = ()) -> Tenant:
    """Assemble a :class:`Tenant` from the stored JSON documents."""
    settings = _settings.decode(settings_doc) if settings_doc else AppSettings()
    campaigns = tuple(_campaign.decode(d) for d in campaign_docs)
    rules = policy_settings(settings)
    policy = Policy(campaigns=campaigns, **rules)
    profiles = profiles_for(settings)
    exps = sorted((running(_experiment.decode(d), rules) for d in experiment_docs),
                  key=lambda e: e.experiment_id)
    arm_ids = frozenset(c.id for e in exps for p in e.policies for c in p.campaigns)
    return Tenant(app_id=app_id, clock=clock, version=version, policy=policy,
                  profiles=profiles, settings=settings, rules=PolicyRules(policy),
                  profile_rules={n: ProfileRules(p) for n, p in profiles.items()},
                  experiments=tuple(exps), arm_campaigns=arm_ids)
