"""Invariants of the rules over random device histories (hypothesis).

For every default profile, hypothesis draws a policy (random campaigns with ``once`` /
``every_time`` / ``multiple`` / ``backoff`` / ``gap_list``, random triggers, caps and
delays) and a random life of one install: sessions, triggers, soft-prompt responses,
OS-dialog answers, settings toggles, uninstall / reinstall, cleared data, OS upgrades along
``upgrade_to``, app updates, and time passing.

The test keeps its own record of what happened (impressions, dismissals,
dialog answers since the last reset) and checks each answer of the rules
against it, so the invariants do not trust the counters they are checking:

- an install never gets more OS-dialog denials than its platform allows, iOS and
  HarmonyOS NEXT never more than one answered dialog, and ``dialogs_left`` is
  never negative;
- no soft prompt is shown to a device whose permission is granted;
- ``decide`` never shows a campaign within its gap, delay, caps or limit;
- when the button's action is ``os_dialog``, the OS dialog is really available.

A second, lighter property drives only sessions, triggers and dismissals, so
many more histories exercise the frequency rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings, target
from hypothesis import strategies as st

from sim.rules.config.campaigns import (
    MIN_GAP_DAYS,
    TIME_EPS,
    Action,
    AppOpen,
    Backoff,
    Campaign,
    Caps,
    GapList,
    Multiple,
    Once,
    OnEvent,
    Policy,
    Programmatic,
    SessionTime,
    TriggerFired,
    backoff,
    every_time,
    gap_list,
    multiple,
    once,
)
from sim.rules.config.platforms import DEFAULT_PROFILES, override_profiles
from sim.rules.config.verdict import Decision
from sim.rules.decision import (
    decide,
    record_click,
    record_dismissal,
    record_impression,
    start_session,
)
from sim.rules.native import PolicyRules, ProfileRules
from sim.rules.permission import (
    DIALOG_OUTCOMES,
    DeviceState,
    DialogOutcome,
    apply_app_update,
    apply_clear_data,
    apply_dialog_result,
    apply_os_upgrade,
    apply_reinstall,
    apply_settings_change,
    apply_uninstall,
    dialogs_left,
    first_launch_dialog_due,
    new_install,
    os_dialog_unavailable,
)

PROFILE_NAMES = sorted(DEFAULT_PROFILES)
ONE_DIALOG_PER_INSTALL = ("ios", "harmony_next")
"""Platforms whose OS dialog, once answered, is never shown again on that install."""
APP_UPDATE_TO = {"android13_legacy": "android13"}
"""An app update raises the target to 33+; elsewhere it leaves the rules as they are."""
EVENTS = ("order_placed", "level_up")
SECONDS = 1.0 / 86400.0

# --- strategies -----------------------------------------------------------------------

frequencies = st.one_of(
    st.builds(once),
    st.builds(every_time),
    st.builds(multiple, limit=st.integers(1, 4),
              gap_days=st.sampled_from([MIN_GAP_DAYS, 0.5, 1.0, 3.0])),
    st.builds(backoff, gap_days=st.sampled_from([0.25, 1.0, 2.0]),
              factor=st.sampled_from([1.0, 2.0, 3.0]), limit=st.none() | st.integers(1, 4)),
    st.builds(gap_list, st.lists(st.sampled_from([0.5, 1.0, 3.0]), min_size=1, max_size=3)),
)
triggers = st.one_of(
    st.builds(AppOpen),
    st.builds(SessionTime, seconds=st.sampled_from([0.0, 30.0, 120.0])),
    st.builds(OnEvent, name=st.sampled_from(EVENTS)),
    st.builds(Programmatic),
)
any_fired = st.one_of(
    st.just(TriggerFired(trigger="app_open")),
    st.builds(TriggerFired, trigger=st.just("session_time"),
              session_seconds=st.sampled_from([10.0, 30.0, 60.0, 300.0])),
    st.builds(TriggerFired, trigger=st.just("event"),
              event_name=st.sampled_from([*EVENTS, "other_event"])),
    st.just(TriggerFired(trigger="programmatic")),
)


def fired_for(policy: Policy) -> st.SearchStrategy[TriggerFired]:
    """Mostly what one of the policy's campaigns listens to (so decisions are interesting)."""
    def matching(camp: Campaign) -> TriggerFired:
        t = camp.trigger
        if isinstance(t, SessionTime):
            return TriggerFired(trigger="session_time", session_seconds=t.seconds + 5.0)
        if isinstance(t, OnEvent):
            return TriggerFired(trigger="event", event_name=t.name)
        return TriggerFired(trigger="programmatic" if isinstance(t, Programmatic) else "app_open")
    return st.sampled_from(policy.campaigns).map(matching) | any_fired


