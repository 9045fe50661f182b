"""Benchmark of the eligibility service against a bare ASGI app on the same server.

Run from the repository root (wrk must be installed: ``apt-get install -y wrk``;
a C compiler builds the open-loop client)::

    python bench/bench_service.py [--runs 3] [--seconds 9]

For each run and server it starts side by side, one worker each, on loopback:

1. the bare ASGI "hello world" below (it answers without reading the body);
2. ``promptsim serve`` on a fresh SQLite file, seeded with one app, a campaign
   set and 1,000 registered devices.

With ``taskset`` (and two or more CPUs) the servers run on the last CPU and the
load generators on the first, so that they do not take turns on one core. It
measures, with ``wrk -t1 -c32 --latency`` and the same POST request shape,
alternating between them in slices (bare, read, write; three rounds) so that
background load on a shared machine hits all three alike; ratios are the
median of the per-round ratios:

* **bare**: req/s, p50, p99 of the hello world;
* **decide (read)**: eligibility where the answer is ``show=false``
  (``frequency_limit``: the once-only prompt was already shown) -- the common
  case, decided on the committed state without a write;
* **decide (write)**: eligibility where every answer is ``show=true`` (an
  ``every_time`` campaign): each reserves the impression in a write
  transaction;
* **p99 at 70%**: the read request again at 70% of the maximum read rate wrk
  measured just before, two ways:

  - *open loop* (``bench/openloop.c``): Poisson arrivals on 32 keep-alive
    connections, each latency counted from the request's *scheduled* time, so
    a stall is charged to every request it delays (wrk2-style; no coordinated
    omission). The bare app is measured at the same absolute rate as a floor;
  - *wrk paced*: wrk with 64 connections, each waiting an exponentially
    distributed think time (Lua ``delay()``) between requests, calibrated by a
    2 s trial to the same rate. Closed loop: if the server stalled for longer
    than the think time (about 8 ms), wrk would send less;

* **decide (read, cache off)**: the service restarted on the same file with
  ``PROMPTSIM_DEVICE_CACHE=0``, every read going to SQLite (the rate when the
  devices asked about are not in the worker's record cache);
* **ingestion**: batches of 100 events (``session_time``, unique ids) to 1,000
  devices; events/s = 2xx batches/s x 100.

It prints each run and then the medians. Targets (issue 3): decisions >= 50% of
bare, p99 <= 10 ms at 70% of max, ingestion >= 5,000 events/s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEVICES = 1000
ADMIN = "bench-admin-key"


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The bare ASGI app: a fixed JSON body, nothing else."""
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = b'{"show":false,"reason":"hello"}'
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


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


def wait_ready(port: int, path: str = "/healthz", timeout: float = 20.0) -> None:
    """Block until the server answers on ``path``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", path)
            c.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def start_bare(server: str, port: int) -> subprocess.Popen[bytes]:
    """The hello-world app on ``server``, one worker."""
    here = str(Path(__file__).resolve().parent)
    cmd = [sys.executable, "-m", "uvicorn", "--app-dir", here, "--host", "127.0.0.1",
           "--port", str(port), "--loop", "uvloop", "--http", "httptools",
           "--no-access-log", "--log-level", "warning", "bench_service:hello"]
    p = subprocess.Popen([*SERVER_PIN, *cmd], cwd=ROOT, start_new_session=True)
    wait_ready(port, "/")
    return p


def start_service(server: str, port: int, db: str, cache: bool = True) -> subprocess.Popen[bytes]:
    """``promptsim serve`` on a SQLite file, one worker (record cache on or off)."""
    cmd = [sys.executable, "-m", "sim", "serve", "--db", db, "--port", str(port),
           "--workers", "1", "--admin-key", ADMIN]
    env = os.environ | ({} if cache else {"PROMPTSIM_DEVICE_CACHE": "0"})
    p = subprocess.Popen([*SERVER_PIN, *cmd], cwd=ROOT, env=env, start_new_session=True)
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


# --- seeding ------------------------------------------------------------------------------

def call(port: int, method: str, path: str, body: Any, key: str) -> Any:
    """One JSON request; raises on a non-2xx answer."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, json.dumps(body), {"Authorization": f"Bearer {key}"})
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise RuntimeError(f"{method} {path}: {r.status} {data!r}")
    return json.loads(data)


def seed(port: int) -> str:
    """An app with two campaigns and DEVICES devices; every device has seen the once prompt."""
    key: str = call(port, "POST", "/v1/apps", {"name": "bench"}, ADMIN)["api_key"]
    call(port, "PUT", "/v1/campaigns/welcome", {"trigger": {"type": "app_open"},
                                                 "frequency": {"type": "once"}}, key)
    call(port, "PUT", "/v1/campaigns/nudge", {"trigger": {"type": "programmatic"},
                                               "frequency": {"type": "every_time"}}, key)
    now = time.time()
    for i in range(DEVICES):
        call(port, "POST", "/v1/devices", {"device_id": f"d{i}", "user_id": f"u{i}",
                                           "platform": "android", "os_version": 14}, key)
        call(port, "POST", f"/v1/devices/d{i}/events", {"events": [
            {"type": "session_start", "event_id": "s1", "at": now}]}, key)
        call(port, "POST", f"/v1/devices/d{i}/eligibility", {"trigger": "app_open"}, key)
    return key


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
    parts[i] = '{"type":"session_time","seconds":12.5,"event_id":"w' .. n .. '-' .. i ..
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


# --- one run -----------------------------------------------------------------------------------

def _mean(xs: list[dict[str, float]], k: str) -> float:
    return statistics.fmean(x[k] for x in xs)


def _median(xs: list[dict[str, float]], k: str) -> float:
    return statistics.median(x[k] for x in xs)


