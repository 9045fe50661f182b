"""Builders for the experiment tests: a client of a real server, experiments, device ids by
arm."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
from service_helpers import DAY, T0

from sim.rules.assignment import arm_index

TLS = ssl.create_default_context()
"""One TLS context for every client: httpx builds a new one per client otherwise (it loads
the CA bundle, about 36 ms), which the tests that open a client per request paid hundreds
of times. The servers are plain HTTP; each client still opens its own connections."""


def client(url: str, key: str) -> httpx.Client:
    """A client of a real server with the app's key."""
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30,
                        verify=TLS)


def experiment(*arms: tuple[str, float, list[dict[str, Any]]], unit: str = "device",
               platforms: tuple[str, ...] = (), start: float = T0,
               end: float | None = T0 + 30 * DAY) -> dict[str, Any]:
    """An experiment body: arms as ``(name, weight, campaigns)``."""
    return {"arms": [{"name": n, "weight": w, "campaigns": c} for n, w, c in arms],
            "unit": unit, "audience": {"platforms": list(platforms)}, "start": start,
            "end": end}


COLD_SOFT = experiment(("cold", 0.5, [{"id": "ask", "primer": False}]),
                       ("soft", 0.5, [{"id": "soft"}]))
"""Two arms, half each: the OS dialog opened cold, or once-only soft prompt first."""


def ids_in_arm(experiment_id: str, arm: int, n: int, weights: tuple[float, ...] = (0.5, 0.5),
               prefix: str = "dev") -> list[str]:
    """The first ``n`` ids ``{prefix}{i}`` that the hash puts in arm ``arm``."""
    out: list[str] = []
    i = 0
    while len(out) < n:
        if arm_index(experiment_id, f"{prefix}{i}", weights) == arm:
            out.append(f"{prefix}{i}")
        i += 1
    return out


def register(c: httpx.Client, device_id: str, user_id: str = "u1", platform: str = "android",
             at: float = T0) -> None:
    """Register an Android 14 device (or another platform) and start its session."""
    body: dict[str, Any] = {"device_id": device_id, "user_id": user_id, "platform": platform,
                            "at": at}
    if platform in ("android", "ios"):
        body["os_version"] = 14 if platform == "android" else 17
    r = c.post("/v1/devices", json=body)
    assert r.status_code == 201, r.text
    r = c.post(f"/v1/devices/{device_id}/events", json={"events": [
        {"type": "session_start", "event_id": f"s-{device_id}", "at": at}]})
    assert r.status_code == 200, r.text


def ask(c: httpx.Client, device_id: str, at: float = T0 + 10) -> dict[str, Any]:
    """POST eligibility (app_open) and return the decision."""
    r = c.post(f"/v1/devices/{device_id}/eligibility", json={"trigger": "app_open", "at": at})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out