caps = st.just(Caps()) | st.builds(
    Caps, per_session=st.none() | st.integers(1, 2), per_day=st.none() | st.integers(1, 2),
    total=st.none() | st.integers(1, 5))


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """One to three campaigns; the first is always a push-permission prompt."""
    campaigns = []
    for i in range(draw(st.integers(1, 3))):
        action: Action = "push_permission_prompt" if i == 0 else draw(
            st.sampled_from(["push_permission_prompt", "open_settings", "message"]))
        campaigns.append(Campaign(
            id=f"c{i}", trigger=draw(st.builds(AppOpen) | triggers),
            frequency=draw(frequencies), action=action, priority=draw(st.integers(0, 2)),
            min_delay_days=draw(st.sampled_from([0.0, 0.0, 0.5, 2.0])), caps=draw(caps),
            min_sessions=draw(st.sampled_from([1, 1, 2, 3])),
            fallback_to_settings=draw(st.booleans()),
            primer=draw(st.booleans()),
        ))
    return Policy(
        campaigns=tuple(campaigns),
        min_spacing_seconds=draw(st.sampled_from([0.0, 0.0, 30.0, 3600.0])),
        permission_first=draw(st.booleans()),
        provisional_on_install=draw(st.booleans()),
        reset_on_reinstall=draw(st.booleans()),
        site_reputation=draw(st.sampled_from(["none", "crowd_deny", "abusive_prompts"])),
    )


disputed_settings: st.SearchStrategy[dict[str, object]] = st.fixed_dictionaries({
    "dismiss_counts_as_denial": st.booleans(),
    "reinstall_reset_delay_days": st.sampled_from([0.0, 1.0]),
})
"""The profile fields where sources disagree, drawn at random for the starting profile."""


CORE_STEPS = ["session", "trigger", "wait"]
LIFE_STEPS = ["settings", "uninstall", "clear_data", "os_upgrade", "app_update"]
STEPS_UNINSTALLED = ["wait", "reinstall"]
RESPONSES = ["click", "dismiss", "none"]
WAITS = [10 * SECONDS, 20 * SECONDS, 40 * SECONDS, 2400 * SECONDS, 0.1, 0.3, 0.5, 1.0, 2.0,
         7.0, 30.0, 95.0]


# --- the test's own record ------------------------------------------------------------

