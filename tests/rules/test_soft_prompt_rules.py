"""docs/platform-rules.md section 2: the soft prompt (audience, triggers, frequency, caps,
priority).

Every test is a short session log of one install: sessions start, triggers fire,
``decide`` answers, and impressions are recorded as the simulator would.
"""

from __future__ import annotations

import msgspec
import pytest

from sim.rules.config.campaigns import (
    AppOpen,
    Audience,
    Campaign,
    Caps,
    OnEvent,
    Policy,
    Programmatic,
    SessionTime,
    Trigger,
    TriggerFired,
    backoff,
    every_time,
    multiple,
    once,
)
from sim.rules.config.platforms import DEFAULT_PROFILES
from sim.rules.config.verdict import Decision
from sim.rules.decision import (
    decide,
    next_chance,
    record_click,
    record_dismissal,
    record_impression,
    start_session,
)
from sim.rules.native import PolicyRules, ProfileRules
from sim.rules.permission import DeviceState, apply_dialog_result, new_install

P = {n: ProfileRules(p) for n, p in DEFAULT_PROFILES.items()}
ANDROID = P["android13"]


def seconds(n: float) -> float:
    """``n`` seconds in days, the way the service converts (seconds / 86,400)."""
    return n / 86400.0

APP_OPEN = TriggerFired(trigger="app_open")


def device(profile: ProfileRules = ANDROID, **kw: bool) -> DeviceState:
    """A fresh install in its first session, at t = 0."""
    state = new_install(profile, **kw)
    start_session(state, profile, 0.0)
    return state


def ask(state: DeviceState, policy: PolicyRules, now: float, fired: TriggerFired = APP_OPEN,
        profile: ProfileRules = ANDROID) -> Decision:
    """``decide``, and record the impression when something shows."""
    d = decide(state, profile, policy, fired, now)
    if d.show:
        assert d.campaign_id is not None
        record_impression(state, d.campaign_id, now)
    return d


def shown_at(policy: PolicyRules, times: list[float], fired: TriggerFired = APP_OPEN,
             new_session_each_time: bool = True) -> list[tuple[float, str]]:
    """Ask at each time and return (time, reason): the story of one install."""
    state = device()
    log = []
    for t in times:
        if new_session_each_time and t > 0:
            start_session(state, ANDROID, t)
        log.append((t, ask(state, policy, t, fired).reason))
    return log


def one(campaign: Campaign) -> PolicyRules:
    """A policy with a single campaign."""
    return PolicyRules(Policy(campaigns=(campaign,)))


# --- audience -----------------------------------------------------------------------

def test_a_device_that_allowed_never_sees_the_soft_prompt() -> None:
    """Audience "all users" automatically excludes devices that already allowed notifications."""
    state = device()
    policy = one(Campaign(id="push", frequency=every_time()))
    assert ask(state, policy, 0.0).show
    apply_dialog_result(state, ANDROID, "allowed", now=0.0)
    assert decide(state, ANDROID, policy, APP_OPEN, 1.0) == Decision(
        show=False, reason="already_opted_in")


def test_provisional_ios_devices_stay_in_the_audience() -> None:
    """Provisional iOS devices stay eligible for the soft prompt (they only get quiet pushes)."""
    ios = P["ios"]
    state = device(ios, provisional=True)
    d = decide(state, ios, one(Campaign(id="push")), APP_OPEN, 0.0)
    assert d == Decision(show=True, reason="eligible", campaign_id="push", action="os_dialog")


def test_an_uninstalled_app_shows_nothing() -> None:
    """No install, no prompt: ``not_installed``."""
    state = device()
    state.installed = False
    assert decide(state, ANDROID, one(Campaign(id="push")), APP_OPEN, 0.0).reason == (
        "not_installed")


def test_a_policy_without_campaigns_shows_nothing() -> None:
    """No campaign configured: ``no_campaign``."""
    assert decide(device(), ANDROID, PolicyRules(Policy()), APP_OPEN, 0.0).reason == "no_campaign"


def per_platform_policy() -> PolicyRules:
    """iOS gets a soft prompt once; Android 13 devices get three tries; the others none."""
    return PolicyRules(Policy(campaigns=(
        Campaign(id="ios.soft", audience=Audience(platforms=("ios",))),
        Campaign(id="android.soft", frequency=multiple(3, 1),
                 audience=Audience(profiles=("android13",))),
    )))


