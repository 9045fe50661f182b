"""The simulator's mypyc-compiled modules and their Python sources give the same panel, and
the draws a chunk holds in advance for them stay each device's."""

from __future__ import annotations

import os
import shutil
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


SOURCES = """
import sys
import sim
names = {n: __import__(n, fromlist=["_"]).__file__ for n in sim.COMPILED}
print(int(sim.compiled()), sim.__file__)
for n, f in names.items():
    print(n, f)
"""
"""Prints whether ``sim.compiled()``, where ``sim`` came from, and each compiled module's
file (imported after ``compiled()`` too, so it reports the modules it imported)."""


def modules_imported(env: dict[str, str], cwd: Path) -> tuple[bool, str, dict[str, str]]:
    """(``sim.compiled()``, ``sim.__file__``, the ``__file__`` of each :data:`sim.COMPILED`
    module) in a new interpreter run in ``cwd`` with ``env``."""
    out = subprocess.run([sys.executable, "-c", SOURCES], env=env, cwd=cwd, check=True,
                         capture_output=True, text=True, timeout=120).stdout.splitlines()
    flag, where = out[0].split(" ", 1)
    return flag == "1", where, dict(line.split(" ", 1) for line in out[1:])


def test_pure_python_at_run_time_is_not_compiled(tmp_path: Path) -> None:
    """``PROMPTSIM_PURE_PYTHON=1`` imports every compiled module from its ``.py`` source,
    and ``sim.compiled()`` says so (it said True whatever was imported before)."""
    env = {**os.environ, "PROMPTSIM_PURE_PYTHON": "1"}
    is_compiled, _, files = modules_imported(env, tmp_path)
    assert not is_compiled
    assert set(files) == set(sim.COMPILED)
    assert all(f.endswith(".py") for f in files.values()), files


def test_an_install_without_extensions_is_not_compiled(tmp_path: Path) -> None:
    """The package's sources without a single extension (what ``PROMPTSIM_PURE_PYTHON=1 pip
    install -e .`` leaves, or a machine without a C compiler): ``sim.compiled()`` is False
    and every compiled module is its source. The copy is imported first (``PYTHONPATH``)."""
    copy = tmp_path / "src"
    shutil.copytree(Path(sim.__file__).parent, copy / "sim",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    assert not list((copy / "sim").rglob("*.so"))
    env = {k: v for k, v in os.environ.items() if k != "PROMPTSIM_PURE_PYTHON"}
    env["PYTHONPATH"] = str(copy)
    is_compiled, where, files = modules_imported(env, copy)
    assert Path(where).parent == copy / "sim"
    assert not is_compiled
    assert all(Path(f).suffix == ".py" and Path(f).is_relative_to(copy)
               for f in files.values()), files


def test_the_default_install_is_compiled_when_it_has_its_extensions(tmp_path: Path) -> None:
    """Where the extensions are built and fresh, ``sim.compiled()`` is True and every compiled
    module is its extension (CI builds them: there this must hold)."""
    env = {k: v for k, v in os.environ.items() if k != "PROMPTSIM_PURE_PYTHON"}
    is_compiled, _, files = modules_imported(env, tmp_path)
    built = all(f.endswith(".so") for f in files.values())
    if not built:
        assert not os.environ.get("CI"), "pip install -e . did not compile the simulator"
        pytest.skip("the simulator is not compiled here (PROMPTSIM_PURE_PYTHON, or not built)")
    assert is_compiled


@pytest.mark.slow
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


def test_uniform_is_splitmix64_on_64_bit_words() -> None:
    """``streams.uniform`` (32-bit halves, so compiled code stays in machine words) gives the
    bits of SplitMix64 on 64-bit words (Steele, Lea & Flood 2014), here NumPy's ``uint64``
    arithmetic, for draws past the table and keys up to the largest ``make_chunk`` draws."""
    rng = np.random.default_rng(7)
    n = 20_000
    key = rng.integers(0, 2**62, size=n, dtype=np.int64)
    key[:2] = [0, 2**62 - 1]
    stream = rng.integers(0, streams.STREAMS, size=n)
    k = rng.integers(0, 5_000, size=n)
    k[:2] = [0, 10**6]
    with np.errstate(over="ignore"):
        z = key.astype(np.uint64) + (stream.astype(np.uint64) << np.uint64(40)) \
            + k.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    want = ((z ^ (z >> np.uint64(31))) >> np.uint64(11)).astype(np.float64) \
        * 1.1102230246251565e-16
    got = [streams.uniform(a, b, c) for a, b, c in
           zip(key.tolist(), stream.tolist(), k.tolist(), strict=True)]
    assert got == want.tolist()