@dataclass
class Record:
    """What the test remembers itself, to check the rules against."""

    shows: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    """Impression (time, session) per campaign since the counters were last reset."""
    dismissals: dict[str, int] = field(default_factory=dict)
    dismissed_at: dict[str, float] = field(default_factory=dict)
    last_in_app: float | None = None
    sessions: int = 0
    answered: int = 0
    """Answered OS dialogs since the permission was last reset."""
    denials: int = 0
    """OS-dialog denials since the permission was last reset or unlocked."""
    first_launch_dialogs: int = 0
    """Dialogs the OS showed by itself (target <= 32) since the permission was last reset."""
    peak_answered: int = 0
    peak_denials: int = 0
    uninstalled_at: float | None = None

    def reset_permission(self) -> None:
        self.answered = self.denials = self.first_launch_dialogs = 0

    def reset_counters(self) -> None:
        self.shows, self.dismissals, self.dismissed_at = {}, {}, {}
        self.last_in_app, self.sessions = None, 0

    def check_and_record_impression(self, camp: Campaign, policy: Policy, state: DeviceState,
                                    now: float) -> None:
        """Assert the campaign may show now (frequency, delay, caps, min sessions, spacing),
        judged from this record alone; then record the impression here and in ``state``."""
        shows = self.shows.setdefault(camp.id, [])
        n = len(shows)
        since = now - shows[-1][0] if shows else None
        f = camp.frequency
        if isinstance(f, Once):
            assert n == 0, "once shown twice"
        elif isinstance(f, Multiple):
            assert n < f.limit, "multiple over its limit"
            assert since is None or since >= f.gap_days - TIME_EPS, "multiple within its gap"
        elif isinstance(f, Backoff):
            assert f.limit is None or n < f.limit, "backoff over its limit"
            gap = f.gap_days * f.factor ** self.dismissals.get(camp.id, 0)
            assert since is None or since >= gap - TIME_EPS, "backoff within its gap"
        elif isinstance(f, GapList):
            k = self.dismissals.get(camp.id, 0)
            if k:
                wait = f.gaps[min(k, len(f.gaps)) - 1]
                assert now - self.dismissed_at[camp.id] >= wait - TIME_EPS, \
                    "gap_list within the gap after its last dismissal"
        assert since is None or since >= camp.min_delay_days - TIME_EPS, "within min_delay_days"
        assert camp.caps.total is None or n < camp.caps.total, "over the total cap"
        assert camp.caps.per_day is None or sum(
            int(t) == int(now) for t, _ in shows) < camp.caps.per_day, "over the daily cap"
        assert camp.caps.per_session is None or sum(
            s == self.sessions for _, s in shows) < camp.caps.per_session, "over the session cap"
        assert self.sessions >= camp.min_sessions, "before min_sessions"
        assert self.last_in_app is None or (
            now - self.last_in_app >= policy.min_spacing_seconds / 86400 - TIME_EPS), \
            "within spacing"
        shows.append((now, self.sessions))
        self.last_in_app = now
        record_impression(state, camp.id, now)

    def answer_dialog(self, state: DeviceState, profile: ProfileRules,
                      outcome: DialogOutcome, now: float) -> None:
        """Apply an OS-dialog answer and assert the install stays within its platform's limit:
        at most ``max_denials`` denials, one answered dialog on iOS and HarmonyOS NEXT."""
        apply_dialog_result(state, profile, outcome, now)
        # Without a "Not now" button (Firefox) a dismissal is an ignore, never a denial.
        as_denial = outcome == "denied" or (
            outcome == "dismissed" and profile.not_now_button
            and profile.dismiss_counts_as_denial)
        self.answered += as_denial or outcome == "allowed"
        self.denials += as_denial
        self.peak_answered = max(self.peak_answered, self.answered)
        self.peak_denials = max(self.peak_denials, self.denials)
        assert self.denials <= profile.max_denials, "more denials than the platform allows"
        if profile.name in ONE_DIALOG_PER_INSTALL:
            assert self.answered <= 1, "a second answered dialog on a one-dialog platform"

    def dismiss(self, state: DeviceState, campaign_id: str, now: float) -> None:
        self.dismissals[campaign_id] = self.dismissals.get(campaign_id, 0) + 1
        self.dismissed_at[campaign_id] = now
        record_dismissal(state, campaign_id, now)


# --- the properties ---------------------------------------------------------------------

