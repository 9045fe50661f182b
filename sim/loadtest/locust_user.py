"""The Locust side: the device user, the benchmark's trivial user, options and listeners.

Importing this module imports Locust (and so gevent's monkey-patching): only
locustfiles import it, and Locust always runs in its own process. The
behaviour itself is in ``sim.loadtest.device``; here a ``FastHttpUser`` is the
device's link: it makes the device's calls and waits until its next session in
compressed time, one device after the other.

Options are declared and checked in ``sim.loadtest.locust_options`` (command line,
environment and the web UI's start form alike). In the web UI a start with options that
do not fit, or an app that cannot run the test, is refused at once with the reason in
the form; an exception inside a device counts as a Locust failure (request type
``DEVICE``), so the UI's failure rate shows it.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import gevent
import locust.stats
import msgspec
from gevent import GreenletExit
from locust import FastHttpUser, constant, events, task
from locust.env import Environment
from locust.exception import (
    InterruptTaskSet,
    RescheduleTask,
    RescheduleTaskImmediately,
    StopTest,
    StopUser,
)
from locust.runners import LocalRunner, MasterRunner, WorkerRunner
from locust.user.task import LOCUST_STATE_RUNNING

from sim.loadtest import budgets as bud
from sim.loadtest.api import Api, ApiError, check_app, set_up_app
from sim.loadtest.calls import BurstNow, Call, Reply
from sim.loadtest.device import ELIGIBILITY, REGISTER, Device
from sim.loadtest.locust_options import (
    LoadOptions,
    OptionError,
    add_options,
    parse,
    shape_seconds,
)
from sim.loadtest.results import HISTOGRAMS
from sim.loadtest.shapes import get_shape
from sim.loadtest.world import World, plan_bursts
from sim.model.clock import EPOCH

log = logging.getLogger("promptsim.load")
DEVICE_FAILURE = "device life (exception)"
"""The name under which an exception inside a simulated device counts as a failure."""
CONTROL = (StopUser, StopTest, InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately,
           GreenletExit)
"""Exceptions Locust and gevent use to steer users: never failures."""


def build_world(env: Environment, o: LoadOptions) -> World:
    """The process's :class:`World` from the checked options."""
    runner = env.runner
    index = max(0, getattr(runner, "worker_index", 0) or 0)
    seconds = o.shape_seconds or shape_seconds(vars(env.parsed_options))
    bursts = get_shape(o.shape).bursts_for(seconds) if env.shape_class else ()
    sc = o.scenario
    return World(scenario=sc, strategy=o.strategy, day_seconds=o.day_seconds,
                 replication=o.replication, run_id=f"{o.run_id}-w{index}", bursts=bursts,
                 t_start=time.monotonic(), offset=(index * 100_003) % sc.devices,
                 experiment=o.experiment, max_devices=o.max_devices)


class DeviceUser(FastHttpUser):
    """One simulated device at a time: its whole history, then the next device."""

    world: ClassVar[World | None] = None
    options: ClassVar[LoadOptions | None] = None
    counter: ClassVar[itertools.count[int]] = itertools.count()
    slots: ClassVar[itertools.count[int]] = itertools.count()
    finished: ClassVar[int] = 0
    """Devices of this process that lived their whole history."""
    quitting: ClassVar[bool] = False
    """The run ends early: every device of ``--max-devices`` ran."""

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
        if w.max_devices is not None and seq >= w.max_devices:
            if DeviceUser.finished >= w.max_devices:
                _all_ran(self.environment, w.max_devices)
            raise StopUser()  # this process has run its devices
        now = time.monotonic()
        while self.bursts and self.bursts[0][0] <= now:
            self.bursts.pop(0)  # a device just started is opening the app anyway
        dev = self.device = Device(w, w.population_index(seq), f"{w.run_id}-{seq}", now)
        w.devices.append(dev)
        self.wake = 0.0
        try:
            dev.run(self)
        except CONTROL:
            raise
        except Exception as exc:  # a bug in a device: a failure the UI counts, not silence
            self.environment.events.request.fire(
                request_type="DEVICE", name=DEVICE_FAILURE, response_time=0,
                response_length=0, exception=exc, context={}, response=None, url=None)
            raise
        self.wake = 0.0
        DeviceUser.finished += 1

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

