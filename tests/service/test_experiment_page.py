"""``GET /v1/experiments/{id}/page``: the pilot's page served by a real server on the stats
it holds now (the template and function ``promptsim pilot report`` writes with), checked
in its text, its auth and errors, and in Chromium (self-contained); and the 404 of a
service started without the reports."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
from browser_helpers import browser_or_skip
from experiment_helpers import COLD_SOFT, ask, client, ids_in_arm, register
from service_helpers import T0


def _text(page: str) -> str:
    body = page.split("</head>", 1)[1]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def test_the_service_serves_the_experiments_page(sqlite_url, server_factory, tmp_path: Path):
    """Two units per arm, one of which allowed: the page names the arms and their weights,
    the units, the SRM check and each arm's funnel with intervals, says the fit is not run
    here and how to run it; the tenant's key is required and an unknown id is 404 naming
    the field; Chromium shows every table and the page asks for nothing."""
    s = server_factory(sqlite_url)
    key = s.new_app()
    with client(s.url, key) as c:
        assert c.put("/v1/experiments/e1", json=COLD_SOFT).status_code == 201
        for arm in (0, 1):
            for d in ids_in_arm("e1", arm, 2):
                register(c, d)
                ask(c, d)
        allowed = ids_in_arm("e1", 0, 1)[0]
        r = c.post(f"/v1/devices/{allowed}/events", json={"events": [
            {"type": "os_dialog_result", "event_id": "o1", "at": T0 + 20,
             "outcome": "allowed"}]})
        assert r.status_code == 200, r.text
        r = c.get("/v1/experiments/e1/page")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/html")
        page = r.text
        missing = c.get("/v1/experiments/nope/page")
        assert missing.status_code == 404
        assert missing.json()["field"] == "experiment_id"
    assert httpx.get(s.url + "/v1/experiments/e1/page").status_code == 401
    text = _text(page)
    assert "Pilot: e1" in text
    assert "cold (50%), soft (50%)" in text
    assert "4 over 1 day(s)" in text
    assert re.search(r"sample ratio check \(the service's\) chi2 0\.00, p = 1: no mismatch",
                     text)
    assert re.search(r"cold step all platforms Android units 2 2 .* allowed \(of dialogs "
                     r"shown\) 100\.0% \(\d+\.\d-\d+\.\d\) 100\.0% .* opted in now 50\.0%",
                     text)
    assert "Not fitted yet. Run promptsim pilot fit SCENARIO --url URL --experiment e1" in text
    assert "Fitted priors beside the assumed ones" not in text

    browser_or_skip()
    from browser_helpers import chromium_page

    from tests.reports.test_report_pages import defects

    assert defects(page) == []
    path = tmp_path / "page.html"
    path.write_text(page)
    with chromium_page() as (tab, seen):
        tab.goto(path.as_uri(), wait_until="load")
        tables = tab.eval_on_selector_all("table", "els => els.map(e => e.offsetHeight)")
    assert seen.errors == []
    assert [u for u in seen.requests if not u.startswith(("file:", "data:"))] == []
    assert len(tables) == 3 and min(tables) > 40  # two funnels, the differences


def test_a_service_without_the_reports_answers_no_pages(sqlite_url, server_factory):
    """The service alone (``sim.service.http.service:asgi_app`` on uvicorn, which
    ``promptsim serve`` wraps to plug the reports' renderer in: ``sim/cli/serve.py``) reads
    the stats, then answers 404 ``no_pages`` for a known experiment, naming no field and
    saying how to serve pages; an unknown experiment is still 404 naming
    ``experiment_id`` (its stats are read first); the stats themselves are served."""
    s = server_factory(sqlite_url, factory="sim.service.http.service:asgi_app")
    with client(s.url, s.new_app()) as c:
        assert c.put("/v1/experiments/e1", json=COLD_SOFT).status_code == 201
        d = ids_in_arm("e1", 0, 1)[0]
        register(c, d)
        ask(c, d)
        r = c.get("/v1/experiments/e1/page")
        assert r.status_code == 404, r.text
        body = r.json()
        assert body["error"] == "no_pages"
        assert body["field"] is None
        assert "promptsim serve" in body["detail"]
        missing = c.get("/v1/experiments/nope/page")
        assert missing.status_code == 404
        assert missing.json()["error"] == "unknown_experiment"
        assert missing.json()["field"] == "experiment_id"
        stats = c.get("/v1/experiments/e1/stats")
        assert stats.status_code == 200
        assert sum(x["units"] for x in stats.json()["cells"]) == 1
