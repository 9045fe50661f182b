"""The simulator's event log says which of Chrome's prompts each answer came from (issue 24,
the Chrome part; the rule and its source are in ``tests/rules/test_chrome_sources.py``)."""

from __future__ import annotations

from collections import Counter
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


def test_crowd_deny_prompts_drawn_and_answered_as_the_prompt_shown(
        scenario: Callable[..., Scenario]) -> None:
    """On a crowd-deny site (``site_reputation``), every Chrome decision announces the quiet
    prompt with ``loud_chance`` 0.3, and the simulator draws the prompt Chrome opens (about
    30% loud, Chromium ``ShouldHoldBackQuietUI`` with ``GetCrowdDenyHoldBackChance`` 0.3);
    the answer model uses the prompt drawn: here the quiet prompt is always allowed
    (``dialog_cold.chrome_quiet``) and the loud one always denied (``dialog_cold.chrome``),
    so each logged answer matches its logged prompt. An abusive site is always quiet, a
    site without a reputation always loud."""
    odds = {"chrome": {"allowed": 0.0, "denied": 1.0},
            "chrome_quiet": {"allowed": 1.0, "denied": 0.0}}
    strategies = [{"name": rep, "site_reputation": rep,
                   "campaigns": [{"id": "native", "primer": False}]}
                  for rep in ("crowd_deny", "abusive_prompts", "none")]
    raw = msgspec.to_builtins(scenario(population={"mix": {"chrome": 1.0},
                                                   "second_device": 0.0},
                                       strategies=strategies, replications=1))
    # One install per user, one dialog per install: no browser's quiet UI turns on.
    raw["behaviour"] |= {"dialog_cold": odds, "reinstall": 0.0, "clear_data_per_year": 0.0}
    run = event_log(parse_scenario(raw), devices=400)
    answers: dict[str, list[tuple[str | None, str | None]]] = {}
    for e in run.log:
        if e.kind == "decision" and e.action == "os_dialog":
            want = ("loud", None) if e.strategy == "none" else (
                "quiet", 0.3 if e.strategy == "crowd_deny" else None)
            assert (e.prompt_ui, e.loud_chance) == want, e
        elif e.kind == "os_dialog_result":
            answers.setdefault(e.strategy, []).append((e.prompt_ui, e.outcome))
    for rep, seen in answers.items():
        assert all(outcome == ("allowed" if ui == "quiet" else "denied")
                   for ui, outcome in seen), rep
    loud = sum(ui == "loud" for ui, _ in answers["crowd_deny"]) / len(answers["crowd_deny"])
    assert len(answers["crowd_deny"]) > 300 and 0.24 < loud < 0.36, loud
    assert {ui for ui, _ in answers["abusive_prompts"]} == {"quiet"}
    assert {ui for ui, _ in answers["none"]} == {"loud"}


def test_a_users_chrome_installs_share_a_browser_and_its_quiet_ui(
        scenario: Callable[..., Scenario]) -> None:
    """A user's Chrome installs share one browser: Chrome's adaptive quiet UI counts their
    answers together with her denials on sites the service never sees
    (``behaviour.chrome_other_site_denials_per_year``, default 0, an assumption). With every
    prompt denied (and no reinstall nor cleared data to ask again), a user with at most 2
    installs gives at most 2 denials: none of them goes quiet, while a user with 3 or more
    can turn her browser quiet by herself; with denials on other sites at 12 a year, some
    installs of the smaller users announce the quiet prompt once their browser had 3 in a
    row (chromium/chromium
    ``chrome/browser/permissions/adaptive_quiet_notification_permission_ui_enabler.cc``,
    ``DidDenyLastThreeTimes``). The log names each install's browser, one per user."""
    strategies = [{"name": "soft", "campaigns": [{"id": "soft", "frequency": {
        "type": "every_time"}}]}]
    base = msgspec.to_builtins(scenario(population={"mix": {"chrome": 1.0},
                                                    "second_device": 0.5},
                                        strategies=strategies, replications=1))
    base["behaviour"] |= {"dialog_primed": {"chrome": {"allowed": 0.0, "denied": 1.0},
                                            "chrome_quiet": {"allowed": 0.0, "denied": 1.0}},
                          "reinstall": 0.0, "clear_data_per_year": 0.0}  # a dialog each
    quiet: dict[float, int] = {}
    for rate in (0.0, 12.0):
        raw = msgspec.to_builtins(base)
        raw["behaviour"]["chrome_other_site_denials_per_year"] = rate
        log = event_log(parse_scenario(raw), devices=200).log
        browsers = {e.user: e.browser_id for e in log if e.kind == "install"}
        assert all(b == f"{u}.chrome" for u, b in browsers.items()), browsers
        installs = Counter(e.user for e in log if e.kind == "install")
        small = {u for u, n in installs.items() if n <= 2}
        assert len(small) > 50 and max(installs.values()) > 2
        quiet[rate] = sum(e.kind == "decision" and e.prompt_ui == "quiet" and e.user in small
                          for e in log)
        if rate == 0.0:  # a user with 3 installs or more can deny 3 times by herself
            assert any(e.kind == "decision" and e.prompt_ui == "quiet" for e in log)
    assert quiet[0.0] == 0 and quiet[12.0] > 0, quiet
