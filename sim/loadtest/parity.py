"""Replay simulated device histories through the HTTP API and compare every decision.

The simulator logs what happened to each device (``sim.model.events.LogEvent``, time
``t`` in days since the start). :func:`replay` creates a client-clock app on a
running service, configures it with the same ``Policy`` and platform
profiles, and sends each device's history in order: ``install`` becomes
``POST /v1/devices``, ``decision`` becomes ``POST .../eligibility`` (whose
answer must equal the logged one), every other kind becomes an event. A logged
``decision`` with ``show = true`` recorded the impression at that moment, as
the eligibility endpoint does.
"""

from __future__ import annotations

import heapq
import http.client
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from sim.model.clock import unix
from sim.model.events import LogEvent
from sim.rules.config.campaigns import Policy, policy_settings
from sim.rules.config.platforms import DEFAULT_PROFILES, PlatformProfile

COMPARED = ("show", "reason", "campaign_id", "action", "prompt_ui", "loud_chance")
"""What a decision answers that both sides know: the prompt Chrome announces and its
``loud_chance``, never Chrome's draw (the page cannot see it; the simulator sends the prompt
the user answered with each ``os_dialog_result``, as a client that knows it may)."""


class ParityError(RuntimeError):
    """The replay could not run: the service is unreachable or refused the set-up. The
    message is one line saying what to do."""
_SAFE = re.compile(r"[^A-Za-z0-9_.:@-]")


@dataclass(frozen=True)
class Mismatch:
    """A decision (or install) where the service disagreed with the simulator."""

    device: str
    t: float
    expected: dict[str, Any]
    got: dict[str, Any]

    def describe(self) -> str:
        """One line for a report."""
        return f"{self.device} at t={self.t:.6f}: expected {self.expected}, got {self.got}"


