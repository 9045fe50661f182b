"""The Locust side: the device user, the benchmark's trivial user, options and listeners.

Importing this module imports Locust (and so gevent's monkey-patching): only
locustfiles import it, and Locust always runs in its own process. The
behaviour itself is in ``sim.loadtest.device``; here a ``FastHttpUser`` is the
device's link: it makes the device's calls and waits until its next session in
compressed time, one device after the other.

Options (in the web UI's start form; each also has an environment variable,
which ``promptsim load`` sets): ``--scenario``
(``PROMPTSIM_SCENARIO``), ``--strategy``, ``--api-key``, ``--day-seconds``,
``--replication``, ``--run-id``, ``--load-out``, ``--budget``, ``--shape``,
``--shape-seconds`` and ``--skip-setup``, each ``PROMPTSIM_`` + its name in
capitals (``--budget``: ``PROMPTSIM_BUDGETS``).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any, ClassVar

import locust.stats
import msgspec
from locust import FastHttpUser, constant, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner
from locust.user.task import LOCUST_STATE_RUNNING

from sim.loadtest import budgets as bud
from sim.loadtest.api import Api, set_up_app
from sim.loadtest.calls import BurstNow, Call, Reply
from sim.loadtest.device import ELIGIBILITY, REGISTER, Device
from sim.loadtest.results import HISTOGRAMS
from sim.loadtest.shapes import get_shape
from sim.loadtest.world import World, plan_bursts, read_scenario
from sim.model.clock import EPOCH
from sim.model.scenario import pick_strategy

log = logging.getLogger("promptsim.load")


def add_options(parser: Any) -> None:
    """``init_command_line_parser`` listener: promptsim's options, each with its variable."""
    g = parser  # Locust's parser itself: argument groups know no ``is_secret``
    g.add_argument("--scenario", env_var="PROMPTSIM_SCENARIO",
                   default="scenarios/quickstart.toml", help="scenario TOML file")
    g.add_argument("--strategy", env_var="PROMPTSIM_STRATEGY", default="",
                   help="strategy whose campaigns the service runs (default: the "
                        "scenario's baseline, else its first)")
    g.add_argument("--api-key", env_var="PROMPTSIM_API_KEY", default="", is_secret=True,
                   help="bearer key of an app created with --clock client")
    g.add_argument("--day-seconds", env_var="PROMPTSIM_DAY_SECONDS", type=float, default=None,
                   help="real seconds per simulated day (default 1; 0: no waiting)")
    g.add_argument("--replication", env_var="PROMPTSIM_REPLICATION", type=int, default=0)
    g.add_argument("--run-id", env_var="PROMPTSIM_RUN_ID", default="",
                   help="prefix of device and user ids (default: random)")
    g.add_argument("--load-out", env_var="PROMPTSIM_LOAD_OUT", default="",
                   help="directory for the devices' logs and the histograms (for the check)")
    g.add_argument("--budget", env_var="PROMPTSIM_BUDGETS", default="",
                   help="budgets: 'eligibility:p99_ms<50; all:fail_ratio<0.001' or JSON")
    g.add_argument("--shape", env_var="PROMPTSIM_SHAPE", default="steady",
                   help="load shape (with scenarios/locust/shapes.py): steady, ramp, spike, "
                        "soak, os_release_day")
    g.add_argument("--shape-seconds", env_var="PROMPTSIM_SHAPE_SECONDS", type=float,
                   default=0.0, help="duration the shape is scaled to (default --run-time, "
                                     "else 60)")
    g.add_argument("--skip-setup", env_var="PROMPTSIM_SKIP_SETUP", action="store_true",
                   help="do not PUT the strategy's settings and campaigns at test start")


def shape_seconds(o: Any) -> float:
    """The duration shapes and bursts are scaled to."""
    return float(o.shape_seconds or getattr(o, "run_time", None) or 60)


