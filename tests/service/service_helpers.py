"""Small builders shared by the service tests."""

from __future__ import annotations

import itertools
import re
import socket
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
"""The repository root (servers run from there)."""
ADMIN = "test-admin-key-0123456789"
"""The admin key the test servers run with."""
T0 = 1_700_000_000.0
"""A client-clock time (Unix seconds) that tests count from."""
DAY = 86400.0

_ids = itertools.count(1)


def ev(kind: str, at: float = T0, event_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """One event body with a fresh id unless one is given."""
    return {"type": kind, "event_id": event_id or f"ev{next(_ids)}", "at": at, **fields}


def install(api: Any, device_id: str = "d1", user_id: str = "u1", platform: str = "android",
            at: float = T0, **fields: Any) -> dict[str, Any]:
    """Register a device (Android 14 by default) and start its first session."""
    body = {"device_id": device_id, "user_id": user_id, "platform": platform, "at": at}
    if platform == "android":
        body["os_version"] = 14
    body |= fields
    r = api.post("/v1/devices", body)
    assert r.status_code == 201, r.text
    r2 = api.post(f"/v1/devices/{device_id}/events", {"events": [ev("session_start", at)]})
    assert r2.status_code == 200, r2.text
    out: dict[str, Any] = r.json()
    return out


def once_campaign(api: Any, cid: str = "welcome", **fields: Any) -> dict[str, Any]:
    """PUT an app-open, once-only permission campaign."""
    body = {"trigger": {"type": "app_open"}, "frequency": {"type": "once"}} | fields
    r = api.put(f"/v1/campaigns/{cid}", body)
    assert r.status_code in (200, 201), r.text
    out: dict[str, Any] = r.json()
    return out


def eligible(api: Any, device_id: str = "d1", at: float = T0 + 10,
             trigger: str = "app_open", **fields: Any) -> dict[str, Any]:
    """POST eligibility and return the decision."""
    r = api.post(f"/v1/devices/{device_id}/eligibility", {"trigger": trigger, "at": at} | fields)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """``/metrics`` of a real server, once every worker has written its figures (they do
    once a second): samples by name, each ``(labels, value)``."""
    import time

    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from sim.service.http.metrics import FLUSH_SECONDS

    time.sleep(FLUSH_SECONDS * 1.5)
    text = httpx.get(f"{url}/metrics", timeout=30).text
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def worker_requests(url: str) -> dict[str, float]:
    """Requests each worker of a real server has served, by pid."""
    return {labels["pid"]: v for labels, v in scrape(url)["promptsim_worker_requests_total"]}


def read_response(sock: socket.socket) -> bytes:
    """One whole response: its headers and the ``content-length`` bytes of its body, however
    the server's writes were split into packets (uvicorn writes the headers and the body
    separately, so the body may come in a later ``recv``)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"closed before the headers ended: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:[ \t]*(\d+)", head)
    assert length is not None, head
    while len(body) < int(length.group(1)):
        chunk = sock.recv(4096)
        assert chunk, f"closed before the body ended: {data!r}"
        body += chunk
    assert len(body) == int(length.group(1)), body  # nothing after it
    return head + b"\r\n\r\n" + body
