"""No input makes the service answer 5xx: each case of issue 15's probe, on a real server
process and both stores, answers a 4xx JSON error ``{"error", "field", "detail"}``."""

from __future__ import annotations

import http.client
import json
import re
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
        at = NOT_UTF8[path].index(b"\xff")
        assert doc == {"error": "invalid_json", "field": None, "detail": "the body is not "
                       f"UTF-8 (byte 0xff at {at}); send UTF-8 JSON"}, path


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


SERVICE_WORDS = [re.compile(p) for p in (
    r"the body is empty; send a JSON object",
    r"the body is not UTF-8 \(byte 0x[0-9a-f]{2} at \d+\); send UTF-8 JSON",
    r"the body is not valid JSON \(at byte \d+ of \d+\); send one JSON object",
    r"the body is not valid JSON: it ends too soon \(after \d+ bytes\); send one whole "
    r"JSON object",
    r"the body is not valid JSON; send one JSON object",
    r"the body nests arrays or objects too deeply; no field of this API nests more than a "
    r"few levels",
    r"the body exceeds \d+ bytes; send at most \d+ bytes \(split event batches\)",
    r"unknown field '[^']+'; allowed fields: [a-z_, ]+",
    r"required field '[^']+' is missing; expected .+",
    r"got (null|true or false|an integer|a number|a string|a list|an object); allowed: .+",
    r"(this value|.{1,40}) is not allowed; allowed: .+",
)]
"""Every phrase a malformed body may be answered with: the service's own words."""
ELIGIBILITY = "/v1/devices/d1/eligibility"
EVENTS = "/v1/devices/d1/events"
MALFORMED = [  # (class, path, body, status, error, field)
    ("not JSON", ELIGIBILITY, b"trigger=app_open", 400, "invalid_json", None),
    ("not UTF-8", ELIGIBILITY, b'{"trigger":"app_open\xfe"}', 400, "invalid_json", None),
    ("bad escape", ELIGIBILITY, b'{"trigger":"app_\\ud800"}', 400, "invalid_json", None),
    ("cut short", EVENTS, b'{"events":[', 400, "invalid_json", None),
    ("trailing garbage", ELIGIBILITY, b'{"trigger":"app_open","at":1} x', 400,
     "invalid_json", None),
    ("empty", ELIGIBILITY, b"", 400, "invalid_json", None),
    ("too deep", ELIGIBILITY, b'{"event_name":' + b"[" * 5000 + b"]" * 5000 + b"}", 400,
     "invalid_json", None),
    ("too large", EVENTS, b'{"events":[' + b" " * 1_048_576 + b"]}", 413, "body_too_large",
     None),
    ("wrong type", ELIGIBILITY, b'{"trigger":5,"at":1}', 422, "wrong_type", "trigger"),
    ("wrong type at the root", ELIGIBILITY, b"[1,2]", 422, "wrong_type", None),
    ("wrong type in a list", EVENTS, b'{"events":[{"type":"session_start","event_id":"e",'
     b'"at":true}]}', 422, "wrong_type", "events[0].at"),
    ("unknown field", ELIGIBILITY, b'{"trigger":"app_open","at":1,"colour":1}', 422,
     "unknown_field", "colour"),
    ("unknown field in a variant", EVENTS, b'{"events":[{"type":"session_start",'
     b'"event_id":"e","at":1,"x":1}]}', 422, "unknown_field", "events[0].x"),
    ("missing field", ELIGIBILITY, b'{"at":1}', 422, "missing_field", "trigger"),
    ("missing tag", EVENTS, b'{"events":[{"event_id":"e","at":1}]}', 422, "missing_field",
     "events[0].type"),
    ("out of range", EVENTS, b'{"events":[{"type":"session_start","event_id":"e",'
     b'"at":1e12}]}', 422, "invalid_value", "events[0].at"),
    ("out of range for a float", ELIGIBILITY, b'{"trigger":"app_open","at":1e999}', 422,
     "invalid_value", "at"),
    ("not a choice", EVENTS, b'{"events":[{"type":"teleported","event_id":"e","at":1}]}',
     422, "invalid_value", "events[0].type"),
    ("too few items", EVENTS, b'{"events":[]}', 422, "invalid_value", "events"),
    ("not an id", "/v1/devices", b'{"device_id":"a b","user_id":"u","platform":"ios"}', 422,
     "invalid_value", "device_id"),
]


def test_each_malformed_body_is_answered_in_the_services_words(live):
    """Issue 21: no error detail is a library's exception text (msgspec rewords its messages
    between releases). Each class of malformed body gets its exact code and field, and a
    detail that is one of the service's phrases, on a real server and both stores."""
    s, _, key = live
    wrong = []
    for what, path, body, status, error, field in MALFORMED:
        got, _, out = raw(s, "POST", path, body, key)
        doc = is_error(got, out, status)
        words = doc["detail"]
        if ((doc["error"], doc["field"]) != (error, field)
                or not any(p.fullmatch(words) for p in SERVICE_WORDS)
                or "`" in words or "Expected" in words):
            wrong.append((what, doc))
    assert not wrong
