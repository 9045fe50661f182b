"""Group commit and background checkpoints for the SQLite store.

A commit costs far more than the statements before it (the WAL write, and now
and then a checkpoint that fsyncs). :class:`GroupCommit` runs the write
operations queued during one event-loop turn in a single ``BEGIN IMMEDIATE``
transaction, each inside its own savepoint, and answers them only after the
``COMMIT``: a 2xx still means committed, and one failing operation undoes only
its own writes. While another process holds the write lock, ``BEGIN
IMMEDIATE`` answers busy at once (``busy_timeout`` 0) and the group is tried
again from the event loop, so the worker keeps serving reads; an operation still
waiting after ``timeout`` seconds fails busy. :class:`Checkpointer` moves WAL
checkpoints (and their fsync) to a thread with its own connection, off the event
loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], Any]
Queued = tuple[Op, "asyncio.Future[Any]", float]
"""An operation, its caller's future, and its deadline (``time.monotonic``)."""


def is_busy(exc: BaseException) -> bool:
    """Whether a SQLite error means another connection holds the lock (try again)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or \
        (not name and "database is locked" in str(exc))


def _rollback(c: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open; never hide the error that led here (after
    SQLITE_FULL SQLite may have rolled back already)."""
    if c.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            c.execute("ROLLBACK")


class GroupCommit:
    """Batches write operations of one connection into shared transactions."""

    def __init__(self, conn: sqlite3.Connection,
                 on_busy: Callable[[sqlite3.Error], Exception],
                 on_end: Callable[[bool], None] | None = None, timeout: float = 5.0) -> None:
        self.conn = conn
        self.on_busy = on_busy
        self.on_end = on_end
        """Called after each group transaction: True if it committed."""
        self.timeout = timeout
        self._queue: list[Queued] = []
        self._scheduled = False
        self._delay = 0.0
        self.batches = 0
        """Transactions committed (for tests and metrics)."""

    async def run(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op(conn)`` in the next group transaction; return its result once committed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._queue.append((op, fut, time.monotonic() + self.timeout))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)  # after the tasks already ready in this turn
        return await fut

    def _flush(self) -> None:
        self._scheduled = False
        if not self._queue:
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._not_begun(exc)
            return
        self._delay = 0.0
        committed = False
        try:
            committed = self._run_batch()
        finally:
            if self.on_end is not None:
                self.on_end(committed)

    def _not_begun(self, exc: sqlite3.Error) -> None:
        """``BEGIN IMMEDIATE`` failed: busy -> try again soon (operations past their deadline
        fail busy); anything else fails the whole queue."""
        now, waiting = time.monotonic(), []
        for item in self._queue:
            _, fut, deadline = item
            if fut.done():
                continue
            if not is_busy(exc):
                fut.set_exception(exc)
            elif deadline <= now:
                fut.set_exception(self.on_busy(exc))
            else:
                waiting.append(item)
        self._queue = waiting
        if waiting:
            self._delay = min(max(self._delay * 2, 0.001), 0.05)
            self._scheduled = True
            asyncio.get_running_loop().call_later(self._delay, self._flush)

    def _run_batch(self) -> bool:
        batch, self._queue = self._queue, []
        c = self.conn
        done: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            for op, fut, _ in batch:
                if fut.done():  # the request was cancelled while queued
                    continue
                c.execute("SAVEPOINT op")
                try:
                    done.append((fut, op(c), None))
                except Exception as exc:  # this operation only: undo its writes
                    if not c.in_transaction:  # SQLite ended the transaction (disk full, I/O)
                        raise
                    try:
                        c.execute("ROLLBACK TO op")
                    except sqlite3.Error:
                        raise exc from None
                    done.append((fut, None, exc))
                c.execute("RELEASE op")
            c.execute("COMMIT")
        except Exception as exc:
            _rollback(c)
            for _, fut, _ in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return False
        self.batches += 1
        for fut, result, error in done:
            if fut.done():
                continue
            if error is None:
                fut.set_result(result)
            else:
                fut.set_exception(error)
        return True


class Checkpointer:
    """A thread that runs ``PRAGMA wal_checkpoint(PASSIVE)`` at most every ``interval``
    seconds, and only after :meth:`poke` said a transaction committed: a worker
    that only reads never hands the GIL to it."""

    def __init__(self, path: str, interval: float = 0.5) -> None:
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self._dirty = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def poke(self) -> None:
        """A transaction committed: checkpoint within ``interval``."""
        if not self._dirty.is_set():
            self._dirty.set()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=0.05)
        try:
            while True:
                self._dirty.wait()
                if self._stop.wait(self.interval):
                    return
                self._dirty.clear()
                with contextlib.suppress(sqlite3.Error):  # busy now: the next round will
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop and join the thread."""
        self._stop.set()
        self._dirty.set()
        if self._thread.is_alive():
            self._thread.join()
