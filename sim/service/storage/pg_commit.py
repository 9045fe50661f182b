"""Group commit for the PostgreSQL store: the device writes that queue up while one group
runs go together in the next, in a fixed number of round trips whatever its size.

A group is written by **one statement**, a transaction of its own: from copies of the
records it starts from, the operations' functions compute the new records, and the
statement writes each changed record *only where its revision* (``devices.rev``) *and
the app's policy version are still those the functions saw*, confirms the same for the
records left unchanged, inserts the event rows of the records it wrote (an event is only
ever stored with a new revision of its device) and logs the change
(:mod:`sim.service.storage.pg_feed`): one round trip, one WAL flush. The operations whose
record or policy had moved run again. The records come from, in turn:

1. **cached**: the records and policy this worker holds (no read at all);
2. **fresh**: the rows read just before, without a lock (two round trips; twice);
3. **locked**: a transaction that reads them ``FOR UPDATE``, in key order (two groups
   never wait for each other in a cycle), then the same write and ``COMMIT`` (five round
   trips), which cannot be refused: progress however busy a device is.

A new event id that turns out to be stored already is refused by the primary key (the
statement writes nothing); the group runs again from fresh rows, looking its ids up
first, and so do the next :data:`CAREFUL_GROUPS` groups. Either way the functions run
in queue order, each on the record as the previous one left it; one that raises leaves
no trace and fails alone; callers are answered after the commit. Up to ``lanes`` groups
run at once, each under a writer id of its own, so that their commits share WAL
flushes. Every wait is bounded: an operation still queued at its deadline fails with 503
``timeout`` and is never run; a group past the store timeout fails its operations the
same way (its outcome may be unknown: its records leave the cache).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec

from sim.service import log
from sim.service.errors import Unavailable, not_found
from sim.service.experiments import state_key
from sim.service.schemas import DeviceRecord
from sim.service.storage.pg_feed import ChangeFeed, publish_sql
from sim.service.storage.record_cache import Key, RecordCache
from sim.service.storage.store import TxFn, encode, record_decoder
from sim.service.tenant import App, Tenant

READ = ("SELECT d.app_id, d.device_id, d.doc, d.rev, a.policy_version FROM devices d "
        "JOIN apps a ON a.id = d.app_id "
        "WHERE (d.app_id, d.device_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))")
LOCK = READ + " ORDER BY d.app_id, d.device_id FOR UPDATE OF d"
# Event rows travel as one JSON array of arrays: asyncpg encodes a text[] element by
# element (with an abstract-class check each), JSON in one C call (msgspec).
EXISTING = ("SELECT e.app_id, e.device_id, e.event_id FROM events e "
            "JOIN jsonb_array_elements($1::text::jsonb) AS q ON e.app_id = q->>0 "
            "AND e.device_id = q->>1 AND e.event_id = q->>2")
WRITE = """
WITH d AS (
  UPDATE devices SET doc = u.doc, rev = u.rev + 1, updated_at = $6, state_key = u.sk
  FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bigint[], $5::bigint[], $13::text[])
       AS u(app_id, device_id, doc, rev, pv, sk)
  JOIN apps a ON a.id = u.app_id
  WHERE devices.app_id = u.app_id AND devices.device_id = u.device_id
    AND devices.rev = u.rev AND a.policy_version = u.pv
  RETURNING devices.app_id, devices.device_id
), c AS (
  SELECT k.app_id, k.device_id
  FROM unnest($9::text[], $10::text[], $11::bigint[], $12::bigint[])
       AS k(app_id, device_id, rev, pv)
  JOIN devices dv ON dv.app_id = k.app_id AND dv.device_id = k.device_id AND dv.rev = k.rev
  JOIN apps a ON a.id = k.app_id AND a.policy_version = k.pv
), e AS (
  INSERT INTO events (app_id, device_id, event_id, kind, at, received_at, campaign_id, detail)
  SELECT v->>0, v->>1, v->>2, v->>3, (v->>4)::float8, $6, v->>5, v->>6
  FROM jsonb_array_elements($7::text::jsonb) AS v
  WHERE EXISTS (SELECT 1 FROM d WHERE d.app_id = v->>0 AND d.device_id = v->>1)
), k AS (
  SELECT string_agg(d.app_id || ' ' || d.device_id, E'\\n') AS keys FROM d
),""" + publish_sql("$8", "$6", "(SELECT keys FROM k)", "EXISTS (SELECT 1 FROM d)") + """
SELECT (SELECT n FROM l),
       ARRAY(SELECT app_id || ' ' || device_id FROM d UNION ALL
             SELECT app_id || ' ' || device_id FROM c)"""
"""Writes the records (``rev`` and policy version checked), confirms the unchanged ones
(``c``), inserts the events of the written ones, logs the change; returns ``n`` and the
keys written or confirmed."""
LOST = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.InternalClientError,
        asyncpg.AdminShutdownError, OSError)
"""A connection that is gone or unusable: terminated by the server (a restart, a failover,
``pg_terminate_backend``), or left by asyncpg in a state it cannot leave
(``InternalClientError: cannot switch to state``, MagicStack/asyncpg#1069)."""
DOWN = (*LOST, asyncpg.TooManyConnectionsError, asyncpg.CannotConnectNowError)
RETRY = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
TenantOf = Callable[[Any, App, int], Awaitable[Tenant]]
CAREFUL_GROUPS = 100
"""After a group met an event id already stored, this many groups look the ids up first."""
_json = msgspec.json.Encoder()


def json_text(value: Any) -> str:
    """``value`` as JSON text (a ``$n::text::jsonb`` parameter)."""
    return _json.encode(value).decode()


@asynccontextmanager
async def lease(pool: Any) -> AsyncIterator[Any]:
    """A pool connection; one that was lost, or whose call was cancelled (a deadline), is
    terminated, never handed to another call (asyncpg would reuse it half-way through an
    operation, or wait for the server to confirm the cancellation). A lost one also
    expires the pool's others: a restart or a failover ended them too."""
    async with pool.acquire() as con:
        try:
            yield con
        except (*LOST, asyncio.CancelledError) as exc:
            with contextlib.suppress(asyncpg.InterfaceError):  # the pool let it go already
                con.terminate()
            if not isinstance(exc, asyncio.CancelledError):
                await pool.expire_connections()
            raise


def unknown_outcome(timeout: float) -> Unavailable:
    """A write that was sent and not confirmed: it may or may not have committed."""
    return Unavailable("outcome_unknown", f"PostgreSQL did not confirm the write (the "
                       f"connection was lost, or no answer within {timeout:g} s); it may or "
                       "may not be applied; send the same request again")


def failure(exc: BaseException, timeout: float) -> BaseException:
    """What a failed PostgreSQL call raises: :class:`Unavailable` when the database did
    not answer or is down, else the exception itself (a bug)."""
    if isinstance(exc, TimeoutError):
        return Unavailable("timeout", f"PostgreSQL did not answer within {timeout:g} s; "
                           "retry later")
    if isinstance(exc, DOWN):
        log.cause("unavailable", "PostgreSQL failed", exc)
        return Unavailable("unavailable", "PostgreSQL is unavailable; retry later")
    return exc


@dataclass(slots=True)
class _Op:
    app: App
    device_id: str
    event_ids: Sequence[str]
    fn: TxFn[Any]
    fut: asyncio.Future[Any]
    deadline: float
    result: Any = None
    error: BaseException | None = None
    sent: bool = False
    """Its write is in a statement sent and not answered: if that fails, the outcome is
    unknown."""
    unsure: bool = False
    """Its function refused the batch while the stored event ids were not looked up: the
    refusal may come from its own events applied before (a resend), so it runs again
    with the lookup before it is answered."""

    @property
    def key(self) -> Key:
        return self.app.app_id, self.device_id


@dataclass(slots=True)
class _Start:
    """A record as an operation group found it: document, revision, tenant."""
    doc: bytes | None
    rec: DeviceRecord | None
    rev: int
    tenant: Tenant


@dataclass(slots=True)
class _Outcome:
    """What a group's write statement did."""
    done: set[Key] = field(default_factory=set)
    """Keys written or confirmed: their operations' answers stand."""
    wrote: dict[Key, tuple[DeviceRecord, int]] = field(default_factory=dict)
    read: dict[Key, tuple[DeviceRecord, int]] = field(default_factory=dict)
    """Records read under the lock and left unchanged: the latest, for the cache."""


def _unsent(ops: list[_Op]) -> list[_Op]:
    """``ops``, marked as known not written (their statement failed or left them out)."""
    for op in ops:
        op.sent = False
    return ops


class PgGroupCommit:
    """Device write transactions of one worker, run in groups on up to ``lanes``
    connections at once."""

    def __init__(self, pool: Any, feed: ChangeFeed, cache: RecordCache, tenant_of: TenantOf,
                 latest: Callable[[str], Tenant | None], timeout: float,
                 lanes: int = 1) -> None:
        self.pool = pool
        self.feed = feed
        self.cache = cache
        self.tenant_of = tenant_of
        self.latest = latest
        """The newest policy this worker knows of an app (checked by the write)."""
        self.timeout = timeout
        self._free = [feed.new_writer() for _ in range(lanes)]
        """The writer ids of the lanes not running a group now."""
        self._queue: list[_Op] = []
        self._scheduled = False
        self._running: set[asyncio.Task[None]] = set()
        self._careful = 0
        """Groups still to run with the query for stored event ids (after a duplicate)."""
        self.groups = {"cached": 0, "fresh": 0, "locked": 0}
        """Groups committed by each way (for tests and the benchmark)."""
        self.redone = 0
        """Operations run again: a record changed under the cache, a duplicate event id,
        a deadlock or a serialization failure."""

    async def run(self, app: App, device_id: str, event_ids: Sequence[str], fn: TxFn[Any]
                  ) -> Any:
        """Run ``fn`` on the locked device in the next group; its result once committed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        deadline = loop.time() + self.timeout
        op = _Op(app, device_id, event_ids, fn, fut, deadline)
        self._queue.append(op)
        if not self._scheduled:  # after the requests already ready in this loop pass
            self._scheduled = True
            loop.call_soon(self._dispatch)
        try:
            async with asyncio.timeout_at(deadline):
                return await fut
        except TimeoutError:  # never written (dropped from its group), or written unconfirmed
            raise (unknown_outcome(self.timeout) if op.sent
                   else failure(TimeoutError(), self.timeout)) from None

    def _dispatch(self) -> None:
        """Start a group with everything queued, on each free lane while there is any."""
        self._scheduled = False
        while self._queue and self._free:
            batch, self._queue = self._queue, []
            ops = [op for op in batch if not op.fut.done()]  # not timed out while queued
            if ops:
                task = asyncio.get_running_loop().create_task(self._lane(self._free.pop(), ops))
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    async def _lane(self, writer: str, ops: list[_Op]) -> None:
        try:
            left = ops
            for fresh in (False, True, True):  # from the cache, then from rows just read
                if left and (fresh or not self._careful):
                    left = await self._optimistic(writer, left, fresh)
            if left:
                await self._locked(writer, left)
            self._careful = max(0, self._careful - 1)
        except Exception as exc:
            err = failure(exc, self.timeout)
            self.cache.drop([op.key for op in ops])  # maybe committed: cached no more
            for op in ops:
                if not op.fut.done():
                    op.fut.set_exception(unknown_outcome(self.timeout)
                                         if op.sent and err is not exc else err)
        finally:
            self._free.append(writer)
            self._dispatch()

    async def close(self) -> None:
        """Wait for the groups running now."""
        if self._running:
            await asyncio.wait(self._running)

    @staticmethod
    def _answer(ops: list[_Op], done: set[Key]) -> list[_Op]:
        """Answer the operations whose record the write confirmed; return the others."""
        left = []
        for op in ops:
            if op.key not in done or op.unsure:
                left.append(op)
            elif op.fut.done():
                continue
            elif op.error is not None:
                op.fut.set_exception(op.error)
            else:
                op.fut.set_result(op.result)
        return left

    def _held(self, ops: list[_Op]) -> dict[Key, _Start]:
        """The records (and policies) of the operations this worker holds."""
        starts: dict[Key, _Start] = {}
        for key in {op.key for op in ops}:
            entry, tenant = self.cache.peek(key), self.latest(key[0])
            if entry is not None and tenant is not None:
                starts[key] = _Start(None, entry[0], entry[1], tenant)
        return starts

    async def _read(self, con: Any, ops: list[_Op], lock: bool) -> dict[Key, _Start]:
        """The operations' records as committed now (locked, in key order, if ``lock``),
        and the stored event ids among theirs when a duplicate was met lately."""
        keys = sorted({op.key for op in ops})
        apps = {op.key: op.app for op in ops}
        starts: dict[Key, _Start] = {}
        for a, d, doc, rev, version in await con.fetch(LOCK if lock else READ,
                                                       [k[0] for k in keys],
                                                       [k[1] for k in keys]):
            tenant = await self.tenant_of(con, apps[(a, d)], version)
            starts[(a, d)] = _Start(doc, None, rev, tenant)
        for op in ops:
            if op.key not in starts:
                op.error = not_found("device", op.device_id, "device_id")
        return starts

    async def _existing(self, con: Any, ops: list[_Op], force: bool = False
                        ) -> dict[Key, set[str]] | None:
        """Which of the operations' event ids are stored (after the records were read: an
        event is only ever stored with a new revision of its device, so a write that
        confirms the revision confirms this too); None when not looked up (no duplicate
        met lately, and not ``force``)."""
        if not (self._careful or force):
            return None
        existing: dict[Key, set[str]] = {}
        wanted = {(*op.key, e) for op in ops for e in op.event_ids}
        if wanted:
            for a, d, e in await con.fetch(EXISTING, json_text(list(wanted))):
                existing.setdefault((a, d), set()).add(e)
        return existing

    async def _optimistic(self, writer: str, ops: list[_Op], fresh: bool) -> list[_Op]:
        """One write statement from the records this worker holds, or (``fresh``) from the
        rows read just before; return the operations to run again."""
        gen = self.cache.gen
        try:
            async with asyncio.timeout(self.timeout), lease(self.pool) as con:
                starts = await self._read(con, ops, lock=False) if fresh else self._held(ops)
                mine = [op for op in ops if op.key in starts]
                if not mine:
                    out = _Outcome()
                else:
                    existing = await self._existing(con, mine) if fresh else None
                    out = await self._apply(con, writer, mine, starts, existing, cached=True)
        except asyncpg.UniqueViolationError:  # a stored event id: nothing was written
            self._careful = CAREFUL_GROUPS
            self.redone += len(ops)
            return _unsent(ops)
        except RETRY:  # a deadlock with another group: nothing was written
            self.redone += len(ops)
            return _unsent(ops)
        if mine:
            self._committed(out, gen, "fresh" if fresh else "cached")
        if any(op.unsure for op in ops):  # look the ids up in the next runs
            self._careful = max(self._careful, CAREFUL_GROUPS)
        if fresh:  # unknown devices: answered (404)
            out.done |= {op.key for op in ops if op.key not in starts}
        left = _unsent(self._answer(ops, out.done))  # their records had moved: not written
        self.redone += len([op for op in left if op.key in starts])
        return left

    async def _locked(self, writer: str, ops: list[_Op]) -> None:
        """One transaction that locks the rows first (when writes from read records kept
        meeting newer ones); retried after a deadlock."""
        gen = self.cache.gen
        for attempt in range(3):
            try:
                async with asyncio.timeout(self.timeout), lease(self.pool) as con, \
                        con.transaction():
                    starts = await self._read(con, ops, lock=True)
                    existing = await self._existing(con, ops, force=True)
                    out = await self._apply(con, writer, ops, starts, existing, cached=False)
                break
            except RETRY:  # rolled back: nothing was written
                _unsent(ops)
                if attempt == 2:
                    raise
                self.redone += len(ops)
        out.done |= {op.key for op in ops}  # locked: every answer stands
        self._committed(out, gen, "locked")
        self._answer(ops, out.done)

    def _committed(self, out: _Outcome, gen: int, way: str) -> None:
        self.groups[way] += 1
        for key, (rec, rev) in out.read.items():
            self.cache.put(key, rec, gen, rev)
        self.cache.wrote([(k, rec, rev) for k, (rec, rev) in out.wrote.items()], gen)

    async def _apply(self, con: Any, writer: str, ops: list[_Op], starts: dict[Key, _Start],
                     existing: dict[Key, set[str]] | None, cached: bool) -> _Outcome:
        """Run the functions on the records in ``starts`` and send the write statement
        (from the cache: always, to confirm the records; else only if one changed).
        ``existing``: the stored event ids, or None when they were not looked up (then a
        refused operation with event ids is marked ``unsure``, not answered)."""
        looked_up = existing is not None
        existing = {} if existing is None else existing
        docs: dict[Key, bytes] = {}
        recs: dict[Key, DeviceRecord] = {}
        events: list[tuple[str, str, str, str, float | None, str | None, str | None]] = []
        for op in ops:
            start = starts.get(op.key)
            if start is None or op.fut.done():  # unknown device, or its caller was answered
                continue
            doc = docs.get(op.key)
            if doc is None:  # the first operation on this record in the group
                doc = start.doc if start.doc is not None else encode(start.rec)
            op.result, op.error, op.unsure = None, None, False  # an earlier try's
            rec = record_decoder.decode(doc)  # a copy: cached records are shared
            seen = existing.setdefault(op.key, set())
            try:
                op.result, new = op.fn(start.tenant, rec, seen)
            except Exception as exc:  # this operation only: its record stays as it was
                if looked_up or not op.event_ids:
                    op.error = exc
                else:  # perhaps its own events, stored before: answer after the lookup
                    op.unsure = True
                continue
            op.sent = bool(new)  # in the statement below
            if new:
                docs[op.key], recs[op.key] = encode(rec), rec
                seen.update(r[0] for r in new)
                events.extend((*op.key, eid, kind, at, cid, detail)
                              for eid, kind, at, cid, detail in new)
        out = _Outcome()
        if not docs and not cached:  # locked, nothing changed: the rows read are the latest
            out.read = {k: (record_decoder.decode(st.doc), st.rev) for k, st in starts.items()
                        if st.doc is not None}
            return out
        changed = sorted(docs)  # rows are updated in this order: the lock order
        same = [k for k in starts if k not in docs] if cached else []

        _, done = await con.fetchrow(
            WRITE, [k[0] for k in changed], [k[1] for k in changed], [docs[k] for k in changed],
            [starts[k].rev for k in changed], [starts[k].tenant.version for k in changed],
            time.time(), json_text(events), writer, [k[0] for k in same],
            [k[1] for k in same], [starts[k].rev for k in same],
            [starts[k].tenant.version for k in same], [state_key(recs[k]) for k in changed])
        out.done = {(a, d) for a, _, d in (line.partition(" ") for line in done)}
        out.wrote = {k: (recs[k], starts[k].rev + 1) for k in changed if k in out.done}
        out.read = {k: (record_decoder.decode(st.doc), st.rev) for k, st in starts.items()
                    if st.doc is not None and k not in docs and (k in out.done or not cached)}
        return out