@pytest.mark.parametrize("name", PROFILE_NAMES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_rules_hold_over_random_device_histories(name: str, data: st.DataObject) -> None:
    """Over any history of an install: OS dialogs within the platform limit, no soft prompt to
    an opted-in device, no impression inside a gap or over a limit, and ``os_dialog`` only
    when the OS dialog is available."""
    disputed = data.draw(disputed_settings, label="disputed settings")
    profiles = {n: ProfileRules(p)
                for n, p in override_profiles(DEFAULT_PROFILES, {name: disputed}).items()}
    policy = data.draw(policies(), label="policy")
    state = new_install(profiles[name], provisional=policy.provisional_on_install)
    rec = Record()
    now = 0.0
    # Swarm testing: each history uses a random subset of life events, dialog answers and
    # prompt responses, so rare combinations (an app update after a denial) come up often.
    life = data.draw(st.lists(st.sampled_from(LIFE_STEPS), unique=True), label="life events")
    steps = st.sampled_from(CORE_STEPS * 2 + life)
    answers = st.sampled_from(data.draw(
        st.lists(st.sampled_from(DIALOG_OUTCOMES), min_size=1, unique=True), label="answers"))
    responses = st.sampled_from(data.draw(
        st.lists(st.sampled_from(RESPONSES), min_size=1, unique=True), label="responses"))
    fired = fired_for(policy)

    def profile() -> ProfileRules:
        return profiles[state.profile]

    def os_dialog(outcome: DialogOutcome) -> None:
        rec.answer_dialog(state, profile(), outcome, now)

    def respond(trigger: TriggerFired) -> None:
        p = profile()
        was_granted = state.permission == "granted"
        d: Decision = decide(state, p, PolicyRules(policy), trigger, now)
        if d.show:
            assert not was_granted, "soft prompt shown to an opted-in device"
        if d.action == "os_dialog":
            assert os_dialog_unavailable(state, p, now) is None
            assert dialogs_left(state, p) != 0
        if not (d.show or d.reason == "outranked"):
            return
        assert d.campaign_id is not None
        camp = policy.campaign(d.campaign_id)
        assert camp is not None
        rec.check_and_record_impression(camp, policy, state, now)
        if not d.show:  # another in-app message won the slot
            return
        if d.action == "os_dialog" and not camp.primer:
            os_dialog(data.draw(answers, label="cold dialog"))
            return
        response = data.draw(responses, label="response")
        if response == "dismiss":
            rec.dismiss(state, camp.id, now)
        elif response == "click":
            record_click(state, camp.id)
            if d.action == "os_dialog":
                os_dialog(data.draw(answers, label="primed dialog"))
            elif data.draw(st.booleans(), label="enables in settings"):
                apply_settings_change(state, p, enabled=True)

    for _ in range(data.draw(st.integers(0, 40), label="steps")):
        step = data.draw(steps if state.installed else st.sampled_from(STEPS_UNINSTALLED),
                         label="step")
        p = profile()
        if step == "wait":
            now += data.draw(st.sampled_from(WAITS), label="wait")
        elif step == "reinstall":
            assert rec.uninstalled_at is not None
            resets = p.reinstall_resets and now - rec.uninstalled_at >= \
                p.reinstall_reset_delay_days
            apply_reinstall(state, p, now, reset_campaigns=policy.reset_on_reinstall)
            if resets:
                rec.reset_permission()
                if policy.reset_on_reinstall:
                    rec.reset_counters()
        elif step == "session":
            start_session(state, p, now)  # a hibernation ends; the permission stays
            rec.sessions += 1
            if first_launch_dialog_due(state, p):
                rec.first_launch_dialogs += 1
                assert rec.first_launch_dialogs == 1, "the OS asked by itself twice"
                os_dialog(data.draw(answers, label="first launch"))
            respond(TriggerFired(trigger="app_open"))
        elif step == "trigger" and rec.sessions > 0:
            respond(data.draw(fired, label="fired"))
        elif step == "settings":
            apply_settings_change(state, p, enabled=data.draw(st.booleans(), label="on"))
        elif step == "uninstall":
            apply_uninstall(state, now)
            rec.uninstalled_at = now
        elif step == "clear_data":
            apply_clear_data(state, p, reset_campaigns=policy.reset_on_reinstall)
            if p.clear_data_resets:
                rec.reset_permission()
                if policy.reset_on_reinstall:
                    rec.reset_counters()
        elif step == "os_upgrade" and p.upgrade_to is not None:
            apply_os_upgrade(state, p, profiles[p.upgrade_to])
        elif step == "app_update":
            new = profiles[APP_UPDATE_TO.get(p.name, p.name)]
            apply_app_update(state, p, new)
            if new.app_can_request and not p.app_can_request:  # the target <= 32 lock ends
                rec.reset_permission()

        p = profile()
        left = dialogs_left(state, p)
        assert left is None or left >= 0, "dialogs_left negative"
        assert state.denials <= p.max_denials, "denial counter over the platform limit"

    # Steer the search towards installs that answer many dialogs, where the limits bite.
    target(float(rec.peak_denials), label="denials in one install")
    target(float(rec.peak_answered), label="answered dialogs in one install")


ASKING_PROFILES = sorted(n for n, p in DEFAULT_PROFILES.items() if p.os_dialog)


@settings(max_examples=250, deadline=None)
@given(name=st.sampled_from(ASKING_PROFILES), policy=policies(), data=st.data())
def test_decide_never_shows_inside_a_gap_or_over_a_limit(name: str, policy: Policy,
                                                        data: st.DataObject) -> None:
    """Over any sequence of sessions, triggers, dismissals and waits, ``decide`` never shows a
    campaign within its gap, delay or spacing, before its session, nor past its limit or caps.

    The device never answers the OS dialog, so every step is a decision."""
    profile = ProfileRules(DEFAULT_PROFILES[name])
    state = new_install(profile, provisional=policy.provisional_on_install)
    rec = Record()
    now = 0.0
    fired = fired_for(policy)
    for _ in range(data.draw(st.integers(1, 40), label="steps")):
        now += data.draw(st.sampled_from(WAITS), label="wait")
        if rec.sessions == 0 or data.draw(st.booleans(), label="new session"):
            start_session(state, profile, now)
            rec.sessions += 1
            trigger = TriggerFired(trigger="app_open")
        else:
            trigger = data.draw(fired, label="fired")
        d = decide(state, profile, PolicyRules(policy), trigger, now)
        if d.show or d.reason == "outranked":
            assert d.campaign_id is not None
            camp = policy.campaign(d.campaign_id)
            assert camp is not None
            rec.check_and_record_impression(camp, policy, state, now)
            if d.show and data.draw(st.booleans(), label="dismissed"):
                rec.dismiss(state, camp.id, now)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(ASKING_PROFILES), disputed=disputed_settings, data=st.data())
