"""A key of one app never reads or changes another app's rows."""

from __future__ import annotations

from service_helpers import T0, eligible, ev, install, once_campaign


def test_apps_are_isolated(service):
    a, b = service.new_app(), service.new_app()
    once_campaign(a, "welcome")
    install(a, "shared-id", "u1")
    # b sees none of a's campaigns, devices, users or stats
    assert b.get("/v1/campaigns").json() == {"campaigns": []}
    assert b.get("/v1/campaigns/welcome").status_code == 404
    assert b.get("/v1/campaigns/welcome/stats").status_code == 404
    assert b.get("/v1/devices/shared-id").status_code == 404
    assert b.get("/v1/users/u1/reachability").status_code == 404
    assert b.post("/v1/devices/shared-id/eligibility",
                  {"trigger": "app_open", "at": T0}).status_code == 404
    assert b.post("/v1/devices/shared-id/events",
                  {"events": [ev("uninstalled")]}).status_code == 404
    # the same device and campaign ids in b are b's own
    install(b, "shared-id", "u1", platform="ios")
    once_campaign(b, "welcome", frequency={"type": "every_time"})
    assert eligible(a, "shared-id")["show"] is True
    assert eligible(a, "shared-id", at=T0 + 20)["reason"] == "frequency_limit"
    assert eligible(b, "shared-id")["show"] is True
    assert eligible(b, "shared-id", at=T0 + 20)["show"] is True
    assert a.get("/v1/devices/shared-id").json()["platform"] == "android"
    assert b.get("/v1/devices/shared-id").json()["platform"] == "ios"
    assert a.get("/v1/campaigns/welcome/stats").json()["impressions"] == 1
    assert b.get("/v1/campaigns/welcome/stats").json()["impressions"] == 2
    # b's settings do not leak into a
    b.put("/v1/settings", {"min_spacing_seconds": 99})
    assert a.get("/v1/settings").json()["min_spacing_seconds"] == 0.0
    # event ids are per device and app: the same id in both apps is new in each
    assert a.post("/v1/devices/shared-id/events",
                  {"events": [ev("session_start", T0 + 50, "same")]}).json()["new"] == 1
    assert b.post("/v1/devices/shared-id/events",
                  {"events": [ev("session_start", T0 + 50, "same")]}).json()["new"] == 1
