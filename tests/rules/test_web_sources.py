"""Web rules read against the browsers' and the web SDKs' own code (issue 24, the web part).

Each test states one rule and names its source by repository and path. Where the sources
disagree the rule is a profile setting (``docs/platform-settings.md``), and the test checks
the default and the other reading one switch away.
"""

from __future__ import annotations

import msgspec
import pytest

from sim.rules.config.campaigns import (
    ONESIGNAL_SLIDEDOWN_GAPS,
    Campaign,
    GapList,
    Policy,
    TriggerFired,
    every_time,
    gap_list,
    onesignal_slidedown,
)
from sim.rules.config.platforms import (
    DEFAULT_PROFILES,
    REPORTS,
    override_profiles,
    resolve_profile,
)
from sim.rules.decision import (
    decide,
    next_chance,
    record_click,
    record_dismissal,
    record_impression,
    start_session,
)
from sim.rules.native import PolicyRules, ProfileRules
from sim.rules.permission import (
    DeviceState,
    apply_clear_data,
    apply_dialog_result,
    dialogs_left,
    is_blocked,
    new_install,
)

P = {n: ProfileRules(p) for n, p in DEFAULT_PROFILES.items()}
APP_OPEN = TriggerFired(trigger="app_open")
SLIDEDOWN = PolicyRules(Policy(campaigns=(Campaign(id="slidedown",
                                                   frequency=onesignal_slidedown()),)))


def visit(state: DeviceState, profile: ProfileRules, now: float,
          policy: PolicyRules = SLIDEDOWN) -> str:
    """A page view at ``now`` (days): a new session and the slidedown's decision; an
    impression is recorded as the simulator and the service record it."""
    start_session(state, profile, now)
    d = decide(state, profile, policy, APP_OPEN, now)
    if d.show:
        record_impression(state, d.campaign_id or "", now)
    return d.reason


# --- 1. OneSignal's web slidedown back-off --------------------------------------------

def test_onesignal_slidedown_waits_3_then_7_then_30_days_after_each_dismissal() -> None:
    """After the 1st dismissal the slidedown waits 3 days, after the 2nd 7, after the 3rd
    and every later one 30; the count is never reset, and the wait counts from the
    dismissal.

    Source: OneSignal/OneSignal-Website-SDK ``src/shared/helpers/dismiss.ts``
    (``markPromptDismissedWithType``: ``dismissCount += 1``; ``dismissDays = 3``, ``7`` when
    the count is 2, ``30`` when it is above 2; stored with ``setItem(timeKey, 'dismissed',
    dismissMinutes)``, an expiring entry that ``wasPromptOfTypeDismissed`` reads; nothing
    lowers the count)."""
    assert onesignal_slidedown() == GapList(gaps=(3.0, 7.0, 30.0))
    assert ONESIGNAL_SLIDEDOWN_GAPS == (3.0, 7.0, 30.0)
    chrome = P["chrome"]
    state = new_install(chrome)
    waits = []
    t = 0.0
    for _ in range(5):
        assert visit(state, chrome, t) == "eligible"
        dismissed_at = t + 0.01  # the user dismisses it a quarter of an hour later
        record_dismissal(state, "slidedown", dismissed_at)
        chance = next_chance(state, chrome, SLIDEDOWN, dismissed_at)
        assert chance is not None
        wait = round(chance - dismissed_at, 6)
        waits.append(wait)
        assert visit(state, chrome, dismissed_at + wait - 0.001) == "gap_not_elapsed"
        t = dismissed_at + wait
    assert waits == [3.0, 7.0, 30.0, 30.0, 30.0]


def test_onesignal_slidedown_shown_but_not_dismissed_shows_again_at_once() -> None:
    """Only a dismissal starts a wait: a slidedown the user left alone (or clicked, then
    closed the browser's own prompt) shows again on the next page view, and a wait that
    has passed is not renewed by such an impression.

    Source: OneSignal/OneSignal-Website-SDK ``src/shared/helpers/dismiss.ts``: the wait is
    the expiring entry that only ``markPromptDismissedWithType`` writes."""
    chrome = P["chrome"]
    state = new_install(chrome)
    assert visit(state, chrome, 0.0) == "eligible"
    assert visit(state, chrome, 0.001) == "eligible"  # not dismissed: no wait
    record_dismissal(state, "slidedown", 0.002)
    assert visit(state, chrome, 3.0) == "gap_not_elapsed"
    assert visit(state, chrome, 3.002) == "eligible"
    record_click(state, "slidedown")  # clicked: the browser's prompt, dismissed there
    assert visit(state, chrome, 3.01) == "eligible"


def test_a_gap_list_is_a_frequency_of_its_own_with_any_gaps() -> None:
    """``gap_list`` takes any list of gaps (the last repeats), from scenario TOML and the API's
    JSON alike; an empty list or a gap under a second is refused. Clearing the site's data
    (OneSignal's IndexedDB and local storage go with it) starts the count again."""
    camp = msgspec.convert({"id": "s", "frequency": {"type": "gap_list", "gaps": [1, 2]}},
                           Campaign)
    assert camp.frequency == gap_list([1.0, 2.0])
    assert msgspec.convert({"id": "s", "frequency": {"type": "gap_list"}},
                           Campaign).frequency == onesignal_slidedown()
    for bad in ([], [0.0], [1.0] * 33):
        with pytest.raises(msgspec.ValidationError, match="gaps"):
            msgspec.convert({"id": "s", "frequency": {"type": "gap_list", "gaps": bad}},
                            Campaign)
    chrome = P["chrome"]
    pol = PolicyRules(Policy(campaigns=(Campaign(id="slidedown", frequency=camp.frequency),)))
    state = new_install(chrome)
    for t in (0.0, 1.0, 3.0):
        assert visit(state, chrome, t, pol) == "eligible"
        record_dismissal(state, "slidedown", t)
    assert visit(state, chrome, 4.9, pol) == "gap_not_elapsed"  # 2 days, the last, repeats
    apply_clear_data(state, chrome)
    assert visit(state, chrome, 4.9, pol) == "eligible"


