"""The PostgreSQL store, through an asyncpg pool (one pool per worker process).

A device write runs in one transaction that starts with ``SELECT ... FOR
UPDATE`` on the device row, so concurrent requests for one device queue up
there and each sees the state the previous one committed. Tables live in the
connection's ``search_path`` (tests pass ``?search_path=SCHEMA`` in the URL).

Every call has a deadline of ``timeout`` seconds, waiting for a pool connection
included: a database that is reachable but does not answer gives
:class:`~sim.service.errors.Unavailable` (503 with ``Retry-After``), never a request
that hangs. Connecting has its own ``connect_timeout``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, nullcontext
from typing import Any, Literal, TypeVar

import asyncpg

from sim.service import auth
from sim.service.errors import Unavailable, not_found
from sim.service.schemas import AppCreated, AppStats, Clock, DeviceRecord, Health
from sim.service.storage.migrations import migrate_postgres
from sim.service.storage.store import T, TenantCache, TxFn, encode, record_decoder
from sim.service.tenant import App, Tenant

_DEVICE = ("SELECT d.doc, a.policy_version FROM devices d JOIN apps a ON a.id = d.app_id "
           "WHERE d.app_id = $1 AND d.device_id = $2")
R = TypeVar("R")
_DOWN = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
         asyncpg.TooManyConnectionsError, asyncpg.CannotConnectNowError, OSError)


def _safe_dsn(dsn: str) -> str:
    """The URL without a password."""
    head, at, tail = dsn.rpartition("@")
    if not at:
        return dsn
    scheme, _, cred = head.partition("://")
    return f"{scheme}://{cred.partition(':')[0]}@{tail}"


class PostgresStore:
    """:class:`sim.service.storage.store.Store` on PostgreSQL."""

    kind: Literal["postgres"] = "postgres"

    def __init__(self, dsn: str, pool_size: int = 8, timeout: float = 5.0,
                 connect_timeout: float = 5.0) -> None:
        self.dsn = dsn
        self.pool_size = pool_size
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._pool: Any = None
        self._tenants = TenantCache()

    @property
    def pool(self) -> Any:
        """The open asyncpg pool."""
        assert self._pool is not None, "store not opened"
        return self._pool

    async def open(self) -> None:
        """Create the pool and migrate; a database the service cannot use raises
        :class:`Unavailable` naming it and the problem."""
        where = _safe_dsn(self.dsn)
        try:
            async with asyncio.timeout(self.connect_timeout + 30):  # migrations take a while
                self._pool = await asyncpg.create_pool(
                    self.dsn, min_size=1, max_size=self.pool_size, timeout=self.connect_timeout,
                    command_timeout=self.timeout)
                async with self._pool.acquire(timeout=self.connect_timeout) as con:
                    await migrate_postgres(con)
        except TimeoutError:
            raise Unavailable("store_unusable", f"{where}: no answer within "
                              f"{self.connect_timeout:g} s") from None
        except (asyncpg.PostgresError, *_DOWN) as exc:
            raise Unavailable("store_unusable", f"{where}: {exc}") from None

    @asynccontextmanager
    async def _con(self) -> AsyncIterator[Any]:
        """A pool connection, waited for at most ``timeout``."""
        async with self.pool.acquire(timeout=self.timeout) as con:
            yield con

    async def _call(self, fn: Callable[[Any], Awaitable[R]]) -> R:
        """``fn(connection)`` within ``timeout`` seconds (the wait for a connection
        included); a database that does not answer or is down is :class:`Unavailable`."""
        try:
            async with asyncio.timeout(self.timeout):
                async with self._con() as con:
                    return await fn(con)
        except TimeoutError:
            raise Unavailable("timeout", f"PostgreSQL did not answer within "
                              f"{self.timeout:g} s; retry later") from None
        except _DOWN as exc:
            raise Unavailable("unavailable", f"PostgreSQL is unavailable ({exc}); retry "
                              "later") from None

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def health(self) -> Health:
        """Ready if the server answers a query within ``timeout``."""
        await self._call(lambda con: con.fetchval("SELECT 1"))
        return Health(status="ok", store=self.kind, integrity="server", writes="ok")

    async def create_app(self, name: str, clock: Clock) -> AppCreated:
        """Insert an app; only the key's hash is kept."""
        key, app_id = auth.new_key(), auth.new_app_id()
        await self._call(lambda con: con.execute(
            "INSERT INTO apps (id, name, clock, key_hash, created_at) VALUES ($1, $2, $3, $4, "
            "$5)", app_id, name, clock, auth.key_hash(key), time.time()))
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
        return self._tenants.build(app, row[0], row[1], docs)

    async def tenant(self, app: App) -> Tenant:
        """The app's policy, rebuilt when its version moved."""
        return await self._call(lambda con: self._tenant(con, app))

    async def put_campaign(self, app_id: str, campaign_id: str, doc: bytes) -> bool:
        """Upsert a campaign and bump the policy version in one transaction."""
        async def op(con: Any) -> bool:
            async with con.transaction():
                created: bool = await con.fetchval(
                    "INSERT INTO campaigns VALUES ($1, $2, $3, $4) ON CONFLICT (app_id, "
                    "campaign_id) DO UPDATE SET doc = EXCLUDED.doc, updated_at = "
                    "EXCLUDED.updated_at RETURNING xmax = 0", app_id, campaign_id, doc,
                    time.time())
                await con.execute("UPDATE apps SET policy_version = policy_version + 1 "
                                  "WHERE id = $1", app_id)
            return created

        return await self._call(op)

    async def put_settings(self, app_id: str, doc: bytes) -> None:
        """Replace the settings and bump the policy version."""
        await self._call(lambda con: con.execute(
            "UPDATE apps SET settings = $2, policy_version = policy_version + 1 WHERE id = $1",
            app_id, doc))

    async def create_device(self, app_id: str, device_id: str, record: DeviceRecord) -> bool:
        """Insert the device unless it exists."""
        doc = encode(record)
        status: str = await self._call(lambda con: con.execute(
            "INSERT INTO devices VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            app_id, device_id, record.user_id, doc, time.time()))
        return status.endswith(" 1")

    async def read_device(self, app: App, device_id: str) -> tuple[Tenant, DeviceRecord] | None:
        """The committed record (no lock)."""
        async def op(con: Any) -> tuple[Tenant, DeviceRecord] | None:
            row = await con.fetchrow(_DEVICE, app.app_id, device_id)
            if row is None:
                return None
            return await self._tenant(con, app, row[1]), record_decoder.decode(row[0])

        return await self._call(op)

    async def device_tx(self, app: App, device_id: str, event_ids: Sequence[str],
                        fn: TxFn[T]) -> T:
        """Lock the row (``FOR UPDATE``), apply ``fn``, write, commit."""
        async def op(con: Any) -> T:
            async with con.transaction():
                row = await con.fetchrow(_DEVICE + " FOR UPDATE OF d", app.app_id, device_id)
                if row is None:
                    raise not_found("device", device_id, "device_id")
                tenant = await self._tenant(con, app, row[1])
                rec = record_decoder.decode(row[0])
                existing: set[str] = set()
                if event_ids:
                    existing = {r[0] for r in await con.fetch(
                        "SELECT event_id FROM events WHERE app_id = $1 AND device_id = $2 "
                        "AND event_id = ANY($3::text[])", app.app_id, device_id,
                        list(event_ids))}
                result, rows = fn(tenant, rec, existing)
                if rows:
                    now = time.time()
                    await con.execute("UPDATE devices SET doc = $3, updated_at = $4 WHERE "
                                      "app_id = $1 AND device_id = $2",
                                      app.app_id, device_id, encode(rec), now)
                    await con.executemany(
                        "INSERT INTO events VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        [(app.app_id, device_id, eid, kind, at, now, cid, d)
                         for eid, kind, at, cid, d in rows])
            return result

        return await self._call(op)

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

    async def campaign_counts(self, app_id: str,
                              campaign_id: str) -> list[tuple[str, str | None, int]]:
        """Event counts credited to the campaign."""
        rows = await self._call(lambda con: con.fetch(
            "SELECT kind, detail, count(*) FROM events WHERE app_id = $1 AND campaign_id = $2 "
            "GROUP BY kind, detail", app_id, campaign_id))
        return [(r[0], r[1], r[2]) for r in rows]
