"""The scenario file's reference and JSON Schema, generated from the scenario types.

``reference()`` is ``docs/scenario-reference.md`` (every table and field: type, default,
allowed values, description) and ``schema()`` is ``docs/scenario.schema.json`` (for
editors: msgspec's JSON Schema of ``Scenario`` with each field's description added).
Descriptions are the docstrings under the fields of the msgspec Structs, read with
:mod:`ast`, so the code stays their one source; a test regenerates both files and fails if
the checked-in ones differ (``promptsim scenario-docs`` rewrites them).
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import textwrap
from functools import cache
from itertools import pairwise
from typing import Any

import msgspec
from msgspec import inspect as mi

from sim.model.scenario import Scenario
from sim.rules.config.campaigns import ID_PATTERN

_CHOICE = re.compile(r"^\^\((?P<alts>[\w|]+)\)\$$")


@cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of ``cls`` and its bases, by field name."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__ in ("builtins", "msgspec") or klass is msgspec.Struct:
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for a, b in pairwise(body):
            if (isinstance(a, ast.AnnAssign) and isinstance(a.target, ast.Name)
                    and isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant)
                    and isinstance(b.value.value, str)):
                out[a.target.id] = " ".join(inspect.cleandoc(b.value.value).split())
    return out


def _doc(cls: type) -> str:
    return " ".join(inspect.cleandoc(cls.__doc__ or "").split())


def _unwrap(t: Any) -> tuple[Any, list[mi.Metadata]]:
    metas = []
    while isinstance(t, mi.Metadata):
        metas.append(t)
        t = t.type
    return t, metas


def _bounds(t: Any) -> str:
    parts = [f"{op} {v:g}" for op, v in ((">", getattr(t, "gt", None)),
                                        (">=", getattr(t, "ge", None)),
                                        ("<", getattr(t, "lt", None)),
                                        ("<=", getattr(t, "le", None))) if v is not None]
    return (" " + ", ".join(parts)) if parts else ""


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9_ -]", "", title.lower()).replace(" ", "-")


class _Writer:
    """Walks the types from ``Scenario`` down, one section per table, in first-seen order."""

    def __init__(self) -> None:
        self.sections: list[tuple[str, mi.StructType]] = []
        self.seen: dict[type, str] = {}

    def table(self, t: mi.StructType, path: str) -> str:
        if t.cls not in self.seen:
            self.seen[t.cls] = path
            self.sections.append((path, t))
        title = self.seen[t.cls]
        return f"table [`{title}`](#{_anchor(title)})"

    def describe(self, t: Any, path: str) -> str:
        t, _ = _unwrap(t)
        if isinstance(t, mi.LiteralType):
            return "one of " + ", ".join(f"`{v}`" for v in t.values)
        if isinstance(t, mi.UnionType):
            structs = [u for u in t.types if isinstance(u, mi.StructType)]
            if structs and len(structs) == len(t.types) and all(s.tag for s in structs):
                links = ", ".join(
                    f"`{s.tag}` ({self.table(s, f'{path} ({s.tag_field} = {s.tag})')})"
                    for s in structs)
                return f"a table whose `{structs[0].tag_field}` is one of: {links}"
            return " or ".join(self.describe(u, path) for u in t.types)
        if isinstance(t, mi.StructType):
            return self.table(t, path)
        if isinstance(t, mi.NoneType):
            return "none (leave out)"
        if isinstance(t, mi.BoolType):
            return "true or false"
        if isinstance(t, mi.IntType):
            return "integer" + _bounds(t)
        if isinstance(t, mi.FloatType):
            return "number" + _bounds(t)
        if isinstance(t, mi.StrType):
            if t.pattern == ID_PATTERN:
                return "name (1-64 letters, digits or `_ . : -`)"
            if t.pattern and (m := _CHOICE.match(t.pattern)):
                return "one of " + ", ".join(f"`{a}`" for a in m["alts"].split("|"))
            return "string" + (f" matching `{t.pattern}`" if t.pattern else "")
        if isinstance(t, (mi.ListType, mi.VarTupleType)):
            return f"list of {self.describe(t.item_type, path + '[]')}"
        if isinstance(t, mi.TupleType):
            return "[" + ", ".join(self.describe(u, path) for u in t.item_types) + "]"
        if isinstance(t, mi.DictType):
            return (f"table of name = {self.describe(t.value_type, path + '.NAME')}")
        if isinstance(t, mi.AnyType):
            return "any value"
        return type(t).__name__.removesuffix("Type").lower()


def _default(f: mi.Field) -> str:
    if f.required:
        return "**required**"
    value = f.default_factory() if f.default is msgspec.NODEFAULT else f.default
    text = msgspec.json.encode(value).decode()
    if text in ("{}", "[]", "null", '""'):
        return {"{}": "empty", "[]": "empty", "null": "none", '""': '""'}[text]
    if len(text) > 60:
        return "its fields' defaults" if isinstance(value, msgspec.Struct) else \
            "(long: `promptsim validate` prints it)"
    return f"`{text}`"


def reference() -> str:
    """``docs/scenario-reference.md``."""
    w = _Writer()
    w.table(mi.type_info(Scenario), "top level")  # type: ignore[arg-type]
    out = [
        "# Scenario file reference",
        "",
        "Generated from the scenario types (`sim/model/scenario.py` and the Structs it uses) "
        "by `promptsim scenario-docs`; a test fails when this file or "
        "[`scenario.schema.json`](scenario.schema.json) differs from what the code says. "
        "Every field of every table of a scenario TOML file: its type and allowed values, "
        "its default and what it means. A field not listed is an error naming the fields "
        "the table takes; a choice outside its values is an error naming them.",
        "",
        "Editors that read JSON Schema check and complete scenario files with "
        "`scenario.schema.json` (for Taplo / Even Better TOML, put "
        "`#:schema ../docs/scenario.schema.json` as the file's first line).",
    ]
    i = 0
    while i < len(w.sections):
        path, t = w.sections[i]
        i += 1
        out += ["", f"## {path}", ""]
        if doc := _doc(t.cls):
            out += [doc, ""]
        docs = field_docs(t.cls)
        out += ["| field | type | default | description |", "| --- | --- | --- | --- |"]
        if t.tag_field:
            out.append(f"| `{t.tag_field}` | `\"{t.tag}\"` | **required** | the kind |")
        base = "" if path == "top level" else path.split(" (")[0] + "."
        for f in t.fields:
            kind = w.describe(f.type, f"{base}{f.encode_name}").replace("|", "\\|")
            desc = docs.get(f.name, "").replace("|", "\\|")
            out.append(f"| `{f.encode_name}` | {kind} | {_default(f)} | {desc} |")
    return "\n".join(out) + "\n"


def schema() -> str:
    """``docs/scenario.schema.json``: msgspec's JSON Schema of ``Scenario``, with the
    field docstrings as descriptions.

    The text does not depend on the installed msgspec's formatting: every table's
    description is its class docstring through :func:`inspect.cleandoc` (msgspec releases
    strip docstring indentation differently: 0.23 dedents the lines that 0.18 left
    indented), any other description is cleaned the same way, and keys are sorted."""
    doc: dict[str, Any] = msgspec.json.schema(Scenario)
    classes: dict[str, type] = {}

    def collect(t: Any) -> None:
        t, _ = _unwrap(t)
        if isinstance(t, mi.StructType):
            if t.cls.__name__ in classes:
                return
            classes[t.cls.__name__] = t.cls
            for f in t.fields:
                collect(f.type)
        elif isinstance(t, mi.UnionType):
            for u in t.types:
                collect(u)
        elif isinstance(t, (mi.ListType, mi.VarTupleType)):
            collect(t.item_type)
        elif isinstance(t, mi.DictType):
            collect(t.value_type)

    collect(mi.type_info(Scenario))
    _clean_descriptions(doc)
    for name, d in doc["$defs"].items():
        cls = classes.get(name)
        if cls is None:
            continue
        if cls.__doc__:
            d["description"] = inspect.cleandoc(cls.__doc__)
        for field, text in field_docs(cls).items():
            prop = d.get("properties", {}).get(field)
            if prop is not None and "description" not in prop:
                prop["description"] = text
    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema",
           "title": "promptsim scenario", **doc}
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _clean_descriptions(node: Any) -> None:
    """Every ``description`` string below ``node`` through :func:`inspect.cleandoc`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                node[key] = inspect.cleandoc(value)
            else:
                _clean_descriptions(value)
    elif isinstance(node, list):
        for item in node:
            _clean_descriptions(item)


FILES = {"scenario-reference.md": reference, "scenario.schema.json": schema}
"""The generated files under ``docs/``, and what writes each."""
