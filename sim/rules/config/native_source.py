"""Writes ``sim/rules/native.py``, the configuration's native copies, from the Structs.

The compiled rules (``sim.COMPILED``) read a native class per configuration Struct, where
a Struct's field would cost a generic attribute lookup: :class:`ProfileRules` (a
``PlatformProfile``), :class:`CampaignRules` (a ``Campaign``, flattened),
:class:`PolicyRules` (a ``Policy``) and :class:`DeliveryRulesNative` (a ``DeliveryRules``,
flattened). :func:`source` builds that module from the Structs'
type info (``msgspec.inspect``), so the Structs stay its one source:

- a field is copied under its name, with its type;
- a nested Struct's fields are flattened under its field's name (``caps.per_day`` is
  ``caps_per_day``);
- a union of tagged Structs is flattened the same way, and the field itself holds the tag,
  typed as the ``Literal`` of the union's tags (``trigger: TriggerKind``); a field that
  the chosen member lacks holds its type's zero;
- an optional count that is at least 1 is an ``int`` where ``NO_LIMIT`` (0) stands for
  ``None``; a tuple of Structs is a list of their native copies;
- a property of the Struct (``Campaign.is_permission``) is copied as a field.

The tagged unions are split with ``match`` and ``assert_never``, so a kind added to a
union is a mypy error in the generated module until it is regenerated, and then in
``sim.rules.checks`` until its arm is written. ``promptsim rules-native`` rewrites the
file; a test fails when the checked-in file differs from :func:`source`.
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass, field
from typing import Any

import msgspec
from msgspec import inspect as mi

from sim.rules.config.campaigns import Campaign, Policy
from sim.rules.config.delivery import DeliveryRules
from sim.rules.config.platforms import PlatformProfile

NATIVE: dict[type[msgspec.Struct], str] = {
    PlatformProfile: "ProfileRules", Campaign: "CampaignRules", Policy: "PolicyRules",
    DeliveryRules: "DeliveryRulesNative",
}
"""Each configuration Struct the rules read, and the name of its native copy."""

_ZERO = {"int": "NO_LIMIT", "float": "0.0", "str": '""', "bool": "False"}


@dataclass
class _Field:
    name: str
    type: str
    doc: str
    value: str
    """The expression that reads it from the Struct, in the Struct's own code path."""


@dataclass
class _Union:
    name: str
    kind: str
    """The name of the ``Literal`` of its tags."""
    members: list[tuple[type[msgspec.Struct], str, dict[str, str]]]
    """(member Struct, tag, {flat field: expression}) per member."""
    fields: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Every flat field of the members: name -> (type, doc)."""


def _unwrap(t: Any) -> Any:
    while isinstance(t, mi.Metadata):
        t = t.type
    return t


def _optional(t: Any) -> Any | None:
    """The ``T`` of ``T | None``, else ``None``."""
    if isinstance(t, mi.UnionType) and len(t.types) == 2 \
            and any(isinstance(x, mi.NoneType) for x in t.types):
        return _unwrap(next(x for x in t.types if not isinstance(x, mi.NoneType)))
    return None


def _plain(t: Any) -> str:
    """A scalar or a tuple of scalars as a Python type."""
    t = _unwrap(t)
    if isinstance(t, mi.IntType):
        return "int"
    if isinstance(t, mi.FloatType):
        return "float"
    if isinstance(t, mi.StrType):
        return "str"
    if isinstance(t, mi.BoolType):
        return "bool"
    if isinstance(t, mi.LiteralType):
        return "Literal[" + ", ".join(f'"{v}"' for v in t.values) + "]"
    if isinstance(t, mi.VarTupleType):
        return f"tuple[{_plain(t.item_type)}, ...]"
    raise TypeError(f"native: no native form for {t!r}")


def _scalar(t: Any, expr: str) -> tuple[str, str]:
    """(type, expression) of a scalar field read with ``expr``."""
    inner = _optional(t)
    if inner is None:
        return _plain(t), expr
    if isinstance(inner, mi.IntType) and (inner.ge or 0) >= 1:
        return "int", f"NO_LIMIT if {expr} is None else {expr}"
    return f"{_plain(inner)} | None", expr


def _is_tagged_union(t: Any) -> bool:
    return isinstance(t, mi.UnionType) and all(
        isinstance(x, mi.StructType) and x.tag is not None for x in t.types)


LINE = 100
"""The project's line length (``[tool.ruff]``)."""


