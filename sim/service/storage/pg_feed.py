"""The PostgreSQL change feed: keeps each worker's record cache exact across processes
and hosts.

**Writers.** Every transaction that changes a device record or an app's policy also
records the change (:data:`PUBLISH`, inlined in the group commit's write): it counts
itself in its writer's row of ``change_writers`` (``n = n + 1``; the row lock orders a
writer's transactions, and a rollback takes its number back, so each writer's ``n`` runs
1, 2, 3, ... in commit order) and inserts ``(writer, n, keys)`` into ``change_log``:
the devices it wrote, or the app whose policy it changed. A process has one writer id
per connection it commits changes on (:meth:`ChangeFeed.new_writer`), so that its
transactions commit side by side and share WAL flushes.

**Readers.** Before a worker answers from a cached record it awaits
:meth:`ChangeFeed.fresh`: one query, on a connection of its own, sent *after* the request
arrived (the requests of one event-loop pass share it), returns every logged change this
worker has not seen yet. It drops those entries from the cache (a policy change empties
it), and the entry still cached, if any, is used.

**Exact**: a request sent after any worker acknowledged a write sees that write. The
write was committed before the request was sent, so the check's snapshot contains it
and its log row, and the check drops the stale entry before the request looks. A record
read from the rows is put only if nothing was dropped since the read began
(:attr:`RecordCache.gen`), so a slow read cannot put back what a check dropped. This
worker's own writes are not dropped: the group commit puts what it committed.

**Why not LISTEN/NOTIFY.** A transaction that sends ``NOTIFY`` holds a lock shared by the
whole cluster from before its commit record until the commit ends, its WAL flush
included: every writing transaction of every process and host would commit one after
the other, one flush each (PostgreSQL's own group commit lost). A pushed notification
also arrives at some later time, so a per-request check would be needed anyway. The log
costs one small insert per group transaction and brings the changes with the check.

**Down.** When the check's connection fails, or a check gets no answer within half the
store timeout, the feed is *down*: the cache is emptied, nothing is put or used, reads go
to the rows (the fallback), and a task reconnects. Back up, it reads every writer's ``n``
as seen, then empties the cache again (any change committed before is in that snapshot,
and so in the rows any later read gets). Log rows older than :data:`KEEP_SECONDS` are
deleted; a worker that has not checked for that long finds a gap in a writer's numbers
and empties its cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import asyncpg

from sim.service.storage.record_cache import Key, RecordCache

KEEP_SECONDS = 300.0
"""How long log rows are kept: far longer than any gap between checks of a busy worker; an
idle one empties its cache instead."""
PRUNE_EVERY = 30.0
"""Seconds between two deletions of old log rows (by each process)."""
STALE_WRITER_DAYS = 7
"""Counters of writers that logged nothing for this long are deleted (ended processes)."""
PUBLISH = """
w AS (
  INSERT INTO change_writers (writer, since, n, at) SELECT {writer}::text, {at}::float8, 1,
    {at}::float8 WHERE {when}
  ON CONFLICT (writer) DO UPDATE SET n = change_writers.n + 1, at = EXCLUDED.at
  RETURNING n
), l AS (
  INSERT INTO change_log (writer, n, at, keys)
  SELECT {writer}::text, w.n, {at}::float8, {keys} FROM w RETURNING n
)"""
"""Common-table expressions that log a change (``{...}`` are SQL expressions); the
statement ends ``SELECT n FROM l``."""
CHECK = """
SELECT w.writer, w.since, w.n, l.n, l.keys FROM change_writers w
LEFT JOIN unnest($1::text[], $2::float8[], $3::bigint[]) AS r(writer, since, n)
  ON r.writer = w.writer AND r.since = w.since
