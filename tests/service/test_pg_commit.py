"""The PostgreSQL group commit (``sim/service/storage/pg_commit.py``): one write statement
checked by revision and policy version, from cached records, then from rows read again,
then under row locks; duplicates."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from service_helpers import T0, ev, once_campaign
from workers import Worker, worker_pair


@pytest.fixture
def pair(pg_url: str) -> Iterator[tuple[Worker, Worker]]:
    """Two workers on one schema; an app with a once-only campaign and an Android d1."""
    yield from worker_pair(pg_url)


def _events(w: Worker, *events: dict[str, object], status: int = 200) -> dict[str, object]:
    r = w.post("/v1/devices/d1/events", {"events": list(events)})
    assert r.status_code == status, r.text
    out: dict[str, object] = r.json()
    return out


def _sessions(w: Worker) -> int:
    r = w.loop.run_until_complete(w.http.get("/v1/devices/d1",
                                             headers={"Authorization": f"Bearer {w.key}"}))
    sessions: int = r.json()["state"]["sessions"]
    return sessions


def test_a_write_on_a_cached_record_takes_one_statement(pair):
    """A worker holding the record writes it in one statement (no row lock, no BEGIN): the
    group goes the cached way and the answer is the committed state."""
    a, _ = pair
    a.store.commits.groups.update(cached=0, fresh=0, locked=0)
    out = _events(a, ev("session_start", T0 + 5))
    assert out["new"] == 1
    assert a.store.commits.groups == {"cached": 1, "fresh": 0, "locked": 0}
    assert _sessions(a) == 2


def test_a_record_changed_by_another_worker_is_written_again_from_the_row(pair):
    """The cached record is stale (the other worker wrote since): the revision check refuses
    the write, the operation runs again from the row read anew, and no change is lost."""
    a, b = pair
    assert _sessions(a) == 1  # cached in a
    _events(b, ev("session_start", T0 + 5))
    a.store.commits.groups.update(cached=0, fresh=0, locked=0)
    redone = a.store.commits.redone
    _events(a, ev("session_start", T0 + 6))
    assert a.store.commits.redone == redone + 1
    assert a.store.commits.groups == {"cached": 1, "fresh": 1, "locked": 0}
    assert _sessions(b) == 3 and _sessions(a) == 3


def test_an_answer_from_an_old_policy_is_not_kept(pair):
    """A's cached policy does not know a campaign b just created: the write from the cache
    fails its policy-version check, and the run from the row (with the new policy) accepts
    the event instead of answering 404."""
    a, b = pair
    assert _sessions(a) == 1  # record and policy cached in a
    once_campaign(b, "promo")
    redone = a.store.commits.redone
    out = _events(a, ev("soft_prompt_shown", T0 + 5, campaign_id="promo"))
    assert out["new"] == 1
    assert a.store.commits.redone == redone + 1


def test_a_stored_event_id_sent_again_is_a_duplicate(pair):
    """Idempotency without a lookup first: the primary key refuses the repeated id, nothing
    of the group is written, and the run that looks the ids up counts it as a duplicate."""
    a, _ = pair
    first = ev("session_start", T0 + 5, event_id="once")
    assert _events(a, first)["new"] == 1
    again = _events(a, first, ev("session_start", T0 + 6))
    assert (again["new"], again["duplicate"]) == (1, 1)
    assert _sessions(a) == 3


def test_a_batch_sent_again_after_it_used_up_the_dialog_is_its_duplicate(pair):
    """A client that lost the answer resends the batch that used up Android 13's dialog:
    the resend must be the first batch's duplicate (200, nothing new), not a refusal of its
    own events (409 ``no_dialog_left``), as on SQLite, which looks the ids up first. Here
    the cached write runs the batch without the lookup, the rules refuse it, and the
    refusal is checked against the stored ids before it is answered; a batch that really
    asks for a third dialog is still 409."""
    a, b = pair
    batch = [ev("os_dialog_result", T0 + 2, "deny-1", outcome="denied"),
             ev("os_dialog_result", T0 + 3, "deny-2", outcome="denied")]
    assert _events(a, *batch)["new"] == 2
    for w in (a, b):  # a holds the record in its cache; b reads the row
        again = _events(w, *batch)
        assert (again["new"], again["duplicate"]) == (0, 2), again
    third = _events(a, ev("os_dialog_result", T0 + 4, "deny-3", outcome="denied"), status=409)
    assert third["error"] == "no_dialog_left"
    dev = a.loop.run_until_complete(a.http.get(
        "/v1/devices/d1", headers={"Authorization": f"Bearer {a.key}"})).json()
    assert dev["state"]["denials"] == 2 and dev["dialogs_left"] == 0


def test_an_unknown_device_is_404_and_leaves_the_group_alone(pair):
    """An operation on a device that does not exist fails alone (404); the others commit."""
    a, _ = pair

    async def both() -> list[int]:
        h = {"Authorization": f"Bearer {a.key}"}
        body = {"events": [ev("session_start", T0 + 5)]}
        rs = await asyncio.gather(a.http.post("/v1/devices/nope/events", json=body, headers=h),
                                  a.http.post("/v1/devices/d1/events", json=body, headers=h))
        return [r.status_code for r in rs]

    assert a.loop.run_until_complete(both()) == [404, 200]
    assert _sessions(a) == 2


def test_concurrent_batches_from_two_workers_are_each_applied_once(pair):
    """Sixty batches for one device, at once from two workers (several lanes each): every
    session is counted exactly once, whichever way each group went."""
    a, b = pair

    async def burst() -> list[int]:
        calls = []
        for i in range(60):
            w = (a, b)[i % 2]
            calls.append(w.http.post("/v1/devices/d1/events", headers={
                "Authorization": f"Bearer {w.key}"}, json={"events": [
                    ev("session_start", T0 + 10 + i, event_id=f"s{i}")]}))
        return [r.status_code for r in await asyncio.gather(*calls)]

    assert a.loop.run_until_complete(burst()) == [200] * 60
    assert _sessions(a) == 61 and _sessions(b) == 61


def test_the_locked_way_serves_what_revision_checks_keep_refusing(pair, monkeypatch):
    """When writes from read records are refused every time (a device busy on other hosts),
    the group runs under row locks and every operation is answered: writes, a 409 for
    the batch past the dialog limit, a 404 for an unknown device."""
    a, _ = pair
    commits = a.store.commits

    async def refused(writer: str, ops: list[object], fresh: bool) -> list[object]:
        return ops

    monkeypatch.setattr(commits, "_optimistic", refused)
    commits.groups.update(cached=0, fresh=0, locked=0)

    async def both() -> list[int]:
        h = {"Authorization": f"Bearer {a.key}"}
        calls = [a.http.post("/v1/devices/d1/events", headers=h, json={"events": [
            ev("os_dialog_result", T0 + 5 + i, outcome="denied")]}) for i in range(3)]
        calls.append(a.http.post("/v1/devices/nope/events", headers=h, json={"events": [
            ev("session_start", T0 + 5)]}))
        return [r.status_code for r in await asyncio.gather(*calls)]

    assert a.loop.run_until_complete(both()) == [200, 200, 409, 404]
    assert commits.groups["locked"] >= 1 and commits.groups["cached"] == 0
