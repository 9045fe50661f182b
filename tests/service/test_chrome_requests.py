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
