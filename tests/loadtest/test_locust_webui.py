"""Locust's web-UI route, driven through Locust's own HTTP API as the browser form does:
``locust -f scenarios/locust/devices.py --web-port P`` in a subprocess, ``POST /swarm``
with every field as text (that is what the form sends), ``/stats/requests`` polled,
``/stop``, then ``/exceptions``. Against a real ``promptsim serve``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from loadtest_helpers import ROOT

from sim.loadtest.local import LocalService, create_app, free_port

pytestmark = pytest.mark.slow  # a browser, Locust, a cluster or long runs


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A service, a client-clock and a server-clock app, and Locust's web UI (no key given
    on its command line: the form gives it)."""
    db = str(tmp_path / "service.sqlite3")
    with LocalService(db, tmp_path / "service.log") as svc:
        key = create_app(db, "load")["api_key"]
        server_clock = subprocess.run(
            [sys.executable, "-m", "sim", "apps", "create", "shop", "--clock", "server",
             "--db", db], capture_output=True, text=True, check=True, cwd=ROOT).stdout
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTSIM_")}
        log = open(tmp_path / "locust.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", "scenarios/locust/devices.py",
             "--web-host", "127.0.0.1", "--web-port", str(port), "--host", svc.url],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        web = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(web + "/", timeout=2).status_code == 200:
                        break
                assert proc.poll() is None and time.monotonic() < deadline, \
                    (tmp_path / "locust.log").read_text()
                time.sleep(0.2)
            import json
            yield {"web": web, "service": svc.url, "key": key, "proc": proc,
                   "log": tmp_path / "locust.log",
                   "server_key": json.loads(server_clock)["api_key"]}
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
            log.close()


def _form(ui: dict[str, Any], **fields: str) -> dict[str, str]:
    return {"user_count": "8", "spawn_rate": "8", "host": ui["service"], "api_key": ui["key"],
            "scenario": "scenarios/quickstart.toml", "day_seconds": "0.05",
            "replication": "0", "shape_seconds": "", "budget": "", "run_id": "ui"} | fields


def test_a_swarm_started_from_the_form_runs_without_exceptions(ui):
    """Every field as text, as the browser sends it: the devices make requests, Locust
    records no exception and no failure, and /stop stops them."""
    with httpx.Client(base_url=ui["web"], timeout=30) as c:
        r = c.post("/swarm", data=_form(ui))
        assert r.json()["success"] is True, r.text
        deadline = time.monotonic() + 60
        total: dict[str, Any] = {}
        while time.monotonic() < deadline:
            time.sleep(1)
            stats = c.get("/stats/requests").json()
            total = next(s for s in stats["stats"] if s["name"] == "Aggregated")
            if total["num_requests"] >= 200:
                break
        assert c.post("/stop").json()["success"] is True
        exceptions = c.get("/exceptions").json()["exceptions"]
        stats = c.get("/stats/requests").json()
    assert exceptions == [], exceptions
    assert total["num_requests"] >= 200, stats
    assert total["num_failures"] == 0, stats["errors"]
    names = {s["name"] for s in stats["stats"]}
    assert "/v1/devices/{id}/eligibility" in names and "/v1/devices" in names


@pytest.mark.parametrize(("fields", "named"), [
    ({"day_seconds": "fast"}, "--day-seconds: 'fast' is not a number"),
    ({"replication": "-1"}, "--replication: -1 is out of range"),
    ({"api_key": ""}, "--api-key: required"),
    ({"shape": "wave"}, "--shape: 'wave' is not a shape"),
    ({"strategy": "nope"}, "--strategy: 'nope' is not in the scenario"),
])
def test_a_form_that_does_not_fit_is_refused_naming_the_field(ui, fields, named):
    """A bad value typed in the form is refused at once with the reason in the form's
    answer; no user starts, nothing is sent."""
    with httpx.Client(base_url=ui["web"], timeout=30) as c:
        r = c.post("/swarm", data=_form(ui, **fields))
        assert r.json()["success"] is False
        assert named in r.json()["message"]
        time.sleep(1)
        stats = c.get("/stats/requests").json()
    assert stats["user_count"] == 0 and stats["state"] in ("ready", "stopped")
    assert next(s for s in stats["stats"] if s["name"] == "Aggregated")["num_requests"] == 0


def test_the_readme_server_clock_app_is_refused_saying_what_to_do(ui):
    """The README walkthrough's app (server clock) cannot run a load test: the form says so
    and how to make one that can."""
    with httpx.Client(base_url=ui["web"], timeout=30) as c:
        r = c.post("/swarm", data=_form(ui, api_key=ui["server_key"]))
    message = r.json()["message"]
    assert r.json()["success"] is False
    assert "uses the server clock" in message
    assert "promptsim apps create NAME --clock client" in message
