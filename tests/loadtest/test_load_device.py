"""A load-test device lives the simulator's history of that device, and notices a lying service."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from loadtest_helpers import OpsService, drive, world

from sim.engine.chunk import ChunkModel
from sim.loadtest.device import ELIGIBILITY, EVENTS, REGISTER, Call, Device
from sim.loadtest.world import Burst, World, plan_bursts
from sim.model.clock import EPOCH
from sim.service.schemas import state_view

COMMON = ("session_start", "soft_prompt_clicked", "soft_prompt_dismissed", "os_dialog_result",
          "permission_changed", "os_upgraded", "reinstalled", "data_cleared", "uninstalled")
"""Event kinds both the engine's log and the device's batches have."""


def small(strategy: int, devices: int = 400, **kw: Any) -> World:
    w = world(strategy, **kw)
    sc = msgspec.structs.replace(w.scenario, devices=devices, chunk_size=devices)
    return World(sc, sc.strategies[strategy], **kw)


def sent_events(calls: list[Call]) -> list[dict[str, Any]]:
    return [ev for c in calls if c.name == EVENTS for ev in msgspec.json.decode(c.body)["events"]]


@pytest.mark.parametrize(("strategy", "ios_release_day"),
                         [(0, None), (1, None), (2, None), (1, 10.0)],
                         ids=["once", "every_time", "multiple", "ios_release"])
def test_devices_send_the_simulators_event_log(strategy: int,
                                               ios_release_day: float | None) -> None:
    """Device n of the load test sends, in order, the events the engine logs for device n
    (same population, same streams, same answers, same OS versions, a new iOS version's
    adoption included); the engine keeps logging OS upgrades of an app uninstalled for
    good, which no device could report, so those are left out."""
    w = small(strategy)
    if ios_release_day is not None:
        b = msgspec.structs.replace(w.scenario.behaviour, ios_release_day=ios_release_day)
        sc = msgspec.structs.replace(w.scenario, behaviour=b)
        w = World(sc, sc.strategies[strategy])
    chunk, _ = w.chunk_of(0)
    log: list[Any] = []
    ChunkModel(w.scenario, w.profiles, chunk, 0, skip_idle=False, log=log).run()
    engine: dict[str, list[tuple[str, float, Any]]] = {}
    for e in log:
        if e.strategy == w.strategy.name and e.kind in COMMON:
            detail = e.outcome or e.os_version or \
                (e.permission if e.kind == "permission_changed" else None)
            engine.setdefault(e.device, []).append((e.kind, round(e.t, 6), detail))
    service = OpsService(w)
    compared = upgrades = 0
    for n in range(w.scenario.devices):
        calls = drive(Device(w, n, f"d{n}", 0.0), service)
        mine = [(ev["type"], round((ev["at"] - EPOCH) / 86400, 6),
                 ev.get("outcome") or ev.get("os_version") or ev.get("permission"))
                for ev in sent_events(calls) if ev["type"] in COMMON]
        theirs = engine.get(f"d{n}", [])
        assert mine == theirs[:len(mine)], n
        if len(theirs) > len(mine):
            assert mine[-1][0] == "uninstalled", n
        compared += len(mine)
        upgrades += sum(1 for m in mine if m[0] == "os_upgraded")
    assert compared > 2 * w.scenario.devices
    if ios_release_day is not None:
        assert upgrades > 20


@pytest.mark.parametrize("strategy", [0, 1, 2], ids=["once", "every_time", "multiple"])
def test_the_services_answers_equal_the_rules_and_its_state_the_devices(strategy: int) -> None:
    """Against the service's own code, every answer equals ``decide`` on the device's state,
    every event is acknowledged once, and the stored state equals the device's."""
    w = small(strategy, devices=300)
    service = OpsService(w)
    shown = 0
    for n in range(300):
        dev = Device(w, n, f"d{n}", 0.0)
        drive(dev, service)
        r = dev.record()
        assert (r["mismatches"], r["examples"], r["rejected"]) == (0, [], [])
        assert r["acked_new"] == r["events_sent"] == sum(r["kinds"].values())
        assert r["optin_shows"] == r["blocked_dialogs"] == r["once_violations"] == 0
        assert msgspec.to_builtins(state_view(service.devices[f"d{n}"].state)) == r["state"]
        shown += r["per_campaign"].get("soft", {}).get("impressions", 0)
    assert shown > 30


class LyingService(OpsService):
    """Always shows the soft prompt with an OS dialog behind it, whatever the rules say."""

    def __call__(self, call: Call) -> tuple[int, bytes]:
        status, body = super().__call__(call)
        if call.name == ELIGIBILITY:
            return 200, b'{"show":true,"reason":"eligible","campaign_id":"soft",' \
                        b'"action":"os_dialog"}'
        return status, body


