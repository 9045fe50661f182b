"""The native copies the compiled rules read (``sim.rules.native``): the checked-in module
is the one generated from the Structs, every field of a Struct is there, a campaign is
flattened without losing a setting, and the kinds are the unions' tags."""

from __future__ import annotations

import ast
import typing
from pathlib import Path
from typing import Any

import msgspec
import pytest

from sim.cli import main, simulate
from sim.rules.config.campaigns import (
    AppOpen,
    Audience,
    Campaign,
    Caps,
    Frequency,
    OnEvent,
    Policy,
    Programmatic,
    SessionTime,
    Trigger,
    TriggerType,
    backoff,
    every_time,
    gap_list,
    multiple,
)
from sim.rules.config.native_source import source
from sim.rules.config.platforms import DEFAULT_PROFILES, PlatformProfile
from sim.rules.native import (
    NO_LIMIT,
    CampaignRules,
    FrequencyKind,
    PolicyRules,
    ProfileRules,
    TriggerKind,
)


def test_the_checked_in_module_is_the_generated_one() -> None:
    assert simulate.NATIVE.read_text() == source(), \
        "sim/rules/native.py is out of date: run `promptsim rules-native` and commit it"


def test_the_command_checks_and_rewrites_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules-native", "--check"]) == 0
    stale = tmp_path / "native.py"
    stale.write_text(source().replace("NO_LIMIT: Final = 0", "NO_LIMIT: Final = 1"))
    monkeypatch.setattr(simulate, "NATIVE", stale)
    assert main(["rules-native", "--check"]) == 1
    assert "out of date (run promptsim rules-native)" in capsys.readouterr().err
    assert main(["rules-native"]) == 0 and stale.read_text() == source()


@pytest.mark.parametrize(("kinds", "union"), [(TriggerKind, Trigger), (FrequencyKind, Frequency)])
def test_the_kinds_are_the_union_tags(kinds: object, union: object) -> None:
    tags = tuple(m.__struct_config__.tag for m in typing.get_args(union))
    assert typing.get_args(kinds) == tags
    assert set(typing.get_args(TriggerType)) == set(typing.get_args(TriggerKind))


@pytest.mark.parametrize("name", list(DEFAULT_PROFILES))
def test_a_profile_copy_has_every_field_of_the_struct(name: str) -> None:
    p = DEFAULT_PROFILES[name]
    r = ProfileRules(p)
    assert set(native_fields("ProfileRules")) == set(PlatformProfile.__struct_fields__)
    assert {f: getattr(r, f) for f in PlatformProfile.__struct_fields__} \
        == msgspec.structs.asdict(p)


def native_fields(name: str) -> dict[str, str]:
    """The fields a native class declares, with their types, read from the generated source
    (a compiled class keeps no annotations)."""
    tree = ast.parse(source())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)
    return {a.target.id: ast.unparse(a.annotation) for a in cls.body
            if isinstance(a, ast.AnnAssign) and isinstance(a.target, ast.Name)}


def flat(s: msgspec.Struct, prefix: str = "") -> dict[str, Any]:
    """A Struct's fields by their flattened names, walked without the generator: a nested
    Struct's fields under its field's name, a tagged member's under the union's field, which
    holds the tag, and ``None`` counts as ``NO_LIMIT``."""
    out: dict[str, Any] = {}
    for name in s.__struct_fields__:
        v = getattr(s, name)
        if isinstance(v, msgspec.Struct):
            if v.__struct_config__.tag is not None:
                out[prefix + name] = v.__struct_config__.tag
            out |= flat(v, f"{prefix}{name}_")
        else:
            out[prefix + name] = v
    return out


ZERO = {"int": NO_LIMIT, "float": 0.0, "str": "", "tuple[float, ...]": ()}
"""A flattened field the campaign's kind lacks: its type's zero."""


CAMPAIGNS: list[tuple[Campaign, dict[str, Any]]] = [
    (Campaign(id="a"),
     {"trigger": "app_open", "frequency": "once", "frequency_limit": NO_LIMIT,
      "caps_total": NO_LIMIT, "caps_per_day": NO_LIMIT, "caps_per_session": NO_LIMIT,
      "is_permission": True, "audience_platforms": (), "audience_profiles": ()}),
    (Campaign(id="b", trigger=SessionTime(seconds=30.0), frequency=multiple(3, 2.5),
              caps=Caps(per_session=1, per_day=2, total=5), min_sessions=3, min_delay_days=1.5),
     {"trigger": "session_time", "trigger_seconds": 30.0, "frequency": "multiple",
      "frequency_limit": 3, "frequency_gap_days": 2.5, "frequency_factor": 0.0,
      "caps_per_session": 1, "caps_per_day": 2, "caps_total": 5, "min_sessions": 3,
      "min_delay_days": 1.5}),
    (Campaign(id="c", trigger=OnEvent(name="order_placed"), frequency=backoff(1.0, 3.0),
              action="open_settings", primer=False, fallback_to_settings=False,
              audience=Audience(platforms=("web",), profiles=("chrome",))),
     {"trigger": "event", "trigger_name": "order_placed", "frequency": "backoff",
      "frequency_limit": NO_LIMIT, "frequency_gap_days": 1.0, "frequency_factor": 3.0,
      "action": "open_settings", "primer": False, "fallback_to_settings": False,
      "audience_platforms": ("web",), "audience_profiles": ("chrome",)}),
    (Campaign(id="d", trigger=Programmatic(), frequency=backoff(2.0, 2.0, limit=4)),
     {"trigger": "programmatic", "frequency": "backoff", "frequency_limit": 4}),
    (Campaign(id="e", trigger=AppOpen(), frequency=every_time(), action="message",
              priority=7),
     {"frequency": "every_time", "action": "message", "is_permission": False,
      "priority": 7}),
    (Campaign(id="f", frequency=gap_list([3.0, 7.0, 30.0])),
     {"frequency": "gap_list", "frequency_gaps": (3.0, 7.0, 30.0), "frequency_limit": NO_LIMIT,
      "frequency_gap_days": 0.0}),
]
"""Campaigns that use every kind and setting, and a few flattened fields spelled out."""


@pytest.mark.parametrize(("camp", "want"), CAMPAIGNS, ids=[c.id for c, _ in CAMPAIGNS])
def test_a_campaign_is_flattened_without_losing_a_setting(camp: Campaign,
                                                          want: dict[str, Any]) -> None:
    r = CampaignRules(camp)
    fields = native_fields("CampaignRules")
    got = {k: getattr(r, k) for k in fields}
    expect = {k: NO_LIMIT if v is None and fields[k] == "int" else v
              for k, v in flat(camp).items()}
    expect["is_permission"] = camp.is_permission
    for k, t in fields.items():
        expect.setdefault(k, ZERO.get(t))
    assert got == expect
    assert {k: got[k] for k in want} == want


def test_a_policy_copy_keeps_its_settings_and_the_campaign_order() -> None:
    pol = Policy(min_spacing_seconds=30.0, provisional_on_install=True,
                 reset_on_reinstall=False, campaigns=tuple(c for c, _ in CAMPAIGNS))
    r = PolicyRules(pol)
    assert isinstance(r, PolicyRules)
    assert [c.id for c in r.campaigns] == [c.id for c in pol.campaigns]  # decide's order
    assert r.by_id["c"] is r.campaigns[[c.id for c in pol.campaigns].index("c")]
    assert (r.min_spacing_seconds, r.permission_first, r.provisional_on_install,
            r.reset_on_reinstall) == (30.0, True, True, False)

