"""Chrome's quiet UI and the requests Chrome refuses, read against Chromium's own code
(issue 24, the Chrome part).

Each test states one rule and names its source by repository and path.
"""

from __future__ import annotations

import msgspec
import pytest

from sim.rules.config.campaigns import Campaign, Policy, TriggerFired
from sim.rules.config.platforms import (
    DEFAULT_PROFILES,
    REPORTS,
    override_profiles,
    resolve_profile,
)
from sim.rules.decision import decide, start_session
from sim.rules.native import PolicyRules, ProfileRules
from sim.rules.permission import (
    apply_dialog_result,
    chrome_request_refused,
    dialogs_left,
    is_blocked,
    loud_chance,
    new_install,
    prompt_ui,
)

P = {n: ProfileRules(p) for n, p in DEFAULT_PROFILES.items()}
APP_OPEN = TriggerFired(trigger="app_open")
DIRECT = PolicyRules(Policy(campaigns=(Campaign(id="ask", primer=False),)))
"""A campaign that opens the browser's prompt directly (no soft prompt first)."""
PRIMED = PolicyRules(Policy(campaigns=(Campaign(id="soft"),)))


def test_each_chrome_prompt_says_whether_it_is_quiet_or_loud() -> None:
    """A decision whose button opens Chrome's prompt names it: ``quiet`` on a browser with
    the quiet UI on, ``loud`` (the normal bubble) otherwise; other platforms have one prompt
    and say nothing, nor does a button that does not open a prompt.

    Source: chromium/chromium ``components/permissions/permission_request_manager.cc``
    (``PermissionRequestManager::ShouldCurrentRequestUseQuietUI``: the quiet UI exactly when
    the request has a ``ReasonForUsingQuietUi``, else the normal prompt)."""
    for name, want in (("chrome", "loud"), ("chrome_quiet", "quiet"), ("firefox", None),
                       ("safari", None), ("ios", None), ("android13", None)):
        p = P[name]
        assert prompt_ui(p) == want, name
        st = new_install(p)
        start_session(st, p, 0.0)
        d = decide(st, p, PRIMED, APP_OPEN, 0.0)
        assert d.show and d.action == "os_dialog" and d.prompt_ui == want, (name, d)
        raw = msgspec.json.decode(msgspec.json.encode(d))
        assert ("prompt_ui" in raw) == (want is not None)  # absent: older answers unchanged
    st = new_install(P["chrome"])
    start_session(st, P["chrome"], 0.0)
    apply_dialog_result(st, P["chrome"], "denied", 0.0)  # blocked: only instructions left
    fallback = PolicyRules(Policy(campaigns=(Campaign(id="soft", fallback_to_settings=True),)))
    d = decide(st, P["chrome"], fallback, APP_OPEN, 1.0)
    assert d.show and d.action == "instructions" and d.prompt_ui is None


def test_cross_origin_iframe_and_incognito_requests_are_denied_without_a_prompt() -> None:
    """Chrome answers a notification request from an iframe of another origin, and any in
    incognito, ``denied`` without showing a prompt (incognito after a random 1-2 s), and
    stores nothing: the decision offers no prompt (reasons ``cross_origin_iframe``,
    ``incognito``), the install's state is unchanged, and the same request from the top
    frame of a normal window still gets the prompt. Firefox and Safari are not changed
    (their code is not read here).

    Source: chromium/chromium ``chrome/browser/notifications/
    notification_permission_context.cc`` (``NotificationPermissionContext::DecidePermission``:
    ``if (requesting_origin != embedding_origin)`` runs the callback with DENIED / BLOCK at
    once; ``if (browser_context()->IsOffTheRecord())`` posts BLOCK after
    ``1.0 + 1.0 * base::RandDouble()`` seconds, "to simulate a user clicking a
    bubble/infobar")."""
    for name in ("chrome", "chrome_quiet"):
        p = P[name]
        for policy in (DIRECT, PRIMED):
            st = new_install(p)
            start_session(st, p, 0.0)
            before = msgspec.json.encode(st)
            for field, reason in (("cross_origin_iframe", "cross_origin_iframe"),
                                  ("incognito", "incognito")):
                fired = TriggerFired(trigger="app_open", **{field: True})
                d = decide(st, p, policy, fired, 0.0)
                assert not d.show and d.reason == reason and d.action is None, (name, d)
                assert msgspec.json.encode(st) == before  # nothing stored
            assert decide(st, p, policy, APP_OPEN, 0.0).show
    both = TriggerFired(trigger="app_open", cross_origin_iframe=True, incognito=True)
    st = new_install(P["chrome"])
    start_session(st, P["chrome"], 0.0)
    assert decide(st, P["chrome"], PRIMED, both,
                  0.0).reason == "cross_origin_iframe"  # checked first, as Chromium does
    for name in ("firefox", "safari", "ios", "android13"):
        assert chrome_request_refused(P[name], True, True) is None, name


