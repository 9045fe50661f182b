"""What each request does to one device, by calling the shared rule functions.

Everything here is synchronous and pure apart from the ``DeviceRecord`` it is
handed: the store calls it inside the device's transaction and writes back
the record and the returned event rows, or nothing if it raises.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterable, Sequence

import msgspec

from sim.rules.config.delivery import DeliveryRules
from sim.rules.config.platforms import FAMILY_OF, resolve_profile
from sim.rules.config.verdict import Decision, PromptUi
from sim.rules.credit import click_action, credit
from sim.rules.decision import (
    decide,
    record_click,
    record_dismissal,
    record_impression,
    start_session,
)
from sim.rules.native import DeliveryRulesNative, ProfileRules
from sim.rules.permission import (
    DeviceState,
    adaptive_quiet_ui,
    apply_app_update,
    apply_clear_data,
    apply_dialog_request,
    apply_dialog_result,
    apply_os_upgrade,
    apply_reinstall,
    apply_restore,
    apply_review_notice,
    apply_settings_change,
    apply_uninstall,
    dialog_request_refused,
    dialogs_left,
    first_launch_dialog_due,
    hibernated,
    loud_chance,
    new_install,
    prompt_ui,
    review_notice_due,
    should_show_rationale,
)
from sim.rules.reachability import REACHABLE, device_reach, user_reach
from sim.rules.sending import (
    delivered,
    delivery_kind,
    permission_changed,
    record_push,
    revoke,
)
from sim.service import schemas as s
from sim.service.errors import Conflict, InvalidInput, not_found
from sim.service.tenant import Tenant
from sim.wire import version_text

DELIVERY = DeliveryRulesNative(DeliveryRules())
"""The browsers' rules after opt-in, at their defaults (``sim.rules.config.delivery``): the
service applies what a device reports (``push_received``, ``permission_revoked``) and keeps
a re-grant's exemption; an app setting for them is not built yet."""
EventRow = tuple[str, str, float | None, str | None, str | None]
"""A stored event: ``(event_id, kind, at, campaign_id, detail)``."""
OS_DIALOG_DUE = "os_dialog_due"
"""Detail of an ``app_launched`` or ``notification_channel_created`` event after which the
OS shows its own dialog to an app targeting <= 32 (``first_launch_dialog_due``)."""
NO_IMPRESSION = "no_impression"
"""Detail of a dismissal that answers no impression: this install has as many dismissals of
the campaign as impressions. It is stored (and idempotent) but changes no counter, so a
client cannot widen a backoff gap, nor count dismissals, past the prompts it was shown."""


def _profile_name(rec: s.DeviceRecord | s.DeviceIn, os_version: float | None,
                  app_target_sdk: int | None, api_level: int | None) -> str:
    try:
        return resolve_profile(rec.platform, os_version, app_target_sdk, rec.browser,
                               os_kind=rec.os_kind, api_level=api_level, quiet_ui=rec.quiet_ui,
                               webapk=rec.webapk)
    except ValueError as exc:
        field, _, detail = str(exc).partition(": ")
        raise InvalidInput("invalid_value", detail, field) from None


