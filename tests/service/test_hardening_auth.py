"""Failed authentication is cheap and bounded (issue 28.11), on a real server: an unknown
key is remembered (no store query), failures from one address past 20 in 10 s are 429
with ``Retry-After``, and an admin key shorter than 16 characters stops the start."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx
from netproxy import FreezableProxy
from service_helpers import ADMIN
from test_hardening_store import one_line_exit_2, serve_once


def test_failed_authentication_is_limited_per_address(sqlite_url, server_factory):
    s = server_factory(sqlite_url)
    key = s.new_app()
    good = {"Authorization": f"Bearer {key}"}
    assert httpx.get(s.url + "/v1/app", headers=good).status_code == 200
    for i in range(20):
        r = httpx.get(s.url + "/v1/app", headers={"Authorization": f"Bearer wrong-{i}"})
        assert r.status_code == 401, r.text
    r = httpx.get(s.url + "/v1/app", headers={"Authorization": "Bearer wrong-20"})
    assert r.status_code == 429 and r.json()["error"] == "too_many_failures"
    assert 1 <= int(r.headers["retry-after"]) <= 10
    admin = httpx.post(s.url + "/v1/apps", json={"name": "x"},
                       headers={"Authorization": "Bearer not-the-admin-key"})
    assert admin.status_code == 429
    assert httpx.get(s.url + "/v1/app", headers=good).status_code == 200  # accepted before


def test_an_unknown_key_is_remembered_without_a_store_query(pg_url, server_factory):
    """Asked again while the database is stalled, a key found unknown a moment ago is 401 at
    once; a key never seen needs the store and is 503."""
    u = urlsplit(pg_url)
    proxy = FreezableProxy(u.hostname or "127.0.0.1", u.port or 5432).start()
    try:
        via = pg_url.replace(f"{u.hostname}:{u.port}", f"127.0.0.1:{proxy.port}")
        s = server_factory(via, env={"PROMPTSIM_STORE_TIMEOUT": "1"})
        seen = {"Authorization": "Bearer seen-but-unknown"}
        assert httpx.get(s.url + "/v1/app", headers=seen).status_code == 401
        proxy.freeze()
        t = time.monotonic()
        assert httpx.get(s.url + "/v1/app", headers=seen, timeout=10).status_code == 401
        assert time.monotonic() - t < 0.5
        r = httpx.get(s.url + "/v1/app", headers={"Authorization": "Bearer never-seen"},
                      timeout=10)
        assert r.status_code == 503
        proxy.thaw()
    finally:
        proxy.stop()


def test_a_short_admin_key_stops_the_start(tmp_path):
    r = serve_once(str(tmp_path / "x.sqlite3"), {"PROMPTSIM_ADMIN_KEY": "short-key"})
    one_line_exit_2(r, "PROMPTSIM_ADMIN_KEY has 9 characters; allowed: at least 16")
    key_file = tmp_path / "admin.key"
    key_file.write_text("also-short\n")
    r = serve_once(str(tmp_path / "x.sqlite3"), {"PROMPTSIM_ADMIN_KEY_FILE": str(key_file)})
    one_line_exit_2(r, str(key_file), "10 characters; allowed: at least 16")
    assert len(ADMIN) >= 16
