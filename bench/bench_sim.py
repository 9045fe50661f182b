"""Benchmark the simulator on scenarios/bench_1m.toml against bare SimPy loops, interleaved.

Each round runs, in an order that turns every round, the engine (``promptsim simulate`` in a
subprocess, ``--jobs`` workers) and two bare SimPy models on one core in this process: the
engine's own style, a callback re-armed on ``env.timeout(d).callbacks`` (the baseline), and
the textbook one, a generator process per entity (``yield env.timeout(d)``), both with the
cyclic garbage collector off, as the engine runs. The engine is
counted two ways, both printed with their names: **SimPy events**, the ``Timeout``s it
scheduled, what the bare loops count; and **engine calls**, the wake-ups its lives lived (an
install is one SimPy event but one call per strategy). The ratios compare events/s per core
(events / wall / jobs) with the bare loop's events/s on one core, and events per CPU second
with the bare loop's; every ratio is printed with its name, per round and as the median of
the rounds. It says whether the engine ran its mypyc-compiled modules (``sim.compiled()``;
``--pure-python`` forces the sources). The machine is shared and noisy: quote medians of a
few rounds (``--repeat``). ``--chunk`` times only the engine's run of the scenario's first
chunk (25,000 devices of ``bench_1m``), in a fresh process on one core, without the imports,
the population draws and the workers that a whole run adds: the per-event cost alone, in
rounds of a few seconds (for a busy machine). ``--compare DIR`` adds another checkout's
engine (built in place, e.g. ``main``) to every round, so that both trees' ratios come from
the same rounds; a tree that does not count SimPy events yet is given this tree's count of
the same round when their engine calls agree (the same scenario and seed schedule the same
events).

    python bench/bench_sim.py [--scenario scenarios/bench_1m.toml] [--devices N] [--jobs 2]
                              [--repeat 3] [--pure-python] [--bare-entities 50000]
                              [--compare DIR] [--chunk]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import simpy

TARGET_SECONDS = 20.0
TARGET_BYTES = 2 * 1024**3
STEPS = 20
"""Timeouts per entity of a bare loop."""


@dataclass(frozen=True)
class Timed:
    """Events counted and the time they took: wall seconds and CPU seconds."""

    events: int
    wall: float
    cpu: float


def _gap(i: int) -> float:
    return 1.0 + (i % 97) / 97.0


def callback_loop(entities: int, steps: int = STEPS) -> Timed:
    """The engine's style without its model: per entity, a ``Timeout`` whose callback
    schedules the entity's next one, ``steps`` times."""
    env = simpy.Environment()
    left = [steps] * entities

    def arm(i: int) -> None:
        env.timeout(_gap(i), i).callbacks.append(wake)

    def wake(event: simpy.Event) -> None:
        i: int = event.value  # type: ignore[assignment]  # the index arm() gave
        left[i] -= 1
        if left[i]:
            arm(i)

    for i in range(entities):
        arm(i)
    return _time(env.run, entities * steps)


def generator_loop(entities: int, steps: int = STEPS) -> Timed:
    """The textbook model: one generator process per entity, ``yield env.timeout(gap)``."""
    env = simpy.Environment()

    def entity(gap: float) -> Generator[simpy.Event, object, None]:
        for _ in range(steps):
            yield env.timeout(gap)

    for i in range(entities):
        env.process(entity(_gap(i)))
    return _time(env.run, entities * steps)


def _time(run: Callable[[], object], events: int) -> Timed:
    """Time ``run`` with the cyclic garbage collector off, as the engine runs a chunk
    (``ChunkModel.run``): otherwise its passes over the live events and processes would be
    counted against the loop and not against the engine."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        w0, c0 = time.perf_counter(), time.process_time()
        run()
        return Timed(events, time.perf_counter() - w0, time.process_time() - c0)
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()


def _tree_rss(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, in bytes (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


@dataclass(frozen=True)
class EngineRun:
    """One ``promptsim simulate``: its times, peak memory and both event counts."""

    wall: float
    cpu: float
    peak: int
    calls: int
    """Engine calls: the wake-ups the lives lived (run.json ``engine_events``)."""
    simpy_events: int | None
    """The events the engine scheduled in SimPy (run.json ``simpy_events``; None from a tree
    that does not count them)."""


def _env(pure: bool, tree: Path | None) -> dict[str, str]:
    """The environment of a run of this tree (``tree`` None) or of the checkout ``tree``
    (imported first, left without new bytecode files)."""
    env = {**os.environ, "PROMPTSIM_PURE_PYTHON": "1" if pure else "0"}
    if tree is not None:
        env |= {"PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    return env


def is_compiled(pure: bool, tree: Path | None = None) -> bool:
    """Whether ``promptsim simulate`` will run the compiled modules (``sim.compiled()``)."""
    check = [sys.executable, "-c", "import sim; print(int(sim.compiled()))"]
    return subprocess.run(check, env=_env(pure, tree), capture_output=True, text=True,
                          cwd=tree, check=True).stdout.strip() == "1"


CHUNK = """
import json, sys, time
import sim
from sim.engine.chunk import ChunkModel
from sim.model.population import make_chunk
from sim.model.scenario import load_scenario
sc = load_scenario(sys.argv[1])
profiles = sc.profiles()
model = ChunkModel(sc, profiles, make_chunk(sc, profiles, 0, 0), 0)
w0, c0 = time.perf_counter(), time.process_time()
res = model.run()
wall, cpu = time.perf_counter() - w0, time.process_time() - c0
print(json.dumps({"wall": wall, "cpu": cpu, "calls": res.events,
                  "simpy_events": getattr(res, "simpy_events", None)}))
