"""One device life: what happens to one install, as plain steps over plain data.

A :class:`Life` is one device of a population chunk under one strategy: its
rule state, its place in its session history, its timers and its random draws.
The SimPy engine (``sim.engine.chunk``) lives it with one pending wake-up,
skipping sessions that cannot change an outcome; the load-test device
(``sim.loadtest.device``) lives every session in compressed real time and
tells the service about it. Both call the same steps: :meth:`Life.race` names
the next wake-up (a session, or a timer: uninstall, reinstall, cleared data,
OS upgrade, opting out or turning notifications back on in settings, Android's
hibernation of an unused app, and with the app's sending (``sim.model.sending``) Chrome's
revocation of a disruptive site and WebKit's removal of a site's subscription; ties go in
the order of ``WAKES``) and
:meth:`Life.step` lives it. In a session the
first-launch OS dialog comes when due, then the triggers fire in order, each
asks for a decision, and a shown soft prompt is answered (the OS dialog or the
settings screen follows a tap, an uninstall out of annoyance may follow a
decline). :meth:`Life.account` draws the state-driven timers when the
permission changes. Every answer is a draw of the device's counter-based
streams (``sim.model.streams``): a device answers alike under every strategy
and under both drivers.

Each step counts what happened per day (``FLOWS``) and leaves the rest to the
stage's ``Port`` (``sim.model.stage``): the decision, reports of what happened
and the moments a device sends its batch. Times are days of the simulation;
the rules read :meth:`Life.now` of them (the service's clock for a device).
"""

from __future__ import annotations

import math
from typing import Final, assert_never

from sim.model import streams
from sim.model.answers import (
    annoyance_uninstall,
    decayed_fatigue,
    dialog_outcome,
    soft_prompt_accepts,
)
from sim.model.behaviour import DialogOdds
from sim.model.clock import DAY
from sim.model.population import INF, first_at
from sim.model.stage import (
    F_ACCEPT,
    F_ALLOW,
    F_ANNOY,
    F_DENY,
    F_DIALOG,
    F_DISMISS,
    F_INSTALL,
    F_OPT_OUT,
    F_REINSTALL,
    F_REMOVED,
    F_REVOKED,
    F_SETTINGS_ON,
    F_SETTINGS_OPEN,
    F_SHOWN,
    F_SUB,
    F_SUMMARY,
    F_UNINSTALL,
    F_UNSUB,
    Stage,
)
from sim.rules.config.platforms import REPORTS
from sim.rules.config.verdict import Decision, PromptUi
from sim.rules.decision import record_click, record_dismissal, record_impression, start_session
from sim.rules.native import ProfileRules
from sim.rules.permission import (
    RECEIVES_PUSH,
    DeviceState,
    adaptive_quiet_ui,
    apply_clear_data,
    apply_dialog_result,
    apply_os_upgrade,
    apply_reinstall,
    apply_review_notice,
    apply_settings_change,
    apply_uninstall,
    dialogs_left,
    first_launch_dialog_due,
    is_blocked,
    loud_chance,
    new_install,
    prompt_ui,
    review_notice_due,
)
from sim.rules.sending import (
    delivery_kind,
    permission_changed,
    record_push,
    revocation_due,
    revoke,
    silent_pushes_left,
)

QUIETER: Final = {"chrome": "chrome_quiet"}
"""The profile a Chrome install moves to once its browser's quiet UI is on."""
BROWSER_PROFILES: Final = frozenset({"chrome", "chrome_quiet"})
"""Chrome profiles whose prompt answers Chrome counts for the adaptive quiet UI (a WebAPK's
Android dialog is not Chrome's prompt)."""

