"""Group commit and background checkpoints for the SQLite store.

A commit costs far more than the statements before it (the WAL write, and now
and then a checkpoint that fsyncs). :class:`GroupCommit` runs the write
operations queued during one event-loop turn in a single ``BEGIN IMMEDIATE``
transaction, each inside its own savepoint, and answers them only after the
``COMMIT``: a 2xx still means committed, and one failing operation undoes only
its own writes. :class:`Checkpointer` moves WAL checkpoints (and their fsync)
to a thread with its own connection, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], Any]


class GroupCommit:
    """Batches write operations of one connection into shared transactions."""

    def __init__(self, conn: sqlite3.Connection,
                 on_busy: Callable[[sqlite3.OperationalError], Exception],
                 on_end: Callable[[bool], None] | None = None) -> None:
        self.conn = conn
        self.on_busy = on_busy
        self.on_end = on_end
        """Called after each group transaction: True if it committed."""
        self._queue: list[tuple[Op, asyncio.Future[Any]]] = []
        self.batches = 0
        """Transactions committed (for tests and metrics)."""

    async def run(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op(conn)`` in the next group transaction; return its result once committed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._queue.append((op, fut))
        if len(self._queue) == 1:
            loop.call_soon(self._flush)  # after the tasks already ready in this turn
        return await fut

    def _flush(self) -> None:
        committed = False
        try:
            committed = self._run_batch()
        finally:
            if self.on_end is not None:
                self.on_end(committed)

    def _run_batch(self) -> bool:
        batch, self._queue = self._queue, []
        c = self.conn
        try:
            c.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(self.on_busy(exc))
            return False
        done: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            for op, fut in batch:
                if fut.done():  # the request was cancelled while queued
                    continue
                c.execute("SAVEPOINT op")
                try:
                    done.append((fut, op(c), None))
                except Exception as exc:  # this operation only: undo its writes
                    c.execute("ROLLBACK TO op")
                    done.append((fut, None, exc))
                c.execute("RELEASE op")
            c.execute("COMMIT")
        except Exception as exc:
            if c.in_transaction:
                c.execute("ROLLBACK")
            for _, fut in batch:
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
