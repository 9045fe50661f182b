"""Benchmark of the ASGI server: uvicorn (promptsim's) against Granian, side by side.

Run from the repository root, with the bench extra (``pip install -e ".[bench]"``: Granian)
and wrk (``apt-get install -y wrk``)::

    python bench/bench_server.py [--runs 3] [--seconds 9]

Each run starts, on loopback, one worker each, pinned like ``bench_service.py`` (servers on
the last CPU, load generators on the first):

1. the bare ASGI app of ``bench_service.py`` on uvicorn (httptools, uvloop) and on Granian
   (``--interface asgi``, uvloop);
2. ``promptsim serve``'s ASGI app on one SQLite file seeded as ``bench_service.py`` seeds it,
   served by uvicorn with promptsim's hardened protocol (``promptsim serve``) and by Granian
   (``granian --factory sim.service.http.service:asgi_app``, the same settings from the
   environment; Granian has none of the protocol's header, body and connection guards).

It measures in rounds (the servers' order turning each round), ``wrk -t1 -c32`` with the
decision request that answers ``show=false`` (``bench_service.py``'s read), and prints per
run and as medians of the runs: each server's req/s, its share of uvicorn's bare rate in
the same round, and Granian's over uvicorn's for the bare app and for decisions. Then,
for each server's decisions, the open-loop p99 at 70% of uvicorn's decision maximum (the
same absolute rate for both; ``bench/openloop.c``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loadgen import (
    ADMIN,
    ROOT,
    SERVER_PIN,
    build_openloop,
    decide_lua,
    free_port,
    openloop,
    seed,
    start_bare,
    start_service,
    stop,
    wait_ready,
    write_requests,
    wrk,
)

NAN = float("nan")


def start_granian(port: int, target: str, factory: bool, env: dict[str, str] | None = None,
                  app_dir: Path | None = None) -> subprocess.Popen[bytes]:
    """``target`` on Granian, one worker, uvloop, pinned like the other servers."""
    cmd = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1", "--loop", "uvloop", "--log-level",
           "warning", "--no-ws"]
    if factory:
        cmd.append("--factory")
    if app_dir is not None:
        cmd += ["--working-dir", str(app_dir)]
    p = subprocess.Popen([*SERVER_PIN, *cmd, target], cwd=ROOT, env=env,
                         start_new_session=True)
    return p


def run_once(seconds: int, exe: Path | None, rounds: int = 3) -> dict[str, float]:
    """One run: every server's rates, shares and open-loop p99."""
    slice_s = max(2, seconds // rounds)
    out: dict[str, float] = {}
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        try:
            ports = {name: free_port() for name in ("bare_uv", "bare_gr", "svc_uv", "svc_gr")}
            procs.append(start_bare(ports["bare_uv"]))
            gb = start_granian(ports["bare_gr"], "bench_service:hello", False,
                               app_dir=Path(__file__).resolve().parent)
            procs.append(gb)
            wait_ready(ports["bare_gr"], "/")
            db = str(tmp / "server.sqlite3")
            su = start_service(ports["svc_uv"], db)
            procs.append(su)
            key = seed(ports["svc_uv"])
            env = os.environ | {"PROMPTSIM_DB": db, "PROMPTSIM_ADMIN_KEY": ADMIN}
            sg = start_granian(ports["svc_gr"], "sim.service.http.service:asgi_app", True, env)
            procs.append(sg)
            wait_ready(ports["svc_gr"])
            lua = decide_lua(key, "app_open")
            rates: dict[str, list[float]] = {name: [] for name in ports}
            order = list(ports)
            for i in range(rounds):
                k = i % len(order)
                for name in order[k:] + order[:k]:
                    r = wrk(ports[name], lua, slice_s)
                    assert r["non2xx"] == 0, (name, r)
                    rates[name].append(r["rps"])
            for name, xs in rates.items():
                out[name] = statistics.fmean(xs)
                out[f"{name}_share"] = statistics.median(
                    x / b for x, b in zip(xs, rates["bare_uv"], strict=True))
            out["gr_over_uv_bare"] = statistics.median(
                g / u for g, u in zip(rates["bare_gr"], rates["bare_uv"], strict=True))
            out["gr_over_uv_svc"] = statistics.median(
                g / u for g, u in zip(rates["svc_gr"], rates["svc_uv"], strict=True))
            rate = 0.7 * out["svc_uv"]
            out["rate70"] = rate
            for name in ("svc_uv", "svc_gr", "bare_uv", "bare_gr"):
                out[f"{name}_p99"] = NAN
                if exe is not None:
                    requests = tmp / "requests.bin"
                    write_requests(requests, key)
                    o = openloop(exe, ports[name], requests, rate, slice_s + 2)
                    assert o["non2xx"] == 0, (name, o)
                    out[f"{name}_p99"] = o["p99"]
        finally:
            for p in procs:
                stop(p)
    return out


LABEL = {"bare_uv": "bare ASGI, uvicorn", "bare_gr": "bare ASGI, Granian",
         "svc_uv": "decisions, uvicorn (promptsim serve)",
         "svc_gr": "decisions, Granian (same app)"}


def show(label: str, r: dict[str, float]) -> None:
    """Print one run (or the medians)."""
    print(label)
    for name, text in LABEL.items():
        print(f"  {text:38s} {r[name]:9.0f} req/s = {r[f'{name}_share']:.0%} of uvicorn's "
              f"bare; open-loop p99 at {r['rate70']:.0f}/s {r[f'{name}_p99']:.2f} ms")
    print(f"  Granian / uvicorn: bare {r['gr_over_uv_bare']:.2f}x, decisions "
          f"{r['gr_over_uv_svc']:.2f}x", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print each run and the medians."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=9, help="per measurement (3 slices)")
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench_server: wrk is not installed; install it with "
              "'apt-get update && apt-get install -y wrk' and run again", file=sys.stderr)
        return 2
    try:
        import granian  # noqa: F401
    except ImportError:
        print("bench_server: Granian is not installed; pip install -e '.[bench]'",
              file=sys.stderr)
        return 2
    print(f"servers pinned with {' '.join(SERVER_PIN) or 'nothing'}; started "
          f"{time.strftime('%Y-%m-%d %H:%M:%S')}", flush=True)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_openloop(Path(tmp))
        for i in range(args.runs):
            run = run_once(args.seconds, exe)
            show(f"run {i + 1}", run)
            runs.append(run)
    show(f"MEDIAN of {args.runs} runs", {k: statistics.median(r[k] for r in runs)
                                         for k in runs[0]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
