"""A worker's cache of device records for the SQLite store's lock-free reads.

An eligibility answer is usually ``show=false`` decided on the committed state,
with no write; reading that state from SQLite costs a read transaction (two
``fcntl`` calls on the WAL index) and a JSON decode per request, most of the
time it takes. This cache keeps the decoded records of recently read devices
and stays exact:

* **this worker's writes** stage the record they wrote; the staged records
  replace the entries after ``COMMIT`` and are discarded on ``ROLLBACK`` (the
  committed row, and so the entry, did not change). Policy writes drop every
  entry;
* **other connections' writes** (other workers, ``promptsim apps create``) change
  SQLite's ``PRAGMA data_version``; the first lookup of each event-loop pass reads
  it and empties the cache if it moved.

The second rule makes a read at least as fresh as the start of the loop pass it
runs in. That is what a client can observe: an ASGI server starts a request's
task only after its bytes arrived, the task's first step runs in a later pass
than any check already made, so a request sent after another worker
acknowledged a write always sees that write. Writes that need the exact state
(a shown prompt, events) never use the cache: they re-read the row under the
write lock.

Entries are shared: whoever gets one must not change it (writes re-read the
row). Records are untracked by the cyclic garbage collector (``gc=False``
structs), so a full cache adds nothing to a collection. At ``limit`` entries
the oldest one goes.
"""

from __future__ import annotations

import asyncio
import sqlite3

from sim.service.schemas import DeviceRecord

Key = tuple[str, str]
"""``(app_id, device_id)``."""


class RecordCache:
    """Device records by ``(app_id, device_id)``, valid while no other connection wrote."""

    def __init__(self, conn: sqlite3.Connection, limit: int) -> None:
        self.conn = conn
        self.limit = limit
        self._entries: dict[Key, DeviceRecord] = {}
        self._staged: list[tuple[Key, DeviceRecord]] = []
        self._version: int | None = None
        self._checked = False
        """Whether ``data_version`` was read in the current loop pass."""
        self.hits = 0
        self.misses = 0

    def _expire(self) -> None:
        self._checked = False

    def _validate(self) -> None:
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._entries.clear()
            self._version = version
        self._checked = True
        asyncio.get_running_loop().call_soon(self._expire)

    def get(self, key: Key) -> DeviceRecord | None:
        """The cached entry, after this pass's check for other connections' writes."""
        if not self.limit:
            return None
        if not self._checked:
            self._validate()
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: Key, entry: DeviceRecord) -> None:
        """Remember a record just read from the committed state (after :meth:`get`)."""
        if not self.limit:
            return
        entries = self._entries
        if len(entries) >= self.limit:
            del entries[next(iter(entries))]
        entries[key] = entry

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

    def clear(self) -> None:
        """Forget everything (a policy or settings write)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
