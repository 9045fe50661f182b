"""A body is applied only when it arrived whole (issue 28.1): its ``Content-Length``
reached or the chunked terminator read. A connection that ends first, closed by the client
or by the server's 408 after ``PROMPTSIM_BODY_TIMEOUT``, applies nothing, on a real server,
raw sockets and both stores."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from service_helpers import T0

BATCH = b'{"events":[{"type":"session_start","event_id":"cut","at":1700000000}]}'
ELIGIBILITY = b'{"trigger":"app_open","at":1700000010}'


@pytest.fixture
def live(db_url, server_factory):
    """A server whose bodies must arrive within 1 s, a client-clock app with a once-only
    campaign ``welcome``, and device d1 (no session yet)."""
    s = server_factory(db_url, env={"PROMPTSIM_BODY_TIMEOUT": "1"})
    key = s.new_app("client")
    with httpx.Client(base_url=s.url, headers={"Authorization": f"Bearer {key}"},
                      timeout=10) as c:
        assert c.put("/v1/campaigns/welcome", json={"trigger": {"type": "app_open"},
                     "frequency": {"type": "once"}}).status_code == 201
        assert c.post("/v1/devices", json={"device_id": "d1", "user_id": "u1",
                                           "platform": "ios", "at": T0}).status_code == 201
        yield s, c, key


def _head(path: str, key: str, framing: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\n{framing}\r\n").encode()


def send_cut(port: int, request: bytes, wait: bool) -> bytes:
    """Send ``request``; then close at once (``wait`` False) or read what the server says
    until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        if not wait:
            return b""
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def stored_events(c: httpx.Client) -> int:
    """Every event row of the app (after a pause for any write still under way)."""
    time.sleep(0.5)
    r = c.get("/v1/app/stats")
    assert r.status_code == 200, r.text
    return sum(r.json()["events"].values())


def test_a_cut_short_body_is_never_applied(live):
    s, c, key = live
    path = "/v1/devices/d1/events"
    assert len(BATCH) < 200
    declared = _head(path, key, "Content-Length: 200\r\n") + BATCH
    chunked = _head(path, key, "Transfer-Encoding: chunked\r\n") + \
        f"{len(BATCH):x}\r\n".encode() + BATCH + b"\r\n"  # no last chunk
    for request in (declared, chunked):
        assert send_cut(s.port, request, wait=False) == b""
        answer = send_cut(s.port, request, wait=True)
        assert answer.startswith(b"HTTP/1.1 408 ") and b'"body_timeout"' in answer, answer
    assert stored_events(c) == 0
    assert c.get("/v1/devices/d1").json()["state"]["sessions"] == 0
    # the same bytes, whole, are applied: the batch was valid all along
    whole = _head(path, key, f"Content-Length: {len(BATCH)}\r\nConnection: close\r\n") + BATCH
    assert send_cut(s.port, whole, wait=True).startswith(b"HTTP/1.1 200 ")
    assert stored_events(c) == 1


def test_an_eligibility_answered_408_reserves_nothing(live):
    """A once-only prompt: the eligibility whose body was cut short (408) reserves no
    impression, so the next whole request still shows it."""
    s, c, key = live
    path = "/v1/devices/d1/eligibility"
    cut = _head(path, key, f"Content-Length: {len(ELIGIBILITY) + 50}\r\n") + ELIGIBILITY
    assert send_cut(s.port, cut, wait=True).startswith(b"HTTP/1.1 408 ")
    assert send_cut(s.port, cut, wait=False) == b""
    time.sleep(0.5)
    assert c.get("/v1/campaigns/welcome/stats").json()["impressions"] == 0
    r = c.post(path, content=ELIGIBILITY, headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["show"], r.text
