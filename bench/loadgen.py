"""Servers, seeding and load generators for ``bench_service.py``.

Servers run pinned to the last CPU with ``taskset`` (a two-worker server may use every
CPU), load generators to the first, so that a one-worker server and its load generator
do not take turns on one core. ``wrk`` is the closed-loop generator; ``openloop.c``
(compiled here) the open-loop one.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
DEVICES = 1000
ADMIN = "bench-admin-key-0123456789"
PG_BASE = os.environ.get("PROMPTSIM_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
"""The PostgreSQL database the benchmark makes its schemas in."""


# --- processes -------------------------------------------------------------------------

def _pins() -> tuple[list[str], list[str]]:
    """``taskset`` prefixes: servers on the last CPU, load generators on the first."""
    cpus = os.cpu_count() or 1
    if cpus < 2 or shutil.which("taskset") is None:
        return [], []
    return ["taskset", "-c", str(cpus - 1)], ["taskset", "-c", "0"]


SERVER_PIN, CLIENT_PIN = _pins()


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, path: str = "/healthz", timeout: float = 30.0) -> None:
    """Block until the server answers on ``path``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def start_bare(port: int) -> subprocess.Popen[bytes]:
    """``bench_service:hello`` on uvicorn, one worker."""
    here = str(Path(__file__).resolve().parent)
    cmd = [sys.executable, "-m", "uvicorn", "--app-dir", here, "--host", "127.0.0.1",
           "--port", str(port), "--loop", "uvloop", "--http", "httptools",
           "--no-access-log", "--log-level", "warning", "bench_service:hello"]
    p = subprocess.Popen([*SERVER_PIN, *cmd], cwd=ROOT, start_new_session=True)
    wait_ready(port, "/")
    return p


def start_service(port: int, db: str, workers: int = 1, cache: bool = True,
                  root: Path = ROOT) -> subprocess.Popen[bytes]:
    """``promptsim serve`` on ``db`` (record cache on or off) from the ``sim`` package under
    ``root``; one worker is pinned like the bare app, two or more may use every CPU."""
    cmd = [sys.executable, "-m", "sim", "serve", "--db", db, "--port", str(port),
           "--workers", str(workers), "--admin-key", ADMIN]
    env = os.environ | ({} if cache else {"PROMPTSIM_DEVICE_CACHE": "0"})
    pin = SERVER_PIN if workers == 1 else []
    p = subprocess.Popen([*pin, *cmd], cwd=root, env=env, start_new_session=True)
    wait_ready(port)
    return p


def stop(p: subprocess.Popen[bytes]) -> None:
    """Stop a server started above (its whole process group)."""
    try:
        os.killpg(p.pid, 15)
        p.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(p.pid, 9)
        p.wait()


def cpu_seconds(p: subprocess.Popen[bytes]) -> float:
    """CPU time used so far by a server's processes (its workers included)."""
    import psutil

    try:
        main = psutil.Process(p.pid)
        procs = [main, *main.children(recursive=True)]
    except psutil.Error:
        return 0.0
    return pids_cpu_seconds(proc.pid for proc in procs)


def pids_cpu_seconds(pids: Iterable[int]) -> float:
    """CPU time used so far by the processes ``pids`` (those gone meanwhile count 0)."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


# --- PostgreSQL schemas -----------------------------------------------------------------

def pg_call(call: Callable[[Any], Awaitable[T]]) -> T:
    """``call(connection)`` on a new connection to the benchmark's database."""
    import asyncpg

    async def run() -> T:
        con = await asyncpg.connect(PG_BASE, timeout=5)
        try:
            return await call(con)
        finally:
            await con.close()

    return asyncio.run(run())


def pg_exec(sql: str) -> None:
    """Run ``sql`` (statements separated by ``;``) on the benchmark's database."""
    pg_call(lambda con: con.execute(sql))


def pg_fetch(sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """The rows of one query on the benchmark's database."""
    async def fetch(con: Any) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in await con.fetch(sql, *args)]

    return pg_call(fetch)


def pg_schema() -> str:
    """A new, empty schema; returns the URL whose search_path is it."""
    name = f"promptsim_bench_{uuid.uuid4().hex[:10]}"
    pg_exec(f"CREATE SCHEMA {name}")
    return f"{PG_BASE}?search_path={name}"


def drop_pg_schema(url: str) -> None:
    """Drop a schema made by :func:`pg_schema`."""
    pg_exec(f"DROP SCHEMA IF EXISTS {url.rpartition('=')[2]} CASCADE")


def pg_reachable() -> str | None:
    """None if PostgreSQL answers, else why not."""
    try:
        pg_exec("SELECT 1")
        return None
    except Exception as exc:
        return repr(exc)


# --- seeding ------------------------------------------------------------------------------

