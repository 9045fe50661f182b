"""Prometheus: one scrape answers for every worker of a real server, with process and
build figures; the Grafana dashboard in docs/ asks only for series the service exports."""

from __future__ import annotations

import json
import re

import httpx
from service_helpers import ROOT, T0, scrape

DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"


def _traffic(url: str, key: str, n: int) -> None:
    """A campaign, a device, ``n`` eligibility questions and a batch of events, each request
    on a new connection so that both workers serve some."""
    auth = {"Authorization": f"Bearer {key}"}
    assert httpx.put(f"{url}/v1/campaigns/soft", headers=auth, timeout=30, json={
        "frequency": {"type": "once"}}).status_code == 201
    assert httpx.post(f"{url}/v1/devices", headers=auth, timeout=30, json={
        "device_id": "d1", "user_id": "u1", "platform": "ios", "at": T0}).status_code == 201
    for i in range(n):
        r = httpx.post(f"{url}/v1/devices/d1/eligibility", headers=auth, timeout=30,
                       json={"trigger": "app_open", "at": T0 + 1 + i})
        assert r.status_code == 200, r.text
    r = httpx.post(f"{url}/v1/devices/d1/events", headers=auth, timeout=30, json={"events": [
        {"type": "session_start", "event_id": "s1", "at": T0 + n + 1}] * 2})
    assert r.status_code == 200, r.text


def test_one_scrape_answers_for_every_worker(sqlite_url, server_factory):
    """Two workers: the request counter of one scrape is the sum of both (every eligibility
    answer counted once), each worker's share and process figures carry its pid, and
    build info names the version."""
    s = server_factory(sqlite_url, workers=2)
    _traffic(s.url, s.new_app(), 60)
    m = scrape(s.url)
    route = "/v1/devices/{device_id}/eligibility"
    asked = sum(v for labels, v in m["promptsim_http_requests_total"]
                if labels["route"] == route)
    assert asked == 60
    assert sum(v for _, v in m["promptsim_decisions_total"]) == 60
    assert sum(v for labels, v in m["promptsim_http_request_seconds_count"]
               if labels["route"] == route) == 60
    assert {labels["result"]: v for labels, v in m["promptsim_events_total"]} == {
        "new": 1, "duplicate": 1}
    served = {labels["pid"]: v for labels, v in m["promptsim_worker_requests_total"]}
    assert len(served) == 2 and min(served.values()) > 0, served
    assert {labels["pid"] for labels, _ in m["process_cpu_seconds_total"]} == set(served)
    assert all(v > 10e6 for _, v in m["process_resident_memory_bytes"])
    (labels, one), = m["promptsim_build_info"]
    assert one == 1 and labels["version"]


def _selectors(expr: str) -> list[tuple[str, set[str]]]:
    """The metric names of a PromQL expression, each with the label names its matcher and
    the enclosing ``by (...)`` use. The dashboard writes every selector as ``name{...}``
    or ``name[...]``."""
    out = []
    groups = set(re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr))
    by = {g.strip() for group in groups for g in group.split(",") if g.strip()}
    for name, matcher in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\}|\[)", expr):
        labels = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*[!=]~?", matcher))
        out.append((name, labels | by))
    return out


def test_dashboard_queries_name_metrics_the_service_exports(sqlite_url, server_factory):
    """Every query of docs/grafana-dashboard.json selects a series a real two-worker server
    exports, by labels that series has (`le` for the histogram buckets)."""
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 8
    s = server_factory(sqlite_url, workers=2)
    _traffic(s.url, s.new_app(), 5)
    m = scrape(s.url)
    for expr in exprs:
        selectors = _selectors(expr)
        assert selectors, expr
        for name, labels in selectors:
            assert name in m, (name, expr)
            have = set().union(*(set(lab) for lab, _ in m[name]))
            assert labels <= have, (name, labels - have, expr)
