"""The one decision: should this install see the soft prompt now, and what does its button do?

``decide`` is pure: the simulator and the eligibility service call it with the
same state and get the same answer. ``record_*`` update the campaign counters
after an impression, a click or a dismissal.
"""

from __future__ import annotations

from sim.rules.checks import frequency_check, in_audience, next_allowed, trigger_matches
from sim.rules.config.campaigns import TIME_EPS, TriggerFired
from sim.rules.config.verdict import ButtonAction, Decision
from sim.rules.native import NO_LIMIT, CampaignRules, PolicyRules, ProfileRules
from sim.rules.permission import (
    CampaignCounters,
    DeviceState,
    chrome_request_refused,
    hibernated,
    local_day,
    loud_chance,
    os_dialog_unavailable,
    prompt_ui,
)

NO_CAMPAIGN = Decision(show=False, reason="no_campaign")
NOT_IN_AUDIENCE = Decision(show=False, reason="not_in_audience")
NOT_INSTALLED = Decision(show=False, reason="not_installed")
OPTED_IN = Decision(show=False, reason="already_opted_in")
TRIGGER_NOT_MET = Decision(show=False, reason="trigger_not_met")
SPACING = Decision(show=False, reason="spacing")


def _counters(state: DeviceState, campaign_id: str) -> CampaignCounters:
    c = state.campaigns.get(campaign_id)
    return c if c is not None else CampaignCounters()


def _frequency_block(camp: CampaignRules, c: CampaignCounters, state: DeviceState,
                     now: float) -> str | None:
    if state.sessions < camp.min_sessions:
        return "too_early"
    why = frequency_check(camp, c, now)
    if why is not None:
        return why
    if camp.min_delay_days and c.last_shown_at is not None \
            and now - c.last_shown_at < camp.min_delay_days - TIME_EPS:
        return "min_delay"
    if camp.caps_total != NO_LIMIT and c.shown >= camp.caps_total:
        return "total_cap"
    if camp.caps_per_day != NO_LIMIT and c.day == local_day(state, now) \
            and c.shown_today >= camp.caps_per_day:
        return "daily_cap"
    if camp.caps_per_session != NO_LIMIT and c.session == state.sessions \
            and c.shown_this_session >= camp.caps_per_session:
        return "session_cap"
    return None


def _action(camp: CampaignRules, state: DeviceState, profile: ProfileRules,
            fired: TriggerFired, now: float) -> tuple[ButtonAction | None, str]:
    """What the button does, or ``None`` and the reason nothing can be offered."""
    if camp.action == "message":
        return "message", "eligible"
    settings: ButtonAction = "open_settings" if profile.settings_link else "instructions"
    if camp.action == "open_settings":
        return settings, "eligible"
    why = os_dialog_unavailable(state, profile, now)
    if why is None and not camp.primer and profile.requires_user_gesture:
        why = "needs_user_gesture"  # no soft prompt means no click to open it from
    if why is None:
        why = chrome_request_refused(profile, fired.cross_origin_iframe, fired.incognito)
    if why is None:
        return "os_dialog", "eligible"
    if why in ("embargoed", "cross_origin_iframe", "incognito", "needs_home_screen"):
        # the browser returns without a dialog: nothing to offer, nor unblock (a Safari tab
        # on iOS: only adding the site to the Home Screen, a new install, can ask)
        return None, why
    if camp.fallback_to_settings and camp.primer:
        return settings, "eligible"
    return None, why


def decide(state: DeviceState, p: ProfileRules, pol: PolicyRules,
           fired: TriggerFired, now: float) -> Decision:
    """Decide whether the soft prompt shows for ``fired`` at time ``now`` (days).

    Devices that allowed notifications are excluded (provisional iOS stays
    eligible), and so is a device outside every campaign's audience. Among the
    campaigns for its platform and profile whose trigger matches, the first in
    ``policy`` order that passes its frequency rules wins; if that is another
    in-app message the permission prompt is ``outranked``. The button resolves
    to the OS dialog while the platform still allows one and to notification
    settings after that (``fallback_to_settings``; on the web, instructions for
    unblocking the site). During a browser's embargo a prompt whose action is the OS
    dialog does not show (``embargoed``), nor does one Chrome would deny without a prompt
    (``cross_origin_iframe``, ``incognito``: ``chrome_request_refused``). A button that opens
    Chrome's prompt says which one (``prompt_ui``: quiet or loud, the app's
    ``site_reputation`` counted; with ``loud_chance`` where Chrome draws). When nothing shows, the
    reason is the one of the highest-ranked matching campaign.
    """
    if not state.installed:
        return NOT_INSTALLED
    if state.permission == "granted":
        return OPTED_IN
    if not pol.campaigns:
        return NO_CAMPAIGN
    matching = [c for c in pol.campaigns if trigger_matches(c, fired) and in_audience(c, p)]
    if not matching:
        if any(in_audience(c, p) for c in pol.campaigns):
            return TRIGGER_NOT_MET
        return NOT_IN_AUDIENCE
    if pol.min_spacing_seconds and state.last_in_app_at is not None \
            and now - state.last_in_app_at < pol.min_spacing_seconds / 86400.0 - TIME_EPS:
        return SPACING
    first_reason: str | None = None
    for camp in matching:
        why = _frequency_block(camp, _counters(state, camp.id), state, now)
        action: ButtonAction | None = None
        if why is None:
            action, why = _action(camp, state, p, fired, now)
        if action is not None:
            if action == "message":  # another in-app message takes the slot
                if first_reason is not None:
                    break  # the prompt could not have shown anyway: say why
                return Decision(show=False, reason="outranked", campaign_id=camp.id)
            if action != "os_dialog":
                return Decision(show=True, reason="eligible", campaign_id=camp.id,
                                action=action)
            rep = pol.site_reputation
            chance = loud_chance(p, rep)
            return Decision(show=True, reason="eligible", campaign_id=camp.id, action=action,
                            prompt_ui=prompt_ui(p, rep), loud_chance=chance or None)
        if first_reason is None:
            first_reason = why
    return Decision(show=False, reason=first_reason or "trigger_not_met")


