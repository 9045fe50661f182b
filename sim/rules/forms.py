"""Either form of the configuration, for the rules that still take both: the Struct or its
native copy (``sim.rules.native``), made once per Struct and kept in its ``__dict__``."""

from __future__ import annotations

from sim.rules.config.campaigns import Policy
from sim.rules.config.platforms import PlatformProfile
from sim.rules.native import PolicyRules, ProfileRules

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
