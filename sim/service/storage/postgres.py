"""The PostgreSQL store, through an asyncpg pool (one pool per worker process).

Device writes go through a group commit (:mod:`sim.service.storage.pg_commit`): the
writes that queue up while one group transaction runs share the next one, which locks
their rows with ``SELECT ... FOR UPDATE``, so concurrent requests for one device, on any
process or host, queue up there and each sees the state the previous one committed.
Lock-free reads use the record cache (:mod:`sim.service.storage.record_cache`), kept exact
across processes by the change feed (:mod:`sim.service.storage.pg_feed`). Tables live in
the connection's ``search_path`` (tests pass ``?search_path=SCHEMA`` in the URL).

Every call has a deadline of ``timeout`` seconds, waiting for a pool connection
included: a database that is reachable but does not answer gives
:class:`~sim.service.errors.Unavailable` (503 with ``Retry-After``), never a request
that hangs. Connecting has its own ``connect_timeout``. Pool connections are not reset
when they go back to the pool (asyncpg's default reset is a round trip per call): no
call leaves session state behind, and an open transaction is still rolled back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import nullcontext
from typing import Any, Literal, TypeVar

import asyncpg

from sim.service import auth, log
from sim.service.errors import Unavailable
from sim.service.experiments import CellRow, aggregate_facts, state_key
from sim.service.schemas import AppCreated, AppStats, Clock, DeviceRecord, Health
from sim.service.storage import experiment_aggregates as xagg
from sim.service.storage import experiment_sql as xsql
from sim.service.storage.experiment_sql import numbered
from sim.service.storage.migrations import migrate_postgres
from sim.service.storage.pg_commit import (
    DOWN,
    LOST,
    PgGroupCommit,
    failure,
    lease,
    unknown_outcome,
)
from sim.service.storage.pg_feed import ChangeFeed
from sim.service.storage.record_cache import RecordCache
from sim.service.storage.store import (
    BROWSER_ANSWERS,
    BrowserAnswer,
    MakeExperiment,
    T,
    TenantCache,
    TxFn,
    cohort_day,
    encode,
    record_decoder,
)
from sim.service.tenant import App, Tenant

_DEVICE = ("SELECT d.doc, a.policy_version, d.rev FROM devices d JOIN apps a ON a.id = d.app_id "
           "WHERE d.app_id = $1 AND d.device_id = $2")
R = TypeVar("R")


def safe_dsn(dsn: str) -> str:
    """The URL without a password."""
    head, at, tail = dsn.rpartition("@")
    if not at:
        return dsn
    scheme, _, cred = head.partition("://")
    return f"{scheme}://{cred.partition(':')[0]}@{tail}"


async def _keep_session(con: Any) -> None:
    """The pool's reset: nothing beyond asyncpg's rollback of an open transaction."""


class PostgresStore:
    """:class:`sim.service.storage.store.Store` on PostgreSQL."""

    kind: Literal["postgres"] = "postgres"

    def __init__(self, dsn: str, pool_size: int = 8, timeout: float = 5.0,
                 connect_timeout: float = 5.0, cache_size: int = 0) -> None:
        self.dsn = dsn
        self.schema: str | None = None
        """The schema the tables are in (known once opened)."""
        self.pool_size = pool_size
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._pool: Any = None
        self._tenants = TenantCache()
        self.records = RecordCache(cache_size)
        """The record cache of lock-free reads (exact through :attr:`feed`)."""
        self.feed = ChangeFeed(dsn, self.records, timeout, connect_timeout)
        self._commits: PgGroupCommit | None = None
        self._policy_writer = self.feed.new_writer()
        self._policy_lock = asyncio.Lock()
        """Policy writes of this process commit one at a time (their writer's order)."""

    @property
    def pool(self) -> Any:
        """The open asyncpg pool."""
        assert self._pool is not None, "store not opened"
        return self._pool

    @property
    def commits(self) -> PgGroupCommit:
        """The group commit of device writes."""
        assert self._commits is not None, "store not opened"
        return self._commits

    async def open(self) -> None:
        """Create the pool, migrate and listen to the change feed; a database the service
        cannot use raises :class:`Unavailable` naming it and the problem."""
        where = safe_dsn(self.dsn)
        try:
            async with asyncio.timeout(self.connect_timeout + 30):  # migrations take a while
                self._pool = await asyncpg.create_pool(
                    self.dsn, min_size=1, max_size=self.pool_size, timeout=self.connect_timeout,
                    command_timeout=self.timeout, reset=_keep_session)
                async with self._pool.acquire(timeout=self.connect_timeout) as con:
                    await migrate_postgres(con)
                    self.schema = await con.fetchval("SELECT current_schema()")
        except TimeoutError:
            await self.close()
            raise Unavailable("store_unusable", f"{where}: no answer within "
                              f"{self.connect_timeout:g} s") from None
        except (asyncpg.PostgresError, *DOWN) as exc:
            await self.close()
            raise Unavailable("store_unusable", f"{where}: {exc}") from None
        try:
            await self.feed.open(self._pool)
        except (TimeoutError, asyncpg.PostgresError, *DOWN) as exc:
            await self.close()
            raise Unavailable("store_unusable", f"{where}: {exc or 'no answer'}") from None
        self._commits = PgGroupCommit(self._pool, self.feed, self.records, self._tenant,
                                      self._tenants.latest, self.timeout,
                                      lanes=max(1, self.pool_size // 2))

    async def _call(self, fn: Callable[[Any], Awaitable[R]], write: bool = False) -> R:
        """``fn(connection)`` within ``timeout`` seconds (the wait for a connection
        included); a database that does not answer or is down is :class:`Unavailable`.

        A read on a connection that turns out to be lost (a restarted server, a terminated
        backend) runs once more on another; a write sent on one is 503
        ``outcome_unknown``."""
        deadline = asyncio.get_running_loop().time() + self.timeout
        for again in (True, False):
            sent = False
            try:
                async with asyncio.timeout_at(deadline), lease(self.pool) as con:
                    sent = True
                    return await fn(con)
            except Exception as exc:
                if isinstance(exc, LOST) and not write and again:
                    log.cause("connection_lost", "PostgreSQL connection lost; reading again",
                              exc)
                    continue
                err = failure(exc, self.timeout)
                if err is exc:
                    raise
                raise (unknown_outcome(self.timeout) if write and sent else err) from None
        raise AssertionError("unreachable: the second try returns or raises")

    async def close(self) -> None:
        """Finish the groups running, stop the change feed and close the pool."""
        if self._commits is not None:
            await self._commits.close()
        await self.feed.close()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), self.connect_timeout)
            except (TimeoutError, *DOWN):
                pool.terminate()

    async def health(self) -> Health:
        """Ready if the server answers a query within ``timeout`` and takes writes (not a
        standby, nor a read-only session: what a failover can leave behind)."""
        read_only = await self._call(lambda con: con.fetchval(
            "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'"))
        if read_only:
            raise Unavailable("store_read_only", "PostgreSQL takes no writes now (a standby, "
                              "or read-only); retry later", 5)
        return Health(status="ok", store=self.kind, integrity="server", writes="ok")

    async def create_app(self, name: str, clock: Clock) -> AppCreated:
        """Insert an app; only the key's hash is kept."""
        key, app_id = auth.new_key(), auth.new_app_id()
        await self._call(lambda con: con.execute(
            "INSERT INTO apps (id, name, clock, key_hash, created_at) VALUES ($1, $2, $3, $4, "
            "$5)", app_id, name, clock, auth.key_hash(key), time.time()), write=True)
        return AppCreated(app_id=app_id, name=name, clock=clock, api_key=key)

    async def app_by_key(self, key_hash: str) -> App | None:
        """The app of a key hash."""
        row = await self._call(lambda con: con.fetchrow(
            "SELECT id, name, clock FROM apps WHERE key_hash = $1", key_hash))
        return App(*row) if row else None

    async def _tenant(self, con: Any, app: App, version: int | None = None) -> Tenant:
        if version is not None:
            t = self._tenants.get(app.app_id, version)
            if t is not None:
                return t
        async with con.transaction(isolation="repeatable_read", readonly=True) \
                if not con.is_in_transaction() else nullcontext():
            row = await con.fetchrow("SELECT policy_version, settings FROM apps WHERE id = $1",
                                     app.app_id)
            t = self._tenants.get(app.app_id, row[0])
            if t is not None:
                return t
            docs = [r[0] for r in await con.fetch("SELECT doc FROM campaigns WHERE app_id = $1",
                                                  app.app_id)]
            exps = [r[0] for r in await con.fetch(
                "SELECT doc FROM experiments WHERE app_id = $1", app.app_id)]
        return self._tenants.build(app, row[0], row[1], docs, exps)

    async def tenant(self, app: App) -> Tenant:
        """The app's policy, rebuilt when its version moved."""
        return await self._call(lambda con: self._tenant(con, app))

    async def _policy_write(self, app_id: str, op: Callable[[Any], Awaitable[R]]) -> R:
        """``op(connection)`` in a transaction that bumps the app's policy version and logs
        the change; every cached record is dropped after it (it was decided under the old
        policy)."""
        sent = False
        try:
            async with asyncio.timeout(self.timeout), self._policy_lock, \
                    lease(self.pool) as con:
                sent = True
                try:
                    async with con.transaction():
                        result = await op(con)
                        await con.execute("UPDATE apps SET policy_version = policy_version + 1 "
                                          "WHERE id = $1", app_id)
                        await self.feed.publish(con, self._policy_writer, [(app_id, "")])
                finally:
                    self.records.clear()
                return result
        except Exception as exc:
            err = failure(exc, self.timeout)
            if err is exc:
                raise
            raise (unknown_outcome(self.timeout) if sent else err) from None

    async def put_campaign(self, app_id: str, campaign_id: str, doc: bytes) -> bool:
        """Upsert a campaign and bump the policy version in one transaction."""
        async def op(con: Any) -> bool:
            created: bool = await con.fetchval(
                "INSERT INTO campaigns VALUES ($1, $2, $3, $4) ON CONFLICT (app_id, "
                "campaign_id) DO UPDATE SET doc = EXCLUDED.doc, updated_at = "
                "EXCLUDED.updated_at RETURNING xmax = 0", app_id, campaign_id, doc,
                time.time())
            return created

        return await self._policy_write(app_id, op)

    async def put_settings(self, app_id: str, doc: bytes) -> None:
        """Replace the settings and bump the policy version."""
        await self._policy_write(app_id, lambda con: con.execute(
            "UPDATE apps SET settings = $2 WHERE id = $1", app_id, doc))

    async def create_device(self, app_id: str, device_id: str, record: DeviceRecord) -> bool:
        """Insert the device unless it exists (no cache holds a device that did not)."""
        doc = encode(record)
        status: str = await self._call(lambda con: con.execute(
            "INSERT INTO devices (app_id, device_id, user_id, doc, updated_at, state_key) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            app_id, device_id, record.user_id, doc, time.time(), state_key(record)), write=True)
        return status.endswith(" 1")

    async def read_device(self, app: App, device_id: str) -> tuple[Tenant, DeviceRecord] | None:
        """The committed record (no lock), from the record cache when it has it and the
        change feed confirms it is current: shared, so the caller must not change it."""
        key = (app.app_id, device_id)
        records = self.records
        if key in records and await self.feed.fresh():
            rec = records.get(key)
            if rec is not None:
                # Policy changes empty the record cache: the newest tenant is current.
                tenant = self._tenants.latest(app.app_id)
                if tenant is not None:
                    return tenant, rec
        gen = records.gen

        async def op(con: Any) -> tuple[Tenant, DeviceRecord, int] | None:
            row = await con.fetchrow(_DEVICE, app.app_id, device_id)
            if row is None:
                return None
            return await self._tenant(con, app, row[1]), record_decoder.decode(row[0]), row[2]

        read = await self._call(op)
        if read is None:
            return None
        tenant, rec, rev = read
        if self.feed.up:
            records.put(key, rec, gen, rev)
        return tenant, rec

    def counters(self) -> dict[str, int]:
        """Record cache hits and misses, change-feed checks and reads that fell back to the
        rows, group transactions by way, operations run again."""
        out = {"cache_hits": self.records.hits, "cache_misses": self.records.misses,
               "feed_checks": self.feed.checks, "feed_fallbacks": self.feed.fallbacks}
        if self._commits is not None:
            out |= {f"group_commits_{k}": n for k, n in self._commits.groups.items()}
            out["group_ops_redone"] = self._commits.redone
        return out

    def peek_device(self, app: App, device_id: str) -> tuple[Tenant, DeviceRecord] | None:
        """The cached record and newest policy, without the change feed's check (a write
        checks the record's revision and the policy version itself)."""
        entry = self.records.peek((app.app_id, device_id))
        tenant = self._tenants.latest(app.app_id)
        if entry is None or tenant is None or not self.feed.up:
            return None
        return tenant, entry[0]

    async def device_tx(self, app: App, device_id: str, event_ids: Sequence[str],
                        fn: TxFn[T]) -> T:
        """Apply ``fn`` to the locked device in the next group transaction; answer after
        its commit."""
        result: T = await self.commits.run(app, device_id, event_ids, fn)
        return result

    async def app_stats(self, app_id: str) -> AppStats:
        """Devices and stored events by kind."""
        async def op(con: Any) -> AppStats:
            async with con.transaction(isolation="repeatable_read", readonly=True):
                devices = await con.fetchval("SELECT count(*) FROM devices WHERE app_id = $1",
                                             app_id)
                rows = await con.fetch("SELECT kind, count(*) FROM events WHERE app_id = $1 "
                                       "GROUP BY kind ORDER BY kind", app_id)
            return AppStats(devices=devices, events={r[0]: r[1] for r in rows})

        return await self._call(op)

    async def user_devices(self, app_id: str, user_id: str) -> list[tuple[str, DeviceRecord]]:
        """Every device of the user, by id."""
        rows = await self._call(lambda con: con.fetch(
            "SELECT device_id, doc FROM devices WHERE app_id = $1 AND user_id = $2 "
            "ORDER BY device_id", app_id, user_id))
        return [(r[0], record_decoder.decode(r[1])) for r in rows]

    async def add_browser_answers(self, app_id: str, browser_id: str,
                                  rows: Sequence[BrowserAnswer]) -> None:
        """Insert each answer unless stored (its primary key: device and event id)."""
        await self._call(lambda con: con.executemany(
            "INSERT INTO browser_answers VALUES ($1, $2, $3, $4, $5, $6) "
            "ON CONFLICT DO NOTHING", [(app_id, browser_id, *r) for r in rows]))

    async def browser_answers(self, app_id: str, browser_id: str) -> list[tuple[float, str]]:
        """The browser's answers, oldest first."""
        rows = await self._call(lambda con: con.fetch(numbered(BROWSER_ANSWERS), app_id,
                                                      browser_id))
        return [(r[0], r[1]) for r in rows]

    async def campaign_counts(self, app_id: str,
                              campaign_id: str) -> list[tuple[str, str | None, int]]:
        """Event counts credited to the campaign."""
        rows = await self._call(lambda con: con.fetch(
            "SELECT kind, detail, count(*) FROM events WHERE app_id = $1 AND campaign_id = $2 "
            "GROUP BY kind, detail", app_id, campaign_id))
        return [(r[0], r[1], r[2]) for r in rows]

    async def put_experiment(self, app_id: str, experiment_id: str,
                             make: MakeExperiment) -> bool:
        """Check and upsert in the policy write's transaction, the app's row locked (one
        experiment write per app at a time, across processes)."""
        async def op(con: Any) -> bool:
            await con.execute("SELECT 1 FROM apps WHERE id = $1 FOR UPDATE", app_id)
            await con.execute(xagg.MOVE_LOCK, app_id)  # the writes under way count first
            docs = {r[0]: r[1] for r in await con.fetch(numbered(xsql.EXPERIMENT_DOCS),
                                                        app_id)}
            units = await con.fetchval(numbered(xsql.HAS_UNITS), app_id,
                                       experiment_id) is not None
            doc = make(docs, units)
            await con.execute(
                "INSERT INTO experiments VALUES ($1, $2, $3, $4) ON CONFLICT (app_id, "
                "experiment_id) DO UPDATE SET doc = EXCLUDED.doc, updated_at = "
                "EXCLUDED.updated_at", app_id, experiment_id, doc, time.time())
            had = await con.fetchrow(numbered(xagg.HAS_META), app_id, experiment_id)
            clock = await con.fetchval("SELECT clock FROM apps WHERE id = $1", app_id)
            for sql, params in xagg.put(app_id, experiment_id, *aggregate_facts(doc),
                                        None if had is None else tuple(had),
                                        clock == "server"):
                await con.execute(numbered(sql), *params)
            return experiment_id not in docs

        return await self._policy_write(app_id, op)

    async def record_assignment(self, app_id: str, experiment_id: str, device_id: str,
                                unit_id: str, arm: str, platform: str, profile: str,
                                at: float) -> str:
        """Insert the assignment unless the device has one; the unit's arm."""
        async def op(con: Any) -> str:
            async with con.transaction():
                # one unit's assignments one at a time (as its trigger takes them)
                await con.execute(xagg.UNIT_LOCK, app_id, experiment_id, unit_id)
                cell = await con.fetchrow(numbered(xsql.UNIT_CELL), app_id, experiment_id,
                                          unit_id)
                where = tuple(cell[:3]) if cell is not None else (platform, profile,
                                                                  cohort_day(at))
                kept = str(cell[3]) if cell is not None else arm
                await con.execute(numbered(xsql.INSERT_ASSIGNMENT), app_id, experiment_id,
                                  device_id, unit_id, kept, *where, at)
            return kept

        out: str = await self._call(op)
        return out

    async def experiment_cells(self, app_id: str, experiment_id: str, cold: Sequence[str],
                               end: float, per_user: bool, server_clock: bool,
                               scan: bool = False) -> tuple[list[CellRow], list[CellRow]]:
        """Both aggregates in one repeatable-read snapshot: kept by the triggers
        (``experiment_aggregates``), or by the scan if ``scan`` or if it has none."""
        key = (app_id, experiment_id)
        ids = list(cold) or [""]
        events_sql = numbered(xsql.event_cells(len(ids), server_clock))
        states_sql = numbered(xsql.state_cells(per_user))

        async def op(con: Any) -> tuple[list[CellRow], list[CellRow]]:
            async with con.transaction(isolation="repeatable_read", readonly=True):
                # The planner's estimate of the opt-outs' subquery calls for JIT compiling,
                # which costs more (~90 ms) than the whole query at 10,000 units.
                await con.execute("SET LOCAL jit = off")
                if not scan and await con.fetchrow(numbered(xagg.HAS_META), *key) is not None:
                    return ([tuple(r) for r in await con.fetch(numbered(xagg.CELLS), *key)],
                            [tuple(r) for r in await con.fetch(numbered(xagg.STATES), *key)])
                events = await con.fetch(events_sql, *ids, end, app_id, experiment_id)
                states = await con.fetch(states_sql, app_id, experiment_id)
            return [tuple(r) for r in events], [tuple(r) for r in states]

        return await self._call(op)