# --- 2. Firefox for the desktop and for Android -----------------------------------------

COLD = PolicyRules(Policy(campaigns=(Campaign(id="native", primer=False,
                                              frequency=every_time()),)))
PRIMED = PolicyRules(Policy(campaigns=(Campaign(id="soft", frequency=every_time()),)))


@pytest.mark.parametrize("name", ["firefox", "firefox_android"])
def test_firefox_shows_no_prompt_without_a_gesture_and_stores_nothing(name: str) -> None:
    """Firefox 72+ opens its notification prompt only from a user gesture. Without one the
    desktop cancels the request (the page gets ``default``, nothing is stored) and shows
    the address-bar icon, whose Allow / Always block are stored permanently (over the API,
    a ``permission_changed``); Firefox for Android refuses the request outright. A tap on
    the soft prompt is a gesture: the prompt opens.

    Sources: mozilla/gecko-dev ``browser/modules/PermissionUI.sys.mjs`` (``prompt()``: when
    ``requiresUserInput`` and the request has no ``hasValidTransientUserGestureActivation``,
    ``postPrompt()`` then ``cancel()``; ``DesktopNotificationPermissionPrompt`` reads
    ``dom.webnotifications.requireuserinteraction`` and
    ``permissions.desktop-notification.postPrompt.enabled``; post-prompt answers use
    ``SCOPE_PERSISTENT``), mozilla/gecko-dev ``browser/app/profile/firefox.js``
    (``postPrompt.enabled`` true), SAP/project-foxhound
    ``mobile/shared/components/geckoview/GeckoViewPermission.sys.mjs`` ("We need user
    interaction and don't have it": ``return { allow: false }``)."""
    p = P[name]
    assert p.requires_user_gesture
    state = new_install(p)
    start_session(state, p, 0.0)
    cold = decide(state, p, COLD, APP_OPEN, 0.0)
    assert (cold.show, cold.reason) == (False, "needs_user_gesture")
    assert next_chance(state, p, COLD, 0.0) is None
    assert state.permission == "not_determined" and state.dialogs_shown == 0
    primed = decide(state, p, PRIMED, APP_OPEN, 0.0)
    assert (primed.show, primed.action) == (True, "os_dialog")


@pytest.mark.parametrize("name", ["firefox", "firefox_android"])
def test_firefox_has_no_embargo_and_no_not_now_button(name: str) -> None:
    """Firefox keeps no count of dismissals or ignores (no embargo, unlike Chrome's 3 / 4), and
    its prompt hides "Not now": it offers Allow and Always block only, so a user who would
    have dismissed it leaves it unanswered -- the answer counts as an ignore, and the site
    may ask again at once. With the pref on (``not_now_button = true``) the dismissal is
    counted as one, still without an embargo.

    Sources: mozilla/gecko-dev ``browser/app/profile/firefox.js``
    (``pref("permissions.desktop-notification.notNow.enabled", false)``) and
    ``browser/modules/PermissionUI.sys.mjs`` (``DesktopNotificationPermissionPrompt
    .promptActions``: the "Not now" action only ``if (this.notNowEnabled)``; Allow and
    Always block with ``SCOPE_PERSISTENT``); no Firefox code path keeps an embargo
    (``PermissionUI.sys.mjs`` reads only the stored permission)."""
    p = P[name]
    assert p.embargo_dismissals is None and p.embargo_ignores is None and not p.not_now_button
    state = new_install(p)
    for day in range(10):
        start_session(state, p, float(day))
        assert decide(state, p, PRIMED, APP_OPEN, float(day)).action == "os_dialog"
        apply_dialog_result(state, p, "dismissed", float(day))
    assert (state.dismissals, state.ignores, state.embargo_until) == (0, 10, None)
    assert dialogs_left(state, p) is None
    apply_dialog_result(state, p, "denied", 10.0)  # Always block: permanent
    assert is_blocked(state, p)
    assert decide(state, p, PRIMED, APP_OPEN, 400.0).action == "instructions"
    on = ProfileRules(override_profiles(DEFAULT_PROFILES,
                                        {name: {"not_now_button": True}})[name])
    state = new_install(on)
    apply_dialog_result(state, on, "dismissed", 0.0)
    assert (state.dismissals, state.ignores, state.embargo_until) == (1, 0, None)


def test_firefox_for_android_is_its_own_browser_in_the_registration() -> None:
    """A web install says ``browser = "firefox_android"`` for Firefox for Android (Fenix on
    GeckoView, whose prompts are GeckoView's); ``firefox`` stays Firefox for the desktop, so
    registrations made before this profile existed resolve as they did."""
    assert resolve_profile("web", browser="firefox_android") == "firefox_android"
    assert resolve_profile("web", browser="firefox") == "firefox"
    assert REPORTS["firefox_android"].profile() == "firefox_android"
    with pytest.raises(ValueError, match="quiet_ui"):
        resolve_profile("web", browser="firefox_android", quiet_ui=True)
