"""``/docs``: Swagger UI over ``/openapi.json``, served from a PyPI package's files.

The page and its script, style sheet and icon come from ``flask-swagger-ui``'s bundled
Swagger UI distribution (read from the installed package; Flask itself is not used), so
the page loads nothing from the internet: no CDN, no validator badge
(``validatorUrl: null``). "Try it out" sends real requests to this server; "Authorize"
takes the app's API key.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Annotated

import msgspec

ASSETS: dict[str, bytes] = {
    "swagger-ui.css": b"text/css; charset=utf-8",
    "swagger-ui-bundle.js": b"text/javascript; charset=utf-8",
    "favicon-32x32.png": b"image/png",
}
"""The files of the Swagger UI distribution the page uses, and their content types."""
DOCS_ASSET = Annotated[str, msgspec.Meta(
    pattern="^(" + "|".join(name.replace(".", r"\.") for name in ASSETS) + ")$")]
"""The path parameter of ``/docs/{asset}``: one of :data:`ASSETS`."""

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


def _dist() -> Path:
    spec = importlib.util.find_spec("flask_swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("flask-swagger-ui is not installed (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / "dist"


def page() -> bytes:
    """The docs page."""
    return PAGE.encode()


@cache
def asset(name: str) -> tuple[bytes, bytes]:
    """``(body, content_type)`` of one file of :data:`ASSETS`, read once."""
    return (_dist() / name).read_bytes(), ASSETS[name]
