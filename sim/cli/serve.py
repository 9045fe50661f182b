"""``promptsim serve`` and ``promptsim apps create``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from sim.cli import UsageError


def register(sub: Any) -> None:
    """Add the service's subcommands to the ``promptsim`` parser."""
    p = sub.add_parser("serve", help="run the eligibility service",
                       description="Run the eligibility service (migrates the store first).")
    p.add_argument("--db", default=None, help="SQLite file (default promptsim.sqlite3, or "
                   "$PROMPTSIM_DB) or postgresql://USER@HOST:PORT/DB[?search_path=SCHEMA]")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--admin-key", default=None,
                   help="enables POST /v1/apps with this bearer key (or $PROMPTSIM_ADMIN_KEY)")
    p.add_argument("--log-level", default="warning")
    p.set_defaults(func=serve)

    apps = sub.add_parser("apps", help="manage apps (tenants)").add_subparsers(
        dest="apps_command", required=True, metavar="ACTION")
    c = apps.add_parser("create", help="create an app; prints its id and API key as JSON")
    c.add_argument("name")
    c.add_argument("--clock", choices=("server", "client"), default="server",
                   help="whose time drives the rules: the server's, or the events' own 'at'")
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
    from sim.service.storage.store import open_store

    store = open_store(_settings(db))
    await store.open()
    return store


def serve(args: argparse.Namespace) -> int:
    """Migrate the store, then run the server (workers import ``asgi_app``)."""
    settings = _settings(args.db)
    if args.admin_key:
        os.environ["PROMPTSIM_ADMIN_KEY"] = args.admin_key

    async def migrate() -> None:
        store = await _open(None)
        await store.close()

    asyncio.run(migrate())
    print(f"promptsim serve: {settings.db} on http://{args.host}:{args.port} "
          f"({args.workers} worker(s))", file=sys.stderr, flush=True)
    import uvicorn

    uvicorn.run("sim.service.http.service:asgi_app", factory=True, host=args.host,
                port=args.port, workers=args.workers, loop="uvloop", http="httptools",
                lifespan="on", log_level=args.log_level, access_log=False)
    return 0


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
