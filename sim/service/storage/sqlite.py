"""The embedded store: one SQLite file in WAL mode, one connection per worker process.

Calls are synchronous inside the async handlers: a primary-key query takes
microseconds, less than a thread hop would. No ``await`` happens inside a
transaction, so requests of one worker never interleave in it, and ``BEGIN
IMMEDIATE`` serializes writers across workers. ``synchronous=NORMAL`` in WAL
keeps every committed transaction through a process crash (SIGKILL); only a
power loss can drop the last ones.

The connection never waits for a lock inside SQLite (``busy_timeout`` 0 once
migrated): a busy database is retried from the event loop (``asyncio.sleep``)
until ``timeout``, so a writer waiting for another process's write lock never
stops this worker's reads and health checks. Every failure leaves as
:class:`~sim.service.errors.Unavailable` naming its real cause (busy, disk full,
damaged file, read-only, I/O error), and a damaged file or failing writes make
the store unready (:meth:`SqliteStore.health`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Literal, TypeVar

import msgspec

from sim.service import auth, log
from sim.service.errors import Unavailable, not_found
from sim.service.experiments import CellRow, aggregate_facts, state_key
from sim.service.schemas import AppCreated, AppStats, Clock, DeviceRecord, Health
from sim.service.storage import experiment_aggregates as xagg
from sim.service.storage import experiment_sql as xsql
from sim.service.storage.group_commit import Checkpointer, GroupCommit, is_busy
from sim.service.storage.migrations import migrate_sqlite
from sim.service.storage.record_cache import RecordCache, sqlite_changes
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

_DEVICE = ("SELECT d.doc, a.policy_version FROM devices d JOIN apps a ON a.id = d.app_id "
           "WHERE d.app_id = ? AND d.device_id = ?")
_INSERT_EVENT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
R = TypeVar("R")
_CAUSES: dict[str, tuple[str, str, int]] = {
    "SQLITE_FULL": ("storage_full", "the disk holding the database is full; free space, then "
                    "retry", 30),
    "SQLITE_CORRUPT": ("store_corrupt", "the database file is damaged; restore it from a "
                       "backup or recover it with 'sqlite3 FILE .recover'", 60),
    "SQLITE_NOTADB": ("store_corrupt", "the database file is not a SQLite database", 60),
    "SQLITE_READONLY": ("store_read_only", "the database file cannot be written; the service "
                        "needs to write the file and its folder", 30),
    "SQLITE_IOERR": ("store_io_error", "reading or writing the database file failed", 5),
    "SQLITE_CANTOPEN": ("store_io_error", "the database file cannot be opened", 5),
}
"""SQLite's primary result codes -> (code, detail, Retry-After) of the answer. A detail never
names the file (every tenant reads it): the server log does, with SQLite's own message."""


def connect(path: str) -> sqlite3.Connection:
    """A connection in autocommit mode with the service's pragmas (it waits up to 10 s for
    a lock until :meth:`SqliteStore.open` sets ``busy_timeout`` to 0)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    # Checkpoints run in a background thread (Checkpointer); this is only a backstop.
    conn.execute("PRAGMA wal_autocheckpoint=20000")
    conn.execute("PRAGMA journal_size_limit=67108864")
    # Event inserts land all over the events b-tree: keep its pages in memory
    # (64 MiB of page cache) instead of a pread per page.
    conn.execute("PRAGMA cache_size=-65536")
    # The experiment stats' triggers write two tables per event inside the group
    # transaction: the statement journal that lets the INSERT roll back alone was a temp
    # file, 1 ms a write (storage/experiment_aggregates.py); in memory it is 0.1 ms.
    conn.execute("PRAGMA temp_store=MEMORY")
    # Not memory-mapped: a mapped file truncated (or an -shm unwritable) under a running
    # server kills it with SIGBUS and no log line, where read() fails as an I/O error the
    # service answers (503 store_io_error). Mapping saved about 3 us per row read (0.79x
    # to 0.85x, median of 5 alternating runs, 50,000 rows) on requests that mostly read
    # from the record cache: not worth a silent death (issue 28.4).
    conn.execute("PRAGMA mmap_size=0")
    return conn


PROBE_WAIT = 0.1
"""Seconds a health check waits for its probe write."""
MIN_FREE = 2 << 20
"""Bytes the disk holding the file needs free for the service to be ready: room for the
largest body (1 MiB by default) written as WAL frames."""


def _free_bytes(path: str) -> int | None:
    """Bytes free for this process on the disk holding ``path`` (None if unknown)."""
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def _busy(exc: sqlite3.Error) -> Unavailable:
    return Unavailable("busy", "the database is busy (another process holds its write "
                       "lock); retry the request")


def cause(exc: sqlite3.Error, path: str) -> Unavailable | None:
    """The answer to a SQLite failure that is not a bug: its real cause, or None."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if is_busy(exc):
        return _busy(exc)
    for prefix, (code, detail, retry) in _CAUSES.items():
        if name.startswith(prefix) or (not name and prefix == "SQLITE_CORRUPT"
                                       and "malformed" in str(exc)):
            log.cause(code, path, exc)
            return Unavailable(code, detail, retry)
    return None



