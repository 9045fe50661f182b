"""The events a device reports after opt-in (issue 24, the life after opt-in), in-process on
SQLite and PostgreSQL: ``push_received`` (WebKit counts the silent ones and removes the
subscription at the 3rd) and ``permission_revoked`` (Chrome's Safety Hub), with the device
view saying what a push would do. The rules and their sources are in
``tests/rules/test_delivery_sources.py``."""

from __future__ import annotations

from service_helpers import T0, ev, install

from sim.wire import rfc3339

DAY = 86400.0


def batch(api, device, *events):
    r = api.post(f"/v1/devices/{device}/events", {"events": list(events)})
    assert r.status_code == 200, r.text
    return r


def test_safari_silent_pushes_remove_the_subscription(api):
    """Two silent pushes, a shown one, a declarative one: still subscribed; the 3rd silent
    one (detail ``unsubscribed``) removes the subscription: the permission stays granted,
    ``receives_push`` is false and the user has no web code. Chrome counts nothing."""
    install(api, "s1", platform="web", browser="safari")
    batch(api, "s1", ev("os_dialog_result", T0 + 1, outcome="allowed"))
    batch(api, "s1", ev("push_received", T0 + 2, display="silent"),
          ev("push_received", T0 + 3, display="shown"),
          ev("push_received", T0 + 4, display="declarative"),
          ev("push_received", T0 + 5, display="silent"))
    view = api.get("/v1/devices/s1").json()
    assert (view["receives_push"], view["state"]["silent_pushes"]) == (True, 2)
    batch(api, "s1", ev("push_received", T0 + 6, display="silent"))
    view = api.get("/v1/devices/s1").json()
    assert (view["permission"], view["receives_push"]) == ("granted", False)
    assert (view["state"]["silent_pushes"], view["state"]["push_unsubscribed"]) == (3, True)
    reach = api.get("/v1/users/u1/reachability").json()
    assert reach["families"]["web"]["code"] is None

    install(api, "c1", user_id="u2", platform="web", browser="chrome")
    batch(api, "c1", ev("os_dialog_result", T0 + 1, outcome="allowed"),
          *[ev("push_received", T0 + 2 + k, display="silent") for k in range(4)])
    view = api.get("/v1/devices/c1").json()
    assert (view["receives_push"], view["state"]["silent_pushes"]) == (True, 0)
    bad = api.post("/v1/devices/c1/events", {"events": [ev("push_received", T0 + 9,
                                                           display="loud")]})
    assert bad.status_code == 422 and bad.json()["field"].startswith("events[0]")


def test_chrome_revocation_and_the_regrant_exemption(api):
    """``permission_revoked`` takes a Chrome site back to *ask* (the soft prompt may show
    again); allowing it again exempts it until 90 days after the revocation, a dismissed
    prompt between (no change of the setting) notwithstanding. Off Chrome, or when not
    granted, the event changes nothing."""
    install(api, "c1", platform="web", browser="chrome")
    batch(api, "c1", ev("os_dialog_result", T0 + 1, outcome="allowed"))
    out = batch(api, "c1", ev("permission_revoked", T0 + 10 * DAY)).json()
    assert out["permission"] == "not_determined"
    state = api.get("/v1/devices/c1").json()["state"]
    assert state["revoked_at"] == rfc3339(T0 + 10 * DAY)
    batch(api, "c1", ev("os_dialog_result", T0 + 11 * DAY, outcome="dismissed"))  # no change
    batch(api, "c1", ev("os_dialog_result", T0 + 12 * DAY, outcome="allowed"))
    state = api.get("/v1/devices/c1").json()["state"]
    assert state["revocation_ignored_until"] == rfc3339(T0 + 100 * DAY)

    install(api, "s1", user_id="u2", platform="web", browser="safari")
    batch(api, "s1", ev("os_dialog_result", T0 + 1, outcome="allowed"))
    out = batch(api, "s1", ev("permission_revoked", T0 + 2)).json()
    assert out["permission"] == "granted"
