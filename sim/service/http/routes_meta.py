"""Handlers that are not about one app: health, metrics, the spec and its docs pages."""

from __future__ import annotations

from sim.service.http import docs as pages
from sim.service.http import openapi as spec
from sim.service.http.asgi import JSON, Request, Response, json_response
from sim.service.http.metrics import CONTENT_TYPE
from sim.service.schemas import Alive


async def healthz(req: Request) -> Response:
    """``GET /healthz`` (readiness): 200 if the store reads and writes, else 503 naming the
    cause (busy, timeout, disk full, damaged file, ...)."""
    return json_response(200, await req.service.store.health())


async def livez(req: Request) -> Response:
    """``GET /livez`` (liveness): 200 while the process serves requests."""
    return json_response(200, Alive(status="alive"))


async def metrics(req: Request) -> Response:
    """``GET /metrics``: Prometheus text format, summed over every worker."""
    return 200, req.service.metrics.render(), CONTENT_TYPE


async def openapi(req: Request) -> Response:
    """``GET /openapi.json``."""
    return 200, spec.spec_json(), JSON


async def docs(req: Request) -> Response:
    """``GET /docs``: Swagger UI over ``/openapi.json``."""
    return 200, pages.page(), b"text/html; charset=utf-8"


async def docs_asset(req: Request) -> Response:
    """``GET /docs/{asset}``: a file of the Swagger UI distribution."""
    body, ctype = pages.asset(req.params["asset"])
    return 200, body, ctype


async def redoc(req: Request) -> Response:
    """``GET /redoc``: ReDoc over ``/openapi.json``.

    ReDoc is promptsim's optional ``redoc`` extra (``pip install 'promptsim[redoc]'``):
    without it this answers 404 naming the extra."""
    return 200, pages.redoc_page(), b"text/html; charset=utf-8"


async def redoc_asset(req: Request) -> Response:
    """``GET /redoc/{asset}``: a file of the ReDoc distribution (404 without the extra)."""
    body, ctype = pages.redoc_asset(req.params["asset"])
    return 200, body, ctype
