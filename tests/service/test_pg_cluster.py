"""Several ``promptsim serve`` processes on one PostgreSQL database, as on several hosts
(the deployment in ``sim/service/README.md``): once-only and exact reads hold across them."""

from __future__ import annotations

import asyncio

import httpx
from service_helpers import T0, ev
from test_server import _client, _setup

DEVICES = tuple(f"d{i}" for i in range(5))
RACERS = 30


async def _race(urls: list[str], key: str, path: str, body: object) -> list[httpx.Response]:
    """``RACERS`` requests at once, alternating between the servers."""
    clients = [httpx.AsyncClient(base_url=u, timeout=60,
                                 limits=httpx.Limits(max_connections=RACERS),
                                 headers={"Authorization": f"Bearer {key}"}) for u in urls]
    try:
        return await asyncio.gather(*(clients[i % len(urls)].post(path, json=body)
                                      for i in range(RACERS)))
    finally:
        for c in clients:
            await c.aclose()


def test_two_servers_show_a_once_prompt_exactly_once(pg_url, server_factory):
    """Issue 14: two server processes (two workers each) on one database; for each of five
    devices, 30 simultaneous eligibility requests split between them: exactly one
    ``show: true`` per device, and one impression stored."""
    a, b = server_factory(pg_url, workers=2), server_factory(pg_url, workers=2)
    key = a.new_app()
    _setup(a.url, key, DEVICES)
    with _client(b.url, key) as c:  # b caches every record first: its cache must not help
        for d in DEVICES:
            assert c.get(f"/v1/devices/{d}").status_code == 200
    for d in DEVICES:
        answers = asyncio.run(_race([a.url, b.url], key, f"/v1/devices/{d}/eligibility",
                                    {"trigger": "app_open", "at": T0 + 1}))
        assert {r.status_code for r in answers} == {200}
        assert sum(r.json()["show"] for r in answers) == 1, [r.json() for r in answers]
    with _client(b.url, key) as c:
        assert c.get("/v1/campaigns/welcome/stats").json()["impressions"] == len(DEVICES)


def test_a_read_on_one_server_follows_a_write_acknowledged_by_the_other(pg_url,
                                                                         server_factory):
    """Issue 14: write through one server, then read through the other, 30 times; the
    reader holds the device in its record cache all along, and every read reflects the
    write just acknowledged."""
    a, b = server_factory(pg_url), server_factory(pg_url)
    key = a.new_app()
    _setup(a.url, key, DEVICES[:1])
    with _client(a.url, key) as ca, _client(b.url, key) as cb:
        assert cb.post("/v1/devices/d0/eligibility", json={"trigger": "app_open",
                                                           "at": T0 + 1}).json()["show"]
        expect = {"granted": "already_opted_in", "denied": "frequency_limit"}
        for i in range(30):
            perm = ("granted", "denied")[i % 2]
            w = ca.post("/v1/devices/d0/events", json={"events": [
                ev("permission_changed", T0 + 10 + 2 * i, permission=perm)]})
            assert w.status_code == 200, w.text
            r = cb.post("/v1/devices/d0/eligibility", json={"trigger": "app_open",
                                                            "at": T0 + 11 + 2 * i})
            assert r.json()["reason"] == expect[perm], (i, perm, r.json())
            assert cb.get("/v1/devices/d0").json()["permission"] == perm
