"""``promptsim serve`` and ``promptsim apps create``."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from sim.cli import UsageError, positive_int


def register(sub: Any) -> None:
    """Add the service's subcommands to the ``promptsim`` parser."""
    p = sub.add_parser("serve", help="run the eligibility service",
                       description="Run the eligibility service (migrates the store first).")
    p.add_argument("--db", default=None, help="SQLite file (default data/promptsim.sqlite3, or "
                   "$PROMPTSIM_DB) or postgresql://USER@HOST:PORT/DB[?search_path=SCHEMA]")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=positive_int, default=8000,
                   help="TCP port (default 8000)")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="server processes sharing the port (default 1)")
    p.add_argument("--admin-key", default=None,
                   help="enables POST /v1/apps with this bearer key (visible to ps: prefer "
                   "$PROMPTSIM_ADMIN_KEY or --admin-key-file)")
    p.add_argument("--admin-key-file", default=None, metavar="PATH",
                   help="read the admin key from the first line of this file "
                   "(or $PROMPTSIM_ADMIN_KEY_FILE)")
    p.add_argument("--log-level", default="warning",
                   choices=("critical", "error", "warning", "info", "debug"),
                   help="the server log's threshold (default warning)")
    p.set_defaults(func=serve)

    apps = sub.add_parser("apps", help="manage apps (tenants)").add_subparsers(
        dest="apps_command", required=True, metavar="ACTION")
    c = apps.add_parser("create", help="create an app; prints its id and API key as JSON")
    c.add_argument("name", help="the app's name, shown in its listing")
    c.add_argument("--clock", choices=("server", "client"), default="server",
                   help="whose time drives the rules: the server's, or the events' own 'at' "
                   "(default server)")
    c.add_argument("--db", default=None, help="as for serve")
    c.set_defaults(func=apps_create)


def _settings(db: str | None) -> Any:
    from sim.service.settings import Settings, SettingsError

    if db is not None:
        os.environ["PROMPTSIM_DB"] = db
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise UsageError(str(exc)) from None


async def _open(db: str | None) -> Any:
    """The opened (checked, migrated) store; a store it cannot use is a one-line error."""
    from sim.service.errors import ServiceError
    from sim.service.storage.store import open_store

    store = open_store(_settings(db))
    try:
        await store.open()
    except ServiceError as exc:
        raise UsageError(exc.detail) from None
    return store


def serve(args: argparse.Namespace) -> int:
    """Check and migrate the store, then run the server (workers import ``asgi_app``)."""
    if args.admin_key:
        os.environ["PROMPTSIM_ADMIN_KEY"] = args.admin_key
    if args.admin_key_file:
        os.environ["PROMPTSIM_ADMIN_KEY_FILE"] = args.admin_key_file
    made = None
    given = os.environ.get("PROMPTSIM_METRICS_DIR")
    if given:  # the workers of an earlier run must not count in this one's sums
        try:
            os.makedirs(given, exist_ok=True)
            for old in Path(given).glob("worker-*.json"):
                old.unlink()
        except OSError as exc:
            raise UsageError(f"PROMPTSIM_METRICS_DIR: cannot use {given} ({exc.strerror})") \
                from None
    else:  # one scrape answers for every worker
        made = os.environ["PROMPTSIM_METRICS_DIR"] = tempfile.mkdtemp(prefix="promptsim-metrics-")
    try:
        return _serve(args)
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


def _serve(args: argparse.Namespace) -> int:
    from sim.service.http.headers import cors_origins
    from sim.service.settings import SettingsError

    settings = _settings(args.db)
    try:
        settings.admin()
        cors_origins(settings.cors_origins)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None

    async def migrate() -> str | None:
        store = await _open(None)
        await store.close()
        return getattr(store, "schema", None)

    schema = asyncio.run(migrate())
    _check_port(args.host, args.port)
    if schema:
        from sim.service.storage.postgres import safe_dsn

        where = f"{safe_dsn(settings.db)} (tables in schema {schema})"
    else:
        where = settings.db
    print(f"promptsim serve: {where} on http://{args.host}:{args.port} "
          f"({args.workers} worker(s))", file=sys.stderr, flush=True)
    import uvicorn

    from sim.service.http.protocol import GuardedHttpProtocol

    uvicorn.run("sim.cli.serve:asgi_app", factory=True, host=args.host,
                port=args.port, workers=args.workers, loop="uvloop", http=GuardedHttpProtocol,
                timeout_keep_alive=settings.keep_alive_timeout, lifespan="on",
                log_level=args.log_level, access_log=False, server_header=False)
    return 0


def _check_port(host: str, port: int) -> None:
    """A one-line error, before anything is printed, when the address cannot be bound (uvicorn
    would log its own error after our "serving on" line)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: cannot resolve it ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind(address)
        except OSError as exc:
            raise UsageError(f"--port {port}: cannot listen on {host}:{port} "
                             f"({exc.strerror}); is another server running there?") from None


def apps_create(args: argparse.Namespace) -> int:
    """Create an app and print ``{"app_id", "name", "clock", "api_key"}``."""
    import msgspec

    async def run() -> Any:
        store = await _open(args.db)
        try:
            return await store.create_app(args.name, args.clock)
        finally:
            await store.close()

    created = asyncio.run(run())
    print(msgspec.json.encode(created).decode())
    return 0


def experiment_page(stats: bytes, source: str) -> str:
    """The reports' experiment page (``reports.pilot.service_page``), imported at the first
    page a worker serves: the reports bring pandas, SciPy and matplotlib, most of the 2.5 s
    and 212 MiB a worker took to answer ``/healthz`` (0.8 s and 52 MiB without them), and
    most workers never serve a page."""
    from reports.pilot import service_page

    return service_page(stats, source)


def asgi_app() -> Any:
    """uvicorn's factory for ``promptsim serve``: the service configured from the
    environment, with the experiment pages of the reports plugged in."""
    from sim.service.http.service import asgi_app as service_app

    service = service_app()
    service.page = experiment_page
    return service
