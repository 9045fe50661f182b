"""Overload (issue 28.8): past ``PROMPTSIM_MAX_REQUESTS`` a request waits for a place in a
bounded queue, served in turn per app, instead of a 503 at once; one that waits too long
is 503 ``overloaded`` with ``Retry-After``, and nothing it carried is applied.

The goodput and the light client's service at 256 to 2,000 connections are measured by
``bench/bench_overload.py`` (figures in docs/design.md), not here.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
from service_helpers import T0, ev, read_response, scrape

from sim.service.http.admission import Admission
from sim.service.http.errors import HttpError


def _request(method: str, path: str, key: str, body: bytes = b"") -> bytes:
    head = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def _events(ids: list[str]) -> bytes:
    return json.dumps({"events": [ev("session_time", T0 + 1, i, seconds=3.0)
                                  for i in ids]}).encode()


def _sent(stack: ExitStack, port: int, data: bytes) -> socket.socket:
    """A connection that has sent ``data`` (the server takes it in before the next)."""
    sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
    sock.sendall(data)
    time.sleep(0.05)
    return sock


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


@pytest.fixture
def apps(db_url: str, server_factory: object) -> Iterator[tuple[object, str, str]]:
    """A server with two places, a 2 s queue, and two apps each with device ``d1``, their
    keys known to the worker (so each app is a flow of its own)."""
    s = server_factory(db_url, env={"PROMPTSIM_MAX_REQUESTS": "2",  # type: ignore[operator]
                                    "PROMPTSIM_QUEUE_TIMEOUT": "2",
                                    "PROMPTSIM_BODY_TIMEOUT": "20"})
    keys = []
    for _ in range(2):
        key = s.new_app()
        r = httpx.post(s.url + "/v1/devices", json={"device_id": "d1", "user_id": "u1",
                                                     "platform": "ios", "at": T0},
                       headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert r.status_code == 201, r.text
        keys.append(key)
    yield s, keys[0], keys[1]


def test_a_light_app_is_served_while_a_heavy_one_waits_and_is_shed(apps):
    """Both places are held by a heavy app's requests (bodies not sent yet); it queues two
    more such holders, then three whole event batches; a light app then queues one read.
    As the two first holders finish, the first freed place goes to the heavy app (it came
    first) and the second to the light one, in turn: its read is answered 200 at once
    (first come first served would have answered it 503 behind the heavy queue). The
    heavy app's batches wait past the queue's 2 s and are answered 503 ``overloaded``
    with ``Retry-After`` and the ``{error, field, detail}`` body; none of their events is
    stored: sent again, all of them are new. Then a batch whose client closes its
    connection while it waits is not served when a place frees (499 in the metrics, its
    events not stored)."""
    s, heavy, light = apps
    full = _events(["hold"])
    writes = [[f"w{i}a", f"w{i}b"] for i in range(3)]
    with ExitStack() as stack:
        def holder() -> socket.socket:
            return _sent(stack, s.port, _request("POST", "/v1/devices/d1/events", heavy, full)
                         [:-1])

        held = [holder(), holder()]
        queued = [holder(), holder()]
        shed = [_sent(stack, s.port, _request("POST", "/v1/devices/d1/events", heavy,
                                              _events(ids))) for ids in writes]
        read = _sent(stack, s.port, _request("GET", "/v1/devices/d1", light))
        t0 = time.monotonic()
        for sock in held:  # each finishes its body and is answered; its place passes on
            sock.sendall(full[-1:])
            assert _status(read_response(sock)) == 200
            time.sleep(0.1)
        got = read_response(read)
        assert _status(got) == 200, got
        assert time.monotonic() - t0 < 1.0
        for sock in shed:
            got = read_response(sock)
            head, _, body = got.partition(b"\r\n\r\n")
            assert _status(got) == 503, got
            assert b"retry-after: 1" in head.lower().split(b"\r\n"), head
            answer = json.loads(body)
            assert answer["error"] == "overloaded" and answer["field"] is None, answer
            assert "retry" in answer["detail"].lower(), answer
        del queued  # closed by the stack: cut short, nothing applied
    with ExitStack() as stack:  # a request whose client leaves while it waits
        held = [_sent(stack, s.port, _request("POST", "/v1/devices/d1/events", heavy, full)
                      [:-1]) for _ in range(2)]
        _sent(stack, s.port, _request("POST", "/v1/devices/d1/events", heavy,
                                      _events(["gone1", "gone2"]))).close()
        held[0].sendall(full[-1:])
        assert _status(read_response(held[0])) == 200
        time.sleep(0.3)  # its place went to the gone request, which was not served
    with httpx.Client(base_url=s.url, headers={"Authorization": f"Bearer {heavy}"},
                      timeout=10) as c:
        for ids in [*writes, ["gone1", "gone2"]]:
            r = c.post("/v1/devices/d1/events", content=_events(ids))
            assert r.status_code == 200 and r.json()["new"] == 2, r.text
    gone = [v for labels, v in scrape(s.url)["promptsim_http_requests_total"]
            if labels["status"] == "499"]
    assert gone == [1.0], gone


def test_a_full_queue_sheds_the_busiest_flow_and_a_long_wait_is_503():
    """Past ``max_queued`` the oldest waiter of the flow with the most waiters is shed for
    a newcomer of a lighter flow; a newcomer of that busiest flow is refused itself; a
    freed place goes to the flows in turn; a wait past ``wait`` seconds is 503."""
    async def scenario() -> None:
        a = Admission(limit=1, max_queued=3, wait=5.0)
        assert a.take()
        heavy = [asyncio.create_task(a.enter("heavy")) for _ in range(3)]
        await asyncio.sleep(0.01)
        light = asyncio.create_task(a.enter("light"))
        await asyncio.sleep(0.01)
        assert isinstance(heavy[0].exception(), HttpError)
        assert heavy[0].exception().status == 503  # type: ignore[union-attr]
        more = asyncio.create_task(a.enter("heavy"))
        await asyncio.sleep(0.01)
        assert isinstance(more.exception(), HttpError)
        assert not light.done() and a.queued == 3
        a.leave()  # the heavy flow came first
        await asyncio.sleep(0.01)
        assert heavy[1].done() and not light.done()
        a.leave()  # then the light one, before the heavy flow's next
        await asyncio.sleep(0.01)
        assert light.done() and not heavy[2].done()
        a.leave()
        await asyncio.sleep(0.01)
        assert heavy[2].done() and a.queued == 0 and a.working == 1
        a.leave()
        assert a.working == 0
        short = Admission(limit=1, max_queued=5, wait=0.05)
        assert short.take()
        with pytest.raises(HttpError) as info:
            await short.enter("x")
        assert info.value.status == 503 and info.value.code == "overloaded"
        assert short.queued == 0 and short.working == 1

    asyncio.run(scenario())
