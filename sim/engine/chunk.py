"""The SimPy model: every device of a chunk, under every strategy, in one Environment.

Each (strategy, device) pair is a ``DeviceRun`` with exactly one pending wake-up:
the earliest of its next session *that can change an outcome* and its next
exogenous event (uninstall, reinstall, cleared data, OS upgrade, opt-out,
re-enabling from settings). Sessions before ``next_chance`` (the rules' answer
to "when could a prompt show again?") are skipped: they change nothing but the
session counter, which is fast-forwarded. Wake-ups are SimPy timeouts with a
callback, not a generator per device (half the cost per event, see
``shared/engineering-notes.md``). ``skip_idle=False`` steps through every
session instead; both give identical results, which the tests check.
"""

from __future__ import annotations

import gc
import math
from bisect import bisect_left
from dataclasses import dataclass
from functools import partial

import numpy as np
import simpy

from sim.model import streams
from sim.model.behaviour import DialogOdds, answer_soft_prompt, dialog_outcome
from sim.model.events import LogEvent
from sim.model.life import session_triggers
from sim.model.population import INF, REPORTED, Chunk
from sim.model.scenario import Scenario
from sim.rules.campaigns import Policy
from sim.rules.decision import (
    Decision,
    decide,
    next_chance,
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
    first_launch_dialog_due,
    new_install,
)
from sim.rules.platforms import PLATFORMS, PlatformProfile
from sim.rules.reachability import device_reach, group_reach

FLOWS: tuple[str, ...] = (
    "installs", "reinstalls", "uninstalls", "annoyance_uninstalls", "soft_prompts_shown",
    "soft_prompts_accepted", "soft_prompts_dismissed", "os_dialogs_shown", "os_dialogs_allowed",
    "os_dialogs_denied", "settings_opened", "settings_enabled", "opt_outs", "subscribed",
    "unsubscribed",
)
"""Counts of things that happened on a day."""
STOCKS: tuple[str, ...] = (
    "active_devices", "opted_in_devices", "provisional_devices", "blocked_devices",
    "reach_200", "reach_201", "reach_202",
)
"""Counts at the end of a day: installed devices, opted in, ... and users by reachability."""

(F_INSTALL, F_REINSTALL, F_UNINSTALL, F_ANNOY, F_SHOWN, F_ACCEPT, F_DISMISS, F_DIALOG,
 F_ALLOW, F_DENY, F_SETTINGS_OPEN, F_SETTINGS_ON, F_OPT_OUT, F_SUB, F_UNSUB) = range(len(FLOWS))
S_ACTIVE, S_OPTED, S_PROV, S_BLOCKED, S_R200, S_R201, S_R202 = range(len(STOCKS))
REACH_STOCK = {200: S_R200, 201: S_R201, 202: S_R202}

SESSION, UNINSTALL, REINSTALL, CLEAR, UPGRADE, OPT_OUT, REENABLE = range(7)
NOT_COUNTED = (False, "not_determined", False)
PLATFORM_INDEX = {p: i for i, p in enumerate(PLATFORMS)}


class DeviceRun:
    """One device under one strategy: its rule state plus what the engine needs."""

    __slots__ = (
        "base", "cursor", "epoch_first", "fatigue", "fatigue_t", "i", "k", "last_j", "model",
        "plat", "policy", "profile", "s", "state", "status", "stop", "t_clear", "t_optout",
        "t_re", "t_reenable", "t_un", "t_up", "wake_kind",
    )

    def __init__(self, model: ChunkModel, s: int, i: int, profile: PlatformProfile,
                 plat: int) -> None:
        c = model.chunk
        self.model = model
        self.s, self.i = s, i
        self.policy = policy = model.policies[s]
        self.profile = profile
        self.plat = plat
        self.base = (s * len(PLATFORMS) + plat) * model.days
        self.state: DeviceState = new_install(
            profile, provisional=policy.provisional_on_install,
            sdk_reports_permission=c.sdk_reports[i])
        self.cursor = self.epoch_first = c.start[i]
        self.stop = c.reinstall_start[i]
        self.last_j = self.cursor - 1
        """Index of the last session whose effect on the state is applied."""
        self.fatigue = self.fatigue_t = 0.0
        self.t_un, self.t_re, self.t_clear = c.uninstall_t[i], c.reinstall_t[i], c.clear_t[i]
        # An upgrade that keeps the rules (a new iOS version) changes no outcome: it is
        # only scheduled when the event log is kept.
        keep_up = profile.upgrade_to is not None or model.log is not None
        self.t_up = c.upgrade_t[i] if keep_up else INF
        self.t_optout = self.t_reenable = INF
        self.k = [0] * 8
        """Draws taken so far from each stream of ``sim.model.streams``."""
        self.status: tuple[bool, str, bool] = NOT_COUNTED
        """(installed, permission, blocked) as last counted in the daily stocks."""
        self.wake_kind = SESSION

    def wake(self, _event: simpy.Event) -> None:
        """SimPy callback: the device's pending wake-up is due."""
        self.model.process(self)


