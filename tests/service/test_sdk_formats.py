"""Data as SDKs send it: RFC 3339 times, OS versions as strings, and sessions without
``session_start`` events (in-process, SQLite and PostgreSQL).

The rules see the same numbers either way: a time is Unix seconds, an OS version its
major part (``sim.rules.config.platforms.resolve_profile`` compares major versions).
"""

from __future__ import annotations

import pytest
from service_helpers import DAY, T0, ev, once_campaign

T0_TEXT = "2023-11-14T22:13:20Z"
"""T0 (1,700,000,000 Unix seconds) as RFC 3339."""


def _register(api, device_id, **fields):
    body = {"device_id": device_id, "user_id": "u-" + device_id, "platform": "android"} | fields
    r = api.post("/v1/devices", body)
    assert r.status_code == 201, r.text
    return r.json()


def test_rfc3339_times_are_the_same_instants_as_unix_seconds(api):
    """Registration, events and eligibility take `at` as RFC 3339 (any offset, fractions):
    a device driven with strings ends in the same state, with the same answers, as one
    driven with the equal Unix seconds."""
    once_campaign(api, "welcome", frequency={"type": "multiple", "limit": 2, "gap_days": 1})
    texts = {T0: T0_TEXT, T0 + 10: "2023-11-15T00:13:30+02:00",
             T0 + DAY + 20: "2023-11-15t22:13:40.000z"}
    answers = {}
    for device, as_text in (("num", False), ("txt", True)):
        def at(x, as_text=as_text):
            return texts[x] if as_text else x
        _register(api, device, os_version=14, at=at(T0))
        r = api.post(f"/v1/devices/{device}/events",
                     {"events": [ev("session_start", at(T0), f"{device}-s1")]})
        assert r.status_code == 200, r.text
        first = api.post(f"/v1/devices/{device}/eligibility",
                         {"trigger": "app_open", "at": at(T0 + 10)}).json()
        r = api.post(f"/v1/devices/{device}/events",
                     {"events": [ev("session_start", at(T0 + DAY + 20), f"{device}-s2")]})
        second = api.post(f"/v1/devices/{device}/eligibility",
                          {"trigger": "app_open", "at": at(T0 + DAY + 20)}).json()
        state = api.get(f"/v1/devices/{device}").json()["state"]
        answers[device] = (first, second, state)
    assert answers["num"] == answers["txt"]
    assert answers["txt"][0]["show"] and answers["txt"][1]["show"]  # a day apart: both show


def test_answers_give_times_as_rfc3339_that_requests_take_back(api):
    """The device's state answers its times in RFC 3339 (UTC, `Z`), the instants that were
    sent; an answered time sent back as `at` is the same instant as the Unix seconds it came
    from: the device answers exactly as its twin driven with numbers."""
    once_campaign(api, "welcome", frequency={"type": "multiple", "limit": 2, "gap_days": 1})
    _register(api, "d1", os_version=14, at=T0)
    r = api.post("/v1/devices/d1/events", {"events": [ev("session_start", T0 + 0.25)]})
    assert r.status_code == 200, r.text
    assert api.post("/v1/devices/d1/eligibility",
                    {"trigger": "app_open", "at": T0 + 0.25}).json()["show"]
    state = api.get("/v1/devices/d1").json()["state"]
    shown = state["campaigns"]["welcome"]["last_shown_at"]
    assert shown == "2023-11-14T22:13:20.25Z" == state["last_active_at"]
    assert state["embargo_until"] is None and state["uninstalled_at"] is None
    later = {}
    _register(api, "twin", os_version=14, at=T0)
    for device, at in (("d1", shown), ("twin", T0 + 0.25)):  # an answered time sent back
        if device == "twin":
            api.post("/v1/devices/twin/events", {"events": [ev("session_start", at)]})
            api.post("/v1/devices/twin/eligibility", {"trigger": "app_open", "at": at})
        r = api.post(f"/v1/devices/{device}/events", {"events": [ev("session_start", at,
                                                                    f"{device}-again")]})
        assert r.status_code == 200, r.text
        later[device] = api.post(f"/v1/devices/{device}/eligibility",
                                 {"trigger": "app_open", "at": at}).json()
    assert later["d1"] == later["twin"] == {"show": False, "reason": "gap_not_elapsed"}
    assert api.get("/v1/devices/d1").json()["state"] == \
        api.get("/v1/devices/twin").json()["state"]


@pytest.mark.parametrize(("at", "why"), [
    ("2026-02-30T09:00:00Z", "not a date of the calendar"),  # the form fits, the date does not
    ("2026-01-05 09:00:00Z", "is not allowed"),               # a space: not RFC 3339's T
    ("2026-01-05T09:00:00", "is not allowed"),                # no offset: which instant?
    ("1969-12-31T23:59:59Z", "is not allowed"),               # before 1971
])
def test_times_that_are_not_rfc3339_are_refused_naming_the_field(api, at, why):
    """A bad time is 422 naming the field (`events[0].at`) and what is allowed; nothing is
    applied."""
    _register(api, "d1", os_version=14, at=T0)
    r = api.post("/v1/devices/d1/events", {"events": [ev("session_start", at)]})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "events[0].at"
    assert why in body["detail"] and "RFC 3339" in body["detail"]
    assert api.get("/v1/devices/d1").json()["state"]["sessions"] == 0


