"""One simulated device, living its simulated life against the eligibility API.

The life is the simulator's own (``sim.model.life``): the same population chunk,
the same steps, the same counter-based draws, so device ``n`` of a load test
does what device ``n`` of the simulation does. A :class:`Device` is the
life's port onto HTTP: where the engine calls ``decide`` in-process, the
device asks ``POST .../eligibility``, follows the answer and checks it against
``sim.rules.decision.decide`` on its own copy of the state; where the engine
counts and logs, the device queues events and sends them as a batch at the
moments an SDK would (the app opened, a prompt answered). The final state can
be checked against ``GET /v1/devices/{id}`` after the run
(``sim.loadtest.consistency``).

:meth:`Device.run` is synchronous: it makes its calls and waits through a
:class:`~sim.loadtest.calls.Link`, so the Locust user makes blocking calls
under gevent and a test drives a device with a fake. Exogenous changes
between sessions (an OS upgrade, cleared data, an opt-out in settings, an
uninstall) are queued with their own ``at`` and sent with the next batch, as
an SDK does on the next app open; the client clock makes the service apply
them at their own times.

When the service hosts an experiment (``World.experiment``, ``sim.loadtest.experiment``),
a device in its audience computes its arm (the contract's hash) and, while the window holds
the moment, lives on the arm's campaigns and expects the answer to name the experiment and
arm; it logs what it sent from its first answer inside the experiment, for the stats'
check (``sim.loadtest.experiment_check``).
"""

from __future__ import annotations

from typing import Any

import msgspec

from sim.loadtest.calls import (
    ELIGIBILITY,
    ENDPOINTS,
    EVENTS,
    REGISTER,
    RETRIES,
    BurstNow,
    Call,
    Link,
    Reply,
    encode,
    read_ack,
    read_decision,
    read_registered,
    retryable,
)
from sim.loadtest.world import World
from sim.model.clock import DAY, EPOCH
from sim.model.life import REINSTALL, SESSION, Life
from sim.model.stage import DETAIL, Port, Stage
from sim.rules.config.campaigns import TriggerFired
from sim.rules.config.platforms import REPORTS
from sim.rules.config.verdict import Decision
from sim.rules.credit import Click, click_action, credit
from sim.rules.decision import decide
from sim.rules.permission import is_blocked
from sim.wire import wire_state

__all__ = ["ELIGIBILITY", "ENDPOINTS", "EVENTS", "REGISTER", "Call", "Device"]


def _bump(d: dict[str, int], key: str) -> None:
    d[key] = d.get(key, 0) + 1


