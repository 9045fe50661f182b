"""The record cache of each store: reads stay exact across workers, writes and policy changes.

Two in-process services on one database stand for two workers (for PostgreSQL they have
separate pools, change-feed connections and writer ids, as two processes would).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_helpers import ADMIN, T0, ev, install, once_campaign
from workers import Worker, worker_pair

from sim.rules.permission import DeviceState
from sim.service.schemas import DeviceRecord
from sim.service.settings import Settings
from sim.service.storage.record_cache import RecordCache, sqlite_changes


@pytest.fixture
def workers(db_url: str) -> Iterator[tuple[Worker, Worker]]:
    """Two workers on one database (each store), sharing an app with a once-only campaign
    and d1."""
    yield from worker_pair(db_url)


def _decide(w: Worker, at: float) -> dict[str, object]:
    r = w.post("/v1/devices/d1/eligibility", {"trigger": "app_open", "at": at})
    assert r.status_code == 200, r.text
    out: dict[str, object] = r.json()
    return out


def test_a_read_sees_another_workers_write(workers):
    """A read on one worker reflects another worker's acknowledged write, although the
    reader had the device cached from before; later reads come from its cache again."""
    a, b = workers
    assert _decide(b, T0 + 5) == {"show": True, "reason": "eligible", "campaign_id": "welcome",
                                  "action": "os_dialog"}  # b shows it: b's write
    assert _decide(a, T0 + 6) == {"show": False, "reason": "frequency_limit"}
    assert _decide(a, T0 + 6.5)["reason"] == "frequency_limit"  # (PostgreSQL: b's change
    hits = a.records.hits                                       # reaches a's cache here)
    assert _decide(a, T0 + 7)["reason"] == "frequency_limit"
    assert a.records.hits == hits + 1  # served from a's cache
    r = b.post("/v1/devices/d1/events", {"events": [
        ev("permission_changed", T0 + 8, permission="granted")]})
    assert r.status_code == 200, r.text
    # a's cached record is from before b's commit; the next request must not use it
    assert _decide(a, T0 + 9) == {"show": False, "reason": "already_opted_in"}


def test_own_writes_are_read_back_from_the_cache(workers):
    """A worker's own committed write is put in its cache: the next read is a hit."""
    a, _ = workers
    assert _decide(a, T0 + 5)["show"] is True  # reserves the impression: a write in a
    hits, misses = a.records.hits, a.records.misses
    assert _decide(a, T0 + 6)["reason"] == "frequency_limit"
    assert (a.records.hits, a.records.misses) == (hits + 1, misses)  # the committed record
    r = a.post("/v1/devices/d1/events", {"events": [
        ev("permission_changed", T0 + 8, permission="granted")]})
    assert r.status_code == 200
    assert _decide(a, T0 + 9)["reason"] == "already_opted_in"


def test_a_failed_batch_leaves_the_cached_record_as_committed(workers):
    """A batch rejected as a whole (409) changes neither the row nor the cached record."""
    a, _ = workers
    assert _decide(a, T0 + 5)["show"] is True
    before = a.call("GET", "/v1/devices/d1").json()["state"]
    r = a.post("/v1/devices/d1/events", {"events": [
        ev("session_start", T0 + 6),
        *[ev("os_dialog_result", T0 + 7 + k, outcome="denied") for k in range(3)]]})
    assert r.status_code == 409, r.text  # the third denial is past the platform's limit
    assert a.call("GET", "/v1/devices/d1").json()["state"] == before


def test_a_policy_change_is_seen_at_once(workers):
    """A campaign PUT, on this worker or another, applies to the next decision."""
    a, b = workers
    assert _decide(a, T0 + 5)["show"] is True
    assert _decide(a, T0 + 6)["reason"] == "frequency_limit"  # cached in a
    once_campaign(a, frequency={"type": "every_time"})  # a's own policy write
    assert _decide(a, T0 + 7)["show"] is True
    once_campaign(b, frequency={"type": "once"})  # the other worker's policy write
    assert _decide(a, T0 + 8)["reason"] == "frequency_limit"


def test_cache_off_reads_the_database_every_time(db_url):
    """``PROMPTSIM_DEVICE_CACHE=0``: nothing is cached, every read goes to the database."""
    loop = asyncio.new_event_loop()
    w = Worker(loop, db_url, cache=0)
    try:
        r = loop.run_until_complete(w.http.post(
            "/v1/apps", json={"name": "t", "clock": "client"},
            headers={"Authorization": f"Bearer {ADMIN}"}))
        w.key = r.json()["api_key"]
        once_campaign(w)
        install(w)
        assert _decide(w, T0 + 5)["show"] is True
        assert _decide(w, T0 + 6)["reason"] == "frequency_limit"
        assert len(w.records) == 0 and w.records.hits == 0
    finally:
        w.close()
        loop.close()


# --- the cache alone ---------------------------------------------------------------------------

def _record(user: str = "u") -> DeviceRecord:
    return DeviceRecord(user_id=user, platform="android",
                        state=DeviceState(profile="android13", permission="not_determined"))


def _wal(path: Path) -> sqlite3.Connection:
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    return c


def test_other_connections_commit_empties_it_from_the_next_loop_pass(tmp_path):
    own, other = _wal(tmp_path / "c.db"), _wal(tmp_path / "c.db")
    other.execute("CREATE TABLE t (x)")
    cache = RecordCache(10, sqlite_changes(own))

    async def scenario() -> list[bool]:
        seen = []
        assert cache.get(("a", "d")) is None
        cache.put(("a", "d"), _record())
        seen.append(cache.get(("a", "d")) is not None)
        other.execute("INSERT INTO t VALUES (1)")
        seen.append(cache.get(("a", "d")) is not None)  # same pass: not checked again
        await asyncio.sleep(0)  # the next pass reads data_version
        seen.append(cache.get(("a", "d")) is not None)
        own.execute("INSERT INTO t VALUES (2)")  # its own connection: no change seen
        cache.put(("a", "d"), _record())
        await asyncio.sleep(0)
        seen.append(cache.get(("a", "d")) is not None)
        return seen

    assert asyncio.run(scenario()) == [True, True, False, True]


def test_staged_records_enter_only_on_commit_and_the_oldest_goes_first(tmp_path):
    cache = RecordCache(2, sqlite_changes(_wal(tmp_path / "s.db")))

    async def scenario() -> None:
        cache.get(("a", "x"))
        cache.stage(("a", "1"), _record("one"))
        cache.settle(committed=False)
        assert cache.get(("a", "1")) is None
        cache.stage(("a", "1"), _record("one"))
        cache.stage(("a", "2"), _record("two"))
        cache.settle(committed=True)
        assert [cache.get(("a", k)) is not None for k in "12"] == [True, True]
        cache.put(("a", "3"), _record("three"))  # full: ("a", "1") goes
        assert [cache.get(("a", k)) is not None for k in "123"] == [False, True, True]
        cache.clear()
        assert cache.get(("a", "2")) is None and len(cache) == 0

    asyncio.run(scenario())


@pytest.mark.parametrize("raw, message", [
    ("-1", "PROMPTSIM_DEVICE_CACHE: -1 is too small; allowed: an integer >= 0"),
    ("many", "PROMPTSIM_DEVICE_CACHE: 'many' is not an integer"),
])
def test_cache_size_setting_is_checked(raw, message):
    with pytest.raises(ValueError) as err:
        Settings.from_env({"PROMPTSIM_DEVICE_CACHE": raw})
    assert str(err.value) == message
    assert Settings.from_env({"PROMPTSIM_DEVICE_CACHE": "0"}).device_cache == 0
