"""``promptsim parity``: replay simulated histories through a running service's API."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from sim.cli import positive_int


def register(sub: Any) -> None:
    """Add ``promptsim parity`` to the ``promptsim`` parser."""
    q = sub.add_parser("parity", help="replay simulated histories through the HTTP API and "
                       "compare every decision with the in-process one")
    q.add_argument("scenario", help="scenario TOML file")
    q.add_argument("--url", required=True, help="base URL of a running service")
    q.add_argument("--devices", type=positive_int, default=200,
                   help="devices to simulate (default 200)")
    q.add_argument("--admin-key", default=None, help="the server's admin key "
                   "(default $PROMPTSIM_ADMIN_KEY)")
    q.set_defaults(func=parity)


def parity(args: argparse.Namespace) -> int:
    """Simulate the scenario, replay each strategy through ``--url``, report mismatches."""
    from sim.cli import UsageError
    from sim.engine.runner import event_log
    from sim.loadtest.parity import ParityError, replay
    from sim.model.scenario import ScenarioError, load_scenario

    admin_key = args.admin_key or os.environ.get("PROMPTSIM_ADMIN_KEY")
    if not admin_key:
        raise UsageError("--admin-key (or PROMPTSIM_ADMIN_KEY) is needed to create the "
                         "replay app on the server")
    try:
        sc = load_scenario(args.scenario)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None
    log = event_log(sc, devices=args.devices).log
    profiles = sc.profiles()
    failed = 0
    for strategy in sc.strategies:
        events = [e for e in log if e.strategy == strategy.name]
        try:
            report = replay(args.url, admin_key, events, strategy, profiles)
        except ParityError as exc:
            raise UsageError(str(exc)) from None
        print(json.dumps({"strategy": strategy.name, **report.summary()}), flush=True)
        for line in [m.describe() for m in report.mismatches[:20]] + report.errors[:20]:
            print("  " + line, file=sys.stderr)
        failed += len(report.mismatches) + len(report.errors)
    print(f"parity: {'OK' if not failed else f'{failed} disagreement(s)'}", file=sys.stderr)
    return 1 if failed else 0