def test_the_audience_limits_a_campaign_to_platforms_and_profiles() -> None:
    """Vendors target campaigns at an audience (OneSignal, Braze, MoEngage): a device sees
    only the campaigns whose platforms and profiles include it; a device outside every
    audience gets ``not_in_audience``."""
    policy = per_platform_policy()
    assert ask(device(P["ios"]), policy, 0.0, profile=P["ios"]).campaign_id == "ios.soft"
    assert ask(device(), policy, 0.0).campaign_id == "android.soft"
    legacy = P["android13_legacy"]
    assert ask(device(legacy), policy, 0.0, profile=legacy).reason == "not_in_audience"
    chrome = P["chrome"]
    assert ask(device(chrome), policy, 0.0, profile=chrome).reason == "not_in_audience"


def test_a_campaign_outside_the_audience_neither_shows_nor_outranks() -> None:
    """Another in-app message targeted elsewhere does not take the slot; ``next_chance``
    ignores campaigns the device is not in the audience of."""
    policy = PolicyRules(Policy(campaigns=(
        Campaign(id="push", frequency=every_time()),
        Campaign(id="promo", action="message", priority=9,
                 audience=Audience(platforms=("ios",))),
    ), permission_first=False))
    assert ask(device(), policy, 0.0).campaign_id == "push"
    assert next_chance(device(), ANDROID, per_platform_policy(), 0.0) == 0.0
    chrome = P["chrome"]
    assert next_chance(device(chrome), chrome, per_platform_policy(), 0.0) is None


def test_an_unknown_audience_profile_is_refused() -> None:
    """Decoding (a scenario file, the service's JSON) names the field and the allowed
    profiles and platforms."""
    with pytest.raises(msgspec.ValidationError,
                       match=r"matching regex '\^\(ios\|android13\|.*at `\$\.profiles\[0\]`"):
        msgspec.convert({"profiles": ["android99"]}, Audience)
    with pytest.raises(msgspec.ValidationError,
                       match=r"'\^\(ios\|android\|huawei\|amazon\|web\)\$'.*platforms\[0\]"):
        msgspec.convert({"platforms": ["nokia"]}, Audience)


# --- triggers -----------------------------------------------------------------------

TRIGGER_CASES = [
    (AppOpen(), TriggerFired(trigger="app_open"), True),
    (AppOpen(), TriggerFired(trigger="programmatic"), False),
    (SessionTime(seconds=60), TriggerFired(trigger="session_time", session_seconds=60), True),
    (SessionTime(seconds=60), TriggerFired(trigger="session_time", session_seconds=59), False),
    (SessionTime(seconds=60), TriggerFired(trigger="session_time"), False),
    (SessionTime(seconds=60), TriggerFired(trigger="app_open"), False),
    (OnEvent(name="order_placed"), TriggerFired(trigger="event", event_name="order_placed"),
     True),
    (OnEvent(name="order_placed"), TriggerFired(trigger="event", event_name="level_up"), False),
    (OnEvent(name="order_placed"), TriggerFired(trigger="app_open"), False),
    (Programmatic(), TriggerFired(trigger="programmatic"), True),
    (Programmatic(), TriggerFired(trigger="event", event_name="order_placed"), False),
]


@pytest.mark.parametrize(("trigger", "fired", "shows"), TRIGGER_CASES)
def test_triggers_fire_on_app_open_session_time_named_event_or_programmatically(
        trigger: Trigger, fired: TriggerFired, shows: bool) -> None:
    """A campaign shows on its trigger only: app open, session time >= N seconds, its named
    event, or a programmatic call; anything else is ``trigger_not_met``."""
    policy = one(Campaign(id="push", trigger=trigger))
    d = decide(device(), ANDROID, policy, fired, 0.0)
    assert (d.show, d.reason) == ((True, "eligible") if shows else (False, "trigger_not_met"))


# --- frequency ----------------------------------------------------------------------

def test_once_shows_a_single_time_per_install() -> None:
    """``once``: the soft prompt shows at most once per install."""
    policy = one(Campaign(id="push", frequency=once()))
    assert shown_at(policy, [0.0, 1.0, 30.0]) == [
        (0.0, "eligible"), (1.0, "frequency_limit"), (30.0, "frequency_limit")]


def test_every_time_shows_whenever_the_trigger_fires() -> None:
    """``every_time``: the soft prompt shows each time its trigger fires."""
    policy = one(Campaign(id="push", frequency=every_time()))
    assert [r for _, r in shown_at(policy, [0.0, 0.0, 0.1, 0.2],
                                   new_session_each_time=False)] == ["eligible"] * 4


def test_multiple_shows_up_to_the_limit_with_the_gap_between() -> None:
    """``multiple(limit, gap_days)``: at most ``limit`` times, at least ``gap_days`` apart."""
    policy = one(Campaign(id="push", frequency=multiple(limit=3, gap_days=2.0)))
    assert shown_at(policy, [0.0, 1.9, 2.0, 3.0, 4.0, 100.0]) == [
        (0.0, "eligible"), (1.9, "gap_not_elapsed"), (2.0, "eligible"),
        (3.0, "gap_not_elapsed"), (4.0, "eligible"), (100.0, "frequency_limit")]


