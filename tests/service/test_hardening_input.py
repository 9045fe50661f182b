"""No input makes the service answer 5xx: each case of issue 15's probe, on a real server
process and both stores, answers a 4xx JSON error ``{"error", "field", "detail"}``."""

from __future__ import annotations

import http.client
import json
from typing import Any

import httpx
import pytest
from service_helpers import ADMIN, T0, ev

BODY_ROUTES = [("POST", "/v1/devices"), ("POST", "/v1/devices/d1/events"),
               ("POST", "/v1/devices/d1/eligibility"), ("PUT", "/v1/settings"),
               ("PUT", "/v1/campaigns/c1"), ("POST", "/v1/apps")]
NOT_UTF8 = {"/v1/devices": b'{"device_id":"d\xff"}',
            "/v1/devices/d1/events": b'{"events":[{"type":"session_\xff"}]}',
            "/v1/devices/d1/eligibility": b'{"trigger":"app_\xff"}',
            "/v1/settings": b'{"platforms":{"\xff":{}}}', "/v1/campaigns/c1": b'{"action":"\xff"}',
            "/v1/apps": b'{"name":"\xff"}'}


@pytest.fixture
def live(db_url, server_factory):
    """A server on each store with a client-clock app, campaign ``welcome`` and device d1."""
    s = server_factory(db_url)
    key = s.new_app("client")
    with httpx.Client(base_url=s.url, headers={"Authorization": f"Bearer {key}"},
                      timeout=10) as c:
        assert c.put("/v1/campaigns/welcome", json={"frequency": {"type": "backoff",
                     "gap_days": 1, "factor": 10}}).status_code == 201
        assert c.post("/v1/devices", json={"device_id": "d1", "user_id": "u1",
                                           "platform": "ios", "at": T0}).status_code == 201
        assert c.post("/v1/devices/d1/events", json={"events": [ev("session_start", T0)]}
                      ).status_code == 200
        yield s, c, key


