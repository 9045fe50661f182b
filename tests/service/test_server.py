"""Against real ``promptsim serve`` processes, on both stores.

The concurrency guarantees are tested on a two-worker server, so that
requests for one device race in different processes, not only in one event loop.
"""

from __future__ import annotations

import asyncio

import httpx
from service_helpers import T0, ev, worker_requests

N_RACERS = 40


def _client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _setup(url: str, key: str, devices: tuple[str, ...] = ("d1",)) -> None:
    """A once-only campaign and Android devices with a first session."""
    with _client(url, key) as c:
        assert c.put("/v1/campaigns/welcome", json={"trigger": {"type": "app_open"},
                                                    "frequency": {"type": "once"}}
                     ).status_code == 201
        for d in devices:
            assert c.post("/v1/devices", json={"device_id": d, "user_id": f"u-{d}",
                                               "platform": "android", "os_version": 14,
                                               "at": T0}).status_code == 201
            assert c.post(f"/v1/devices/{d}/events", json={"events": [
                ev("session_start", T0)]}).status_code == 200


async def _race(url: str, key: str, method: str, path: str, bodies: list[object]
                ) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60,
                                 headers={"Authorization": f"Bearer {key}"}) as c:
        return await asyncio.gather(*(c.request(method, path, json=b) for b in bodies))


def test_round_trip_and_restart(db_url, server_factory):
    """State written through a real server survives a restart (migrations re-run as no-ops)."""
    s = server_factory(db_url)
    key = s.new_app()
    _setup(s.url, key)
    with _client(s.url, key) as c:
        d = c.post("/v1/devices/d1/eligibility", json={"trigger": "app_open", "at": T0 + 1})
        assert d.json()["show"] is True
        assert c.get("/openapi.json").status_code == 200
    s.stop()
    s2 = server_factory(db_url)
    with _client(s2.url, key) as c:
        assert c.get("/v1/devices/d1").json()["state"]["campaigns"]["welcome"]["shown"] == 1
        d = c.post("/v1/devices/d1/eligibility", json={"trigger": "app_open", "at": T0 + 2})
        assert d.json() == {"show": False, "reason": "frequency_limit"}


def test_simultaneous_eligibility_shows_a_once_prompt_exactly_once(db_url, server_factory):
    """Many simultaneous requests for one device: exactly one gets the once-only prompt."""
    s = server_factory(db_url, workers=2)
    key = s.new_app()
    _setup(s.url, key)
    answers = asyncio.run(_race(s.url, key, "POST", "/v1/devices/d1/eligibility",
                                [{"trigger": "app_open", "at": T0 + 1}] * N_RACERS))
    assert {r.status_code for r in answers} == {200}
    shows = [r.json() for r in answers if r.json()["show"]]
    assert shows == [{"show": True, "reason": "eligible", "campaign_id": "welcome",
                      "action": "os_dialog"}]
    with _client(s.url, key) as c:
        assert c.get("/v1/campaigns/welcome/stats").json()["impressions"] == 1
        assert c.get("/v1/devices/d1").json()["state"]["campaigns"]["welcome"]["shown"] == 1


def test_simultaneous_dialog_results_cannot_pass_the_limit(db_url, server_factory):
    """Android 13+ allows two denials: of many simultaneous answers, two land, the rest 409."""
    s = server_factory(db_url, workers=2)
    key = s.new_app()
    _setup(s.url, key)
    bodies: list[object] = [{"events": [ev("os_dialog_result", T0 + 1 + i, outcome="denied")]}
                            for i in range(12)]
    answers = asyncio.run(_race(s.url, key, "POST", "/v1/devices/d1/events", bodies))
    codes = sorted(r.status_code for r in answers)
    assert codes == [200, 200] + [409] * 10
    assert all(r.json()["error"] == "no_dialog_left" for r in answers if r.status_code == 409)
    with _client(s.url, key) as c:
        dev = c.get("/v1/devices/d1").json()
        assert dev["state"]["denials"] == 2 and dev["state"]["dialogs_shown"] == 2
        assert dev["dialogs_left"] == 0


def test_every_read_follows_the_last_acknowledged_write_across_workers(db_url, server_factory):
    """Write on one connection, then read on a new one, 40 times, on a two-worker server:
    whichever worker answers (and whatever it has cached), the read reflects the write."""
    s = server_factory(db_url, workers=2)
    key = s.new_app()
    _setup(s.url, key)
    auth = {"Authorization": f"Bearer {key}"}
    first = httpx.post(f"{s.url}/v1/devices/d1/eligibility", headers=auth, timeout=30,
                       json={"trigger": "app_open", "at": T0 + 1})
    assert first.json()["show"] is True  # the once-only prompt is used up from here on
    expect = {"granted": "already_opted_in", "denied": "frequency_limit"}
    for i in range(40):
        perm = ("granted", "denied")[i % 2]
        w = httpx.post(f"{s.url}/v1/devices/d1/events", headers=auth, timeout=30, json={
            "events": [ev("permission_changed", T0 + 10 + 2 * i, permission=perm)]})
        assert w.status_code == 200, w.text
        r = httpx.post(f"{s.url}/v1/devices/d1/eligibility", headers=auth, timeout=30,
                       json={"trigger": "app_open", "at": T0 + 11 + 2 * i})
        assert r.json()["reason"] == expect[perm], (i, perm, r.json())
    served = worker_requests(s.url)
    assert len(served) == 2 and min(served.values()) >= 10, served  # both workers answered
