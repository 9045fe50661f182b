"""The SimPy model: every device of a chunk, under every strategy, in one Environment.

Each (strategy, device) pair is a ``sim.model.life.Life`` (what happens to one
install: the very steps the load-test device lives) with exactly one pending
wake-up: the earliest of its next session *that can change an
outcome* and its timers (``Life.race``). Sessions before ``next_chance`` (the
rules' answer to "when could a prompt show again?") are skipped: they change
nothing but the session counter, which the life fast-forwards. Wake-ups are
SimPy timeouts with a callback, not a generator per device (half the cost per
event, see ``docs/design.md``). ``skip_idle=False`` steps through every session
instead; both give identical results, which the tests check.

The model is the lives' ``Port``: it decides in-process with ``decide``, keeps
the daily counts the lives make (``FLOWS``) and, from their status changes,
the end-of-day stocks and reachability; it logs events only when asked to.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Final

import numpy as np
import simpy
from simpy.events import Timeout

from sim.model.events import LogEvent
from sim.model.life import BROWSER_PROFILES, Life, Status
from sim.model.population import INF, Chunk, first_at
from sim.model.scenario import Scenario
from sim.model.sending import sending_plan
from sim.model.stage import DETAIL, FLOWS, Port, Stage
from sim.rules.config.campaigns import TriggerFired
from sim.rules.config.platforms import FAMILY_OF, PROFILES, REPORTS, PlatformProfile
from sim.rules.config.verdict import Decision
from sim.rules.decision import decide, next_chance
from sim.rules.native import ProfileRules
from sim.rules.permission import first_launch_dialog_due
from sim.rules.reachability import device_reach, group_reach

__all__ = ["FLOWS", "STOCKS", "ChunkModel", "ChunkResult"]

STOCKS: tuple[str, ...] = (
    "active_devices", "opted_in_devices", "provisional_devices", "blocked_devices",
    "reach_200", "reach_201", "reach_202", "reachable_devices",
)
"""Counts at the end of a day: installed devices, opted in, ..., users by reachability, and
devices *reachable*: opted in and receiving (not revoked, its subscription not removed, not
hibernating)."""

S_ACTIVE: Final = 0
S_OPTED: Final = 1
S_PROV: Final = 2
S_BLOCKED: Final = 3
S_R200: Final = 4
S_R201: Final = 5
S_R202: Final = 6
S_REACHABLE: Final = 7
REACH_STOCK = {200: S_R200, 201: S_R201, 202: S_R202}
FAMILY_INDEX = {"ios": 0, "android": 1, "web": 2}
COHORT_INDEX = {p: i for i, p in enumerate(PROFILES)}
N_PROFILES: Final = len(PROFILES)
UNLOGGED = frozenset({"soft_prompt_shown", "custom_event", "session_time", "dialog_refused"})
"""Reports the event log leaves out (a ``decision`` with ``show`` says the prompt showed)."""


@dataclass(slots=True)
class ChunkResult:
    """Daily counts of one chunk: ``flows[f, s, c, d]`` and end-of-day ``stocks[k, s, c, d]``,
    ``c`` the cohort (the profile a device installed on, ``PROFILES`` order)."""

    flows: np.ndarray
    stocks: np.ndarray
    events: int
    """Wake-ups the lives lived (engine calls): one per SimPy event of a life, plus one per
    strategy at each install (an install is one SimPy event for all the strategies)."""
    simpy_events: int
    """Events the chunk scheduled in SimPy (its ``Timeout``s), what a bare SimPy loop counts."""


class ChunkModel(Port):
    """Runs one chunk of one replication under all strategies of a scenario."""

    def __init__(self, sc: Scenario, profiles: dict[str, PlatformProfile], chunk: Chunk,
                 replication: int, *, skip_idle: bool = True,
                 log: list[LogEvent] | None = None) -> None:
        self.env = simpy.Environment()
        self.sc, self.chunk, self.replication = sc, chunk, replication
        self.profiles = {n: ProfileRules(p) for n, p in profiles.items()}
        """The profiles as the rules read them (``sim.rules.native``): converted once, here."""
        self.names = sc.strategy_names()
        self.days = sc.days
        self.skip_idle = skip_idle
        self.log = log
        size = len(sc.strategies) * len(PROFILES) * self.days
        self.stock_stride = size
        self.per_strategy = len(PROFILES) * self.days
        """A life's ``row`` is ``strategy * per_strategy + cohort * days``: its counts go to
        the profile the device installed on (its cohort), OS upgrades or not."""
        self.cohort_family = [FAMILY_INDEX[FAMILY_OF[profiles[n].platform]] for n in PROFILES]
        """The reachability family of each cohort (its profile's platform's, as the scenario
        sets it): a user's reachability is one code per family (``sim.rules.reachability``)."""
        self.flows = [0] * (len(FLOWS) * size)
        self.stock_diff = [0] * (len(STOCKS) * size)
        plans = [sending_plan(sc.sending_of(p), sc.behaviour) for p in sc.strategies]
        self.stages = [Stage(self, chunk, p, sc.behaviour, self.profiles, self.flows, size,
                             reports=log is not None, sending=plan)
                       for p, plan in zip(sc.strategies, plans, strict=True)]
        self.reach: list[dict[int, dict[int, int]]] = [{} for _ in sc.strategies]
        """Per strategy, devices per reachability code of each (user, family) group, keyed
        ``user * 3 + family`` (an int hashes and compares faster than a tuple)."""
        self.reach_row: list[dict[int, int]] = [{} for _ in sc.strategies]
        """Per strategy, the row a (user, family) group is counted in: its first device's,
        so a user whose devices span two cohorts is counted in one."""
        hib = [p.hibernation_days for p in profiles.values() if p.hibernation_days is not None]
        self.long_gaps = self._long_gaps(min(hib)) if hib else {}
        self.events = 0
        self.simpy_events = 0

    # --- the port --------------------------------------------------------------------

    def decide(self, life: Life, fired: TriggerFired, t: float, now: float) -> Decision:
        """``decide`` in-process (logged as a ``decision`` when the log is kept)."""
        d = decide(life.state, life.profile, life.stage.policy, fired, now)
        if self.log is not None:
            self._emit(life, t, "decision", trigger=fired.trigger, event_name=fired.event_name,
                       session_seconds=fired.session_seconds, show=d.show, reason=d.reason,
                       campaign_id=d.campaign_id, action=d.action, prompt_ui=d.prompt_ui,
                       loud_chance=d.loud_chance)
        return d

    def report(self, life: Life, kind: str, t: float, campaign_id: str | None,
               detail: str | float | None) -> None:
        """Log what happened (reports are only made when the log is kept)."""
        if kind in UNLOGGED:
            return
        if kind == "install":
            p, st = life.profile, life.state
            k = REPORTS[p.name]
            self._emit(life, t, kind, platform=p.platform, profile=p.name,
                       os_version=k.os_version, os_kind=k.os_kind, api_level=k.api_level,
                       app_target_sdk=k.app_target_sdk, browser=k.browser,
                       quiet_ui=k.quiet_ui or None, webapk=k.webapk or None,
                       browser_id=f"u{self.chunk.user[life.i]}.chrome"
                       if p.name in BROWSER_PROFILES else None,
                       permission=st.permission,
                       sdk_reports_permission=st.sdk_reports_permission,
                       utc_offset_minutes=st.utc_offset_minutes or None)
        elif kind == "os_dialog_result":
            self._emit(life, t, kind, campaign_id=campaign_id, outcome=detail,
                       prompt_ui=life.shown_ui, summary=life.in_summary or None)
        elif kind == "os_upgraded" and detail is not None:
            self._emit(life, t, kind, os_version=detail,
                       api_level=REPORTS[life.profile.name].api_level)
        elif detail is not None:
            self._emit(life, t, kind, campaign_id=campaign_id, **{DETAIL[kind]: detail})
        else:
            self._emit(life, t, kind, campaign_id=campaign_id)

    def _emit(self, life: Life, t: float, kind: str, **fields: object) -> None:
        assert self.log is not None
        self.log.append(LogEvent(
            t=t, replication=self.replication, strategy=self.names[life.row // self.per_strategy],
            device=f"d{self.chunk.first + life.i}", user=f"u{self.chunk.user[life.i]}",
            kind=kind, **fields))  # type: ignore[arg-type]

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

    def _restock(self, life: Life, old: Status, t: float) -> None:
        """Move the device between end-of-day stocks: its status changed from ``old``."""
        inst, perm, blocked, asleep, unsub = life.status
        was_inst, was_perm, was_blocked, was_asleep, was_unsub = old
        d = life.row + int(t)
        diff, stride = self.stock_diff, self.stock_stride
        if inst != was_inst:
            diff[S_ACTIVE * stride + d] += 1 if inst else -1
        if blocked != was_blocked:
            diff[S_BLOCKED * stride + d] += 1 if blocked else -1
        opted, was_opted = inst and perm == "granted", was_inst and was_perm == "granted"
        if opted != was_opted:
            diff[S_OPTED * stride + d] += 1 if opted else -1
        reachable = opted and not asleep and not unsub
        if reachable != (was_opted and not was_asleep and not was_unsub):
            diff[S_REACHABLE * stride + d] += 1 if reachable else -1
        prov, was_prov = inst and perm == "provisional", was_inst and was_perm == "provisional"
        if prov != was_prov:
            diff[S_PROV * stride + d] += 1 if prov else -1
        sdk = life.state.sdk_reports_permission
        token = life.profile.token_needs_permission
        reach = device_reach(inst, sdk, perm, token, asleep or unsub)
        was_reach = device_reach(was_inst, sdk, was_perm, token, was_asleep or was_unsub)
        if reach != was_reach:
            self._reach(life, was_reach, reach, d)

    def _reach(self, life: Life, old: int | None, new: int | None, d: int) -> None:
        """Move the device's user between reachability codes (201 beats 200 beats 202)."""
        if self.chunk.solo[life.i]:
            before, after = old, new
        else:
            q = life.row // self.days
            s = q // N_PROFILES
            groups = self.reach[s]
            gk = self.chunk.user[life.i] * 3 + self.cohort_family[q - s * N_PROFILES]
            counts = groups.get(gk)
            if counts is None:
                counts = groups[gk] = {201: 0, 200: 0, 202: 0}
                self.reach_row[s][gk] = life.row
            d += self.reach_row[s][gk] - life.row
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

    # --- driving the lives -------------------------------------------------------

    def process(self, life: Life, t: float) -> None:
        """Live a device's wake-up at ``t`` (the simulation's now), then schedule its next one.

        The next is a ``Timeout`` made directly (``env.timeout`` builds a bound class on each
        access), and the life keeps the time it is due (``Life.due``), computed as SimPy
        computes its clock (now + delay: the same float), so that its callback need not ask
        SimPy for ``now`` (a property).
        """
        self.events += 1
        old = life.step(t)
        if old is not None:
            self._restock(life, old, t)
        t_next = life.race(self._next_session(life, t))
        if t_next < self.days:
            delay = t_next - t
            life.due = t + delay
            self.simpy_events += 1
            Timeout(self.env, delay, life).callbacks.append(self._wake)

    def _wake(self, event: simpy.Event) -> None:
        """SimPy callback: the pending wake-up of the life ``event`` carries is due."""
        life: Life = event.value  # type: ignore[assignment]  # the Life ``process`` scheduled
        self.process(life, life.due)

    def _next_session(self, life: Life, now: float) -> float:
        """Time of the next session that can change an outcome (``INF``: none); sets when
        the app hibernates before it (``Life.t_hib``)."""
        st = life.state
        stop = life.stop
        life.t_hib = INF
        if not st.installed:
            return INF
        times = self.chunk.session_t
        j = first_at(times, now, life.last_j + 1, stop)
        if not self.skip_idle:
            self._hibernation(life, j, now)
            return times[j] if j < stop else INF
        if j >= stop:
            self._hibernation(life, stop, now)
            return INF
        nc = next_chance(st, life.profile, life.stage.policy, now)
        if first_launch_dialog_due(st, life.profile):
            nc = now  # the OS asks by itself at the next launch
        j_next = first_at(times, nc, j, stop) if nc is not None else stop
        hib = life.profile.hibernation_days
        if hib is not None:
            for k in self.long_gaps.get(life.i, ()):
                if j <= k < j_next and times[k] - times[k - 1] >= hib:
                    j_next = k
                    break
        self._hibernation(life, j_next, now)
        if j_next >= stop:
            return INF
        life.cursor = j_next
        return times[j_next]

    def _hibernation(self, life: Life, j_next: int, now: float) -> None:
        """Set when the app hibernates before session ``j_next`` (``life.stop``: none
        comes): ``hibernation_days`` after the session before it. No session between is
        skipped across a gap that long (``_next_session`` stops at the first), so that
        session is the app's last use."""
        hib = life.profile.hibernation_days
        if hib is None or life.hibernating:
            return
        life.t_hib = max(self.chunk.session_t[j_next - 1] + hib, now)

    def _install(self, _event: simpy.Event | None = None) -> None:
        """SimPy callback: the next device installs the app, under every strategy at once.

        Installs are fed one at a time in time order, so the event queue only
        holds devices that are installed and have something pending. The
        install is the device's first session: its life starts with a wake-up
        of kind ``SESSION``.
        """
        i = self.install_order[self.installed]
        self.installed += 1
        profile = self.profiles[self.chunk.profile[i]]
        row = COHORT_INDEX[profile.name] * self.days
        now = self.env.now
        for stage in self.stages:
            self.process(Life(stage, i, profile, row), now)
            row += self.per_strategy
        if self.installed < len(self.install_order):
            nxt = self.chunk.install_t[self.install_order[self.installed]]
            self.simpy_events += 1
            Timeout(self.env, nxt - now).callbacks.append(self._install)

    def run(self) -> ChunkResult:
        """Simulate the chunk to the horizon and return its daily counts."""
        c = self.chunk
        self.install_order = sorted(range(c.n), key=c.install_t.__getitem__)
        self.installed = 0
        self.simpy_events += 1
        self.env.timeout(c.install_t[self.install_order[0]]).callbacks.append(self._install)
        # The model makes no reference cycles per event, but it keeps ~100k objects alive,
        # which the cyclic collector would traverse again and again: about 20% of the run.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self.env.run(until=self.days)
        finally:
            # The stages point back to the model (their port): break that cycle, or the
            # whole chunk would wait for the next full collection.
            self.stages.clear()
            if was_enabled:
                gc.enable()
        n = len(self.names)
        shape = (len(PROFILES) * n, self.days)
        flows = np.array(self.flows, dtype=np.int64).reshape(len(FLOWS), n, len(PROFILES),
                                                              self.days)
        stocks = np.cumsum(np.array(self.stock_diff, dtype=np.int64).reshape(
            len(STOCKS), *shape), axis=-1).reshape(len(STOCKS), n, len(PROFILES), self.days)
        return ChunkResult(flows=flows, stocks=stocks, events=self.events,
                           simpy_events=self.simpy_events)