LEFT JOIN change_log l ON l.writer = w.writer AND l.n > COALESCE(r.n, 0)
WHERE w.n > COALESCE(r.n, 0)
ORDER BY w.writer, l.n"""
"""The changes of every writer past what this worker has seen (a writer's row deleted and
created again has a new ``since``: its numbers start again at 1)."""
DOWN = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError,
        TimeoutError)


def new_writer_id() -> str:
    """A writer id no process used before."""
    return uuid.uuid4().hex[:20]


def publish_sql(writer: str, at: str, keys: str, when: str = "TRUE") -> str:
    """:data:`PUBLISH` with its SQL expressions; nothing is logged unless ``when``."""
    return PUBLISH.format(writer=writer, at=at, keys=keys, when=when)


def change_lines(keys: list[Key]) -> str:
    """The ``keys`` of a change log row: ``APP DEVICE`` per line (``APP`` alone: a policy)."""
    return "\n".join(f"{a} {d}" if d else a for a, d in keys)


class ChangeFeed:
    """One worker's view of the change log: its check connection and what it has seen."""

    def __init__(self, dsn: str, cache: RecordCache, timeout: float,
                 connect_timeout: float) -> None:
        self.dsn = dsn
        self.cache = cache
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.own: set[str] = set()
        """This process's writer ids (one per group-commit lane, one for policy writes)."""
        self.pool: Any = None
        self.seen: dict[str, tuple[float, int]] = {}
        """Per writer, its row's ``since`` and the last ``n`` whose change this worker's cache
        has taken in."""
        self._con: Any = None
        self._next: asyncio.Future[bool] | None = None
        self._checker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._reconnecting = False
        self._closed = False
        self.checks = 0
        self.fallbacks = 0
        """Reads that could not use the cache because the feed was down."""

    @property
    def up(self) -> bool:
        """Whether the cache may be used and filled."""
        return self._con is not None

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend serving the check connection (None while down)."""
        return None if self._con is None else int(self._con.get_server_pid())

    # --- lifecycle -----------------------------------------------------------------------

    async def open(self, pool: Any) -> None:
        """Connect the check connection; start deleting old log rows through ``pool``."""
        self.pool = pool
        await self._connect()
        self._spawn(self._prune())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self) -> None:
        con = await asyncpg.connect(self.dsn, timeout=self.connect_timeout)
        try:
            async with asyncio.timeout(self.timeout):
                rows = await con.fetch("SELECT writer, since, n FROM change_writers")
        except BaseException:
            con.terminate()
            raise
        for writer, since, n in rows:  # changes up to here are in any later read's rows
            self.seen[writer] = (since, n)
        con.add_termination_listener(lambda _: self._lost())
        self.cache.clear()
        self._con = con

    def _lost(self) -> None:
        """The check connection failed: stop using the cache and reconnect."""
        con, self._con = self._con, None
        self.cache.clear()
        if con is not None:
            con.terminate()
        if not self._closed and not self._reconnecting:
            self._reconnecting = True
            self._spawn(self._reconnect())

    async def _reconnect(self) -> None:
        delay = 0.1
        try:
            while not self._closed and self._con is None:
                with contextlib.suppress(*DOWN):
                    await self._connect()
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        finally:
            self._reconnecting = False

    async def _prune(self) -> None:
        while not self._closed:
            await asyncio.sleep(PRUNE_EVERY)
            now = time.time()
            with contextlib.suppress(*DOWN):
                async with asyncio.timeout(self.timeout), self.pool.acquire() as con:
                    await con.execute("DELETE FROM change_log WHERE at < $1", now - KEEP_SECONDS)
                    await con.execute("DELETE FROM change_writers WHERE at < $1",
                                      now - STALE_WRITER_DAYS * 86400)

    async def close(self) -> None:
        """Stop checking and pruning."""
        self._closed = True
        for task in [*self._tasks, self._checker]:
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        con, self._con = self._con, None
        if con is not None:
            with contextlib.suppress(*DOWN):
                await asyncio.wait_for(con.close(), self.connect_timeout)
            con.terminate()

    # --- readers -------------------------------------------------------------------------

    async def fresh(self) -> bool:
        """Wait for a check sent after this call; True if the cache then holds no entry
        older than a change committed before the call (use it), False if the feed is down
        (read the row)."""
        if self._con is None:
            self.fallbacks += 1
            return False
        fut = self._next
        if fut is None:
            fut = self._next = asyncio.get_running_loop().create_future()
            if self._checker is None or self._checker.done():
                self._checker = asyncio.get_running_loop().create_task(self._checks())
        ok = await fut
        if not ok:
            self.fallbacks += 1
        return ok

    async def _checks(self) -> None:
        """Run checks while requests wait for one; each serves those that asked before it
        was sent."""
        while (fut := self._next) is not None:
            self._next = None
            try:
                ok = await self._check()
            except BaseException:
                fut.set_result(False)
                raise
            fut.set_result(ok)

    async def _check(self) -> bool:
        con = self._con
        if con is None:
            return False
        self.checks += 1
        seen = self.seen
        try:
            async with asyncio.timeout(self.timeout / 2):
                rows = await con.fetch(CHECK, list(seen), [v[0] for v in seen.values()],
                                       [v[1] for v in seen.values()])
        except DOWN:
            self._lost()
            return False
        self.take(rows)
        return self._con is not None

    def take(self, rows: list[Any]) -> None:
        """Take in ``(writer, since, writer's n, n, keys)`` rows of the check (in ``n`` order
        per writer): drop the entries others changed; a gap in a writer's numbers (log rows
        already deleted) empties the cache."""
        seen, cache = self.seen, self.cache
        drop: list[Key] = []
        for writer, since, last, n, keys in rows:
            had_since, had = seen.get(writer, (since, 0))
            expected = (had if had_since == since else 0) + 1
            seen[writer] = (since, last)
            if n != expected:  # deleted from the log (or none left): not known one by one
                cache.clear()
                drop.clear()
                continue
            seen[writer] = (since, n)
            if writer in self.own or not keys:
                continue  # own changes: the cache holds what they committed
            for line in keys.split("\n"):
                app_id, _, device_id = line.partition(" ")
                if not device_id:  # a policy: every entry was decided under the old one
                    cache.clear()
                    drop.clear()
                    break
                drop.append((app_id, device_id))
        if drop:
            cache.drop(drop)

    # --- writers -------------------------------------------------------------------------

    def new_writer(self) -> str:
        """A new writer id of this process: its changes, committed in order, are counted
        under it (a process commits on several connections at once, one id each)."""
        writer = new_writer_id()
        self.own.add(writer)
        return writer

    async def publish(self, con: Any, writer: str, keys: list[Key]) -> None:
        """Log ``keys`` under ``writer`` from inside ``con``'s transaction."""
        await con.execute("WITH" + publish_sql("$1", "$2", "$3::text") + " SELECT n FROM l",
                          writer, time.time(), change_lines(keys))