def test_backoff_gap_grows_with_each_dismissal() -> None:
    """``backoff``: the gap is ``gap_days * factor ** dismissals``, so it grows with each
    dismissal (and stays put while the user does not dismiss)."""
    policy = one(Campaign(id="push", frequency=backoff(gap_days=1.0, factor=2.0)))
    state = device()
    log = []
    for t in [0.0, 1.9, 2.0, 5.9, 6.0, 7.0]:
        start_session(state, ANDROID, t)
        d = ask(state, policy, t)
        log.append((t, d.reason))
        if d.show and t < 6.0:
            record_dismissal(state, "push", t)
    # after 0: gap 2 (one dismissal); after 2: gap 4; after 6: still 4, 6 + 4 = 10 > 7
    assert log == [(0.0, "eligible"), (1.9, "gap_not_elapsed"), (2.0, "eligible"),
                   (5.9, "gap_not_elapsed"), (6.0, "eligible"), (7.0, "gap_not_elapsed")]


def test_backoff_can_have_a_limit() -> None:
    """``backoff(limit=n)`` stops after ``n`` impressions (``frequency_limit``)."""
    policy = one(Campaign(id="push", frequency=backoff(gap_days=1.0, limit=2)))
    assert [r for _, r in shown_at(policy, [0.0, 1.0, 50.0])] == [
        "eligible", "eligible", "frequency_limit"]


def test_min_delay_days_spaces_nudges_of_one_campaign() -> None:
    """``min_delay_days``: a minimum delay between two impressions of the campaign."""
    policy = one(Campaign(id="push", frequency=every_time(), min_delay_days=1.0))
    assert shown_at(policy, [0.0, 0.5, 1.0]) == [
        (0.0, "eligible"), (0.5, "min_delay"), (1.0, "eligible")]


def test_per_session_cap() -> None:
    """A per-session cap limits impressions within one session; a new session starts afresh."""
    policy = one(Campaign(id="push", frequency=every_time(), caps=Caps(per_session=2)))
    state = device()
    assert [ask(state, policy, 0.0).reason for _ in range(3)] == [
        "eligible", "eligible", "session_cap"]
    start_session(state, ANDROID, 0.01)
    assert ask(state, policy, 0.01).reason == "eligible"


def test_per_day_cap() -> None:
    """A daily cap limits impressions per calendar day (day = integer part of the time)."""
    policy = one(Campaign(id="push", frequency=every_time(), caps=Caps(per_day=1)))
    assert shown_at(policy, [0.1, 0.9, 1.0]) == [
        (0.1, "eligible"), (0.9, "daily_cap"), (1.0, "eligible")]


def test_total_cap() -> None:
    """A total cap limits impressions over the install's life."""
    policy = one(Campaign(id="push", frequency=every_time(), caps=Caps(total=2)))
    assert [r for _, r in shown_at(policy, [0.0, 1.0, 2.0])] == [
        "eligible", "eligible", "total_cap"]


def test_min_sessions_waits_for_the_nth_session() -> None:
    """``min_sessions = 3``: nothing before the third session of the install (``too_early``)."""
    policy = one(Campaign(id="push", min_sessions=3))
    assert [r for _, r in shown_at(policy, [0.0, 1.0, 2.0])] == [
        "too_early", "too_early", "eligible"]


# --- click action ---------------------------------------------------------------------

def test_fallback_to_settings_false_gives_blocked() -> None:
    """When the OS dialog is gone and ``fallback_to_settings`` is false, nothing shows:
    ``blocked``."""
    ios = P["ios"]
    state = device(ios)
    apply_dialog_result(state, ios, "denied", now=0.0)
    policy = one(Campaign(id="push", fallback_to_settings=False))
    assert decide(state, ios, policy, APP_OPEN, 0.0) == Decision(show=False, reason="blocked")


def test_the_cold_baseline_has_no_settings_fallback() -> None:
    """A direct OS-dialog campaign (``primer = False``) has no button, so no fallback either."""
    ios = P["ios"]
    state = device(ios)
    cold = one(Campaign(id="cold", primer=False))
    assert decide(state, ios, cold, APP_OPEN, 0.0).action == "os_dialog"
    apply_dialog_result(state, ios, "denied", now=0.0)
    assert decide(state, ios, cold, APP_OPEN, 0.0) == Decision(show=False, reason="blocked")


def test_a_navigate_to_settings_campaign_always_opens_settings() -> None:
    """The separate "navigate to notification settings" action opens settings even while the
    OS dialog is still available."""
    policy = one(Campaign(id="settings", action="open_settings"))
    assert decide(device(), ANDROID, policy, APP_OPEN, 0.0) == Decision(
        show=True, reason="eligible", campaign_id="settings", action="open_settings")