"""
"""Times the engine's run of one chunk (the scenario's first) in the tree it is run in."""


def run_chunk(scenario: str, pure: bool, tree: Path | None = None) -> EngineRun:
    """Time one chunk's ``ChunkModel.run`` in a fresh process (``CHUNK``): one core."""
    out = subprocess.run([sys.executable, "-c", CHUNK, str(Path(scenario).resolve())],
                         env=_env(pure, tree), cwd=tree, capture_output=True, text=True,
                         check=True).stdout
    got = json.loads(out)
    scheduled = got["simpy_events"]
    return EngineRun(got["wall"], got["cpu"], 0, int(got["calls"]),
                     None if scheduled is None else int(scheduled))


def run_simulation(scenario: str, jobs: int, pure: bool, devices: int | None,
                   tree: Path | None = None) -> EngineRun:
    """Run ``promptsim simulate`` in a subprocess and measure it (CPU of it and its workers,
    peak memory of the process tree); ``tree``: another checkout's engine."""
    with tempfile.TemporaryDirectory(prefix="bench_sim_") as tmp:
        out = Path(tmp)
        cmd = [sys.executable, "-m", "sim", "simulate", str(Path(scenario).resolve()),
               "--jobs", str(jobs), "--out", str(out), "--no-progress", "--overwrite"]
        if devices is not None:
            cmd += ["--devices", str(devices)]
        cpu0 = _children_cpu()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=_env(pure, tree), cwd=tree)
        peak = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, _tree_rss(proc.pid))
                stop.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        proc.wait()
        wall = time.perf_counter() - t0
        cpu = _children_cpu() - cpu0
        stop.set()
        sampler.join()
        if proc.returncode != 0:
            raise SystemExit(f"simulate failed with exit code {proc.returncode}")
        meta = json.loads((out / "run.json").read_text())
    scheduled = meta.get("simpy_events")
    return EngineRun(wall, cpu, peak, int(meta["engine_events"]),
                     None if scheduled is None else int(scheduled))


