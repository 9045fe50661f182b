"""An example of every operation's request and answer, for ``/openapi.json`` and ``/docs``.

Requests are written as an SDK would send them. Answers of devices are computed by the
service's own operations (``sim.service.ops``) on those requests, so they show what the
server really answers; the others are written out. ``tests/service/test_openapi_docs.py``
decodes every example with the route's types.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec

from sim.service import ops
from sim.service import schemas as s
from sim.service.http import examples_experiments as experiments
from sim.service.tenant import build_tenant

AT = "2026-01-05T09:00:00Z"
CAMPAIGN: dict[str, Any] = {"trigger": {"type": "app_open"}, "frequency": {"type": "once"}}
DEVICE: dict[str, Any] = {"device_id": "d1", "user_id": "u1", "platform": "ios",
                          "os_version": "17.4.1", "at": AT}
PARAMS = {"device_id": "d1", "user_id": "u1", "campaign_id": "soft",
          "experiment_id": experiments.EXPERIMENT_ID}
"""Path parameters."""
REQUESTS: dict[str, Any] = {
    "create_app": {"name": "shop", "clock": "server"},
    "put_settings": {"min_spacing_seconds": 30, "permission_first": True,
                     "provisional_on_install": False, "reset_on_reinstall": True,
                     "site_reputation": "none",
                     "platforms": {"android13": {"dismiss_counts_as_denial": True}}},
    "put_campaign": CAMPAIGN,
    "create_device": DEVICE,
    "post_events": {"events": [
        {"type": "session_start", "event_id": "e1", "at": AT},
        {"type": "soft_prompt_clicked", "event_id": "e2", "at": "2026-01-05T09:00:04Z",
         "campaign_id": "soft"},
        {"type": "os_dialog_result", "event_id": "e3", "at": "2026-01-05T09:00:07Z",
         "outcome": "allowed"}]},
    "eligibility": {"trigger": "app_open", "at": "2026-01-05T09:00:01Z"},
    "put_experiment": experiments.REQUEST,
}
"""Request bodies by operationId."""
METRICS = """# HELP promptsim_http_requests_total HTTP requests by route and status.
# TYPE promptsim_http_requests_total counter
promptsim_http_requests_total{method="POST",route="/v1/devices/{device_id}/eligibility",\
status="200"} 1532.0
"""


@cache
def responses() -> dict[str, Any]:
    """Answers of the 2xx responses by operationId."""
    campaign = msgspec.to_builtins(s.campaign_from("soft", msgspec.convert(CAMPAIGN,
                                                                          s.CampaignIn)))
    tenant = build_tenant("app_5f0c2a9e41d3b7c8", "client", 1, None,  # times from "at"
                          [msgspec.json.encode(campaign)])
    rec = ops.new_device(tenant, msgspec.convert(DEVICE, s.DeviceIn))
    device = msgspec.to_builtins(ops.view(tenant, "d1", rec, None))
    fired = msgspec.convert(REQUESTS["eligibility"], s.EligibilityIn)
    now = tenant.now(s.unix_seconds(fired.at))
    decision = ops.decision(tenant, rec, fired, now, "d1")
    if ops.implicit_session(rec, fired):
        ops.open_session(tenant, rec, now, None)
        decision = ops.decision(tenant, rec, fired, now, "d1")
    app = {"app_id": tenant.app_id, "name": "shop", "clock": "server"}
    return {
        "healthz": {"status": "ok", "store": "sqlite", "integrity": "ok (quick_check at start)",
                    "writes": "ok"},
        "livez": {"status": "alive"},
        "metrics": METRICS,
        "openapi": {"openapi": "3.1.0", "info": {"title": "promptsim eligibility service"}},
        "docs": "<!doctype html><html>...Swagger UI...</html>",
        "redoc": "<!doctype html><html>...ReDoc...</html>",
        "create_app": app | {"api_key": "psk_shown-once-only-its-hash-is-stored"},
        "get_app": app,
        "app_stats": {"devices": 1, "events": {"impression": 1, "os_dialog_result": 1,
                                               "session_start": 1, "soft_prompt_clicked": 1}},
        "get_settings": REQUESTS["put_settings"],
        "put_settings": REQUESTS["put_settings"],
        "list_campaigns": {"campaigns": [campaign]},
        "get_campaign": campaign,
        "put_campaign": campaign,
        "campaign_stats": {"campaign_id": "soft", "impressions": 120, "clicks": 48,
                           "os_dialogs": 45, "allows": 36, "denials": 9, "settings_opened": 0,
                           "opt_ins": 36, "dismissals": 70, "shown_reported": 118},
        "create_device": device,
        "get_device": device,
        "post_events": {"new": 3, "duplicate": 0, "permission": "granted", "dialogs_left": 0},
        "eligibility": msgspec.to_builtins(decision),
        "reachability": msgspec.to_builtins(ops.reachability(tenant, "u1", [("d1", rec)], None)),
    } | experiments.responses()
