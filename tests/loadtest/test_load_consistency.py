"""The after-run check passes on an honest run, settles interrupted devices, and fails when
the service lost, invented or changed something."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from loadtest_helpers import FakeApi, OpsService, drive, world

from sim.loadtest import consistency as cons
from sim.loadtest.device import Device
from sim.loadtest.world import World


def run(n: int = 120, stop_every: int = 0) -> tuple[World, OpsService, list[dict[str, Any]]]:
    """``n`` devices against the service's ops; every ``stop_every``-th is cut mid-call."""
    w = world(0)
    service = OpsService(w)
    recs = []
    for i in range(n):
        dev = Device(w, i, f"d{i}", 0.0)
        cut = stop_every and i % stop_every == 0
        drive(dev, service, stop_after=3 if cut else None)
        recs.append(msgspec.json.decode(msgspec.json.encode(dev.record())))
    return w, service, recs


def checks(w: World, service: OpsService, recs: list[dict[str, Any]]) -> dict[str, Any]:
    api = FakeApi(service)
    settled = cons.settle(api, recs)  # type: ignore[arg-type]
    stored: dict[str, int] = {}
    for rows in service.events.values():
        for _, kind, *_ in rows:
            stored[kind] = stored.get(kind, 0) + 1
    result = cons.check(api, recs, w.strategy, w.profiles, settled=settled,  # type: ignore[arg-type]
                        stored=stored)
    return {c["name"]: c for c in result["checks"]} | {"passed": result["passed"]}


def test_an_honest_run_passes_every_check() -> None:
    w, service, recs = run()
    got = checks(w, service, recs)
    assert got["passed"], got
    assert list(got) == ["events_acknowledged", "events_stored", "campaign_stats",
                         "decisions_match_rules", "os_dialog_limit", "no_prompt_to_opted_in",
                         "once_only", "device_state", "passed"]
    assert "120 devices" in got["events_acknowledged"]["detail"]


def test_devices_cut_off_by_the_stop_are_settled_with_their_own_event_ids() -> None:
    """A batch whose answer was lost is sent again (stored once); queued events go out."""
    w, service, recs = run(stop_every=4)
    assert sum(1 for r in recs if r["inflight"]) > 10
    got = checks(w, service, recs)
    assert got["passed"], got
    detail = got["events_acknowledged"]["detail"]
    assert "requests in flight" in detail and " 0 rejected" in detail


def test_a_lost_event_fails_the_store_and_state_checks() -> None:
    w, service, recs = run()
    victim = next(d for d, rows in service.events.items()
                  if any(k == "soft_prompt_dismissed" for _, k, *_ in rows))
    service.events[victim] = [r for r in service.events[victim]
                              if r[1] != "soft_prompt_dismissed"]
    got = checks(w, service, recs)
    assert not got["passed"]
    assert not got["events_stored"]["passed"]
    assert "soft_prompt_dismissed: stored" in got["events_stored"]["detail"]
    assert not got["campaign_stats"]["passed"]


def test_a_state_the_service_changed_behind_the_devices_back_fails() -> None:
    w, service, recs = run()
    rec = service.devices["d5"]
    rec.state.denials = 9
    got = checks(w, service, recs)
    assert not got["device_state"]["passed"]
    assert "d5: denials" in got["device_state"]["detail"]
    assert not got["os_dialog_limit"]["passed"]


@pytest.mark.parametrize("field", ["optin_shows", "once_violations", "mismatches"])
def test_what_the_devices_saw_counts(field: str) -> None:
    w, service, recs = run(30)
    recs[3][field] = 1
    got = checks(w, service, recs)
    name = {"optin_shows": "no_prompt_to_opted_in", "once_only": "once_only",
            "once_violations": "once_only", "mismatches": "decisions_match_rules"}[field]
    assert not got[name]["passed"] and not got["passed"]


def test_a_device_stopped_before_its_first_request_is_not_held_against_the_service() -> None:
    """Locust may stop a user right after it took a new device: nothing was sent."""
    w, service, recs = run(20)
    idle = Device(w, 99, "never-sent", 0.0)
    recs.append(msgspec.json.decode(msgspec.json.encode(idle.record())))
    got = checks(w, service, recs)
    assert got["passed"], got
    assert "1 stopped before their first request" in got["device_state"]["detail"]
