"""The API says what issue 24's Android and HarmonyOS rules need, in-process on SQLite and
PostgreSQL: the rationale flag in the device view, the legacy dialog's launches and channel,
and HarmonyOS's refusal of a second request while its dialog is open. The rules and their
sources are in ``tests/rules/test_android_sources.py``."""

from __future__ import annotations

from service_helpers import T0, ev, install

from sim.wire import rfc3339


def test_device_view_says_should_show_rationale(api):
    """False before any answer, true after one denial (USER_SET), false after the second
    (USER_FIXED) and on iOS (AOSP ``PermissionManagerServiceImpl``)."""
    install(api, "a1")
    assert api.get("/v1/devices/a1").json()["should_show_rationale"] is False
    api.post("/v1/devices/a1/events", {"events": [ev("os_dialog_result", T0 + 1,
                                                     outcome="denied")]})
    assert api.get("/v1/devices/a1").json()["should_show_rationale"] is True
    api.post("/v1/devices/a1/events", {"events": [ev("os_dialog_result", T0 + 2,
                                                     outcome="denied")]})
    assert api.get("/v1/devices/a1").json()["should_show_rationale"] is False
    install(api, "i1", platform="ios", os_version=18)
    api.post("/v1/devices/i1/events", {"events": [ev("os_dialog_result", T0 + 1,
                                                     outcome="denied")]})
    assert api.get("/v1/devices/i1").json()["should_show_rationale"] is False


def test_legacy_launches_say_when_the_os_dialog_is_due(api):
    """An app targeting <= 32: no dialog before a channel exists, none for a launch by
    another intent or under a locked keyguard, a dialog once a channel exists and the app
    comes from the launcher (CTS ``NotificationPermissionTest.kt``)."""
    install(api, "l1", app_target_sdk=32)

    def batch(*events):
        r = api.post("/v1/devices/l1/events", {"events": list(events)})
        assert r.status_code == 200, r.text
        return r.json()

    assert "os_dialog_due" not in batch(ev("app_launched", T0 + 1, source="launcher"))
    assert batch(ev("notification_channel_created", T0 + 2))["os_dialog_due"] is True
    assert "os_dialog_due" not in batch(ev("app_launched", T0 + 3, source="other"))
    assert "os_dialog_due" not in batch(ev("app_launched", T0 + 4, keyguard_locked=True))
    out = batch(ev("app_launched", T0 + 5), ev("os_dialog_result", T0 + 6, outcome="allowed"))
    assert "os_dialog_due" not in out and out["permission"] == "granted"
    assert api.get("/v1/devices/l1").json()["state"]["channel_created"] is True
    bad = api.post("/v1/devices/l1/events", {"events": [ev("app_launched", T0 + 7,
                                                           source="widget")]})
    assert bad.status_code == 422 and bad.json()["field"].startswith("events[0]")


def test_harmonyos_second_request_while_open_is_409(api):
    """HarmonyOS NEXT: ``os_dialog_requested`` opens the dialog; another before its answer
    is 409 ``dialog_open`` and nothing in the batch applies; the answer closes it
    (OpenHarmony ``ERR_ANS_DIALOG_IS_POPPING``)."""
    install(api, "h1", platform="huawei", os_kind="harmonyos_next", os_version=5)
    path = "/v1/devices/h1/events"
    assert api.post(path, {"events": [ev("os_dialog_requested", T0 + 1)]}).status_code == 200
    again = api.post(path, {"events": [ev("session_start", T0 + 2, "kept-out"),
                                       ev("os_dialog_requested", T0 + 2)]})
    assert again.status_code == 409
    assert again.json()["error"] == "dialog_open" and again.json()["field"] == "events[1]"
    assert api.get("/v1/devices/h1").json()["state"]["sessions"] == 1  # all or nothing
    ok = api.post(path, {"events": [ev("os_dialog_result", T0 + 3, outcome="ignored"),
                                    ev("os_dialog_requested", T0 + 4)]})
    assert ok.status_code == 200, ok.text
    assert ok.json()["dialogs_left"] == 1  # closed without Allow or Deny: not used up


def test_restore_and_review_notice_events(api):
    """``restored`` applies a backup unless the permission is user-set here; ``review_notice``
    ``remind_later`` keeps it due 7 days on, ``turned_off`` revokes the 12 -> 13 pre-grant
    (AOSP ``BackupHelper``, ``ReviewNotificationPermissionsReceiver``)."""
    day = 86400.0
    install(api, "n1")
    r = api.post("/v1/devices/n1/events", {"events": [
        ev("restored", T0 + 1, granted=False, user_set=True)]})
    assert r.status_code == 200 and r.json()["permission"] == "denied"
    assert r.json()["dialogs_left"] == 1
    assert api.get("/v1/devices/n1").json()["should_show_rationale"] is True
    kept = api.post("/v1/devices/n1/events", {"events": [ev("restored", T0 + 2, granted=True)]})
    assert kept.json()["permission"] == "denied"  # user-set here: left alone

    install(api, "u12", os_version=12)
    up = api.post("/v1/devices/u12/events", {"events": [
        ev("os_upgraded", T0 + 1, os_version=14),
        ev("review_notice", T0 + 2, answer="remind_later")]})
    assert up.status_code == 200 and up.json()["permission"] == "granted"
    state = api.get("/v1/devices/u12").json()["state"]
    assert state["review_notice_at"] == rfc3339(T0 + 2 + 7 * day)  # re-posted 7 days on
    off = api.post("/v1/devices/u12/events", {"events": [
        ev("review_notice", T0 + 7 * day + 2, answer="turned_off")]})
    assert off.json()["permission"] == "denied"
