"""The OpenAPI 3.1 document, generated from the msgspec types, and a static docs page.

Schemas come from ``msgspec.json.schema_components`` over the request and
response Structs (the campaign ones are ``sim.rules.campaigns``' own), so the spec
cannot drift from what the decoders accept. The docs page is plain HTML built
from the same document: it loads nothing from the internet.
"""

from __future__ import annotations

import html
import json
from functools import cache
from typing import Any

import msgspec

from sim.rules.campaigns import Campaign
from sim.rules.decision import Decision
from sim.service import schemas as s
from sim.service.errors import ErrorBody

_TYPES: tuple[Any, ...] = (
    s.AppIn, s.AppCreated, s.AppInfo, s.AppSettings, s.CampaignList, Campaign, s.DeviceIn,
    s.DeviceView, s.EventBatch, s.EventsResult, s.EligibilityIn, Decision, s.Reachability,
    s.CampaignStats, s.Health, ErrorBody,
)
_REF = "#/components/schemas/{name}"
_ERRORS = {
    "400": "Malformed JSON", "401": "Missing or unknown API key", "404": "Unknown id or path",
    "405": "Method not allowed", "409": "Conflict with the device's state",
    "413": "Body or batch too large", "422": "Unknown field, wrong type or bad value",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(name=name)}


def _param(name: str, pattern: str, where: str = "path") -> dict[str, Any]:
    return {"name": name, "in": where, "required": True,
            "schema": {"type": "string", "pattern": pattern}}


DEVICE = _param("device_id", r"^[A-Za-z0-9_.:@-]{1,128}$")
USER = _param("user_id", r"^[A-Za-z0-9_.:@-]{1,128}$")
CAMPAIGN = _param("campaign_id", r"^[A-Za-z0-9_.:-]{1,64}$")


def _op(summary: str, ok: str, out: str | None, body: str | None = None,
        params: tuple[dict[str, Any], ...] = (), auth: bool = True,
        errors: tuple[str, ...] = ("401", "422"), ok_text: str = "OK",
        content: str = "application/json") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "parameters": list(params), "responses": {}}
    if out is not None:
        op["responses"][ok] = {"description": ok_text,
                               "content": {content: {"schema": _ref(out)}}}
    else:
        op["responses"][ok] = {"description": ok_text, "content": {content: {
            "schema": {"type": "string"}}}}
    if body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": _ref(body)}}}
        errors = (*errors, "400", "413")
    for code in sorted(set(errors)):
        op["responses"][code] = {"description": _ERRORS[code],
                                 "content": {"application/json": {"schema": _ref("ErrorBody")}}}
    op["security"] = [{"bearer": []}] if auth else []
    return op


def _paths() -> dict[str, Any]:
    nf = ("401", "404", "422")
    return {
        "/healthz": {"get": _op("Liveness and store check", "200", "Health", auth=False,
                                errors=())},
        "/metrics": {"get": _op("Prometheus metrics of the serving worker", "200", None,
                                auth=False, errors=(), content="text/plain")},
        "/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {}}}}}}},
        "/docs": {"get": _op("Human-readable API docs", "200", None, auth=False, errors=(),
                             content="text/html")},
        "/v1/apps": {"post": _op("Create an app (admin key)", "201", "AppCreated", "AppIn")},
        "/v1/app": {"get": _op("The app of this key", "200", "AppInfo", errors=("401",))},
        "/v1/settings": {
            "get": _op("The app's policy settings", "200", "AppSettings", errors=("401",)),
            "put": _op("Replace the policy settings", "200", "AppSettings", "AppSettings")},
        "/v1/campaigns": {"get": _op("All campaigns, in decision order", "200", "CampaignList",
                                     errors=("401",))},
        "/v1/campaigns/{campaign_id}": {
            "get": _op("One campaign", "200", "Campaign", params=(CAMPAIGN,), errors=nf),
            "put": _op("Create (201) or replace (200) a campaign", "200", "Campaign",
                       "CampaignIn", params=(CAMPAIGN,))
            | {"responses": _op("", "200", "Campaign", "CampaignIn")["responses"]
               | {"201": {"description": "Created", "content": {"application/json": {
                   "schema": _ref("Campaign")}}}}}},
        "/v1/campaigns/{campaign_id}/stats": {
            "get": _op("Campaign figures", "200", "CampaignStats", params=(CAMPAIGN,),
                       errors=nf)},
        "/v1/devices": {"post": _op("Register an install", "201", "DeviceView", "DeviceIn",
                                    errors=("401", "409", "422"), ok_text="Created")},
        "/v1/devices/{device_id}": {
            "get": _op("A device's state and dialogs left", "200", "DeviceView",
                       params=(DEVICE,), errors=nf)},
        "/v1/devices/{device_id}/events": {
            "post": _op("A batch of events, applied all or nothing", "200", "EventsResult",
                        "EventBatch", params=(DEVICE,), errors=(*nf, "409"))},
        "/v1/devices/{device_id}/eligibility": {
            "post": _op("Should the soft prompt show now?", "200", "Decision", "EligibilityIn",
                        params=(DEVICE,), errors=nf)},
        "/v1/users/{user_id}/reachability": {
            "get": _op("Reachability per platform family", "200", "Reachability",
                       params=(USER,), errors=nf)},
    }


@cache
def spec() -> dict[str, Any]:
    """The OpenAPI document."""
    _, components = msgspec.json.schema_components(_TYPES, ref_template=_REF)
    camp_in = json.loads(json.dumps(components["Campaign"]))
    camp_in["required"] = [f for f in camp_in.get("required", []) if f != "id"]
    camp_in["description"] = "A campaign; `id` may be left out (the path gives it)."
    components["CampaignIn"] = camp_in
    return {
        "openapi": "3.1.0",
        "info": {"title": "promptsim eligibility service", "version": "1",
                 "description": "Should this device see the push-permission soft prompt now? "
                 "Errors are always {error, field, detail}. Times `at` are Unix seconds."},
        "paths": _paths(),
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }


@cache
def spec_json() -> bytes:
    """The document as JSON bytes."""
    return msgspec.json.encode(spec())


@cache
def docs_html() -> bytes:
    """A static page listing every path and schema of :func:`spec`."""
    doc = spec()
    e = html.escape
    rows = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            codes = ", ".join(op["responses"])
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
            link = f'<a href="#{e(ref)}">{e(ref)}</a>' if ref else ""
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{e(path)}</code>"
                        f"</td><td>{e(op.get('summary', ''))}</td><td>{link}</td>"
                        f"<td>{e(codes)}</td></tr>")
    schemas = "".join(
        f'<h3 id="{e(name)}">{e(name)}</h3><pre>{e(json.dumps(sch, indent=2))}</pre>'
        for name, sch in sorted(doc["components"]["schemas"].items()))
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>promptsim API</title>"
        "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}td{padding:2px 8px;"
        "vertical-align:top}pre{background:#f4f4f4;padding:8px;overflow:auto}</style></head>"
        f"<body><h1>{e(doc['info']['title'])}</h1><p>{e(doc['info']['description'])}</p>"
        "<p>Send <code>Authorization: Bearer KEY</code>. Machine-readable: "
        "<a href='/openapi.json'>/openapi.json</a>.</p><table><tr><th>method</th><th>path</th>"
        "<th>what</th><th>body</th><th>responses</th></tr>"
        + "".join(rows) + "</table><h2>Schemas</h2>" + schemas + "</body></html>")
    return page.encode()