REPUTATIONS = ("crowd_deny", "abusive_prompts", "abusive_content", "disruptive")


def _with(reputation: str) -> PolicyRules:
    """A soft prompt campaign of an app whose site has this reputation on Chrome's list."""
    return PolicyRules(Policy(campaigns=(Campaign(id="soft"),),
                              site_reputation=reputation))  # type: ignore[arg-type]


def test_site_reputation_makes_chrome_prompt_quiet_crowd_deny_held_back() -> None:
    """A site on Chrome's reputation list (the app setting ``site_reputation``) gets Chrome's
    quiet prompt for every reason; for crowd deny only, Chrome opens the loud one instead
    with the chance 0.3, its control group, per prompt. The page cannot see that draw, so the
    answer says ``prompt_ui: quiet`` with ``loud_chance: 0.3`` and never a guess of the draw;
    the other reasons are certain (no ``loud_chance``). A browser with the quiet UI on stays
    quiet (its own selector picks it when the crowd-deny one holds back), and a site with no
    reputation gets the loud prompt. The chance is a profile setting
    (``crowd_deny_hold_back``): 0 makes crowd deny certain. Other browsers have one prompt.

    Sources: chromium/chromium
    ``chrome/browser/permissions/contextual_notification_permission_ui_selector.cc``
    (``GetDecisionBasedOnSiteReputation``: UNSOLICITED_PROMPTS -> kTriggeredByCrowdDeny,
    ABUSIVE_PROMPTS, ABUSIVE_CONTENT, DISRUPTIVE_BEHAVIOR -> their quiet reasons;
    ``ShouldHoldBackQuietUI``: "There is no hold-back when the quiet UI is shown due to
    abusive permission request UX", else ``base::RandDouble() < kHoldbackChance``),
    ``chrome/browser/permissions/quiet_notification_permission_ui_config.cc``
    (``GetCrowdDenyHoldBackChance``: ``kCrowdDenyHoldBackChance, 0.3``) and
    ``components/permissions/permission_request_manager.cc`` (``OnPermissionUiSelectorDone``:
    the first selector whose decision has a quiet reason wins, else the normal prompt)."""
    for rep in ("none", *REPUTATIONS):
        for name in ("chrome", "chrome_quiet", "firefox", "safari", "android13"):
            p = P[name]
            st = new_install(p)
            start_session(st, p, 0.0)
            d = decide(st, p, _with(rep), APP_OPEN, 0.0)
            assert d.show and d.action == "os_dialog", (rep, name, d)
            if name not in ("chrome", "chrome_quiet"):
                assert d.prompt_ui is None and d.loud_chance is None, (rep, name, d)
                continue
            quiet = name == "chrome_quiet" or rep != "none"
            assert d.prompt_ui == ("quiet" if quiet else "loud"), (rep, name, d)
            held_back = rep == "crowd_deny" and name == "chrome"
            assert d.loud_chance == (0.3 if held_back else None), (rep, name, d)
            raw = msgspec.json.decode(msgspec.json.encode(d))
            assert ("loud_chance" in raw) == held_back  # absent when the prompt is certain
    certain = {n: ProfileRules(p) for n, p in override_profiles(
        DEFAULT_PROFILES, {"chrome": {"crowd_deny_hold_back": 0.0}}).items()}
    st = new_install(certain["chrome"])
    start_session(st, certain["chrome"], 0.0)
    d = decide(st, certain["chrome"], _with("crowd_deny"), APP_OPEN, 0.0)
    assert d.prompt_ui == "quiet" and d.loud_chance is None
    assert loud_chance(P["chrome"], "crowd_deny") == 0.3
    assert loud_chance(P["chrome"], "abusive_prompts") == 0.0


