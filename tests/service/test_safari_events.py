"""The API says what issue 24's Safari rules need, in-process on SQLite and PostgreSQL: a
Safari tab on iOS has no prompt and says why, and one click buys one dialog request. The
rules and their sources are in ``tests/rules/test_safari_sources.py``."""

from __future__ import annotations

from service_helpers import T0, eligible, ev, install, once_campaign


def test_a_safari_tab_on_ios_answers_needs_home_screen(api):
    """``browser = "safari_ios"`` resolves to a profile without web push: the decision is
    ``needs_home_screen``; the same page as a Home Screen web app (iOS 16.4+) is eligible,
    and a Home Screen web app on iOS 16.3 is a tab again (WebKit blog 13878)."""
    once_campaign(api)
    assert install(api, "t1", platform="web", browser="safari_ios",
                   os_version=18)["profile"] == "safari_ios"
    assert eligible(api, "t1") == {"show": False, "reason": "needs_home_screen"}
    assert install(api, "w1", platform="web", browser="safari_ios_webapp",
                   os_version=16.4)["profile"] == "safari_ios_webapp"
    d = eligible(api, "w1")
    assert (d["show"], d["action"]) == (True, "os_dialog")
    assert install(api, "o1", platform="web", browser="safari_ios_webapp",
                   os_version=16.3)["profile"] == "safari_ios"


def test_safari_second_request_from_one_click_is_409(api):
    """Safari: ``os_dialog_requested`` needs a ``soft_prompt_clicked`` not yet spent; a second
    request from the same click is 409 ``needs_user_gesture`` and nothing in the batch
    applies; a new click buys one more (WebKit ``PushManager.cpp``,
    ``consumeTransientActivation``)."""
    once_campaign(api, "soft", frequency={"type": "every_time"})
    install(api, "s1", platform="web", browser="safari")
    path = "/v1/devices/s1/events"
    first = api.post(path, {"events": [ev("os_dialog_requested", T0 + 1)]})
    assert first.status_code == 409 and first.json()["error"] == "needs_user_gesture"
    ok = api.post(path, {"events": [ev("soft_prompt_clicked", T0 + 2, campaign_id="soft"),
                                    ev("os_dialog_requested", T0 + 3),
                                    ev("os_dialog_result", T0 + 4, outcome="dismissed")]})
    assert ok.status_code == 200, ok.text
    again = api.post(path, {"events": [ev("session_start", T0 + 5, "kept-out"),
                                       ev("os_dialog_requested", T0 + 5)]})
    assert again.status_code == 409
    assert again.json()["error"] == "needs_user_gesture"
    assert again.json()["field"] == "events[1]"
    view = api.get("/v1/devices/s1").json()["state"]
    assert view["sessions"] == 1 and view["user_gesture"] is False  # all or nothing
    clicked = api.post(path, {"events": [ev("soft_prompt_clicked", T0 + 6, campaign_id="soft"),
                                         ev("os_dialog_requested", T0 + 7)]})
    assert clicked.status_code == 200, clicked.text


def test_allow_in_scheduled_summary_is_a_dialog_answer(api):
    """iOS's "Allow in Scheduled Summary" (Scheduled Summary on, iOS 15+) is an
    ``os_dialog_result`` ``allowed`` with ``summary: true``: the install is granted and the
    device view says ``scheduled_summary`` (delivery waits for the summary); a plain allow
    says false. ``summary`` with another outcome is a 422, off iOS a 409, both naming the
    field. Source standing as ``tests/sim/test_scheduled_summary.py`` says (the third answer
    is issue 24's report)."""
    once_campaign(api)
    for device, summary in (("i1", True), ("i2", False)):
        install(api, device, platform="ios")
        assert eligible(api, device)["action"] == "os_dialog"
        r = api.post(f"/v1/devices/{device}/events", {"events": [
            ev("soft_prompt_clicked", T0 + 11, campaign_id="welcome"),
            ev("os_dialog_result", T0 + 12, outcome="allowed", summary=summary)]})
        assert r.status_code == 200 and r.json()["permission"] == "granted", r.text
        view = api.get(f"/v1/devices/{device}").json()
        assert view["scheduled_summary"] is summary, view
    install(api, "i3", platform="ios")
    bad = api.post("/v1/devices/i3/events", {"events": [
        ev("os_dialog_result", T0 + 12, outcome="denied", summary=True)]})
    assert bad.status_code == 422 and bad.json()["field"] == "events[0].summary", bad.text
    install(api, "a1", platform="android", os_version=14)
    off = api.post("/v1/devices/a1/events", {"events": [
        ev("os_dialog_result", T0 + 12, outcome="allowed", summary=True)]})
    assert off.status_code == 409 and off.json()["field"] == "events[0].summary", off.text
