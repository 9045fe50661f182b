"""The native copies the compiled rules read (``sim.rules.native``): every field the Struct
has, a campaign flattened without losing a setting, and a copy that follows its Struct."""

from __future__ import annotations

import pickle
from typing import Any

import msgspec
import pytest

from sim.rules.config.campaigns import (
    AppOpen,
    Audience,
    Campaign,
    Caps,
    OnEvent,
    Policy,
    Programmatic,
    SessionTime,
    TriggerFired,
    backoff,
    every_time,
    multiple,
    once,
)
from sim.rules.config.platforms import DEFAULT_PROFILES, PlatformProfile
from sim.rules.decision import decide, next_chance
from sim.rules.native import (
    NO_LIMIT,
    CampaignRules,
    PolicyRules,
    ProfileRules,
    policy_rules,
    profile_rules,
)
from sim.rules.permission import new_install


@pytest.mark.parametrize("name", list(DEFAULT_PROFILES))
def test_a_profile_copy_has_every_field_of_the_struct(name: str) -> None:
    p = DEFAULT_PROFILES[name]
    r = profile_rules(p)
    assert isinstance(r, ProfileRules)
    assert {f: getattr(r, f) for f in PlatformProfile.__struct_fields__} \
        == msgspec.structs.asdict(p)


CAMPAIGNS: list[tuple[Campaign, dict[str, Any]]] = [
    (Campaign(id="a"),
     {"trigger": "app_open", "frequency": "once", "limit": NO_LIMIT, "cap_total": NO_LIMIT,
      "cap_per_day": NO_LIMIT, "cap_per_session": NO_LIMIT, "is_permission": True,
      "platforms": (), "profiles": ()}),
    (Campaign(id="b", trigger=SessionTime(seconds=30.0), frequency=multiple(3, 2.5),
              caps=Caps(per_session=1, per_day=2, total=5), min_sessions=3, min_delay_days=1.5),
     {"trigger": "session_time", "trigger_seconds": 30.0, "frequency": "multiple",
      "limit": 3, "gap_days": 2.5, "factor": 1.0, "cap_per_session": 1, "cap_per_day": 2,
      "cap_total": 5, "min_sessions": 3, "min_delay_days": 1.5}),
    (Campaign(id="c", trigger=OnEvent(name="order_placed"), frequency=backoff(1.0, 3.0),
              action="open_settings", primer=False, fallback_to_settings=False,
              audience=Audience(platforms=("web",), profiles=("chrome",))),
     {"trigger": "event", "trigger_event": "order_placed", "frequency": "backoff",
      "limit": NO_LIMIT, "gap_days": 1.0, "factor": 3.0, "action": "open_settings",
      "primer": False, "fallback_to_settings": False, "platforms": ("web",),
      "profiles": ("chrome",)}),
    (Campaign(id="d", trigger=Programmatic(), frequency=backoff(2.0, 2.0, limit=4)),
     {"trigger": "programmatic", "frequency": "backoff", "limit": 4}),
    (Campaign(id="e", trigger=AppOpen(), frequency=every_time(), action="message",
              priority=7),
     {"frequency": "every_time", "action": "message", "is_permission": False}),
]


@pytest.mark.parametrize(("camp", "want"), CAMPAIGNS, ids=[c.id for c, _ in CAMPAIGNS])
def test_a_campaign_is_flattened_without_losing_a_setting(camp: Campaign,
                                                          want: dict[str, Any]) -> None:
    r = CampaignRules(camp)
    assert r.id == camp.id
    assert {k: getattr(r, k) for k in want} == want


def test_a_policy_copy_keeps_its_settings_and_the_campaign_order() -> None:
    pol = Policy(min_spacing_seconds=30.0, provisional_on_install=True,
                 reset_on_reinstall=False, campaigns=tuple(c for c, _ in CAMPAIGNS))
    r = policy_rules(pol)
    assert isinstance(r, PolicyRules)
    assert [c.id for c in r.campaigns] == [c.id for c in pol.campaigns]  # decide's order
    assert r.by_id["c"] is r.campaigns[[c.id for c in pol.campaigns].index("c")]
    assert (r.min_spacing_seconds, r.permission_first, r.provisional_on_install,
            r.reset_on_reinstall) == (30.0, True, True, False)


def test_the_copy_is_made_once_and_follows_its_struct() -> None:
    """A Struct keeps its copy; a changed Struct is a new Struct (frozen) with a new copy,
    and nothing copies the old one along (``replace``, pickling)."""
    pol = Policy(campaigns=(Campaign(id="soft", frequency=once()),))
    assert policy_rules(pol) is policy_rules(pol)
    assert policy_rules(policy_rules(pol)) is policy_rules(pol)
    wider = msgspec.structs.replace(pol, min_spacing_seconds=60.0)
    assert policy_rules(wider).min_spacing_seconds == 60.0
    assert policy_rules(pol).min_spacing_seconds == 0.0
    ios = DEFAULT_PROFILES["ios"]
    profile_rules(ios)
    assert profile_rules(msgspec.structs.replace(ios, max_denials=3)).max_denials == 3
    back = pickle.loads(pickle.dumps(pol))
    assert "_rules" not in back.__dict__ and policy_rules(back).campaigns[0].id == "soft"
    assert msgspec.json.decode(msgspec.json.encode(pol), type=Policy) == pol


def test_the_rules_answer_alike_from_the_struct_and_from_its_copy() -> None:
    pol = Policy(campaigns=tuple(c for c, _ in CAMPAIGNS))
    for name, p in DEFAULT_PROFILES.items():
        st = new_install(p)
        for fired in (TriggerFired(trigger="app_open"),
                      TriggerFired(trigger="session_time", session_seconds=40.0),
                      TriggerFired(trigger="event", event_name="order_placed")):
            assert decide(st, p, pol, fired, 1.0) \
                == decide(st, profile_rules(p), policy_rules(pol), fired, 1.0), name
        assert next_chance(st, p, pol, 1.0) \
            == next_chance(st, profile_rules(p), policy_rules(pol), 1.0), name