class Device(Port):
    """One device: its life, what it told the service and what the service answered."""

    __slots__ = (
        "acked_dup", "acked_new", "app_stage", "arm", "arm_stage", "assigned", "batches",
        "blocked_dialogs", "decisions", "device_id", "events_sent", "examples", "exp_kinds",
        "inflight", "kinds", "last_click", "last_offer", "life", "link", "mismatches", "n",
        "once_violations", "optin_shows", "path_elig", "path_events", "per_campaign", "queue",
        "real0", "registered", "rejected", "seq", "served", "sim0", "unacked", "user_id",
        "world",
    )

    def __init__(self, world: World, n: int, device_id: str, real0: float) -> None:
        self.world, self.n, self.device_id = world, n, device_id
        c, i = world.chunk_of(n)
        stage = Stage(self, c, world.strategy, world.behaviour, world.rules_profiles, world.counts,
                      world.scenario.days, epoch=EPOCH, reports=True, sending=world.sending)
        self.life = Life(stage, i, stage.profiles[c.profile[i]], 0)
        self.user_id = f"{world.run_id}-u{c.user[i]}"
        self.app_stage, self.arm_stage = stage, stage
        self.arm: int | None = None
        """The device's arm in the world's experiment (None: the audience leaves it out)."""
        plan = world.experiment
        name = self.life.profile.name
        if plan is not None and plan.takes(REPORTS[name].platform, name):
            self.arm = plan.arm_of(device_id, self.user_id)
            self.arm_stage = Stage(self, c, plan.policies[self.arm], world.behaviour,
                                   world.rules_profiles, world.counts, world.scenario.days,
                                   epoch=EPOCH, reports=True, sending=world.sending)
            # a session that crosses the window's edge still knows both sets of campaigns
            stage.campaigns = self.arm_stage.campaigns = {**stage.campaigns,
                                                          **self.arm_stage.campaigns}
        self.assigned = False
        """The service has answered with the experiment: the stats count it from then."""
        self.exp_kinds: dict[str, int] = {}
        """Events sent since the assignment, per kind (``os_dialog_result:ANSWER`` too)."""
        self.sim0, self.real0 = c.install_t[i], real0
        self.path_events = f"/v1/devices/{device_id}/events"
        self.path_elig = f"/v1/devices/{device_id}/eligibility"
        self.link: Link | None = None
        self.queue: list[dict[str, Any]] = []
        self.seq = 0
        self.served: str = self.life.state.permission
        """The permission as the service last stated it."""
        self.last_offer: Click | None = None
        self.last_click: Click | None = None
        """As the service keeps them, to credit OS dialogs to campaigns (``sim.rules.credit``)."""
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

    # --- the simulated time line ------------------------------------------------------

    def run(self, link: Link) -> None:
        """Register, then live every session and timer of the history up to the horizon.

        Before the app opens (a session, or a reinstall and its first session) the
        device waits for that moment through ``link``. A wait may end in a
        :class:`BurstNow`: the app is opened now (after an OS upgrade for an
        ``upgrade`` burst), then the wait goes on.
        """
        life, horizon = self.life, self.world.horizon
        self.link = link
        try:
            last = self.sim0
            if not self._register(last):
                return
            while True:
                t = life.race(life.next_session())
                if t >= horizon:
                    break
                if life.wake_kind in (SESSION, REINSTALL):
                    burst = link.wait_until(t)
                    if burst is not None:  # the wait is cut short: open the app now
                        last = self._burst(burst, t, last)
                        continue
                life.stage = self._stage_at(t)
                life.step(t)
                last = t
                if life.over():
                    break
            if self.queue:
                self._post()
        finally:
            self.link = None

    def _burst(self, burst: BurstNow, t: float, last: float) -> float:
        """Open the app at the burst's moment, if it comes before ``t``; the last step's time."""
        w, life = self.world, self.life
        now = self.sim0 + (burst.real - self.real0) / w.day_seconds if w.day_seconds > 0 else t
        if not life.state.installed or now >= t:
            return last  # (the app opens at t anyway)
        tb = max(last, now)
        life.stage = self._stage_at(tb)
        life.open_app(tb, burst.kind == "upgrade")
        return tb

    def _in_arm(self, at: float) -> bool:
        """Whether the device follows its arm at ``at`` (Unix seconds, the rules' clock)."""
        plan = self.world.experiment
        return self.arm is not None and plan is not None and plan.running(at)

    def _stage_at(self, t: float) -> Stage:
        """The stage whose campaigns the app runs at simulated time ``t``: the arm's inside
        the experiment, the app's outside."""
        return self.arm_stage if self._in_arm(EPOCH + t * DAY) else self.app_stage

    # --- the port ---------------------------------------------------------------------

    def decide(self, life: Life, fired: TriggerFired, t: float, now: float) -> Decision | None:
        """Ask the service; check its answer against ``decide``; follow it (``None``: no
        answer, or nothing to show)."""
        st = life.state
        body: dict[str, Any] = {"trigger": fired.trigger, "at": EPOCH + t * DAY}
        if fired.event_name is not None:
            body["event_name"] = fired.event_name
        if fired.session_seconds is not None:
            body["session_seconds"] = fired.session_seconds
        status, content = self._call(Call("POST", self.path_elig, ELIGIBILITY, encode(body)))
        if not (200 <= status < 300 and content):
            return None  # a failed eligibility call: the app shows nothing
        self.decisions += 1
        d = read_decision(content)
        plan = self.world.experiment
        if plan is not None and self.arm is not None and self._in_arm(body["at"]):
            want = decide(st, life.profile, self.arm_stage.policy, fired, now)
            want = msgspec.structs.replace(want, experiment=plan.experiment_id,
                                           arm=plan.arms[self.arm])
            self.assigned = True
        else:
            want = decide(st, life.profile, self.app_stage.policy, fired, now)
        if d != want:
            self._mismatch(fired.trigger, f" at {body['at']:.3f}: service ", d, ", rules ", want)
        cid = d.campaign_id
        if not d.show or cid is None:
            return None
        if self.served == "granted" or st.permission == "granted":
            self.optin_shows += 1
        self._count("impressions", cid)
        camp, seen = life.stage.campaigns.get(cid), st.campaigns.get(cid)
        if camp is not None and camp.frequency == "once" and seen is not None \
                and seen.shown > 0:
            self.once_violations += 1  # the counters reset with the install, as the service's
        self.last_offer = Click(cid, d.action)
        return d

    def report(self, life: Life, kind: str, t: float, campaign_id: str | None,
               detail: str | float | None) -> None:
        """Queue the event for the next batch (and count what the campaign figures show)."""
        if kind == "install":
            return  # the device registered before its life started
        if kind == "dialog_refused":
            self.blocked_dialogs += 1  # the service offered a dialog the OS does not show
            return
        if kind == "os_upgraded" and detail is None:
            return  # a browser updates itself: nothing to report
        fields: dict[str, Any] = {}
        if detail is not None:
            fields[DETAIL[kind]] = detail
        if kind == "os_upgraded" and REPORTS[life.profile.name].api_level is not None:
            fields["api_level"] = REPORTS[life.profile.name].api_level
        if campaign_id is not None:
            fields["campaign_id"] = campaign_id
        self.seq += 1
        fields["type"], fields["event_id"], fields["at"] = kind, f"e{self.seq}", EPOCH + t * DAY
        self.queue.append(fields)
        _bump(self.kinds, kind)
        if self.assigned and self._in_arm(EPOCH + t * DAY):
            _bump(self.exp_kinds, kind if kind != "os_dialog_result" else f"{kind}:{detail}")
        if kind == "soft_prompt_shown":
            self._count("shown_reported", campaign_id)
        elif kind == "soft_prompt_clicked":
            assert campaign_id is not None
            self._count("clicks", campaign_id)
            self.last_click = Click(campaign_id, click_action(self.last_offer, campaign_id))
        elif kind == "soft_prompt_dismissed":
            self._count("dismissals", campaign_id)
        elif kind in ("os_dialog_result", "permission_changed"):
            answers = "os_dialog" if kind == "os_dialog_result" else "open_settings"
            cid, used = credit(campaign_id, self.last_click, answers)
            if used:
                self.last_click = None
            if cid is not None and kind == "os_dialog_result":
                self._count("os_dialogs", cid)
                if detail in ("allowed", "denied"):
                    self._count("allows" if detail == "allowed" else "denials", cid)

    def flush(self, life: Life) -> None:
        """Send the queued events."""
        self._post()

    # --- requests -----------------------------------------------------------------------

    def _count(self, what: str, cid: str | None) -> None:
        assert cid is not None
        d = self.per_campaign.get(cid)
        if d is None:
            d = self.per_campaign[cid] = {}
        _bump(d, what)

    def _call(self, call: Call) -> Reply:
        """Make one request (``inflight`` while it is: a stopped run may cut it off)."""
        assert self.link is not None
        self.inflight = call
        reply = self.link.request(call)
        self.inflight = None
        return reply

    def _register(self, t: float) -> bool:
        st = self.life.state
        body = encode({
            "device_id": self.device_id, "user_id": self.user_id,
            **msgspec.to_builtins(REPORTS[self.life.profile.name]),
            "sdk_reports_permission": st.sdk_reports_permission,
            "utc_offset_minutes": st.utc_offset_minutes, "at": EPOCH + t * DAY})
        call = Call("POST", REGISTER, REGISTER, body)
        for _ in range(RETRIES):
            status, content = self._call(call)
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

    def _post(self) -> None:
        """Send the queued events as one batch; retry it as it was when that can help."""
        events, self.queue = self.queue, []
        body = encode({"events": events})
        call = Call("POST", self.path_events, EVENTS, body)
        self.batches += 1
        self.events_sent += len(events)
        for _ in range(RETRIES):
            status, content = self._call(call)
            if 200 <= status < 300 and content:
                ack = read_ack(content)
                self.acked_new += ack.new
                self.acked_dup += ack.duplicate
                self.served = ack.permission
                if ack.permission != self.life.state.permission:
                    self._mismatch("permission after batch: service ", ack.permission,
                                   ", rules ", self.life.state.permission)
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

    # --- the log ------------------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        """What this device sent and was told, for ``sim.loadtest.consistency``."""
        inflight, plan = self.inflight, self.world.experiment
        return {
            "device_id": self.device_id, "n": self.n, "profile": self.life.profile.name,
            "registered": self.registered,
            "batches": self.batches, "events_sent": self.events_sent,
            "acked_new": self.acked_new, "acked_dup": self.acked_dup, "kinds": self.kinds,
            "decisions": self.decisions, "mismatches": self.mismatches,
            "examples": self.examples, "optin_shows": self.optin_shows,
            "blocked_dialogs": self.blocked_dialogs, "once_violations": self.once_violations,
            "per_campaign": self.per_campaign, "rejected": self.rejected,
            "arm": None if self.arm is None or plan is None else plan.arms[self.arm],
            "assigned": self.assigned, "exp_kinds": self.exp_kinds,
            "blocked": is_blocked(self.life.state, self.life.profile),
            "inflight": None if inflight is None else {
                "name": inflight.name, "path": inflight.path, "body": inflight.body.decode()},
            "unacked": [b.decode() for b in self.unacked],
            "queued": self.queue,
            "state": wire_state(msgspec.to_builtins(self.life.state)),  # as the API answers
        }
