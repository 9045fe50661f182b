"""The OpenAPI 3.1 document, generated from the route table, and a static docs page.

Paths come from :data:`sim.service.http.routes.ROUTES`; schemas from
``msgspec.json.schema_components`` over the request and response Structs the
routes name (the campaign ones are ``sim.rules.campaigns``' own), so the spec
cannot drift from what the router serves and the decoders accept. The docs page is plain HTML built
from the same document: it loads nothing from the internet.
"""

from __future__ import annotations

import html
import json
from functools import cache
from typing import Any

import msgspec

from sim.service import schemas as s
from sim.service.http.asgi import Route
from sim.service.http.errors import ErrorBody

_REF = "#/components/schemas/{name}"
_ERRORS = {
    400: "Malformed JSON", 401: "Missing or unknown API key", 404: "Unknown id or path",
    405: "Method not allowed",
    408: "The body did not arrive in time",
    409: "The request fits the API but not this app's settings or this device's state",
    413: "Body or batch too large", 415: "The body is not JSON",
    422: "Unknown field, wrong type or bad value",
    503: "Overloaded, or the store cannot answer now; retry after Retry-After seconds",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying",
                                "required": True, "schema": {"type": "integer", "minimum": 0}}}


def _ref(t: Any) -> dict[str, str]:
    return {"$ref": _REF.format(name=t.__name__)}


def _content(out: Any) -> dict[str, Any]:
    if isinstance(out, str):
        return {out: {"schema": {} if out.endswith("json") else {"type": "string"}}}
    return {"application/json": {"schema": _ref(out)}}


def _operation(r: Route) -> dict[str, Any]:
    """The OpenAPI operation of one route."""
    op: dict[str, Any] = {"summary": r.summary, "operationId": r.handler.__name__}
    op["parameters"] = [{"name": n, "in": "path", "required": True,
                         "schema": msgspec.json.schema(t)} for n, t in r.params.items()]
    errors = set(r.errors) | {503}
    if r.params:
        errors.add(422)
    if r.auth != "none":
        errors.add(401)
    if r.body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": _ref(r.body)}}}
        errors |= {400, 408, 413, 415, 422}
    op["responses"] = {str(code): {"description": "Created" if code == 201 else "OK",
                                   "content": _content(r.out)} for code in r.ok}
    for code in sorted(errors):
        op["responses"][str(code)] = {"description": _ERRORS[code], "content": {
            "application/json": {"schema": _ref(ErrorBody)}}}
        if code == 503:
            op["responses"]["503"]["headers"] = _RETRY_AFTER
    op["security"] = [{"bearer": []}] if r.auth != "none" else []
    return op


def _paths(routes: list[Route]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for r in routes:
        paths.setdefault(r.path, {})[r.method.lower()] = _operation(r)
        if r.method == "GET":  # HEAD answers the same headers without the body
            head = paths[r.path]["head"] = _operation(r)
            head["operationId"] = f"{r.handler.__name__}_head"
            head["summary"] = f"{r.summary} (headers only)"
            for resp in head["responses"].values():
                resp.pop("content", None)
    return paths


@cache
def spec() -> dict[str, Any]:
    """The OpenAPI document."""
    from sim.service.http.routes import ROUTES

    types = {t for r in ROUTES for t in (r.body, r.out) if t is not None and
             not isinstance(t, str)}
    _, components = msgspec.json.schema_components(
        sorted(types | {ErrorBody}, key=lambda t: t.__name__), ref_template=_REF)
    components["DeviceIn"]["allOf"] = [s.OS_VERSION_RULE]
    return {
        "openapi": "3.1.0",
        "info": {"title": "promptsim eligibility service", "version": "1",
                 "description": "Should this device see the push-permission soft prompt now? "
                 "Errors are always {error, field, detail}. Times `at` are Unix seconds or RFC 3339 "
                 "date-times; OS versions are numbers or version strings."},
        "paths": _paths(ROUTES),
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
