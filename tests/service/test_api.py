"""Each endpoint's happy path, in-process, on SQLite and PostgreSQL.

The service answers with the rules' own decisions: these tests state the rule
and check that the HTTP answer follows it.
"""

from __future__ import annotations

import time

import msgspec
from service_helpers import DAY, T0, eligible, ev, install, once_campaign

from sim.rules.config.campaigns import Campaign, Policy
from sim.service import schemas as s


def test_health_metrics_openapi_docs(service):
    """The unauthenticated endpoints answer without a key."""
    r = service.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["store"] in ("sqlite", "postgres")
    spec = service.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "/v1/devices/{device_id}/eligibility" in spec["paths"]
    docs = service.get("/docs")
    assert docs.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in docs.text and "/docs/swagger-ui-bundle.js" in docs.text
    assert "http://" not in docs.text and "https://" not in docs.text  # nothing external
    js = service.get("/docs/swagger-ui-bundle.js")
    assert js.headers["content-type"].startswith("text/javascript") and "SwaggerUIBundle" in js.text
    assert service.get("/docs/other.js").status_code == 422  # only the page's own files
    m = service.get("/metrics")
    assert m.headers["content-type"].startswith("text/plain")
    assert "# TYPE promptsim_http_requests_total counter" in m.text
    assert 'route="/healthz",status="200"' in m.text
    assert "# TYPE promptsim_store_total counter" in m.text
    assert 'counter="cache_hits"} ' in m.text  # the store's counters, for each store


def test_app_and_settings_round_trip(api):
    """Settings hold the Policy fields other than campaigns, and platform overrides."""
    assert api.get("/v1/app").json()["clock"] == "client"
    assert api.get("/v1/settings").json() == {
        "min_spacing_seconds": 0.0, "permission_first": True, "provisional_on_install": False,
        "reset_on_reinstall": True, "site_reputation": "none", "platforms": {}}
    body = {"min_spacing_seconds": 30, "permission_first": False,
            "provisional_on_install": True, "reset_on_reinstall": False,
            "site_reputation": "crowd_deny",
            "platforms": {"android13": {"dismiss_counts_as_denial": True}}}
    r = api.put("/v1/settings", body)
    assert r.status_code == 200
    assert api.get("/v1/settings").json() == body | {"min_spacing_seconds": 30.0}


def test_campaigns_put_get_list(api):
    """A campaign body is the scenario files' Campaign; the path gives its id."""
    r = api.put("/v1/campaigns/later", {"trigger": {"type": "session_time", "seconds": 30},
                                        "frequency": {"type": "multiple", "limit": 3,
                                                      "gap_days": 2},
                                        "action": "open_settings", "priority": 5,
                                        "min_delay_days": 1})
    assert r.status_code == 201
    assert r.json()["id"] == "later"
    assert r.json()["trigger"] == {"type": "session_time", "seconds": 30.0}
    once_campaign(api, "welcome", priority=9)
    body = {k: v for k, v in r.json().items() if k != "id"}
    again = api.put("/v1/campaigns/later", body | {"priority": 1})
    assert again.status_code == 200  # replaced
    assert api.get("/v1/campaigns/later").json()["priority"] == 1
    listed = [c["id"] for c in api.get("/v1/campaigns").json()["campaigns"]]
    assert listed == ["welcome", "later"]  # the order decide() considers them
    backoff = api.put("/v1/campaigns/b", {"frequency": {"type": "backoff",
                                                                    "gap_days": 1}})
    assert backoff.json()["frequency"] == {"type": "backoff", "gap_days": 1.0, "factor": 2.0,
                                           "limit": None}


