"""The storage interface both backends implement, and the factory that picks one.

Every method is scoped by an app id. Device writes go through
:meth:`Store.device_tx`: the store locks the device row (SQLite: ``BEGIN
IMMEDIATE``; PostgreSQL: ``SELECT ... FOR UPDATE``), hands the decoded record
to a synchronous function, and commits the record and the event rows that
function returns -- or nothing, if it raises.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Literal, Protocol, TypeVar

import msgspec

from sim.service import log
from sim.service.errors import Unavailable
from sim.service.experiments import CellRow
from sim.service.ops import EventRow
from sim.service.schemas import AppCreated, AppStats, Clock, DeviceRecord, Health
from sim.service.settings import DEFAULT_DB, Settings
from sim.service.tenant import App, Tenant, build_tenant

T = TypeVar("T")
BrowserAnswer = tuple[str, str, float, str]
"""An answer to Chrome's prompt in one browser: ``(device_id, event_id, at, outcome)``, ``at``
in the rules' days."""
BROWSER_ANSWERS = ("SELECT at, outcome FROM browser_answers WHERE app_id = ? AND browser_id = ? "
                   "ORDER BY at, device_id, event_id")
"""The answers of one browser, oldest first (SQLite placeholders)."""
TxFn = Callable[[Tenant, DeviceRecord, set[str]], tuple[T, list[EventRow]]]
"""``fn(tenant, record, existing_event_ids) -> (result, rows)``; it may mutate ``record``."""
MakeExperiment = Callable[[dict[str, bytes], bool], bytes]
"""``make(stored_docs_by_id, has_units) -> doc``: the experiment document to store, checked
against the app's stored experiments (raises a ``ServiceError`` to store nothing)."""

record_decoder = msgspec.json.Decoder(DeviceRecord)
encode = msgspec.json.Encoder().encode


class Store(Protocol):
    """What the handlers need from a database."""

    @property
    def kind(self) -> Literal["sqlite", "postgres"]:
        """Which database."""

    async def open(self) -> None:
        """Connect and apply missing migrations."""

    async def close(self) -> None:
        """Release connections."""

    async def health(self) -> Health:
        """Readiness: the store answers and its writes work; else raise :class:`Unavailable`
        with the cause."""

    async def create_app(self, name: str, clock: Clock) -> AppCreated:
        """A new app with a fresh key."""

    async def app_by_key(self, key_hash: str) -> App | None:
        """The app a key hash belongs to."""

    async def tenant(self, app: App) -> Tenant:
        """The app's current policy and profiles (cached per worker, version-checked)."""

    async def put_campaign(self, app_id: str, campaign_id: str, doc: bytes) -> bool:
        """Create or replace a campaign; True if created."""

    async def put_settings(self, app_id: str, doc: bytes) -> None:
        """Replace the app's settings."""

    async def create_device(self, app_id: str, device_id: str, record: DeviceRecord) -> bool:
        """Insert a device; False if it already exists."""

    async def read_device(self, app: App, device_id: str) -> tuple[Tenant, DeviceRecord] | None:
        """A device's committed record, without locking; read-only (it may be shared)."""

    def peek_device(self, app: App, device_id: str) -> tuple[Tenant, DeviceRecord] | None:
        """A record (and policy) this worker holds for the device, with no round trip: it
        may be older than the latest commit, so it only serves to find a decision that a
        write re-checks; None if none is held. Read-only."""

    async def device_tx(self, app: App, device_id: str, event_ids: Sequence[str],
                        fn: TxFn[T]) -> T:
        """Run ``fn`` on the locked device and commit its changes atomically (404 if unknown)."""

    async def user_devices(self, app_id: str, user_id: str) -> list[tuple[str, DeviceRecord]]:
        """All devices of a user."""

    async def add_browser_answers(self, app_id: str, browser_id: str,
                                  rows: Sequence[BrowserAnswer]) -> None:
        """Store answers to Chrome's prompt given in one browser, each once (keyed by device
        and event id: a retried batch, or two workers storing the same answer, add one)."""

    async def browser_answers(self, app_id: str, browser_id: str) -> list[tuple[float, str]]:
        """``(at, outcome)`` of the answers stored for the browser, oldest first."""

    async def campaign_counts(self, app_id: str,
                              campaign_id: str) -> list[tuple[str, str | None, int]]:
        """``(kind, detail, count)`` of the events credited to a campaign."""

    async def app_stats(self, app_id: str) -> AppStats:
        """Devices and stored events by kind of one app."""

    async def put_experiment(self, app_id: str, experiment_id: str,
                             make: MakeExperiment) -> bool:
        """Create or replace an experiment with ``make``'s document, in one transaction that
        serializes the app's experiment writes; True if created."""

    async def record_assignment(self, app_id: str, experiment_id: str, device_id: str,
                                unit_id: str, arm: str, platform: str, profile: str,
                                at: float) -> str:
        """Store a device's assignment (once; a unit's later devices join its first cell and
        arm) and return the unit's arm (``arm`` unless the unit has one already)."""

    async def experiment_cells(self, app_id: str, experiment_id: str, cold: Sequence[str],
                               end: float, per_user: bool, server_clock: bool,
                               scan: bool = False) -> tuple[list[CellRow], list[CellRow]]:
        """The experiment's event figures and device states per cell, from one snapshot
        (``sim.service.storage.experiment_sql``); events timed by the server's clock (when
        received) or the client's (``at``), as the app's clock says."""

    def counters(self) -> dict[str, int]:
        """This worker's store counters since start (record cache hits, groups, ...)."""