def _budgets(o: Any, cfg_budgets: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    raw = (o.budget or "").strip()
    if raw.startswith("{"):
        return {k: dict(v) for k, v in json.loads(raw).items()}
    specs = [s for s in raw.replace("\n", ";").split(";") if s.strip()]
    return bud.resolve(cfg_budgets, specs=specs)


def build_world(env: Environment) -> World:
    """The process's :class:`World` from the parsed options."""
    o: Any = env.parsed_options
    sc, cfg = read_scenario(o.scenario)
    day = o.day_seconds if o.day_seconds is not None else (
        cfg.day_seconds if cfg.day_seconds is not None else 1.0)
    runner = env.runner
    index = max(0, getattr(runner, "worker_index", 0) or 0)
    bursts = get_shape(o.shape).bursts_for(shape_seconds(o)) if env.shape_class else ()
    return World(scenario=sc, strategy=pick_strategy(sc, o.strategy or cfg.strategy),
                 day_seconds=day, replication=o.replication or cfg.replication or 0,
                 run_id=f"{o.run_id or secrets.token_hex(3)}-w{index}", bursts=bursts,
                 t_start=time.monotonic(), offset=(index * 100_003) % sc.devices)


class DeviceUser(FastHttpUser):
    """One simulated device at a time: its whole history, then the next device."""

    world: ClassVar[World | None] = None
    counter: ClassVar[itertools.count[int]] = itertools.count()
    slots: ClassVar[itertools.count[int]] = itertools.count()

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.device: Device | None = None
        self.wake = 0.0
        self.bursts: list[tuple[float, str]] = []

    def wait_time(self) -> float:
        """Until the device's next session or this user's next burst, in real seconds."""
        wake = self.wake
        if self.bursts and self.bursts[0][0] < wake:
            wake = self.bursts[0][0]
        return max(0.0, wake - time.monotonic())

    def on_start(self) -> None:
        """Plan this user's part in the shape's bursts."""
        w = self.world
        assert w is not None, "the test_start listener builds the world"
        if w.bursts and w.day_seconds > 0:
            self.bursts = plan_bursts(w.bursts, w.t_start, w.offset * 1_000_003 + next(self.slots))

    @task
    def live(self) -> None:
        """Live the next device's whole history (``Device.run``, with this user as its link)."""
        w = self.world
        assert w is not None, "the test_start listener builds the world"
        seq = next(self.counter)
        now = time.monotonic()
        while self.bursts and self.bursts[0][0] <= now:
            self.bursts.pop(0)  # a device just started is opening the app anyway
        dev = self.device = Device(w, w.population_index(seq), f"{w.run_id}-{seq}", now)
        w.devices.append(dev)
        self.wake = 0.0
        dev.run(self)
        self.wake = 0.0

    # --- the device's link ---------------------------------------------------------------

    def request(self, call: Call) -> Reply:
        """Make one of the device's calls (Locust times it under the endpoint's name)."""
        r = self.client.request(call.method, call.path, data=call.body,  # type: ignore[arg-type]
                                name=call.name)
        return r.status_code, r.content

    def wait_until(self, t: float) -> BurstNow | None:
        """Wait until simulated time ``t``, or until a burst of the shape reaches this user.

        A wait already over (compressed time) goes on at once, without a hub
        switch; a longer one goes through Locust's ``wait()``, so a stopping
        run ends the user there (``StopUser``).
        """
        dev = self.device
        assert dev is not None
        self.wake = wake = dev.real0 + (t - dev.sim0) * dev.world.day_seconds
        bursts = self.bursts
        while True:
            now = time.monotonic()
            if bursts and bursts[0][0] <= now:
                real, kind = bursts.pop(0)
                return BurstNow(kind, real)
            if self._state != LOCUST_STATE_RUNNING:
                raise StopUser()
            if wake <= now:
                return None
            self.wait()  # type: ignore[no-untyped-call]


class TrivialUser(FastHttpUser):
    """The benchmark's baseline: one registered device asking eligibility, nothing else."""

    wait_time = constant(0)
    counter: ClassVar[itertools.count[int]] = itertools.count()
    body = msgspec.json.encode({"trigger": "app_open", "at": EPOCH + 1.0})

    def on_start(self) -> None:
        """Register the device."""
        w = DeviceUser.world
        device_id = f"{w.run_id if w else secrets.token_hex(3)}-t{next(self.counter)}"
        self.client.post(REGISTER, name=REGISTER, data=msgspec.json.encode({
            "device_id": device_id, "user_id": device_id, "platform": "ios",
            "os_version": 18.0, "at": EPOCH}))  # type: ignore[arg-type]
        self.path = f"/v1/devices/{device_id}/eligibility"

    @task
    def ask(self) -> None:
        """One eligibility question."""
        self.client.post(self.path, data=self.body, name=ELIGIBILITY)  # type: ignore[arg-type]


# --- listeners ----------------------------------------------------------------------------

def _on_init(environment: Environment, **_: Any) -> None:
    locust.stats.bucket_response_time = bud.fine_bucket  # type: ignore[assignment]


def _on_test_start(environment: Environment, **_: Any) -> None:
    o: Any = environment.parsed_options
    if not o.api_key:
        log.error("promptsim: no API key: pass --api-key or set PROMPTSIM_API_KEY "
                  "(promptsim apps create NAME --clock client)")
        environment.process_exit_code = 2
        environment.runner.quit()  # type: ignore[union-attr]
        return
    world = DeviceUser.world = build_world(environment)
    headers = {"Authorization": f"Bearer {o.api_key}", "Content-Type": "application/json"}
    DeviceUser.default_headers = TrivialUser.default_headers = headers
    if isinstance(environment.runner, WorkerRunner) or o.skip_setup:
        return
    try:
        with Api(environment.host or "", o.api_key) as api:
            set_up_app(api, world.scenario, world.strategy)
    except Exception as exc:
        log.error("promptsim: cannot set up the app on %s: %s", environment.host, exc)
        environment.process_exit_code = 2
        environment.runner.quit()  # type: ignore[union-attr]


def write_device_log(environment: Environment) -> Path | None:
    """Every device this process ran, one JSON line each, for the consistency check."""
    o: Any = environment.parsed_options
    out, world = o.load_out, DeviceUser.world
    if not out or world is None or not world.devices:
        return None
    path = Path(out) / f"devices-{os.getpid()}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    enc = msgspec.json.Encoder()
    with open(path, "wb") as f:
        for dev in world.devices:
            f.write(enc.encode(dev.record()) + b"\n")
    return path


def endpoint_stats(environment: Environment) -> dict[str, bud.EndpointStats]:
    """Locust's statistics per endpoint and ``Aggregated``; percentiles from fine buckets."""
    stats = environment.stats
    out = {}
    for entry in [*stats.entries.values(), stats.total]:
        n = entry.num_requests - entry.num_none_requests
        hist = entry.response_times
        name = bud.AGGREGATED if entry is stats.total else entry.name
        out[name] = bud.EndpointStats(
            name=name, requests=entry.num_requests, failures=entry.num_failures,
            rps=float(entry.total_rps), p50_ms=bud.percentile(hist, n, 0.5),
            p95_ms=bud.percentile(hist, n, 0.95), p99_ms=bud.percentile(hist, n, 0.99))
    return out


def _on_quitting(environment: Environment, **_: Any) -> None:
    write_device_log(environment)
    if isinstance(environment.runner, WorkerRunner) or environment.process_exit_code == 2:
        return
    o: Any = environment.parsed_options
    try:
        cfg_budgets = read_scenario(o.scenario)[1].budgets
    except Exception:  # the scenario already failed loudly at test start
        cfg_budgets = {}
    budgets = _budgets(o, cfg_budgets)
    stats = endpoint_stats(environment)
    results = bud.evaluate(budgets, stats)
    line = bud.summary_line(results)
    broken = any(not r.passed for r in results)
    if broken:
        environment.process_exit_code = bud.BUDGET_EXIT
        log.error("promptsim: %s", line)
    else:
        log.info("promptsim: %s", line)
        exceptions = environment.runner.exceptions if environment.runner else {}
        environment.process_exit_code = 1 if exceptions else 0
    if o.load_out:
        entries = environment.stats.entries.values()
        hist = {bud.AGGREGATED: environment.stats.total.response_times,
                **{e.name: e.response_times for e in entries}}
        doc = {"exit_code": environment.process_exit_code, "budget_line": line,
               "budgets": [_res(r) for r in results],
               "endpoints": {k: _stat(v) for k, v in stats.items()},
               "histograms": {k: {str(ms): n for ms, n in h.items()} for k, h in hist.items()},
               "master": isinstance(environment.runner, MasterRunner)}
        path = Path(o.load_out) / HISTOGRAMS
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(msgspec.json.encode(doc))


def _res(r: bud.BudgetResult) -> dict[str, Any]:
    return {"endpoint": r.endpoint, "metric": r.metric, "limit": r.limit, "value": r.value,
            "passed": r.passed}


def _stat(s: bud.EndpointStats) -> dict[str, Any]:
    return {"requests": s.requests, "failures": s.failures, "rps": s.rps, "p50_ms": s.p50_ms,
            "p95_ms": s.p95_ms, "p99_ms": s.p99_ms, "fail_ratio": s.fail_ratio}


def install(ev: Any = events) -> None:
    """Register the options and listeners (a locustfile calls this once)."""
    ev.init_command_line_parser.add_listener(add_options)
    ev.init.add_listener(_on_init)
    ev.test_start.add_listener(_on_test_start)
    ev.test_stop.add_listener(lambda environment, **_: write_device_log(environment))
    ev.quitting.add_listener(_on_quitting)
