"""Handlers that are not about one app: health, metrics, the spec and its docs page."""

from __future__ import annotations

from sim.service.errors import Unavailable
from sim.service.http import openapi as spec
from sim.service.http.asgi import JSON, Request, Response, json_response
from sim.service.schemas import Health


async def healthz(req: Request) -> Response:
    """``GET /healthz``: 200 if the store answers, 503 otherwise."""
    try:
        await req.service.store.ping()
    except Exception as exc:
        raise Unavailable("unavailable", f"the store does not answer ({exc})") from None
    return json_response(200, Health(status="ok", store=req.service.store.kind))


async def metrics(req: Request) -> Response:
    """``GET /metrics``: Prometheus text format of this worker."""
    return 200, req.service.metrics.render(), b"text/plain; version=0.0.4; charset=utf-8"


async def openapi(req: Request) -> Response:
    """``GET /openapi.json``."""
    return 200, spec.spec_json(), JSON


async def docs(req: Request) -> Response:
    """``GET /docs``: a static HTML page rendering the spec."""
    return 200, spec.docs_html(), b"text/html; charset=utf-8"
