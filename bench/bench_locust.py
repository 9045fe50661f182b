"""Requests per second of one Locust process: simulated devices vs a trivial FastHttpUser.

Both run against the same local service (one ``promptsim serve`` on a SQLite
file, started once), alternately, for a few rounds; each run is one Locust
process (no ``--processes``). The trivial user (``scenarios/locust/trivial.py``)
asks eligibility for one registered device in a loop; the device scenario
(``scenarios/locust/devices.py``) lives whole simulated histories with no
waiting (``--day-seconds 0``): registrations, event batches, eligibility,
prompt answers. Printed per run: requests/s, the Locust process's CPU time per
request, and the server's CPU share; then medians and the ratio
(target: devices >= 70% of trivial).

``--stub`` runs the same two Locust runs against a stub ASGI app (uvicorn) that
answers every endpoint at once with canned JSON, so the server cannot be the
limit: what is left is the load generator, with or without the device model.

    python bench/bench_locust.py [--rounds 3] [--seconds 20] [--users 50] [--stub]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.loadtest.api import Api, set_up_app  # noqa: E402
from sim.loadtest.local import LocalService, create_app, free_port  # noqa: E402
from sim.loadtest.world import read_scenario  # noqa: E402
from sim.model.scenario import pick_strategy  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run_locust(locustfile: str, url: str, key: str, users: int, seconds: int,
               out: Path, server_pid: int, pin: tuple[str, ...]) -> dict[str, float]:
    """One headless Locust process, measured over its steady state.

    Locust appends a row to its history CSV every second; each new row's total
    request count is paired with the CPU time of Locust and of the server read
    at that moment. The window starts 3 rows after all users are running and
    ends one row before the last, so start-up (imports, spawning) and shutdown
    are left out.
    """
    out.mkdir(parents=True)
    env = {**os.environ, "PROMPTSIM_API_KEY": key, "PROMPTSIM_DAY_SECONDS": "0",
           "PROMPTSIM_LOAD_OUT": str(out), "PROMPTSIM_SKIP_SETUP": "true",
           "PROMPTSIM_SCENARIO": str(ROOT / "scenarios" / "quickstart.toml")}
    cmd = [*pin, sys.executable, "-m", "locust", "-f",
           str(ROOT / "scenarios" / "locust" / locustfile), "--headless", "--host", url,
           "-u", str(users), "-r", str(users), "-t", f"{seconds}s",
           "--only-summary", "--stop-timeout", "2", "--loglevel", "WARNING",
           "--csv", str(out / "locust"), "--csv-full-history"]
    history = out / "locust_stats_history.csv"
    rows: list[tuple[int, int, int, float, float]] = []
    with open(out / "locust.log", "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        seen = 0
        while proc.poll() is None:
            time.sleep(0.05)
            if not history.exists():
                continue
            with open(history, newline="") as f:
                lines = list(csv.DictReader(f))
            new = [r for r in lines[seen:] if r["Name"] == "Aggregated"]
            seen = len(lines)
            for r in new:
                try:
                    cpu = cpu_seconds(proc.pid)
                except (FileNotFoundError, ProcessLookupError):
                    break
                rows.append((int(r["Timestamp"]), int(r["User Count"]),
                             int(r["Total Request Count"]), cpu, cpu_seconds(server_pid)))
        proc.wait()
    full = [i for i, r in enumerate(rows) if r[1] == users]
    window = rows[full[0] + 3:-1] if full else []
    if len(window) < 3:
        raise RuntimeError(f"{locustfile}: too short a steady state ({len(window)} rows); "
                           "use more --seconds")
    a, b = window[0], window[-1]
    requests = b[2] - a[2]
    doc = json.loads((out / "locust_histograms.json").read_text())["endpoints"]["Aggregated"]
    return {"rps": requests / (b[0] - a[0]), "requests": doc["requests"],
            "failures": doc["failures"], "cpu_us_per_req": 1e6 * (b[3] - a[3]) / requests,
            "server_cpu": (b[4] - a[4]) / (b[0] - a[0]), "p50_ms": doc["p50_ms"],
            "window_s": b[0] - a[0]}


_REGISTERED = b'{"device_id":"stub","permission":"not_determined","dialogs_left":1}'
_NO_SHOW = b'{"show":false,"reason":"frequency_limit"}'


async def stub_app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
    """Every endpoint a device calls, answered at once (the ``--stub`` server)."""
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()  # type: ignore[operator]
            await send({"type": msg["type"] + ".complete"})  # type: ignore[operator]
            if msg["type"] == "lifespan.shutdown":
                return
    body, more = b"", True
    while more:
        msg = await receive()  # type: ignore[operator]
        body += msg.get("body", b"")
        more = msg.get("more_body", False)
    path, status = scope["path"], 200
    if path == "/v1/devices":
        status, out = 201, _REGISTERED
    elif path.endswith("/events"):
        out = b'{"new":%d,"duplicate":0,"permission":"not_determined","dialogs_left":1}' % (
            body.count(b'"event_id"'))
    elif path.endswith("/eligibility"):
        out = _NO_SHOW
    else:
        out = b'{"app_id":"stub","name":"stub","clock":"client"}'
    await send({"type": "http.response.start", "status": status,  # type: ignore[operator]
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(out)).encode())]})
    await send({"type": "http.response.body", "body": out})  # type: ignore[operator]


class StubService:
    """The stub app under uvicorn (httptools + uvloop) in a subprocess."""

    def __init__(self, prefix: tuple[str, ...]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([*prefix, sys.executable, __file__, "--serve-stub",
                                      str(self.port)])
        api = Api(self.url)
        for _ in range(100):
            try:
                api.request("GET", "/v1/app")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the stub server did not start")

    def __enter__(self) -> StubService:
        return self

    def __exit__(self, *_: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--no-pin", action="store_true",
                    help="do not pin Locust to core 0 and the server to core 1")
    ap.add_argument("--stub", action="store_true",
                    help="against a stub that answers at once instead of promptsim serve")
    ap.add_argument("--serve-stub", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_stub:
        import uvicorn

        uvicorn.run(stub_app, host="127.0.0.1", port=args.serve_stub, loop="uvloop",
                    http="httptools", log_level="warning", access_log=False)
        return 0
    pin = shutil.which("taskset") is not None and not args.no_pin and (os.cpu_count() or 1) > 1
    locust_pin, server_pin = (("taskset", "-c", "0"), ("taskset", "-c", "1")) if pin else ((), ())
    sc, _ = read_scenario(ROOT / "scenarios" / "quickstart.toml")
    with tempfile.TemporaryDirectory(prefix="bench-locust-") as tmp:
        db = str(Path(tmp) / "bench.sqlite3")
        service = StubService(server_pin) if args.stub else \
            LocalService(db, Path(tmp) / "service.log", 1, server_pin)
        with service as svc:
            assert svc.proc is not None
            key = "stub"
            if not args.stub:
                key = create_app(db, "bench-locust")["api_key"]
                set_up_app(Api(svc.url, key), sc, pick_strategy(sc, None))
            runs: dict[str, list[dict[str, float]]] = {"trivial": [], "devices": []}
            for r in range(args.rounds):
                for name, f in (("trivial", "trivial.py"), ("devices", "devices.py")):
                    res = run_locust(f, svc.url, key, args.users, args.seconds,
                                     Path(tmp) / f"{name}-{r}", svc.proc.pid, locust_pin)
                    runs[name].append(res)
                    print(f"round {r + 1} {name:>8}: {res['rps']:8,.0f} req/s "
                          f"({res['requests']:,.0f} requests, {res['failures']:.0f} failures, "
                          f"p50 {res['p50_ms']:g} ms, {res['window_s']} s window), "
                          f"Locust {res['cpu_us_per_req']:.0f} us CPU/request, "
                          f"server CPU {100 * res['server_cpu']:.0f}%", flush=True)
    med = {k: statistics.median(x["rps"] for x in v) for k, v in runs.items()}
    cpu = {k: statistics.median(x["cpu_us_per_req"] for x in v) for k, v in runs.items()}
    ratio = med["devices"] / med["trivial"]
    where = "Locust pinned to core 0, server to core 1" if pin else "no pinning"
    where += ", stub server" if args.stub else ", promptsim serve (SQLite)"
    print(f"median over {args.rounds} rounds ({args.users} users, {args.seconds} s, one Locust "
          f"process each, {where}): trivial {med['trivial']:,.0f} req/s, devices "
          f"{med['devices']:,.0f} req/s, ratio {ratio:.0%} (target >= 70%); Locust CPU per "
          f"request: trivial {cpu['trivial']:.0f} us, devices {cpu['devices']:.0f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
