"""Examples of the experiment operations, for ``/openapi.json`` and ``/docs``.

The stored experiment is the request put through :func:`sim.service.experiments.validate`,
and the stats are computed by :mod:`sim.service.experiment_stats` from the figures of two
cells, as the server computes them from the store's aggregates.
"""

from __future__ import annotations

from typing import Any

import msgspec

from sim.rules.config.campaigns import Policy
from sim.service.experiment_stats import experiment_stats
from sim.service.experiments import ExperimentIn, running, validate
from sim.service.tenant import build_tenant

EXPERIMENT_ID = "pilot-1"
REQUEST: dict[str, Any] = {
    "arms": [
        {"name": "cold", "weight": 0.5, "campaigns": [{"id": "ask", "primer": False}]},
        {"name": "backoff", "weight": 0.5, "campaigns": [
            {"id": "soft", "frequency": {"type": "backoff", "gap_days": 2, "factor": 2}}]}],
    "unit": "device",
    "audience": {"platforms": ["ios"]},
    "start": "2026-12-01T00:00:00Z",
    "end": "2026-12-22T00:00:00Z",
}
"""``PUT /v1/experiments/pilot-1``."""
_CELLS = [
    # arm, platform, profile, day, units, soft shown/accepted/dismissed, units soft shown,
    # os shown/allowed/denied/dismissed, units os shown, opt-outs, uninstalls
    ("backoff", "ios", "ios", "2026-12-01", 1210, 1650, 530, 980, 1100, 520, 300, 210, 10,
     520, 4, 31),
    ("cold", "ios", "ios", "2026-12-01", 1234, 0, 0, 0, 0, 1190, 520, 640, 30, 1190, 6, 35),
]
_STATES = [  # arm, platform, profile, day, state key (experiments.state_key), units
    ("backoff", "ios", "ios", "2026-12-01", "ios granted 1 0", 296),
    ("backoff", "ios", "ios", "2026-12-01", "ios denied 1 1", 214),
    ("cold", "ios", "ios", "2026-12-01", "ios granted 1 0", 514),
    ("cold", "ios", "ios", "2026-12-01", "ios denied 1 1", 664),
]


def responses() -> dict[str, Any]:
    """Answers of the experiment operations by operationId."""
    body = msgspec.convert(REQUEST, ExperimentIn)
    exp = validate(EXPERIMENT_ID, body, Policy(), (), None)
    tenant = build_tenant("app_5f0c2a9e41d3b7c8", "client", 1, None, [],
                          [msgspec.json.encode(exp)])
    run = running(exp, {})
    stats = experiment_stats(run, tenant, _CELLS, _STATES)
    return {"put_experiment": msgspec.to_builtins(exp),
            "get_experiment": msgspec.to_builtins(exp),
            "list_experiments": {"experiments": [msgspec.to_builtins(exp)]},
            "experiment_stats": msgspec.to_builtins(stats),
            "experiment_page": "<!doctype html><html>...<h1>Pilot: pilot-1</h1>..."
                               "</html>"}