def new_device(t: Tenant, body: s.DeviceIn) -> s.DeviceRecord:
    """The record of a new install: ``new_install`` seeded with the reported permission.

    ``granted`` and ``denied`` go through ``apply_settings_change`` (a denial at
    registration is taken as final: only settings can undo it).
    """
    at = s.unix_seconds(body.at)
    t.now(at)  # client clock: 'at' is required (409 otherwise)
    at = at if at is not None else time.time()
    os_version = s.major_version(body.os_version)
    name = _profile_name(body, os_version, body.app_target_sdk, body.api_level)
    profile = t.profile(name)
    perm = body.permission
    state = new_install(profile, sdk_reports_permission=body.sdk_reports_permission,
                        provisional=perm == "provisional"
                        or (perm is None and t.policy.provisional_on_install),
                        utc_offset_minutes=body.utc_offset_minutes)
    if perm == "provisional" and state.permission != "provisional":
        raise Conflict("unsupported_permission", f"profile {name} has no provisional "
                       "authorization; allowed: not_determined, granted, denied", "permission")
    if perm == "not_determined" and state.permission != "not_determined":
        raise Conflict("unsupported_permission", f"profile {name} starts {state.permission} "
                       "(no permission dialog); allowed: granted, denied", "permission")
    if perm in ("granted", "denied") and state.permission != perm:
        apply_settings_change(state, profile, perm == "granted")
    if body.browser_id is not None and (body.platform != "web"
                                        or (body.browser or "chrome") != "chrome"):
        raise InvalidInput("invalid_value", "only Chrome counts answers across sites (its "
                           "adaptive quiet UI); allowed: platform web with browser chrome, "
                           "or no browser_id", "browser_id")
    return s.DeviceRecord(user_id=body.user_id, platform=body.platform,
                          os_version=os_version,
                          os_version_reported=version_text(body.os_version),
                          os_kind=body.os_kind, api_level=body.api_level,
                          app_target_sdk=body.app_target_sdk, browser=body.browser,
                          quiet_ui=body.quiet_ui, webapk=body.webapk,
                          browser_id=body.browser_id, installed_at=at, state=state,
                          registration=registration(body))


def registration(body: s.DeviceIn) -> str:
    """A digest of a registration request (its fields as decoded)."""
    return hashlib.sha256(msgspec.json.encode(body)).hexdigest()[:32]


def view(t: Tenant, device_id: str, rec: s.DeviceRecord, now: float | None) -> s.DeviceView:
    """The API's view of a device, with ``dialogs_left`` from the rules; at ``now`` (days;
    ``None`` on a client clock, see :func:`reachability`) a hibernated app receives no push."""
    st = rec.state
    profile = t.profile(st.profile)
    asleep = now is not None and hibernated(st, profile, now)
    return s.DeviceView(
        device_id=device_id, user_id=rec.user_id, platform=rec.platform,
        os_version=s.reported_version(rec), app_target_sdk=rec.app_target_sdk,
        browser=rec.browser,
        profile=st.profile, permission=st.permission, installed=st.installed,
        receives_push=delivered(st, asleep), dialogs_left=dialogs_left(st, profile),
        state=s.state_view(st), os_kind=rec.os_kind, api_level=rec.api_level,
        quiet_ui=rec.quiet_ui, webapk=rec.webapk, browser_id=rec.browser_id,
        scheduled_summary=rec.scheduled_summary and st.permission == "granted",
        should_show_rationale=should_show_rationale(st, profile),
        review_notice_due=now is not None and review_notice_due(st, now))


# --- eligibility -------------------------------------------------------------------

# --- Chrome's adaptive quiet UI across the app's origins -------------------------------

QUIETER: dict[str, str] = {"chrome": "chrome_quiet"}
"""The profile a Chrome install moves to once its browser shows quiet prompts everywhere."""
Browser = list[tuple[float, str]]
"""The answers to Chrome's prompt stored for one browser (``browser_id``) of the app: ``(at,
outcome)``, ``at`` in the rules' days."""


def browser_quiet(browser: Browser | None, now: float) -> bool:
    """Whether the browser shows Chrome's quiet prompts at ``now``: its answers across the
    app's origins (the app, one API key, is the scope: apps never share them) had 3 denials
    in a row within 90 days by then (``sim.rules.permission.adaptive_quiet_ui``; once on, it
    stays on). Answers arriving late count from their own time, so the order in which
    devices report does not matter."""
    if not browser:
        return False
    return adaptive_quiet_ui(sorted(browser), now)  # type: ignore[arg-type]


def rule_profile(t: Tenant, rec: s.DeviceRecord, browser: Browser | None,
                 now: float) -> ProfileRules:
    """The profile the rules run this install on at ``now``: its own, or Chrome's quiet one
    (``chrome_quiet``) once its browser turned the quiet UI on (:func:`browser_quiet`)."""
    name = rec.state.profile
    if name in QUIETER and browser_quiet(browser, now):
        name = QUIETER[name]
    return t.profile(name)