NAN = float("nan")


def run_once(server: str, seconds: int, exe: Path | None, rounds: int = 3) -> dict[str, float]:
    """Bare, decide (read / write), p99 at 70%, cache off and ingestion for one server.

    Both servers run side by side and wrk alternates between them in slices of
    ``seconds / rounds`` (bare, read, write, bare, read, write, ...), so a change
    in the machine's background load hits all three alike.
    """
    slice_s = max(2, seconds // rounds)
    bare_port, port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db = str(tmp / "bench.sqlite3")
        bare = start_bare(server, bare_port)
        svc = start_service(server, port, db)
        try:
            key = seed(port)
            lua = {t: ELIGIBILITY_LUA % {"devices": DEVICES, "key": key, "trigger": t}
                   for t in ("app_open", "programmatic")}
            b, r, w = [], [], []
            for _ in range(rounds):
                b.append(wrk(bare_port, lua["app_open"], slice_s))
                r.append(wrk(port, lua["app_open"], slice_s))
                w.append(wrk(port, lua["programmatic"], slice_s))
            now_max = wrk(port, lua["app_open"], slice_s)["rps"]  # max rate, just before
            rate = 0.7 * now_max
            o = ob = {"achieved": NAN, "p50": NAN, "p99": NAN, "non2xx": 0.0}
            if exe is not None:
                requests = tmp / "requests.bin"
                write_requests(requests, key)
                o = openloop(exe, port, requests, rate, slice_s + 2)
                ob = openloop(exe, bare_port, requests, rate, slice_s + 2)
            f = paced(port, lua["app_open"], rate, slice_s + 2)
            e = wrk(port, EVENTS_LUA % {"devices": DEVICES, "key": key, "batch": 100}, slice_s,
                    connections=8)
            stop(svc)
            svc = start_service(server, port, db, cache=False)
            u = wrk(port, lua["app_open"], slice_s)
        finally:
            stop(svc)
            stop(bare)
    assert all(x["non2xx"] == 0 for x in (*r, *w, e, f, o, u)), (r, w, e, f, o, u)
    return {
        "bare_rps": _mean(b, "rps"), "bare_p50": _median(b, "p50"), "bare_p99": _median(b, "p99"),
        "read_rps": _mean(r, "rps"), "read_p50": _median(r, "p50"), "read_p99": _median(r, "p99"),
        "write_rps": _mean(w, "rps"), "write_p50": _median(w, "p50"),
        "write_p99": _median(w, "p99"),
        "read_ratio": statistics.median(x["rps"] / y["rps"] for x, y in zip(r, b, strict=True)),
        "write_ratio": statistics.median(x["rps"] / y["rps"] for x, y in zip(w, b, strict=True)),
        "uncached_rps": u["rps"], "uncached_ratio": u["rps"] / _mean(b, "rps"),
        "max_before": now_max, "rate70": rate,
        "open_rate": o["achieved"], "open_p50": o["p50"], "open_p99": o["p99"],
        "open_bare_p50": ob["p50"], "open_bare_p99": ob["p99"],
        "paced_rate": f["rate"], "paced_p50": f["p50"], "paced_p99": f["p99"],
        "events_per_s": e["rps"] * 100,
    }


def show(label: str, r: dict[str, float]) -> None:
    """Print one result block."""
    print(f"{label}\n"
          f"  bare ASGI        {r['bare_rps']:9.0f} req/s  p50 {r['bare_p50']:.2f} ms  "
          f"p99 {r['bare_p99']:.2f} ms\n"
          f"  decide (read)    {r['read_rps']:9.0f} req/s  p50 {r['read_p50']:.2f} ms  "
          f"p99 {r['read_p99']:.2f} ms  = {r['read_ratio']:.0%} of bare\n"
          f"  decide (write)   {r['write_rps']:9.0f} req/s  p50 {r['write_p50']:.2f} ms  "
          f"p99 {r['write_p99']:.2f} ms  = {r['write_ratio']:.0%} of bare\n"
          f"  read, cache off  {r['uncached_rps']:9.0f} req/s  = {r['uncached_ratio']:.0%} of "
          f"bare\n"
          f"  at 70% of the {r['max_before']:.0f}/s read max ({r['rate70']:.0f}/s):\n"
          f"    open loop      {r['open_rate']:9.0f}/s     p50 {r['open_p50']:.2f} ms  "
          f"p99 {r['open_p99']:.2f} ms  (bare app at the same rate: p50 "
          f"{r['open_bare_p50']:.2f} ms, p99 {r['open_bare_p99']:.2f} ms)\n"
          f"    wrk paced      {r['paced_rate']:9.0f}/s     p50 {r['paced_p50']:.2f} ms  "
          f"p99 {r['paced_p99']:.2f} ms  (64 connections, exponential think time)\n"
          f"  ingestion        {r['events_per_s']:9.0f} events/s (batches of 100)", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print per-run figures and medians."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=9)
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench_service: wrk is not installed; install it with "
              "'apt-get update && apt-get install -y wrk' and run again", file=sys.stderr)
        return 2
    print(f"servers pinned with {' '.join(SERVER_PIN) or 'nothing'}; load generators with "
          f"{' '.join(CLIENT_PIN) or 'nothing'}", flush=True)
    servers = ("uvicorn",)
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_openloop(Path(tmp))
        if exe is None:
            print("bench_service: no C compiler: the open-loop latency is skipped",
                  file=sys.stderr)
        for server in servers:
            runs = []
            for i in range(args.runs):
                r = run_once(server, args.seconds, exe)
                show(f"{server} run {i + 1}", r)
                runs.append(r)
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            show(f"{server} MEDIAN of {args.runs} runs", med)
    return 0


if __name__ == "__main__":
    sys.exit(main())
