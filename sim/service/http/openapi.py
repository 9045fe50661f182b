"""The OpenAPI 3.1 document, generated from the route table.

Paths come from :data:`sim.service.http.routes.ROUTES`; schemas from
``msgspec.json.schema_components`` over the request and response Structs the
routes name (the campaign ones are ``sim.rules.config.campaigns``' own), so the spec
cannot drift from what the router serves and the decoders accept. Each operation has
its handler's name as ``operationId``, its route's tag, and examples
(:mod:`sim.service.http.examples`). ``/docs`` and ``/redoc`` render it
(:mod:`sim.service.http.docs`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec

from sim.service import schemas as s
from sim.service.http import examples, examples_errors
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
    429: "Too many failed authentications from this address; retry after Retry-After "
         "seconds",
    503: "Overloaded, or the store cannot answer now; retry after Retry-After seconds",
}
TAGS = [
    {"name": "devices", "description": "Installs, their events, the eligibility question "
     "and reachability: what an SDK calls"},
    {"name": "campaigns", "description": "Soft-prompt campaigns (the scenario files' "
     "Campaign) and their figures"},
    {"name": "experiments", "description": "Experiments: arms of campaigns served by a "
     "sticky hash, and their stats with always-valid intervals"},
    {"name": "apps", "description": "The app of the key, its settings; creating apps "
     "(admin key)"},
    {"name": "meta", "description": "Health, metrics, this document and its docs pages; no "
     "key needed"},
]
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying",
                                "required": True, "schema": {"type": "integer", "minimum": 0}}}


def _ref(t: Any) -> dict[str, str]:
    return {"$ref": _REF.format(name=t.__name__)}


def _content(out: Any, example: Any) -> dict[str, Any]:
    if isinstance(out, str):
        media = {"schema": {} if out.endswith("json") else {"type": "string"}}
        return {out: media | {"example": example}}
    return {"application/json": {"schema": _ref(out), "example": example}}


def _operation(r: Route) -> dict[str, Any]:
    """The OpenAPI operation of one route."""
    name = r.handler.__name__
    op: dict[str, Any] = {"summary": r.summary, "operationId": name, "tags": [r.tag]}
    doc = (r.handler.__doc__ or "").split("\n\n", 1)
    if len(doc) > 1:
        op["description"] = " ".join(doc[1].split()).replace("``", "`")
    op["parameters"] = [{"name": n, "in": "path", "required": True,
                         "schema": msgspec.json.schema(t), "example": examples.PARAMS[n]}
                        for n, t in r.params.items()]
    errors = set(r.errors) | {503}
    if r.params:
        errors.add(422)
    if r.auth != "none":
        errors |= {401, 429}
    if r.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _ref(r.body), "example": examples.REQUESTS[name]}}}
        errors |= {400, 408, 413, 415, 422}
    answer = examples.responses()[name]
    op["responses"] = {str(code): {"description": "Created" if code == 201 else "OK",
                                   "content": _content(r.out, answer)} for code in r.ok}
    for code in sorted(errors):
        op["responses"][str(code)] = {"description": _ERRORS[code], "content": {
            "application/json": {"schema": _ref(ErrorBody),
                                 "example": examples_errors.example(name, code)}}}
        if code in (429, 503):
            op["responses"][str(code)]["headers"] = _RETRY_AFTER
    op["security"] = [{"bearer": []}] if r.auth != "none" else []
    return op


def _paths(routes: list[Route]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for r in routes:
        if not r.in_spec:
            continue
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

    types = {t for r in ROUTES if r.in_spec for t in (r.body, r.out) if t is not None and
             not isinstance(t, str)}
    _, components = msgspec.json.schema_components(
        sorted(types | {ErrorBody}, key=lambda t: t.__name__), ref_template=_REF)
    components["DeviceIn"]["allOf"] = [s.OS_VERSION_RULE, *s.OS_KIND_RULES]
    return {
        "openapi": "3.1.0",
        "info": {"title": "promptsim eligibility service", "version": "1",
                 "description": "Should this device see the push-permission soft prompt now? "
                 "Errors are always {error, field, detail}. Times `at` are Unix seconds or "
                 "RFC 3339 date-times; OS versions are numbers or version strings."},
        "tags": TAGS,
        "paths": _paths(ROUTES),
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }


@cache
def spec_json() -> bytes:
    """The document as JSON bytes."""
    return msgspec.json.encode(spec())