def test_clicks_and_dismissals_are_counted_per_campaign() -> None:
    """The tracking counters: impressions, clicks and dismissals per campaign."""
    state = device()
    record_impression(state, "push", 0.0)
    record_click(state, "push")
    record_dismissal(state, "other", 0.0)
    assert (state.campaigns["push"].shown, state.campaigns["push"].clicked) == (1, 1)
    assert state.campaigns["other"].dismissed == 1


# --- priority and spacing -----------------------------------------------------------------

def test_the_highest_priority_eligible_campaign_wins() -> None:
    """Among eligible campaigns on the same trigger, the highest priority wins (Braze)."""
    policy = PolicyRules(Policy(campaigns=(Campaign(id="low", priority=1),
                                           Campaign(id="high", priority=5))))
    assert decide(device(), ANDROID, policy, APP_OPEN, 0.0).campaign_id == "high"


def test_a_lower_ranked_campaign_shows_when_the_winner_is_not_eligible() -> None:
    """When the highest-ranked campaign is held back by its frequency, the next one shows."""
    policy = PolicyRules(Policy(campaigns=(Campaign(id="high", priority=5, frequency=once()),
                               Campaign(id="low", priority=1, frequency=every_time()))))
    state = device()
    assert [ask(state, policy, 0.0).campaign_id for _ in range(2)] == ["high", "low"]


def test_permission_campaign_beats_another_message_on_the_same_trigger() -> None:
    """``permission_first`` (MoEngage "critical-functional"): the permission prompt wins over
    another in-app message on the same trigger, whatever their priorities."""
    campaigns = (Campaign(id="promo", action="message", priority=100),
                 Campaign(id="push", priority=0))
    d = decide(device(), ANDROID, PolicyRules(Policy(campaigns=campaigns)), APP_OPEN, 0.0)
    assert d == Decision(show=True, reason="eligible", campaign_id="push", action="os_dialog")


def test_without_permission_first_a_higher_message_outranks_the_prompt() -> None:
    """Without ``permission_first``, a higher-priority message wins and the prompt is
    ``outranked`` (the decision names the winning message)."""
    campaigns = (Campaign(id="promo", action="message", priority=100),
                 Campaign(id="push", priority=0))
    policy = PolicyRules(Policy(campaigns=campaigns, permission_first=False))
    assert decide(device(), ANDROID, policy, APP_OPEN, 0.0) == Decision(
        show=False, reason="outranked", campaign_id="promo")


def test_a_message_on_another_trigger_does_not_compete() -> None:
    """Priority only matters between messages on the same trigger."""
    campaigns = (Campaign(id="promo", action="message", priority=100, trigger=Programmatic()),
                 Campaign(id="push"))
    policy = PolicyRules(Policy(campaigns=campaigns, permission_first=False))
    assert decide(device(), ANDROID, policy, APP_OPEN, 0.0).campaign_id == "push"


def test_min_spacing_between_in_app_messages() -> None:
    """Any two in-app messages are at least ``min_spacing_seconds`` apart (Braze: 30 s)."""
    policy = PolicyRules(Policy(campaigns=(Campaign(id="push", frequency=every_time()),),
                    min_spacing_seconds=30.0))
    state = device()
    assert ask(state, policy, 0.0).reason == "eligible"
    assert ask(state, policy, seconds(29)).reason == "spacing"
    assert ask(state, policy, seconds(30)).reason == "eligible"


def test_policy_keeps_campaigns_in_decision_order() -> None:
    """The policy lists campaigns in the order ``decide`` tries them: permission first, then by
    priority, then by id."""
    policy = Policy(campaigns=(Campaign(id="promo", action="message", priority=9),
                               Campaign(id="b", priority=1), Campaign(id="a", priority=1),
                               Campaign(id="top", priority=3)))
    assert [c.id for c in policy.campaigns] == ["top", "a", "b", "promo"]
    assert [c.id for c in PolicyRules(policy).campaigns] == ["top", "a", "b", "promo"]
    assert policy.campaign("promo") is not None
    assert policy.campaign("missing") is None


def test_when_nothing_shows_the_reason_is_the_top_campaigns() -> None:
    """When nothing shows, the reason is that of the highest-ranked matching campaign."""
    policy = PolicyRules(Policy(campaigns=(Campaign(id="first", priority=2, min_sessions=5),
                               Campaign(id="second", priority=1, frequency=once()))))
    state = device()
    record_impression(state, "second", 0.0)
    assert decide(state, ANDROID, policy, APP_OPEN, 1.0) == Decision(
        show=False, reason="too_early")