def test_a_quiet_prompt_dismissal_embargoes_whatever_made_it_quiet() -> None:
    """Chrome counts a dismissal (or ignore) of its quiet prompt toward the quiet thresholds
    (1 dismissal, 2 ignores) whether the browser's quiet UI or the site's reputation made it
    quiet; a loud prompt needs 3 dismissals (4 ignores). So on the ``chrome`` profile the
    prompt the user answered decides: ``ui="quiet"`` embargoes at the first dismissal, the
    default (the profile's own, loud) at the third.

    Source: chromium/chromium ``components/permissions/permission_decision_auto_blocker.h``
    (``RecordDismissAndEmbargo(url, permission, dismissed_prompt_was_quiet)``: "will inform
    the decision of which threshold to pick, depending on whether the prompt that was
    presented to the user was quiet or not") and ``permission_decision_auto_blocker.cc``
    (``kDefaultDismissalsBeforeBlockWithQuietUi`` 1, ``kDefaultIgnoresBeforeBlockWithQuietUi``
    2)."""
    chrome = P["chrome"]
    quiet = new_install(chrome)
    apply_dialog_result(quiet, chrome, "dismissed", 0.0, "quiet")
    assert quiet.embargo_until == 7.0
    loud = new_install(chrome)
    for day in (0.0, 1.0):
        apply_dialog_result(loud, chrome, "dismissed", day)
    assert loud.embargo_until is None
    apply_dialog_result(loud, chrome, "dismissed", 2.0)
    assert loud.embargo_until == 9.0
    ignored = new_install(chrome)
    apply_dialog_result(ignored, chrome, "ignored", 0.0, "quiet")
    assert ignored.embargo_until is None
    apply_dialog_result(ignored, chrome, "ignored", 1.0, "quiet")
    assert ignored.embargo_until == 8.0


def test_webapk_on_android_13_follows_android_not_chrome_embargo() -> None:
    """An origin installed as a WebAPK on Android 13+ asks through Android's
    POST_NOTIFICATIONS dialog for the WebAPK's package, not Chrome's prompt: no embargo
    however often it is dismissed, a first denial leaves one more dialog and the second is
    final (as ``android13``), and there is no quiet or loud prompt, whatever the site's
    reputation. Below Android 13 (no runtime permission) Chrome's own rules stay. The
    registration says ``webapk`` with its ``os_version`` (required with it); only Chrome
    installs WebAPKs.

    Sources: chromium/chromium ``chrome/browser/notifications/notification_permission_context.cc``
    (``NotificationPermissionContext::DecidePermission``: ``if (sdk_int() >= SDK_VERSION_T &&
    contains_installed_webapp)`` hands the request to ``InstalledWebappBridge::DecidePermission``
    with ``persist=false`` and returns, so ``ContentSettingPermissionContextBase`` (Chrome's
    prompt, its UI selectors, ``PermissionDecisionAutoBlocker``) never sees it) and
    ``chrome/android/java/src/org/chromium/chrome/browser/browserservices/permissiondelegation/
    NotificationPermissionUpdater.java`` (``requestPermissionFromWebApk``:
    ``WebApkServiceClient.requestNotificationPermission`` for the WebAPK's package, "Calling
    this method only makes sense from Android T")."""
    assert resolve_profile("web", 14.0, browser="chrome", webapk=True) == "chrome_webapk"
    assert resolve_profile("web", 13.0, browser="chrome", webapk=True,
                           quiet_ui=True) == "chrome_webapk"
    assert resolve_profile("web", 12.0, browser="chrome", webapk=True) == "chrome"
    assert REPORTS["chrome_webapk"].profile() == "chrome_webapk"
    for kw, field in (({"browser": "chrome"}, "os_version"),
                      ({"browser": "firefox_android", "os_version": 14.0}, "webapk")):
        with pytest.raises(ValueError, match=f"^{field}: "):
            resolve_profile("web", webapk=True, **kw)  # type: ignore[arg-type]
    webapk, android = P["chrome_webapk"], P["android13"]
    for rep in ("none", *REPUTATIONS):
        st = new_install(webapk)
        start_session(st, webapk, 0.0)
        d = decide(st, webapk, _with(rep), APP_OPEN, 0.0)
        assert d.show and d.action == "os_dialog" and d.prompt_ui is None \
            and d.loud_chance is None, (rep, d)
    both = [new_install(webapk), new_install(android)]
    for day in range(10):
        for st, p in zip(both, (webapk, android), strict=True):
            apply_dialog_result(st, p, "dismissed" if day % 2 else "ignored", float(day))
    assert [(st.embargo_until, dialogs_left(st, p)) for st, p in
            zip(both, (webapk, android), strict=True)] == [(None, 2), (None, 2)]
    for st, p in zip(both, (webapk, android), strict=True):
        apply_dialog_result(st, p, "denied", 20.0)
        assert dialogs_left(st, p) == 1 and not is_blocked(st, p)
        apply_dialog_result(st, p, "denied", 21.0)
        assert dialogs_left(st, p) == 0 and is_blocked(st, p)
    chrome = new_install(P["chrome"])
    for day in range(3):
        apply_dialog_result(chrome, P["chrome"], "dismissed", float(day))
    assert chrome.embargo_until == 9.0  # Chrome's own rules: 3 dismissals embargo
