"""The error examples of ``/openapi.json`` are answers the service really gives: each is
provoked on the service in-process (SQLite) and the whole body compared; the two answers a
test cannot provoke cheaply (a request past the worker's limit, a body cut short) are
compared with what the functions that raise them render."""

from __future__ import annotations

import json
import sys
from typing import Any

import httpx
import pytest
from service_helpers import ev

from sim.service.http.asgi import _cut_short, overloaded
from sim.service.http.errors import render
from sim.service.http.examples import CAMPAIGN, REQUESTS
from sim.service.http.examples_errors import BY_ROUTE, BY_STATUS, example
from sim.service.http.examples_experiments import EXPERIMENT_ID
from sim.service.http.openapi import spec

JSON = {"Content-Type": "application/json"}


def _answers(api: Any, admin: Any,
             monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, int], httpx.Response]:
    """(operation, status) -> the service's answer to a request that earns it."""
    got: dict[tuple[str, int], httpx.Response] = {}
    with monkeypatch.context() as m:  # as if the redoc extra were not installed
        m.setitem(sys.modules, "drf_spectacular_sidecar", None)
        got["redoc", 404] = api.get("/redoc")
    device = {"device_id": "d1", "user_id": "u1", "platform": "ios", "os_version": "17.4.1",
              "at": 1_767_600_000}
    got["create_device", 400] = api.request("POST", "/v1/devices",
                                            content=b'{"device_id": "d1",', headers=JSON)
    got["create_device", 401] = api.post("/v1/devices", device, key="")
    got["not_routed", 404] = api.get("/v2/whatever")
    got["create_device", 413] = api.request("POST", "/v1/devices", content=b" " * (1 << 20 | 1),
                                            headers=JSON)
    got["create_device", 415] = api.request(  # curl's -d alone
        "POST", "/v1/devices", content=b"a=b",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    got["create_device", 422] = api.post("/v1/devices", device | {"colour": 1})
    got["get_device", 404] = api.get("/v1/devices/d1")
    got["post_events", 404] = api.post("/v1/devices/d1/events",
                                       {"events": [ev("session_start", 1_767_600_000)]})
    got["eligibility", 404] = api.post("/v1/devices/d1/eligibility", {"trigger": "app_open"})
    got["get_campaign", 404] = api.get("/v1/campaigns/soft")
    got["campaign_stats", 404] = api.get("/v1/campaigns/soft/stats")
    got["reachability", 404] = api.get("/v1/users/u1/reachability")
    got["get_experiment", 404] = api.get(f"/v1/experiments/{EXPERIMENT_ID}")
    got["experiment_stats", 404] = api.get(f"/v1/experiments/{EXPERIMENT_ID}/stats")
    assert api.post("/v1/devices", device).status_code == 201
    assert api.put("/v1/campaigns/soft", CAMPAIGN).status_code == 201
    got["create_device", 409] = api.post("/v1/devices", device | {"os_version": "18.0"})
    got["eligibility", 409] = api.post("/v1/devices/d1/eligibility", {"trigger": "app_open"})
    got["post_events", 409] = api.post("/v1/devices/d1/events", {"events": [
        ev("os_dialog_result", 1_767_600_001, outcome="denied"),
        ev("os_dialog_result", 1_767_600_002, outcome="denied")]})
    other = REQUESTS["put_experiment"]
    assert api.put("/v1/experiments/other", other).status_code == 201
    got["put_experiment", 409] = api.put(f"/v1/experiments/{EXPERIMENT_ID}", other)
    for _ in range(20):  # the auth failure limit's default: then 429
        assert admin.get("/v1/app", key="psk_wrong").status_code == 401
    got["get_app", 429] = admin.get("/v1/app", key="psk_wrong")
    return got


def test_every_error_example_is_an_answer_of_the_service(sqlite_service, monkeypatch):
    """Each (operation, status) example equals the body the service answers (code, field and
    detail); every example of BY_STATUS and BY_ROUTE is checked."""
    api = sqlite_service.new_app("client")
    checked = set()
    for (op, status), r in _answers(api, sqlite_service, monkeypatch).items():
        assert r.status_code == status, (op, r.text)
        assert r.json() == example(op, status), (op, status)
        checked.add((op, status) if (op, status) in BY_ROUTE else status)
    for status, exc in ((503, overloaded("1000 requests at once")), (408, _cut_short())):
        assert json.loads(render(exc)[1]) == BY_STATUS[status]
        checked.add(status)
    assert checked == set(BY_ROUTE) | set(BY_STATUS)


def test_every_error_answer_in_the_document_has_its_example():
    """No error answer of the document is left to a schema's ``"error": "string"``."""
    for path, ops in spec()["paths"].items():
        for method, op in ops.items():
            for code, resp in op["responses"].items():
                if not code.startswith("2") and method != "head":
                    want = example(op["operationId"], int(code))
                    assert resp["content"]["application/json"]["example"] == want, (path, code)