def test_device_register_and_get(api):
    """GET returns the rules' state and how many OS dialogs the install may still see."""
    created = install(api, "d1", platform="android", os_version=14)
    assert created["profile"] == "android13"
    assert created["dialogs_left"] == 2  # Android 11+: a second denial ends the dialog
    got = api.get("/v1/devices/d1").json()
    assert got["state"]["sessions"] == 1
    assert got["permission"] == "not_determined"
    web = install(api, "w1", platform="web", browser="chrome")
    assert web["dialogs_left"] is None  # the web asks until "denied"
    old = install(api, "a12", platform="android", os_version=12)
    assert old["permission"] == "granted" and old["dialogs_left"] == 0
    ios = install(api, "i1", platform="ios", permission="provisional")
    assert ios["permission"] == "provisional" and ios["receives_push"] is True


def test_eligibility_once_then_frequency_limit(api):
    """A once-only campaign shows once; the show reserves the impression."""
    once_campaign(api)
    install(api)
    assert eligible(api) == {"show": True, "reason": "eligible", "campaign_id": "welcome",
                             "action": "os_dialog"}
    assert eligible(api, at=T0 + 20) == {"show": False, "reason": "frequency_limit"}
    assert api.get("/v1/devices/d1").json()["state"]["campaigns"]["welcome"]["shown"] == 1


def test_eligibility_falls_back_to_settings_after_denials(api):
    """After two Android denials the button opens notification settings instead."""
    once_campaign(api, frequency={"type": "every_time"})
    install(api)
    r = api.post("/v1/devices/d1/events", {"events": [
        ev("os_dialog_result", T0 + 1, outcome="denied"),
        ev("os_dialog_result", T0 + 2, outcome="denied")]})
    assert r.json() == {"new": 2, "duplicate": 0, "permission": "denied", "dialogs_left": 0}
    assert eligible(api, at=T0 + 5)["action"] == "open_settings"


def test_already_opted_in_and_trigger_not_met(api):
    """Devices that allowed notifications never see the soft prompt."""
    once_campaign(api)
    install(api, "a12", os_version=12)
    assert eligible(api, "a12") == {"show": False, "reason": "already_opted_in"}
    install(api, "d2")
    assert eligible(api, "d2", trigger="programmatic")["reason"] == "trigger_not_met"


def test_every_event_kind_is_accepted(api):
    """All thirteen event types apply in one batch and are counted as new."""
    once_campaign(api)
    install(api, "d1", os_version=12)  # Android 12: opt-out, no dialog yet
    decision = eligible(api, "d1")
    assert decision["reason"] == "already_opted_in"
    r = api.post("/v1/devices/d1/events", {"events": [
        ev("session_time", T0 + 1, seconds=31.5),
        ev("custom_event", T0 + 2, name="order_placed"),
        ev("soft_prompt_shown", T0 + 3, campaign_id="welcome"),
        ev("soft_prompt_dismissed", T0 + 4, campaign_id="welcome"),
        ev("soft_prompt_clicked", T0 + 5, campaign_id="welcome"),
        ev("permission_changed", T0 + 6, permission="denied"),
        ev("os_upgraded", T0 + 7, os_version=14),
        ev("app_updated", T0 + 8, app_target_sdk=34),
        ev("uninstalled", T0 + 9),
        ev("reinstalled", T0 + DAY),
        ev("session_start", T0 + DAY + 1),
        ev("os_dialog_result", T0 + DAY + 2, outcome="allowed"),
        ev("data_cleared", T0 + DAY + 3),
    ]})
    assert r.status_code == 200, r.text
    assert r.json()["new"] == 13
    dev = api.get("/v1/devices/d1").json()
    assert dev["profile"] == "android13"  # the upgrade moved it to the Android 13 rules
    assert dev["os_version"] == "14" and dev["app_target_sdk"] == 34
    assert dev["permission"] == "not_determined"  # clearing data reset it


def test_idempotent_retry(api):
    """A retried event id is stored once; the retry answers 200 with the duplicate count."""
    install(api)
    batch = {"events": [ev("session_start", T0 + 5, "s2"), ev("session_start", T0 + 6, "s3")]}
    assert api.post("/v1/devices/d1/events", batch).json()["new"] == 2
    again = api.post("/v1/devices/d1/events", batch)
    assert again.status_code == 200
    assert again.json() == {"new": 0, "duplicate": 2, "permission": "not_determined",
                                 "dialogs_left": 2}
    mixed = {"events": [ev("session_start", T0 + 7, "s3"), ev("session_start", T0 + 8, "s4"),
                        ev("session_start", T0 + 9, "s4")]}
    assert api.post("/v1/devices/d1/events", mixed).json()["new"] == 1
    assert api.get("/v1/devices/d1").json()["state"]["sessions"] == 4  # 1 + s2, s3, s4