def browser_answer(profile: ProfileRules, outcome: str) -> bool:
    """Whether Chrome counts this answer toward its adaptive quiet UI: an allow or a denial of
    Chrome's own prompt (a WebAPK's Android dialog is not; dismissals and ignores are
    skipped)."""
    return outcome in ("allowed", "denied") and prompt_ui(profile) is not None


def decision(t: Tenant, rec: s.DeviceRecord, body: s.EligibilityIn, now: float,
             device_id: str, browser: Browser | None = None) -> Decision:
    """``sim.rules.decision.decide`` for this device and what fired: on the campaigns of its
    arm, with the experiment and arm named, while an experiment takes it in
    (``sim.service.experiments``); on the app's campaigns otherwise. ``browser``: the
    answers of the install's browser (:func:`rule_profile`)."""
    profile = rule_profile(t, rec, browser, now)
    if t.experiments:
        found = t.arm_of(rec, device_id, now)
        if found is not None:
            exp, i = found
            d = decide(rec.state, profile, exp.rules[i], body, now)
            return msgspec.structs.replace(d, experiment=exp.experiment_id,
                                           arm=exp.experiment.arms[i].name)
    return decide(rec.state, profile, t.rules, body, now)


def unassigned(d: Decision, rec: s.DeviceRecord) -> bool:
    """Whether ``d`` puts the device in an experiment whose assignment it has not stored."""
    return d.experiment is not None and d.experiment not in rec.experiments


def enrol(t: Tenant, rec: s.DeviceRecord, experiment_id: str, arm: int) -> None:
    """Keep on the record the arm an adaptive experiment's assignment stored (its weights
    move: the hash alone would not give it again); nothing for fixed weights."""
    exp = t.experiment(experiment_id)
    if exp is not None and exp.history:
        kept = {} if isinstance(rec.arms, msgspec.UnsetType) else rec.arms
        rec.arms = {**kept, experiment_id: arm}


def assign(rec: s.DeviceRecord, d: Decision, at: float) -> EventRow:
    """Mark the assignment of ``d`` stored on the record (the store holds it, once); its
    event row (``experiment_assigned``, the arm as detail) writes the mark."""
    assert d.experiment is not None
    rec.experiments = (*rec.experiments, d.experiment)
    return ("~exp:" + d.experiment, "experiment_assigned", at, None, d.arm)


def implicit_session(rec: s.DeviceRecord, body: s.EligibilityIn) -> bool:
    """Whether this eligibility call starts a session: an ``app_open`` call of an install that
    has sent no ``session_start`` event (an SDK that reports no session events)."""
    if body.trigger != "app_open":
        return False
    return rec.sessions_from == "app_open" or (rec.sessions_from is None
                                               and rec.state.sessions == 0)


def open_session(t: Tenant, rec: s.DeviceRecord, now: float, at: float | None) -> EventRow:
    """Start the session an ``app_open`` call opens (:func:`implicit_session`); its event
    row is a ``session_start`` with detail ``app_open``."""
    start_session(rec.state, t.profile(rec.state.profile), now)
    rec.sessions_from = "app_open"
    return ("~ses:" + uuid.uuid4().hex, "session_start", at if at is not None else time.time(),
            None, "app_open")


def reserve(rec: s.DeviceRecord, d: Decision, now: float, at: float | None) -> EventRow:
    """Record the impression of a ``show`` decision (``record_impression``)."""
    assert d.campaign_id is not None
    record_impression(rec.state, d.campaign_id, now)
    rec.last_offer = s.Offer(campaign_id=d.campaign_id, action=d.action)
    return ("~imp:" + uuid.uuid4().hex, "impression", at if at is not None else time.time(),
            d.campaign_id, d.action)


# --- events -------------------------------------------------------------------------

def _campaign(t: Tenant, cid: str | None, i: int) -> str | None:
    if cid is not None and not t.knows(cid):
        raise not_found("campaign", cid, f"events[{i}].campaign_id")
    return cid


