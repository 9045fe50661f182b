"""Input at the edge: which profile a device gets, and readable errors for bad settings.

A bad scenario or request must stop with a message naming the field (style habit 1).
"""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.rules.config.campaigns import (
    MAX_BACKOFF_FACTOR,
    MIN_GAP_DAYS,
    Campaign,
    Policy,
    backoff,
    multiple,
)
from sim.rules.config.platforms import (
    DEFAULT_PROFILES,
    MAX_DAYS,
    override_profiles,
    resolve_profile,
)

P = DEFAULT_PROFILES


# --- resolve_profile ---------------------------------------------------------------

@pytest.mark.parametrize(("platform", "os_version", "target", "browser", "profile"), [
    ("ios", 17, None, None, "ios"),
    ("ios", None, None, None, "ios"),
    ("android", 12, None, None, "android12"),
    ("android", 12, 34, None, "android12"),
    ("android", 10, 30, None, "android12"),
    ("android", 13, 33, None, "android13"),
    ("android", 14, None, None, "android13"),
    ("android", 13, 32, None, "android13_legacy"),
    ("android", 15, 31, None, "android13_legacy"),
    ("amazon", 7, None, None, "fire_os_8"),
    ("amazon", 8, None, None, "fire_os_8"),
    ("amazon", 14, None, None, "fire_os_14"),
    ("web", None, None, "chrome", "chrome"),
    ("web", None, None, None, "chrome"),
    ("web", None, None, "Firefox", "firefox"),
    ("web", None, None, "safari", "safari"),
])
def test_resolve_profile_maps_what_a_device_reports_to_its_rules(
        platform: str, os_version: float | None, target: int | None, browser: str | None,
        profile: str) -> None:
    """A device's platform, OS major version, app target SDK and browser pick its profile:
    Android >= 13 with target <= 32 is the legacy profile, Fire OS 14 asks like Android 13,
    HarmonyOS NEXT (5.x) has its own, the web defaults to Chrome."""
    assert resolve_profile(platform, os_version, target, browser) == profile
    assert profile in P


@pytest.mark.parametrize(("args", "message"), [
    (("windows",), r"^platform: 'windows' not one of ios, android, huawei, amazon, web$"),
    (("web", None, None, "edge"),
     r"^browser: 'edge' not one of chrome, firefox, safari, firefox_android, safari_ios, "
     r"safari_ios_webapp$"),
    (("android",), r"^os_version: required for platform 'android'"),
    (("huawei", 5), r"^os_kind: required for platform huawei; allowed: emui, harmonyos, "
                    r"harmonyos_next$"),
])
def test_resolve_profile_errors_name_the_field(args: tuple[str | None, ...],
                                               message: str) -> None:
    """An unknown platform or browser, or an Android-family device without its OS version, is a
    ``ValueError`` naming the field and what is allowed."""
    with pytest.raises(ValueError, match=message):
        resolve_profile(*args)  # type: ignore[arg-type]


# --- override_profiles --------------------------------------------------------------

def test_override_profiles_replaces_fields_and_leaves_the_base_alone() -> None:
    """A scenario can override any field of any profile; the defaults stay untouched."""
    out = override_profiles(P, {"android13": {"dismiss_counts_as_denial": True,
                                              "max_denials": 3}})
    assert (out["android13"].dismiss_counts_as_denial, out["android13"].max_denials) == (True, 3)
    assert (P["android13"].dismiss_counts_as_denial, P["android13"].max_denials) == (False, 2)
    assert out["ios"] is P["ios"]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"blackberry": {}}, r"^platforms\.blackberry: unknown platform profile; allowed: android12, "),
    ({"ios": {"max_denials": "two"}}, r"^platforms\.ios: Expected `int`, got `str` - at "
                                      r"`\$\.max_denials`$"),
    ({"ios": {"max_denials": -1}}, r"^platforms\.ios: Expected `int` >= 0 - at `\$\.max_denials`"),
    ({"chrome": {"embargo_days": -7}}, r"^platforms\.chrome: .* - at `\$\.embargo_days`$"),
    ({"ios": {"default_permission": "maybe"}},
     r"^platforms\.ios: Invalid enum value 'maybe' - at `\$\.default_permission`$"),
    ({"ios": {"colour": "red"}}, r"^platforms\.ios: Object contains unknown field `colour`$"),
    ({"android12": {"upgrade_to": "android99"}},
     r"^platforms\.android12\.upgrade_to: unknown profile 'android99'$"),
])
def test_override_profiles_errors_name_the_profile_and_field(
        overrides: dict[str, dict[str, object]], message: str) -> None:
    """A bad override is a ``ValueError`` naming the profile and the field."""
    with pytest.raises(ValueError, match=message):
        override_profiles(P, overrides)


