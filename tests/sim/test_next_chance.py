"""``next_chance`` never promises too late: the simulator may skip every session before it."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.rules.config.campaigns import Policy, TriggerFired
from sim.rules.config.platforms import DEFAULT_PROFILES
from sim.rules.decision import (
    decide,
    next_chance,
    record_dismissal,
    record_impression,
    start_session,
)
from sim.rules.native import PolicyRules, ProfileRules
from sim.rules.permission import (
    apply_clear_data,
    apply_dialog_result,
    apply_settings_change,
    new_install,
)

CAMPAIGNS = [
    {"id": "once"},
    {"id": "every", "frequency": {"type": "every_time"}},
    {"id": "multi", "frequency": {"type": "multiple", "limit": 3, "gap_days": 2.5},
     "min_delay_days": 1, "caps": {"per_day": 1, "total": 2}},
    {"id": "back", "frequency": {"type": "backoff", "gap_days": 0.7, "factor": 3}},
    {"id": "native", "primer": False},
    {"id": "strict", "fallback_to_settings": False,
     "frequency": {"type": "multiple", "limit": 5, "gap_days": 1}},
    {"id": "event", "trigger": {"type": "event", "name": "order_placed"},
     "frequency": {"type": "every_time"}},
]
TRIGGERS = [TriggerFired(trigger="app_open"),
            TriggerFired(trigger="event", event_name="order_placed"),
            TriggerFired(trigger="session_time", session_seconds=500.0),
            TriggerFired(trigger="programmatic")]


@st.composite
def histories(draw: st.DrawFn) -> tuple[object, ...]:
    profile = ProfileRules(DEFAULT_PROFILES[draw(st.sampled_from(sorted(DEFAULT_PROFILES)))])
    chosen = draw(st.lists(st.sampled_from(CAMPAIGNS), min_size=1, max_size=3,
                           unique_by=lambda c: c["id"]))
    policy = PolicyRules(msgspec.convert({"campaigns": chosen}, Policy))
    state = new_install(profile)
    now = 0.0
    for _ in range(draw(st.integers(0, 12))):
        now += draw(st.floats(0.0, 4.0))
        step = draw(st.sampled_from(["session", "dialog", "settings", "clear"]))
        if step == "session":
            start_session(state, profile, now)
            d = decide(state, profile, policy, draw(st.sampled_from(TRIGGERS)), now)
            if d.show:
                record_impression(state, d.campaign_id or "", now)
                if draw(st.booleans()):
                    record_dismissal(state, d.campaign_id or "", now)
        elif step == "dialog" and profile.os_dialog:
            apply_dialog_result(state, profile,
                                draw(st.sampled_from(["allowed", "denied", "dismissed",
                                                      "ignored"])), now)
        elif step == "settings":
            apply_settings_change(state, profile, enabled=draw(st.booleans()))
        elif step == "clear":
            apply_clear_data(state, profile)
    later = [now + draw(st.floats(0.0, 30.0)) for _ in range(4)]
    return profile, policy, state, now, later


@settings(max_examples=400, deadline=None)
@given(histories())
@pytest.mark.slow
def test_decide_never_shows_before_next_chance(h: tuple[object, ...]) -> None:
    """For any reachable state: at every time before ``next_chance`` (or ever, when it is
    None) ``decide`` shows nothing, whatever the trigger; the state is left as it is."""
    profile, policy, state, now, later = h
    nc = next_chance(state, profile, policy, now)  # type: ignore[arg-type]
    for t in later:  # type: ignore[attr-defined]
        if nc is not None and t >= nc:
            continue
        s2 = dataclasses.replace(state)  # type: ignore[type-var]
        s2.sessions += 1  # a later session has started
        for fired in TRIGGERS:
            d = decide(s2, profile, policy, fired, t)  # type: ignore[arg-type]
            assert not d.show, (nc, t, d)
