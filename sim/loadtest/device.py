"""One simulated device, replaying its simulated life against the eligibility API.

:meth:`Device.timeline` is a generator. It yields a :class:`Call` (an HTTP
request to make) and is sent back ``(status, body)``; or it yields a
:class:`Sleep` (simulated time to wait for) and is sent ``None`` when that
time has come. It ends when the device's history reaches the scenario's
horizon. The Locust user only makes the calls and waits; nothing here knows
about Locust, so tests drive a device against any fake.

The history is the simulator's: install time, sessions, session lengths and
events, uninstalls, reinstalls, cleared data and OS upgrades come from the
population chunk (``sim.model.population``), and prompts are answered with the
behaviour model (``sim.model.behaviour``) on the same counter-based streams
(``sim.model.streams``) as ``sim.engine.chunk``'s ``_session``, ``_impression`` and
``_dialog``. The device also keeps the rules' ``DeviceState`` of itself, updated
with the very functions the service uses, so every answer of the service can
be checked against ``sim.rules.decision.decide`` as it arrives, and the final state
against ``GET /v1/devices/{id}`` after the run (``sim.loadtest.consistency``).

Exogenous changes between sessions (an OS upgrade, cleared data, an opt-out in
settings, an uninstall) are queued with their own ``at`` and sent with the
next batch, as an SDK does on the next app open; the client clock makes the
service apply them at their own times.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import msgspec

from sim.loadtest.calls import (
    ELIGIBILITY,
    ENDPOINTS,
    EVENTS,
    REGISTER,
    RETRIES,
    Call,
    Reply,
    Script,
    Sleep,
    encode,
    read_ack,
    read_decision,
    read_registered,
    retryable,
)
from sim.loadtest.world import EPOCH, World
from sim.model import streams
from sim.model.behaviour import DialogOdds, answer_soft_prompt, dialog_outcome
from sim.model.population import INF, REPORTED
from sim.rules.campaigns import Once
from sim.rules.decision import (
    Decision,
    decide,
    record_click,
    record_dismissal,
    record_impression,
    start_session,
)
from sim.rules.permission import (
    DeviceState,
    apply_clear_data,
    apply_dialog_result,
    apply_os_upgrade,
    apply_reinstall,
    apply_settings_change,
    apply_uninstall,
    dialogs_left,
    first_launch_dialog_due,
    new_install,
)
from sim.rules.platforms import resolve_profile

__all__ = ["ELIGIBILITY", "ENDPOINTS", "EVENTS", "REGISTER", "Call", "Device", "Sleep"]



def _bump(d: dict[str, int], key: str) -> None:
    d[key] = d.get(key, 0) + 1


class Device:
    """One device: its place in the population, its rule state and what it told the service."""

    __slots__ = (
        "acked_dup", "acked_new", "batches", "blocked_dialogs", "browser", "chunk",
        "decisions", "device_id", "dialog_credit", "events_sent", "examples",
        "fatigue", "fatigue_t", "gone", "i", "inflight", "k", "key", "kinds", "mismatches",
        "n", "once_violations", "optin_shows", "os_version", "path_elig", "path_events",
        "per_campaign", "platform", "profile", "queue", "real0", "registered", "rejected",
        "seq", "served", "sim0", "state", "status", "t_optout", "t_reenable", "target_sdk",
        "unacked", "user_id", "world",
    )

    def __init__(self, world: World, n: int, device_id: str, real0: float) -> None:
        self.world, self.n, self.device_id = world, n, device_id
        c, i = world.chunk_of(n)
        self.chunk, self.i = c, i
        self.key = c.key[i]
        self.user_id = f"{world.run_id}-u{c.user[i]}"
        self.profile = world.profiles[c.profile[i]]
        self.platform = self.profile.platform
        self.os_version, self.target_sdk, self.browser = REPORTED[self.profile.name]
        self.state: DeviceState = new_install(
            self.profile, provisional=world.strategy.provisional_on_install,
            sdk_reports_permission=c.sdk_reports[i])
        self.k = [0] * 8
        self.fatigue = self.fatigue_t = 0.0
        self.t_optout = self.t_reenable = INF
        self.status: tuple[bool, str] = (False, "not_determined")
        self.sim0, self.real0 = c.install_t[i], real0
        self.path_events = f"/v1/devices/{device_id}/events"
        self.path_elig = f"/v1/devices/{device_id}/eligibility"
        self.queue: list[dict[str, Any]] = []
        self.seq = 0
        self.gone = False
        """Uninstalled for good (annoyed by a prompt): nothing more will happen."""
        self.served: str = self.state.permission
        """The permission as the service last stated it."""
        # what happened, for the consistency check
        self.inflight: Call | None = None
        self.registered = False
        """The service confirmed the install (201, or 409 for a retried registration)."""
        self.unacked: list[bytes] = []
        self.rejected: list[str] = []
        self.batches = self.events_sent = self.acked_new = self.acked_dup = 0
        self.decisions = self.mismatches = self.optin_shows = self.blocked_dialogs = 0
        self.once_violations = 0
        self.examples: list[str] = []
        self.kinds: dict[str, int] = {}
        self.per_campaign: dict[str, dict[str, int]] = {}
        self.dialog_credit: str | None = None

    # --- the simulated time line ------------------------------------------------------

    def timeline(self) -> Script:
        """Register, then live every session and exogenous event up to the horizon.

        While it waits for a session (a ``Sleep``) the driver may send a
        :class:`BurstNow` instead of ``None``: the app is opened now (after an OS
        upgrade for an ``upgrade`` burst), then the wait goes on.
        """
        c, i, w = self.chunk, self.i, self.world
        if not (yield from self._register(c.install_t[i])):
            return
        j, stop = c.start[i], c.reinstall_start[i]
        t_un, t_re, t_clear, t_up = c.uninstall_t[i], c.reinstall_t[i], c.clear_t[i], \
            c.upgrade_t[i]
        horizon, st, last = w.horizon, self.state, c.install_t[i]
        while True:
            # The engine's order on ties: session, uninstall, reinstall, clear, upgrade,
            # opt-out, re-enable.
            t, what = (c.session_t[j] if st.installed and j < stop else INF), 0
            if t_un < t:
                t, what = t_un, 1
            if t_re < t:
                t, what = t_re, 2
            if t_clear < t:
                t, what = t_clear, 3
            if t_up < t:
                t, what = t_up, 4
            if self.t_optout < t:
                t, what = self.t_optout, 5
            if self.t_reenable < t:
                t, what = self.t_reenable, 6
            if t >= horizon:
                break
            if what == 0:
                burst = yield Sleep(t)
                if burst is not None:  # the wait is cut short: open the app now
                    now = self.sim0 + (burst.real - self.real0) / w.day_seconds \
                        if w.day_seconds > 0 else t
                    if st.installed and now < t:  # (else the app opens now anyway)
                        tb = max(last, now)
                        if burst.kind == "upgrade":
                            t_up = INF
                            self._upgrade(tb)
                        yield from self._session(tb, w.behaviour.session_seconds_median, False)
                        self._account(tb)
                        last = tb
                    continue
                yield from self._session(t, c.session_seconds[j], c.session_event[j])
                j += 1
            elif what == 1:
                t_un = INF
                self._uninstall(EPOCH + t * 86400.0)
                j = stop
            elif what == 2:
                t_re, t_un = INF, c.uninstall2_t[i]
                j, stop = c.reinstall_start[i], c.end[i]
                at = EPOCH + t * 86400.0
                apply_reinstall(st, self.profile, at / 86400.0,
                                reset_campaigns=w.strategy.reset_on_reinstall)
                self._add("reinstalled", at)
            elif what == 3:
                t_clear = INF
                if st.installed:
                    apply_clear_data(st, self.profile,
                                     reset_campaigns=w.strategy.reset_on_reinstall)
                    self._add("data_cleared", EPOCH + t * 86400.0)
            elif what == 4:
                t_up = INF
                self._upgrade(t)
            else:
                if what == 5:
                    self.t_optout = INF
                else:
                    self.t_reenable = INF
                apply_settings_change(st, self.profile, enabled=what == 6)
                self._add("permission_changed", EPOCH + t * 86400.0,
                          permission="granted" if what == 6 else "denied")
            self._account(t)
            last = t
            if self.gone or (not st.installed and t_re == INF):
                break  # uninstalled for good: nothing more will happen
        if self.queue:
            yield from self._post()

    def _account(self, t: float) -> None:
        """Opt-out and re-enable timers on changes of the permission, as ``ChunkModel._account``."""
        st, b = self.state, self.world.behaviour
        status = (st.installed, st.permission)
        old = self.status
        if status == old:
            return
        self.status = status
        opted, was_opted = status == (True, "granted"), old == (True, "granted")
        if opted != was_opted:
            rate = b.opt_out_rate()
            if opted and rate:
                self.t_optout = t - math.log(1.0 - self._u(streams.OPT_OUT)) / rate
            else:
                self.t_optout = INF
        denied, was_denied = status == (True, "denied"), old == (True, "denied")
        if denied != was_denied:
            self.t_reenable = INF
            if denied and self._u(streams.REENABLE) < b.spontaneous_reenable:
                u = self._u(streams.REENABLE_DELAY)
                self.t_reenable = t - math.log(1.0 - u) * b.reenable_delay_mean_days

    def _u(self, stream: int) -> float:
        k = self.k[stream]
        self.k[stream] = k + 1
        return streams.uniform(self.key, stream, k)

    def _uninstall(self, at: float) -> None:
        apply_uninstall(self.state, at / 86400.0)
        self._add("uninstalled", at)

    def _upgrade(self, t: float) -> None:
        """The next OS version: the profile's ``upgrade_to`` if it has one, else one major up."""
        old = self.profile
        version = REPORTED[old.upgrade_to][0] if old.upgrade_to else (self.os_version or 0) + 1
        if self.platform == "web":
            return  # browsers update themselves; nothing to report
        self.os_version = version
        name = resolve_profile(self.platform, version, self.target_sdk, self.browser)
        if name != old.name:  # the service re-resolves the profile the same way
            self.profile = self.world.profiles[name]
            apply_os_upgrade(self.state, old, self.profile)
        self._add("os_upgraded", EPOCH + t * 86400.0, os_version=version)

    # --- requests -----------------------------------------------------------------------

    def _add(self, kind: str, at: float, **fields: Any) -> None:
        """Queue an event for the next batch."""
        self.seq += 1
        fields["type"], fields["event_id"], fields["at"] = kind, f"e{self.seq}", at
        self.queue.append(fields)
        _bump(self.kinds, kind)

    def _count(self, what: str, cid: str) -> None:
        d = self.per_campaign.get(cid)
        if d is None:
            d = self.per_campaign[cid] = {}
        _bump(d, what)

    def _register(self, t: float) -> Generator[Call, Reply, bool]:
        body = encode({
            "device_id": self.device_id, "user_id": self.user_id, "platform": self.platform,
            "os_version": self.os_version, "app_target_sdk": self.target_sdk,
            "browser": self.browser, "sdk_reports_permission": self.state.sdk_reports_permission,
            "at": EPOCH + t * 86400.0})
        call = Call("POST", REGISTER, REGISTER, body)
        for _ in range(RETRIES):
            self.inflight = call
            status, content = yield call
            self.inflight = None
            if status == 201 and content:
                self.served = read_registered(content).permission
                self.registered = True
                return True
            if status == 409:  # a retry of a registration that went through
                self.registered = True
                return True
            if not retryable(status):
                break
        self.rejected.append(f"register: HTTP {status}: {(content or b'')[:200]!r}")
        return False

    def _post(self) -> Generator[Call, Reply, None]:
        """Send the queued events as one batch; retry it as it was when that can help."""
        events, self.queue = self.queue, []
        body = encode({"events": events})
        call = Call("POST", self.path_events, EVENTS, body)
        self.batches += 1
        self.events_sent += len(events)
        for _ in range(RETRIES):
            self.inflight = call
            status, content = yield call
            self.inflight = None
            if 200 <= status < 300 and content:
                ack = read_ack(content)
                self.acked_new += ack.new
                self.acked_dup += ack.duplicate
                self.served = ack.permission
                if ack.permission != self.state.permission:
                    self._mismatch("permission after batch: service ", ack.permission,
                                   ", rules ", self.state.permission)
                return
            if not retryable(status):
                self.rejected.append(f"events: HTTP {status}: {(content or b'')[:200]!r}")
                return
        self.unacked.append(body)

    def _mismatch(self, *what: Any) -> None:
        """Count a service answer the rules disagree with; keep the first three, in words."""
        self.mismatches += 1
        if len(self.examples) < 3:
            text = "".join(msgspec.json.encode(w).decode() if isinstance(w, msgspec.Struct)
                           else str(w) for w in what)
            self.examples.append(f"{self.device_id}: {text}")

    # --- one session, as ChunkModel._session -----------------------------------------------

    def _session(self, t: float, seconds: float, has_event: bool) -> Generator[Call, Reply, None]:
        st, w = self.state, self.world
        at = EPOCH + t * 86400.0
        start_session(st, self.profile, at / 86400.0)
        self._add("session_start", at)
        yield from self._post()
        if first_launch_dialog_due(st, self.profile):
            self._dialog(at, w.behaviour.dialog_cold, None)
            yield from self._post()
        for kind, offset, fired in w.triggers:
            if not st.installed:
                break
            if kind == "event":
                if not has_event:
                    continue
                offset = seconds / 2.0
                self._add("custom_event", at + offset, name=fired.event_name)
            elif kind == "session_time" and seconds < offset:
                continue
            yield from self._ask(fired, at + offset, kind == "event")
        if st.installed:
            self._add("session_time", at + seconds, seconds=seconds)

    def _ask(self, fired: Any, at: float, context: bool) -> Generator[Call, Reply, None]:
        st = self.state
        now = at / 86400.0
        body: dict[str, Any] = {"trigger": fired.trigger, "at": at}
        if fired.event_name is not None:
            body["event_name"] = fired.event_name
        if fired.session_seconds is not None:
            body["session_seconds"] = fired.session_seconds
        self.inflight = Call("POST", self.path_elig, ELIGIBILITY, encode(body))
        status, content = yield self.inflight
        self.inflight = None
        if not (200 <= status < 300 and content):
            return  # a failed eligibility call: the app shows nothing
        self.decisions += 1
        d = read_decision(content)
        want = decide(st, self.profile, self.world.strategy, fired, now)
        if d != want:
            self._mismatch(fired.trigger, f" at {at:.3f}: service ", d, ", rules ", want)
        if not d.show or d.campaign_id is None:
            return
        cid = d.campaign_id
        if self.served == "granted" or st.permission == "granted":
            self.optin_shows += 1
        record_impression(st, cid, now)  # follow the service, even where it broke a rule
        self._count("impressions", cid)
        camp = self.world.campaigns.get(cid)
        if camp is not None and isinstance(camp.frequency, Once) and st.campaigns[cid].shown > 1:
            self.once_violations += 1  # the counters reset with the install, as the service's
        yield from self._impression(d, cid, context, at)

    def _impression(self, d: Decision, cid: str, context: bool,
                    at: float) -> Generator[Call, Reply, None]:
        st, w, b = self.state, self.world, self.world.behaviour
        now = at / 86400.0
        camp = w.campaigns.get(cid)
        if camp is not None and not camp.primer:  # the app opens the OS dialog directly
            self._dialog(at, b.dialog_cold, cid)
            yield from self._post()
            return
        answer = answer_soft_prompt(
            self._u, action=d.action, receptiveness=self.chunk.receptiveness[self.i],
            fatigue=self.fatigue, since=now - self.fatigue_t, context=context,
            shown_before=st.campaigns[cid].shown - 1,
            primed=b.dialog_primed.get(self.profile.name), behaviour=b)
        self.fatigue, self.fatigue_t = answer.fatigue, now
        self._add("soft_prompt_shown", at, campaign_id=cid)
        self._count("shown_reported", cid)
        if answer.accepted:
            record_click(st, cid)
            self._add("soft_prompt_clicked", at, campaign_id=cid)
            self._count("clicks", cid)
            if answer.dialog is not None:
                self.dialog_credit = cid  # the service credits the answer to the last click
                if self._dialog_possible():
                    self._apply_dialog(at, answer.dialog, None)
            elif answer.settings_enabled:
                apply_settings_change(st, self.profile, enabled=True)
                self._add("permission_changed", at, permission="granted")
        else:
            record_dismissal(st, cid)
            self._add("soft_prompt_dismissed", at, campaign_id=cid)
            self._count("dismissals", cid)
            if answer.annoyed:
                self._uninstall(at)
                self.gone = True
        yield from self._post()

    def _dialog_possible(self) -> bool:
        """Whether the OS would show its dialog now; if not, a decision broke the rules."""
        if dialogs_left(self.state, self.profile) == 0:
            self.blocked_dialogs += 1
            self.dialog_credit = None
            return False
        return True

    def _dialog(self, at: float, table: dict[str, DialogOdds], cid: str | None) -> None:
        """An OS dialog without a soft prompt: answered from the model, applied, queued."""
        odds = table.get(self.profile.name)
        if odds is None or not self._dialog_possible():
            return
        self._apply_dialog(at, dialog_outcome(self._u(streams.DIALOG), odds), cid)

    def _apply_dialog(self, at: float, outcome: str, cid: str | None) -> None:
        """Apply an OS dialog's answer and queue it (the caller sends it)."""
        apply_dialog_result(self.state, self.profile, outcome, at / 86400.0)  # type: ignore[arg-type]
        fields: dict[str, Any] = {"outcome": outcome}
        if cid is not None:
            fields["campaign_id"] = cid
        self._add("os_dialog_result", at, **fields)
        credit = cid if cid is not None else self.dialog_credit
        self.dialog_credit = None
        if credit is not None:
            self._count("os_dialogs", credit)
            if outcome in ("allowed", "denied"):
                self._count("allows" if outcome == "allowed" else "denials", credit)

    # --- the log ------------------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        """What this device sent and was told, for ``sim.loadtest.consistency``."""
        inflight = self.inflight
        return {
            "device_id": self.device_id, "n": self.n, "profile": self.profile.name,
            "registered": self.registered,
            "batches": self.batches, "events_sent": self.events_sent,
            "acked_new": self.acked_new, "acked_dup": self.acked_dup, "kinds": self.kinds,
            "decisions": self.decisions, "mismatches": self.mismatches,
            "examples": self.examples, "optin_shows": self.optin_shows,
            "blocked_dialogs": self.blocked_dialogs, "once_violations": self.once_violations,
            "per_campaign": self.per_campaign, "rejected": self.rejected,
            "inflight": None if inflight is None else {
                "name": inflight.name, "path": inflight.path, "body": inflight.body.decode()},
            "unacked": [b.decode() for b in self.unacked],
            "queued": self.queue, "state": msgspec.to_builtins(self.state),
        }

