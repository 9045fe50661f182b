"""The embedded store: one SQLite file in WAL mode, one connection per worker process.

Calls are synchronous inside the async handlers: a primary-key query takes
microseconds, less than a thread hop would. No ``await`` happens inside a
transaction, so requests of one worker never interleave in it, and ``BEGIN
IMMEDIATE`` serializes writers across workers. ``synchronous=NORMAL`` in WAL
keeps every committed transaction through a process crash (SIGKILL); only a
power loss can drop the last ones.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sim.service import auth
from sim.service.errors import Unavailable, not_found
from sim.service.schemas import AppCreated, AppStats, Clock, DeviceRecord
from sim.service.storage.group_commit import Checkpointer, GroupCommit
from sim.service.storage.migrations import migrate_sqlite
from sim.service.storage.record_cache import RecordCache
from sim.service.storage.store import T, TenantCache, TxFn, encode, record_decoder
from sim.service.tenant import App, Tenant

_DEVICE = ("SELECT d.doc, a.policy_version FROM devices d JOIN apps a ON a.id = d.app_id "
           "WHERE d.app_id = ? AND d.device_id = ?")
_INSERT_EVENT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


def connect(path: str) -> sqlite3.Connection:
    """A connection in autocommit mode with the service's pragmas."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    # Checkpoints run in a background thread (Checkpointer); this is only a backstop.
    conn.execute("PRAGMA wal_autocheckpoint=20000")
    conn.execute("PRAGMA journal_size_limit=67108864")
    # Event inserts land all over the events b-tree: keep its pages in memory
    # (64 MiB of page cache, the file mapped) instead of a pread per page.
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA mmap_size=268435456")
    return conn


def _busy(exc: sqlite3.OperationalError) -> Unavailable:
    return Unavailable("busy", f"the database is busy ({exc}); retry the request")