class TenantCache:
    """Per-worker cache of :class:`Tenant` objects, keyed by app, checked by version."""

    def __init__(self) -> None:
        self._by_app: dict[str, Tenant] = {}

    def get(self, app_id: str, version: int) -> Tenant | None:
        """The cached tenant if it is still at ``version``."""
        t = self._by_app.get(app_id)
        return t if t is not None and t.version == version else None

    def latest(self, app_id: str) -> Tenant | None:
        """The newest tenant built for the app, whatever its version."""
        return self._by_app.get(app_id)

    def build(self, app: App, version: int, settings: bytes | None,
              campaigns: list[bytes], experiments: list[bytes]) -> Tenant:
        """Build, cache and return a tenant from stored documents."""
        t = build_tenant(app.app_id, app.clock, version, settings, campaigns, experiments)
        known = self._by_app.get(app.app_id)
        if known is None or known.version <= version:  # a slow read never puts back an older one
            self._by_app[app.app_id] = t
        return t


UNAVAILABLE = "the store is unavailable; retry later"


def cohort_day(at: float) -> str:
    """The UTC day of a Unix time, ``YYYY-MM-DD``."""
    return time.strftime("%Y-%m-%d", time.gmtime(at))


def as_unavailable(exc: BaseException) -> Unavailable | None:
    """The store's failure to answer as :class:`Unavailable`, or None for anything else
    (a bug)."""
    if isinstance(exc, TimeoutError):
        return Unavailable("timeout", "the store did not answer in time; retry later")
    if isinstance(exc, (sqlite3.OperationalError, OSError)):
        log.cause("unavailable", "the store failed", exc)
        return Unavailable("unavailable", UNAVAILABLE)
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return None
    if isinstance(exc, (asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                        asyncpg.TooManyConnectionsError)):
        log.cause("unavailable", "PostgreSQL failed", exc)
        return Unavailable("unavailable", UNAVAILABLE)
    return None


def open_store(settings: Settings) -> Store:
    """The store ``settings.db`` names (not yet opened)."""
    if settings.is_postgres:
        from sim.service.storage.postgres import PostgresStore
        return PostgresStore(settings.db, pool_size=settings.pg_pool_size,
                             timeout=settings.store_timeout,
                             connect_timeout=settings.connect_timeout,
                             cache_size=settings.device_cache)
    from sim.service.storage.sqlite import SqliteStore
    if settings.db == DEFAULT_DB:  # a given path's folder must exist: a typo is not made
        with contextlib.suppress(OSError):  # unwritable: opening the file says so, one line
            os.makedirs(os.path.dirname(DEFAULT_DB), exist_ok=True)
    return SqliteStore(settings.sqlite_path, cache_size=settings.device_cache,
                       timeout=settings.store_timeout,
                       integrity_check=settings.integrity_check == "quick")