def next_chance(state: DeviceState, p: ProfileRules, pol: PolicyRules,
                now: float) -> float | None:
    """The earliest time at which ``decide`` could show the permission prompt again.

    ``None`` means never, until something outside the prompt flow changes the
    state (a settings change, reinstall, upgrade, hibernation). The answer is
    never later than the true one (triggers, session caps, ``min_sessions`` and
    spacing are ignored), so a simulator may skip every session before it
    without changing any outcome.
    """
    if not state.installed or state.permission == "granted":
        return None
    best: float | None = None
    for camp in pol.campaigns:
        if not camp.is_permission or not in_audience(camp, p):
            continue
        t = now
        if camp.action == "push_permission_prompt":
            why = os_dialog_unavailable(state, p, now)
            if why == "needs_home_screen" or (
                    why is None and not camp.primer and p.requires_user_gesture):
                continue
            if why == "embargoed":
                if state.embargo_until is None:
                    continue
                t = state.embargo_until
            elif why is not None and not (camp.fallback_to_settings and camp.primer):
                continue
        c = _counters(state, camp.id)
        allowed = next_allowed(camp, c)
        if allowed is None or (camp.caps_total != NO_LIMIT and c.shown >= camp.caps_total):
            continue
        t = max(t, allowed)
        if camp.min_delay_days and c.last_shown_at is not None:
            t = max(t, c.last_shown_at + camp.min_delay_days - TIME_EPS)
        if camp.caps_per_day != NO_LIMIT and c.day == local_day(state, t) \
                and c.shown_today >= camp.caps_per_day:
            t = c.day + 1 - state.utc_offset_minutes / 1440.0  # the next local midnight
        best = t if best is None else min(best, t)
    return best


def record_impression(state: DeviceState, campaign_id: str, now: float) -> None:
    """Count an impression of ``campaign_id`` (an in-app message was shown)."""
    c = _counted(state, campaign_id)
    c.shown += 1
    c.last_shown_at = now
    day = local_day(state, now)
    if c.day != day:
        c.day, c.shown_today = day, 0
    c.shown_today += 1
    if c.session != state.sessions:
        c.session, c.shown_this_session = state.sessions, 0
    c.shown_this_session += 1
    state.last_in_app_at = now


def _counted(state: DeviceState, campaign_id: str) -> CampaignCounters:
    """The campaign's counters on this install, made when it has none yet."""
    c = state.campaigns.get(campaign_id)
    if c is None:
        c = state.campaigns[campaign_id] = CampaignCounters()
    return c


def record_click(state: DeviceState, campaign_id: str) -> None:
    """Count a tap on the soft prompt's button: a user gesture, which Safari spends on one
    OS dialog request (``apply_dialog_request``)."""
    _counted(state, campaign_id).clicked += 1
    state.user_gesture = True


def record_dismissal(state: DeviceState, campaign_id: str, now: float) -> None:
    """Count a dismissal of the soft prompt at ``now`` (``backoff`` widens its gap;
    ``gap_list`` waits its next gap from ``now``)."""
    c = _counted(state, campaign_id)
    c.dismissed += 1
    c.last_dismissed_at = now


def start_session(state: DeviceState, profile: ProfileRules, now: float) -> bool:
    """A new app session started (OneSignal: after 30 s out of focus).

    Returns whether it woke the app from Android's hibernation (``hibernated``): the
    app receives pushes again from now on; its permission was never revoked.
    """
    woke = hibernated(state, profile, now)
    state.sessions += 1
    state.last_active_at = now
    state.user_gesture = False  # a new page view has no user activation yet
    return woke
