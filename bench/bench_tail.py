"""Where the open-loop p99 of ``bench_service.py`` comes from: the server's stalls, its
garbage collections, or neither (the client, the machine).

    python bench/bench_tail.py [--runs 6] [--seconds 5]

Each run starts the bare ASGI app and ``promptsim serve`` on a seeded SQLite file (as
``bench_service.py`` does, one worker, pinned), the server through ``bench/tailprobe.py``,
which records every cyclic collection and every late wake-up of its event loop. It
measures the read maximum with wrk, then the open loop (``bench/openloop.c``) at 70% of
it against the service and, at the same rate, the bare app. It prints per run the
service's and the bare app's p99, and, inside the service's open-loop window: the
collections (count and longest, per generation), the event-loop stalls over 5 ms
(count, longest, and how much of the longest the server's thread spent on a CPU: near
its length = work in the process, near 0 = the process was not running; the whole
process's CPU beside the loop thread's, for time spent in other threads). A p99 far
above the bare app's with no stall in the server is not the server's. It also prints how
busy the server was (its CPU seconds per second of the window), and the service's p99 at
50% and 60% of the closed-loop maximum: the open loop brings fewer requests per
event-loop turn than wrk's 32 busy connections, so each costs more CPU, and 70% of wrk's
maximum keeps the server about 90% busy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
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
    stop,
    wait_ready,
    write_requests,
    wrk,
)


def start_probed(port: int, db: str, out: Path) -> subprocess.Popen[bytes]:
    """``promptsim serve`` through ``tailprobe.py`` (one worker, pinned)."""
    cmd = [sys.executable, str(ROOT / "bench" / "tailprobe.py"), str(out), "serve", "--db", db,
           "--port", str(port), "--workers", "1", "--admin-key", ADMIN]
    p = subprocess.Popen([*SERVER_PIN, *cmd], cwd=ROOT, start_new_session=True)
    wait_ready(port)
    return p


SHARES = (0.5, 0.6)
"""Shares of the closed-loop maximum the service is also driven at (beside 70%)."""


def _cpu(proc: psutil.Process) -> float:
    """CPU seconds of the server (``taskset`` execs it, so the pid is the server's)."""
    t = proc.cpu_times()
    return float(t.user + t.system)


def run_once(seconds: int, exe: Path, run: int) -> dict[str, float]:
    """One run: the p99s and what the probe saw inside the service's window."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        bare_port, port = free_port(), free_port()
        bare = start_bare(bare_port)
        out = tmp / "probe.json"
        svc = start_probed(port, str(tmp / "tail.sqlite3"), out)
        try:
            key = seed(port)
            lua = decide_lua(key, "app_open")
            rate = 0.7 * wrk(port, lua, 3)["rps"]
            requests = tmp / "requests.bin"
            write_requests(requests, key)
            res: dict[str, float] = {"rate": rate}
            proc = psutil.Process(svc.pid)
            for name in (["svc", "bare"] if run % 2 == 0 else ["bare", "svc"]):
                t0, c0 = time.perf_counter(), _cpu(proc)
                o = openloop(exe, port if name == "svc" else bare_port, requests, rate, seconds)
                if name == "svc":
                    window = (t0, time.perf_counter())
                    res["svc_busy"] = (_cpu(proc) - c0) / (window[1] - window[0])
                res[f"{name}_p99"], res[f"{name}_p50"] = o["p99"], o["p50"]
            # The same server at lower shares of its closed-loop maximum: the open loop
            # costs more CPU per request than wrk's 32 busy connections (fewer requests
            # per event-loop turn), so 70% of wrk's maximum keeps the server ~90% busy.
            for share in SHARES:
                c0, t0 = _cpu(proc), time.perf_counter()
                o = openloop(exe, port, requests, rate / 0.7 * share, seconds)
                res[f"busy_{share}"] = (_cpu(proc) - c0) / (time.perf_counter() - t0)
                res[f"p99_{share}"] = o["p99"]
        finally:
            stop(svc)
            stop(bare)
        probe = json.loads(out.read_text())

    def inside(t: float) -> bool:
        return window[0] <= t <= window[1]

    for g in ("0", "1", "2"):
        pauses = [d for t, d in probe["gc"][g] if inside(t)]
        res[f"gc{g}_n"] = len(pauses)
        res[f"gc{g}_max_ms"] = max(pauses, default=0.0) * 1e3
    stalls = [(lag, cpu, pcpu) for t, lag, cpu, pcpu in probe["stalls"] if inside(t)]
    res["stalls"] = len(stalls)
    worst = max(stalls, default=(0.0, 0.0, 0.0))
    res["stall_max_ms"], res["stall_max_cpu_ms"] = worst[0] * 1e3, worst[1] * 1e3
    res["stall_max_pcpu_ms"] = worst[2] * 1e3
    res["stall_cpu_share"] = (sum(s[1] for s in stalls) / sum(s[0] for s in stalls)
                              if stalls else 0.0)
    res["stall_pcpu_share"] = (sum(s[2] for s in stalls) / sum(s[0] for s in stalls)
                               if stalls else 0.0)
    res["stall_ms_total"] = sum(s[0] for s in stalls) * 1e3
    return res


def show(label: str, r: dict[str, float]) -> None:
    """Print one run (or the medians)."""
    print(f"{label}: at {r['rate']:.0f}/s  service p99 {r['svc_p99']:.2f} ms (p50 "
          f"{r['svc_p50']:.2f}; server busy {r['svc_busy']:.0%} of a core)  bare app p99 "
          f"{r['bare_p99']:.2f} ms\n"
          + "".join(f"    at {share:.0%} of the maximum (server busy "
                    f"{r[f'busy_{share}']:.0%}): service p99 {r[f'p99_{share}']:.2f} ms\n"
                    for share in SHARES)
          + f"    collections in the window: gen0 {r['gc0_n']:.0f} (max {r['gc0_max_ms']:.2f} "
          f"ms), gen1 {r['gc1_n']:.0f} (max {r['gc1_max_ms']:.2f} ms), gen2 {r['gc2_n']:.0f} "
          f"(max {r['gc2_max_ms']:.2f} ms)\n"
          f"    loop stalls > 5 ms: {r['stalls']:.0f} ({r['stall_ms_total']:.0f} ms in all), "
          f"longest {r['stall_max_ms']:.1f} ms of which on a CPU {r['stall_max_cpu_ms']:.1f} ms "
          f"(the loop's thread; {r['stall_max_pcpu_ms']:.1f} ms the whole process); over all "
          f"stalls the thread ran {r['stall_cpu_share']:.0%}, the process "
          f"{r['stall_pcpu_share']:.0%} of the time",
          flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print each run and the medians."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--seconds", type=int, default=5, help="per open-loop measurement")
    args = ap.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_openloop(Path(tmp))
        if exe is None:
            print("bench_tail: needs a C compiler for bench/openloop.c", file=sys.stderr)
            return 2
        for i in range(args.runs):
            r = run_once(args.seconds, exe, i)
            show(f"run {i + 1}", r)
            runs.append(r)
    show(f"MEDIAN of {args.runs} runs", {k: statistics.median(r[k] for r in runs)
                                         for k in runs[0]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
