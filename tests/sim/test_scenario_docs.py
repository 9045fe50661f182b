"""Issue 13 items 2 and 6: the scenario reference and JSON Schema are generated from the
types and checked in (this test is the CI check), every TOML snippet of the docs is a
valid scenario fragment, and errors name the allowed values and fields."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest
from msgspec import inspect as mi

from sim.loadtest.world import read_scenario
from sim.model.scenario import Population, Scenario, ScenarioError, parse_scenario
from sim.model.scenario_docs import FILES, reference

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "scenarios" / "locust" / "README.md"]
BASE = tomllib.loads((ROOT / "scenarios" / "quickstart.toml").read_text())


@pytest.mark.parametrize("name", sorted(FILES))
def test_generated_docs_are_checked_in_and_current(name: str) -> None:
    on_disk = (ROOT / "docs" / name).read_text()
    assert on_disk == FILES[name](), (
        f"docs/{name} is out of date: run `promptsim scenario-docs` and commit it")


@pytest.mark.slow
def test_the_command_rewrites_and_checks_them(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "sim", "scenario-docs", "--out", str(tmp_path)]
    assert subprocess.run([*cmd, "--check"], capture_output=True).returncode == 1
    subprocess.run(cmd, check=True, capture_output=True)
    assert subprocess.run([*cmd, "--check"], capture_output=True).returncode == 0
    for name in FILES:
        assert (tmp_path / name).read_text() == (ROOT / "docs" / name).read_text()


def test_the_reference_lists_every_table_field_and_choice() -> None:
    text = reference()
    for needle in ("## behaviour\n", "| `event_per_session` |", "| `events` |",
                   "`once`", "`every_time`", "`multiple`", "`backoff`", "| `gap_days` |",
                   "one of `lognormal`, `poisson`", "| `programmatic_per_session` |"):
        assert needle in text, needle


def test_every_field_has_a_description() -> None:
    assert not [line for line in reference().splitlines() if line.endswith("|  |")]


def test_the_schema_describes_fields_from_their_docstrings() -> None:
    doc = msgspec.json.decode(FILES["scenario.schema.json"]())
    props = doc["$defs"]["Behaviour"]["properties"]
    assert "add_to_cart" in props["events"]["description"]
    assert doc["$defs"]["Scenario"]["additionalProperties"] is False


def _snippets() -> list[tuple[str, str]]:
    out = []
    for path in DOCS:
        text = path.read_text()
        for m in re.finditer(r"^```toml\n(.*?)^```", text, re.S | re.M):
            line = text[:m.start()].count("\n") + 1
            out.append((f"{path.relative_to(ROOT)}:{line}", m.group(1)))
    return out


SNIPPETS = _snippets()


def test_there_are_snippets_to_check() -> None:
    assert any(where.startswith("README.md") for where, _ in SNIPPETS)


def _merge(base: dict[str, Any], frag: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in frag.items():
        if k == "population":  # a population is a whole: its mix sums to 1
            out[k] = v
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        elif k == "strategies":  # a strategy replaces the one of its name, or is added
            named = {s["name"]: s for s in out[k]} | {s["name"]: s for s in v}
            out[k] = list(named.values())
        else:
            out[k] = v
    return out


@pytest.mark.parametrize(("where", "text"), SNIPPETS, ids=[w for w, _ in SNIPPETS])
def test_every_toml_snippet_is_a_valid_scenario_fragment(where: str, text: str,
                                                         tmp_path: Path) -> None:
    frag = tomllib.loads(text)  # valid TOML as printed
    data = _merge(BASE, frag)
    path = tmp_path / "s.json"  # read_scenario reads JSON too, and takes the [load] table
    path.write_bytes(msgspec.json.encode(data))
    read_scenario(path)


def _error(change: Any) -> str:
    data = copy.deepcopy(BASE)
    change(data)
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(data, "s.toml")
    return str(exc.value)


def test_a_bad_choice_lists_the_allowed_values() -> None:
    msg = _error(lambda d: d["strategies"][0]["campaigns"][0]["frequency"].update(
        type="sometimes"))
    assert msg == ("s.toml: strategies[0].campaigns[0].frequency.type: 'sometimes' is not one "
                   "of once, every_time, multiple, backoff, gap_list")
    msg = _error(lambda d: d.update(behaviour={"gap_model": "weibull"}))
    assert msg == "s.toml: behaviour.gap_model: 'weibull' is not one of lognormal, poisson"
    msg = _error(lambda d: d["strategies"][0]["campaigns"][0].update(
        audience={"platforms": ["ios", "xbox"]}))
    assert msg.endswith("audience.platforms[1]: 'xbox' is not one of ios, android, huawei, "
                        "amazon, web")


def test_an_unknown_field_lists_the_fields_of_its_table() -> None:
    msg = _error(lambda d: d["strategies"][2]["campaigns"][0]["frequency"].update(gap=3))
    assert msg == ("s.toml: strategies[2].campaigns[0].frequency: unknown field 'gap'; "
                   "allowed fields: type, limit, gap_days")
    msg = _error(lambda d: d.update(population={"mix": {"ios": 1.0}, "windows": 3}))
    fields = ", ".join(f.encode_name for f in mi.type_info(Population).fields)  # type: ignore[union-attr]
    assert msg == f"s.toml: population: unknown field 'windows'; allowed fields: {fields}"
    assert fields.startswith("mix, ")
    assert "allowed fields: name, description, seed," in _error(lambda d: d.update(colour=1))


def _as_msgspec_018(node: Any) -> Any:
    """A schema as msgspec 0.18-0.22 wrote it: docstring lines after the first keep their
    source indentation (0.23 dedents them), and keys come in another order."""
    if isinstance(node, dict):
        items = [(k, ("\n    ".join(v.split("\n")) if k == "description" and isinstance(v, str)
                      else _as_msgspec_018(v))) for k, v in node.items()]
        return dict(reversed(items))
    if isinstance(node, list):
        return [_as_msgspec_018(v) for v in node]
    return node


def test_the_schema_does_not_depend_on_msgspec_formatting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 21: msgspec 0.23 strips docstring indentation differently from 0.18, which
    made the checked-in schema stale on a fresh install. The generated text is the same
    whichever way the installed msgspec formats descriptions and orders keys."""
    import sim.model.scenario_docs as docs

    today = docs.schema()
    real = msgspec.json.schema
    monkeypatch.setattr(docs.msgspec.json, "schema", lambda t: _as_msgspec_018(real(t)))
    older = docs.schema()
    old_style = _as_msgspec_018(real(Scenario))["$defs"]["Segment"]["description"]
    assert "\n    The default three segments" in old_style  # the variant really differs
    assert older == today