def _annotation(name: str, type_: str) -> list[str]:
    """A class field's annotation, a ``Literal`` too long for one line wrapped after its
    bracket."""
    line = f"    {name}: {type_}"
    if len(line) <= LINE or not type_.startswith("Literal["):
        return [line]
    return [f"    {name}: Literal[", f"        {type_.removeprefix('Literal[')}"]


def _kind_name(name: str) -> str:
    return "".join(w.capitalize() for w in name.split("_")) + "Kind"


def _zero(type_: str) -> str:
    if type_.endswith("| None"):
        return "None"
    if type_.startswith("tuple["):
        return "()"
    return _ZERO[type_]


class _Class:
    """The native copy of one Struct: its fields, unions and code."""

    def __init__(self, cls: type[msgspec.Struct], var: str) -> None:
        self.cls, self.var = cls, var
        self.items: list[_Field | _Union] = []
        info = mi.type_info(cls)
        assert isinstance(info, mi.StructType)
        for f in info.fields:
            self._add(f.name, _unwrap(f.type), f"{var}.{f.name}", f"``{cls.__name__}.{f.name}``")
        for name, prop in inspect.getmembers(cls, lambda m: isinstance(m, property)):
            type_ = typing.get_type_hints(prop.fget)["return"].__name__
            self.items.append(_Field(name, type_, f"``{cls.__name__}.{name}``", f"{var}.{name}"))

    def _add(self, name: str, t: Any, expr: str, doc: str) -> None:
        if _is_tagged_union(t):
            self.items.append(self._union(name, t, expr))
        elif isinstance(t, mi.StructType):
            for f in t.fields:
                self._add(f"{name}_{f.name}", _unwrap(f.type), f"{expr}.{f.name}",
                          f"``{doc[2:-2]}.{f.name}``")
        elif isinstance(t, mi.VarTupleType) and isinstance(_unwrap(t.item_type), mi.StructType):
            item = _unwrap(t.item_type).cls
            self.items.append(_Field(name, f"list[{NATIVE[item]}]", doc,
                                     f"[{NATIVE[item]}(x) for x in {expr}]"))
        else:
            type_, value = _scalar(t, expr)
            self.items.append(_Field(name, type_, doc, value))

    def _union(self, name: str, t: mi.UnionType, expr: str) -> _Union:
        u = _Union(name, _kind_name(name), [])
        for m in t.types:
            assert isinstance(m, mi.StructType) and isinstance(m.tag, str)
            values: dict[str, str] = {}
            for f in m.fields:
                flat = f"{name}_{f.name}"
                type_, value = _scalar(_unwrap(f.type), f"{name}.{f.name}")
                known = u.fields.get(flat)
                if known is not None and known[0] != type_:
                    raise TypeError(f"native: {flat} is {known[0]} and {type_}")
                doc = (known[1] + ", " if known else "") + f"``{m.cls.__name__}.{f.name}``"
                u.fields[flat] = (type_, doc)
                values[flat] = value
            u.members.append((m.cls, m.tag, values))
        return u

    @property
    def name(self) -> str:
        return NATIVE[self.cls]

    def body(self, extra: list[tuple[str, str, str, str]]) -> list[str]:
        out = [f"class {self.name}:",
               f'    """A :class:`~{self.cls.__module__}.{self.cls.__name__}`, as the compiled'
               ' rules read it."""', ""]
        for item in self.items:
            if isinstance(item, _Field):
                none = "; NO_LIMIT for ``None``" if "NO_LIMIT" in item.value else ""
                out += [*_annotation(item.name, item.type), f'    """{item.doc}{none}."""']
            else:
                out += [f"    {item.name}: {item.kind}",
                        f'    """The tag of ``{self.cls.__name__}.{item.name}``."""']
                for flat, (type_, doc) in item.fields.items():
                    out += [f"    {flat}: {type_}",
                            f'    """{doc}; {_zero(type_)} for the other kinds."""']
        for name, type_, _, doc in extra:
            out += [f"    {name}: {type_}", f'    """{doc}"""']
        out += ["", f"    def __init__(self, {self.var}: {self.cls.__name__}) -> None:"]
        for item in self.items:
            if isinstance(item, _Field):
                out.append(f"        self.{item.name} = {item.value}")
                continue
            out += [f"        {item.name} = {self.var}.{item.name}", f"        match {item.name}:"]
            for cls, tag, values in item.members:
                bind = f"{cls.__name__}()"
                out += [f"            case {bind}:", f'                self.{item.name} = "{tag}"']
                for flat, (type_, _) in item.fields.items():
                    out.append(f"                self.{flat} = {values.get(flat, _zero(type_))}")
            out += ["            case _:", f"                assert_never({item.name})"]
        out += [f"        self.{name} = {value}" for name, _, value, _ in extra]
        key = next((i.name for i in self.items if i.name in ("name", "id")), None)
        if key is not None:
            out += ["", "    def __repr__(self) -> str:",
                    f'        return f"{self.name}({{self.{key}!r}})"']
        return out

    def kinds(self) -> list[str]:
        out = []
        for item in self.items:
            if isinstance(item, _Union):
                tags = ", ".join(f'"{tag}"' for _, tag, _ in item.members)
                out += [f"{item.kind} = Literal[{tags}]",
                        f'"""The kinds of ``{self.cls.__name__}.{item.name}``."""']
        return out