def ratios(e: EngineRun, scheduled: int, jobs: int, callback: Timed,
           generator: Timed) -> dict[str, float]:
    """Every ratio of one round, by name: the engine (``scheduled`` SimPy events) over a bare
    loop of the same round."""
    per_core = scheduled / e.wall / jobs
    return {
        "SimPy events/s per core / callback loop": per_core / (callback.events / callback.wall),
        "SimPy events/s per core / generator loop":
            per_core / (generator.events / generator.wall),
        "SimPy events per CPU second / callback loop":
            (scheduled / e.cpu) / (callback.events / callback.cpu),
        "engine calls/s per core / generator loop (the old measure)":
            e.calls / e.wall / jobs / (generator.events / generator.wall),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/bench_1m.toml")
    ap.add_argument("--devices", type=int,
                    help="override the scenario's devices (smaller runs: the start-up, "
                         "population and workers weigh more; --chunk times events alone)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds")
    ap.add_argument("--bare-entities", type=int, default=50_000,
                    help=f"entities of each bare loop ({STEPS} timeouts each)")
    ap.add_argument("--compare", type=Path, metavar="DIR",
                    help="also run the engine of the checkout DIR in every round")
    ap.add_argument("--chunk", action="store_true",
                    help="time only the engine's run of one chunk, on one core")
    ap.add_argument("--pure-python", action="store_true",
                    help="run the simulator's Python sources, not its compiled modules")
    args = ap.parse_args()

    trees: dict[str, Path | None] = {"this tree": None}
    if args.compare is not None:
        trees[f"{args.compare}"] = args.compare.resolve()
    jobs = 1 if args.chunk else args.jobs
    for label, tree in trees.items():
        print(f"engine of {label}: "
              f"{'compiled' if is_compiled(args.pure_python, tree) else 'pure Python'}, "
              + ("one chunk, one core" if args.chunk else f"--jobs {jobs}"), flush=True)
    print(f"bare loops: {args.bare_entities:,} entities x {STEPS} timeouts, one core",
          flush=True)
    runs: dict[str, list[EngineRun]] = {label: [] for label in trees}
    rounds: dict[str, list[dict[str, float]]] = {label: [] for label in trees}
    for k in range(args.repeat):
        got: dict[str, EngineRun | Timed] = {}
        steps: list[tuple[str, Callable[[], EngineRun | Timed]]] = [
            (label, partial(run_chunk, args.scenario, args.pure_python, tree) if args.chunk
             else partial(run_simulation, args.scenario, jobs, args.pure_python,
                          args.devices, tree))
            for label, tree in trees.items()]
        steps += [("callback loop", lambda: callback_loop(args.bare_entities)),
                  ("generator loop", lambda: generator_loop(args.bare_entities))]
        turn = k % len(steps)
        order = steps[turn:] + steps[:turn]
        for name, step in order:
            got[name] = step()
        cb, gen = got["callback loop"], got["generator loop"]
        assert isinstance(cb, Timed) and isinstance(gen, Timed)
        print(f"round {k + 1} (in turn: {', '.join(n for n, _ in order)}): callback loop "
              f"{cb.events / cb.wall:,.0f} events/s, generator loop "
              f"{gen.events / gen.wall:,.0f} events/s", flush=True)
        ours = got["this tree"]
        assert isinstance(ours, EngineRun) and ours.simpy_events is not None
        for label in trees:
            e = got[label]
            assert isinstance(e, EngineRun)
            scheduled = e.simpy_events
            if scheduled is None:  # a tree that does not count them: the same schedule
                if e.calls != ours.calls:
                    raise SystemExit(f"{label}: {e.calls:,} engine calls against "
                                     f"{ours.calls:,}: not the same schedule")
                scheduled = ours.simpy_events
            runs[label].append(e)
            rounds[label].append(ratios(e, scheduled, jobs, cb, gen))
            peak = "" if args.chunk else f", peak memory {e.peak / 2**20:.0f} MiB"
            print(f"  {label}: wall {e.wall:.2f} s, CPU {e.cpu:.2f} s{peak}, {scheduled:,} "
                  f"SimPy events, {e.calls:,} engine calls, "
                  f"{scheduled / e.wall / jobs:,.0f} SimPy events/s per core", flush=True)
            for name, value in rounds[label][-1].items():
                print(f"    {name}: {value:.2f}", flush=True)
    ok = True
    for label in trees:
        whole = not args.chunk and args.devices is None
        ok = _summary(label, runs[label], rounds[label], jobs, args.chunk, whole) and ok
    print("the regression floor: the first ratio no lower than main's, measured in the same "
          "rounds (--compare)")
    return 0 if ok else 1


def _summary(label: str, runs: list[EngineRun], rounds: list[dict[str, float]],
             jobs: int, chunk: bool, whole: bool) -> bool:
    """Print one tree's medians; whether its wall and memory targets are met (``whole``: the
    scenario as is, not ``--chunk`` or ``--devices``)."""
    m_wall = statistics.median(r.wall for r in runs)
    m_cpu = statistics.median(r.cpu for r in runs)
    m_peak = statistics.median(r.peak for r in runs)
    if chunk:
        print(f"{label}, median of {len(runs)}: one chunk's run {m_wall:.2f} s wall, "
              f"{m_cpu:.2f} s CPU")
    else:
        print(f"{label}, median of {len(runs)}: wall {m_wall:.1f} s (target <= "
              f"{TARGET_SECONDS:.0f} s for bench_1m), CPU {m_cpu:.1f} s, peak memory "
              f"{m_peak / 2**30:.2f} GiB (target <= {TARGET_BYTES / 2**30:.0f} GiB)")
    for name in rounds[0]:
        values = [r[name] for r in rounds]
        print(f"  {name}: median {statistics.median(values):.2f} "
              f"({', '.join(f'{v:.2f}' for v in values)})")
    if not whole:
        return True
    ok = m_wall <= TARGET_SECONDS and m_peak <= TARGET_BYTES
    print(f"{label}: wall and memory targets {'met' if ok else 'NOT met'} (--jobs {jobs})")
    return ok


if __name__ == "__main__":
    sys.exit(main())