@dataclass(slots=True)
class ChunkResult:
    """Daily counts of one chunk: ``flows[f, s, p, d]`` and end-of-day ``stocks[k, s, p, d]``."""

    flows: np.ndarray
    stocks: np.ndarray
    events: int


class ChunkModel:
    """Runs one chunk of one replication under all strategies of a scenario."""

    def __init__(self, sc: Scenario, profiles: dict[str, PlatformProfile], chunk: Chunk,
                 replication: int, *, skip_idle: bool = True,
                 log: list[LogEvent] | None = None) -> None:
        self.env = simpy.Environment()
        self.sc, self.chunk, self.replication = sc, chunk, replication
        self.profiles = profiles
        self.behaviour = sc.behaviour
        self.policies: list[Policy] = list(sc.strategies)
        self.names = sc.strategy_names()
        self.campaigns = [{c.id: c for c in p.campaigns} for p in self.policies]
        self.triggers = [session_triggers(p, self.behaviour) for p in self.policies]
        self.days = sc.days
        self.skip_idle = skip_idle
        self.log = log
        size = len(self.policies) * len(PLATFORMS) * self.days
        self.flow_stride = self.stock_stride = size
        self.flows = [0] * (len(FLOWS) * size)
        self.stock_diff = [0] * (len(STOCKS) * size)
        self.reach: list[dict[tuple[int, int], dict[int, int]]] = [{} for _ in self.policies]
        """Per strategy, devices per reachability code of each (user, platform) group."""
        self.opt_out_rate = self.behaviour.opt_out_rate()
        hib = [p.hibernation_days for p in profiles.values() if p.hibernation_days is not None]
        self.long_gaps = self._long_gaps(min(hib)) if hib else {}
        self.events = 0

    # --- bookkeeping ---------------------------------------------------------

    def _long_gaps(self, days: float) -> dict[int, list[int]]:
        """Per device, the sessions that follow an idle gap of at least ``days``."""
        c = self.chunk
        t = np.asarray(c.session_t)
        if t.size < 2:
            return {}
        gap = np.diff(t) >= days
        idx = np.flatnonzero(gap) + 1
        out: dict[int, list[int]] = {}
        starts = set(c.start) | set(c.reinstall_start)
        dev = np.searchsorted(np.asarray(c.end), idx, side="right")
        for k, i in zip(idx.tolist(), dev.tolist(), strict=True):
            if k not in starts:
                out.setdefault(i, []).append(k)
        return out

    def _flow(self, run: DeviceRun, f: int, t: float) -> None:
        """Count one ``FLOWS[f]`` on the day of ``t``."""
        self.flows[f * self.flow_stride + run.base + int(t)] += 1

    def _emit(self, run: DeviceRun, t: float, kind: str, **fields: object) -> None:
        assert self.log is not None
        c = self.chunk
        self.log.append(LogEvent(
            t=t, replication=self.replication, strategy=self.names[run.s],
            device=f"d{c.first + run.i}", user=f"u{c.user[run.i]}", kind=kind,  # type: ignore[arg-type]
            **fields))  # type: ignore[arg-type]

    def _account(self, run: DeviceRun, t: float) -> None:
        """Update end-of-day stocks, subscription events and state-driven timers."""
        st, profile = run.state, run.profile
        inst, perm = st.installed, st.permission
        blocked = (inst and profile.os_dialog and perm != "granted"
                   and st.denials >= profile.max_denials)
        status = (inst, perm, blocked)
        old = run.status
        if status == old:
            return
        run.status = status
        was_inst, was_perm, was_blocked = old
        d = run.base + int(t)
        diff, stride = self.stock_diff, self.stock_stride
        if inst != was_inst:
            diff[S_ACTIVE * stride + d] += 1 if inst else -1
        if blocked != was_blocked:
            diff[S_BLOCKED * stride + d] += 1 if blocked else -1
        opted, was_opted = inst and perm == "granted", was_inst and was_perm == "granted"
        if opted != was_opted:
            diff[S_OPTED * stride + d] += 1 if opted else -1
            if opted and self.opt_out_rate:
                e = -math.log(1.0 - self._u(run, streams.OPT_OUT))
                run.t_optout = t + e / self.opt_out_rate
            else:
                run.t_optout = INF
        prov, was_prov = inst and perm == "provisional", was_inst and was_perm == "provisional"
        if prov != was_prov:
            diff[S_PROV * stride + d] += 1 if prov else -1
        receives, received = opted or prov, was_opted or was_prov
        if receives != received:
            self.flows[(F_SUB if receives else F_UNSUB) * self.flow_stride + d] += 1
        denied, was_denied = inst and perm == "denied", was_inst and was_perm == "denied"
        if denied != was_denied:
            run.t_reenable = INF
            b = self.behaviour
            if denied and self._u(run, streams.REENABLE) < b.spontaneous_reenable:
                u = self._u(run, streams.REENABLE_DELAY)
                run.t_reenable = t - math.log(1.0 - u) * b.reenable_delay_mean_days
        reach = device_reach(inst, st.sdk_reports_permission, perm)
        was_reach = device_reach(was_inst, st.sdk_reports_permission, was_perm)
        if reach != was_reach:
            self._reach(run, was_reach, reach, d)

    def _reach(self, run: DeviceRun, old: int | None, new: int | None, d: int) -> None:
        """Move the device's user between reachability codes (201 beats 200 beats 202)."""
        if self.chunk.solo[run.i]:
            before, after = old, new
        else:
            groups = self.reach[run.s]
            gk = (self.chunk.user[run.i], run.plat)
            counts = groups.get(gk)
            if counts is None:
                counts = groups[gk] = {201: 0, 200: 0, 202: 0}
            before = group_reach(counts)
            if old is not None:
                counts[old] -= 1
            if new is not None:
                counts[new] += 1
            after = group_reach(counts)
        if before != after:
            if before is not None:
                self.stock_diff[REACH_STOCK[before] * self.stock_stride + d] -= 1
            if after is not None:
                self.stock_diff[REACH_STOCK[after] * self.stock_stride + d] += 1

    def _u(self, run: DeviceRun, stream: int) -> float:
        """The device's next uniform of ``stream`` (see ``sim.model.streams``)."""
        k = run.k[stream]
        run.k[stream] = k + 1
        return streams.uniform(self.chunk.key[run.i], stream, k)

    # --- the model -------------------------------------------------------------

    def process(self, run: DeviceRun) -> None:
        """Handle a device's wake-up, then schedule its next one."""
        self.events += 1
        t = self.env.now
        kind = run.wake_kind
        st = run.state
        if kind != SESSION and st.installed:
            self._catch_up(run, bisect_left(self.chunk.session_t, t, run.last_j + 1, run.stop))
        if kind == SESSION:
            self._session(run, t)
        elif kind == UNINSTALL:
            run.t_un = INF
            self._uninstall(run, t)
        elif kind == REINSTALL:
            c = self.chunk
            run.t_re, run.t_un = INF, c.uninstall2_t[run.i]
            run.cursor = run.epoch_first = c.reinstall_start[run.i]
            run.last_j = run.cursor - 1
            run.stop = c.end[run.i]
            apply_reinstall(st, run.profile, t, reset_campaigns=run.policy.reset_on_reinstall)
            self._flow(run, F_REINSTALL, t)
            if self.log is not None:
                self._emit(run, t, "reinstalled")
            self._session(run, t)
        elif kind == CLEAR:
            run.t_clear = INF
            if st.installed:
                apply_clear_data(st, run.profile, reset_campaigns=run.policy.reset_on_reinstall)
                if self.log is not None:
                    self._emit(run, t, "data_cleared")
        elif kind == UPGRADE:
            run.t_up = INF
            old = run.profile
            new = self.profiles[old.upgrade_to] if old.upgrade_to is not None else old
            apply_os_upgrade(st, old, new)
            run.profile = new
            if self.log is not None:
                version = REPORTED[new.name][0]
                if new is old and version is not None:
                    version += 1.0  # the next major version, same rules
                self._emit(run, t, "os_upgraded", os_version=version)
        elif kind == OPT_OUT:
            run.t_optout = INF
            apply_settings_change(st, run.profile, enabled=False)
            self._flow(run, F_OPT_OUT, t)
            if self.log is not None:
                self._emit(run, t, "permission_changed", permission="denied")
        else:  # REENABLE
            run.t_reenable = INF
            apply_settings_change(st, run.profile, enabled=True)
            self._flow(run, F_SETTINGS_ON, t)
            if self.log is not None:
                self._emit(run, t, "permission_changed", permission="granted")
        self._account(run, t)
        self._schedule(run, t)

    def _catch_up(self, run: DeviceRun, j: int) -> None:
        """Apply what the skipped sessions before index ``j`` did: count them.

        Skipped sessions change nothing else: ``_next_session`` never skips one
        that could show a prompt or revoke a permission by hibernation.
        """
        skipped = j - run.last_j - 1
        if skipped > 0:
            run.state.sessions += skipped
            run.state.last_active_at = self.chunk.session_t[j - 1]
            run.last_j = j - 1

    def _uninstall(self, run: DeviceRun, t: float) -> None:
        apply_uninstall(run.state, t)
        run.cursor = run.stop
        self._flow(run, F_UNINSTALL, t)
        if self.log is not None:
            self._emit(run, t, "uninstalled")

    def _session(self, run: DeviceRun, t: float) -> None:
        c, st, profile = self.chunk, run.state, run.profile
        j = run.cursor
        run.cursor = j + 1
        if j == c.start[run.i]:
            self.flows[F_INSTALL * self.flow_stride + run.base + int(t)] += 1
            if self.log is not None:
                os_version, target, browser = REPORTED[profile.name]
                self._emit(run, t, "install", platform=profile.platform, profile=profile.name,
                           os_version=os_version, app_target_sdk=target, browser=browser,
                           permission=st.permission,
                           sdk_reports_permission=st.sdk_reports_permission)
        if j > run.last_j + 1:
            self._catch_up(run, j)
        run.last_j = j
        start_session(st, profile, t)
        if self.log is not None:
            self._emit(run, t, "session_start")
        if first_launch_dialog_due(st, profile):
            self._dialog(run, t, self.behaviour.dialog_cold[profile.name])
        policy = run.policy
        for kind, offset, fired in self.triggers[run.s]:
            if not st.installed:
                return
            if kind == "event":
                if not c.session_event[j]:
                    continue
                offset = c.session_seconds[j] / 2.0
            elif kind == "session_time" and c.session_seconds[j] < offset:
                continue
            now = t + offset / 86400.0
            d = decide(st, profile, policy, fired, now)
            if self.log is not None:
                self._emit(run, now, "decision", trigger=fired.trigger, event_name=fired.event_name,
                           session_seconds=fired.session_seconds, show=d.show, reason=d.reason,
                           campaign_id=d.campaign_id, action=d.action)
            if d.show:
                self._impression(run, d, kind == "event", now)

    def _impression(self, run: DeviceRun, d: Decision, context: bool, t: float) -> None:
        st, b = run.state, self.behaviour
        cid: str = d.campaign_id  # type: ignore[assignment]
        record_impression(st, cid, t)
        if not self.campaigns[run.s][cid].primer:  # the app opens the OS dialog directly
            self._dialog(run, t, b.dialog_cold[run.profile.name])
            return
        day = run.base + int(t)
        flows, stride = self.flows, self.flow_stride
        flows[F_SHOWN * stride + day] += 1
        answer = answer_soft_prompt(
            partial(self._u, run), action=d.action, receptiveness=self.chunk.receptiveness[run.i],
            fatigue=run.fatigue, since=t - run.fatigue_t, context=context,
            shown_before=st.campaigns[cid].shown - 1, primed=b.dialog_primed.get(run.profile.name),
            behaviour=b)
        run.fatigue, run.fatigue_t = answer.fatigue, t
        if answer.accepted:
            record_click(st, cid)
            flows[F_ACCEPT * stride + day] += 1
            if self.log is not None:
                self._emit(run, t, "soft_prompt_clicked", campaign_id=cid)
            if answer.dialog is not None:
                self._apply_dialog(run, t, answer.dialog)
            elif d.action == "open_settings":
                self._flow(run, F_SETTINGS_OPEN, t)
                if answer.settings_enabled:
                    apply_settings_change(st, run.profile, enabled=True)
                    self._flow(run, F_SETTINGS_ON, t)
                    if self.log is not None:
                        self._emit(run, t, "permission_changed", permission="granted")
            return
        record_dismissal(st, cid)
        flows[F_DISMISS * stride + day] += 1
        if self.log is not None:
            self._emit(run, t, "soft_prompt_dismissed", campaign_id=cid)
        if answer.annoyed:
            run.t_un = run.t_re = run.t_clear = run.t_up = INF
            self._flow(run, F_ANNOY, t)
            self._uninstall(run, t)

    def _dialog(self, run: DeviceRun, t: float, odds: DialogOdds) -> None:
        """An OS dialog the app opened without a soft prompt (cold), or the OS itself."""
        self._apply_dialog(run, t, dialog_outcome(self._u(run, streams.DIALOG), odds))

    def _apply_dialog(self, run: DeviceRun, t: float, outcome: str) -> None:
        apply_dialog_result(run.state, run.profile, outcome, t)  # type: ignore[arg-type]
        flows, stride, day = self.flows, self.flow_stride, run.base + int(t)
        flows[F_DIALOG * stride + day] += 1
        if outcome == "allowed":
            flows[F_ALLOW * stride + day] += 1
        elif outcome == "denied":
            flows[F_DENY * stride + day] += 1
        if self.log is not None:
            self._emit(run, t, "os_dialog_result", outcome=outcome)

    def _next_session(self, run: DeviceRun, now: float) -> float:
        """Time of the next session that can change an outcome (``INF``: none)."""
        st = run.state
        stop = run.stop
        if not st.installed:
            return INF
        times = self.chunk.session_t
        j = bisect_left(times, now, run.last_j + 1, stop)
        if j >= stop:
            return INF
        if not self.skip_idle:
            return times[j]
        nc = next_chance(st, run.profile, run.policy, now)
        if first_launch_dialog_due(st, run.profile):
            nc = now  # the OS asks by itself at the next launch
        j_next = bisect_left(times, nc, j, stop) if nc is not None else stop
        hib = run.profile.hibernation_days
        if hib is not None and st.permission in ("granted", "denied"):
            for k in self.long_gaps.get(run.i, ()):
                if j <= k < j_next and times[k] - times[k - 1] >= hib:
                    j_next = k
                    break
        if j_next >= stop:
            return INF
        run.cursor = j_next
        return times[j_next]

    def _schedule(self, run: DeviceRun, now: float) -> None:
        t, kind = self._next_session(run, now), SESSION
        if run.t_un < t:
            t, kind = run.t_un, UNINSTALL
        if run.t_re < t:
            t, kind = run.t_re, REINSTALL
        if run.t_clear < t:
            t, kind = run.t_clear, CLEAR
        if run.t_up < t:
            t, kind = run.t_up, UPGRADE
        if run.t_optout < t:
            t, kind = run.t_optout, OPT_OUT
        if run.t_reenable < t:
            t, kind = run.t_reenable, REENABLE
        if t >= self.days:
            return
        run.wake_kind = kind
        self.env.timeout(t - now).callbacks.append(run.wake)

    def _install(self, _event: simpy.Event | None = None) -> None:
        """SimPy callback: the next device installs the app, under every strategy at once.

        Installs are fed one at a time in time order, so the event queue only
        holds devices that are installed and have something pending.
        """
        i = self.install_order[self.installed]
        self.installed += 1
        profile = self.profiles[self.chunk.profile[i]]
        plat = PLATFORM_INDEX[profile.platform]
        for s in range(len(self.policies)):
            self.process(DeviceRun(self, s, i, profile, plat))
        if self.installed < len(self.install_order):
            nxt = self.chunk.install_t[self.install_order[self.installed]]
            self.env.timeout(nxt - self.env.now).callbacks.append(self._install)

    def run(self) -> ChunkResult:
        """Simulate the chunk to the horizon and return its daily counts."""
        c = self.chunk
        self.install_order = sorted(range(c.n), key=c.install_t.__getitem__)
        self.installed = 0
        self.env.timeout(c.install_t[self.install_order[0]]).callbacks.append(self._install)
        # The model makes no reference cycles per event, but it keeps ~100k objects alive,
        # which the cyclic collector would traverse again and again: about 20% of the run.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self.env.run(until=self.days)
        finally:
            if was_enabled:
                gc.enable()
        shape = (len(PLATFORMS) * len(self.policies), self.days)
        flows = np.array(self.flows, dtype=np.int64).reshape(len(FLOWS), len(self.policies),
                                                              len(PLATFORMS), self.days)
        stocks = np.cumsum(np.array(self.stock_diff, dtype=np.int64).reshape(
            len(STOCKS), *shape), axis=-1).reshape(len(STOCKS), len(self.policies),
                                                    len(PLATFORMS), self.days)
        return ChunkResult(flows=flows, stocks=stocks, events=self.events)
