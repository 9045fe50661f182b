"""Another commit's tree, runnable beside this one, for the benchmarks' ``--baseline``.

``git archive REF`` into a directory, with the compiled modules of ``sim.COMPILED`` as this
tree runs them: a tree without its extensions would run the rules as Python sources (the
``sim`` package falls back to them) and be measured slower than it is. When REF's
compiled sources are this tree's, this tree's extensions are copied (they are what REF's
build would make); otherwise REF is built in place (``setup.py build_ext --inplace``, a
minute or more).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from loadgen import ROOT


def _compiled(root: Path) -> list[str]:
    tree = ast.parse((root / "sim" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "COMPILED":
            return list(ast.literal_eval(node.value))  # type: ignore[arg-type]
    return []


def _extensions(root: Path) -> list[Path]:
    """This tree's extension files (the modules' and mypyc's shared library), relative."""
    found = [p.relative_to(root) for p in (root / "sim").rglob("*.so")]
    return found + [p.relative_to(root) for p in root.glob("*__mypyc*.so")]


def baseline_tree(ref: str, dest: Path) -> Path:
    """REF's files under ``dest`` with its compiled modules built (see the module doc)."""
    dest.mkdir(parents=True, exist_ok=True)
    tar = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True,
                         check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=tar, check=True)
    mods = _compiled(dest)
    same = mods == _compiled(ROOT) and all(
        (dest / (m.replace(".", "/") + ".py")).read_bytes()
        == (ROOT / (m.replace(".", "/") + ".py")).read_bytes() for m in mods)
    exts = _extensions(ROOT)
    if same and exts:
        for rel in exts:
            shutil.copy2(ROOT / rel, dest / rel)
            (dest / rel).touch()  # newer than the sources: not taken for stale
    else:
        print(f"building {ref}'s compiled modules in {dest}", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=dest,
                       check=True, stdout=subprocess.DEVNULL)
    return dest