def test_os_dialogs_never_exceed_the_platform_limit(name: str, disputed: dict[str, object],
                                                   data: st.DataObject) -> None:
    """Asking whenever the rules allow, through any settings toggles, reinstalls, cleared data,
    OS upgrades, app updates and hibernation, an install never gets more denials than its
    platform allows, nor a second answered dialog on iOS or HarmonyOS NEXT, nor a second
    dialog the OS shows by itself (Android 13, target <= 32).

    Only the permission state machine runs here (the button asks as soon as the OS dialog is
    available), so every history is dense in dialogs."""
    profiles = {n: ProfileRules(p)
                for n, p in override_profiles(DEFAULT_PROFILES, {name: disputed}).items()}
    state = new_install(profiles[name])
    rec = Record()
    now = 0.0
    answers = st.sampled_from(DIALOG_OUTCOMES)
    for _ in range(data.draw(st.integers(1, 40), label="steps")):
        p = profiles[state.profile]
        step = data.draw(st.sampled_from(
            ["ask", "ask", "wait", *LIFE_STEPS] if state.installed else STEPS_UNINSTALLED),
            label="step")
        if step == "wait":
            now += data.draw(st.sampled_from(WAITS), label="wait")
        elif step == "ask":
            if start_session(state, p, now):
                rec.reset_permission()
            if first_launch_dialog_due(state, p):
                rec.first_launch_dialogs += 1
                assert rec.first_launch_dialogs == 1, "the OS asked by itself twice"
                rec.answer_dialog(state, p, data.draw(answers, label="first launch"), now)
            elif state.permission != "granted" and os_dialog_unavailable(state, p, now) is None:
                rec.answer_dialog(state, p, data.draw(answers, label="answer"), now)
        elif step == "reinstall":
            assert rec.uninstalled_at is not None
            if p.reinstall_resets and now - rec.uninstalled_at >= p.reinstall_reset_delay_days:
                rec.reset_permission()
            apply_reinstall(state, p, now)
        elif step == "settings":
            apply_settings_change(state, p, enabled=data.draw(st.booleans(), label="on"))
        elif step == "uninstall":
            apply_uninstall(state, now)
            rec.uninstalled_at = now
        elif step == "clear_data":
            apply_clear_data(state, p)
            if p.clear_data_resets:
                rec.reset_permission()
        elif step == "os_upgrade" and p.upgrade_to is not None:
            apply_os_upgrade(state, p, profiles[p.upgrade_to])
        elif step == "app_update":
            new = profiles[APP_UPDATE_TO.get(p.name, p.name)]
            apply_app_update(state, p, new)
            if new.app_can_request and not p.app_can_request:
                rec.reset_permission()
        left = dialogs_left(state, profiles[state.profile])
        assert left is None or left >= 0, "dialogs_left negative"
