"""Finished optimizer tasks on disk, so an interrupted ``promptsim optimize`` resumes.

The output directory holds ``optimize.json`` (the scenario's hash) and
``tasks/``: one ``.npz`` file per finished task, written atomically (a temporary
file, then a rename), holding its coordinates (replication, chunk), the names of
the candidates it simulated and their reduced counts. A candidate's counts on
a (replication, chunk) do not depend on which candidates it ran with, so a
resumed run reuses every (replication, chunk, candidate) on disk and simulates
only the rest. A directory made for another scenario is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from sim.model.scenario import Scenario, dump_scenario

FORMAT = 3
"""Version of the task files; a change of meaning bumps it (and the hash). 2: the flow
axis gained ``os_dialogs_allowed_in_summary`` and the cohort axis the iOS Safari profiles;
3: the cohort axis gained ``chrome_webapk``."""

Key = tuple[int, int, str, str]
"""(replication, chunk, group: a platform or ``all``, candidate name)."""
Counts = tuple[np.ndarray, np.ndarray]
"""A candidate's ``FLOWS`` summed over days ``[flow, cohort]`` and end-of-horizon
``STOCKS`` ``[stock, cohort]``."""


class StoreMismatch(ValueError):
    """The output directory holds something else than this scenario's optimize."""


def scenario_hash(sc: Scenario) -> str:
    """SHA-256 of the resolved scenario (every default spelled out) and the task format."""
    return hashlib.sha256(dump_scenario(sc) + f"format={FORMAT}".encode()).hexdigest()


class TaskStore:
    """The finished tasks of one optimize, under ``root``."""

    def __init__(self, root: Path, sc: Scenario) -> None:
        self.root = root
        self.tasks = root / "tasks"
        self.hash = scenario_hash(sc)
        meta = root / "optimize.json"
        if meta.exists():
            try:
                held = json.loads(meta.read_text()).get("scenario_sha256")
            except (OSError, ValueError, AttributeError):
                held = None
            if held != self.hash:
                raise StoreMismatch(
                    f"--out {root}: it holds an optimize of another scenario (or other "
                    "settings: devices, days, seed, search); use another --out directory or "
                    "delete this one")
        elif root.exists() and any(root.iterdir()):
            raise StoreMismatch(f"--out {root}: the directory is not empty and holds no "
                                "optimize; use a new or empty directory")
        self.tasks.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"scenario": sc.name, "scenario_sha256": self.hash,
                                    "format": FORMAT}, indent=2) + "\n")

    def load(self) -> tuple[dict[Key, Counts], dict[tuple[int, int, str], int], int]:
        """Every finished (replication, chunk, group, candidate), the devices of each
        (replication, chunk, group), and the engine events the tasks took."""
        out: dict[Key, Counts] = {}
        devices: dict[tuple[int, int, str], int] = {}
        events = 0
        for path in sorted(self.tasks.glob("*.npz")):
            if path.name.endswith(".tmp.npz"):
                continue  # a write that was interrupted
            with np.load(path, allow_pickle=False) as z:
                r, c = (int(x) for x in z["coords"])
                g = str(z["group"])
                for s, name in enumerate(z["names"].tolist()):
                    out[(r, c, g, str(name))] = (z["flows"][s], z["stocks"][s])
                devices[(r, c, g)] = int(z["devices"])
                events += int(z["events"])
        return out, devices, events

    def save(self, replication: int, chunk: int, group: str, names: list[str],
             flows: np.ndarray, stocks: np.ndarray, events: int, devices: int) -> None:
        """Persist one finished task: ``flows[candidate, flow, cohort]``, ``stocks[...]``."""
        tag = hashlib.sha1("\n".join(names).encode()).hexdigest()[:16]
        path = self.tasks / f"r{replication}-c{chunk}-{group}-{tag}.npz"
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, coords=np.array([replication, chunk]), group=np.array(group),
                 names=np.array(names), flows=flows, stocks=stocks, events=np.array(events),
                 devices=np.array(devices))
        os.replace(tmp, path)
