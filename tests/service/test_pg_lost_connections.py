"""PostgreSQL backends terminated under load (a restart, a failover: issue 28.5) give no
500. asyncpg then fails with ``InternalClientError: cannot switch to state`` on the
connections it kept (MagicStack/asyncpg#1069): such a connection is dropped and the pool's
others expired, a read runs once more, and a write answers 503 ``unavailable`` (not sent:
not applied) or ``outcome_unknown`` (sent, unconfirmed). Every acknowledged event is
stored and no refused one is."""

from __future__ import annotations

import asyncio
import collections
import threading
import uuid

import asyncpg
import httpx
from pg_helpers import PG_BASE
from service_helpers import T0, ev

WORKERS = 4
KILLS = 8


def test_terminated_backends_give_no_500_and_answers_mean_what_they_say(pg_url,
                                                                      server_factory,
                                                                      tmp_path):
    name = f"promptsim_test_{uuid.uuid4().hex[:10]}"
    s = server_factory(f"{pg_url}&application_name={name}")
    key = s.new_app("client")
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=s.url, headers=auth, timeout=30) as c:
        assert c.put("/v1/campaigns/w", json={}).status_code == 201
        for i in range(20):
            assert c.post("/v1/devices", json={"device_id": f"d{i}", "user_id": "u",
                                               "platform": "ios", "at": T0}).status_code == 201
    answers: collections.Counter[tuple[str, int, str]] = collections.Counter()
    stop = threading.Event()

    def load(k: int) -> None:
        with httpx.Client(base_url=s.url, headers=auth, timeout=30) as cl:
            n = 0
            while not stop.is_set():
                n += 1
                d = f"d{(n + k) % 20}"
                for what, r in [
                        ("events", cl.post(f"/v1/devices/{d}/events", json={"events": [
                            ev("custom_event", T0 + n, f"{k}-{n}", name="x")]})),
                        ("read", cl.get(f"/v1/devices/{d}")),
                        ("eligibility", cl.post(f"/v1/devices/{d}/eligibility",
                                                json={"trigger": "app_open", "at": T0 + n}))]:
                    answers[(what, r.status_code,
                             "" if r.status_code == 200 else r.json()["error"])] += 1

    async def terminate() -> int:
        con = await asyncpg.connect(PG_BASE)
        ended = 0
        try:
            for _ in range(KILLS):
                await asyncio.sleep(0.5)
                ended += await con.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = $1", name)
        finally:
            await con.close()
        return ended

    threads = [threading.Thread(target=load, args=(k,)) for k in range(WORKERS)]
    for t in threads:
        t.start()
    try:
        ended = asyncio.run(terminate())
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert ended >= KILLS, ended  # the pool and the change feed were cut each time
    statuses = {(what, status, code) for what, status, code in answers}
    assert all(st in (200, 503) for _, st, _ in statuses), answers
    assert {code for _, st, code in statuses if st == 503} <= {
        "unavailable", "timeout", "outcome_unknown"}, answers
    assert not any(what == "read" and code == "outcome_unknown" for what, _, code in statuses)
    assert "unexpected error" not in (tmp_path / "server.log").read_text()
    acked = answers[("events", 200, "")]
    unknown = answers[("events", 503, "outcome_unknown")]
    with httpx.Client(base_url=s.url, headers=auth, timeout=30) as c:
        stored = c.get("/v1/app/stats").json()["events"].get("custom_event", 0)
    assert acked <= stored <= acked + unknown, (acked, unknown, stored, answers)