def _credit(rec: s.DeviceRecord, given: str | None, answers: str) -> str | None:
    """Campaign credited with a dialog answer or settings change (``sim.rules.credit``)."""
    cid, used = credit(given, rec.last_click, answers)
    if used:
        rec.last_click = None
    return cid


def possible_uis(t: Tenant, profile: ProfileRules) -> tuple[PromptUi, ...]:
    """The Chrome prompts a request of this app's page may open on ``profile``: the one
    announced (``prompt_ui``), and the loud one too where Chrome draws (``loud_chance``);
    none off Chrome."""
    rep = t.policy.site_reputation
    ui = prompt_ui(profile, rep)
    if ui is None:
        return ()
    return (ui, "loud") if loud_chance(profile, rep) > 0.0 else (ui,)


def answered_ui(t: Tenant, profile: ProfileRules, reported: PromptUi | None,
                field: str) -> PromptUi | None:
    """The Chrome prompt an ``os_dialog_result`` answered: ``reported`` when the client said
    (409 naming ``field`` unless Chrome may open it for this app), else the one announced."""
    uis = possible_uis(t, profile)
    if reported is None:
        return uis[0] if uis else None
    if reported not in uis:
        raise Conflict("unsupported_prompt_ui", f"{reported!r} is not a prompt Chrome opens for "
                           f"this app on profile {profile.name}; allowed: "
                           + (", ".join(uis) if uis else "no prompt_ui (one prompt only)"),
                           field)
    return reported


