"""The store fails clearly: a bad or damaged file stops the start with one line, a damaged
page, a full disk, a held lock or a database that stops answering gives 503 naming the
cause with ``Retry-After`` (never 500, never a hang), and ``/healthz`` says so."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from netproxy import FreezableProxy
from service_helpers import ADMIN, ROOT, T0, ev, free_port

PAGE = 4096


def serve_once(db: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``promptsim serve`` on ``db`` expected to refuse to start."""
    return subprocess.run([sys.executable, "-m", "sim", "serve", "--db", db, "--port", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=os.environ | (env or {}))


def one_line_exit_2(r: subprocess.CompletedProcess[str], *words: str) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert lines[0].startswith("promptsim serve: error: ")
    for w in words:
        assert w in lines[0], lines[0]


def mount_tmpfs(mnt: Path, size: str) -> Path:
    """Mount a tmpfs of ``size`` at ``mnt`` (needs root): skipped where it cannot be mounted,
    a failure when ``CI`` is set (CI runs these tests as root, so they must run there)."""
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but a tmpfs cannot be mounted: {r.stderr.strip()}")
        pytest.skip("mounting a tmpfs needs root")
    return mnt


@contextlib.contextmanager
def filled(server: object, devices: int = 60) -> Iterator[httpx.Client]:
    """A client of a new client-clock app with ``devices`` devices and a few events each,
    closed after the block even when it fails."""
    key = server.new_app("client")  # type: ignore[attr-defined]
    with httpx.Client(base_url=server.url,  # type: ignore[attr-defined]
                      headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
        for i in range(devices):
            assert c.post("/v1/devices", json={"device_id": f"d{i}", "user_id": f"u{i}",
                                               "platform": "ios", "at": T0}).status_code == 201
            r = c.post(f"/v1/devices/d{i}/events", json={"events": [
                ev("custom_event", T0 + j, f"d{i}-e{j}", name="x" * 40) for j in range(20)]})
            assert r.status_code == 200
        yield c


@pytest.mark.parametrize("damage", ["garbage", "truncated", "pages"])
def test_a_bad_file_stops_the_start_with_one_line(tmp_path, server_factory, damage):
    """Issue 15.11 and 15.5: garbage, a truncated file or overwritten pages (found by
    ``PRAGMA quick_check`` at start) is one line naming the file and the problem, exit 2."""
    db = tmp_path / "x.sqlite3"
    if damage == "garbage":
        db.write_bytes(os.urandom(64 * 1024))
    else:
        s = server_factory(str(db))
        with filled(s):
            pass
        s.stop()
        size = db.stat().st_size
        with open(db, "r+b") as f:
            if damage == "truncated":
                f.truncate(size // 2)
            else:
                for page in range(size // PAGE // 3, size // PAGE // 3 + 20):
                    f.seek(page * PAGE)
                    f.write(os.urandom(PAGE))
    one_line_exit_2(serve_once(str(db)), str(db))


def test_a_read_only_filesystem_stops_the_start_with_one_line(tmp_path):
    """Issue 15.11: a database on a read-only filesystem: one line, exit 2."""
    mnt = mount_tmpfs(tmp_path / "ro", "4m")
    try:
        subprocess.run([sys.executable, "-m", "sim", "apps", "create", "x", "--db",
                        str(mnt / "db.sqlite3")], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        one_line_exit_2(serve_once(str(mnt / "db.sqlite3")), str(mnt / "db.sqlite3"))
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_an_unreachable_postgres_stops_the_start_with_one_line():
    """Issue 15.11: nothing listening at the URL: one line naming it (no password), exit 2."""
    r = serve_once("postgresql://postgres:secret@127.0.0.1:9/test",
                   {"PROMPTSIM_CONNECT_TIMEOUT": "2"})
    one_line_exit_2(r, "postgresql://postgres@127.0.0.1:9/test")
    assert "secret" not in r.stderr


def test_a_damaged_page_at_run_time_is_503_not_500(tmp_path, server_factory):
    """Issue 15.5: pages overwritten while the check at start was off: resending every event
    answers 200 or 503 ``store_corrupt`` (with Retry-After), never 500; ``/healthz`` then
    says the file is damaged, ``/livez`` still answers. Neither names the file (issue
    28.10): the server log does."""
    db = str(tmp_path / "x.sqlite3")
    s = server_factory(db)
    with filled(s, 100) as c:
        key = c.headers["Authorization"]
    s.stop()
    size = os.path.getsize(db)
    with open(db, "r+b") as f:
        for page in range(size // PAGE // 2, size // PAGE // 2 + 20):
            f.seek(page * PAGE)
            f.write(os.urandom(PAGE))
    s = server_factory(db, env={"PROMPTSIM_INTEGRITY_CHECK": "off"})
    seen: dict[int, int] = {}
    with httpx.Client(base_url=s.url, headers={"Authorization": key}, timeout=30) as c:
        for i in range(100):
            r = c.post(f"/v1/devices/d{i}/events", json={"events": [
                ev("custom_event", T0 + j, f"d{i}-e{j}", name="x" * 40) for j in range(20)]})
            seen[r.status_code] = seen.get(r.status_code, 0) + 1
            if r.status_code == 503:
                assert r.json()["error"] == "store_corrupt" and str(tmp_path) not in r.text
                assert r.headers["retry-after"]
    assert set(seen) <= {200, 404, 503} and seen.get(503), seen
    h = httpx.get(s.url + "/healthz")
    assert h.status_code == 503 and h.json()["error"] == "store_corrupt"
    assert str(tmp_path) not in h.text  # issue 28.10: no tenant reads the server's paths
    logged = (tmp_path / "server.log").read_text()
    assert f"WARNING store_corrupt: {db}: DatabaseError: " in logged, logged[-2000:]
    assert httpx.get(s.url + "/livez").json() == {"status": "alive"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MiB tmpfs (needs root; skipped elsewhere unless CI is set)."""
    mnt = mount_tmpfs(tmp_path / "disk", "6m")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_is_503_with_its_cause_and_recovers(small_disk, server_factory):
    """Issue 15.10: writes on a full disk answer 503 ``storage_full`` (the real cause, not
    "cannot rollback"), with Retry-After; ``/healthz`` is 503 with it while reads still
    work; once space is freed, writes and ``/healthz`` work again."""
    s = server_factory(str(small_disk / "db.sqlite3"))
    with filled(s, 5) as c:
        filler = small_disk / "filler"
        with contextlib.suppress(OSError), open(filler, "wb") as f:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        statuses = []
        for i in range(200):  # until the WAL has no room left
            r = c.post("/v1/devices", json={"device_id": f"full{i}", "user_id": "u",
                                            "platform": "ios", "at": T0})
            statuses.append(r.status_code)
            if r.status_code == 503:
                break
        assert statuses[-1] == 503 and set(statuses) <= {201, 503}, statuses
        assert r.json()["error"] == "storage_full" and "is full" in r.json()["detail"]
        assert str(small_disk) not in r.text
        assert int(r.headers["retry-after"]) > 0
        e = c.post("/v1/devices/d1/events", json={"events": [ev("session_start", T0 + 5)]})
        assert e.status_code == 503 and e.json()["error"] == "storage_full"
        h = httpx.get(s.url + "/healthz")
        assert h.status_code == 503 and h.json()["error"] == "storage_full"
        assert h.headers["retry-after"]
        assert c.get("/v1/devices/d1").status_code == 200  # reads still work
        filler.unlink()
        assert httpx.get(s.url + "/healthz").status_code == 200
        assert c.post("/v1/devices/d1/events", json={"events": [ev("session_start", T0 + 6)]}
                      ).status_code == 200


def test_a_held_write_lock_blocks_no_read(tmp_path, server_factory):
    """Issue 15.9: while another process holds the write lock for 3 s, health checks and
    reads answer at once; a write waits for the lock without blocking them and commits
    after it is released (within ``PROMPTSIM_STORE_TIMEOUT``), or is 503 ``busy`` with
    Retry-After past that deadline."""
    db = str(tmp_path / "x.sqlite3")
    s = server_factory(db, env={"PROMPTSIM_STORE_TIMEOUT": "6"})
    with filled(s, 3) as c:
        lock = sqlite3.connect(db, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        held = time.monotonic()
        answers: list[int] = []
        writer = threading.Thread(target=lambda: answers.append(c.post(
            "/v1/devices/d1/events", json={"events": [ev("session_start", T0 + 1)]}).status_code))
        writer.start()
        slowest = 0.0
        while time.monotonic() - held < 3:
            for path in ("/healthz", "/v1/devices/d2"):
                t = time.monotonic()
                assert c.get(path).status_code == 200
                slowest = max(slowest, time.monotonic() - t)
            time.sleep(0.05)
        assert writer.is_alive()  # still waiting for the lock
        lock.execute("COMMIT")
        writer.join(10)
        assert answers == [200] and slowest < 0.5, (answers, slowest)
        s2 = server_factory(db, env={"PROMPTSIM_STORE_TIMEOUT": "0.5"})
        lock.execute("BEGIN IMMEDIATE")
        r = httpx.post(s2.url + "/v1/devices/d1/events", headers=c.headers,
                       json={"events": [ev("session_start", T0 + 2)]})
        lock.execute("COMMIT")
        lock.close()
    assert r.status_code == 503 and r.json()["error"] == "busy" and r.headers["retry-after"]


def test_postgres_that_stops_answering_is_503_in_time(pg_url, server_factory):
    """Issue 15.8: PostgreSQL reachable but silent (a proxy that stops forwarding): health
    and eligibility answer 503 within the deadline with Retry-After, ``/livez`` 200, and
    the service recovers when the database answers again."""
    u = urlsplit(pg_url)
    proxy = FreezableProxy(u.hostname or "127.0.0.1", u.port or 5432).start()
    try:
        via = pg_url.replace(f"{u.hostname}:{u.port}", f"127.0.0.1:{proxy.port}")
        s = server_factory(via, env={"PROMPTSIM_STORE_TIMEOUT": "1",
                                     "PROMPTSIM_CONNECT_TIMEOUT": "1"})
        with filled(s, 2) as c:
            proxy.freeze()
            for method, path, body in [("GET", "/healthz", None),
                                       ("POST", "/v1/devices/d1/eligibility",
                                        {"trigger": "app_open", "at": T0 + 9}),
                                       ("POST", "/v1/devices", {"device_id": "n", "user_id": "u",
                                                                "platform": "ios", "at": T0})]:
                t = time.monotonic()
                r = c.request(method, path, json=body)
                took = time.monotonic() - t
                assert r.status_code == 503 and took < 3, (path, r.status_code, took)
                assert r.json()["error"] in ("timeout", "unavailable") and r.headers["retry-after"]
            assert httpx.get(s.url + "/livez", timeout=2).status_code == 200
            proxy.thaw()
            end = time.monotonic() + 15
            while httpx.get(s.url + "/healthz", timeout=5).status_code != 200:
                assert time.monotonic() < end, "no recovery after the database answered again"
                time.sleep(0.2)
            assert c.get("/v1/devices/d1").status_code == 200
    finally:
        proxy.stop()


@pytest.mark.slow
def test_the_admin_key_can_come_from_a_file_out_of_sight_of_ps(tmp_path):
    """Issue 15.13: ``--admin-key-file`` (or ``PROMPTSIM_ADMIN_KEY_FILE``) keeps the key off
    the command line that ``ps`` shows; the key works."""
    import psutil

    key_file = tmp_path / "admin.key"
    key_file.write_text("file-admin-key-123\n")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sim", "serve", "--db",
                             str(tmp_path / "x.db"), "--port", str(port), "--admin-key-file",
                             str(key_file)], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        end = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/livez").status_code == 200:
                    break
            assert time.monotonic() < end
            time.sleep(0.1)
        cmdlines = [" ".join(p.cmdline()) for p in psutil.process_iter()
                    if p.pid == proc.pid or p.ppid() == proc.pid]
        assert cmdlines and not any("file-admin-key-123" in c for c in cmdlines)
        r = httpx.post(url + "/v1/apps", json={"name": "x"},
                       headers={"Authorization": "Bearer file-admin-key-123"})
        assert r.status_code == 201
        assert httpx.post(url + "/v1/apps", json={"name": "x"},
                          headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 401
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)
