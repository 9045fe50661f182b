"""Every error class answers a 4xx with exactly ``{"error", "field", "detail"}``.

Bad input never half-applies: a rejected batch leaves the device as it was.
"""

from __future__ import annotations

import pytest
from service_helpers import T0, ev, install, once_campaign

UNAUTH = "send 'Authorization: Bearer KEY' with the API key of your app"


def test_bad_json_is_400(api):
    install(api)
    r = api.post("/v1/devices/d1/events", content=b'{"events": [', headers={
        "content-type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_json", "field": None,
                        "detail": "the body is not valid JSON: it ends too soon (after 12 "
                                  "bytes); send one whole JSON object"}
    empty = api.post("/v1/devices/d1/eligibility", content=b"")
    assert empty.json() == {"error": "invalid_json", "field": None,
                            "detail": "the body is empty; send a JSON object"}


@pytest.mark.parametrize(("key", "detail"), [
    ("", f"missing credentials; {UNAUTH}"),
    ("not-a-key", f"unknown API key; {UNAUTH}"),
])
def test_bad_auth_is_401(service, key, detail):
    r = service.get("/v1/campaigns", key=key)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json() == {"error": "unauthorized", "field": None, "detail": detail}


def test_malformed_authorization_and_admin_key(service):
    r = service.get("/v1/campaigns", headers={"Authorization": "Basic abc"})
    assert r.json() == {"error": "unauthorized", "field": None,
                        "detail": f"malformed credentials; {UNAUTH}"}
    app_key = service.new_app().key
    r = service.post("/v1/apps", {"name": "x"}, key=app_key)
    assert r.status_code == 401
    assert r.json()["detail"].startswith("this endpoint needs the admin key")


def test_unknown_ids_are_404(api):
    once_campaign(api)
    cases = {
        "/v1/devices/nope": ("unknown_device", "device_id", "no device 'nope' in this app"),
        "/v1/campaigns/nope": ("unknown_campaign", "campaign_id",
                               "no campaign 'nope' in this app"),
        "/v1/campaigns/nope/stats": ("unknown_campaign", "campaign_id",
                                     "no campaign 'nope' in this app"),
        "/v1/users/nope/reachability": ("unknown_user", "user_id", "no user 'nope' in this app"),
    }
    for path, (code, field, detail) in cases.items():
        r = api.get(path)
        assert r.status_code == 404, path
        assert r.json() == {"error": code, "field": field, "detail": detail}
    r = api.post("/v1/devices/nope/eligibility", {"trigger": "app_open", "at": T0})
    assert r.status_code == 404
    r = api.post("/v1/devices/nope/events", {"events": [ev("session_start")]})
    assert r.json() == {"error": "unknown_device", "field": "device_id",
                        "detail": "no device 'nope' in this app"}
    r = api.get("/v2/whatever")
    assert r.json() == {"error": "not_found", "field": None, "detail": "no route /v2/whatever; "
                        "the paths are listed in /openapi.json, /docs and /redoc"}


def test_unknown_campaign_in_event_is_404_and_nothing_applied(api):
    install(api)
    r = api.post("/v1/devices/d1/events", {"events": [
        ev("session_start", T0 + 1), ev("soft_prompt_clicked", T0 + 2, campaign_id="ghost")]})
    assert r.status_code == 404
    assert r.json() == {"error": "unknown_campaign", "field": "events[1].campaign_id",
                        "detail": "no campaign 'ghost' in this app"}
    assert api.get("/v1/devices/d1").json()["state"]["sessions"] == 1


def test_wrong_method_is_405(api):
    r = api.request("DELETE", "/v1/devices/d1")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD"
    assert r.json() == {"error": "method_not_allowed", "field": None,
                        "detail": "DELETE is not allowed on /v1/devices/d1; allowed: GET, HEAD"}
    r = api.request("POST", "/v1/settings", {})
    assert r.json()["detail"] == "POST is not allowed on /v1/settings; allowed: GET, HEAD, PUT"


def test_path_templates_match_whole_non_empty_segments(api):
    install(api)
    assert api.get("/v1/devices/d1/").status_code == 200  # a trailing slash is tolerated
    assert api.get("/healthz/").status_code == 404  # not on fixed paths
    for path in ("/v1/devices//eligibility", "/v1/devices/d1/eligibility/more",
                 "/v1/devicesX/d1"):
        r = api.post(path, {"trigger": "app_open", "at": T0})
        assert r.status_code == 404, path
        assert r.json()["error"] == "not_found", path


def test_os_dialog_past_the_limit_is_409_and_the_batch_is_not_applied(api):
    """Android 13+: two denials end the dialog; a third answer is impossible."""
    install(api)
    r = api.post("/v1/devices/d1/events", {"events": [
        ev("session_start", T0 + 1, "s-a"),
        ev("os_dialog_result", T0 + 2, outcome="denied"),
        ev("os_dialog_result", T0 + 3, outcome="denied"),
        ev("os_dialog_result", T0 + 4, outcome="denied")]})
    assert r.status_code == 409
    assert r.json() == {
        "error": "no_dialog_left", "field": "events[3]",
        "detail": "this device cannot see an OS dialog now (profile android13, permission "
                  "denied, denials 2); allowed: os_dialog_result only while dialogs_left is "
                  "not 0; nothing in the batch was applied"}
    dev = api.get("/v1/devices/d1").json()
    assert dev["state"]["denials"] == 0 and dev["state"]["sessions"] == 1
    assert dev["dialogs_left"] == 2
    # nothing was stored either: the same ids are new when sent again without the 3rd answer
    ok = api.post("/v1/devices/d1/events", {"events": [ev("session_start", T0 + 1, "s-a")]})
    assert ok.json()["new"] == 1


def test_dialog_on_an_opt_out_platform_is_409(api):
    install(api, "a12", os_version=12)
    r = api.post("/v1/devices/a12/events", {"events": [ev("os_dialog_result",
                                                          outcome="allowed")]})
    assert r.status_code == 409
    assert r.json()["field"] == "events[0]"


def test_device_exists_is_409(api):
    install(api)
    r = api.post("/v1/devices", {"device_id": "d1", "user_id": "u1", "platform": "ios",
                                 "at": T0})
    assert r.status_code == 409
    assert r.json() == {"error": "device_exists", "field": "device_id",
                        "detail": "device 'd1' is already registered; report a reinstall as "
                                  "a 'reinstalled' event"}


def test_the_same_registration_sent_again_is_200(api):
    """A resend after 503 ``outcome_unknown`` (the first may be stored) is safe: the same
    body answers 200 with the device it made; another body for that id stays 409."""
    body = {"device_id": "d7", "user_id": "u7", "platform": "ios", "at": T0}
    first = api.post("/v1/devices", body)
    assert first.status_code == 201
    again = api.post("/v1/devices", body)
    assert again.status_code == 200 and again.json() == first.json()
    assert api.post("/v1/devices", body | {"at": T0 + 1}).status_code == 409


def test_an_eligibility_asked_again_answers_its_reservation(api):
    """A question resent with its ``request_id`` (after a 503 ``outcome_unknown``, when the
    first try may have reserved) answers the reserved decision again instead of
    ``show: false`` for a once-only prompt; a new question is decided afresh."""
    once_campaign(api)
    install(api)
    ask = {"trigger": "app_open", "at": T0 + 10, "request_id": "q-1"}
    first = api.post("/v1/devices/d1/eligibility", ask)
    assert first.status_code == 200 and first.json()["show"]
    again = api.post("/v1/devices/d1/eligibility", ask)
    assert again.status_code == 200 and again.json() == first.json()
    other = api.post("/v1/devices/d1/eligibility", ask | {"request_id": "q-2"})
    assert other.status_code == 200 and not other.json()["show"]
    assert api.get("/v1/campaigns/welcome/stats").json()["impressions"] == 1


def test_oversized_body_is_413(api):
    install(api)
    big = b'{"events": [' + b" " * (1 << 20) + b"]}"
    r = api.post("/v1/devices/d1/events", content=big)
    assert r.status_code == 413
    assert r.json() == {"error": "body_too_large", "field": None,
                        "detail": "the body exceeds 1048576 bytes; send at most 1048576 bytes "
                                  "(split event batches)"}


def test_oversized_batch_is_413(api):
    install(api)
    r = api.post("/v1/devices/d1/events", {"events": [ev("session_time", seconds=1)
                                                      for _ in range(501)]})
    assert r.status_code == 413
    assert r.json() == {"error": "batch_too_large", "field": "events",
                        "detail": "501 events in one batch; send at most 500"}
    assert api.get("/v1/devices/d1").json()["state"]["sessions"] == 1


@pytest.mark.parametrize(("body", "expected"), [
    ({"trigger": "app_open", "at": T0, "colour": 1},
     {"error": "unknown_field", "field": "colour",
      "detail": "unknown field 'colour'; allowed fields: trigger, event_name, session_seconds, "
                "cross_origin_iframe, incognito, at, request_id"}),
    ({"trigger": 5, "at": T0},
     {"error": "wrong_type", "field": "trigger",
      "detail": "got an integer; allowed: one of app_open, event, programmatic, "
                "session_time"}),
    ({"at": T0},
     {"error": "missing_field", "field": "trigger",
      "detail": "required field 'trigger' is missing; expected one of app_open, event, "
                "programmatic, session_time"}),
    ({"trigger": "app_open", "session_seconds": -1, "at": T0},
     {"error": "invalid_value", "field": "session_seconds",
      "detail": "-1 is not allowed; allowed: a number >= 0 and <= 86400.0 or null"}),
    ([1, 2],
     {"error": "wrong_type", "field": None,
      "detail": "got a list; allowed: an object with fields trigger, event_name, "
                "session_seconds, cross_origin_iframe, incognito, at, request_id "
                "(required: trigger)"}),
])
def test_eligibility_validation_is_422(api, body, expected):
    install(api)
    r = api.post("/v1/devices/d1/eligibility", body)
    assert r.status_code == 422
    assert r.json() == expected


def test_client_clock_needs_at(api):
    """``at`` is optional in the API (server-clock apps ignore it) but a client-clock app
    needs it: 409, the request fits the API but not this app."""
    install(api)
    r = api.post("/v1/devices/d1/eligibility", {"trigger": "app_open"})
    assert r.status_code == 409
    assert r.json() == {"error": "at_required", "field": "at",
                        "detail": "this app uses the client clock: 'at' (Unix seconds or "
                                  "RFC 3339) is required"}


def test_event_validation_names_the_event(api):
    install(api)
    r = api.post("/v1/devices/d1/events", {"events": [ev("session_start"),
                                                      ev("os_dialog_result", outcome="maybe")]})
    assert r.status_code == 422
    assert r.json() == {"error": "invalid_value", "field": "events[1].outcome",
                        "detail": "\"maybe\" is not allowed; allowed: one of allowed, denied, "
                                  "dismissed, ignored"}
    r = api.post("/v1/devices/d1/events", {"events": [{"type": "teleported", "event_id": "x",
                                                       "at": T0}]})
    assert r.json()["field"] == "events[0].type"
    assert r.json()["detail"].startswith("\"teleported\" is not allowed; allowed: one of "
                                         "session_start, session_time, custom_event")
    r = api.post("/v1/devices/d1/events", {"events": [ev("session_start", extra=1)]})
    assert r.json()["error"] == "unknown_field"
    assert r.json()["field"] == "events[0].extra"
    assert r.json()["detail"] == "unknown field 'extra'; allowed fields: type, event_id, at"
    r = api.post("/v1/devices/d1/events", {"events": []})
    assert r.json()["error"] == "invalid_value" and r.json()["field"] == "events"


def test_campaign_validation_is_422(api):
    r = api.put("/v1/campaigns/c1", {"id": "c1"})  # the path gives the id
    assert r.json()["error"] == "unknown_field" and r.json()["field"] == "id"
    r = api.put("/v1/campaigns/c1", {"trigger": {"type": "session_time"}})
    assert r.json() == {"error": "missing_field", "field": "trigger.seconds",
                        "detail": "required field 'seconds' is missing; expected a number >= 0 "
                                  "and <= 86400.0"}
    r = api.put("/v1/campaigns/c1", {"frequency": {"type": "multiple", "limit": 0,
                                                   "gap_days": 1}})
    assert r.json() == {"error": "invalid_value", "field": "frequency.limit",
                        "detail": "0 is not allowed; allowed: an integer >= 1 and <= 10000"}
    r = api.put("/v1/campaigns/bad%20id", {})
    assert r.status_code == 422 and r.json()["field"] == "campaign_id"
    assert api.get("/v1/campaigns").json() == {"campaigns": []}


def test_settings_validation_is_422(api):
    r = api.put("/v1/settings", {"platforms": {"nokia": {"max_denials": 1}}})
    assert r.status_code == 422
    assert r.json()["field"] == "platforms.nokia"
    assert r.json()["detail"].startswith("unknown field 'nokia'; allowed fields: ios, android13,")
    r = api.put("/v1/settings", {"platforms": {"ios": {"max_denials": "x"}}})
    assert r.status_code == 422 and r.json()["field"] == "platforms.ios.max_denials"
    r = api.put("/v1/settings", {"platforms": {"ios": {"name": "ipados"}}})
    assert r.json()["error"] == "unknown_field" and r.json()["field"] == "platforms.ios.name"
    assert "max_denials" in r.json()["detail"]  # the rule fields are listed
    assert api.get("/v1/settings").json()["platforms"] == {}


def test_device_validation_is_422(api):
    base = {"device_id": "d9", "user_id": "u9", "at": T0}
    r = api.post("/v1/devices", base | {"platform": "symbian"})
    assert r.json()["field"] == "platform"
    assert r.json()["detail"].endswith("allowed: one of amazon, android, huawei, ios, web")
    r = api.post("/v1/devices", base | {"platform": "android", "os_version": 12,
                                        "permission": "not_determined"})
    assert r.status_code == 409  # fits the API, not this platform's profile
    assert r.json() == {"error": "unsupported_permission", "field": "permission",
                        "detail": "profile android12 starts granted (no permission dialog); "
                                  "allowed: granted, denied"}
    r = api.post("/v1/devices", base | {"platform": "android", "os_version": 14,
                                        "permission": "provisional"})
    assert r.json()["field"] == "permission"
    assert api.get("/v1/devices/d9").status_code == 404
