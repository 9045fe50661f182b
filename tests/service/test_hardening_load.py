"""Attacks that used to exhaust the server, on a real server process: its memory and file
descriptors stay bounded and normal clients keep being answered while each attack runs.

Each test starts hostile clients (``attack.py``) in a subprocess, measures the server's
resident memory, and times normal requests meanwhile. Figures are printed (``-s``).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
from service_helpers import T0, ev, read_response

from bench.repeating import Repeating

HERE = Path(__file__).resolve().parent
MB = 1 << 20


def attack(kind: str, n: int, port: int, hold: float, key: str = "") -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(HERE / "attack.py"), kind, str(n), str(port),
                             str(hold), key], stdout=subprocess.PIPE, text=True)


@contextmanager
def seeded(server: Any) -> Iterator[httpx.Client]:
    """A client of a new app with campaign ``welcome`` and device ``d1``, closed after the
    block (even when it fails: a socket left to the garbage collector would fail a later,
    unrelated test with a ResourceWarning)."""
    key = server.new_app("client")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"},
                      timeout=10) as c:
        assert c.put("/v1/campaigns/welcome", json={"frequency": {"type": "every_time"}}
                     ).status_code == 201
        assert c.post("/v1/devices", json={"device_id": "d1", "user_id": "u1",
                                           "platform": "ios", "at": T0}).status_code == 201
        assert c.post("/v1/devices/d1/events", json={"events": [ev("session_start", T0)]}
                      ).status_code == 200
        yield c


class Probe(Repeating):
    """Normal requests (a read and an eligibility call, each on a fresh connection) every
    0.1 s, and the server's memory, while an attack runs."""

    def __init__(self, server: Any, c: httpx.Client) -> None:
        super().__init__(0.1)
        self.server, self.c = server, c
        self.statuses: list[int] = []
        self.latencies: list[float] = []
        self.rss: list[int] = []
        self.n = 0

    def step(self) -> None:
        self.n += 1
        for method, path, body in [("GET", "/v1/devices/d1", None),
                                   ("POST", "/v1/devices/d1/eligibility",
                                    {"trigger": "app_open", "at": T0 + self.n})]:
            t = time.monotonic()
            try:
                with httpx.Client(base_url=self.server.url, headers=self.c.headers,
                                  timeout=5) as fresh:
                    self.statuses.append(fresh.request(method, path, json=body).status_code)
            except httpx.TransportError:
                self.statuses.append(0)
            self.latencies.append(time.monotonic() - t)
        self.rss.append(self.server.rss())

    def report(self, name: str, base: int) -> dict[str, Any]:
        lat = sorted(self.latencies)
        out = {"attack": name, "normal_requests": len(self.statuses),
               "normal_ok": sum(s == 200 for s in self.statuses),
               "p50_ms": round(lat[len(lat) // 2] * 1000, 1),
               "max_ms": round(lat[-1] * 1000, 1),
               "rss_base_mb": round(base / MB), "rss_peak_mb": round(max(self.rss) / MB)}
        print(out)
        return out


class OpenFiles(Repeating):
    """The open files of a process, counted every 0.1 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(0.1)
        self.proc = psutil.Process(pid)
        self.counts: list[int] = []

    def step(self) -> None:
        self.counts.append(self.proc.num_fds())


def run(server: Any, c: httpx.Client, kind: str, n: int, hold: float,
        key: str = "") -> tuple[dict[str, Any], dict[str, Any], int]:
    base = server.rss()
    with Probe(server, c) as probe:
        proc = attack(kind, n, server.port, hold, key)
        out, _ = proc.communicate(timeout=hold + 120)
    time.sleep(0.5)
    after = server.rss()
    seen = json.loads(out)
    print(kind, seen, "rss after", round(after / MB), "MB")
    return probe.report(kind, base), seen, after - base


def test_unauthenticated_bodies_cost_no_memory(sqlite_url, server_factory):
    """Issue 15.6: 1,500 connections without a key, each holding 900 KB of an unfinished
    1 MiB body, get 401 from the headers alone; the server's memory stays within 100 MB of
    where it started (the probe saw 51 -> 1,564 MB), and every normal request is answered
    200 meanwhile."""
    s = server_factory(sqlite_url)
    with seeded(s) as c:
        got, seen, grew = run(s, c, "body", 1500, 15.0)
        assert seen["opened"] == 1500 and seen["statuses"].get("401", 0) >= 1490, seen
        assert got["normal_ok"] == got["normal_requests"] > 10, got
        assert got["rss_peak_mb"] - got["rss_base_mb"] < 100, got
        assert grew < 60 * MB


def test_authenticated_bodies_are_bounded_by_the_body_budget(sqlite_url, server_factory):
    """Issue 15.6: bodies of authenticated clients held at once are bounded per worker
    (``PROMPTSIM_MAX_BODY_MEMORY``, here 8 MiB): past it a body is refused with 503 and
    Retry-After at once, not buffered; a body that stalls is 408 after
    ``PROMPTSIM_BODY_TIMEOUT``; normal requests are answered throughout."""
    s = server_factory(sqlite_url, env={"PROMPTSIM_MAX_BODY_MEMORY": str(8 * MB),
                                        "PROMPTSIM_BODY_TIMEOUT": "3"})
    with seeded(s) as c:
        key = c.headers["Authorization"].split()[1]
        got, seen, _ = run(s, c, "authbody", 40, 8.0, key)
        assert seen["statuses"].get("503", 0) >= 30, seen  # 8 of 40 fit the budget
        assert seen["statuses"].get("408", 0) >= 1, seen  # those then time out
        assert got["normal_ok"] == got["normal_requests"], got
        assert got["rss_peak_mb"] - got["rss_base_mb"] < 60, got


def test_slow_clients_are_closed_and_cost_nothing(sqlite_url, server_factory):
    """Issue 15.7: 3,000 connections trickling their headers a byte a second are closed
    (408) once ``PROMPTSIM_HEADER_TIMEOUT`` (here 2 s) has passed; normal clients are
    answered meanwhile and memory stays flat."""
    s = server_factory(sqlite_url, env={"PROMPTSIM_HEADER_TIMEOUT": "2"})
    with seeded(s) as c:
        got, seen, _ = run(s, c, "slow", 3000, 12.0)
        assert seen["opened"] == 3000 and seen["closed_by_server"] == 3000, seen
        assert seen["closed_median_s"] < 6, seen
        assert got["normal_ok"] == got["normal_requests"], got
        assert got["rss_peak_mb"] - got["rss_base_mb"] < 60, got


def test_idle_connections_cannot_exhaust_file_descriptors(sqlite_url, server_factory):
    """Issue 15.7: with a 1,024-file limit, 2,500 idle connections neither fill the file
    table (the server's open files stay under the limit) nor lock normal clients out:
    past the connection limit the oldest connection waiting without a request is closed."""
    s = server_factory(sqlite_url, nofile=1024, env={"PROMPTSIM_HEADER_TIMEOUT": "30"})
    with seeded(s) as c:
        with OpenFiles(s.proc.pid) as files:
            got, seen, _ = run(s, c, "idle", 2500, 8.0)
        fds = files.counts
        print("server open files, peak", max(fds))
        assert max(fds) < 1024, max(fds)
        assert seen["closed_by_server"] >= 2500 - 1024, seen
        assert got["normal_ok"] == got["normal_requests"], got


@contextmanager
def _held_requests(port: int, key: str, n: int) -> Iterator[None]:
    """``n`` requests being served (headers sent, body promised and not sent) while the
    block runs; their sockets are closed after it, even when it fails."""
    with ExitStack() as stack:
        for _ in range(n):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
            sock.sendall(b"POST /v1/devices/d1/events HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         b"application/json\r\nAuthorization: Bearer " + key.encode() +
                         b"\r\nContent-Length: 100\r\n\r\n{")
        yield


def test_busy_server_sheds_with_503_and_retry_after(sqlite_url, server_factory):
    """Issue 15.7: when every connection is serving a request (``PROMPTSIM_MAX_CONNECTIONS``
    20) a new connection is answered 503 with Retry-After and closed; so is a request past
    ``PROMPTSIM_MAX_REQUESTS`` when no request may wait for a place
    (``PROMPTSIM_MAX_QUEUED=0``; the queue is ``test_overload.py``'s); an idle kept-alive
    connection is closed after ``PROMPTSIM_KEEP_ALIVE_TIMEOUT``; headers over 64 KiB are
    431."""
    s = server_factory(sqlite_url, env={"PROMPTSIM_MAX_CONNECTIONS": "20",
                                        "PROMPTSIM_MAX_REQUESTS": "30",
                                        "PROMPTSIM_BODY_TIMEOUT": "3",
                                        "PROMPTSIM_KEEP_ALIVE_TIMEOUT": "1"})
    with seeded(s) as c:
        key = c.headers["Authorization"].split()[1]
        with _held_requests(s.port, key, 20):
            time.sleep(0.3)
            r = httpx.get(s.url + "/livez", timeout=5)
            assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
            assert r.json()["error"] == "overloaded"
        time.sleep(0.3)
        s2 = server_factory(sqlite_url, env={"PROMPTSIM_MAX_REQUESTS": "5",
                                             "PROMPTSIM_MAX_QUEUED": "0",
                                             "PROMPTSIM_BODY_TIMEOUT": "3"})
        with _held_requests(s2.port, key, 5):
            time.sleep(0.3)
            t = time.monotonic()
            r = httpx.get(s2.url + "/livez", timeout=5)
            assert time.monotonic() - t < 1.0  # at once, not after a wait
            assert r.status_code == 503 and r.json()["error"] == "overloaded", r.text
            assert r.headers["retry-after"] == "1"
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
            sock.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(sock).startswith(b"HTTP/1.1 200")
            t = time.monotonic()
            assert sock.recv(4096) == b""  # closed by the server
            assert 0.5 < time.monotonic() - t < 3
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
            sock.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000
                         + b"\r\n\r\n")
            assert read_response(sock).startswith(b"HTTP/1.1 431")
