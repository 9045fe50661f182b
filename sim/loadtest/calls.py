"""What a simulated device says to the API and reads back: requests, waits, replies.

A device (``sim.loadtest.device``) makes its :class:`Call` objects and waits for
its sessions through a :class:`Link`: the Locust user, or a test's fake. The
decoders read only the fields a device needs, so a team's deployment may answer
with more.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from sim.rules.config.verdict import Decision

REGISTER = "/v1/devices"
EVENTS = "/v1/devices/{id}/events"
ELIGIBILITY = "/v1/devices/{id}/eligibility"
ENDPOINTS: tuple[str, ...] = (REGISTER, EVENTS, ELIGIBILITY)
"""Request names (Locust's ``name=``): the endpoint templates."""

RETRIES = 3
"""Attempts for a request answered 5xx, 408, 429 or not at all (same event ids: idempotent)."""


class Call:
    """An HTTP request the device wants made."""

    __slots__ = ("body", "method", "name", "path")

    def __init__(self, method: str, path: str, name: str, body: bytes) -> None:
        self.method, self.path, self.name, self.body = method, path, name, body


class BurstNow:
    """A wait cut short: a burst of the load shape reaches the device (real time ``real``)."""

    __slots__ = ("kind", "real")

    def __init__(self, kind: str, real: float) -> None:
        self.kind, self.real = kind, real


class Ack(msgspec.Struct):
    """The fields of an events response the device reads."""

    new: int
    duplicate: int
    permission: str


class Registered(msgspec.Struct):
    """The field of a ``POST /v1/devices`` response the device reads."""

    permission: str


read_ack = msgspec.json.Decoder(Ack).decode
read_registered = msgspec.json.Decoder(Registered).decode
read_decision = msgspec.json.Decoder(Decision).decode
encode = msgspec.json.Encoder().encode
Reply = tuple[int, bytes | None]
"""The answer to a call: the HTTP status (0: no answer) and the body."""


class Link(Protocol):
    """How a device reaches the service and real time: blocking calls."""

    def request(self, call: Call) -> Reply:
        """Make the call; its answer."""
        ...

    def wait_until(self, t: float) -> BurstNow | None:
        """Return when simulated time ``t`` (days) has come, or earlier with a burst."""
        ...


def retryable(status: int) -> bool:
    """Statuses worth sending the same request again for: none, 408, 429, 5xx."""
    return status == 0 or status in (408, 429) or status >= 500
