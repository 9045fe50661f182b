"""In-process stand-ins for server workers: several ``Service`` objects on one database.

For PostgreSQL each has its own pool, change-feed connection and writer ids, as separate
processes would; for SQLite its own connection. They share one event loop, so a test
drives them one request at a time (or several at once with ``asyncio.gather``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
from service_helpers import ADMIN, install, once_campaign

from sim.service.http.service import Service
from sim.service.settings import Settings
from sim.service.storage.postgres import PostgresStore
from sim.service.storage.record_cache import RecordCache


class Worker:
    """One in-process service with an API key set after the app is created."""

    def __init__(self, loop: asyncio.AbstractEventLoop, db: str, cache: int = 1000) -> None:
        self.loop = loop
        self.service = Service(Settings(db=db, admin_key=ADMIN, device_cache=cache))
        loop.run_until_complete(self.service.startup())
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.service),
                                      base_url="http://worker")
        self.key = ""

    def call(self, method: str, path: str, body: object = None) -> httpx.Response:
        """One request with the app's key."""
        return self.loop.run_until_complete(self.http.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.key}"}))

    # the shapes service_helpers expects
    def post(self, path: str, body: object = None) -> httpx.Response:
        """POST."""
        return self.call("POST", path, body)

    def put(self, path: str, body: object = None) -> httpx.Response:
        """PUT."""
        return self.call("PUT", path, body)

    @property
    def records(self) -> RecordCache:
        """The store's record cache."""
        return self.service.store.records  # type: ignore[attr-defined, no-any-return]

    @property
    def store(self) -> PostgresStore:
        """The store, when it is PostgreSQL."""
        store = self.service.store
        assert isinstance(store, PostgresStore)
        return store

    def close(self) -> None:
        """Shut the service down."""
        self.loop.run_until_complete(self.http.aclose())
        self.loop.run_until_complete(self.service.shutdown())


def worker_pair(db: str) -> Iterator[tuple[Worker, Worker]]:
    """Two workers on ``db`` sharing a client-clock app with a once-only campaign and an
    Android device d1 (a fixture body)."""
    loop = asyncio.new_event_loop()
    a, b = Worker(loop, db), Worker(loop, db)
    r = loop.run_until_complete(a.http.post("/v1/apps", json={"name": "t", "clock": "client"},
                                            headers={"Authorization": f"Bearer {ADMIN}"}))
    a.key = b.key = r.json()["api_key"]
    once_campaign(a)
    install(a)
    try:
        yield a, b
    finally:
        a.close()
        b.close()
        loop.close()
