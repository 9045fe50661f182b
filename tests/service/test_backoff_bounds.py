"""Issue 28, item 3: the backoff's inputs are bounded and its gap cannot overflow.

``PUT /v1/campaigns/bk`` with a gap below a second (``1e-320`` days) or a factor above
:data:`~sim.rules.config.campaigns.MAX_BACKOFF_FACTOR` is refused naming the field (422
``invalid_value``, the API's answer to any value out of range); at the
bounds, a device shown and dismissed until its gap is capped keeps getting answers, on a
real server and on both stores.

The issue's reproduction took 309 show-and-dismiss cycles because a gap of 1e-320 days
needed 10 ** 309 to overflow. A gap is now at least a second, so the smallest allowed gap
with the largest factor reaches ``MAX_DAYS`` after 9 dismissals: 12 cycles take
``backoff_gap`` down the same path, past its cap (a dismissal counts only after an
impression, so each cycle is an eligibility that shows and a dismissal).
"""

from __future__ import annotations

import httpx
import pytest

from sim.rules.config.campaigns import MAX_BACKOFF_FACTOR, MIN_GAP_DAYS
from sim.rules.config.platforms import MAX_DAYS
from tests.service.service_helpers import DAY, T0, ev, install


@pytest.mark.parametrize(("frequency", "field"), [
    ({"type": "backoff", "gap_days": 1e-320, "factor": 10}, "gap_days"),
    ({"type": "backoff", "gap_days": 1.0, "factor": 1000}, "factor"),
    ({"type": "multiple", "limit": 3, "gap_days": 1e-320}, "gap_days"),
])
def test_an_out_of_range_backoff_is_a_400_naming_the_field(api, frequency, field) -> None:
    r = api.put("/v1/campaigns/bk", {"trigger": {"type": "app_open"}, "frequency": frequency})
    assert r.status_code == 422, r.text  # the API's answer to a value out of range
    body = r.json()
    assert body["error"] == "invalid_value" and body["field"] == f"frequency.{field}", body
    assert api.get("/v1/campaigns/bk").status_code == 404


def test_a_capped_backoff_keeps_answering_on_a_real_server(db_url, server_factory) -> None:
    s = server_factory(db_url)
    key = s.new_app()
    with httpx.Client(base_url=s.url, headers={"Authorization": f"Bearer {key}"},
                      timeout=30) as c:
        r = c.put("/v1/campaigns/bk", json={
            "trigger": {"type": "app_open"},
            "frequency": {"type": "backoff", "gap_days": MIN_GAP_DAYS,
                          "factor": MAX_BACKOFF_FACTOR}})
        assert r.status_code in (200, 201), r.text

        class Http:
            def post(self, path: str, body: object) -> httpx.Response:
                return c.post(path, json=body)

        install(Http())
        at, gap = T0 + 1, MIN_GAP_DAYS
        for n in range(12):
            d = c.post("/v1/devices/d1/eligibility", json={"trigger": "app_open", "at": at})
            assert d.status_code == 200, (n, d.text)
            assert d.json()["show"] is True, (n, d.json())
            r = c.post("/v1/devices/d1/events",
                       json={"events": [ev("soft_prompt_dismissed", at + 1, campaign_id="bk")]})
            assert r.status_code == 200, (n, r.text)
            gap = min(MAX_DAYS, gap * MAX_BACKOFF_FACTOR)
            early = c.post("/v1/devices/d1/eligibility",
                           json={"trigger": "app_open", "at": at + gap * DAY / 2})
            assert early.status_code == 200, (n, early.text)
            assert early.json() == {"show": False, "reason": "gap_not_elapsed"}, n
            at += gap * DAY + 2
        state = c.get("/v1/devices/d1").json()["state"]["campaigns"]["bk"]
        assert state["dismissed"] == 12 and state["shown"] == 12
