"""Build hook: compile the simulator's hot modules with mypyc (the rest is in pyproject.toml).

The modules listed in ``sim.COMPILED`` are pure, mypy-strict Python; mypyc turns them into
C extensions: the engine takes about 2.8x less CPU per event (``bench/bench_sim.py``).
Set ``PROMPTSIM_PURE_PYTHON=1`` when installing to skip the build (no C compiler needed);
at run time the same variable makes ``sim`` import the Python sources instead of the
extensions.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from setuptools import setup


def compiled_modules() -> list[str]:
    """``sim.COMPILED``, read without importing ``sim`` (which would pick a variant)."""
    tree = ast.parse((Path(__file__).parent / "sim" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "COMPILED":
            return list(ast.literal_eval(node.value))  # type: ignore[arg-type]
    raise SystemExit("setup.py: sim/__init__.py defines no COMPILED")


ext_modules = []
if os.environ.get("PROMPTSIM_PURE_PYTHON", "") in ("", "0"):
    from mypyc.build import mypycify

    # The build environment has only the build requirements: an ignore that is needed
    # with the development stubs is not an error here, and packages the compiled modules
    # never reach at run time (pandas, matplotlib, behind ``sim.api``) are typed as Any
    # (``mypy`` itself checks them in development).
    ext_modules = mypycify(["--no-warn-unused-ignores", "--ignore-missing-imports"]
                           + [m.replace(".", "/") + ".py" for m in compiled_modules()],
                           opt_level="3")

setup(ext_modules=ext_modules)
