"""The API says which of Chrome's prompts a request opens, and refuses without a prompt what
Chrome refuses (issue 24, the Chrome part), in-process on SQLite and PostgreSQL. The rules
and their Chromium sources are in ``tests/rules/test_chrome_sources.py``."""

from __future__ import annotations

from service_helpers import T0, eligible, ev, install, once_campaign


def test_eligibility_and_dialog_answers_name_chrome_prompt(api):
    """A Chrome device's eligibility answer and its ``os_dialog_result`` batch say ``loud``,
    with ``quiet_ui`` ``quiet``; an Android device's say nothing (the field is absent, so
    older clients read the same answers). Chromium
    ``components/permissions/permission_request_manager.cc``
    (``ShouldCurrentRequestUseQuietUI``)."""
    once_campaign(api)
    for device, fields, want in (("c1", {"browser": "chrome"}, "loud"),
                                 ("q1", {"browser": "chrome", "quiet_ui": True}, "quiet"),
                                 ("a1", {"platform": "android"}, None)):
        install(api, device, **({"platform": "web"} | fields))
        d = eligible(api, device)
        assert d["show"] and d["action"] == "os_dialog" and d.get("prompt_ui") == want, d
        r = api.post(f"/v1/devices/{device}/events", {"events": [
            ev("soft_prompt_clicked", T0 + 11, campaign_id="welcome"),
            ev("os_dialog_result", T0 + 12, outcome="dismissed")]})
        assert r.status_code == 200, r.text
        assert r.json().get("prompt_ui") == want, r.json()
        plain = api.post(f"/v1/devices/{device}/events",
                         {"events": [ev("session_start", T0 + 13)]})
        assert "prompt_ui" not in plain.json()  # no dialog answered in this batch


def test_cross_origin_iframe_and_incognito_requests_store_nothing(api):
    """``cross_origin_iframe`` and ``incognito`` on the eligibility request: Chrome denies
    without a prompt (Chromium ``chrome/browser/notifications/
    notification_permission_context.cc``, ``DecidePermission``), so no prompt is offered, no
    impression is reserved and the device is unchanged; a normal request then shows it.
    Either field with a value that is not a boolean is a 422 naming it."""
    once_campaign(api)
    install(api, "c1", platform="web", browser="chrome")
    before = api.get("/v1/devices/c1").json()
    for field in ("cross_origin_iframe", "incognito"):
        d = eligible(api, "c1", **{field: True})
        assert d == {"show": False, "reason": field}, d
        assert api.get("/v1/devices/c1").json() == before
        bad = api.post("/v1/devices/c1/eligibility", {"trigger": "app_open", "at": T0 + 10,
                                                      field: "yes"})
        assert bad.status_code == 422, bad.text
        body = bad.json()
        assert body["field"] == field and body["error"] and body["detail"], body
    d = eligible(api, "c1", cross_origin_iframe=False, incognito=False)
    assert d["show"] and d["prompt_ui"] == "loud"


def test_site_reputation_answers_quiet_with_the_loud_chance(api):
    """An app whose site is on Chrome's crowd-deny list (``PUT /v1/settings``
    ``site_reputation``): eligibility answers ``prompt_ui: quiet`` with ``loud_chance: 0.3``
    (Chrome's control group draw, which the page cannot see: never a guess of it). An
    ``os_dialog_result`` may say which prompt the user answered: a quiet dismissal embargoes
    the origin at once (Chrome's quiet threshold, 1), a loud one does not; absent, the
    announced (quiet) prompt is counted. A prompt Chrome cannot open for this app is a 409
    naming the field; another value a 422. Chromium
    ``chrome/browser/permissions/contextual_notification_permission_ui_selector.cc``
    (``ShouldHoldBackQuietUI``) and ``components/permissions/permission_decision_auto_blocker.h``
    (``dismissed_prompt_was_quiet``)."""
    r = api.put("/v1/settings", {"site_reputation": "crowd_deny"})
    assert r.status_code == 200, r.text
    assert api.get("/v1/settings").json()["site_reputation"] == "crowd_deny"
    once = {"trigger": {"type": "app_open"}, "frequency": {"type": "every_time"}}
    assert api.put("/v1/campaigns/soft", once).status_code in (200, 201)
    for device, said, embargoed in (("loud", "loud", False), ("quiet", "quiet", True),
                                    ("unsaid", None, True)):
        install(api, device, platform="web", browser="chrome")
        d = eligible(api, device)
        assert (d["prompt_ui"], d["loud_chance"]) == ("quiet", 0.3), d
        result = ev("os_dialog_result", T0 + 12, outcome="dismissed")
        if said is not None:
            result["prompt_ui"] = said
        r = api.post(f"/v1/devices/{device}/events", {"events": [
            ev("soft_prompt_clicked", T0 + 11, campaign_id="soft"), result]})
        assert r.status_code == 200, r.text
        assert r.json()["prompt_ui"] == (said or "quiet"), r.json()
        assert (eligible(api, device, at=T0 + 20)["reason"] == "embargoed") == embargoed
    r = api.post("/v1/devices/loud/events", {"events": [
        ev("os_dialog_result", T0 + 30, outcome="dismissed", prompt_ui="bubble")]})
    assert r.status_code == 422 and r.json()["field"].endswith("prompt_ui"), r.text
    assert api.put("/v1/settings", {"site_reputation": "abusive_prompts"}).status_code == 200
    d = eligible(api, "loud", at=T0 + 40)
    assert d["prompt_ui"] == "quiet" and "loud_chance" not in d, d  # certain: no hold-back
    r = api.post("/v1/devices/loud/events", {"events": [
        ev("os_dialog_result", T0 + 41, outcome="dismissed", prompt_ui="loud")]})
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["field"] == "events[0].prompt_ui" and body["error"] == "unsupported_prompt_ui"
    bad = api.put("/v1/settings", {"site_reputation": "spammy"})
    assert bad.status_code == 422 and bad.json()["field"] == "site_reputation", bad.text


