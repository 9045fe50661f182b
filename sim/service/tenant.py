"""One app's rules in memory: its ``Policy``, platform profiles and clock.

Each worker caches a :class:`Tenant` per app and rebuilds it when the app's
``policy_version`` (bumped by every campaign or settings write) changes. The
cache only saves decoding; device state is always read inside the device's
transaction, so once-only guarantees never depend on it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from sim.rules.campaigns import Campaign, Policy
from sim.rules.platforms import DEFAULT_PROFILES, PlatformProfile, override_profiles
from sim.service.errors import ApiError
from sim.service.schemas import AppSettings, Clock

_campaign = msgspec.json.Decoder(Campaign)
_settings = msgspec.json.Decoder(AppSettings)


@dataclass(frozen=True, slots=True)
class Tenant:
    """An app as the rules see it."""

    app_id: str
    clock: Clock
    version: int
    policy: Policy
    profiles: dict[str, PlatformProfile]
    settings: AppSettings

    def now(self, at: float | None, field: str = "at") -> float:
        """The rules' time in days: the client's ``at`` (client clock) or the server's."""
        if self.clock == "client":
            if at is None:
                raise ApiError(422, "missing_field", "this app uses the client clock: "
                               "'at' (Unix seconds) is required", field)
            return at / 86400.0
        return time.time() / 86400.0

    def profile(self, name: str) -> PlatformProfile:
        """The platform profile a device's state names."""
        return self.profiles[name]


def profiles_for(settings: AppSettings) -> dict[str, PlatformProfile]:
    """Built-in profiles with the app's overrides; 422 naming the field if one is bad.

    ``name`` and ``platform`` are identities, not rules: they cannot be overridden.
    """
    for name, fields in settings.platforms.items():
        for fixed in ("name", "platform"):
            if fixed in fields:
                raise ApiError(422, "invalid_value", f"{fixed} identifies the profile and "
                               "cannot be overridden; allowed: its rule fields",
                               f"platforms.{name}.{fixed}")
    try:
        return override_profiles(DEFAULT_PROFILES, settings.platforms)
    except ValueError as exc:
        text = str(exc)
        field, _, detail = text.partition(": ")
        raise ApiError(422, "invalid_value", detail or text, field or "platforms") from None


def build_tenant(app_id: str, clock: str, version: int, settings_doc: bytes | None,
                 campaign_docs: Iterable[bytes]) -> Tenant:
    """Assemble a :class:`Tenant` from the stored JSON documents."""
    settings = _settings.decode(settings_doc) if settings_doc else AppSettings()
    campaigns = tuple(_campaign.decode(d) for d in campaign_docs)
    policy = Policy(campaigns=campaigns, min_spacing_seconds=settings.min_spacing_seconds,
                    permission_first=settings.permission_first,
                    provisional_on_install=settings.provisional_on_install,
                    reset_on_reinstall=settings.reset_on_reinstall)
    assert clock in ("server", "client")
    return Tenant(app_id=app_id, clock=clock, version=version, policy=policy,  # type: ignore[arg-type]
                  profiles=profiles_for(settings), settings=settings)
