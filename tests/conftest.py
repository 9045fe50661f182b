"""Options and markers shared by every test folder.

CI runs the suite in two worker processes, ``python -m pytest -n 2 --dist loadgroup``
(pytest-xdist; the command is README.md's and ``.ci/run``'s, not an ``addopts``, so that a
single test still runs in one process). Any test may therefore run at the same time as any
other, in another process, and in any order. A new test is parallel-safe when it keeps to
these rules:

- **Ports**: never a fixed port. A server gets ``free_port()`` (``tests/service/
  service_helpers.py``) or port 0; ``server_factory`` does this for you.
- **Files**: write only under ``tmp_path`` / ``tmp_path_factory`` (each worker has its own
  base). Never write into the repository tree (``runs/``, ``scenarios/``, ``docs/``, golden
  files): tests read the tree, commands they run get ``--out`` in ``tmp_path``.
- **PostgreSQL**: only through ``pg_url`` / ``db_url`` (a fresh schema named by a uuid,
  dropped after), never a fixed schema, table or database name; anything that ends
  backends selects them by an ``application_name`` of its own (test_pg_lost_connections).
- **Environment**: change variables with ``monkeypatch`` or pass ``env=`` to the
  subprocess; never assign ``os.environ`` directly.
- **Shared, costly set-up**: a module- or class-scoped fixture, or a session-scoped fixture
  defined in a ``conftest.py`` here, puts every test of the modules that use it into one
  ``xdist_group`` (done below, by :func:`shared_fixture_group`), so the set-up runs once, in
  one worker. A session fixture that is cheap to make once per worker (e.g. a reachability
  probe) goes into :data:`PER_WORKER_FIXTURES` instead, so it does not serialise its users.
- **Time**: wait for a condition (a health check, a file, a log line) with a deadline,
  not for a fixed sleep; a loaded machine makes fixed sleeps both slow and flaky.
- **Slow**: a test that starts a process (server, Locust, browser, cluster) or runs for
  over ~2 s is ``@pytest.mark.slow`` (``server_factory`` users are marked automatically).
  Slow tests are handed out first, so a long one does not start last and run alone.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite the golden files from the current model")


PROCESS_FIXTURES = frozenset({"server_factory"})
"""Fixtures that start a real server process: a test using one is ``slow``."""

PER_WORKER_FIXTURES = frozenset({"pg_available"})
"""Session-scoped fixtures of this suite cheap enough to make once in each xdist worker:
they do not group the tests that use them."""


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def shared_fixture_group(item: pytest.Item) -> tuple[str, str] | None:
    """``("module" | "session", group name)`` when ``item`` uses a fixture of this suite
    wider than one test: its module's path for a module- or class-scoped one, the
    defining ``conftest.py``'s folder for a session-scoped one; else ``None``."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    found: tuple[str, str] | None = None
    for name, defs in info.name2fixturedefs.items():
        if not defs or name in PER_WORKER_FIXTURES:
            continue
        fixture = defs[-1]  # the definition in force for this test
        if not fixture.baseid:  # pytest's own or a plugin's (tmp_path_factory, ...)
            continue
        if fixture.scope == "session":
            return ("session", f"{fixture.baseid} session fixtures")
        if fixture.scope in ("module", "class", "package"):
            found = ("module", _module(item))
    return found


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The edit-loop lane, ``pytest -m "not slow"``, leaves out every test that starts a
    real server process (by its fixtures) besides those marked ``slow`` by hand (browsers,
    Locust, long simulations); CI runs them all.

    For ``--dist loadgroup``: tests sharing a costly fixture wider than a test are one
    group (see the module docstring), and a module's grouped tests join the group of a
    session fixture that any of them uses; and slow tests come first (stable order
    otherwise), so the longest work is handed out while the other worker still has short
    tests to take."""
    groups = {item: shared_fixture_group(item) for item in items}
    joins = {_module(item): g[1] for item, g in groups.items() if g and g[0] == "session"}
    for item in items:
        if PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
        g = groups[item]
        if g is not None and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(joins.get(_module(item), g[1])))
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