# --- campaign input -------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "message"), [
    ({"frequency": {"type": "multiple", "limit": 0, "gap_days": 1}},
     r"Expected `int` >= 1 - at `\$\.frequency\.limit`"),
    ({"frequency": {"type": "multiple", "limit": 2}},
     r"Object missing required field `gap_days` - at `\$\.frequency`"),
    ({"frequency": {"type": "weekly"}}, r"Invalid value 'weekly' - at `\$\.frequency\.type`"),
    ({"frequency": {"type": "backoff", "gap_days": 1, "factor": 0.5}},
     r"Expected `float` >= 1\.0 - at `\$\.frequency\.factor`"),
    ({"frequency": {"type": "backoff", "gap_days": 0}},
     r"Expected `float` >= 1\.157\d*e-05 - at `\$\.frequency\.gap_days`"),
    ({"frequency": {"type": "backoff", "gap_days": 1e-320, "factor": 10}},
     r"Expected `float` >= 1\.157\d*e-05 - at `\$\.frequency\.gap_days`"),
    ({"frequency": {"type": "multiple", "limit": 2, "gap_days": 1e-320}},
     r"Expected `float` >= 1\.157\d*e-05 - at `\$\.frequency\.gap_days`"),
    ({"frequency": {"type": "backoff", "gap_days": 1, "factor": 1000}},
     r"Expected `float` <= 10\.0 - at `\$\.frequency\.factor`"),
    ({"colour": "red"}, r"Object contains unknown field `colour`"),
    ({"trigger": {"type": "session_time", "seconds": -1}},
     r"Expected `float` >= 0\.0 - at `\$\.trigger\.seconds`"),
    ({"trigger": {"type": "event"}}, r"Object missing required field `name` - at `\$\.trigger`"),
    ({"trigger": {"type": "shake"}}, r"Invalid value 'shake' - at `\$\.trigger\.type`"),
    ({"caps": {"per_day": 0}}, r"Expected `int` >= 1 - at `\$\.caps\.per_day`"),
    ({"action": "email"}, r"Invalid enum value 'email' - at `\$\.action`"),
    ({"min_delay_days": -1}, r"Expected `float` >= 0\.0 - at `\$\.min_delay_days`"),
    ({"id": "has spaces"}, r"Expected `str` matching regex .* - at `\$\.id`"),
])
def test_bad_campaign_input_names_the_field(raw: dict[str, object], message: str) -> None:
    """Campaigns decode from TOML or JSON with errors that name the offending field."""
    with pytest.raises(msgspec.ValidationError, match=message):
        msgspec.convert({"id": "push"} | raw, Campaign)


def test_a_good_campaign_decodes_from_plain_data() -> None:
    """The same Structs decode a scenario's campaign table."""
    camp = msgspec.convert({"id": "push", "trigger": {"type": "event", "name": "order_placed"},
                            "frequency": {"type": "multiple", "limit": 3, "gap_days": 2}},
                           Campaign)
    assert camp.frequency == multiple(limit=3, gap_days=2.0)
    assert camp.is_permission


def test_the_factories_validate_too() -> None:
    """``multiple(limit=0, ...)`` and ``backoff(gap_days=0)`` are rejected like decoded input."""
    with pytest.raises(msgspec.ValidationError, match=r"Expected `int` >= 1 - at `\$\.limit`"):
        multiple(limit=0, gap_days=1.0)
    with pytest.raises(msgspec.ValidationError, match=r">= 1\.157\d*e-05 - at `\$\.gap_days`"):
        backoff(gap_days=0.0)


def test_duplicate_campaign_ids_are_rejected() -> None:
    """Two campaigns with one id are an error naming the id, in code and in decoded input."""
    with pytest.raises(ValueError, match=r"^campaigns: duplicate id 'push'$"):
        Policy(campaigns=(Campaign(id="push"), Campaign(id="push", priority=2)))
    with pytest.raises(msgspec.ValidationError, match=r"campaigns: duplicate id 'push'"):
        msgspec.convert({"campaigns": [{"id": "push"}, {"id": "push"}]}, Policy)


def test_unknown_policy_key_is_rejected() -> None:
    """An unknown key in the policy is an error naming it."""
    with pytest.raises(msgspec.ValidationError,
                       match=r"Object contains unknown field `min_spacing`"):
        msgspec.convert({"min_spacing": 30}, Policy)


# --- bounds ------------------------------------------------------------------------