def test_reachability_per_family(api):
    """201 beats 200 beats 202 within a family; devices are listed behind each code."""
    install(api, "ios1", "u1", platform="ios")
    install(api, "ios2", "u1", platform="ios", sdk_reports_permission=False)
    install(api, "and1", "u1", os_version=12)
    install(api, "web1", "u1", platform="web", browser="firefox")
    api.post("/v1/devices/and1/events", {"events": [ev("uninstalled", T0 + 1)]})
    r = api.get("/v1/users/u1/reachability").json()
    assert r["user_id"] == "u1"
    assert r["families"]["ios"]["code"] == 200
    assert r["families"]["ios"]["reachable"] is True
    assert r["families"]["ios"]["opted_in"] is False
    assert [d["code"] for d in r["families"]["ios"]["devices"]] == [202, 200]
    assert r["families"]["android"] == {"code": None, "reachable": False, "opted_in": False,
                                        "devices": [{"device_id": "and1", "platform": "android",
                                                     "permission": "granted",
                                                     "installed": False, "code": None}]}
    # A web origin without permission has no push subscription: no token, no code (issue 10).
    assert r["families"]["web"]["code"] is None
    assert r["families"]["web"]["devices"][0]["code"] is None


def test_reachability_stops_while_an_android_app_hibernates(service):
    """An Android app unused for ``hibernation_days`` keeps its permission but counts in no
    code, and the device view says it receives no push, until its next session (issue 24;
    AOSP packages/modules/Permission ``AutoRevokePermissions.kt`` exempts POST_NOTIFICATIONS;
    developer.android.com "App hibernation": no push while hibernated). On the server's
    clock, with the delay set to 0.5 s (a setting)."""
    app = service.new_app("server")
    r = app.put("/v1/settings", {"platforms": {"android13": {"hibernation_days": 0.5 / DAY}}})
    assert r.status_code == 200, r.text
    install(app, "a1", "u3", permission="granted")
    assert app.get("/v1/users/u3/reachability").json()["families"]["android"]["code"] == 201
    assert app.get("/v1/devices/a1").json()["receives_push"] is True
    time.sleep(0.6)
    r = app.get("/v1/users/u3/reachability").json()["families"]["android"]
    assert (r["code"], r["devices"][0]["permission"]) == (None, "granted")
    assert app.get("/v1/devices/a1").json()["receives_push"] is False
    app.post("/v1/devices/a1/events", {"events": [ev("session_start")]})
    assert app.get("/v1/users/u3/reachability").json()["families"]["android"]["code"] == 201
    assert app.get("/v1/devices/a1").json()["receives_push"] is True


def test_reachability_counts_huawei_and_amazon_in_the_android_family(api):
    """One definition with the simulator: a user's Android phone, Huawei tablet and Fire
    tablet make one Android code (``sim.rules.reachability``)."""
    install(api, "a", "u2", os_version=14, app_target_sdk=34)
    install(api, "h", "u2", platform="huawei", os_kind="emui", api_level=31)
    install(api, "f", "u2", platform="amazon", os_version=8)
    r = api.get("/v1/users/u2/reachability").json()
    assert list(r["families"]) == ["android"]
    assert r["families"]["android"]["code"] == 201
    assert [d["code"] for d in r["families"]["android"]["devices"]] == [202, 201, 201]


