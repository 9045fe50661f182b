"""promptsim: simulate, serve and stress push-permission soft prompts from one set of rules.

The simulator's hot modules (:data:`COMPILED`) are compiled with mypyc when the package is
installed (``setup.py``). Python imports an extension before its source, so this package
imports the sources instead when the extensions are older than them (an edit since the
last ``pip install -e .``: the extension would run stale code) or when
``PROMPTSIM_PURE_PYTHON=1`` is set. The compiled modules call one another directly, so it is
all of them or none.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from sim.version import __version__

COMPILED: tuple[str, ...] = (
    "sim.rules.reachability", "sim.rules.state", "sim.rules.native", "sim.rules.permission",
    "sim.rules.checks", "sim.rules.decision", "sim.rules.credit", "sim.rules.assignment",
    "sim.rules.sending",
    "sim.model.streams", "sim.model.population", "sim.model.answers", "sim.model.stage",
    "sim.model.life", "sim.engine.chunk",
)
"""Modules compiled with mypyc by ``setup.py``: every module of ``sim/rules/`` but its
``config/`` package (the msgspec Structs that scenarios and the API decode: mypyc would drop
a Struct's class options, ``frozen=True`` and the like), and one device's life, the SimPy
engine and the population draws. The compiled rules read the native copies of the
configuration (``sim.rules.native``, generated from the Structs) and the device's state,
a pair of dataclasses that mypyc makes native (``sim.rules.state``)."""


_ROOT = Path(__file__).resolve().parent.parent


def _extensions() -> list[tuple[Path, Path]]:
    """(source, extension) of every compiled module that has an extension."""
    out = []
    for name in COMPILED:
        src = _ROOT / (name.replace(".", "/") + ".py")
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            ext = src.with_suffix(suffix)
            if ext.exists():
                out.append((src, ext))
                break
    return out


class _Sources(importlib.machinery.PathFinder):
    """Finds the :data:`COMPILED` modules as Python sources, never as extensions."""

    @classmethod
    def find_spec(cls, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in COMPILED:
            return None
        src = _ROOT / (fullname.replace(".", "/") + ".py")
        return importlib.util.spec_from_file_location(fullname, src)


def compiled() -> bool:
    """Whether the simulator runs its mypyc-compiled modules: every module of
    :data:`COMPILED` is imported from its extension (this imports them). False on an install
    without extensions (``PROMPTSIM_PURE_PYTHON=1 pip install -e .``), with
    ``PROMPTSIM_PURE_PYTHON=1`` at run time, and when the extensions are stale."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return all((importlib.import_module(name).__file__ or "").endswith(suffixes)
               for name in COMPILED)


def _choose() -> None:
    found = _extensions()
    if not found:
        return
    if os.environ.get("PROMPTSIM_PURE_PYTHON", "") not in ("", "0"):
        sys.meta_path.insert(0, _Sources)
        return
    stale = [s.name for s, e in found if s.stat().st_mtime > e.stat().st_mtime]
    if stale or len(found) < len(COMPILED):
        sys.stderr.write("promptsim: the compiled modules are older than their sources"
                         f" ({', '.join(stale) or 'some missing'}): running the sources;"
                         " rebuild with `pip install -e .`\n")
        sys.meta_path.insert(0, _Sources)


_choose()


__all__ = ["Result", "__version__", "run"]


def __getattr__(name: str) -> object:
    """``from sim import run, Result``: the Python API (``sim.api``), imported on first use
    so that ``import sim`` stays light for every layer."""
    if name in ("run", "Result"):
        from sim import api

        return getattr(api, name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
