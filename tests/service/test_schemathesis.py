"""Schemathesis over ``/openapi.json`` of a real server: no input makes it answer 5xx.

Bounded: a few dozen generated cases per operation, valid and invalid data, on
a server seeded with a campaign and devices so that some ids exist.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from service_helpers import ADMIN, T0

EXAMPLES = 20


@pytest.fixture
def fuzz_target(sqlite_url, server_factory):
    s = server_factory(sqlite_url)
    key = s.new_app("client")
    with httpx.Client(base_url=s.url, headers={"Authorization": f"Bearer {key}"}) as c:
        c.put("/v1/campaigns/welcome", json={"frequency": {"type": "every_time"}})
        for d in ("0", "a", "d1"):
            c.post("/v1/devices", json={"device_id": d, "user_id": "u1", "platform": "ios",
                                        "at": T0})
    return s, key


def _check(url: str, op: Any, headers: dict[str, str], mode: GenerationMode,
           failures: list[str]) -> None:
    """Run ``EXAMPLES`` generated cases of one operation; collect any 5xx."""

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        r = case.call(base_url=url, headers=headers)
        if r.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} {r.status_code} "
                            f"{r.text[:200]}")
        elif r.status_code >= 400 and op.path not in ("/metrics", "/docs"):
            assert set(r.json()) == {"error", "field", "detail"}, r.text

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid in this operation
        assert mode is GenerationMode.NEGATIVE


def test_no_input_gives_a_server_error(fuzz_target):
    s, key = fuzz_target
    schema = schemathesis.openapi.from_url(s.url + "/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        op = result.ok()
        headers = {"Authorization": f"Bearer {ADMIN if op.path == '/v1/apps' else key}"}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _check(s.url, op, headers, mode, failures)
    assert failures == []
