"""The compile line is a folder line: every module of ``sim/rules/`` but its ``config/``
package is in ``sim.COMPILED``, no compiled module defines a msgspec Struct (mypyc would
drop its class options), and the README's tour names every module of ``sim/rules/``."""

from __future__ import annotations

import ast
from pathlib import Path

import sim

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "sim" / "rules"


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _modules(folder: Path) -> set[str]:
    return {_module(p) for p in folder.rglob("*.py") if p.name != "__init__.py"}


def test_the_rules_outside_config_are_compiled_and_config_is_not() -> None:
    config = _modules(RULES / "config")
    assert config, "sim/rules/config/ holds the Structs"
    assert _modules(RULES) - config == {m for m in sim.COMPILED if m.startswith("sim.rules.")}
    assert not config & set(sim.COMPILED)


def _defines_a_struct(source: str) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                text = ast.unparse(base)
                if text in ("msgspec.Struct", "Struct"):
                    out.append(node.name)
    return out


def test_no_compiled_module_defines_a_struct() -> None:
    for name in sim.COMPILED:
        path = ROOT / (name.replace(".", "/") + ".py")
        assert not _defines_a_struct(path.read_text()), name


def test_the_readme_tour_names_every_rules_module() -> None:
    readme = (ROOT / "README.md").read_text()
    tour = readme[readme.index("## A tour of the code"):]
    tour = tour[:tour.index("\n## ")]
    for path in RULES.rglob("*.py"):
        if path.name != "__init__.py":
            assert f" {path.name} " in tour, f"README's tour omits sim/rules/{path.name}"
    assert "config/" in tour