def raw(s: Any, method: str, path: str, body: bytes = b"", key: str = "",
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request exactly as given (no client-side normalisation of the path)."""
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    h = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key
                                                 else {}) | (headers or {})
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    out = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    conn.close()
    return out


def is_error(status: int, body: bytes, code: int) -> dict[str, Any]:
    assert status == code, body
    doc: dict[str, Any] = json.loads(body)
    assert set(doc) == {"error", "field", "detail"}
    return doc


def test_invalid_utf8_is_400(live):
    """Issue 15.1: bytes that are not UTF-8 in a body are malformed JSON (400), not 500,
    on every endpoint that takes a body."""
    s, _, key = live
    for method, path in BODY_ROUTES:
        status, _, body = raw(s, method, path, NOT_UTF8[path],
                              ADMIN if path == "/v1/apps" else key)
        doc = is_error(status, body, 400)
        assert doc["error"] == "invalid_json" and "not UTF-8" in doc["detail"], path


def test_deeply_nested_json_is_4xx(live):
    """Issue 15.2: 1,000 nested arrays (a 2 KB body) in any field of any body is a 4xx,
    not 500."""
    s, _, key = live
    for method, path in BODY_ROUTES:
        for field in ("event_name", "platforms", "trigger", "events", "name"):
            body = b'{"%s":' % field.encode() + b"[" * 1000 + b"]" * 1000 + b"}"
            status, _, out = raw(s, method, path, body, ADMIN if path == "/v1/apps" else key)
            assert 400 <= status < 500, (path, out)
            is_error(status, out, status)
        nested = b'{"platforms":{"ios":{"settings_path":' + b"[" * 1000 + b"]" * 1000 + b"}}}"
        assert raw(s, "PUT", "/v1/settings", nested, key)[0] in (400, 422)


def test_path_ids_are_checked_against_the_id_pattern(live):
    """Issue 15.3: a path id that no id can be (NUL byte, ``.``, ``..``) is 422 naming the
    parameter, on PostgreSQL too (a NUL byte there used to be 500)."""
    s, _, key = live
    for path in ["/v1/devices/d1%00", "/v1/devices/..", "/v1/devices/.",
                 "/v1/users/%00/reachability", "/v1/campaigns/a%00b/stats",
                 "/v1/devices/.hidden/events"]:
        method = "POST" if path.endswith("events") else "GET"
        status, _, body = raw(s, method, path, b'{"events": []}' if method == "POST" else b"",
                              key)
        doc = is_error(status, body, 422)
        assert doc["field"] in ("device_id", "user_id", "campaign_id"), path


def test_dot_ids_and_control_characters_are_refused_in_bodies(live):
    """``.`` and ``..`` cannot be registered (they could never be read back by URL); an app
    name with a NUL byte is 422, not a PostgreSQL error."""
    s, c, _ = live
    for device_id in (".", "..", ".x"):
        r = c.post("/v1/devices", json={"device_id": device_id, "user_id": "u1",
                                        "platform": "ios", "at": T0})
        assert r.status_code == 422 and r.json()["field"] == "device_id"
    r = httpx.post(s.url + "/v1/apps", json={"name": "a\x00b"},
                   headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 422 and r.json()["field"] == "name"


def test_backoff_cannot_make_a_device_fail(live):
    """Issue 15.4: a factor of 1e200 is refused; factor 10 with 1,200 dismissals sent without
    prompts leaves the device answering, and those dismissals count nothing (one dismissal
    answers one impression)."""
    _, c, _ = live
    r = c.put("/v1/campaigns/huge", json={"frequency": {"type": "backoff", "gap_days": 1,
                                                        "factor": 1e200}})
    assert r.status_code == 422 and r.json()["field"] == "frequency.factor"
    assert c.post("/v1/devices/d1/eligibility", json={"trigger": "app_open",
                                                      "at": T0 + 10}).json()["show"]
    events = [ev("soft_prompt_dismissed", T0 + 11 + i, campaign_id="welcome")
              for i in range(400)]
    for i in range(3):  # 1,200 dismissals of one shown prompt
        r = c.post("/v1/devices/d1/events", json={"events": [
            e | {"event_id": f"x{i}-{e['event_id']}"} for e in events]})
        assert r.status_code == 200, r.text
    state = c.get("/v1/devices/d1").json()["state"]["campaigns"]["welcome"]
    assert (state["shown"], state["dismissed"]) == (1, 1)
    assert c.get("/v1/campaigns/welcome/stats").json()["dismissals"] == 1
    later = c.post("/v1/devices/d1/eligibility", json={"trigger": "app_open",
                                                       "at": T0 + 10 + 10 * 86400})
    assert later.status_code == 200 and later.json()["show"]  # gap 1 * 10 ** 1 days
    r = c.put("/v1/settings", json={"platforms": {"ios": {"max_denials": 10**30}}})
    assert r.status_code == 422 and r.json()["field"] == "platforms.ios.max_denials"


def test_what_the_spec_allows_the_server_takes(live):
    """Issue 15.12: ``app_target_sdk: 588.0`` is an integer (JSON Schema says so); a missing
    or null ``at`` on a client-clock app is 409 (it fits the API, not this app); the
    campaign body has no ``id`` and ``platforms`` lists only profiles, in the spec too."""
    _, c, _ = live
    r = c.post("/v1/devices", json={"device_id": "a1", "user_id": "u1", "platform": "android",
                                    "os_version": 14, "app_target_sdk": 588.0, "at": T0})
    assert r.status_code == 201 and r.json()["app_target_sdk"] == 588
    for body in ({"trigger": "app_open", "at": None}, {"trigger": "app_open"}):
        r = c.post("/v1/devices/d1/eligibility", json=body)
        assert r.status_code == 409 and r.json()["error"] == "at_required"
    spec = c.get("/openapi.json").json()["components"]["schemas"]
    assert "id" not in spec["CampaignIn"]["properties"]
    assert spec["CampaignIn"]["additionalProperties"] is False
    assert set(spec["PlatformOverrides"]["properties"]) >= {"ios", "android13", "chrome"}
    assert spec["PlatformOverrides"]["additionalProperties"] is False


def test_non_json_body_is_415_and_head_answers_headers(live):
    """Issue 15.13: a body sent as another media type is 415; ``HEAD`` on a ``GET`` route
    answers its status and headers without a body."""
    s, _, key = live
    status, _, body = raw(s, "POST", "/v1/devices/d1/eligibility", b"trigger=app_open", key,
                          {"Content-Type": "application/x-www-form-urlencoded"})
    assert is_error(status, body, 415)["error"] == "unsupported_media_type"
    for path in ("/v1/devices/d1", "/openapi.json", "/healthz"):
        got = raw(s, "GET", path, key=key)
        head = raw(s, "HEAD", path, key=key)
        assert head[0] == got[0] == 200 and head[2] == b""
        assert head[1]["content-length"] == str(len(got[2]))
    assert raw(s, "HEAD", "/v1/devices/zz", key=key)[0] == 404
