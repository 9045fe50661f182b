"""SQLite group commit: concurrent writes share a transaction; a failure stays its own."""

from __future__ import annotations

import asyncio

from service_helpers import T0, ev, install, once_campaign


def test_concurrent_writes_share_commits_and_fail_alone(sqlite_service):
    api = sqlite_service.new_app()
    once_campaign(api, frequency={"type": "every_time"})
    for i in range(8):
        install(api, f"d{i}", f"u{i}")
    store = sqlite_service.http._transport.app.store  # the in-process Service's store
    before = store._commits.batches

    async def burst():
        h = {"Authorization": f"Bearer {api.key}"}
        shows = [api.http.post(f"/v1/devices/d{i}/eligibility",
                               json={"trigger": "app_open", "at": T0 + 5}, headers=h)
                 for i in range(8)]
        bad = api.http.post("/v1/devices/d0/events", headers=h, json={"events": [
            ev("session_start", T0 + 6, "will-not-stay"),
            *[ev("os_dialog_result", T0 + 7 + k, outcome="denied") for k in range(3)]]})
        good = api.http.post("/v1/devices/d1/events", headers=h,
                             json={"events": [ev("session_start", T0 + 6, "stays")]})
        return await asyncio.gather(*shows, bad, good)

    *shows, bad, good = api.run(burst())
    assert [r.json()["show"] for r in shows] == [True] * 8
    assert bad.status_code == 409 and good.status_code == 200
    assert store._commits.batches - before <= 3  # 10 writes (one refused), few commits
    assert api.get("/v1/devices/d0").json()["state"]["sessions"] == 1  # the 409 left nothing
    assert api.get("/v1/devices/d1").json()["state"]["sessions"] == 2
    assert api.get("/v1/campaigns/welcome/stats").json()["impressions"] == 8
