"""The layers point one way: rules <- model <- engine <- analysis <- (service, load tests,
reports) <- the CLI, which alone composes them (and the Python API, ``sim.api``, which
composes the engine and the reports for notebooks).

Every ``import`` in ``sim/`` and ``reports/`` is read with :mod:`ast` (imports inside
functions too) and checked against :data:`ALLOWED`. The service is stricter than the
arrow: it stands on the rules alone, so it can be deployed without the simulator; inside
it, the root (ops, schemas, tenant, errors) <- storage <- http.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

ALLOWED: dict[str, frozenset[str]] = {
    "sim.rules": frozenset({"sim.rules"}),
    "sim.model": frozenset({"sim.rules", "sim.model"}),
    "sim.engine": frozenset({"sim.rules", "sim.model", "sim.engine"}),
    "sim.analysis": frozenset({"sim.rules", "sim.model", "sim.engine", "sim.analysis"}),
    "sim.service": frozenset({"sim.rules", "sim.service"}),
    "sim.service.storage": frozenset({"sim.rules", "sim.service", "sim.service.storage"}),
    "sim.service.http": frozenset({"sim.rules", "sim.service", "sim.service.storage",
                                   "sim.service.http"}),
    "sim.loadtest": frozenset({"sim.rules", "sim.model", "sim.loadtest"}),
    "reports": frozenset({"sim.rules", "sim.model", "sim.engine", "sim.analysis", "reports"}),
    "sim.api": frozenset({"sim.rules", "sim.model", "sim.engine", "sim.analysis", "reports",
                          "sim.api"}),
    "sim.cli": frozenset({"sim.rules", "sim.model", "sim.engine", "sim.analysis",
                          "sim.service", "sim.service.storage", "sim.service.http",
                          "sim.loadtest", "reports", "sim.cli"}),
}
"""Per layer, the layers its modules may import."""
ANYONE = frozenset({"sim", "sim.version", "sim.stats", "sim.msgspec_paths", "sim.wire"})
"""Modules every layer may import: the version, the statistics helpers, the walk of
msgspec types that explains a validation error and the API's wire formats (the service
and its clients share them)."""


def layer_of(module: str) -> str | None:
    """The layer (a key of ``ALLOWED``) a dotted module name belongs to, if any."""
    best = None
    for layer in ALLOWED:
        if (module == layer or module.startswith(layer + ".")) and \
                (best is None or len(layer) > len(best)):
            best = layer
    return best


def imports_of(source: str, module: str) -> Iterator[tuple[int, str]]:
    """``(line, imported module)`` for every import statement of ``source``."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if base in ("sim", "reports"):  # ``from sim import streams``: name the submodule
                for alias in node.names:
                    yield node.lineno, f"{base}.{alias.name}" if alias.name != "__version__" \
                        else base
            else:
                yield node.lineno, base


def _ours(module: str) -> bool:
    return module.split(".", 1)[0] in ("sim", "reports")


def violations(sources: dict[str, str]) -> list[str]:
    """Every import in ``sources`` (module name -> source) that points the wrong way."""
    out = []
    for module, source in sorted(sources.items()):
        layer = layer_of(module)
        if layer is None:
            continue
        for line, target in imports_of(source, module):
            if not _ours(target) or target in ANYONE:
                continue
            target_layer = layer_of(target)
            if target_layer is None or target_layer not in ALLOWED[layer]:
                out.append(f"{module}:{line} ({layer}) imports {target} ({target_layer})")
    return out


def project_sources() -> dict[str, str]:
    """Module name -> source of every module in ``sim/`` and ``reports/``."""
    out = {}
    for top in ("sim", "reports"):
        for path in (ROOT / top).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out[".".join(parts)] = path.read_text()
    return out


def test_no_layer_imports_a_higher_one() -> None:
    """No module of ``sim/`` or ``reports/`` imports a layer above its own or a sibling."""
    assert violations(project_sources()) == []


def test_every_module_belongs_to_a_layer() -> None:
    """A new folder must be placed in the layer map before it can hold code."""
    loose = [m for m in project_sources() if layer_of(m) is None and m not in ANYONE
             and m not in ("sim.__main__", "reports")]
    assert loose == []


@pytest.mark.parametrize(("module", "source"), [
    ("sim.rules.decision", "from sim.model.behaviour import Behaviour\n"),
    ("sim.rules.decision", "def f():\n    import simpy\n    from sim.engine import chunk\n"),
    ("sim.model.population", "from sim.engine.runner import simulate\n"),
    ("sim.service.ops", "from sim.model import streams\n"),
    ("sim.service.http.service", "from ...model import streams\n"),
    ("sim.service.storage.sqlite", "from sim.service.http.errors import render\n"),
    ("sim.service.ops", "from sim.service.storage.store import encode\n"),
    ("sim.loadtest.parity", "import reports.figures\n"),
    ("reports.figures", "from sim.cli import UsageError\n"),
    ("sim.engine.chunk", "from sim.service.ops import new_device\n"),
])
def test_an_upward_import_is_caught(module: str, source: str) -> None:
    """The check fails on an import that points up or sideways (so it can fail)."""
    found = violations({module: source})
    assert found and found[0].startswith(module)


def test_allowed_imports_pass() -> None:
    """Imports down the arrow, of the version and of the statistics helpers, pass."""
    assert violations({
        "sim.engine.chunk": "import simpy\nfrom sim.rules.decision import decide\n"
                            "from sim.model import streams\nfrom ..model import behaviour\n",
        "reports.compare": "from sim.stats import mean_ci\nfrom sim import __version__\n",
        "sim.cli.simulate": "from reports.simulation import write_report\n",
    }) == []


IMPURE = frozenset({"simpy", "sqlite3", "asyncpg", "uvicorn", "http", "urllib", "socket",
                    "asyncio", "os", "io", "pathlib", "numpy", "pandas", "time", "random"})
"""What the rules may not touch: the engine, storage, the network, files, clocks, randomness."""


def test_the_rules_are_pure() -> None:
    """``sim.rules`` imports no engine, storage, network, file, clock or random module."""
    found = [f"{m}:{line} imports {t}" for m, src in sorted(project_sources().items())
             if layer_of(m) == "sim.rules" for line, t in imports_of(src, m)
             if t.split(".", 1)[0] in IMPURE]
    assert found == []
