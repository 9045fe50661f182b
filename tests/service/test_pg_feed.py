"""The PostgreSQL change feed that keeps each worker's record cache exact
(``sim/service/storage/pg_feed.py``), and the cache's guard against slow reads."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest
from pg_helpers import PG_BASE
from service_helpers import T0, ev, once_campaign
from workers import Worker, worker_pair

from sim.rules.permission import DeviceState
from sim.service.schemas import DeviceRecord
from sim.service.storage.pg_feed import ChangeFeed
from sim.service.storage.record_cache import RecordCache


@pytest.fixture
def pair(pg_url: str) -> Iterator[tuple[Worker, Worker]]:
    """Two workers on one PostgreSQL schema, an app with a once-only campaign and d1."""
    yield from worker_pair(pg_url)


def _reason(w: Worker, at: float) -> str:
    r = w.post("/v1/devices/d1/eligibility", {"trigger": "app_open", "at": at})
    assert r.status_code == 200, r.text
    reason: str = r.json()["reason"]
    return reason


def _grant(w: Worker, at: float) -> None:
    r = w.post("/v1/devices/d1/events", {"events": [
        ev("permission_changed", at, permission="granted")]})
    assert r.status_code == 200, r.text


def _terminate(pid: int) -> None:
    async def run() -> None:
        con = await asyncpg.connect(PG_BASE)
        try:
            await con.execute("SELECT pg_terminate_backend($1)", pid)
        finally:
            await con.close()

    asyncio.run(run())


def test_a_cached_read_waits_for_a_check_sent_after_it(pair):
    """Issue 14: a read from the cache is exact -- it is answered only after one check of the
    change log sent after the request arrived, so a write another worker acknowledged
    before is seen even though that worker's change reached no one yet."""
    a, b = pair
    assert _reason(a, T0 + 5) == "eligible"  # a reserves: its own write, cached by a
    assert _reason(a, T0 + 6) == "frequency_limit"
    checks, hits = a.store.feed.checks, a.store.records.hits
    _grant(b, T0 + 7)  # b's write; a has been told nothing
    assert _reason(a, T0 + 8) == "already_opted_in"
    assert a.store.feed.checks == checks + 1  # one check, and it dropped the stale entry
    assert a.store.records.hits == hits
    assert _reason(a, T0 + 9) == "already_opted_in"  # now from a's cache again
    assert a.store.records.hits == hits + 1


def test_the_feed_down_falls_back_to_the_rows_and_comes_back(pair):
    """Issue 14: when the worker's change-feed connection is lost, its cache is emptied and
    unused (reads go to the rows, still exact); it reconnects and caches again."""
    a, b = pair
    assert _reason(a, T0 + 5) == "eligible"
    assert _reason(a, T0 + 6) == "frequency_limit"  # d1 cached in a
    pid = a.store.feed.backend_pid
    assert pid is not None
    _terminate(pid)
    _grant(b, T0 + 7)
    assert _reason(a, T0 + 8) == "already_opted_in"  # fell back to the row (or a new check)
    a.loop.run_until_complete(asyncio.sleep(0.5))  # the reconnect task runs
    assert a.store.feed.up and a.store.feed.backend_pid != pid
    hits = a.store.records.hits
    assert _reason(a, T0 + 9) == "already_opted_in"
    assert _reason(a, T0 + 10) == "already_opted_in"
    assert a.store.records.hits == hits + 1  # the cache is in use again
    b.put("/v1/campaigns/welcome", {"trigger": {"type": "app_open"},
                                    "frequency": {"type": "every_time"}})
    r = a.post("/v1/devices/d1/eligibility", {"trigger": "app_open", "at": T0 + 11})
    assert r.json()["reason"] == "already_opted_in"


def test_a_policy_change_by_another_worker_empties_the_cache(pair):
    """A campaign PUT on one worker is logged: the other's next check empties its cache and
    the next decision uses the new policy."""
    a, b = pair
    assert _reason(a, T0 + 5) == "eligible"
    assert _reason(a, T0 + 6) == "frequency_limit"
    once_campaign(b, frequency={"type": "every_time"})
    assert _reason(a, T0 + 7) == "eligible"


# --- the feed alone -------------------------------------------------------------------------

def _record() -> DeviceRecord:
    return DeviceRecord(user_id="u", platform="android",
                        state=DeviceState(profile="android13", permission="not_determined"))


def _feed(cache: RecordCache) -> ChangeFeed:
    return ChangeFeed("postgresql://unused", cache, timeout=1.0, connect_timeout=1.0)


def test_log_rows_drop_other_writers_entries_and_a_gap_empties_the_cache():
    """A check's rows drop the named devices (another writer's), never this process's own
    (its cache holds what they committed); a policy line empties the cache; numbers that
    skip (log rows already deleted) empty it too; a writer row created again (new
    ``since``) counts from 1 again."""
    cache = RecordCache(10)
    feed = _feed(cache)
    own = feed.new_writer()
    for d in "abc":
        cache.put(("app", d), _record())
    feed.seen = {"w1": (1.0, 4), own: (2.0, 7)}
    feed.take([("w1", 1.0, 5, 5, "app a"), (own, 2.0, 8, 8, "app b")])
    assert [("app", d) in cache for d in "abc"] == [False, True, True]
    assert feed.seen == {"w1": (1.0, 5), own: (2.0, 8)}
    feed.take([("w1", 1.0, 7, 7, "app c")])  # n = 6 is missing
    assert len(cache) == 0 and feed.seen["w1"] == (1.0, 7)
    cache.put(("app", "a"), _record())
    cache.put(("other", "x"), _record())
    feed.take([("w1", 9.0, 1, 1, "other x")])  # w1's row was deleted and made again:
    assert ("other", "x") not in cache and ("app", "a") in cache  # its numbers restart
    assert feed.seen["w1"] == (9.0, 1)
    feed.take([("w1", 9.0, 3, None, None)])  # changes past 1, but their log rows are gone
    assert len(cache) == 0 and feed.seen["w1"] == (9.0, 3)
    cache.put(("app", "a"), _record())
    feed.take([("w2", 3.0, 1, 1, "app")])  # a policy change of app
    assert len(cache) == 0


def test_a_read_that_began_before_an_invalidation_or_an_own_write_puts_nothing():
    """The cache refuses a record read before the key was dropped or written by this worker
    (the read's copy is older); other keys are unaffected."""
    cache = RecordCache(10)
    started = cache.gen
    cache.drop([("app", "x")])
    cache.put(("app", "x"), _record(), started)
    cache.put(("app", "y"), _record(), started)
    assert ("app", "x") not in cache and ("app", "y") in cache
    started = cache.gen
    cache.wrote([(("app", "z"), _record(), 3)], started)  # own commit of z at revision 3
    assert cache.peek(("app", "z")) is not None and cache.peek(("app", "z"))[1] == 3
    cache.put(("app", "z"), _record(), started, rev=2)  # a read from before that commit
    assert cache.peek(("app", "z"))[1] == 3
    cache.clear()
    cache.put(("app", "y"), _record(), started)
    assert len(cache) == 0