class Client:
    """One kept-alive connection for seeding."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: Any, key: str) -> Any:
        """One JSON request; raises on a non-2xx answer."""
        self.conn.request(method, path, json.dumps(body), {"Authorization": f"Bearer {key}"})
        r = self.conn.getresponse()
        data = r.read()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path}: {r.status} {data!r}")
        return json.loads(data)


def seed(port: int) -> str:
    """An app with two campaigns and DEVICES devices; every device has seen the once prompt."""
    c = Client(port)
    key: str = c.call("POST", "/v1/apps", {"name": "bench"}, ADMIN)["api_key"]
    c.call("PUT", "/v1/campaigns/welcome", {"trigger": {"type": "app_open"},
                                             "frequency": {"type": "once"}}, key)
    c.call("PUT", "/v1/campaigns/nudge", {"trigger": {"type": "programmatic"},
                                           "frequency": {"type": "every_time"}}, key)
    seed_devices(c, key, time.time())
    return key


def seed_devices(c: Client, key: str, now: float) -> None:
    """DEVICES Android devices ``d0``... of the app, each with a session started at ``now``
    and asked once on app open (the once prompt shown, or the device assigned an arm)."""
    for i in range(DEVICES):
        c.call("POST", "/v1/devices", {"device_id": f"d{i}", "user_id": f"u{i}",
                                       "platform": "android", "os_version": 14}, key)
        c.call("POST", f"/v1/devices/d{i}/events", {"events": [
            {"type": "session_start", "event_id": "s1", "at": now}]}, key)
        c.call("POST", f"/v1/devices/d{i}/eligibility", {"trigger": "app_open"}, key)


# --- wrk -------------------------------------------------------------------------------------

ELIGIBILITY_LUA = """
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/v1/devices/d" .. (n %% %(devices)d) .. "/eligibility",
    {["Authorization"] = "Bearer %(key)s", ["Content-Type"] = "application/json"},
    '{"trigger":"%(trigger)s"}')
end
"""

EVENTS_LUA = """
local n = 0
request = function()
  n = n + 1
  local parts = {}
  for i = 1, %(batch)d do
    parts[i] = '{"type":"session_time","seconds":12.5,"event_id":"%(prefix)s' .. n .. '-' .. i ..
      '","at":1700000000}'
  end
  return wrk.format("POST", "/v1/devices/d" .. (n %% %(devices)d) .. "/events",
    {["Authorization"] = "Bearer %(key)s", ["Content-Type"] = "application/json"},
    '{"events":[' .. table.concat(parts, ",") .. ']}')
end
"""

THINK_LUA = """
math.randomseed(%(seed)d)
function delay()
  return math.floor(-math.log(1 - math.random()) * %(mean_ms).3f + 0.5)
end
"""


def decide_lua(key: str, trigger: str) -> str:
    """Eligibility requests over the seeded devices, for ``trigger``."""
    return ELIGIBILITY_LUA % {"devices": DEVICES, "key": key, "trigger": trigger}


def events_lua(key: str, batch: int = 100) -> str:
    """Batches of ``batch`` new ``session_time`` events over the seeded devices (ids never
    used before: a fresh prefix each time)."""
    return EVENTS_LUA % {"devices": DEVICES, "key": key, "batch": batch,
                         "prefix": uuid.uuid4().hex[:8]}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    assert m, text
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[str(m[2])]
    return float(m[1]) * scale


def wrk(port: int, lua: str, seconds: int, connections: int = 32) -> dict[str, float]:
    """Run wrk with a Lua request script; req/s, p50, p99 (ms) and non-2xx count."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
    try:
        out = subprocess.run([*CLIENT_PIN, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
                              "--latency", "-s", f.name, f"http://127.0.0.1:{port}/"],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out)[1])  # type: ignore[index]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "non2xx": float(bad[1]) if bad else 0.0}


def paced(port: int, lua: str, rate: float, seconds: int,
          connections: int = 64) -> dict[str, float]:
    """wrk at about ``rate`` req/s: each connection waits an exponential think time
    between requests, its mean calibrated by a 2 s trial for the time requests take."""
    def think(mean_ms: float) -> str:
        return lua + THINK_LUA % {"seed": 7, "mean_ms": max(0.5, mean_ms)}

    target = connections * 1000 / rate  # ms per request and connection
    trial = wrk(port, think(target), 2, connections)
    in_flight = max(0.0, connections * 1000 / max(trial["rps"], 1.0) - target)
    r = wrk(port, think(target - in_flight), seconds, connections)
    return r | {"rate": r["rps"]}


# --- open loop ---------------------------------------------------------------------------------

def build_openloop(tmp: Path) -> Path | None:
    """Compile ``bench/openloop.c``; None without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    exe = tmp / "openloop"
    subprocess.run([cc, "-O2", "-o", str(exe), str(ROOT / "bench" / "openloop.c"), "-lm"],
                   check=True)
    return exe


def write_requests(path: Path, key: str) -> None:
    """The read-path requests, one per device, in ``openloop``'s "<length>\\n<bytes>" form."""
    body = b'{"trigger":"app_open"}'
    with path.open("wb") as f:
        for i in range(DEVICES):
            r = (f"POST /v1/devices/d{i}/eligibility HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            f.write(f"{len(r)}\n".encode() + r)


def openloop(exe: Path, port: int, requests: Path, rate: float, seconds: int,
             connections: int = 32) -> dict[str, float]:
    """Poisson arrivals at ``rate`` of the ``requests``; latency from schedule."""
    out = subprocess.run([*CLIENT_PIN, str(exe), str(port), f"{rate:.1f}", str(seconds), "1",
                          str(connections), str(requests), "7"],
                         capture_output=True, text=True, check=True).stdout
    result: dict[str, float] = json.loads(out)
    return result