def test_registration_carries_huawei_os_kind_quiet_ui_and_utc_offset(api):
    """Registration takes what the device says: a Huawei device its OS kind (with the Android
    API level), Chrome its quiet prompt, any device its UTC offset; bad values are 422
    naming the field and the allowed values."""
    d = install(api, "n", "u3", platform="huawei", os_kind="harmonyos_next", os_version="5.0.1")
    assert d["profile"] == "harmony_next" and d["os_kind"] == "harmonyos_next"
    d = install(api, "q", "u3", platform="web", browser="chrome", quiet_ui=True,
                utc_offset_minutes=-300)
    assert (d["profile"], d["state"]["utc_offset_minutes"]) == ("chrome_quiet", -300)
    for body, field, allowed in [
            ({"platform": "huawei", "os_version": 5}, "os_kind",
             "allowed: emui, harmonyos, harmonyos_next"),
            ({"platform": "huawei", "os_kind": "emui"}, "api_level", "required for os_kind"),
            ({"platform": "ios", "quiet_ui": True}, "quiet_ui", "only Chrome"),
            ({"platform": "ios", "utc_offset_minutes": 900}, "utc_offset_minutes", "<= 840")]:
        r = api.post("/v1/devices", {"device_id": "bad", "user_id": "u3", "at": T0, **body})
        assert r.status_code == 422, (body, r.text)
        assert field in r.text and allowed in r.text, r.text


def test_campaign_stats(api):
    """Impressions come from eligibility; clicks, answers and opt-ins from events."""
    once_campaign(api, frequency={"type": "every_time"})
    install(api, "d1")
    install(api, "d2", "u2", platform="ios")
    assert eligible(api, "d1")["show"]
    api.post("/v1/devices/d1/events", {"events": [
        ev("soft_prompt_shown", T0 + 11, campaign_id="welcome"),  # stored, not an impression
        ev("soft_prompt_clicked", T0 + 12, campaign_id="welcome"),
        ev("os_dialog_result", T0 + 13, outcome="denied")]})
    assert eligible(api, "d1", at=T0 + 20)["action"] == "os_dialog"
    api.post("/v1/devices/d1/events", {"events": [
        ev("soft_prompt_clicked", T0 + 21, campaign_id="welcome"),
        ev("os_dialog_result", T0 + 22, outcome="allowed")]})
    assert eligible(api, "d2")["show"]
    api.post("/v1/devices/d2/events", {"events": [
        ev("soft_prompt_clicked", T0 + 12, campaign_id="welcome"),
        ev("os_dialog_result", T0 + 13, outcome="denied")]})
    assert eligible(api, "d2", at=T0 + 30)["action"] == "open_settings"
    api.post("/v1/devices/d2/events", {"events": [
        ev("soft_prompt_clicked", T0 + 31, campaign_id="welcome"),
        ev("permission_changed", T0 + 40, permission="granted")]})
    assert api.get("/v1/campaigns/welcome/stats").json() == {
        "campaign_id": "welcome", "impressions": 4, "clicks": 4, "os_dialogs": 3, "allows": 1,
        "denials": 2, "settings_opened": 1, "opt_ins": 2, "dismissals": 0,
        "shown_reported": 1}


def test_app_stats_counts_devices_and_stored_events(api, service):
    """``GET /v1/app/stats`` holds the app's devices and stored events per type (impressions
    reserved by eligibility included; retried events stored once; other apps not counted)."""
    once_campaign(api)
    install(api, "d1")
    install(api, "d2", "u2", platform="ios")
    assert eligible(api, "d1")["show"]
    batch = {"events": [ev("soft_prompt_dismissed", T0 + 11, campaign_id="welcome"),
                        ev("custom_event", T0 + 12, name="order_placed")]}
    for _ in range(2):  # a retry stores nothing more
        assert api.post("/v1/devices/d1/events", batch).status_code == 200
    install(service.new_app(), "other")
    assert api.get("/v1/app/stats").json() == {"devices": 2, "events": {
        "custom_event": 1, "impression": 1, "session_start": 2, "soft_prompt_dismissed": 1}}