# What wakes a life up, in the order that breaks a tie (a session goes first).
SESSION: Final = 0
UNINSTALL: Final = 1
REINSTALL: Final = 2
CLEAR: Final = 3
UPGRADE: Final = 4
OPT_OUT: Final = 5
REENABLE: Final = 6
HIBERNATE: Final = 7
REVOKE: Final = 8
PENALTY: Final = 9
WAKES: Final = ("session", "uninstall", "reinstall", "clear_data", "os_upgrade", "opt_out",
                "reenable", "hibernation", "disruptive_revocation", "silent_push_penalty")
"""Names of the wake-up kinds, indexed by kind."""

Status = tuple[bool, str, bool, bool, bool]
"""(installed, permission, blocked, hibernating, subscription removed): what a life's counts
of devices depend on."""
NOT_COUNTED: Final[Status] = (False, "not_determined", False, False, False)


class Life:
    """One device under one strategy: its rule state, history cursor, timers and draws."""

    __slots__ = (
        "cursor", "due", "fatigue", "fatigue_t", "hibernating", "i", "in_summary", "k", "k_send",
        "last_j", "os_version", "profile", "row", "shown_ui", "stage", "state", "status", "stop",
        "t_clear", "t_hib", "t_optout", "t_penalty", "t_re", "t_reenable", "t_revoke", "t_un",
        "t_up", "wake_kind",
    )

    def __init__(self, stage: Stage, i: int, profile: ProfileRules, row: int) -> None:
        c = stage.chunk
        self.stage, self.i, self.row = stage, i, row
        self.profile = profile
        """The device's platform profile, as the rules read it (``sim.rules.native``)."""
        self.state: DeviceState = new_install(
            self.profile, provisional=stage.policy.provisional_on_install,
            sdk_reports_permission=c.sdk_reports[i], utc_offset_minutes=c.utc_offset_minutes)
        reports = stage.reports
        self.os_version = REPORTS[self.profile.name].os_version if reports else None
        """The OS version the device reports (kept only when the life reports)."""
        self.cursor = c.start[i]
        """Index in ``chunk.session_t`` of the next session."""
        self.stop = c.reinstall_start[i]
        """End of this install's sessions."""
        self.last_j = self.cursor - 1
        """Index of the last session whose effect on the state is applied."""
        self.fatigue = self.fatigue_t = 0.0
        self.t_un, self.t_re, self.t_clear = c.uninstall_t[i], c.reinstall_t[i], c.clear_t[i]
        # An upgrade that keeps the rules (a new iOS version) changes no outcome: it is
        # only lived when it is reported.
        self.t_up = c.upgrade_t[i] if reports or self.profile.upgrade_to is not None else INF
        self.t_optout = self.t_reenable = INF
        self.t_hib = INF
        """When Android hibernates the unused app (set by the engine, which knows the
        sessions to come; the load-test device leaves it to the service)."""
        self.hibernating = False
        """Hibernated since ``t_hib`` came, until the next session: no push reaches it."""
        self.t_revoke = self.t_penalty = INF
        """With the app's sending: when Chrome's Safety Hub revokes the permission, when
        WebKit removes the subscription (``_sending``)."""
        self.k = [0] * 8
        """Draws taken so far from each stream of ``sim.model.streams``."""
        self.k_send = 0
        """Draws taken so far from ``streams.SENDING`` (not tabled)."""
        self.status: Status = NOT_COUNTED
        """As :meth:`account` last saw it."""
        self.shown_ui: PromptUi | None = None
        """Chrome: the prompt the user answered last, ``quiet`` or ``loud`` (drawn where
        Chrome draws it, :meth:`_dialog_odds`); ``None`` elsewhere."""
        self.in_summary = False
        """iOS: the last dialog answer was "Allow in Scheduled Summary"."""
        self.wake_kind = SESSION
        self.due = 0.0
        """When the pending wake-up is due (what the engine scheduled; see ``ChunkModel``)."""

    # --- time and draws ----------------------------------------------------------------

    def now(self, t: float) -> float:
        """Rule time of simulated time ``t``: ``t``, or days since 1970 on the service's clock."""
        e = self.stage.epoch
        return t if e == 0.0 else (e + t * DAY) / DAY

    def u(self, stream: int) -> float:
        """The device's next uniform of ``stream`` (see ``sim.model.streams``)."""
        k = self.k[stream]
        self.k[stream] = k + 1
        if k < streams.TABLED:
            return self.stage.uniforms[(self.i * streams.STREAMS + stream) * streams.TABLED + k]
        return streams.uniform(self.stage.chunk.key[self.i], stream, k)

    def u_send(self) -> float:
        """The device's next uniform of ``streams.SENDING``: drawn only with the app's
        sending, so a scenario without it draws the same numbers as before it."""
        k = self.k_send
        self.k_send = k + 1
        return streams.uniform(self.stage.chunk.key[self.i], streams.SENDING, k)

    def _count(self, f: int, t: float) -> None:
        s = self.stage
        s.counts[f * s.stride + self.row + int(t)] += 1

    # --- what comes next ---------------------------------------------------------------

    def next_session(self) -> float:
        """Time of the next session of the history (``INF``: none); none is skipped."""
        if self.state.installed and self.cursor < self.stop:
            return self.stage.chunk.session_t[self.cursor]
        return INF

    def race(self, t_session: float) -> float:
        """The time of the next wake-up: a session at ``t_session`` or the first timer due.

        Sets ``wake_kind``; on a tie the order of ``WAKES`` decides.
        """
        t, kind = t_session, SESSION
        if self.t_un < t:
            t, kind = self.t_un, UNINSTALL
        if self.t_re < t:
            t, kind = self.t_re, REINSTALL
        if self.t_clear < t:
            t, kind = self.t_clear, CLEAR
        if self.t_up < t:
            t, kind = self.t_up, UPGRADE
        if self.t_optout < t:
            t, kind = self.t_optout, OPT_OUT
        if self.t_reenable < t:
            t, kind = self.t_reenable, REENABLE
        if self.t_hib < t:
            t, kind = self.t_hib, HIBERNATE
        if self.t_revoke < t:
            t, kind = self.t_revoke, REVOKE
        if self.t_penalty < t:
            t, kind = self.t_penalty, PENALTY
        self.wake_kind = kind
        return t

    def over(self) -> bool:
        """Uninstalled for good: nothing this device does can be seen any more."""
        return not self.state.installed and self.t_re == INF

    # --- the steps -----------------------------------------------------------------------

    def step(self, t: float) -> Status | None:
        """Live the wake-up ``race`` named, at ``t``; the status before it, if it changed."""
        kind = self.wake_kind
        if kind != SESSION:
            if self.state.installed:
                self._catch_up(first_at(self.stage.chunk.session_t, t, self.last_j + 1,
                                           self.stop))
            if kind != REINSTALL:
                self._timer(kind, t)
                return self.account(t)
            self._reinstall(t)  # then its first session
        # The session at ``cursor``; the first of the first install is the install.
        stage = self.stage
        c = stage.chunk
        j = self.cursor
        self.cursor = j + 1
        if j == c.start[self.i]:
            stage.counts[F_INSTALL * stage.stride + self.row + int(t)] += 1
            if stage.reports:
                stage.port.report(self, "install", t, None, None)
        if j > self.last_j + 1:
            self._catch_up(j)
        self.last_j = j
        self.session(t, c.session_seconds[j], c.session_event[j])
        return self.account(t)

    def _timer(self, kind: int, t: float) -> None:
        """An uninstall, cleared data, an OS upgrade, an opt-out, a re-enabling, a
        hibernation, a revocation by Chrome or a subscription removed by WebKit."""
        if kind == UNINSTALL:
            self.t_un = INF
            self._uninstall(t)
        elif kind == CLEAR:
            self.t_clear = INF
            if self.state.installed:
                policy = self.stage.policy
                apply_clear_data(self.state, self.profile,
                                 reset_campaigns=policy.reset_on_reinstall,
                                 provisional=policy.provisional_on_install)
                if self.stage.reports:
                    self.stage.port.report(self, "data_cleared", t, None, None)
        elif kind == UPGRADE:
            self.t_up = INF
            self._upgrade(t)
        elif kind == OPT_OUT:
            self.t_optout = INF
            self._settings(t, False, F_OPT_OUT)
        elif kind == REENABLE:
            self.t_reenable = INF
            self._settings(t, True, F_SETTINGS_ON)
        elif kind == HIBERNATE:
            self.t_hib = INF
            self.hibernating = self.state.installed
        elif kind == REVOKE:
            self.t_revoke = INF
            st = self.state
            if st.installed and st.permission == "granted":
                revoke(st, self.now(t))
                self._count(F_REVOKED, t)
                if self.stage.reports:
                    self.stage.port.report(self, "permission_revoked", t, None, None)
        else:  # PENALTY: the silent push that removes the subscription
            self.t_penalty = INF
            st, plan = self.state, self.stage.sending
            if plan is not None and st.installed:
                while not st.push_unsubscribed:
                    record_push(st, plan.rules, False)
                    if self.stage.reports:
                        self.stage.port.report(self, "push_received", t, None, "silent")
                self._count(F_REMOVED, t)

    def open_app(self, t: float, upgraded: bool) -> Status | None:
        """A session outside the history (a burst of the load shape), after an OS upgrade
        if ``upgraded``; the status before it, if it changed."""
        if upgraded:
            self.t_up = INF
            self._upgrade(t)
        self.session(t, self.stage.behaviour.session_seconds_median, 0)
        return self.account(t)

    def _catch_up(self, j: int) -> None:
        """Apply what the skipped sessions before index ``j`` did: count them.

        Skipped sessions change nothing else: the engine never skips one that
        could show a prompt or end a hibernation.
        """
        skipped = j - self.last_j - 1
        if skipped > 0:
            self.state.sessions += skipped
            self.state.last_active_at = self.now(self.stage.chunk.session_t[j - 1])
            self.last_j = j - 1

    def session(self, t: float, seconds: float, events: int) -> None:
        """A session of ``seconds`` starts at ``t``; ``events``: the mask of the app events
        and triggers it fires (``Chunk.session_event``)."""
        stage, st, profile = self.stage, self.state, self.profile
        port, reports, e = stage.port, stage.reports, stage.epoch
        start_session(st, profile, t if e == 0.0 else (e + t * DAY) / DAY)
        self.hibernating = False
        if reports:
            port.report(self, "session_start", t, None, None)
            port.flush(self)
        if profile.dialog_on_first_launch and st.installed:
            self._legacy_launch(t)
        for kind, offset, bit, fired in stage.triggers:
            if not st.installed:
                return
            if bit:  # an app event or the programmatic trigger, mid-session when it has it
                if not events & bit:
                    continue
                offset = seconds / 2.0
                if reports and kind == "event":
                    port.report(self, "custom_event", t + offset / DAY, None, fired.event_name)
            elif kind == "session_time" and seconds < offset:
                continue
            tt = t + offset / DAY
            now = tt if e == 0.0 else (e + tt * DAY) / DAY
            if profile.name in QUIETER:
                profile = self.browser_quiet(tt, now)
            d = port.decide(self, fired, tt, now)
            if d is not None and d.show:
                self._impression(d, kind == "event", tt, now)
        if reports and st.installed:
            port.report(self, "session_time", t + seconds / DAY, None, seconds)

    def browser_quiet(self, t: float, now: float) -> ProfileRules:
        """Chrome's adaptive quiet UI across the sites of the user's browser (her Chrome
        installs share one): once its answers, with her denials on other sites
        (``chrome_other_site_denials_per_year``), had 3 denials in a row within 90 days by
        ``now`` (rule time; ``t``: days), the install runs on ``chrome_quiet`` from then on
        (``adaptive_quiet_ui``: it stays on). Returns the profile it runs on."""
        stage = self.stage
        c = stage.chunk
        user = c.user[self.i]
        history = stage.browsers.get(user, [])
        rate = stage.behaviour.chrome_other_site_denials_per_year
        if rate > 0.0:
            history = sorted(history + [(self.now(x), "denied")
                                        for x in self._other_sites(user, rate, t)])
        if history and adaptive_quiet_ui(history, now):  # type: ignore[arg-type]
            self.profile = stage.profiles[QUIETER[self.profile.name]]
        return self.profile

    def _other_sites(self, user: int, rate: float, t: float) -> list[float]:
        """The user's denials on other sites up to ``t`` (days), a Poisson process of
        ``rate`` a year drawn from her first device's stream ``OTHER_SITES`` (so alike
        under every strategy and for both her devices)."""
        c = self.stage.chunk
        drawn = self.stage.other_sites.setdefault(user, [])
        first = self.i
        while first > 0 and c.user[first - 1] == user:  # a user's devices are consecutive
            first -= 1
        per_day = rate / 365.0
        while not drawn or drawn[-1] <= t:
            u = streams.uniform(c.key[first], streams.OTHER_SITES, len(drawn))
            drawn.append((drawn[-1] if drawn else 0.0) - math.log(1.0 - u) / per_day)
        return [x for x in drawn if x <= t]

    def _legacy_launch(self, t: float) -> None:
        """An app targeting <= 32 on Android 13+ starts, while the OS may still show it its
        dialog: from the launcher or not (``Behaviour.legacy_launcher_share``), and it
        creates its notification channel in its first session (assumption). The OS asks by
        itself once both hold (``first_launch_dialog_due``); the keyguard is taken as
        unlocked (assumption). Once no dialog can come, where a launch came from changes
        nothing: it is neither drawn nor logged (so no driver's skipped sessions shift a
        draw)."""
        stage, st = self.stage, self.state
        if not first_launch_dialog_due(st, self.profile):
            return
        port, reports = stage.port, stage.reports
        share = stage.behaviour.legacy_launcher_share
        launcher = share >= 1.0 or self.u(streams.OS) < share
        if reports:
            port.report(self, "app_launched", t, None, "launcher" if launcher else "other")
        if not st.channel_created:
            st.channel_created = True
            if reports:
                port.report(self, "notification_channel_created", t, None, None)
        if first_launch_dialog_due(st, self.profile, from_launcher=launcher):
            self._cold_dialog(t, None)
            if reports:
                port.flush(self)

    def _impression(self, d: Decision, context: bool, t: float, now: float) -> None:
        """The campaign ``d`` names is shown at ``t`` (rule time ``now``); the user answers."""
        stage, st, port = self.stage, self.state, self.stage.port
        cid: str = d.campaign_id  # type: ignore[assignment]
        record_impression(st, cid, now)
        camp = stage.campaigns.get(cid)
        if camp is not None and not camp.primer:  # the app opens the OS dialog directly
            self._cold_dialog(t, cid)
            if stage.reports:
                port.flush(self)
            return
        counts, stride, day = stage.counts, stage.stride, self.row + int(t)
        counts[F_SHOWN * stride + day] += 1
        b = stage.behaviour
        fatigue = decayed_fatigue(self.fatigue, now - self.fatigue_t, b)
        self.fatigue, self.fatigue_t = fatigue + 1.0, now
        if stage.reports:
            port.report(self, "soft_prompt_shown", t, cid, None)
        if soft_prompt_accepts(self.u(streams.SOFT_PROMPT), stage.chunk.receptiveness[self.i],
                               fatigue, context, b):
            record_click(st, cid)
            counts[F_ACCEPT * stride + day] += 1
            if stage.reports:
                port.report(self, "soft_prompt_clicked", t, cid, None)
            if d.action == "os_dialog":
                primed = self._dialog_odds(b.dialog_primed)
                if primed is not None:
                    outcome = dialog_outcome(self.u(streams.DIALOG), primed)
                    if self._dialog_shows(t):
                        self._dialog_answered(t, now, outcome, None)
            elif d.action in ("open_settings", "instructions"):
                counts[F_SETTINGS_OPEN * stride + day] += 1
                done = b.settings_completion if d.action == "open_settings" \
                    else b.instructions_completion
                if self.u(streams.SETTINGS) < done:
                    self._settings(t, True, F_SETTINGS_ON)
        else:
            record_dismissal(st, cid, now)
            counts[F_DISMISS * stride + day] += 1
            if stage.reports:
                port.report(self, "soft_prompt_dismissed", t, cid, None)
            shown_before = st.campaigns[cid].shown - 1
            if annoyance_uninstall(self.u(streams.ANNOYANCE), shown_before, b):
                self.t_un = self.t_re = self.t_clear = self.t_up = INF
                counts[F_ANNOY * stride + day] += 1
                self._uninstall(t)
        if stage.reports:
            port.flush(self)

    def _dialog_shows(self, t: float) -> bool:
        """Whether the OS shows its dialog now (``dialogs_left``); a decision that offered
        one the platform no longer shows broke the rules: it is reported."""
        if dialogs_left(self.state, self.profile) == 0:
            if self.stage.reports:
                self.stage.port.report(self, "dialog_refused", t, None, None)
            return False
        return True

    def _dialog_odds(self, table: dict[str, DialogOdds]) -> DialogOdds | None:
        """The answer odds of the OS dialog about to open, from ``table`` (cold or primed);
        on Chrome those of the prompt it opens (``shown_ui``): the quiet one's
        (``chrome_quiet``) where the site's reputation makes it quiet, unless Chrome's
        control group draw (``loud_chance``, stream ``OS``) opens the loud one."""
        p = self.profile
        rep = self.stage.policy.site_reputation
        ui: PromptUi | None = prompt_ui(p, rep)
        chance = loud_chance(p, rep)
        if chance > 0.0 and self.u(streams.OS) < chance:
            ui = "loud"
        self.shown_ui = ui
        name = "chrome_quiet" if ui == "quiet" and not p.quiet_ui else p.name
        return table.get(name)

    def _cold_dialog(self, t: float, campaign_id: str | None) -> None:
        """An OS dialog without a soft prompt: the OS's own, or a campaign's without primer."""
        odds = self._dialog_odds(self.stage.behaviour.dialog_cold)
        if odds is not None and self._dialog_shows(t):
            outcome = dialog_outcome(self.u(streams.DIALOG), odds)
            self._dialog_answered(t, self.now(t), outcome, campaign_id)

    def _dialog_answered(self, t: float, now: float, outcome: str,
                         campaign_id: str | None) -> None:
        before = self.state.permission
        was_provisional = before == "provisional"
        apply_dialog_result(self.state, self.profile, outcome, now,  # type: ignore[arg-type]
                            self.shown_ui)
        self._user_changed(before, now)
        stage = self.stage
        counts, stride, day = stage.counts, stage.stride, self.row + int(t)
        if was_provisional and self.state.permission == "denied":
            counts[F_UNSUB * stride + day] += 1  # the user turned quiet delivery off
        counts[F_DIALOG * stride + day] += 1
        if outcome in ("allowed", "denied") and self.shown_ui is not None \
                and self.profile.name in BROWSER_PROFILES:  # Chrome counts it for the browser
            stage.browsers.setdefault(stage.chunk.user[self.i], []).append((now, outcome))
        self.in_summary = False
        if outcome == "allowed":
            counts[F_ALLOW * stride + day] += 1
            summary = stage.behaviour.scheduled_summary
            if summary > 0.0 and self.profile.platform == "ios" \
                    and self.u(streams.OS) < summary:
                counts[F_SUMMARY * stride + day] += 1  # authorized; delivered in the summary
                self.in_summary = True
        elif outcome == "denied":
            counts[F_DENY * stride + day] += 1
        if stage.reports:
            stage.port.report(self, "os_dialog_result", t, campaign_id, outcome)

    def _settings(self, t: float, enabled: bool, f: int) -> None:
        """Notifications turned on (or off) in the system settings: turning them off is what
        MoEngage tracks as "Unsubscribed from Push" (a user who directly unsubscribes)."""
        st = self.state
        if not enabled and st.installed and st.permission in RECEIVES_PUSH:
            self._count(F_UNSUB, t)
        before = st.permission
        apply_settings_change(st, self.profile, enabled)
        self._user_changed(before, self.now(t))
        self._count(f, t)
        if self.stage.reports:
            self.stage.port.report(self, "permission_changed", t, None,
                                   "granted" if enabled else "denied")

    def _user_changed(self, before: str, now: float) -> None:
        """The user's answer or setting changed the permission from ``before``: Chrome's
        Safety Hub keeps a re-granted site immune, else forgets its entries
        (``permission_changed``; an answer that changes nothing, a dismissal, is no
        change)."""
        plan, st = self.stage.sending, self.state
        if plan is not None and st.permission != before \
                and delivery_kind(self.profile) == "chrome_revocation":
            permission_changed(st, plan.rules, now)

    def _uninstall(self, t: float) -> None:
        apply_uninstall(self.state, self.now(t))
        self.cursor = self.stop
        self._count(F_UNINSTALL, t)
        if self.stage.reports:
            self.stage.port.report(self, "uninstalled", t, None, None)

    def _reinstall(self, t: float) -> None:
        """The app is installed again: the second install's history starts (the caller
        lives its first session)."""
        c, i = self.stage.chunk, self.i
        self.t_re, self.t_un = INF, c.uninstall2_t[i]
        self.cursor = c.reinstall_start[i]
        self.last_j = self.cursor - 1
        self.stop = c.end[i]
        policy = self.stage.policy
        apply_reinstall(self.state, self.profile, self.now(t),
                        reset_campaigns=policy.reset_on_reinstall,
                        provisional=policy.provisional_on_install)
        self._count(F_REINSTALL, t)
        if self.stage.reports:
            self.stage.port.report(self, "reinstalled", t, None, None)

    def _upgrade(self, t: float) -> None:
        """The next OS version: the profile's ``upgrade_to``, else one major version up with
        the same rules (a browser has no version: it updates itself)."""
        old, stage = self.profile, self.stage
        new = stage.profiles[old.upgrade_to] if old.upgrade_to is not None else old
        apply_os_upgrade(self.state, old, new, self.now(t))
        self.profile = new
        if stage.reports:
            if new is not old:
                self.os_version = REPORTS[new.name].os_version
            elif self.os_version is not None:
                self.os_version += 1.0
            stage.port.report(self, "os_upgraded", t, None, self.os_version)
        self._review_notice(t)

    def _review_notice(self, t: float) -> None:
        """Android 12 -> 13 with a pre-grant: the "review notification permissions" notice,
        answered at once (assumption): the app's notifications turned off with chance
        ``Behaviour.review_notice_revoke`` (default 0: no draw, no answer), else kept."""
        st, stage = self.state, self.stage
        share = stage.behaviour.review_notice_revoke
        now = self.now(t)
        if share <= 0.0 or not review_notice_due(st, now):
            return
        off = self.u(streams.OS) < share
        if off and st.permission in RECEIVES_PUSH:
            self._count(F_UNSUB, t)
            self._count(F_OPT_OUT, t)
        apply_review_notice(st, self.profile, "turned_off" if off else "kept", now)
        if stage.reports:
            stage.port.report(self, "review_notice", t, None, "turned_off" if off else "kept")

    # --- what the state's changes set off ------------------------------------------------

    def _sending(self, t: float, opted: bool) -> None:
        """The device opted in (or stopped being opted in) at ``t`` under the app's
        sending: draw whether and when the volume makes the user turn notifications off
        (``SendingPlan.extra_opt_out``), and when its browser takes delivery or permission
        away, the pushes arriving at a steady rate (Chrome: the daily run that revokes, from
        the notifications shown; WebKit: the silent push that removes the subscription, the
        silent pushes a Poisson stream). Leaving the opted-in state cancels both; the
        silent pushes it had received by then are not counted (the count keeps its last
        value, an approximation)."""
        self.t_revoke = self.t_penalty = INF
        if not opted:
            return
        stage, st = self.stage, self.state
        plan = stage.sending
        assert plan is not None
        seg = stage.chunk.segment[self.i]
        extra = plan.extra_opt_out[seg]
        if extra > 0.0 and self.u_send() < extra:
            t_vol = t - math.log(1.0 - self.u_send()) * plan.delay_days
            if t_vol < self.t_optout:
                self.t_optout = t_vol
        kind = delivery_kind(self.profile)
        match kind:
            case "chrome_revocation":
                now = self.now(t)
                due = revocation_due(st, plan.rules, now, plan.shown_per_day[seg],
                                     plan.engagement[seg], INF)
                self.t_revoke = t + (due - now)
            case "webkit_penalty":
                rate = plan.silent_per_day[seg]
                left = silent_pushes_left(st, plan.rules)
                if rate > 0.0 and left > 0 and not plan.declarative[seg]:
                    wait = 0.0
                    for _ in range(left):
                        wait -= math.log(1.0 - self.u_send())
                    self.t_penalty = t + wait / rate
            case "none":
                pass
            case _:
                assert_never(kind)

    def account(self, t: float) -> Status | None:
        """After a step at ``t``: the state-driven timers and the subscription counts.

        Opting in starts the opt-out timer (a yearly hazard, ``Behaviour.opt_out_rate``);
        a denial may start a spontaneous re-enabling. Returns the status before, if
        it changed (the engine's daily stocks follow it), else ``None``. "Subscribed"
        counts a device starting to receive pushes; "Unsubscribed" is counted where a
        user turns notifications off (``_settings``, ``_dialog_answered``), not here: an
        uninstall, a hibernation or cleared data is no unsubscription.
        """
        st, profile = self.state, self.profile
        inst, perm = st.installed, st.permission
        blocked = inst and is_blocked(st, profile)
        status = (inst, perm, blocked, inst and self.hibernating, inst and st.push_unsubscribed)
        old = self.status
        if status == old:
            return None
        self.status = status
        was_inst, was_perm, _, _, _ = old
        opted, was_opted = inst and perm == "granted", was_inst and was_perm == "granted"
        stage = self.stage
        if opted != was_opted:
            if opted and stage.opt_out_rate:
                e = -math.log(1.0 - self.u(streams.OPT_OUT))
                self.t_optout = t + e / stage.opt_out_rate
            else:
                self.t_optout = INF
            if stage.sending is not None:
                self._sending(t, opted)
        receives = opted or (inst and perm == "provisional")
        received = was_opted or (was_inst and was_perm == "provisional")
        if receives and not received:
            stage.counts[F_SUB * stage.stride + self.row + int(t)] += 1
        denied, was_denied = inst and perm == "denied", was_inst and was_perm == "denied"
        if denied != was_denied:
            self.t_reenable = INF
            b = stage.behaviour
            if denied and self.u(streams.REENABLE) < b.spontaneous_reenable:
                u = self.u(streams.REENABLE_DELAY)
                self.t_reenable = t - math.log(1.0 - u) * b.reenable_delay_mean_days
        return old