@dataclass
class ParityReport:
    """What a replay found."""

    devices: int = 0
    events: int = 0
    decisions: int = 0
    matches: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Requests the service refused (each also a parity failure)."""

    @property
    def ok(self) -> bool:
        """True when every decision matched and nothing was refused."""
        return not self.mismatches and not self.errors

    def summary(self) -> dict[str, int]:
        """Counts for printing."""
        return {"devices": self.devices, "events": self.events, "decisions": self.decisions,
                "matches": self.matches, "mismatches": len(self.mismatches),
                "errors": len(self.errors)}


class _Client:
    """A keep-alive JSON client on the standard library (no extra dependency)."""

    def __init__(self, url: str) -> None:
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http" or not u.hostname:
            raise ParityError(f"--url: {url!r} is not an http:// URL (for example "
                              "http://127.0.0.1:8000)")
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.prefix = u.path.rstrip("/")
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        self.key = ""

    def call(self, method: str, path: str, body: object = None,
             key: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {key or self.key}",
                   "Content-Type": "application/json"}
        data = msgspec.json.encode(body) if body is not None else None
        for attempt in (0, 1):  # one reconnect if the server closed the idle connection
            try:
                self.conn.request(method, self.prefix + path, data, headers)
                r = self.conn.getresponse()
                return r.status, msgspec.json.decode(r.read() or b"null")
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def profile_overrides(profiles: dict[str, PlatformProfile] | None) -> dict[str, dict[str, Any]]:
    """The fields of ``profiles`` that differ from the built-in ones (for ``PUT /v1/settings``)."""
    out: dict[str, dict[str, Any]] = {}
    for name, p in (profiles or {}).items():
        base = msgspec.structs.asdict(DEFAULT_PROFILES[name])
        diff = {k: v for k, v in msgspec.structs.asdict(p).items() if base.get(k) != v}
        if diff:
            out[name] = msgspec.to_builtins(diff)
    return out


def _event_body(e: LogEvent) -> dict[str, Any]:
    body: dict[str, Any] = {"type": e.kind, "at": unix(e.t)}
    if e.kind in ("soft_prompt_clicked", "soft_prompt_dismissed"):
        body["campaign_id"] = e.campaign_id
    elif e.kind == "os_dialog_result":
        body["outcome"] = e.outcome
        if e.campaign_id is not None:
            body["campaign_id"] = e.campaign_id
        if e.prompt_ui is not None:
            body["prompt_ui"] = e.prompt_ui
        if e.summary:
            body["summary"] = True
    elif e.kind == "permission_changed":
        body["permission"] = e.permission
    elif e.kind == "os_upgraded":
        body["os_version"] = e.os_version
        if e.api_level is not None:
            body["api_level"] = e.api_level
    elif e.kind == "app_updated":
        body["app_target_sdk"] = e.app_target_sdk
    elif e.kind == "app_launched":
        body["source"] = e.source
    elif e.kind == "review_notice":
        body["answer"] = e.answer
    elif e.kind == "push_received":
        body["display"] = e.display
    return body


def _install_body(device: str, user: str, e: LogEvent) -> dict[str, Any]:
    body = {"device_id": device, "user_id": user, "platform": e.platform,
            "os_version": e.os_version, "os_kind": e.os_kind, "api_level": e.api_level,
            "app_target_sdk": e.app_target_sdk, "browser": e.browser, "quiet_ui": e.quiet_ui,
            "webapk": e.webapk,
            "browser_id": None if e.browser_id is None else _SAFE.sub("_", e.browser_id),
            "permission": e.permission, "sdk_reports_permission": e.sdk_reports_permission,
            "utc_offset_minutes": e.utc_offset_minutes, "at": unix(e.t)}
    return {k: v for k, v in body.items() if v is not None}


def _configure(c: _Client, admin_key: str, policy: Policy,
               profiles: dict[str, PlatformProfile] | None) -> None:
    status, app = c.call("POST", "/v1/apps", {"name": "parity", "clock": "client"}, admin_key)
    if status == 401:
        raise ParityError("the server refused the admin key (POST /v1/apps: 401); pass the key "
                          "it was started with (promptsim serve --admin-key-file, "
                          "PROMPTSIM_ADMIN_KEY)")
    if status != 201:
        raise ParityError(f"POST /v1/apps: HTTP {status}: {_brief(app)}")
    c.key = app["api_key"]
    settings = policy_settings(policy) | {"platforms": profile_overrides(profiles)}
    for method, path, body in [("PUT", "/v1/settings", settings)] + [
            ("PUT", f"/v1/campaigns/{camp.id}",
             {k: v for k, v in msgspec.to_builtins(camp).items() if k != "id"})
            for camp in policy.campaigns]:
        status, out = c.call(method, path, body)
        if status >= 300:
            raise ParityError(f"{method} {path}: HTTP {status}: {_brief(out)}")


def _brief(body: Any) -> str:
    """An error body in one short line."""
    if isinstance(body, dict) and "error" in body:
        return f"{body['error']}: {body.get('detail', '')}"[:300]
    return str(body)[:300]


def replay(url: str, admin_key: str, events: Iterable[LogEvent], policy: Policy,
           profiles: dict[str, PlatformProfile] | None = None) -> ParityReport:
    """Replay one strategy's histories on the service at ``url``; report disagreements.

    ``events`` must come from one strategy (one ``policy``) and be in time
    order per device; devices of different replications are kept apart.
    """
    by_user: dict[tuple[int, str], list[LogEvent]] = {}
    strategies = set()
    for e in events:
        by_user.setdefault((e.replication, e.user), []).append(e)
        strategies.add(e.strategy)
    if len(strategies) > 1:
        raise ValueError(f"events of several strategies {sorted(strategies)}; replay one at a "
                         "time (each has its own policy)")
    report = ParityReport()
    c = _Client(url)
    try:
        _configure(c, admin_key, policy, profiles)
        for (rep, _), history in by_user.items():
            _replay_user(c, rep, history, report)
    except (OSError, http.client.HTTPException, msgspec.DecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else (
            str(exc) or type(exc).__name__)
        raise ParityError(f"cannot talk to the service at {url}: {why}; is `promptsim "
                          "serve` running there?") from None
    finally:
        c.close()
    return report


def _replay_user(c: _Client, rep: int, history: list[LogEvent],
                 report: ParityReport) -> None:
    """Replay one user's devices together, merged by time (each device's own events keep
    their order): her Chrome installs share a browser, whose answers the service counts
    across them, so each request goes after everything her devices did before it."""
    pending: dict[str, list[dict[str, Any]]] = {}
    n: dict[str, int] = {}
    refused: set[str] = set()

    def flush() -> None:
        for device, batch in pending.items():
            if batch:
                status, out = c.call("POST", f"/v1/devices/{device}/events", {"events": batch})
                if status != 200:
                    report.errors.append(f"{device}: events {batch}: {status} {out}")
        pending.clear()

    devices: dict[str, list[LogEvent]] = {}
    for e in history:
        devices.setdefault(e.device, []).append(e)
    for e in heapq.merge(*devices.values(), key=lambda e: e.t):
        device = _SAFE.sub("_", f"r{rep}.{e.device}")
        path = f"/v1/devices/{device}"
        if device in refused:
            continue
        if e.kind == "install":
            flush()
            report.devices += 1
            status, out = c.call("POST", "/v1/devices",
                                 _install_body(device, _SAFE.sub("_", e.user), e))
            if status != 201:
                report.errors.append(f"{device}: install: {status} {out}")
                refused.add(device)
                continue
            want = e.profile
            if want is not None and out["profile"] != want:
                report.mismatches.append(Mismatch(device, e.t, {"profile": want},
                                                  {"profile": out["profile"]}))
        elif e.kind == "decision":
            flush()
            report.decisions += 1
            body = {"trigger": e.trigger, "event_name": e.event_name,
                    "session_seconds": e.session_seconds, "at": unix(e.t)}
            status, out = c.call("POST", path + "/eligibility",
                                 {k: v for k, v in body.items() if v is not None})
            if status != 200:
                report.errors.append(f"{device}: eligibility at t={e.t}: {status} {out}")
                continue
            expected = {k: getattr(e, k) for k in COMPARED}
            got = {k: out.get(k) for k in COMPARED}
            if expected == got:
                report.matches += 1
            else:
                report.mismatches.append(Mismatch(device, e.t, expected, got))
        else:
            n[device] = n.get(device, 0) + 1
            report.events += 1
            batch = pending.setdefault(device, [])
            batch.append({"event_id": f"e{n[device]}", **_event_body(e)})
            if len(batch) >= 500:
                flush()
    flush()