def _numeric_fields(t: object, seen: set[str] | None = None) -> list[tuple[str, object]]:
    """``(struct.field, type info)`` of every int or float reachable from ``t``."""
    from msgspec import inspect as mi

    seen = set() if seen is None else seen
    out: list[tuple[str, object]] = []

    def walk(name: str, info: object) -> None:
        if isinstance(info, mi.Metadata):
            walk(name, info.type)
        elif isinstance(info, (mi.IntType, mi.FloatType)):
            out.append((name, info))
        elif isinstance(info, mi.UnionType):
            for u in info.types:
                walk(name, u)
        elif isinstance(info, (mi.ListType, mi.VarTupleType)):
            walk(name, info.item_type)
        elif isinstance(info, mi.StructType) and info.cls.__name__ not in seen:
            seen.add(info.cls.__name__)
            for f in info.fields:
                walk(f"{info.cls.__name__}.{f.name}", f.type)

    walk("", mi.type_info(t))  # type: ignore[arg-type]
    return out


def test_every_numeric_rule_field_is_bounded() -> None:
    """Every number a scenario or the service may set in the rules (campaigns, policy,
    triggers, platform profiles) has a lower and an upper bound: nothing like a 10^30
    ``max_denials`` or a 1e200 backoff factor gets in."""
    from sim.rules.config.campaigns import TriggerFired
    from sim.rules.config.platforms import PlatformProfile

    fields = [f for t in (Policy, TriggerFired, PlatformProfile) for f in _numeric_fields(t)]
    assert len(fields) > 15
    unbounded = [name for name, info in fields
                 if (getattr(info, "ge", None) is None and getattr(info, "gt", None) is None)
                 or (getattr(info, "le", None) is None and getattr(info, "lt", None) is None)]
    assert unbounded == []
    with pytest.raises(ValueError, match=r"<= 100 - at `\$.max_denials`"):
        override_profiles(P, {"ios": {"max_denials": 10**30}})
    with pytest.raises(msgspec.ValidationError, match="factor"):
        backoff(1.0, 1e200)


@settings(max_examples=300, deadline=None)
@given(gap=st.floats(MIN_GAP_DAYS, MAX_DAYS), factor=st.floats(1.0, MAX_BACKOFF_FACTOR),
       dismissed=st.integers(0, 10**6), more=st.integers(1, 10**6))
def test_the_backoff_gap_is_finite_bounded_and_grows_over_the_allowed_range(
        gap: float, factor: float, dismissed: int, more: int) -> None:
    """Issue 28, item 3: over every gap and factor a campaign may hold and up to a million
    dismissals, the gap is finite, within ``[gap_days, MAX_DAYS]`` and never shrinks with
    another dismissal (the issue's ``1e-320`` gap is now refused: see above)."""
    from sim.rules.checks import backoff_gap
    from sim.rules.native import CampaignRules

    c = CampaignRules(Campaign(id="bk", frequency=backoff(gap, factor)))
    g = backoff_gap(c, dismissed)
    assert math.isfinite(g) and gap <= g <= MAX_DAYS
    assert backoff_gap(c, dismissed + 1) >= g
    assert backoff_gap(c, dismissed + more) >= g


def test_backoff_gap_stops_at_ten_years_without_overflow() -> None:
    """``gap_days * factor ** dismissals`` grows to ``MAX_DAYS`` (3,650) and stays there, for
    any number of dismissals (2.0 ** 1200 would overflow a float)."""
    from sim.rules.checks import backoff_gap, frequency_check, next_allowed
    from sim.rules.config.campaigns import MAX_DAYS, Campaign, Frequency
    from sim.rules.native import CampaignRules
    from sim.rules.permission import CampaignCounters

    def rules(f: Frequency) -> CampaignRules:
        return CampaignRules(Campaign(id="soft", frequency=f))

    b = rules(backoff(2.0, 2.0))
    assert [backoff_gap(b, d) for d in (0, 1, 3)] == [2.0, 4.0, 16.0]
    assert backoff_gap(b, 11) == MAX_DAYS and backoff_gap(b, 1200) == MAX_DAYS
    c = CampaignCounters(shown=1, dismissed=1200, last_shown_at=0.0)
    assert frequency_check(b, c, 3649.0) == "gap_not_elapsed"
    assert frequency_check(b, c, 3650.0) is None
    assert next_allowed(b, c) == pytest.approx(MAX_DAYS)
    assert backoff_gap(rules(backoff(1.0, 10.0)), 4) == MAX_DAYS  # 10,000 days, capped


@pytest.mark.parametrize("name", [".", "..", ".hidden", "", "x" * 65, "a/b", "a\x00"])
def test_identifiers_exclude_dot_segments_and_other_unsafe_names(name: str) -> None:
    """A campaign id never starts with ``.``: ``.`` and ``..`` would vanish from a URL path."""
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"id": name}, Campaign)
    assert msgspec.convert({"id": "a.b:c-1_"}, Campaign).id == "a.b:c-1_"
