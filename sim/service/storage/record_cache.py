"""A worker's cache of device records for lock-free reads, used by both stores.

An eligibility answer is usually ``show=false`` decided on the committed state,
with no write; reading that state from the database costs a read transaction
(SQLite: two ``fcntl`` calls on the WAL index; PostgreSQL: a round trip) and a
JSON decode per request, most of the time it takes. This cache keeps the
decoded records of recently read devices and stays exact:

* **this worker's writes** stage the record they wrote; the staged records
  replace the entries after ``COMMIT`` and are discarded on ``ROLLBACK`` (the
  committed row, and so the entry, did not change). Policy writes drop every
  entry;
* **other processes' writes** are seen in a way each store provides: SQLite
  passes ``changed``, a check of ``PRAGMA data_version`` that the first lookup of
  each event-loop pass makes (it empties the cache if another connection
  committed); PostgreSQL drops the entries its change feed names
  (:mod:`sim.service.storage.pg_feed`) and awaits that feed's per-pass check
  before a lookup.

Either way a read is at least as fresh as the start of the loop pass it runs in.
That is what a client can observe: an ASGI server starts a request's task only
after its bytes arrived, the task's first step runs in a later pass than any
check already made, so a request sent after another worker acknowledged a write
always sees that write. Writes that need the exact state (a shown prompt,
events) never use the cache: they re-read the row under the write lock.

A record read from the database is put only if its key was neither invalidated nor
written since the read began (:attr:`RecordCache.gen`): an invalidation or a write
that overtakes a slow read cannot be undone by that read's older record.

Entries are shared: whoever gets one must not change it (writes re-read the
row). Records are ``gc=False`` structs, but the ``DeviceState`` in each is a
compiled native object that the cyclic collector tracks (with its campaign
counters): a full cache adds about three objects per entry to a full
collection. At ``limit`` entries the oldest one goes.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable

from sim.service.schemas import DeviceRecord

Key = tuple[str, str]
"""``(app_id, device_id)``."""


def sqlite_changes(conn: sqlite3.Connection) -> Callable[[], bool]:
    """A check of whether another connection committed to ``conn``'s file since the
    last call (``PRAGMA data_version``; the first call says True)."""
    last: list[int | None] = [None]

    def changed() -> bool:
        version: int = conn.execute("PRAGMA data_version").fetchone()[0]
        moved = version != last[0]
        last[0] = version
        return moved

    return changed


class RecordCache:
    """Device records by ``(app_id, device_id)``, exact while the store keeps it so.

    Each entry also holds the store's revision of the row it came from (PostgreSQL's
    ``devices.rev``; 0 for SQLite), for writes that check the row did not change.
    """

    def __init__(self, limit: int, changed: Callable[[], bool] | None = None) -> None:
        self.limit = limit
        self.changed = changed
        """Checked by the first :meth:`get` of each loop pass: True empties the cache."""
        self._entries: dict[Key, tuple[DeviceRecord, int]] = {}
        self._staged: list[tuple[Key, DeviceRecord]] = []
        self._checked = False
        """Whether ``changed`` was called in the current loop pass."""
        self.gen = 0
        """Moves at every invalidation and own write; reads note it when they begin."""
        self._touched: dict[Key, int] = {}
        """``gen`` when each key was last invalidated or written (bounded)."""
        self._floor = 0
        """``gen`` of the last :meth:`clear`: reads that began before it must not put."""
        self.hits = 0
        self.misses = 0

    def _expire(self) -> None:
        self._checked = False

    def _validate(self) -> None:
        assert self.changed is not None
        if self.changed():
            self.clear()
        self._checked = True
        asyncio.get_running_loop().call_soon(self._expire)

    def get(self, key: Key) -> DeviceRecord | None:
        """The cached entry (after this pass's ``changed`` check, if any)."""
        if not self.limit:
            return None
        if self.changed is not None and not self._checked:
            self._validate()
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        return found[0]

    def peek(self, key: Key) -> tuple[DeviceRecord, int] | None:
        """The entry and its revision, unchecked (for a write that checks the revision)."""
        return self._entries.get(key)

    def put(self, key: Key, entry: DeviceRecord, gen: int | None = None, rev: int = 0) -> None:
        """Remember a record just read from the committed state, unless this key was
        invalidated or written since the read began (``gen``, the value of :attr:`gen`
        then)."""
        if not self.limit or (gen is not None and self._moved(key, gen)):
            return
        entries = self._entries
        if len(entries) >= self.limit and key not in entries:
            del entries[next(iter(entries))]
        entries[key] = (entry, rev)

    def _moved(self, key: Key, gen: int) -> bool:
        return gen < self._floor or self._touched.get(key, -1) > gen

    def _touch(self, keys: Iterable[Key]) -> None:
        self.gen += 1
        touched = self._touched
        if len(touched) > max(4 * self.limit, 10_000):  # bounded: forget, conservatively
            touched.clear()
            self._floor = self.gen
        for key in keys:
            touched[key] = self.gen

    def stage(self, key: Key, entry: DeviceRecord) -> None:
        """The record a write transaction wrote; cached only if it commits."""
        if self.limit:
            self._staged.append((key, entry))

    def settle(self, committed: bool) -> None:
        """End of a write transaction: cache what it wrote, or forget it."""
        staged, self._staged = self._staged, []
        if committed:
            for key, entry in staged:
                self.put(key, entry)

    def wrote(self, items: list[tuple[Key, DeviceRecord, int]], gen: int) -> None:
        """This worker committed these records (at these revisions) in a transaction that
        began at ``gen``: cache them (those invalidated or written elsewhere since are
        forgotten instead), and keep reads that began before the commit from putting
        older records."""
        entries = self._entries
        for key, entry, rev in items:
            if self._moved(key, gen):
                entries.pop(key, None)
            else:
                self.put(key, entry, rev=rev)
        self._touch(key for key, _, _ in items)

    def drop(self, keys: list[Key]) -> None:
        """Forget these devices (another process wrote them)."""
        entries = self._entries
        for key in keys:
            entries.pop(key, None)
        self._touch(keys)

    def clear(self) -> None:
        """Forget everything (a policy or settings write, or changes not seen one by one)."""
        self.gen += 1
        self._floor = self.gen
        self._touched.clear()
        self._entries.clear()

    def __contains__(self, key: Key) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)
