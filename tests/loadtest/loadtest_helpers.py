"""An in-process stand-in for the eligibility service, built on the service's own ``ops``.

``OpsService`` answers a device's calls with ``sim.service.ops`` (the very
functions the real handlers run inside their transactions), so devices can
live their lives without HTTP or Locust, through a :class:`FakeLink`;
``FakeApi`` exposes it with the interface of ``sim.loadtest.api.Api`` for the
consistency check.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import msgspec

from sim.loadtest.calls import BurstNow, Reply
from sim.loadtest.device import Call, Device
from sim.loadtest.world import World, read_scenario, settings_doc
from sim.rules.permission import dialogs_left
from sim.service import ops
from sim.service import schemas as s
from sim.service.errors import ServiceError
from sim.service.http.errors import render
from sim.service.http.routes_devices import server_now
from sim.service.tenant import build_tenant

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.toml"


def world(strategy: int = 0, **kw: Any) -> World:
    """A :class:`World` of the quickstart scenario."""
    sc, _ = read_scenario(QUICKSTART)
    return World(sc, sc.strategies[strategy], **kw)


class OpsService:
    """Devices, events and decisions kept in memory, changed by ``sim.service.ops``."""

    def __init__(self, w: World) -> None:
        self.tenant = build_tenant("app", "client", 1, settings_doc(w.scenario, w.strategy),
                                   [msgspec.json.encode(c) for c in w.strategy.campaigns])
        self.devices: dict[str, s.DeviceRecord] = {}
        self.events: dict[str, list[tuple[str, str, float | None, str | None, str | None]]] = {}
        self._device = msgspec.json.Decoder(s.DeviceIn)
        self._batch = msgspec.json.Decoder(s.EventBatch)
        self._elig = msgspec.json.Decoder(s.EligibilityIn)

    def __call__(self, call: Call) -> tuple[int, bytes]:
        """Answer one call as the HTTP API would: ``(status, body)``."""
        return self.request(call.method, call.path, call.body)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """The API's answer to ``method path``."""
        t = self.tenant
        try:
            parts = path.strip("/").split("/")
            if method == "POST" and path == "/v1/devices":
                d = self._device.decode(body or b"")
                if d.device_id in self.devices:
                    return 409, b'{"error":"device_exists"}'
                rec = self.devices[d.device_id] = ops.new_device(t, d)
                self.events[d.device_id] = []
                return 201, msgspec.json.encode(ops.view(t, d.device_id, rec, server_now(t)))
            if parts[:2] == ["v1", "campaigns"] and parts[-1] == "stats":
                cid = parts[2]
                counts: dict[tuple[str, str | None], int] = {}
                for rows in self.events.values():
                    for _, kind, _, c, detail in rows:
                        if c == cid:
                            counts[kind, detail] = counts.get((kind, detail), 0) + 1
                stats = ops.campaign_stats(cid, [(k, d, n) for (k, d), n in counts.items()])
                return 200, msgspec.json.encode(stats)
            did = parts[2]
            if did not in self.devices:
                return 404, b'{"error":"not_found"}'
            if method == "GET":
                return 200, msgspec.json.encode(ops.view(t, did, self.devices[did],
                                                              server_now(t)))
            if parts[3] == "events":
                batch = self._batch.decode(body or b"")
                rec = msgspec.json.decode(msgspec.json.encode(self.devices[did]),
                                          type=s.DeviceRecord)  # all or nothing
                rows, dup = ops.apply_events(t, rec, batch.events,
                                             {r[0] for r in self.events[did]})
                self.devices[did] = rec
                self.events[did].extend(rows)
                st = rec.state
                return 200, msgspec.json.encode(s.EventsResult(
                    new=len(rows), duplicate=dup, permission=st.permission,
                    dialogs_left=dialogs_left(st, t.profile(st.profile))))
            q = self._elig.decode(body or b"")
            rec = self.devices[did]
            d = ops.decision(t, rec, q, t.now(q.at), did)
            if d.show:
                self.events[did].append(ops.reserve(rec, d, t.now(q.at), q.at))
            return 200, msgspec.json.encode(d)
        except ServiceError as exc:
            status, body, _ = render(exc)
            return status, body


class FakeApi:
    """``sim.loadtest.api.Api``'s interface over an :class:`OpsService`."""

    def __init__(self, service: OpsService) -> None:
        self.service = service

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """As ``Api.request``."""
        return self.service.request(method, path, body)

    def json(self, method: str, path: str, body: Any = None) -> Any:
        """As ``Api.json``."""
        status, content = self.request(method, path, body)
        assert 200 <= status < 300, (status, content)
        return msgspec.json.decode(content)


class Abandoned(Exception):
    """The test stopped the device in the middle of a call, as a Locust stop can."""


class FakeLink:
    """A device's link to ``service`` (any ``call -> (status, body)``): no waiting.

    ``stop_after`` abandons the device in the middle of its call number
    ``stop_after`` (the call is made to the service, the answer is lost);
    ``burst = (kind, real)`` cuts short the first wait that lasts past real
    time ``real`` (one simulated day per real second from the device's install).
    """

    def __init__(self, dev: Device, service: Any, stop_after: int | None = None,
                 burst: tuple[str, float] | None = None) -> None:
        self.dev, self.service, self.stop_after, self.burst = dev, service, stop_after, burst
        self.calls: list[Call] = []

    def request(self, call: Call) -> Reply:
        """Answer from the service; raise ``Abandoned`` once ``stop_after`` calls were made."""
        self.calls.append(call)
        reply: Reply = self.service(call)
        if self.stop_after is not None and len(self.calls) >= self.stop_after:
            raise Abandoned
        return reply

    def wait_until(self, t: float) -> BurstNow | None:
        """No wait, unless this is the burst's."""
        if self.burst is not None and t > self.dev.sim0 + self.burst[1]:
            kind, real = self.burst
            self.burst = None
            return BurstNow(kind, real)
        return None


def drive(dev: Device, service: Any, stop_after: int | None = None,
          burst: tuple[str, float] | None = None) -> list[Call]:
    """Live a device's whole history against ``service`` (see :class:`FakeLink`); its calls."""
    link = FakeLink(dev, service, stop_after, burst)
    with contextlib.suppress(Abandoned):
        dev.run(link)
    return link.calls
