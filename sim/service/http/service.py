"""The service as one ASGI application: the request path around the route table.

``asgi_app()`` builds it from :class:`~sim.service.settings.Settings` read from
the environment (the factory uvicorn's workers import). Lifespan startup opens
the store and applies migrations.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable

from sim.service import auth, log
from sim.service.errors import ServiceError, Unauthorized
from sim.service.experiments import Running
from sim.service.http.admission import Admission
from sim.service.http.asgi import (
    JSON,
    BodyBudget,
    Receive,
    Request,
    Route,
    Router,
    Scope,
    Send,
    check_body_headers,
    decode,
    read_body,
    send_response,
)
from sim.service.http.deadline import SLACK, TICK, Deadlines, late_answer
from sim.service.http.errors import HttpError, render
from sim.service.http.headers import Cors, cors_origins, request_id
from sim.service.http.keys import KeyGuard
from sim.service.http.metrics import FLUSH_SECONDS, Metrics
from sim.service.http.protocol import GONE
from sim.service.http.routes import ROUTES
from sim.service.settings import Settings
from sim.service.storage.store import Store, as_unavailable, open_store
from sim.service.tenant import App

GC_THRESHOLDS = (100_000, 50, 100)
"""The cyclic collector's thresholds in a worker (Python's are 700, 10, 10). Requests in
flight are young objects that outlive many allocations, so with the defaults the collector
kept scanning them, the more so the more connections: in ``bench/bench_overload.py``'s
setup (SQLite, eligibility writes) the server's CPU per answered request was 145 us at 256
connections and 196-209 us at 2,000 with the defaults, 114-120 us and 127-136 us with these.
Nearly all garbage is freed by reference counting; the collector only finds cycles, which
the request path seldom makes."""
UNAUTHORIZED_DETAIL = "send 'Authorization: Bearer KEY' with the API key of your app"


def _open() -> bool:
    """No connection to check (a server without :mod:`sim.service.http.protocol`): open."""
    return False


def bearer(header: bytes | None) -> str:
    """The key of an ``Authorization`` header value; 401 if missing or malformed."""
    if not header:
        raise Unauthorized("unauthorized", f"missing credentials; {UNAUTHORIZED_DETAIL}")
    scheme, _, key = header.decode("latin-1").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("unauthorized", f"malformed credentials; {UNAUTHORIZED_DETAIL}")
    return key


class Service:
    """The eligibility service (an ASGI callable)."""

    def __init__(self, settings: Settings, store: Store | None = None,
                 routes: list[Route] | None = None) -> None:
        self.settings = settings
        self.store = store if store is not None else open_store(settings)
        self.router = Router(routes if routes is not None else ROUTES)
        self.metrics = Metrics(settings.metrics_dir, self._store_counters)
        self._flusher: asyncio.Task[None] | None = None
        self.admin_key = settings.admin()
        origins = cors_origins(settings.cors_origins)
        self.cors = Cors(origins) if origins is not None else None
        self.bodies = BodyBudget(settings.max_body_memory)
        self.admission = Admission(settings.max_requests, settings.max_queued,
                                   min(settings.queue_timeout, settings.store_timeout))
        """Requests being served now, and those waiting for a place."""
        self.deadlines = Deadlines(settings.store_timeout + SLACK)
        """Each request's work is answered within this (plus a tick) whatever the store
        does."""
        self.keys = KeyGuard(settings.auth_failures)
        self.page: Callable[[bytes, str], str] | None = None
        """Renders an experiment's page from its stats (JSON) and where they were read:
        plugged in by ``promptsim serve`` (``sim.cli.serve.asgi_app``), which may import the
        reports; None when the service runs alone (the page answers 404 ``no_pages``)."""
        self.updates: dict[tuple[str, str, float], asyncio.Future[Running]] = {}
        """Allocation updates being computed in this worker (app, experiment, boundary):
        the enrolments that find one due at once wait on the same one
        (``routes_experiments.allocation_at``)."""
        self._apps_by_key: dict[str, App] = {}
        """Key hash -> app: apps never change, so this cache never goes stale."""
        self._by_header: dict[bytes, App] = {}
        """Authorization header -> app, for keys already seen (skips hashing)."""
        self.started = False

    def _store_counters(self) -> dict[str, int]:
        return self.store.counters() if self.started else {}

    async def startup(self) -> None:
        """Open the store (migrating it); start writing this worker's metrics file."""
        if not self.started:
            await self.store.open()
            self.started = True
            if self.metrics.directory is not None:
                self._flusher = asyncio.get_running_loop().create_task(self._flush_metrics())

    async def shutdown(self) -> None:
        """Close the store; write the metrics file a last time."""
        if self.started:
            if self._flusher is not None:
                self._flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._flusher
                self._flusher = None
                self.metrics.flush()
            await self.store.close()
            self.started = False

    async def _flush_metrics(self) -> None:
        """Once a second, this worker's totals for the scrapes other workers answer."""
        while True:
            self.metrics.flush()
            await asyncio.sleep(FLUSH_SECONDS)

    async def _authenticate(self, req: Request, kind: str, address: str) -> None:
        """The caller's key checked (a key not seen yet by this worker); 401 if it is
        missing, malformed or wrong, 429 if ``address`` sent too many wrong ones lately
        (:mod:`sim.service.http.keys`; a missing key costs nothing and is not counted)."""
        header = req.header(b"authorization")
        key = bearer(header)
        self.keys.check(address)
        try:
            await self._check_key(req, kind, header, key)
        except Unauthorized:
            self.keys.failed(address)
            raise

    async def _check_key(self, req: Request, kind: str, header: bytes | None, key: str
                         ) -> None:
        if kind == "admin":
            if not auth.is_admin(key, self.admin_key):
                raise Unauthorized("unauthorized", "this endpoint needs the admin key "
                                   "(PROMPTSIM_ADMIN_KEY, PROMPTSIM_ADMIN_KEY_FILE or "
                                   "promptsim serve --admin-key-file)")
            return
        h = auth.key_hash(key)
        app = self._apps_by_key.get(h)
        if app is None:
            if self.keys.is_unknown(h):
                raise Unauthorized("unauthorized", f"unknown API key; {UNAUTHORIZED_DETAIL}")
            app = await self.store.app_by_key(h)
            if app is None:
                self.keys.unknown(h)
                raise Unauthorized("unauthorized", f"unknown API key; {UNAUTHORIZED_DETAIL}")
            self._apps_by_key[h] = app
        if header is not None and len(self._by_header) < 10_000:
            self._by_header[header] = app
        req.caller = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self._lifespan(receive, send)
            elif scope["type"] == "websocket":
                await self._refuse_websocket(scope, receive, send)
            return
        t0 = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        head = method == "HEAD"
        route_name = "unmatched"
        given_id: bytes | None = None
        origin: bytes | None = None
        for k, v in headers:
            if k == b"x-request-id":
                given_id = v
            elif k == b"origin":
                origin = v
        rid = request_id(given_id)
        extra: list[tuple[bytes, bytes]] = [(b"x-request-id", rid)]
        if self.cors is not None and self.cors.allows(origin):
            assert origin is not None
            if method == "OPTIONS":  # a preflight: answered before any route or key
                await send_response(send, 204, b"", b"text/plain",
                                    extra + self.cors.preflight(origin))
                self.metrics.observe(method, "preflight", 204, time.perf_counter() - t0)
                return
            extra += self.cors.headers(origin)
        held = [0]
        admission = self.admission
        admitted = False
        at = [route_name]
        """The route, for the metrics of an answer the deadline sends."""

        answering: list[asyncio.Task[None]] = []

        def late() -> None:  # the deadline passed: answer now, drop the handler's answer
            answering.append(asyncio.get_running_loop().create_task(
                self._late(send, method, path, at[0], rid, list(extra), head, t0)))

        deadline = self.deadlines.start(late)
        try:
            admitted = admission.take()
            if not admitted:  # wait for a place; the wait is not the deadline's
                deadline.pause()
                await admission.enter(self._flow(scope))
                admitted = True
                if scope.get(GONE, _open)():  # its client left while it waited
                    raise HttpError(499, "client_gone", "the connection closed while the "
                                    "request waited for a place; nothing was done")
                deadline.resume()
            route, params = self.router.resolve("GET" if head else method, path)
            route_name = at[0] = route.path
            req = Request(method, path, params, headers, self)
            if route.auth == "app":  # a key already seen: no hashing, no await
                req.caller = self._by_header.get(req.header(b"authorization") or b"")
            if req.caller is None and route.auth != "none":
                client = scope.get("client")
                await self._authenticate(req, route.auth, client[0] if client else "")
            if route.body is not None:  # only once the headers authenticated the caller
                check_body_headers(req)
                s = self.settings
                deadline.pause()
                body = await read_body(receive, req.headers, s.max_body_bytes, self.bodies,
                                       held)
                deadline.resume()
                req.data = decode(body, route.body)
            status, out, ctype = await route.handler(req)
        except ServiceError as exc:
            (status, out, more), ctype = render(exc), JSON
            extra += more
            if status >= 500:
                log.cause(exc.code, f"request {rid.decode()}: {method} {path}: {exc.detail}")
        except Exception as exc:
            unavailable = as_unavailable(exc)
            if unavailable is not None:
                (status, out, more), ctype = render(unavailable), JSON
                extra += more
                log.cause(unavailable.code, f"request {rid.decode()}: {method} {path}: "
                          f"{unavailable.detail}")
            else:
                log.log.error("request %s: %s %s: unexpected error", rid.decode(), method,
                              path, exc_info=exc)
                status, out, ctype = 500, (b'{"error":"internal","field":null,"detail":'
                                           b'"unexpected error; see the server log"}'), JSON
        finally:
            deadline.stop()
            if admitted:
                admission.leave()
            if held[0]:
                self.bodies.give(held[0])
        if answering:  # answered at the deadline (uvicorn wants the answer sent on return)
            await answering[0]
            return
        await send_response(send, status, out, ctype, extra, head)
        self.metrics.observe(method, route_name, status, time.perf_counter() - t0)

    def _flow(self, scope: Scope) -> str:
        """The flow a request waits in (:mod:`sim.service.http.admission`): the app of a
        key this worker knows, else the client's address."""
        for k, v in scope["headers"]:
            if k == b"authorization":
                app = self._by_header.get(v)
                if app is not None:
                    return "app " + app.app_id
        client = scope.get("client")
        return "address " + (client[0] if client else "")

    async def _late(self, send: Send, method: str, path: str, route_name: str, rid: bytes,
                    extra: list[tuple[bytes, bytes]], head: bool, t0: float) -> None:
        """Answer a request whose deadline passed (:mod:`sim.service.http.deadline`)."""
        exc = late_answer(method, self.deadlines.seconds + TICK)
        log.cause(exc.code, f"request {rid.decode()}: {method} {path}: {exc.detail}")
        status, out, more = render(exc)
        await send_response(send, status, out, JSON, extra + more, head)
        self.metrics.observe(method, route_name, status, time.perf_counter() - t0)

    async def _refuse_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket upgrade: 400 naming what the API takes (it has no WebSocket
        endpoint), answered through the ASGI ``websocket.http.response`` extension that
        uvicorn's WebSocket protocols offer; without it, a close (uvicorn's 403)."""
        await receive()  # websocket.connect
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008})
            return
        status, body, _ = render(HttpError(400, "websocket_unsupported", "this API has no "
                                           "WebSocket endpoint; send plain HTTP requests "
                                           "(without Upgrade: websocket)"))
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", JSON),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "websocket.http.response.body", "body": body})
        self.metrics.observe("GET", "websocket", status, 0.0)

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
                gc.set_threshold(*GC_THRESHOLDS)
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def asgi_app() -> Service:
    """The service configured from the environment (``PROMPTSIM_*``): uvicorn's factory."""
    log.setup()
    return Service(Settings.from_env())
