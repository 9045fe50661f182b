"""The service as one ASGI application: its routes and the request path around them.

``create_app()`` builds it from :class:`~sim.service.settings.Settings` read
from the environment (the form uvicorn's and granian's workers import).
Lifespan startup opens the store and applies migrations.
"""

from __future__ import annotations

import gc
import sqlite3
import sys
import time
import traceback

from sim.service import auth
from sim.service.auth import AppRow
from sim.service.errors import ApiError
from sim.service.http import routes_config, routes_devices, routes_meta
from sim.service.http.asgi import (
    JSON,
    Receive,
    Request,
    Route,
    Router,
    Scope,
    Send,
    read_body,
    send_response,
)
from sim.service.http.metrics import Metrics
from sim.service.settings import Settings
from sim.service.storage.store import Store, encode, open_store

ROUTES: list[Route] = [
    Route("GET", "/healthz", routes_meta.healthz, auth="none"),
    Route("GET", "/metrics", routes_meta.metrics, auth="none"),
    Route("GET", "/openapi.json", routes_meta.openapi, auth="none"),
    Route("GET", "/docs", routes_meta.docs, auth="none"),
    Route("POST", "/v1/apps", routes_config.create_app, auth="admin"),
    Route("GET", "/v1/app", routes_config.get_app),
    Route("GET", "/v1/settings", routes_config.get_settings),
    Route("PUT", "/v1/settings", routes_config.put_settings),
    Route("GET", "/v1/campaigns", routes_config.list_campaigns),
    Route("GET", "/v1/campaigns/{campaign_id}", routes_config.get_campaign),
    Route("PUT", "/v1/campaigns/{campaign_id}", routes_config.put_campaign),
    Route("GET", "/v1/campaigns/{campaign_id}/stats", routes_devices.campaign_stats),
    Route("POST", "/v1/devices", routes_devices.create_device),
    Route("GET", "/v1/devices/{device_id}", routes_devices.get_device),
    Route("POST", "/v1/devices/{device_id}/events", routes_devices.post_events),
    Route("POST", "/v1/devices/{device_id}/eligibility", routes_devices.eligibility),
    Route("GET", "/v1/users/{user_id}/reachability", routes_devices.reachability),
]
"""Every endpoint; ``/openapi.json`` documents the same list."""

_UNAVAILABLE: tuple[type[BaseException], ...] = (sqlite3.OperationalError, OSError)
try:  # connection-level PostgreSQL failures are "unavailable", not bugs
    import asyncpg

    _UNAVAILABLE += (asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                     asyncpg.TooManyConnectionsError)
except ImportError:  # pragma: no cover - asyncpg is a dependency
    pass


class App:
    """The eligibility service (an ASGI callable)."""

    def __init__(self, settings: Settings, store: Store | None = None,
                 routes: list[Route] | None = None) -> None:
        self.settings = settings
        self.store = store if store is not None else open_store(settings)
        self.router = Router(routes if routes is not None else ROUTES)
        self.metrics = Metrics()
        self._apps: dict[str, AppRow] = {}
        """Key hash -> app: apps never change, so this cache never goes stale."""
        self._by_header: dict[bytes, AppRow] = {}
        """Authorization header -> app, for keys already seen (skips hashing)."""
        self.started = False

    async def startup(self) -> None:
        """Open the store (migrating it)."""
        if not self.started:
            await self.store.open()
            self.started = True

    async def shutdown(self) -> None:
        """Close the store."""
        if self.started:
            await self.store.close()
            self.started = False

    async def _authenticate(self, req: Request, kind: str) -> None:
        header = req.header(b"authorization")
        key = auth.bearer(header)
        if kind == "admin":
            if not auth.is_admin(key, self.settings.admin_key):
                raise ApiError(401, "unauthorized", "this endpoint needs the admin key "
                               "(promptsim serve --admin-key or PROMPTSIM_ADMIN_KEY)",
                               headers=[(b"www-authenticate", b"Bearer")])
            return
        h = auth.key_hash(key)
        app = self._apps.get(h)
        if app is None:
            app = await self.store.app_by_key(h)
            if app is None:
                raise auth.invalid_key()
            self._apps[h] = app
        if len(self._by_header) < 10_000:
            self._by_header[header] = app  # type: ignore[index]
        req.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self._lifespan(receive, send)
            return
        t0 = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        route_name = "unmatched"
        extra: list[tuple[bytes, bytes]] | None = None
        try:
            route, params = self.router.resolve(method, path)
            route_name = route.path
            headers = scope["headers"]
            body = b""
            if method in ("POST", "PUT", "PATCH"):
                body = await read_body(receive, headers, self.settings.max_body_bytes)
            req = Request(method, path, params, headers, body, self)
            if route.auth == "app":  # a key already seen: no hashing, no await
                req.app = self._by_header.get(req.header(b"authorization") or b"")
            if req.app is None and route.auth != "none":
                await self._authenticate(req, route.auth)
            status, out, ctype = await route.handler(req)
        except ApiError as exc:
            status, out, ctype, extra = exc.status, encode(exc.body), JSON, exc.headers
        except _UNAVAILABLE as exc:
            status, out, ctype = 503, encode({"error": "unavailable", "field": None,
                                              "detail": f"the store is unavailable ({exc}); "
                                              "retry later"}), JSON
        except Exception:
            traceback.print_exc(file=sys.stderr)
            status, out, ctype = 500, encode({"error": "internal", "field": None,
                                              "detail": "unexpected error; see the server "
                                              "log"}), JSON
        await send_response(send, status, out, ctype, extra)
        self.metrics.observe(method, route_name, status, time.perf_counter() - t0)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                # Everything alive now lives as long as the server: keep it out of the
                # cyclic collector's passes, which otherwise stall requests (the p99).
                gc.collect()
                gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app() -> App:
    """The app configured from the environment (``PROMPTSIM_*``)."""
    return App(Settings.from_env())
