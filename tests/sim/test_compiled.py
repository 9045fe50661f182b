"""The simulator's mypyc-compiled modules and their Python sources give the same panel, and
the draws a chunk holds in advance for them stay each device's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.engine.runner import simulate
from sim.model import streams
from sim.model.population import make_chunk, select
from sim.model.scenario import Scenario, dump_scenario

PURE = """
import sys
import numpy as np
import sim
from sim.engine.runner import simulate
from sim.model import streams
from sim.model.population import make_chunk, select
from sim.model.scenario import load_scenario
assert not sim.compiled(), "PROMPTSIM_PURE_PYTHON=1 must import the sources"
r = simulate(load_scenario(sys.argv[1]))
np.savez(sys.argv[2], flows=r.flows, stocks=r.stocks, events=r.events)
"""


def test_compiled_and_pure_python_give_the_same_panel(small: Scenario, tmp_path: Path) -> None:
    """Every cell of the panel and the event count are equal with the sources forced
    (``PROMPTSIM_PURE_PYTHON=1``, the fallback without a C compiler)."""
    if not sim.compiled():
        # CI installs with `pip install -e .`, which compiles: there it must be compiled.
        assert not os.environ.get("CI"), "pip install -e . did not compile the simulator"
        pytest.skip("the simulator is not compiled here (PROMPTSIM_PURE_PYTHON, or not built)")
    scenario = tmp_path / "small.json"
    scenario.write_bytes(dump_scenario(small))
    out = tmp_path / "pure.npz"
    env = {**os.environ, "PROMPTSIM_PURE_PYTHON": "1"}
    subprocess.run([sys.executable, "-c", PURE, str(scenario), str(out)], env=env, check=True,
                   timeout=300)
    pure = np.load(out)
    got = simulate(small)
    np.testing.assert_array_equal(got.flows, pure["flows"])
    np.testing.assert_array_equal(got.stocks, pure["stocks"])
    assert got.events == int(pure["events"])


def test_a_selected_device_draws_what_it_drew_in_its_chunk(small: Scenario) -> None:
    """``select`` (the optimizer's per-platform chunks) keeps each device's first uniforms of
    every stream, which a chunk holds drawn in advance (``streams.table``)."""
    profiles = small.profiles()
    whole = make_chunk(small, profiles, 0, 0)
    keep = list(range(1, whole.n, 3))
    part = select(whole, keep)
    row = streams.STREAMS * streams.TABLED
    for j, i in enumerate(keep):
        assert part.uniforms[j * row:(j + 1) * row] == whole.uniforms[i * row:(i + 1) * row]
        assert part.uniforms[j * row + streams.TABLED * streams.DIALOG] == streams.uniform(
            whole.key[i], streams.DIALOG, 0)