def test_openapi_paths_are_the_route_table(service):
    """The spec documents exactly the routes the router serves (but the docs page's own
    static files), with their path parameters' patterns (the same types validate them)."""
    from sim.service.http.routes import ROUTES

    spec = service.get("/openapi.json").json()
    listed = [r for r in ROUTES if r.in_spec]
    assert [r.path for r in ROUTES if not r.in_spec] == ["/docs/{asset}", "/redoc/{asset}"]
    served = sorted([(r.method.lower(), r.path) for r in listed]
                    + [("head", r.path) for r in listed if r.method == "GET"])
    assert sorted((m, p) for p, ops in spec["paths"].items() for m in ops) == served
    param = spec["paths"]["/v1/devices/{device_id}"]["get"]["parameters"][0]
    assert param["schema"]["pattern"] == msgspec.json.schema(s.Ident)["pattern"]


def test_server_clock_ignores_client_time(service):
    """With the server clock, 'at' is only recorded: a far-future 'at' does not open a gap."""
    api = service.new_app("server")
    once_campaign(api, frequency={"type": "multiple", "limit": 3, "gap_days": 2})
    r = api.post("/v1/devices", {"device_id": "d1", "user_id": "u1", "platform": "ios"})
    assert r.status_code == 201
    api.post("/v1/devices/d1/events", {"events": [ev("session_start", 1.0)]})
    assert eligible(api, at=1.0)["show"] is True
    assert eligible(api, at=T0 + 100 * DAY) == {"show": False, "reason": "gap_not_elapsed"}


def test_client_clock_drives_gaps(api):
    """With the client clock, event times drive the frequency rules."""
    once_campaign(api, frequency={"type": "multiple", "limit": 3, "gap_days": 2})
    install(api)
    assert eligible(api, at=T0 + 10)["show"] is True
    assert eligible(api, at=T0 + DAY)["reason"] == "gap_not_elapsed"
    assert eligible(api, at=T0 + 2 * DAY + 11)["show"] is True


def test_policy_cache_follows_puts(api):
    """A campaign or settings change applies to the very next decision."""
    install(api)
    assert eligible(api)["reason"] == "no_campaign"
    once_campaign(api, min_sessions=2)
    assert eligible(api)["reason"] == "too_early"
    once_campaign(api)
    assert eligible(api)["show"] is True
    api.put("/v1/settings", {"min_spacing_seconds": 3600})
    once_campaign(api, "other", frequency={"type": "every_time"}, priority=-1)
    assert eligible(api, at=T0 + 60)["reason"] == "spacing"


def test_policy_matches_sim_policy(api):
    """The stored campaigns decode into the very Policy the simulator uses."""
    once_campaign(api, "a", priority=1)
    api.put("/v1/campaigns/m", {"action": "message", "priority": 9})
    got = api.get("/v1/campaigns").json()["campaigns"]
    policy = Policy(campaigns=tuple(msgspec.convert(c, Campaign) for c in got))
    assert [c.id for c in policy.campaigns] == [c["id"] for c in got] == ["a", "m"]


def test_audience_targets_campaigns_per_platform(api):
    """A per-platform policy over HTTP: each device sees only its platform's campaign, and a
    device outside every audience is told ``not_in_audience``."""
    once_campaign(api, "ios.soft", audience={"platforms": ["ios"]})
    once_campaign(api, "android.soft", frequency={"type": "every_time"},
                  audience={"profiles": ["android13"]})
    got = api.get("/v1/campaigns/android.soft").json()
    assert got["audience"] == {"profiles": ["android13"]}
    install(api, "a1")
    install(api, "i1", platform="ios")
    install(api, "w1", platform="web", browser="chrome")
    assert eligible(api, "a1")["campaign_id"] == "android.soft"
    assert eligible(api, "i1")["campaign_id"] == "ios.soft"
    assert eligible(api, "w1")["reason"] == "not_in_audience"
    r = api.put("/v1/campaigns/bad", {"audience": {"profiles": ["android99"]}})
    assert r.status_code == 422
    assert r.json()["field"] == "audience.profiles[0]" and "android13_legacy" in r.text
