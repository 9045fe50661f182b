"""Fixtures for the service tests: both stores, an in-process client, real server processes.

PostgreSQL tests use a fresh, uniquely named schema per test (``search_path``
in the URL) and drop it afterwards. When PostgreSQL is unreachable they skip,
except under ``CI``, where they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pg_helpers as pg
import pytest
from service_helpers import ADMIN, free_port

from sim.service.http.service import Service
from sim.service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def pg_available() -> bool:
    """Whether PostgreSQL answers; under CI its absence is a failure, not a skip."""
    return pg.available()


@pytest.fixture
def pg_url(pg_available: bool) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a new, empty schema (dropped afterwards)."""
    pg.skip_unless(pg_available)
    schema = pg.schema_name()
    pg.execute(f"CREATE SCHEMA {schema}")
    yield f"{pg.PG_BASE}?search_path={schema}"
    pg.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store in turn: a SQLite file, then a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "service.sqlite3")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file for tests that need only one store."""
    return str(tmp_path / "service.sqlite3")


# --- in-process client ---------------------------------------------------------------------

class Api:
    """A synchronous face on ``httpx.AsyncClient`` + ``ASGITransport`` over one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, http: httpx.AsyncClient,
                 key: str = "") -> None:
        self.loop, self.http, self.key = loop, http, key

    def request(self, method: str, path: str, json: Any = None, *, key: str | None = None,
                content: bytes | None = None, headers: dict[str, str] | None = None
                ) -> httpx.Response:
        """Send one request; ``key`` overrides the client's API key ("" sends none)."""
        k = self.key if key is None else key
        h = {"Authorization": f"Bearer {k}"} if k else {}
        h |= headers or {}
        return self.loop.run_until_complete(
            self.http.request(method, path, json=json, content=content, headers=h))

    def get(self, path: str, **kw: Any) -> httpx.Response:
        """GET."""
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        """POST."""
        return self.request("POST", path, json, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        """PUT."""
        return self.request("PUT", path, json, **kw)

    def new_app(self, clock: str = "client", name: str = "test") -> Api:
        """A client for a newly created app."""
        r = self.post("/v1/apps", {"name": name, "clock": clock}, key=ADMIN)
        assert r.status_code == 201, r.text
        return Api(self.loop, self.http, r.json()["api_key"])

    def run(self, coro: Any) -> Any:
        """Run a coroutine on this client's loop."""
        return self.loop.run_until_complete(coro)


@pytest.fixture
def service(db_url: str) -> Iterator[Api]:
    """The app in-process on each store, with the admin key; no app key yet."""
    yield from _service(db_url)


@pytest.fixture
def sqlite_service(sqlite_url: str) -> Iterator[Api]:
    """The app in-process on SQLite only."""
    yield from _service(sqlite_url)


def _service(db: str) -> Iterator[Api]:
    loop = asyncio.new_event_loop()
    app = Service(Settings(db=db, admin_key=ADMIN))
    loop.run_until_complete(app.startup())
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url="http://service")
    try:
        yield Api(loop, http)
    finally:
        loop.run_until_complete(http.aclose())
        loop.run_until_complete(app.shutdown())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@pytest.fixture
def api(service: Api) -> Api:
    """A client-clock app on each store."""
    return service.new_app("client")


# --- real server processes ----------------------------------------------------------------------

class Server:
    """``python -m sim serve`` in a subprocess (its own process group)."""

    def __init__(self, db: str, workers: int = 1, log: Path | None = None,
                 env: dict[str, str] | None = None, nofile: int | None = None,
                 factory: str | None = None) -> None:
        self.db, self.workers = db, workers
        self.factory = factory
        """An ASGI factory to run on uvicorn instead of ``promptsim serve`` (which plugs the
        reports in): ``sim.service.http.service:asgi_app``, the service alone."""
        self.env = env or {}
        self.nofile = nofile
        """A lower file-descriptor limit for the server process."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        """Start and wait until ``/healthz`` answers."""
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        nofile = self.nofile

        def limit() -> None:
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        cmd = [sys.executable, "-m", "sim", "serve", "--db", self.db, "--port",
               str(self.port), "--workers", str(self.workers), "--admin-key", ADMIN]
        env = os.environ | self.env
        if self.factory is not None:
            cmd = [sys.executable, "-m", "uvicorn", "--factory", self.factory, "--port",
                   str(self.port), "--workers", str(self.workers), "--log-level", "warning"]
            env |= {"PROMPTSIM_DB": self.db, "PROMPTSIM_ADMIN_KEY": ADMIN}
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=out,
                                     start_new_session=True, env=env, preexec_fn=limit)
        if out is not subprocess.DEVNULL:
            out.close()
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become healthy")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole process group and wait for the main process."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        self.proc.wait(30)

    def stop(self) -> None:
        """Terminate gracefully (SIGTERM), or kill after 15 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.kill(signal.SIGTERM)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
        # reap stray workers of the group, if any survived their parent
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def rss(self) -> int:
        """Resident memory of the server's processes, bytes."""
        import psutil

        assert self.proc is not None
        main = psutil.Process(self.proc.pid)
        return sum(p.memory_info().rss for p in [main, *main.children(recursive=True)])

    def new_app(self, clock: str = "client") -> str:
        """Create an app over HTTP; return its key."""
        r = httpx.post(self.url + "/v1/apps", json={"name": "t", "clock": clock},
                       headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
        assert r.status_code == 201, r.text
        key: str = r.json()["api_key"]
        return key


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    """Start servers with ``server_factory(db, workers=1, env=None, nofile=None,
    factory=None)``; all are stopped afterwards."""
    started: list[Server] = []

    def make(db: str, workers: int = 1, env: dict[str, str] | None = None,
             nofile: int | None = None, factory: str | None = None) -> Server:
        s = Server(db, workers, tmp_path / "server.log", env, nofile, factory).start()
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()
