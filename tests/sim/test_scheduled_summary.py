"""iOS Scheduled Summary: the OS dialog's third answer as a behaviour share (issue 24)."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import numpy as np

from sim.engine.chunk import FLOWS, STOCKS
from sim.engine.runner import event_log, simulate
from sim.model.priors import PRIORS
from sim.model.scenario import Scenario, parse_scenario
from sim.rules.config.platforms import PROFILES


def test_allow_in_scheduled_summary_is_an_allow_delivered_later(
        scenario: Callable[..., Scenario]) -> None:
    """With Scheduled Summary on (iOS 15+), the dialog answers "Allow in Scheduled Summary":
    authorized, so every opt-in, reach and later flow is the same as with "Allow", but the
    app's notifications wait for the user's summary. ``behaviour.scheduled_summary`` is the
    share of iOS allows given that way, counted apart (``os_dialogs_allowed_in_summary``);
    the default 0 takes no draw, so runs without it are unchanged. Android never has it.

    Source standing: the feature and its delivery (held to the user's summary times, off by
    default) as the pages on Scheduled Summary describe it (e.g. docs.jiguang.cn
    ``jpush/practice/timeSensitive``, "Deliver Immediately" / "Scheduled Summary"); the
    dialog's third answer is issue 24's report, and the share an assumption
    (``sim/model/priors.py``: 0 to 0.3, not sampled)."""
    prior = next(p for p in PRIORS if p.name == "scheduled_summary")
    assert (prior.low, prior.high, prior.sampled) == (0.0, 0.3, False)
    assert prior.source.startswith("assumption")
    base = scenario(population={"mix": {"ios": 0.5, "android13": 0.5}})
    raw = msgspec.to_builtins(base)
    assert raw["behaviour"]["scheduled_summary"] == 0.0
    raw["behaviour"]["scheduled_summary"] = 0.4
    r0, r1 = simulate(base), simulate(parse_scenario(raw))
    new = "os_dialogs_allowed_in_summary"
    for name in (*FLOWS, *STOCKS):
        if name != new:
            np.testing.assert_array_equal(r0.series(name), r1.series(name), err_msg=name)
    ios, a13 = PROFILES.index("ios"), PROFILES.index("android13")
    assert r0.series(new).sum() == 0
    summary = r1.series(new)[:, :, ios].sum()
    allowed = r1.series("os_dialogs_allowed")[:, :, ios].sum()
    assert r1.series(new)[:, :, a13].sum() == 0
    assert allowed > 200
    assert 0.3 < summary / allowed < 0.5  # 0.4 of the allows, within sampling error


def test_the_log_marks_each_allow_in_scheduled_summary(
        scenario: Callable[..., Scenario]) -> None:
    """The simulator's event log marks an iOS allow given into the Scheduled Summary
    (``summary`` on its ``os_dialog_result``) and nothing else: the answer ``promptsim
    parity`` sends (``tests/service/test_parity.py``)."""
    raw = msgspec.to_builtins(scenario(population={"mix": {"ios": 0.5, "android13": 0.5}},
                                       replications=1))
    raw["behaviour"]["scheduled_summary"] = 0.4
    sc = parse_scenario(raw)
    run = event_log(sc, devices=200)
    marked = [e for e in run.log if e.summary]
    assert marked and all(e.kind == "os_dialog_result" and e.outcome == "allowed"
                          for e in marked)
    profile = {e.device: e.profile for e in run.log if e.kind == "install"}
    assert {profile[e.device] for e in marked} == {"ios"}
