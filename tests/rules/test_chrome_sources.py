"""Chrome's quiet UI and the requests Chrome refuses, read against Chromium's own code
(issue 24, the Chrome part).

Each test states one rule and names its source by repository and path.
"""

from __future__ import annotations

import msgspec

from sim.rules.config.campaigns import Campaign, Policy, TriggerFired
from sim.rules.config.platforms import DEFAULT_PROFILES
from sim.rules.decision import decide, start_session
from sim.rules.native import PolicyRules, ProfileRules
from sim.rules.permission import (
    apply_dialog_result,
    chrome_request_refused,
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
