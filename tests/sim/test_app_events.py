"""Issue 13 item 7: no silent zeros. A campaign whose trigger the behaviour model never
fires is an error naming it; the app's other events and its programmatic trigger are
declared with their rates per session and then fire, from the population's own draws
(common random numbers: every strategy sees the same sessions with the same events)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from sim.engine.runner import simulate
from sim.model.scenario import Scenario, ScenarioError
from tests.sim.conftest import MIX

ONCE = {"name": "once", "campaigns": [{"id": "soft"}]}
CART = {"name": "cart", "campaigns": [
    {"id": "soft", "trigger": {"type": "event", "name": "add_to_cart"},
     "frequency": {"type": "every_time"}}]}
PROFILE = {"name": "profile", "campaigns": [
    {"id": "soft", "trigger": {"type": "programmatic"}, "frequency": {"type": "every_time"}}]}


def _small(scenario: Callable[..., Scenario], behaviour: dict[str, Any],
           strategies: list[dict[str, Any]]) -> Scenario:
    return scenario(devices=600, days=40, replications=1, chunk_size=300,
                    population={"mix": MIX, "install_window_days": 10},
                    behaviour=behaviour, strategies=strategies)


def test_an_event_no_session_sends_is_an_error_naming_the_campaign(
        scenario: Callable[..., Scenario]) -> None:
    with pytest.raises(ScenarioError) as exc:
        _small(scenario, {}, [ONCE, CART])
    msg = str(exc.value)
    assert "strategies.cart: campaign 'soft'" in msg
    assert "event 'add_to_cart', never fires" in msg
    assert "order_placed (0.15/session)" in msg
    assert "[behaviour.events] add_to_cart = 0.3" in msg


def test_the_main_event_at_rate_zero_is_an_error(scenario: Callable[..., Scenario]) -> None:
    order = {"name": "order", "campaigns": [
        {"id": "soft", "trigger": {"type": "event", "name": "order_placed"}}]}
    with pytest.raises(ScenarioError, match="event 'order_placed', never fires"):
        _small(scenario, {"event_per_session": 0.0}, [order])


def test_a_programmatic_trigger_without_a_rate_is_an_error(
        scenario: Callable[..., Scenario]) -> None:
    with pytest.raises(ScenarioError,
                       match=r"strategies.profile: campaign 'soft': its trigger, programmatic, "
                             r"never fires: behaviour.programmatic_per_session is 0"):
        _small(scenario, {}, [ONCE, PROFILE])


def test_an_event_declared_twice_is_an_error(scenario: Callable[..., Scenario]) -> None:
    with pytest.raises(ScenarioError, match=r"behaviour\.events\.order_placed: already"):
        _small(scenario, {"events": {"order_placed": 0.2}}, [ONCE])


def test_declared_events_fire_and_leave_other_strategies_unchanged(
        scenario: Callable[..., Scenario]) -> None:
    declared = _small(scenario, {"events": {"add_to_cart": 0.3},
                                 "programmatic_per_session": 0.1}, [ONCE, CART, PROFILE])
    plain = _small(scenario, {}, [ONCE])
    res, base = simulate(declared), simulate(plain)
    shown = res.series("soft_prompts_shown").sum(axis=(0, 2, 3))
    # every_time on an event in ~30% of sessions shows more than on the programmatic
    # trigger in ~10%, and both show prompts at all.
    assert shown[1] > shown[2] > 0
    # The events are drawn after everything else: a strategy that uses none of them lives
    # exactly the same devices with or without their declaration.
    for name in ("soft_prompts_shown", "opted_in_devices", "active_devices", "uninstalls"):
        assert np.array_equal(res.series(name)[:, 0], base.series(name)[:, 0]), name


def test_event_rates_move_the_shown_prompts(scenario: Callable[..., Scenario]) -> None:
    lo = simulate(_small(scenario, {"events": {"add_to_cart": 0.1}}, [CART]))
    hi = simulate(_small(scenario, {"events": {"add_to_cart": 0.6}}, [CART]))
    assert (hi.series("soft_prompts_shown").sum() > 2 * lo.series("soft_prompts_shown").sum())
