"""Schemathesis, every check (``--checks all``: no 5xx, statuses, content types, response
schemas, valid data accepted, invalid data rejected, auth enforced, ...) against a real
server on each store: the OpenAPI document says exactly what the server takes and answers.

Bounded: ``-n 25`` generated cases per operation and phase (coverage, fuzzing, stateful)
with a fixed seed, on a server seeded with a campaign and devices so that ids exist.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from service_helpers import ADMIN, T0

EXAMPLES = 25
SEED = 2


def _st(url: str, key: str, cwd: Path, *select: str) -> subprocess.CompletedProcess[str]:
    """``schemathesis run`` in ``cwd`` (where it keeps its cache)."""
    return subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
         "--checks", "all", "-n", str(EXAMPLES), "--seed", str(SEED), "--no-color",
         "-H", f"Authorization: Bearer {key}", *select],
        cwd=cwd, capture_output=True, text=True, timeout=600)


def test_schemathesis_checks_all_pass(db_url, server_factory, tmp_path):
    """Every operation, positive and negative data, on SQLite and PostgreSQL: no failure."""
    # schemathesis sends invalid credentials to every operation from one address; the
    # failed-authentication limit (its own test: test_hardening_auth.py) would answer 429
    s = server_factory(db_url, env={"PROMPTSIM_AUTH_FAILURES": "1000000"})
    key = s.new_app("client")
    with httpx.Client(base_url=s.url, headers={"Authorization": f"Bearer {key}"}) as c:
        assert c.put("/v1/campaigns/welcome", json={
            "frequency": {"type": "every_time"}}).status_code == 201
        for d in ("0", "a", "d1"):
            assert c.post("/v1/devices", json={"device_id": d, "user_id": "u1",
                                               "platform": "ios", "at": T0}).status_code == 201
    app = _st(s.url, key, tmp_path, "--exclude-path", "/v1/apps")
    assert app.returncode == 0, app.stdout[-4000:]
    assert "No issues found" in app.stdout
    admin = _st(s.url, ADMIN, tmp_path, "--include-path", "/v1/apps")
    assert admin.returncode == 0, admin.stdout[-4000:]