def test_a_service_that_breaks_the_rules_is_caught_by_the_devices() -> None:
    """Shows past a once-only limit, shows to opted-in devices and OS dialogs the platform
    no longer allows are each counted, with the first differing answers as examples."""
    w = small(0, devices=200)
    service = LyingService(w)
    totals = dict.fromkeys(("mismatches", "optin_shows", "once_violations", "blocked_dialogs"), 0)
    examples = []
    for n in range(200):
        dev = Device(w, n, f"d{n}", 0.0)
        drive(dev, service)
        for k in totals:
            totals[k] += getattr(dev, k)
        examples += dev.examples
    assert all(v > 0 for v in totals.values()), totals
    assert 'service {"show":true,"reason":"eligible"' in examples[0]


def test_a_device_is_the_same_every_time() -> None:
    """The same population index gives the same calls (apart from its id)."""
    w = small(1, devices=50)
    a = drive(Device(w, 7, "a", 0.0), OpsService(w))
    b = drive(Device(w, 7, "a", 0.0), OpsService(w))
    assert [(c.path, c.body) for c in a] == [(c.path, c.body) for c in b]
    assert a[0].name == REGISTER


def test_a_user_slot_joins_a_burst_with_its_share_at_a_moment_in_its_spread() -> None:
    """About ``share`` of the slots take part, each at its own moment in the window,
    the same moments every time."""
    bursts = (Burst(start_s=10.0, spread_s=4.0, share=0.6, kind="session"),
              Burst(start_s=30.0, spread_s=1.0, share=1.0, kind="upgrade"))
    plans = [plan_bursts(bursts, 100.0, key) for key in range(2000)]
    first = [p[0][0] for p in plans if p[0][1] == "session"]
    assert 0.55 < len(first) / 2000 < 0.65
    assert all(110.0 <= t <= 114.0 for t in first)
    assert all(p[-1][1] == "upgrade" and 130.0 <= p[-1][0] <= 131.0 for p in plans)
    assert plans == [plan_bursts(bursts, 100.0, key) for key in range(2000)]


@pytest.mark.parametrize("kind", ["session", "upgrade"])
def test_a_burst_opens_the_app_where_the_device_waits(kind: str) -> None:
    """A burst reaching a device waiting for its next session opens the app then (after
    reporting the next OS version for an ``upgrade`` burst; browsers update themselves
    and say nothing); the device goes on with its own history and the service agrees."""
    w = small(1, devices=80, day_seconds=1.0)
    service = OpsService(w)
    joined = 0
    for n in range(80):
        dev = Device(w, n, f"d{n}", 0.0)
        c = dev.life.stage.chunk
        own = {EPOCH + x * 86400.0 for x in c.session_t[c.start[n]:c.end[n]]}
        events = sent_events(drive(dev, service, burst=(kind, 0.25)))
        extra = [i for i, e in enumerate(events) if e["type"] == "session_start"
                 and e["at"] not in own]
        assert len(extra) <= 1
        if not extra:
            continue  # no wait lasted past the burst
        joined += 1
        at = events[extra[0]]["at"]
        assert at >= EPOCH + (dev.sim0 + 0.25) * 86400.0 - 1e-3
        before = [e["type"] for e in events[:extra[0]] if e["at"] == at]
        web = dev.life.profile.platform == "web"
        assert ("os_upgraded" in before) == (kind == "upgrade" and not web)
        assert dev.mismatches == 0, dev.examples
        assert msgspec.to_builtins(state_view(service.devices[f"d{n}"].state)) == \
            dev.record()["state"]
    assert joined > 10


def test_without_compressed_time_a_burst_changes_nothing() -> None:
    """With ``day_seconds = 0`` (as fast as possible) real moments mean nothing."""
    w = small(0, devices=20, day_seconds=0.0)
    a = [drive(Device(w, n, f"d{n}", 0.0), OpsService(w)) for n in range(20)]
    b = [drive(Device(w, n, f"d{n}", 0.0), OpsService(w), burst=("session", 5.0))
         for n in range(20)]
    assert [[c.body for c in x] for x in a] == [[c.body for c in x] for x in b]


def test_after_opt_in_the_services_state_is_the_devices() -> None:
    """With the app's sending (``scenarios/sending.toml`` at 5 pushes a day), the devices
    report Chrome's revocations and WebKit's silent pushes (``permission_revoked``,
    ``push_received``); the service applies them with the same rules, so every answer
    equals ``decide`` and the stored state, Safety Hub's and WebKit's fields included,
    equals the device's (issue 24, the life after opt-in)."""
    from pathlib import Path

    from sim.model.scenario import load_scenario

    root = Path(__file__).resolve().parents[2]
    sc = load_scenario(root / "scenarios" / "sending.toml", devices=150, chunk_size=150)
    w = World(sc, sc.strategies[1])
    service = OpsService(w)
    kinds: dict[str, int] = {}
    for n in range(150):
        dev = Device(w, n, f"d{n}", 0.0)
        drive(dev, service)
        r = dev.record()
        assert (r["mismatches"], r["examples"], r["rejected"]) == (0, [], [])
        assert msgspec.to_builtins(state_view(service.devices[f"d{n}"].state)) == r["state"]
        for k, v in r["kinds"].items():
            kinds[k] = kinds.get(k, 0) + v
    assert kinds.get("permission_revoked", 0) > 0 and kinds.get("push_received", 0) >= 3
