"""The OpenAPI document as a reader uses it: every operation has an ``operationId``, a tag
and examples that the server's own decoders accept; ``/docs`` is Swagger UI, served from
the installed package's files, listing every operation with "Try it out", in headless
Chromium with no request leaving the server."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
from browser_helpers import browser_or_skip, chromium_page

from sim.service.http.asgi import decode
from sim.service.http.docs import REDOC_MISSING
from sim.service.http.openapi import TAGS, spec
from sim.service.http.routes import ROUTES


def _operations() -> list[tuple[str, str, dict]]:
    return [(path, method, op) for path, ops in spec()["paths"].items()
            for method, op in ops.items()]


def test_every_operation_has_an_id_a_tag_and_examples():
    """Unique operationIds, a declared tag, an example for every path parameter, request
    body and 2xx answer (HEAD answers have no body to exemplify)."""
    ops = _operations()
    ids = [op["operationId"] for _, _, op in ops]
    listed = [r for r in ROUTES if r.in_spec]
    assert len(ids) == len(set(ids)) == len(listed) + sum(r.method == "GET" for r in listed)
    names = {t["name"] for t in TAGS}
    for path, method, op in ops:
        assert op["tags"] and set(op["tags"]) <= names, (path, method)
        for param in op["parameters"]:
            assert "example" in param, (path, method, param["name"])
        if "requestBody" in op:
            assert "example" in op["requestBody"]["content"]["application/json"]
        if method != "head":
            for code, resp in op["responses"].items():
                if code.startswith("2"):
                    assert all("example" in m for m in resp["content"].values()), (path, code)


def test_examples_are_accepted_by_the_routes_own_types():
    """Each request example decodes with the route's body type (the server's decoder), each
    JSON answer with its answer type, each path example fits its parameter."""
    by_id = {op["operationId"]: op for _, _, op in _operations()}
    for r in ROUTES:
        if not r.in_spec:
            continue
        op = by_id[r.handler.__name__]
        if r.body is not None:
            example = op["requestBody"]["content"]["application/json"]["example"]
            decode(msgspec.json.encode(example), r.body)
        for code in r.ok:
            media = op["responses"][str(code)]["content"]
            if not isinstance(r.out, str):
                msgspec.json.decode(msgspec.json.encode(media["application/json"]["example"]),
                                    type=r.out)
        for param in op["parameters"]:
            msgspec.convert(param["example"], r.params[param["name"]])


def test_docs_page_is_swagger_ui_with_every_operation_and_try_it_out(sqlite_url, server_factory,
                                                                     tmp_path: Path):
    """Headless Chromium opens /docs on a real server: Swagger UI renders one block per
    operation of the document, asks nothing of any other host, and "Try it out" on
    GET /livez sends the request and shows the 200 answer."""
    browser_or_skip()
    s = server_factory(sqlite_url)
    origin = urlsplit(s.url).netloc
    with chromium_page() as (page, seen):
        page.goto(f"{s.url}/docs", wait_until="networkidle")
        page.wait_for_selector(".opblock", timeout=20_000)
        blocks = page.locator(".opblock").count()
        ids = page.locator(".opblock-summary-operation-id").all_inner_texts()
        page.screenshot(path=str(tmp_path / "docs.png"), full_page=True)
        live = page.locator("#operations-meta-livez")
        live.locator(".opblock-summary").click()
        live.locator("button.try-out__btn").click()
        live.locator("button.execute").click()
        status = live.locator(".live-responses-table tr.response .response-col_status")
        status.first.wait_for(timeout=10_000)
        answered = status.first.inner_text().strip()
        body = live.locator(".live-responses-table .microlight").first.inner_text()
    requests, errors = seen.requests, seen.errors
    assert errors == []
    assert [u for u in requests if urlsplit(u).netloc != origin] == []
    assert blocks == len(_operations())
    assert sorted(ids) == sorted(op["operationId"] for _, _, op in _operations())
    assert answered == "200" and '"alive"' in body
    assert f"{s.url}/livez" in requests  # the request was really sent


ROOT = Path(__file__).resolve().parents[2]


def test_redoc_is_an_extra_and_without_it_answers_404_naming_it(sqlite_service, monkeypatch):
    """``drf-spectacular-sidecar`` (which brings Django) is not in the default install but in
    the ``redoc`` extra, and in ``dev`` so that the suite covers ``/redoc``. Installed, the
    page and its script are served; without it (the package hidden from the import system,
    after its script was read once) both answer 404, one line naming the extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    sidecar = [d for d in project["dependencies"] if d.startswith("drf-spectacular-sidecar")]
    assert sidecar == []
    for extra in ("redoc", "dev"):
        assert any(d.startswith("drf-spectacular-sidecar")
                   for d in project["optional-dependencies"][extra]), extra
    page = sqlite_service.get("/redoc")
    assert page.status_code == 200 and '<script src="/redoc/redoc.standalone.js">' in page.text
    script = sqlite_service.get("/redoc/redoc.standalone.js")
    assert script.status_code == 200 and b"exports.Redoc=" in script.content[:1000]
    assert script.headers["content-type"].startswith("text/javascript")
    monkeypatch.setitem(sys.modules, "drf_spectacular_sidecar", None)
    for path in ("/redoc", "/redoc/redoc.standalone.js"):
        r = sqlite_service.get(path)
        assert r.status_code == 404, path
        assert r.json() == {"error": "not_installed", "field": None, "detail": REDOC_MISSING}
    assert "promptsim[redoc]" in REDOC_MISSING and "\n" not in REDOC_MISSING


LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
"""The one foreign URL in ReDoc's bundle the page asks for: its sidebar's "API docs by Redocly"
image, unconditional in ReDoc's code; the page's Content-Security-Policy blocks it."""


def test_redoc_page_renders_every_operation_from_local_files(sqlite_url, server_factory):
    """Headless Chromium opens /redoc on a real server: ReDoc, from the installed package's
    script, lists every operation of the document (its section ids are the operationIds) under
    the document's title; no request leaves the server (ReDoc's own logo from its CDN is
    stopped by the page's Content-Security-Policy before it is sent), and nothing else fails."""
    browser_or_skip()
    s = server_factory(sqlite_url)
    origin = urlsplit(s.url).netloc
    with chromium_page() as (page, seen):
        failed: dict[str, str] = {}
        page.on("requestfailed", lambda r: failed.__setitem__(r.url, r.failure or ""))
        page.goto(f"{s.url}/redoc", wait_until="networkidle")
        page.wait_for_selector("[data-section-id^='operation/']", timeout=20_000)
        sections = page.eval_on_selector_all(
            "[data-section-id^='operation/']", "els => els.map(e => e.dataset.sectionId)")
        title = page.locator("h1").first.inner_text()
    foreign = [u for u in seen.requests
               if urlsplit(u).netloc != origin and not u.startswith("blob:")]
    assert foreign == [LOGO]
    assert failed == {LOGO: "csp"}  # Chromium: blocked by the policy, never sent
    assert [e for e in seen.errors if LOGO not in e] == []
    assert f"{s.url}/redoc/redoc.standalone.js" in seen.requests
    assert f"{s.url}/openapi.json" in seen.requests
    ids = sorted(op["operationId"] for _, _, op in _operations())
    assert sorted({sid.removeprefix("operation/") for sid in sections}) == ids
    assert title.startswith(spec()["info"]["title"])
