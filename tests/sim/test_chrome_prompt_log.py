"""The simulator's event log says which of Chrome's prompts each answer came from (issue 24,
the Chrome part; the rule and its source are in ``tests/rules/test_chrome_sources.py``)."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from sim.engine.runner import event_log
from sim.model.scenario import Scenario, parse_scenario
from sim.rules.config.platforms import DEFAULT_PROFILES
from sim.rules.native import ProfileRules
from sim.rules.permission import prompt_ui

P = {n: ProfileRules(p) for n, p in DEFAULT_PROFILES.items()}


def test_simulator_log_says_which_prompt_each_answer_came_from(
        scenario: Callable[..., Scenario]) -> None:
    """The simulator's event log carries the prompt of every Chrome decision that opens one
    and of every ``os_dialog_result``: ``quiet`` on the devices whose browser has the quiet UI
    (``behaviour.chrome_adaptive_quiet``), ``loud`` on the other Chrome devices, absent
    elsewhere (chromium/chromium ``components/permissions/permission_request_manager.cc``,
    ``ShouldCurrentRequestUseQuietUI``)."""
    raw = msgspec.to_builtins(scenario(population={"mix": {"chrome": 0.6, "ios": 0.4}}))
    raw["behaviour"]["chrome_adaptive_quiet"] = 0.5
    run = event_log(parse_scenario(raw), devices=300)
    profile: dict[str, str] = {}
    seen: set[tuple[str, str | None]] = set()
    for e in run.log:
        if e.kind == "install":
            assert e.profile is not None
            profile[e.device] = e.profile
        want = prompt_ui(P[profile[e.device]])
        if e.kind == "os_dialog_result" or (e.kind == "decision" and e.action == "os_dialog"):
            assert e.prompt_ui == want, e
            seen.add((e.kind, want))
        else:
            assert e.prompt_ui is None, e
    assert seen == {(k, ui) for k in ("decision", "os_dialog_result")
                    for ui in ("quiet", "loud", None)}
