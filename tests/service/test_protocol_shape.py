"""uvicorn's private ``HttpToolsProtocol`` still has the shape ``GuardedHttpProtocol`` was
tested on (issue 21): a new uvicorn release that changes it fails here, in one line naming
the installed version, before it can serve wrongly."""

from __future__ import annotations

import tomllib
from importlib.metadata import version

from packaging.specifiers import SpecifierSet
from service_helpers import ROOT

from sim.service.http import protocol


def test_the_private_protocol_has_the_shape_it_was_tested_on():
    changes = protocol.shape_changes()
    assert not changes, (f"uvicorn {version('uvicorn')}: HttpToolsProtocol changed: "
                         f"{'; '.join(changes)} (sim/service/http/protocol.py relies on it)")


def test_the_installed_uvicorn_is_in_the_declared_range():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    declared = next(d for d in deps if d.startswith("uvicorn"))
    installed = version("uvicorn")
    assert installed in SpecifierSet(declared.removeprefix("uvicorn")), (
        f"uvicorn {installed} is outside {declared} (pyproject.toml)")


def test_a_changed_shape_is_named(monkeypatch):
    """The check can fail: a method whose parameters changed is named with both forms."""
    monkeypatch.setitem(protocol.RELIES_ON, "data_received", ("self", "data", "more"))
    assert protocol.shape_changes() == [
        "data_received('self', 'data', 'more') is now data_received('self', 'data')"]