def test_webapk_registration_follows_android_dialog(api):
    """A Chrome registration with ``webapk: true`` and Android ``os_version`` 13+ resolves to
    ``chrome_webapk``: Android's dialog (two denials, no embargo, no ``prompt_ui``); below 13
    it stays ``chrome``. ``webapk`` without ``os_version``, or on another browser, is a 422
    naming the field. Chromium ``chrome/browser/notifications/notification_permission_context.cc``
    (``DecidePermission``: ``SDK_VERSION_T`` and an installed WebAPK)."""
    once_campaign(api, frequency={"type": "every_time"})
    out = install(api, "w1", platform="web", browser="chrome", webapk=True, os_version=14)
    assert out["profile"] == "chrome_webapk" and out["webapk"] is True, out
    assert out["dialogs_left"] == 2
    old = install(api, "w2", platform="web", browser="chrome", webapk=True, os_version=12)
    assert old["profile"] == "chrome"
    d = eligible(api, "w1")
    assert d["show"] and d["action"] == "os_dialog" and "prompt_ui" not in d, d
    r = api.post("/v1/devices/w1/events", {"events": [
        ev("soft_prompt_clicked", T0 + 11, campaign_id="welcome"),
        ev("os_dialog_result", T0 + 12, outcome="dismissed"),
        ev("os_dialog_result", T0 + 13, outcome="dismissed"),
        ev("os_dialog_result", T0 + 14, outcome="dismissed"),
        ev("os_dialog_result", T0 + 15, outcome="denied")]})
    assert r.status_code == 200, r.text
    assert r.json()["dialogs_left"] == 1 and "prompt_ui" not in r.json(), r.json()
    assert eligible(api, "w1", at=T0 + 20)["action"] == "os_dialog"  # no embargo
    for fields, field in (({"browser": "chrome", "webapk": True}, "os_version"),
                          ({"browser": "firefox_android", "webapk": True, "os_version": 14},
                           "webapk"),
                          ({"browser": "chrome", "webapk": "yes", "os_version": 14}, "webapk")):
        r = api.post("/v1/devices", {"device_id": "bad", "user_id": "u1", "platform": "web",
                                     "at": T0} | fields)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field, r.json()


def _answer(api, device, at, outcome):
    r = api.post(f"/v1/devices/{device}/events", {"events": [
        ev("soft_prompt_clicked", at - 1, campaign_id="welcome"),
        ev("os_dialog_result", at, outcome=outcome)]})
    assert r.status_code == 200, r.text


def test_adaptive_quiet_ui_counts_one_browser_across_the_apps_origins(api):
    """Installs registered with the same ``browser_id`` (the app's origins opened in one
    Chrome) share Chrome's adaptive quiet UI: 3 denials in a row across them, within 90
    days, turn the quiet prompt on for every install of that browser, and it stays on after
    a later allow; dismissals are skipped; another browser is not touched (each answer is
    stored once: ``test_browser_answers_are_stored_once_each``). ``browser_id`` off Chrome,
    or not an id, is a 422 naming it.
    Chromium ``chrome/browser/permissions/adaptive_quiet_notification_permission_ui_enabler.cc``
    (``DidDenyLastThreeTimes``, ``PermissionPromptResolved``: the pref is set once and
    never cleared there)."""
    once_campaign(api, frequency={"type": "every_time"})
    for device, browser in (("o1", "b1"), ("o2", "b1"), ("o3", "b1"), ("o4", "b1"),
                            ("p1", "b2")):
        install(api, device, platform="web", browser="chrome", browser_id=browser)
    assert eligible(api, "o1")["prompt_ui"] == "loud"
    _answer(api, "o1", T0 + 12, "denied")
    _answer(api, "o2", T0 + 20, "dismissed")  # skipped
    _answer(api, "o2", T0 + 21, "denied")
    _answer(api, "p1", T0 + 22, "denied")  # another browser
    assert eligible(api, "o3", at=T0 + 30)["prompt_ui"] == "loud"  # two denials in a row
    _answer(api, "o3", T0 + 31, "denied")
    assert eligible(api, "o4", at=T0 + 40)["prompt_ui"] == "quiet"  # the third: on
    _answer(api, "o4", T0 + 41, "allowed")
    install(api, "o5", platform="web", browser="chrome", browser_id="b1", at=T0 + 50)
    d = eligible(api, "o5", at=T0 + 51)
    assert d["prompt_ui"] == "quiet", d  # an allow does not turn it off
    install(api, "p2", platform="web", browser="chrome", browser_id="b2", at=T0 + 60)
    assert eligible(api, "p2", at=T0 + 61)["prompt_ui"] == "loud"
    for fields in ({"platform": "android", "os_version": 14, "browser_id": "b1"},
                   {"platform": "web", "browser": "safari", "browser_id": "b1"},
                   {"platform": "web", "browser": "chrome", "browser_id": "a b"}):
        r = api.post("/v1/devices", {"device_id": "bad", "user_id": "u1", "at": T0} | fields)
        assert r.status_code == 422 and r.json()["field"] == "browser_id", r.text
