"""The OpenAPI document as a reader uses it: every operation has an ``operationId``, a tag
and examples that the server's own decoders accept; ``/docs`` is Swagger UI, served from
the installed package's files, listing every operation with "Try it out", in headless
Chromium with no request leaving the server."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import msgspec
from browser_helpers import browser_or_skip, chromium_page

from sim.service.http.asgi import decode
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