class SqliteStore:
    """:class:`sim.service.storage.store.Store` on a SQLite file."""

    kind = "sqlite"

    def __init__(self, path: str, cache_size: int = 0) -> None:
        self.path = path
        self.cache_size = cache_size
        self._conn: sqlite3.Connection | None = None
        self._tenants = TenantCache()
        self._records: RecordCache | None = None
        self._commits: GroupCommit | None = None
        self._checkpointer: Checkpointer | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection."""
        assert self._conn is not None, "store not opened"
        return self._conn

    @property
    def records(self) -> RecordCache:
        """The record cache of lock-free reads."""
        assert self._records is not None, "store not opened"
        return self._records

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on error."""
        c = self.conn
        try:
            c.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _busy(exc) from None
        try:
            yield c
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        if self._checkpointer is not None:
            self._checkpointer.poke()

    def _group_done(self, committed: bool) -> None:
        self.records.settle(committed)
        if committed and self._checkpointer is not None:
            self._checkpointer.poke()

    async def open(self) -> None:
        """Open the file and migrate it."""
        self._conn = connect(self.path)
        migrate_sqlite(self._conn)
        self._records = RecordCache(self._conn, self.cache_size)
        self._checkpointer = Checkpointer(self.path)
        self._checkpointer.start()
        self._commits = GroupCommit(self._conn, _busy, self._group_done)

    async def close(self) -> None:
        """Stop the checkpointer and close the connection."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def ping(self) -> None:
        """Raise if the file cannot be read."""
        self.conn.execute("SELECT 1 FROM schema_migrations LIMIT 1").fetchone()

    async def create_app(self, name: str, clock: Clock) -> AppCreated:
        """Insert an app; the key is returned once and only its hash is kept."""
        key, app_id = auth.new_key(), auth.new_app_id()
        self.conn.execute("INSERT INTO apps (id, name, clock, key_hash, created_at) "
                          "VALUES (?, ?, ?, ?, ?)",
                          (app_id, name, clock, auth.key_hash(key), time.time()))
        return AppCreated(app_id=app_id, name=name, clock=clock, api_key=key)

    async def app_by_key(self, key_hash: str) -> App | None:
        """The app of a key hash."""
        row = self.conn.execute("SELECT id, name, clock FROM apps WHERE key_hash = ?",
                                (key_hash,)).fetchone()
        return App(*row) if row else None

    def _tenant(self, app: App, version: int | None = None) -> Tenant:
        c = self.conn
        if version is not None:
            t = self._tenants.get(app.app_id, version)
            if t is not None:
                return t
        # Version first, campaigns second: a write in between leaves the cache
        # older than the rows, never newer, so the next check rebuilds it.
        version, settings = c.execute("SELECT policy_version, settings FROM apps WHERE id = ?",
                                      (app.app_id,)).fetchone()
        t = self._tenants.get(app.app_id, version)
        if t is not None:
            return t
        docs = [r[0] for r in c.execute("SELECT doc FROM campaigns WHERE app_id = ?",
                                        (app.app_id,))]
        return self._tenants.build(app, version, settings, docs)

    async def tenant(self, app: App) -> Tenant:
        """The app's policy, rebuilt when its version moved."""
        return self._tenant(app)

    def _write(self, sql: str, params: tuple[object, ...]) -> int:
        with self._immediate() as c:
            return c.execute(sql, params).rowcount

    async def put_campaign(self, app_id: str, campaign_id: str, doc: bytes) -> bool:
        """Upsert a campaign and bump the app's policy version, in one transaction."""
        self.records.clear()  # cached entries hold the old policy
        with self._immediate() as c:
            cur = c.execute("UPDATE campaigns SET doc = ?, updated_at = ? WHERE app_id = ? "
                            "AND campaign_id = ?", (doc, time.time(), app_id, campaign_id))
            created = cur.rowcount == 0
            if created:
                c.execute("INSERT INTO campaigns VALUES (?, ?, ?, ?)",
                          (app_id, campaign_id, doc, time.time()))
            c.execute("UPDATE apps SET policy_version = policy_version + 1 WHERE id = ?",
                      (app_id,))
        return created

    async def put_settings(self, app_id: str, doc: bytes) -> None:
        """Replace the settings and bump the policy version."""
        self.records.clear()
        self._write("UPDATE apps SET settings = ?, policy_version = policy_version + 1 "
                    "WHERE id = ?", (doc, app_id))

    async def create_device(self, app_id: str, device_id: str, record: DeviceRecord) -> bool:
        """Insert the device unless it exists."""
        return self._write("INSERT OR IGNORE INTO devices VALUES (?, ?, ?, ?, ?)",
                           (app_id, device_id, record.user_id, encode(record),
                            time.time())) == 1

    async def read_device(self, app: App, device_id: str) -> tuple[Tenant, DeviceRecord] | None:
        """The committed record (no lock), from the record cache when it has it: shared,
        so the caller must not change it."""
        key = (app.app_id, device_id)
        rec = self.records.get(key)
        if rec is not None:
            # Policy writes empty the record cache: the cached tenant is current.
            tenant = self._tenants.latest(app.app_id)
            if tenant is not None:
                return tenant, rec
        row = self.conn.execute(_DEVICE, key).fetchone()
        if row is None:
            return None
        rec = record_decoder.decode(row[0])
        self.records.put(key, rec)
        return self._tenant(app, row[1]), rec

    async def device_tx(self, app: App, device_id: str, event_ids: Sequence[str],
                        fn: TxFn[T]) -> T:
        """Read, apply ``fn`` and write inside the next group transaction (``BEGIN
        IMMEDIATE``: the write lock across workers); answer after its commit."""
        assert self._commits is not None, "store not opened"
        return await self._commits.run(
            lambda c: self._device_op(c, app, device_id, event_ids, fn))

    def _device_op(self, c: sqlite3.Connection, app: App, device_id: str,
                   event_ids: Sequence[str], fn: TxFn[T]) -> T:
        row = c.execute(_DEVICE, (app.app_id, device_id)).fetchone()
        if row is None:
            raise not_found("device", device_id, "device_id")
        tenant = self._tenant(app, row[1])
        rec = record_decoder.decode(row[0])
        existing: set[str] = set()
        ids = list(dict.fromkeys(event_ids))
        if ids:
            marks = ",".join("?" * len(ids))
            existing = {r[0] for r in c.execute(
                f"SELECT event_id FROM events WHERE app_id = ? AND device_id = ? "
                f"AND event_id IN ({marks})", (app.app_id, device_id, *ids))}
        result, rows = fn(tenant, rec, existing)
        if rows:
            now = time.time()
            c.execute("UPDATE devices SET doc = ?, updated_at = ? WHERE app_id = ? AND "
                      "device_id = ?", (encode(rec), now, app.app_id, device_id))
            c.executemany(_INSERT_EVENT, [(app.app_id, device_id, eid, kind, at, now, cid, d)
                                          for eid, kind, at, cid, d in rows])
            self.records.stage((app.app_id, device_id), rec)
        return result

    async def app_stats(self, app_id: str) -> AppStats:
        """Devices and stored events by kind."""
        c = self.conn
        devices = c.execute("SELECT count(*) FROM devices WHERE app_id = ?",
                            (app_id,)).fetchone()[0]
        events = dict(c.execute("SELECT kind, count(*) FROM events WHERE app_id = ? "
                                "GROUP BY kind ORDER BY kind", (app_id,)).fetchall())
        return AppStats(devices=devices, events=events)

    async def user_devices(self, app_id: str, user_id: str) -> list[tuple[str, DeviceRecord]]:
        """Every device of the user, by id."""
        return [(r[0], record_decoder.decode(r[1])) for r in self.conn.execute(
            "SELECT device_id, doc FROM devices WHERE app_id = ? AND user_id = ? "
            "ORDER BY device_id", (app_id, user_id))]

    async def campaign_counts(self, app_id: str,
                              campaign_id: str) -> list[tuple[str, str | None, int]]:
        """Event counts credited to the campaign."""
        return self.conn.execute(
            "SELECT kind, detail, count(*) FROM events WHERE app_id = ? AND campaign_id = ? "
            "GROUP BY kind, detail", (app_id, campaign_id)).fetchall()
