"""Small scenarios for the simulator tests, built in code so each test states what it runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sim.model.scenario import Scenario, parse_scenario

MIX = {"ios": 0.35, "android13": 0.2, "android13_legacy": 0.05, "android12": 0.1,
       "huawei_emui12": 0.05, "harmony_next": 0.05, "fire_os_8": 0.05, "chrome": 0.1,
       "firefox": 0.025, "safari": 0.025}

STRATEGIES: list[dict[str, Any]] = [
    {"name": "cold", "campaigns": [{"id": "native", "primer": False}]},
    {"name": "provisional", "provisional_on_install": True,
     "campaigns": [{"id": "soft", "min_sessions": 2,
                    "frequency": {"type": "multiple", "limit": 2, "gap_days": 5}}]},
    {"name": "once", "campaigns": [{"id": "soft"}]},
    {"name": "every_time", "campaigns": [{"id": "soft", "frequency": {"type": "every_time"}}]},
    {"name": "multiple", "campaigns": [
        {"id": "soft", "frequency": {"type": "multiple", "limit": 3, "gap_days": 3},
         "caps": {"per_day": 1}}]},
    {"name": "backoff", "min_spacing_seconds": 30, "campaigns": [
        {"id": "soft", "frequency": {"type": "backoff", "gap_days": 1, "factor": 2}},
        {"id": "promo", "action": "message", "frequency": {"type": "every_time"}}]},
    {"name": "triggers", "campaigns": [
        {"id": "order", "trigger": {"type": "event", "name": "order_placed"},
         "frequency": {"type": "every_time"}, "priority": 2},
        {"id": "long", "trigger": {"type": "session_time", "seconds": 60},
         "frequency": {"type": "multiple", "limit": 2, "gap_days": 2}, "min_delay_days": 1}]},
]


def make_scenario(**over: Any) -> Scenario:
    """A small scenario exercising every platform and strategy kind; ``over`` replaces fields."""
    data: dict[str, Any] = {
        "name": "small", "seed": 11, "devices": 1500, "days": 120, "replications": 2,
        "chunk_size": 500,
        "population": {"mix": dict(MIX), "install_window_days": 20, "second_device": 0.3},
        "behaviour": {"os_upgrade_per_year": 2.0, "clear_data_per_year": 1.0,
                      "reinstall": 0.5},
        "strategies": STRATEGIES,
    }
    data.update(over)
    return parse_scenario(data, "test")


@pytest.fixture
def small() -> Scenario:
    """The small scenario with its defaults."""
    return make_scenario()


@pytest.fixture
def scenario() -> Callable[..., Scenario]:
    """Build a variant of the small scenario: ``scenario(days=30, ...)``."""
    return make_scenario
