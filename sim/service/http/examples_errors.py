"""An example of every error answer in ``/openapi.json``: the service's real codes, fields
and details (``tests/service/test_openapi_errors.py`` provokes each one on the service and
compares the whole body), instead of the ``"error": "string"`` a schema alone shows.

:data:`BY_STATUS` is an example per status; :data:`BY_ROUTE` replaces it where an operation
answers that status with its own code (an unknown device, a device already registered).
"""

from __future__ import annotations

from typing import Any

from sim.service.http.docs import REDOC_MISSING
from sim.service.http.examples_experiments import EXPERIMENT_ID


def _body(error: str, field: str | None, detail: str) -> dict[str, Any]:
    return {"error": error, "field": field, "detail": detail}


BY_STATUS: dict[int, dict[str, Any]] = {
    400: _body("invalid_json", None, "the body is not valid JSON: it ends too soon (after 19 "
               "bytes); send one whole JSON object"),
    401: _body("unauthorized", None, "missing credentials; send 'Authorization: Bearer KEY' "
               "with the API key of your app"),
    404: _body("not_found", None, "no route /v2/whatever; the paths are listed in "
               "/openapi.json, /docs and /redoc"),
    408: _body("body_incomplete", None, "the connection ended before the whole body arrived; "
               "nothing was applied"),
    409: _body("at_required", "at", "this app uses the client clock: 'at' (Unix seconds or "
               "RFC 3339) is required"),
    413: _body("body_too_large", None, "the body exceeds 1048576 bytes; send at most 1048576 "
               "bytes (split event batches)"),
    415: _body("unsupported_media_type", None, "send the body as Content-Type: "
               "application/json"),
    422: _body("unknown_field", "colour", "unknown field 'colour'; allowed fields: device_id, "
               "user_id, platform, os_version, os_kind, api_level, app_target_sdk, browser, "
               "quiet_ui, webapk, browser_id, permission, sdk_reports_permission, "
               "utc_offset_minutes, at"),
    429: _body("too_many_failures", None, "more than 20 failed authentications from this "
               "address in 10 s; retry after the Retry-After seconds with a valid key"),
    503: _body("overloaded", None, "the server is at its limit of 1000 requests at once; retry "
               "after the Retry-After seconds"),
}
"""Per status, one answer the service gives with it."""

_NO_DEVICE = _body("unknown_device", "device_id", "no device 'd1' in this app")
_NO_CAMPAIGN = _body("unknown_campaign", "campaign_id", "no campaign 'soft' in this app")
_NO_EXPERIMENT = _body("unknown_experiment", "experiment_id",
                       f"no experiment {EXPERIMENT_ID!r} in this app")

BY_ROUTE: dict[tuple[str, int], dict[str, Any]] = {
    ("get_device", 404): _NO_DEVICE,
    ("post_events", 404): _NO_DEVICE,
    ("eligibility", 404): _NO_DEVICE,
    ("get_campaign", 404): _NO_CAMPAIGN,
    ("campaign_stats", 404): _NO_CAMPAIGN,
    ("reachability", 404): _body("unknown_user", "user_id", "no user 'u1' in this app"),
    ("redoc", 404): _body("not_installed", None, REDOC_MISSING),
    ("get_experiment", 404): _NO_EXPERIMENT,
    ("experiment_stats", 404): _NO_EXPERIMENT,
    ("create_device", 409): _body("device_exists", "device_id", "device 'd1' is already "
                                  "registered; report a reinstall as a 'reinstalled' event"),
    ("post_events", 409): _body("no_dialog_left", "events[1]", "this device cannot see an OS "
                                "dialog now (profile ios, permission denied, denials 1); "
                                "allowed: os_dialog_result only while dialogs_left is not 0; "
                                "nothing in the batch was applied"),
    ("put_experiment", 409): _body("experiment_overlap", "audience", "experiment 'other' runs "
                                   "at the same time for some of the same devices; allowed: "
                                   "an audience or a window that does not overlap it (or end "
                                   "it first)"),
}
"""Per operation and status, the answer of that operation when it differs from
:data:`BY_STATUS`'s."""


def example(operation: str, status: int) -> dict[str, Any]:
    """The example error body of ``operation`` answering ``status``."""
    return BY_ROUTE.get((operation, status), BY_STATUS[status])
