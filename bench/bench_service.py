"""Benchmark of the eligibility service against a bare ASGI app on the same server.

Run from the repository root (wrk must be installed: ``apt-get install -y wrk``)::

    python bench/bench_service.py [--runs 3] [--server uvicorn|granian|both] [--seconds 8]

For each run and server it starts side by side, one worker each, on loopback:

1. the bare ASGI "hello world" below (it answers without reading the body);
2. ``promptsim serve`` on a fresh SQLite file, seeded with one app, a campaign
   set and 1,000 registered devices.

and measures, with ``wrk -t1 -c32 --latency`` and the same POST request shape,
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
* **p99 at 70%**: wrk again, but each connection waits ``connections / rate``
  ms between requests (wrk's Lua ``delay()``), so the offered load is about 70%
  of the maximum wrk measured in the slice just before; the rate achieved is
  printed. This is closed-loop with think time: if the server stalled, wrk
  would send less (wrk2's coordinated-omission correction is not in Debian's
  wrk). ``--open-loop`` adds a true open-loop client (asyncio + uvloop, 64
  keep-alive connections in turn; latency from the *scheduled* send time), but
  it is Python on the same two cores as the server and inflates latency there;
* **ingestion**: batches of 100 events (``session_time``, unique ids) to 1,000
  devices; events/s = 2xx batches/s x 100.

It prints each run and then the medians. Targets (issue 3): decisions >= 50% of
bare, p99 <= 10 ms at 70% of max, ingestion >= 5,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
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
from collections import deque
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
    if server == "granian":
        cmd = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1", "--loop", "uvloop", "--log-level",
               "warning", "--working-dir", here, "bench_service:hello"]
    else:
        cmd = [sys.executable, "-m", "uvicorn", "--app-dir", here, "--host", "127.0.0.1",
               "--port", str(port), "--loop", "uvloop", "--http", "httptools",
               "--no-access-log", "--log-level", "warning", "bench_service:hello"]
    p = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
    wait_ready(port, "/")
    return p


def start_service(server: str, port: int, db: str) -> subprocess.Popen[bytes]:
    """``promptsim serve`` on a SQLite file, one worker."""
    cmd = [sys.executable, "-m", "sim.service", "serve", "--db", db, "--port", str(port),
           "--workers", "1", "--server", server, "--admin-key", ADMIN]
    p = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
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
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                              "-s", f.name, f"http://127.0.0.1:{port}/"],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out)[1])  # type: ignore[index]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "non2xx": float(bad[1]) if bad else 0.0}


def paced(port: int, lua: str, rate: float, seconds: int) -> dict[str, float]:
    """wrk at about ``rate`` req/s: each connection waits a think time between requests
    (wrk's ``delay()``, whole ms), calibrated by a 2 s trial so the offered load is fixed
    below the maximum."""
    connections = max(16, int(rate * 0.04))
    think = connections * 1000 / rate
    trial = wrk(port, lua + f"\nfunction delay() return {round(think)} end\n", 2, connections)
    latency = max(0.0, connections * 1000 / max(trial["rps"], 1.0) - round(think))
    think = max(1.0, connections * 1000 / rate - latency)
    r = wrk(port, lua + f"\nfunction delay() return {round(think)} end\n", seconds,
            connections)
    return r | {"rate": r["rps"]}


# --- fixed-rate (open-loop) client -----------------------------------------------------------

class _Conn(asyncio.Protocol):
    def __init__(self, lat: list[float], errors: list[int]) -> None:
        self.buf = bytearray()
        self.sent: deque[float] = deque()
        self.lat = lat
        self.errors = errors
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i < 0:
                return
            head = bytes(self.buf[:i]).lower()
            j = head.find(b"content-length:")
            length = int(head[j + 15:head.find(b"\r\n", j) if b"\r\n" in head[j:] else None]) \
                if j >= 0 else 0
            if len(self.buf) < i + 4 + length:
                return
            status = int(self.buf[9:12])
            del self.buf[:i + 4 + length]
            self.lat.append(time.perf_counter() - self.sent.popleft())
            if status >= 300:
                self.errors.append(status)


async def _fixed_rate(port: int, requests: list[bytes], rate: float, seconds: float,
                      connections: int = 64) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    lat: list[float] = []
    errors: list[int] = []
    conns = []
    for _ in range(connections):
        _, proto = await loop.create_connection(lambda: _Conn(lat, errors), "127.0.0.1", port)
        conns.append(proto)
    total = int(rate * seconds)
    start = time.perf_counter() + 0.05
    k = 0
    while k < total:
        now = time.perf_counter()
        due = min(total, int((now - start) * rate) + 1)
        while k < due:
            c = conns[k % connections]  # round robin; pipelined when a connection is busy
            c.sent.append(start + k / rate)  # scheduled time: queueing is measured
            c.transport.write(requests[k % len(requests)])
            k += 1
        await asyncio.sleep(0.0005)
    end = time.perf_counter() + 10
    while len(lat) + 0 < total and time.perf_counter() < end:
        await asyncio.sleep(0.01)
    for c in conns:
        c.transport.close()
    lat.sort()
    q = statistics.quantiles(lat, n=100)
    return {"rate": rate, "sent": float(total), "done": float(len(lat)),
            "p50": q[49] * 1000, "p99": q[98] * 1000, "non2xx": float(len(errors))}


def fixed_rate(port: int, key: str, rate: float, seconds: float) -> dict[str, float]:
    """Open-loop load at ``rate`` req/s of the read-path eligibility request."""
    body = b'{"trigger":"app_open"}'
    reqs = [(f"POST /v1/devices/d{i}/eligibility HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
             f"Content-Length: {len(body)}\r\n\r\n").encode() + body for i in range(DEVICES)]
    try:
        import uvloop

        return uvloop.run(_fixed_rate(port, reqs, rate, seconds))
    except ImportError:  # pragma: no cover
        return asyncio.run(_fixed_rate(port, reqs, rate, seconds))


# --- one run -----------------------------------------------------------------------------------

def _mean(xs: list[dict[str, float]], k: str) -> float:
    return statistics.fmean(x[k] for x in xs)


def _median(xs: list[dict[str, float]], k: str) -> float:
    return statistics.median(x[k] for x in xs)


def run_once(server: str, seconds: int, rounds: int = 3,
             open_loop: bool = False) -> dict[str, float]:
    """Bare, decide (read / write), p99 at 70% and ingestion for one server.

    Both servers run side by side and wrk alternates between them in slices of
    ``seconds / rounds`` (bare, read, write, bare, read, write, ...), so a change
    in the machine's background load hits all three alike.
    """
    slice_s = max(2, seconds // rounds)
    bare_port, port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        bare = start_bare(server, bare_port)
        svc = start_service(server, port, str(Path(tmp) / "bench.sqlite3"))
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
            f = paced(port, lua["app_open"], 0.7 * now_max, slice_s + 2)
            o = fixed_rate(port, key, 0.7 * now_max, slice_s + 2) if open_loop else f
            e = wrk(port, EVENTS_LUA % {"devices": DEVICES, "key": key, "batch": 100}, slice_s,
                    connections=8)
        finally:
            stop(svc)
            stop(bare)
    assert all(x["non2xx"] == 0 for x in (*r, *w, e, f, o)), (r, w, e, f, o)
    return {
        "bare_rps": _mean(b, "rps"), "bare_p50": _median(b, "p50"), "bare_p99": _median(b, "p99"),
        "read_rps": _mean(r, "rps"), "read_p50": _median(r, "p50"), "read_p99": _median(r, "p99"),
        "write_rps": _mean(w, "rps"), "write_p50": _median(w, "p50"),
        "write_p99": _median(w, "p99"),
        "read_ratio": statistics.median(x["rps"] / y["rps"] for x, y in zip(r, b, strict=True)),
        "write_ratio": statistics.median(x["rps"] / y["rps"] for x, y in zip(w, b, strict=True)),
        "max_before": now_max, "rate70": f["rate"], "p50_at_70": f["p50"],
        "p99_at_70": f["p99"], "open_rate": o["rate"], "open_p50": o["p50"],
        "open_p99": o["p99"], "events_per_s": e["rps"] * 100,
    }


def show(label: str, r: dict[str, float], open_loop: bool = False) -> None:
    """Print one result line block."""
    print(f"{label}\n"
          f"  bare ASGI        {r['bare_rps']:9.0f} req/s  p50 {r['bare_p50']:.2f} ms  "
          f"p99 {r['bare_p99']:.2f} ms\n"
          f"  decide (read)    {r['read_rps']:9.0f} req/s  p50 {r['read_p50']:.2f} ms  "
          f"p99 {r['read_p99']:.2f} ms  = {r['read_ratio']:.0%} of bare\n"
          f"  decide (write)   {r['write_rps']:9.0f} req/s  p50 {r['write_p50']:.2f} ms  "
          f"p99 {r['write_p99']:.2f} ms  = {r['write_ratio']:.0%} of bare\n"
          f"  paced {r['rate70']:7.0f}/s    p50 {r['p50_at_70']:.2f} ms  "
          f"p99 {r['p99_at_70']:.2f} ms  (wrk with think time; "
          f"{r['rate70'] / r['max_before']:.0%} of the {r['max_before']:.0f}/s max)\n"
          + (f"  open loop {r['open_rate']:5.0f}/s p50 {r['open_p50']:.2f} ms  "
             f"p99 {r['open_p99']:.2f} ms  (python fixed-rate client)\n" if open_loop else "") +
          f"  ingestion        {r['events_per_s']:9.0f} events/s (batches of 100)", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print per-run figures and medians."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--server", choices=("uvicorn", "granian", "both"), default="uvicorn")
    ap.add_argument("--open-loop", action="store_true",
                    help="also measure p99 at 70%% with the python open-loop client")
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench_service: wrk is not installed; install it with "
              "'apt-get update && apt-get install -y wrk' and run again", file=sys.stderr)
        return 2
    servers = ("uvicorn", "granian") if args.server == "both" else (args.server,)
    for server in servers:
        runs = []
        for i in range(args.runs):
            r = run_once(server, args.seconds, open_loop=args.open_loop)
            show(f"{server} run {i + 1}", r, args.open_loop)
            runs.append(r)
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        show(f"{server} MEDIAN of {args.runs} runs", med, args.open_loop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
