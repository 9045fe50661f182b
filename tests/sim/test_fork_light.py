"""``promptsim simulate`` starts its worker processes (forked) before it imports SciPy or
PyArrow, so the workers do not carry them (``bench/bench_sim.py``'s peak memory)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SPY = """
import json, sys
import sim.engine.executor as ex
seen = {}
run_tasks = ex.run_tasks
def spy(*args, **kwargs):
    seen.update({m: m in sys.modules for m in ("scipy", "pyarrow", "pandas", "matplotlib")})
    yield from run_tasks(*args, **kwargs)
ex.run_tasks = spy
from sim.cli import main
code = main(["simulate", sys.argv[1], "--devices", "300", "--days", "20", "--jobs", "2",
             "--out", sys.argv[2], "--no-progress"])
print(json.dumps({"code": code, "seen": seen}))
"""


@pytest.mark.slow
def test_simulate_runs_its_workers_before_importing_scipy_or_pyarrow(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-c", SPY, str(ROOT / "scenarios" / "bench_1m.toml"),
                           str(out)], cwd=ROOT, capture_output=True, text=True, check=True)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["code"] == 0
    assert got["seen"] == {"scipy": False, "pyarrow": False, "pandas": False,
                           "matplotlib": False}
    # ... and still writes the panel (PyArrow) and prints the picks (SciPy) after the run.
    assert (out / "panel.parquet").stat().st_size > 0
    assert "pick" in done.stdout.lower()