EXTRA: dict[type[msgspec.Struct], list[tuple[str, str, str, str]]] = {
    Policy: [("by_id", "dict[str, CampaignRules]", "{c.id: c for c in self.campaigns}",
              "The campaigns by id.")],
}
"""Fields a native copy adds (name, type, value, doc): the policy's campaigns by id."""

HEADER = '''"""The configuration as the compiled rules read it: native copies of the profile, the
campaigns, the policy and the delivery rules. GENERATED by ``promptsim rules-native`` from
the Structs of ``sim.rules.config`` (``sim/rules/config/native_source.py``): do not edit.

This module is compiled with mypyc (``sim.COMPILED``), so a compiled rule reads these
classes' fields from a C struct, where a Struct's field costs a generic attribute lookup.
The rules take only these forms; the edges (the engine's stage and chunk, the service's
tenant) convert a Struct once.
"""

from __future__ import annotations

from typing import Final, Literal, assert_never

'''


def source() -> str:
    """The text of ``sim/rules/native.py``."""
    classes = [_Class(PlatformProfile, "p"), _Class(Campaign, "c"), _Class(Policy, "p"),
               _Class(DeliveryRules, "r")]
    imports: dict[str, set[str]] = {}
    for c in classes:
        imports.setdefault(c.cls.__module__, set()).add(c.cls.__name__)
        for item in c.items:
            if isinstance(item, _Union):
                for cls, _, _ in item.members:
                    imports.setdefault(cls.__module__, set()).add(cls.__name__)
    lines = [f"from {mod} import {', '.join(sorted(names, key=str.lower))}"
             for mod, names in sorted(imports.items())]
    lines += ["", 'NO_LIMIT: Final = 0',
              '"""A count that sets no limit (the Structs\' ``None``; their counts are at'
              ' least 1)."""']
    for c in classes:
        lines += c.kinds()
    for c in classes:
        lines += ["", "", *c.body(EXTRA.get(c.cls, []))]
    text = HEADER + "\n".join(lines) + "\n"
    return _wrap_imports(text)


def _wrap_imports(text: str) -> str:
    """Split an import line longer than 100 columns as ruff formats it."""
    out = []
    for line in text.split("\n"):
        if line.startswith("from ") and len(line) > 100:
            head, names = line.split(" import ")
            out.append(f"{head} import (")
            out += [f"    {n}," for n in names.split(", ")]
            out.append(")")
        else:
            out.append(line)
    return "\n".join(out)
