"""The two docs pages over ``/openapi.json``, each served from a PyPI package's files.

``/docs`` is Swagger UI: its script, style sheet and icon come from ``flask-swagger-ui``'s
bundled Swagger UI distribution (read from the installed package; Flask itself is not used),
without the validator badge (``validatorUrl: null``). "Try it out" sends real requests to this
server; "Authorize" takes the app's API key.

``/redoc`` is ReDoc, a read-only three-column reference: its one script,
``redoc.standalone.js``, comes from ``drf-spectacular-sidecar``'s copy of the ``redoc`` npm
release (read from the installed package; Django itself is not imported), and the page
loads no web fonts. ReDoc's sidebar shows Redocly's logo from their CDN, unconditionally: the
page's Content-Security-Policy (``img-src 'self' data:``) stops that request in the browser,
and the link "API docs by Redocly" shows without its image. The package brings Django, so it
is promptsim's optional ``redoc`` extra: without it, ``/redoc`` and its script answer 404
naming the extra.

Neither page loads anything from the internet: no CDN.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Annotated

import msgspec

from sim.service.errors import NotFound

ASSETS: dict[str, bytes] = {
    "swagger-ui.css": b"text/css; charset=utf-8",
    "swagger-ui-bundle.js": b"text/javascript; charset=utf-8",
    "favicon-32x32.png": b"image/png",
}
"""The files of the Swagger UI distribution the page uses, and their content types."""
DOCS_ASSET = Annotated[str, msgspec.Meta(
    pattern="^(" + "|".join(name.replace(".", r"\.") for name in ASSETS) + ")$")]
"""The path parameter of ``/docs/{asset}``: one of :data:`ASSETS`."""

REDOC_ASSETS: dict[str, bytes] = {
    "redoc.standalone.js": b"text/javascript; charset=utf-8",
}
"""The files of the ReDoc distribution the ``/redoc`` page uses, and their content types."""
REDOC_ASSET = Annotated[str, msgspec.Meta(
    pattern="^(" + "|".join(name.replace(".", r"\.") for name in REDOC_ASSETS) + ")$")]
"""The path parameter of ``/redoc/{asset}``: one of :data:`REDOC_ASSETS`."""
REDOC_MISSING = ("ReDoc is not installed: /redoc needs promptsim's redoc extra (pip install "
                 "'promptsim[redoc]'; in a checkout, pip install -e '.[redoc]')")
"""The 404's detail of ``/redoc`` without the extra."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>promptsim eligibility service: API</title>
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head><body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout",
  persistAuthorization: true, displayOperationId: true, docExpansion: "list",
  tryItOutEnabled: false, defaultModelsExpandDepth: 0
});
</script></body></html>
"""


REDOC_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; img-src 'self' data:;
 style-src 'self' 'unsafe-inline'; worker-src 'self' blob:">
<title>promptsim eligibility service: API reference</title>
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
<style>body { margin: 0; padding: 0; }</style>
</head><body>
<redoc spec-url="/openapi.json" expand-responses="200,201" path-in-middle-panel></redoc>
<script src="/redoc/redoc.standalone.js"></script>
</body></html>
"""


def _package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it (``None``: not
    installed)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def page() -> bytes:
    """The Swagger UI page."""
    return PAGE.encode()


def redoc_page() -> bytes:
    """The ReDoc page; 404 naming the extra when ReDoc is not installed."""
    _redoc_bundles()
    return REDOC_PAGE.encode()


@cache
def asset(name: str) -> tuple[bytes, bytes]:
    """``(body, content_type)`` of one file of :data:`ASSETS`, read once."""
    folder = _package_dir("flask_swagger_ui")
    if folder is None:
        raise RuntimeError("flask-swagger-ui is not installed (pip install -e .)")
    return (folder / "dist" / name).read_bytes(), ASSETS[name]


def redoc_asset(name: str) -> tuple[bytes, bytes]:
    """``(body, content_type)`` of one file of :data:`REDOC_ASSETS`, read once; 404 naming the
    extra when ReDoc is not installed (asked each time: it may be installed or removed while
    the server runs)."""
    return _read(_redoc_bundles() / name), REDOC_ASSETS[name]


def _redoc_bundles() -> Path:
    """The folder of ReDoc's bundle in ``drf-spectacular-sidecar``; :class:`NotFound` when
    that package is not installed."""
    folder = _package_dir("drf_spectacular_sidecar")
    if folder is None:
        raise NotFound("not_installed", REDOC_MISSING)
    return folder / "static" / "drf_spectacular_sidecar" / "redoc" / "bundles"


@cache
def _read(path: Path) -> bytes:
    return path.read_bytes()
