"""Safari and WebKit rules read against WebKit's own code (issue 24, the Safari part).

Each test states one rule and names its source by repository and path, or by page.
"""

from __future__ import annotations

import pytest

from sim.rules.config.campaigns import Campaign, Policy, TriggerFired, every_time
from sim.rules.config.platforms import DEFAULT_PROFILES, REPORTS, resolve_profile
from sim.rules.decision import decide, next_chance, record_click, start_session
from sim.rules.native import PolicyRules, ProfileRules
from sim.rules.permission import (
    apply_dialog_request,
    apply_dialog_result,
    dialog_request_refused,
    new_install,
    os_dialog_unavailable,
)

P = {n: ProfileRules(p) for n, p in DEFAULT_PROFILES.items()}
APP_OPEN = TriggerFired(trigger="app_open")
PRIMED = PolicyRules(Policy(campaigns=(Campaign(id="soft", frequency=every_time()),)))
COLD = PolicyRules(Policy(campaigns=(Campaign(id="native", primer=False,
                                              frequency=every_time()),)))


def test_ios_web_push_only_for_home_screen_web_apps_from_16_4() -> None:
    """On iOS and iPadOS, web push is for web apps added to the Home Screen, from 16.4: a
    registration says ``browser = "safari_ios_webapp"``; a page in a Safari tab says
    ``safari_ios``, and so does a Home Screen web app on an older iOS. Desktop Safari stays
    ``safari``, so registrations made before these profiles resolve as they did.

    Sources: webkit.org/blog/13878 ("Web Push for Web Apps on iOS and iPadOS": iOS and
    iPadOS 16.4 add web push "for Home Screen web apps"); WebKit/WebKit
    ``Source/WebCore/Modules/push-api/PushManager.cpp`` (``PushManager::subscribe``: the
    permission request path the web app takes)."""
    assert resolve_profile("web", browser="safari_ios_webapp", os_version=16.4) \
        == "safari_ios_webapp"
    assert resolve_profile("web", browser="safari_ios_webapp") == "safari_ios_webapp"
    assert resolve_profile("web", browser="safari_ios_webapp", os_version=16.3) == "safari_ios"
    assert resolve_profile("web", browser="safari_ios", os_version=18.0) == "safari_ios"
    assert resolve_profile("web", browser="safari") == "safari"
    for name in ("safari_ios", "safari_ios_webapp"):
        assert REPORTS[name].profile() == name
    with pytest.raises(ValueError, match="quiet_ui"):
        resolve_profile("web", browser="safari_ios_webapp", quiet_ui=True)


def test_a_safari_tab_on_ios_has_no_prompt_and_says_why() -> None:
    """A page in a Safari tab on iOS cannot ask: there is no prompt, primed or cold, the
    eligibility answers ``needs_home_screen``, and no later time changes that (only adding
    the site to the Home Screen, a new install on ``safari_ios_webapp``, does). The same page
    as a Home Screen web app asks from the soft prompt's click, as Safari on macOS does.

    Source: webkit.org/blog/13878 ("Web Push for Web Apps on iOS and iPadOS"); WebKit/WebKit
    ``Source/WebCore/Modules/push-api/PushManager.cpp`` (``subscribe``: without a
    notification client the permission is ``Denied`` and the request is rejected)."""
    tab, app = P["safari_ios"], P["safari_ios_webapp"]
    state = new_install(tab)
    start_session(state, tab, 0.0)
    assert os_dialog_unavailable(state, tab, 0.0) == "needs_home_screen"
    for pol in (PRIMED, COLD):
        d = decide(state, tab, pol, APP_OPEN, 0.0)
        assert (d.show, d.reason) == (False, "needs_home_screen")
        assert next_chance(state, tab, pol, 0.0) is None
    assert state.permission == "not_determined" and state.dialogs_shown == 0
    state = new_install(app)
    start_session(state, app, 0.0)
    d = decide(state, app, PRIMED, APP_OPEN, 0.0)
    assert (d.show, d.action) == (True, "os_dialog")
    cold = decide(state, app, COLD, APP_OPEN, 0.0)
    assert (cold.show, cold.reason) == (False, "needs_user_gesture")


@pytest.mark.parametrize("name", ["safari", "safari_ios_webapp"])
def test_safari_one_click_buys_one_request(name: str) -> None:
    """Safari spends the user gesture on the request: one click on the soft prompt opens one
    dialog; a second request from the same click (the page asked twice, or awaited
    something first and the activation was gone) is refused until the user clicks again,
    and a new page view starts without a gesture. Chrome does not consume it.

    Source: WebKit/WebKit ``Source/WebCore/Modules/push-api/PushManager.cpp``
    (``PushManager::subscribe``: with the permission ``Default``,
    ``if (!window || !window->consumeTransientActivation())`` rejects with
    "Push notification prompting can only be done from a user gesture." before
    ``client->requestPermission``)."""
    p = P[name]
    assert p.gesture_per_request and not P["chrome"].gesture_per_request
    state = new_install(p)
    start_session(state, p, 0.0)
    assert dialog_request_refused(state, p) == "needs_user_gesture"  # no click yet
    record_click(state, "soft")
    assert dialog_request_refused(state, p) is None
    apply_dialog_request(state, p)
    apply_dialog_result(state, p, "dismissed", 0.001)  # closed: Safari may ask again
    assert dialog_request_refused(state, p) == "needs_user_gesture"  # the click is spent
    record_click(state, "soft")
    assert dialog_request_refused(state, p) is None
    start_session(state, p, 1.0)
    assert dialog_request_refused(state, p) == "needs_user_gesture"  # a new page view
    chrome = P["chrome"]
    state = new_install(chrome)
    apply_dialog_request(state, chrome)
    apply_dialog_result(state, chrome, "dismissed", 0.001)
    assert dialog_request_refused(state, chrome) is None