def test_os_versions_as_strings_pick_the_profile_by_their_major_part(api):
    """`"12.1.0"` is Android 12, `"14"` Android 13+; `os_upgraded` to `"13.0.1"` moves an
    Android 12 device to the Android 13 profile (resolve_profile compares major versions)."""
    assert _register(api, "old", os_version="12.1.0", at=T0)["profile"] == "android12"
    new = _register(api, "new", os_version="14", at=T0)
    assert new["profile"] == "android13" and new["os_version"] == "14"
    ios = api.post("/v1/devices", {"device_id": "i", "user_id": "u", "platform": "ios",
                                   "os_version": "17.4.1", "at": T0})
    assert ios.status_code == 201 and ios.json()["os_version"] == "17.4.1"  # as reported
    r = api.post("/v1/devices/old/events",
                 {"events": [ev("os_upgraded", T0 + 1, os_version="13.0.1")]})
    assert r.status_code == 200, r.text
    old = api.get("/v1/devices/old").json()
    assert (old["profile"], old["os_version"]) == ("android13", "13.0.1")
    assert _register(api, "num", os_version=13.5, at=T0)["os_version"] == "13.5"
    bad = api.post("/v1/devices", {"device_id": "x", "user_id": "u", "platform": "android",
                                   "os_version": "fourteen", "at": T0})
    assert bad.status_code == 422 and bad.json()["field"] == "os_version"
    assert "17.4.1" in bad.json()["detail"]


def test_app_open_counts_as_the_session_start_until_a_session_start_event_comes(api):
    """An install that has sent no `session_start` event starts a session with each
    `app_open` eligibility call (so `min_sessions` counts them); from its first
    `session_start` event on, sessions come from events only and `app_open` is a question."""
    once_campaign(api, "welcome", min_sessions=2)
    _register(api, "sdk", os_version=14, at=T0)
    assert api.post("/v1/devices/sdk/eligibility",
                    {"trigger": "app_open", "at": T0 + 1}).json()["reason"] == "too_early"
    assert api.post("/v1/devices/sdk/eligibility",
                    {"trigger": "programmatic", "at": T0 + 2}).json()["reason"] \
        == "trigger_not_met"  # not an app open: no session
    assert api.get("/v1/devices/sdk").json()["state"]["sessions"] == 1
    d = api.post("/v1/devices/sdk/eligibility", {"trigger": "app_open", "at": T0 + DAY}).json()
    assert d["show"] is True and d["campaign_id"] == "welcome"
    assert api.get("/v1/devices/sdk").json()["state"]["sessions"] == 2

    _register(api, "events", os_version=14, at=T0)
    r = api.post("/v1/devices/events/events", {"events": [ev("session_start", T0)]})
    assert r.status_code == 200
    for k in range(3):  # the session is the event's: app_open calls add none
        d = api.post("/v1/devices/events/eligibility",
                     {"trigger": "app_open", "at": T0 + 1 + k}).json()
        assert d["reason"] == "too_early"
    assert api.get("/v1/devices/events").json()["state"]["sessions"] == 1


def test_the_readme_walkthrough_on_a_server_clock_app(service):
    """The README's sequence on a fresh app with the server clock: campaign, device, then an
    `app_open` question is eligible with no `session_start` event and no `at` anywhere."""
    api = service.new_app("server")
    r = api.put("/v1/campaigns/soft", {"trigger": {"type": "app_open"},
                                       "frequency": {"type": "once"}})
    assert r.status_code == 201, r.text
    r = api.post("/v1/devices", {"device_id": "d1", "user_id": "u1", "platform": "ios",
                                 "os_version": "17.4.1"})
    assert r.status_code == 201, r.text
    d = api.post("/v1/devices/d1/eligibility", {"trigger": "app_open"}).json()
    assert d == {"show": True, "reason": "eligible", "campaign_id": "soft",
                 "action": "os_dialog"}


def test_the_answered_state_has_every_field_of_the_rules_state_and_its_times_as_text():
    """The device view's ``state`` is the rules' ``DeviceState`` field for field, in its order
    (the view is made from the dataclass, so a field added to the rules is answered at once),
    every one required, and every time in it is answered as RFC 3339 text (a time field
    missing from ``STATE_TIMES`` would be answered as a number of days)."""
    import dataclasses
    import typing

    import msgspec

    from sim.rules.state import CampaignCounters, DeviceState
    from sim.service.schemas import CampaignCountersView, DeviceStateView
    from sim.wire import CAMPAIGN_TIMES, STATE_TIMES

    rules = {f.name: f.type for f in dataclasses.fields(DeviceState)}
    view = {f.name: f.type for f in msgspec.structs.fields(DeviceStateView)}
    assert list(view) == list(rules)
    assert all(f.required for f in msgspec.structs.fields(DeviceStateView))
    hints = typing.get_type_hints(DeviceState)
    times = {n for n, t in hints.items() if t == (float | None)}
    assert times == set(STATE_TIMES)
    assert all(view[n] == (str | None) for n in times)
    assert all(view[n] == t for n, t in hints.items() if n not in times | {"campaigns"})
    counters = {f.name: f.type for f in dataclasses.fields(CampaignCounters)}
    counters_view = {f.name: f.type for f in msgspec.structs.fields(CampaignCountersView)}
    assert list(counters_view) == list(counters)
    assert view["campaigns"] == dict[str, CampaignCountersView]
    counter_times = {n for n, t in typing.get_type_hints(CampaignCounters).items()
                     if t == (float | None)}
    assert counter_times == set(CAMPAIGN_TIMES)
    assert all(counters_view[n] == (str | None) for n in counter_times)