def _apply(t: Tenant, rec: s.DeviceRecord, ev: s.Event, now: float, i: int,
           browser: Browser | None, uis: list[PromptUi | None] | None
           ) -> tuple[str | None, str | None]:
    """Apply one event; return the (campaign_id, detail) stored with it."""
    st: DeviceState = rec.state
    profile = rule_profile(t, rec, browser, now)
    match ev:
        case s.SessionStart():
            start_session(st, profile, now)
            rec.sessions_from = "events"
        case s.SessionTimeEvent(seconds=sec):
            return None, repr(sec)
        case s.CustomEvent(name=name):
            return None, name
        case s.SoftPromptShown(campaign_id=cid):
            return _campaign(t, cid, i), None
        case s.SoftPromptClicked(campaign_id=cid):
            _campaign(t, cid, i)
            record_click(st, cid)
            action = click_action(rec.last_offer, cid)
            rec.last_click = s.Offer(campaign_id=cid, action=action)
            return cid, action
        case s.SoftPromptDismissed(campaign_id=cid):
            _campaign(t, cid, i)
            c = st.campaigns.get(cid)
            if c is None or c.dismissed >= c.shown:
                return cid, NO_IMPRESSION  # nothing shown to dismiss: stored, counts nothing
            record_dismissal(st, cid, now)
            return cid, None
        case s.OsDialogResult(outcome=outcome, campaign_id=cid, prompt_ui=ui, summary=summary):
            if summary and outcome != "allowed":
                raise InvalidInput("invalid_value", f"summary is an allow's ('Allow in "
                                   f"Scheduled Summary'), not {outcome!r}'s; allowed: summary "
                                   "true only with outcome allowed", f"events[{i}].summary")
            if summary and profile.platform != "ios":
                raise Conflict("unsupported_summary", f"profile {profile.name} has no "
                               "Scheduled Summary (iOS 15+ only); allowed: summary false",
                               f"events[{i}].summary")
            if dialogs_left(st, profile) == 0:
                raise Conflict("no_dialog_left", f"this device cannot see an OS dialog now "
                               f"(profile {st.profile}, permission {st.permission}, denials "
                               f"{st.denials}); allowed: os_dialog_result only while "
                               "dialogs_left is not 0; nothing in the batch was applied",
                               f"events[{i}]")
            _campaign(t, cid, i)
            before = st.permission
            shown = answered_ui(t, profile, ui, f"events[{i}].prompt_ui")
            apply_dialog_result(st, profile, outcome, now, shown)
            _user_changed(st, profile, before, now)
            if uis is not None:
                uis.append(shown)
            if outcome == "allowed":
                rec.scheduled_summary = summary
            if browser is not None and browser_answer(profile, outcome):
                browser.append((now, outcome))
            return _credit(rec, cid, "os_dialog"), outcome
        case s.PermissionChanged(permission=perm, campaign_id=cid):
            _campaign(t, cid, i)
            before = st.permission
            apply_settings_change(st, profile, perm == "granted")
            _user_changed(st, profile, before, now)
            return _credit(rec, cid, "open_settings"), perm
        case s.OsUpgraded(os_version=reported, api_level=api):
            version = s.major_version(reported)
            api = api if api is not None else rec.api_level
            new = _profile_name(rec, version, rec.app_target_sdk, api)
            if new != st.profile:
                apply_os_upgrade(st, profile, t.profile(new), now)
            rec.os_version, rec.api_level = version, api
            rec.os_version_reported = version_text(reported)
            return None, repr(version)
        case s.AppUpdated(app_target_sdk=sdk):
            new = _profile_name(rec, rec.os_version, sdk, rec.api_level)
            if new != st.profile:
                apply_app_update(st, profile, t.profile(new))
            rec.app_target_sdk = sdk
            return None, str(sdk)
        case s.Reinstalled():
            apply_reinstall(st, profile, now, reset_campaigns=t.policy.reset_on_reinstall,
                            provisional=t.policy.provisional_on_install)
        case s.DataCleared():
            apply_clear_data(st, profile, reset_campaigns=t.policy.reset_on_reinstall,
                             provisional=t.policy.provisional_on_install)
        case s.Uninstalled():
            apply_uninstall(st, now)
        case s.NotificationChannelCreated():
            st.channel_created = True
            due = first_launch_dialog_due(st, profile,
                                          from_launcher=rec.launched_from == "launcher")
            return None, OS_DIALOG_DUE if due else None
        case s.AppLaunched(source=source, keyguard_locked=locked):
            rec.launched_from = source
            due = first_launch_dialog_due(st, profile, channel_created=st.channel_created,
                                          from_launcher=source == "launcher",
                                          keyguard_locked=locked)
            return None, OS_DIALOG_DUE if due else source
        case s.OsDialogRequested():
            why = dialog_request_refused(st, profile)
            if why is not None:
                raise Conflict(why, f"the OS dialog cannot open now (profile {st.profile}, "
                               f"permission {st.permission}): "
                               + ("one is open until its os_dialog_result"
                                  if why == "dialog_open" else
                                  "one click buys one request: soft_prompt_clicked first"
                                  if why == "needs_user_gesture" else "dialogs_left is 0")
                               + "; nothing in the batch was applied", f"events[{i}]")
            apply_dialog_request(st, profile)
        case s.Restored(granted=granted, user_set=was_set, user_fixed=was_fixed):
            done = apply_restore(st, profile, granted, was_set, was_fixed)
            return None, "applied" if done else "kept"
        case s.ReviewNotice(answer=answer):
            apply_review_notice(st, profile, answer, now)
            return None, answer
        case s.PushReceived(display=display):
            removed = delivery_kind(profile) == "webkit_penalty" and record_push(
                st, DELIVERY, display == "shown", display == "declarative")
            return None, "unsubscribed" if removed else display
        case s.PermissionRevoked():
            if delivery_kind(profile) != "chrome_revocation" or not st.installed \
                    or st.permission != "granted":
                return None, "ignored"
            revoke(st, now)
            return None, "revoked"
    return None, None


def _user_changed(st: DeviceState, profile: ProfileRules, before: str, now: float) -> None:
    """The user's answer or setting changed the permission from ``before``: on Chrome,
    Safety Hub keeps a re-granted site immune, else forgets its entries
    (``permission_changed``); an answer that changes nothing is no change."""
    if st.permission != before and delivery_kind(profile) == "chrome_revocation":
        permission_changed(st, DELIVERY, now)