class SqliteStore:
    """:class:`sim.service.storage.store.Store` on a SQLite file."""

    kind: Literal["sqlite"] = "sqlite"

    def __init__(self, path: str, cache_size: int = 0, timeout: float = 5.0,
                 integrity_check: bool = True) -> None:
        self.path = path
        self.cache_size = cache_size
        self.timeout = timeout
        self.integrity_check = integrity_check
        self.integrity = "not checked"
        self.problem: Unavailable | None = None
        """Why writes fail (cleared by the next commit), or a damaged file (kept)."""
        self._conn: sqlite3.Connection | None = None
        self._tenants = TenantCache()
        self._records: RecordCache | None = None
        self._commits: GroupCommit | None = None
        self._checkpointer: Checkpointer | None = None
        self._probe: asyncio.Task[None] | None = None
        self._probe_failed: Unavailable | None = None
        """Why the last probe write failed (busy included), until one commits."""
        self._probed = -1.0

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

    def _group_done(self, committed: bool) -> None:
        self.records.settle(committed)
        if committed:
            if self.problem is not None and self.problem.code != "store_corrupt":
                self.problem = None  # writes work again
            if self._checkpointer is not None:
                self._checkpointer.poke()

    def _failed(self, exc: BaseException) -> BaseException:
        """What a failed call raises: its cause as :class:`Unavailable` (remembered for
        :meth:`health` unless it is only busy), or the exception itself (a bug)."""
        if not isinstance(exc, sqlite3.Error):
            return exc
        found = cause(exc, self.path)
        if found is None:
            return exc
        if found.code != "busy" and (self.problem is None or found.code == "store_corrupt"):
            self.problem = found
        return found

    def _decode(self, doc: bytes) -> DeviceRecord:
        """A stored device record; one that does not decode (its pages overwritten: SQLite
        reads them without an error) is the damaged file's 503 ``store_corrupt``, not a
        500."""
        try:
            return record_decoder.decode(doc)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            code, detail, retry = _CAUSES["SQLITE_CORRUPT"]
            log.cause(code, self.path, exc)
            self.problem = Unavailable(code, detail, retry)
            raise self.problem from None

    async def _read(self, fn: Callable[[], R]) -> R:
        """``fn()``, retried from the event loop while the database is busy (until
        ``timeout``); a failure leaves as its cause."""
        try:
            return fn()
        except sqlite3.Error as exc:
            if not is_busy(exc):
                raise self._failed(exc) from None
        deadline, delay = time.monotonic() + self.timeout, 0.001
        while True:
            await asyncio.sleep(delay)
            try:
                return fn()
            except sqlite3.Error as exc:
                if not is_busy(exc) or time.monotonic() >= deadline:
                    raise self._failed(exc) from None
            delay = min(delay * 2, 0.05)

    async def _write(self, op: Callable[[sqlite3.Connection], R]) -> R:
        """``op(conn)`` in the next group transaction; a failure leaves as its cause."""
        assert self._commits is not None, "store not opened"
        try:
            return await self._commits.run(op)
        except sqlite3.Error as exc:
            raise self._failed(exc) from None

    async def open(self) -> None:
        """Open the file, check it (``PRAGMA quick_check``) and migrate it; a file the
        service cannot use raises :class:`Unavailable` naming the file and the problem."""
        try:
            self._conn = connect(self.path)
            if self.integrity_check:
                found = [" ".join(str(r[0]).split())
                         for r in self._conn.execute("PRAGMA quick_check(3)")]
                if found != ["ok"]:
                    raise Unavailable("store_corrupt", f"{self.path} is damaged (quick_check: "
                                      f"{'; '.join(found)}); restore it from a backup or "
                                      f"recover it with 'sqlite3 {self.path} .recover'", 60)
                self.integrity = "ok (quick_check at start)"
            migrate_sqlite(self._conn)
            self._conn.execute("PRAGMA busy_timeout=0")  # waits happen on the event loop
        except sqlite3.Error as exc:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            why = cause(exc, self.path)  # for the operator: name the file
            raise (Unavailable(why.code, f"{self.path}: {why.detail}", why.retry_after) if why
                   else Unavailable("store_unusable", f"{self.path}: {exc}")) from None
        except Unavailable:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            raise
        self._records = RecordCache(self.cache_size, sqlite_changes(self._conn))
        self._checkpointer = Checkpointer(self.path)
        self._checkpointer.start()
        self._commits = GroupCommit(self._conn, _busy, self._group_done, self.timeout)

    async def close(self) -> None:
        """Stop the checkpointer and close the connection."""
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def health(self) -> Health:
        """Ready if the file reads, is not known to be damaged, and a write would succeed
        now: the disk holding it has :data:`MIN_FREE` bytes free, the last write worked,
        and so did the last probe write. A probe (one small commit) starts with a health
        check at most once a second (each one while unready) and is awaited for
        :data:`PROBE_WAIT` seconds: a file
        that cannot be written is unready at the first check; a probe that waits for
        another process's write lock leaves the check ready until it fails at the store
        timeout (as a request's write would), then unready until a probe commits."""
        await self._read(lambda: self.conn.execute(
            "SELECT 1 FROM schema_migrations LIMIT 1").fetchone())
        if self.problem is not None and self.problem.code == "store_corrupt":
            raise self.problem
        free = _free_bytes(self.path)
        if free is not None and free < MIN_FREE:
            log.cause("storage_full", f"{self.path}: {free} bytes free")
            raise Unavailable("storage_full", f"the disk holding the database has {free} "
                              f"bytes free, less than {MIN_FREE}; free space, then retry", 30)
        now = time.monotonic()
        unready = self._probe_failed is not None or self.problem is not None
        if (self._probe is None or self._probe.done()) and (now - self._probed >= 1.0
                                                             or unready):
            self._probed = now
            self._probe = asyncio.get_running_loop().create_task(self._probe_write())
        if self._probe is not None and not self._probe.done():
            await asyncio.wait((self._probe,), timeout=PROBE_WAIT)
        if self._probe_failed is not None:
            raise self._probe_failed
        if self.problem is not None:
            raise self.problem
        return Health(status="ok", store=self.kind, integrity=self.integrity, writes="ok")

    async def _probe_write(self) -> None:
        try:
            await self._write(lambda c: c.execute(
                "INSERT OR REPLACE INTO health_probe VALUES (1, ?)", (time.time(),)))
            self._probe_failed = None
        except Unavailable as exc:
            self._probe_failed = exc

    async def create_app(self, name: str, clock: Clock) -> AppCreated:
        """Insert an app; the key is returned once and only its hash is kept."""
        key, app_id = auth.new_key(), auth.new_app_id()
        await self._write(lambda c: c.execute(
            "INSERT INTO apps (id, name, clock, key_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            (app_id, name, clock, auth.key_hash(key), time.time())))
        return AppCreated(app_id=app_id, name=name, clock=clock, api_key=key)

    async def app_by_key(self, key_hash: str) -> App | None:
        """The app of a key hash."""
        row = await self._read(lambda: self.conn.execute(
            "SELECT id, name, clock FROM apps WHERE key_hash = ?", (key_hash,)).fetchone())
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
        exps = [r[0] for r in c.execute("SELECT doc FROM experiments WHERE app_id = ?",
                                        (app.app_id,))]
        return self._tenants.build(app, version, settings, docs, exps)

    async def tenant(self, app: App) -> Tenant:
        """The app's policy, rebuilt when its version moved."""
        return await self._read(lambda: self._tenant(app))

    async def put_campaign(self, app_id: str, campaign_id: str, doc: bytes) -> bool:
        """Upsert a campaign and bump the app's policy version, in one transaction."""
        def op(c: sqlite3.Connection) -> bool:
            cur = c.execute("UPDATE campaigns SET doc = ?, updated_at = ? WHERE app_id = ? "
                            "AND campaign_id = ?", (doc, time.time(), app_id, campaign_id))
            created = cur.rowcount == 0
            if created:
                c.execute("INSERT INTO campaigns VALUES (?, ?, ?, ?)",
                          (app_id, campaign_id, doc, time.time()))
            c.execute("UPDATE apps SET policy_version = policy_version + 1 WHERE id = ?",
                      (app_id,))
            return created

        self.records.clear()  # cached entries hold the old policy
        return await self._write(op)

    async def put_settings(self, app_id: str, doc: bytes) -> None:
        """Replace the settings and bump the policy version."""
        self.records.clear()
        await self._write(lambda c: c.execute(
            "UPDATE apps SET settings = ?, policy_version = policy_version + 1 WHERE id = ?",
            (doc, app_id)))

    async def create_device(self, app_id: str, device_id: str, record: DeviceRecord) -> bool:
        """Insert the device unless it exists."""
        doc = encode(record)
        inserted: int = await self._write(lambda c: c.execute(
            "INSERT OR IGNORE INTO devices (app_id, device_id, user_id, doc, updated_at, "
            "state_key) VALUES (?, ?, ?, ?, ?, ?)",
            (app_id, device_id, record.user_id, doc, time.time(), state_key(record))).rowcount)
        return inserted == 1

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
        row = await self._read(lambda: self.conn.execute(_DEVICE, key).fetchone())
        if row is None:
            return None
        rec = self._decode(row[0])
        self.records.put(key, rec)
        # The row's policy version names the tenant; read the policy only when it moved.
        tenant = self._tenants.get(app.app_id, row[1])
        if tenant is None:
            tenant = await self._read(lambda: self._tenant(app, row[1]))
        return tenant, rec

    def counters(self) -> dict[str, int]:
        """Record cache hits and misses, group transactions committed."""
        records, commits = self._records, self._commits
        return {"cache_hits": records.hits if records else 0,
                "cache_misses": records.misses if records else 0,
                "group_commits": commits.batches if commits else 0}

    def peek_device(self, app: App, device_id: str) -> tuple[Tenant, DeviceRecord] | None:
        """None: :meth:`read_device` is as cheap here (its check is a local pragma)."""
        return None

    async def device_tx(self, app: App, device_id: str, event_ids: Sequence[str],
                        fn: TxFn[T]) -> T:
        """Read, apply ``fn`` and write inside the next group transaction (``BEGIN
        IMMEDIATE``: the write lock across workers); answer after its commit."""
        return await self._write(lambda c: self._device_op(c, app, device_id, event_ids, fn))

    def _device_op(self, c: sqlite3.Connection, app: App, device_id: str,
                   event_ids: Sequence[str], fn: TxFn[T]) -> T:
        row = c.execute(_DEVICE, (app.app_id, device_id)).fetchone()
        if row is None:
            raise not_found("device", device_id, "device_id")
        tenant = self._tenant(app, row[1])
        rec = self._decode(row[0])
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
            c.execute("UPDATE devices SET doc = ?, updated_at = ?, state_key = ? WHERE "
                      "app_id = ? AND device_id = ?",
                      (encode(rec), now, state_key(rec), app.app_id, device_id))
            c.executemany(_INSERT_EVENT, [(app.app_id, device_id, eid, kind, at, now, cid, d)
                                          for eid, kind, at, cid, d in rows])
            self.records.stage((app.app_id, device_id), rec)
        return result

    async def app_stats(self, app_id: str) -> AppStats:
        """Devices and stored events by kind."""
        def read() -> AppStats:
            c = self.conn
            c.execute("BEGIN")  # one snapshot for both counts
            try:
                devices = c.execute("SELECT count(*) FROM devices WHERE app_id = ?",
                                    (app_id,)).fetchone()[0]
                events = dict(c.execute("SELECT kind, count(*) FROM events WHERE app_id = ? "
                                        "GROUP BY kind ORDER BY kind", (app_id,)).fetchall())
            finally:
                c.execute("COMMIT")
            return AppStats(devices=devices, events=events)

        return await self._read(read)

    async def user_devices(self, app_id: str, user_id: str) -> list[tuple[str, DeviceRecord]]:
        """Every device of the user, by id."""
        rows = await self._read(lambda: self.conn.execute(
            "SELECT device_id, doc FROM devices WHERE app_id = ? AND user_id = ? "
            "ORDER BY device_id", (app_id, user_id)).fetchall())
        return [(r[0], self._decode(r[1])) for r in rows]

    async def add_browser_answers(self, app_id: str, browser_id: str,
                                  rows: Sequence[BrowserAnswer]) -> None:
        """Insert each answer unless stored (its primary key: device and event id)."""
        def op(c: sqlite3.Connection) -> None:
            c.executemany("INSERT INTO browser_answers VALUES (?, ?, ?, ?, ?, ?) "
                          "ON CONFLICT DO NOTHING",
                          [(app_id, browser_id, *r) for r in rows])

        await self._write(op)

    async def browser_answers(self, app_id: str, browser_id: str) -> list[tuple[float, str]]:
        """The browser's answers, oldest first."""
        rows = await self._read(lambda: self.conn.execute(
            BROWSER_ANSWERS, (app_id, browser_id)).fetchall())
        return [(r[0], r[1]) for r in rows]

    async def campaign_counts(self, app_id: str,
                              campaign_id: str) -> list[tuple[str, str | None, int]]:
        """Event counts credited to the campaign."""
        rows: list[tuple[str, str | None, int]] = await self._read(lambda: self.conn.execute(
            "SELECT kind, detail, count(*) FROM events WHERE app_id = ? AND campaign_id = ? "
            "GROUP BY kind, detail", (app_id, campaign_id)).fetchall())
        return rows

    async def put_experiment(self, app_id: str, experiment_id: str,
                             make: MakeExperiment) -> bool:
        """Check and upsert in one write transaction (``BEGIN IMMEDIATE`` serializes them
        across workers); an unchanged document bumps nothing."""
        def op(c: sqlite3.Connection) -> bool:
            docs = dict(c.execute(xsql.EXPERIMENT_DOCS, (app_id,)).fetchall())
            units = c.execute(xsql.HAS_UNITS, (app_id, experiment_id)).fetchone() is not None
            doc = make(docs, units)
            if docs.get(experiment_id) != doc:
                c.execute("INSERT INTO experiments VALUES (?, ?, ?, ?) ON CONFLICT (app_id, "
                          "experiment_id) DO UPDATE SET doc = excluded.doc, updated_at = "
                          "excluded.updated_at", (app_id, experiment_id, doc, time.time()))
                c.execute("UPDATE apps SET policy_version = policy_version + 1 WHERE id = ?",
                          (app_id,))
            had = c.execute(xagg.HAS_META, (app_id, experiment_id)).fetchone()
            clock = c.execute("SELECT clock FROM apps WHERE id = ?", (app_id,)).fetchone()[0]
            for sql, params in xagg.put(app_id, experiment_id, *aggregate_facts(doc), had,
                                        clock == "server"):
                c.execute(sql, params)
            return experiment_id not in docs

        self.records.clear()  # cached entries hold the old policy
        return await self._write(op)

    async def record_assignment(self, app_id: str, experiment_id: str, device_id: str,
                                unit_id: str, arm: str, platform: str, profile: str,
                                at: float) -> str:
        """Insert the assignment unless the device has one; the unit's arm."""
        def op(c: sqlite3.Connection) -> str:
            cell = c.execute(xsql.UNIT_CELL, (app_id, experiment_id, unit_id)).fetchone()
            where = tuple(cell[:3]) if cell is not None else (platform, profile,
                                                              cohort_day(at))
            kept = str(cell[3]) if cell is not None else arm
            c.execute(xsql.INSERT_ASSIGNMENT, (app_id, experiment_id, device_id, unit_id, kept,
                                               *where, at))
            return kept

        out: str = await self._write(op)
        return out

    async def experiment_cells(self, app_id: str, experiment_id: str, cold: Sequence[str],
                               end: float, per_user: bool, server_clock: bool,
                               scan: bool = False) -> tuple[list[CellRow], list[CellRow]]:
        """Both aggregates in one read transaction: kept by the triggers
        (``experiment_aggregates``), or by the scan if ``scan`` or if it has none."""
        ids = list(cold) or [""]
        events_sql = xsql.event_cells(len(ids), server_clock)
        states_sql = xsql.state_cells(per_user)
        key = (app_id, experiment_id)

        def read() -> tuple[list[CellRow], list[CellRow]]:
            c = self.conn
            c.execute("BEGIN")
            try:
                if not scan and c.execute(xagg.HAS_META, key).fetchone() is not None:
                    return (c.execute(xagg.CELLS, key).fetchall(),
                            c.execute(xagg.STATES, key).fetchall())
                events = c.execute(events_sql, (*ids, end, app_id, experiment_id)).fetchall()
                states = c.execute(states_sql, (app_id, experiment_id)).fetchall()
            finally:
                c.execute("COMMIT")
            return events, states

        return await self._read(read)
