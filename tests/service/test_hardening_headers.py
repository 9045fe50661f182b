"""Issue 28 items 7 and 12, on a real server: a WebSocket upgrade is a 4xx (not 500); an
``X-Request-ID`` is kept or made, echoed and logged with a 5xx; an encoded body is 415; no
``server`` header; CORS is off unless ``PROMPTSIM_CORS_ORIGINS`` allows an origin."""

from __future__ import annotations

import json
import re
import socket
import sqlite3

import httpx
from service_helpers import T0
from test_hardening_store import one_line_exit_2, serve_once

UPGRADE = (b"GET /v1/devices/d1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
           b"Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")


def exchange(port: int, request: bytes) -> bytes:
    """Send one request and read until the server closes or a whole answer is in."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            m = re.search(rb"content-length: (\d+)", head, re.I)
            if m and len(body) >= int(m[1]):
                break
        return answer


def test_a_websocket_upgrade_is_400_not_500(sqlite_url, server_factory, tmp_path):
    s = server_factory(sqlite_url)
    answer = exchange(s.port, UPGRADE)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer
    assert json.loads(body) == {"error": "websocket_unsupported", "field": None, "detail":
                                "this API has no WebSocket endpoint; send plain HTTP "
                                "requests (without Upgrade: websocket)"}
    assert httpx.get(s.url + "/healthz").status_code == 200
    assert "Exception" not in (tmp_path / "server.log").read_text()


def test_request_ids_are_kept_or_made_and_logged_with_a_5xx(sqlite_url, server_factory,
                                                            tmp_path):
    s = server_factory(sqlite_url, env={"PROMPTSIM_STORE_TIMEOUT": "0.3"})
    key = s.new_app()
    auth = {"Authorization": f"Bearer {key}"}
    r = httpx.get(s.url + "/healthz", headers={"X-Request-ID": "sdk-42:retry.1"})
    assert r.headers["x-request-id"] == "sdk-42:retry.1"
    made = [httpx.get(s.url + "/v1/devices/none", headers=auth | h).headers["x-request-id"]
            for h in ({}, {}, {"X-Request-ID": "bad id"}, {"X-Request-ID": "x" * 129})]
    assert all(re.fullmatch("[0-9a-f]{16}", m) for m in made) and len(set(made)) == 4, made
    lock = sqlite3.connect(sqlite_url, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # writes wait past the store timeout: 503 busy
    try:
        r = httpx.post(s.url + "/v1/devices", headers=auth | {"X-Request-ID": "req-503"},
                       json={"device_id": "d1", "user_id": "u1", "platform": "ios",
                             "at": T0})
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert r.status_code == 503 and r.json()["error"] == "busy"
    assert r.headers["x-request-id"] == "req-503"
    logged = (tmp_path / "server.log").read_text()
    assert "busy: request req-503: POST /v1/devices: " in logged, logged[-2000:]


def test_encoded_bodies_are_415_and_no_server_header(sqlite_url, server_factory):
    s = server_factory(sqlite_url)
    key = s.new_app()
    body = json.dumps({"device_id": "d1", "user_id": "u1", "platform": "ios", "at": T0})
    h = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    r = httpx.post(s.url + "/v1/devices", content=body, headers=h | {"Content-Encoding": "gzip"})
    assert r.status_code == 415 and r.json() == {
        "error": "unsupported_media_type", "field": None,
        "detail": "Content-Encoding 'gzip' is not supported; send the body uncompressed (no "
                  "Content-Encoding, or identity)"}
    r = httpx.post(s.url + "/v1/devices", content=body,
                   headers=h | {"Content-Encoding": "identity"})
    assert r.status_code == 201, r.text
    assert "server" not in r.headers and "server" not in httpx.get(s.url + "/livez").headers


def test_cors_is_off_by_default_and_allows_only_the_listed_origins(sqlite_url,
                                                                   server_factory):
    page = {"Origin": "https://app.example.com"}
    preflight = page | {"Access-Control-Request-Method": "POST",
                        "Access-Control-Request-Headers": "authorization, content-type"}
    off = server_factory(sqlite_url)
    r = httpx.get(off.url + "/livez", headers=page)
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    assert httpx.options(off.url + "/v1/devices", headers=preflight).status_code == 405
    off.stop()
    on = server_factory(sqlite_url, env={
        "PROMPTSIM_CORS_ORIGINS": "https://app.example.com, http://localhost:3000"})
    r = httpx.options(on.url + "/v1/devices", headers=preflight)
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    assert r.headers["access-control-allow-methods"] == "GET, HEAD, POST, PUT"
    assert "authorization" in r.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in r.headers
    r = httpx.get(on.url + "/v1/app", headers=page)  # no key: 401, still readable by the page
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == \
        "https://app.example.com"
    assert "x-request-id" in r.headers["access-control-expose-headers"]
    other = {"Origin": "https://evil.example.net"}
    assert "access-control-allow-origin" not in httpx.get(on.url + "/livez",
                                                          headers=other).headers
    assert httpx.options(on.url + "/v1/devices", headers=other | {
        "Access-Control-Request-Method": "POST"}).status_code == 405


def test_a_malformed_cors_origin_stops_the_start(tmp_path):
    r = serve_once(str(tmp_path / "x.sqlite3"),
                   {"PROMPTSIM_CORS_ORIGINS": "https://app.example.com/"})
    one_line_exit_2(r, "PROMPTSIM_CORS_ORIGINS", "'https://app.example.com/' is not an origin")