def apply_events(t: Tenant, rec: s.DeviceRecord, events: Sequence[s.Event],
                 existing: set[str], browser: Browser | None = None,
                 uis: list[PromptUi | None] | None = None) -> tuple[list[EventRow], int]:
    """Apply the new events of a batch in order; return their rows and the duplicate count.

    An event id already stored (or repeated in the batch) is skipped. Any error
    raises, and the caller's transaction writes nothing. ``browser``: the answers of the
    install's browser (:func:`rule_profile`); the batch's own answers to Chrome's prompt
    join it as they are applied. ``uis`` gets the prompt each applied ``os_dialog_result``
    was counted as (:func:`answered_ui`).
    """
    rows: list[EventRow] = []
    seen = set(existing)
    dup = 0
    for i, ev in enumerate(events):
        if ev.event_id in seen:
            dup += 1
            continue
        seen.add(ev.event_id)
        at = s.unix_seconds(ev.at, f"events[{i}].at")
        now = t.now(at, f"events[{i}].at")
        cid, detail = _apply(t, rec, ev, now, i, browser, uis)
        rows.append((ev.event_id, str(type(ev).__struct_config__.tag), at, cid, detail))
    return rows, dup


def os_dialog_due(rows: Sequence[EventRow]) -> bool:
    """Whether a batch's rows end with the OS's own dialog due (an ``os_dialog_due`` detail
    that no later ``os_dialog_result`` answered)."""
    due = False
    for _, kind, _, _, detail in rows:
        if detail == OS_DIALOG_DUE:
            due = True
        elif kind == "os_dialog_result":
            due = False
    return due


# --- reachability and stats ------------------------------------------------------------

def reachability(t: Tenant, user_id: str, devices: Iterable[tuple[str, s.DeviceRecord]],
                 now: float | None) -> s.Reachability:
    """MoEngage's codes per platform family (``sim.rules.reachability``: Huawei and Amazon
    devices count in Android), with the devices behind each. At ``now`` (days) an Android
    app in hibernation has no code (``sim.rules.permission.hibernated``); ``None``: the app
    keeps the client's clock and a GET carries no time, so none is judged hibernated."""
    by_family: dict[str, list[s.DeviceReach]] = {}
    for device_id, rec in devices:
        st = rec.state
        profile = t.profile(st.profile)
        asleep = now is not None and hibernated(st, profile, now)
        code = device_reach(st.installed, st.sdk_reports_permission, st.permission,
                            profile.token_needs_permission, asleep or st.push_unsubscribed)
        by_family.setdefault(FAMILY_OF[rec.platform], []).append(s.DeviceReach(
            device_id=device_id, platform=rec.platform, permission=st.permission,
            installed=st.installed, code=code))
    families = {}
    for fam, devs in sorted(by_family.items()):
        code = user_reach(d.code for d in devs)
        families[fam] = s.FamilyReach(code=code, reachable=code in REACHABLE,
                                      opted_in=code == 201, devices=devs)
    return s.Reachability(user_id=user_id, families=families)  # type: ignore[arg-type]


def campaign_stats(campaign_id: str,
                   counts: Iterable[tuple[str, str | None, int]]) -> s.CampaignStats:
    """Campaign figures from ``(kind, detail, count)`` of the events credited to it."""
    f = dict.fromkeys(("impressions", "clicks", "os_dialogs", "allows", "denials",
                       "settings_opened", "opt_ins", "dismissals", "shown_reported"), 0)
    for kind, detail, n in counts:
        if kind == "impression":
            f["impressions"] += n
        elif kind == "soft_prompt_clicked":
            f["clicks"] += n
            f["settings_opened"] += n if detail == "open_settings" else 0
        elif kind == "soft_prompt_dismissed" and detail != NO_IMPRESSION:
            f["dismissals"] += n
        elif kind == "soft_prompt_shown":
            f["shown_reported"] += n
        elif kind == "os_dialog_result":
            f["os_dialogs"] += n
            f["allows"] += n if detail == "allowed" else 0
            f["opt_ins"] += n if detail == "allowed" else 0
            f["denials"] += n if detail == "denied" else 0
        elif kind == "permission_changed" and detail == "granted":
            f["opt_ins"] += n
    return s.CampaignStats(campaign_id=campaign_id, **f)