def _all_ran(environment: Environment, n: int) -> None:
    """Every device of ``--max-devices`` lived its whole history: a headless run of one
    process ends now, as at its run-time limit (in a separate greenlet: quitting stops
    this user's too). Workers and the web UI's runs go on until their time is up."""
    runner = environment.runner
    o: Any = environment.parsed_options
    if isinstance(runner, LocalRunner) and o is not None and getattr(o, "headless", False) \
            and not DeviceUser.quitting:
        DeviceUser.quitting = True
        log.info("promptsim: all %d devices ran; stopping", n)
        gevent.spawn(runner.quit)


def _on_init(environment: Environment, **_: Any) -> None:
    locust.stats.bucket_response_time = bud.fine_bucket  # type: ignore[assignment]
    web = environment.web_ui
    if web is not None and web.app is not None:
        web.app.before_request(lambda: _check_swarm(environment))
        return
    o: Any = environment.parsed_options
    if o is not None and getattr(o, "headless", False):
        try:  # headless: refuse options that cannot run before the test starts, exit 2
            parse(vars(o))
        except OptionError as exc:
            log.error("promptsim: %s", exc)
            sys.exit(2)


def _check_swarm(environment: Environment) -> Any:
    """Web UI: refuse a start (``POST /swarm``) whose options do not fit, or whose app
    cannot run the test, with the reason in the form's answer, before any user starts."""
    from flask import jsonify, request

    if request.path != "/swarm" or request.method != "POST":
        return None
    values = {**vars(environment.parsed_options or object())}
    for key, value in request.form.items():
        if key in values and key not in ("user_count", "spawn_rate", "run_time"):
            values[key] = value == "true" if isinstance(values[key], bool) else value
    host = request.form.get("host") or environment.host or ""
    try:
        o = parse(values)
        if not o.skip_setup:
            with Api(host, o.api_key) as api:
                check_app(api)
    except (OptionError, ApiError, OSError, ValueError) as exc:
        log.error("promptsim: %s", exc)
        return jsonify({"success": False, "message": f"promptsim: {exc}", "host": host})
    return None


def _refuse(environment: Environment, why: str) -> None:
    """A test start that cannot run: headless, exit 2; in the web UI, a failure the UI shows
    and the run stopped (the form's check catches most of these before)."""
    log.error("promptsim: %s", why)
    runner = environment.runner
    assert runner is not None
    o: Any = environment.parsed_options
    if o is None or getattr(o, "headless", False) or environment.web_ui is None:
        environment.process_exit_code = 2
        runner.quit()
        return
    environment.events.request.fire(  # type: ignore[no-untyped-call]
        request_type="SETUP", name="promptsim set-up", response_time=0, response_length=0,
        exception=RuntimeError(why), context={}, response=None, url=None)
    gevent.spawn(runner.stop)


def _on_test_start(environment: Environment, **_: Any) -> None:
    DeviceUser.world = DeviceUser.options = None
    try:
        o = parse(vars(environment.parsed_options or object()))
    except OptionError as exc:
        _refuse(environment, str(exc))
        return
    DeviceUser.options = o
    headers = {"Authorization": f"Bearer {o.api_key}", "Content-Type": "application/json"}
    DeviceUser.default_headers = TrivialUser.default_headers = headers
    if not (isinstance(environment.runner, WorkerRunner) or o.skip_setup):
        try:
            with Api(environment.host or "", o.api_key) as api:
                set_up_app(api, o.scenario, o.strategy, o.experiment)
        except (ApiError, OSError, ValueError) as exc:
            _refuse(environment, f"cannot set up the app on {environment.host}: {exc}")
            return
    DeviceUser.world = build_world(environment, o)


def write_device_log(environment: Environment) -> Path | None:
    """Every device this process ran, one JSON line each, for the consistency check."""
    o, world = DeviceUser.options, DeviceUser.world
    out = o.load_out if o is not None else ""
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
    o = DeviceUser.options
    if o is None:  # never started: the reason was reported at the start
        return
    budgets = o.budgets
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
    """Register the options and listeners (a locustfile calls this once).

    The CSV history is flushed every second (Locust's default: 5 s), so that
    ``promptsim load``'s live progress line follows the run."""
    locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = 1
    ev.init_command_line_parser.add_listener(add_options)
    ev.init.add_listener(_on_init)
    ev.test_start.add_listener(_on_test_start)
    ev.test_stop.add_listener(lambda environment, **_: write_device_log(environment))
    ev.quitting.add_listener(_on_quitting)
