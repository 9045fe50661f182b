"""The configuration as the compiled rules read it: native copies of the profile and policy.

``PlatformProfile``, ``Policy`` and ``Campaign`` are msgspec Structs: scenarios and the
service's API decode and validate them. This module is compiled with mypyc
(``sim.COMPILED``), so :class:`ProfileRules`, :class:`PolicyRules` and
:class:`CampaignRules` are native classes: a compiled rule reads their fields from a C
struct, where a Struct's field costs a generic attribute lookup (about 160 instructions;
``decide`` and ``next_chance`` read 30 to 40 of them a call). A campaign is flattened: its
trigger, frequency, caps and audience are plain fields.

The rules take either form (``Profile``, ``PolicyLike``) and read the native one; the copy
of a Struct is made once and kept in the Struct's ``__dict__`` (``dict=True``; it is
frozen, so the copy cannot go stale). The engine holds the native forms from the start.
"""

from __future__ import annotations

from typing import Final, Literal

from sim.rules.config.campaigns import (
    Action,
    Backoff,
    Campaign,
    Multiple,
    OnEvent,
    Policy,
    SessionTime,
    TriggerType,
)
from sim.rules.config.platforms import Platform, PlatformProfile

NO_LIMIT: Final = 0
"""A count field of :class:`CampaignRules` that sets no limit (the Structs' ``None``; their
limits and caps are at least 1)."""


class ProfileRules:
    """Every field of a :class:`~sim.rules.config.platforms.PlatformProfile`, by the same name."""

    name: str
    platform: Platform
    default_permission: Literal["not_determined", "granted"]
    os_dialog: bool
    app_can_request: bool
    dialog_on_first_launch: bool
    max_denials: int
    dismiss_counts_as_denial: bool
    supports_provisional: bool
    requires_user_gesture: bool
    embargo_dismissals: int | None
    embargo_ignores: int | None
    embargo_days: float
    quiet_ui: bool
    quiet_embargo_dismissals: int | None
    quiet_embargo_ignores: int | None
    settings_link: bool
    token_needs_permission: bool
    ignored_ends_dialog: bool
    upgrade_denied_user_set: bool
    reinstall_resets: bool
    reinstall_reset_delay_days: float
    clear_data_resets: bool
    upgrade_to: str | None
    upgrade_pregrant: bool
    hibernation_days: float | None
    settings_path: str

    def __init__(self, p: PlatformProfile) -> None:
        for f in PlatformProfile.__struct_fields__:
            setattr(self, f, getattr(p, f))

    def __repr__(self) -> str:
        return f"ProfileRules({self.name!r})"


class CampaignRules:
    """One :class:`~sim.rules.config.campaigns.Campaign`, flattened."""

    id: str
    trigger: TriggerType
    """The trigger's type: ``app_open``, ``session_time``, ``event`` or ``programmatic``."""
    trigger_seconds: float
    """``session_time``: the session length at which it fires (else 0)."""
    trigger_event: str
    """``event``: the event's name (else empty; a name is never empty)."""
    frequency: Literal["once", "every_time", "multiple", "backoff"]
    """The frequency's type: ``once``, ``every_time``, ``multiple`` or ``backoff``."""
    limit: int
    """``multiple`` and ``backoff``: at most this many impressions (:data:`NO_LIMIT`: none)."""
    gap_days: float
    factor: float
    """``backoff``: the gap's growth per dismissal (else 1)."""
    action: Action
    is_permission: bool
    min_delay_days: float
    cap_per_session: int
    cap_per_day: int
    cap_total: int
    min_sessions: int
    fallback_to_settings: bool
    primer: bool
    platforms: tuple[str, ...]
    profiles: tuple[str, ...]

    def __init__(self, c: Campaign) -> None:
        self.id, self.action, self.is_permission = c.id, c.action, c.action != "message"
        t = c.trigger
        self.trigger = t.__struct_config__.tag  # type: ignore[assignment]
        self.trigger_seconds = t.seconds if isinstance(t, SessionTime) else 0.0
        self.trigger_event = t.name if isinstance(t, OnEvent) else ""
        f = c.frequency
        self.frequency = f.__struct_config__.tag  # type: ignore[assignment]
        limit = f.limit if isinstance(f, (Multiple, Backoff)) else None
        self.limit = NO_LIMIT if limit is None else limit
        self.gap_days = f.gap_days if isinstance(f, (Multiple, Backoff)) else 0.0
        self.factor = f.factor if isinstance(f, Backoff) else 1.0
        self.min_delay_days, self.min_sessions = c.min_delay_days, c.min_sessions
        caps = c.caps
        self.cap_per_session = NO_LIMIT if caps.per_session is None else caps.per_session
        self.cap_per_day = NO_LIMIT if caps.per_day is None else caps.per_day
        self.cap_total = NO_LIMIT if caps.total is None else caps.total
        self.fallback_to_settings, self.primer = c.fallback_to_settings, c.primer
        self.platforms, self.profiles = c.audience.platforms, c.audience.profiles

    def __repr__(self) -> str:
        return f"CampaignRules({self.id!r})"


class PolicyRules:
    """A :class:`~sim.rules.config.campaigns.Policy`: its settings and campaigns, in order."""

    min_spacing_seconds: float
    permission_first: bool
    provisional_on_install: bool
    reset_on_reinstall: bool
    campaigns: list[CampaignRules]
    by_id: dict[str, CampaignRules]

    def __init__(self, p: Policy) -> None:
        self.min_spacing_seconds, self.permission_first = p.min_spacing_seconds, \
            p.permission_first
        self.provisional_on_install = p.provisional_on_install
        self.reset_on_reinstall = p.reset_on_reinstall
        self.campaigns = [CampaignRules(c) for c in p.campaigns]
        self.by_id = {c.id: c for c in self.campaigns}


Profile = PlatformProfile | ProfileRules
"""What a rule takes as the platform's profile: the Struct or its native copy."""
PolicyLike = Policy | PolicyRules
"""What a rule takes as the policy: the Struct or its native copy."""


def profile_rules(p: Profile) -> ProfileRules:
    """The native copy of ``p`` (made once per Struct)."""
    if isinstance(p, ProfileRules):
        return p
    d = p.__dict__
    r = d.get("_rules")
    if r is None:
        r = d["_rules"] = ProfileRules(p)
    return r


def policy_rules(p: PolicyLike) -> PolicyRules:
    """The native copy of ``p`` (made once per Struct)."""
    if isinstance(p, PolicyRules):
        return p
    d = p.__dict__
    r = d.get("_rules")
    if r is None:
        r = d["_rules"] = PolicyRules(p)
    return r
