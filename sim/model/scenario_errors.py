"""Plain words for msgspec's validation errors on a scenario: where, and what is allowed.

msgspec says ``Invalid value 'sometimes' - at `$.strategies[0].frequency.type```; a
scenario's author needs the allowed values of that choice and, for an unknown field, the
fields the table takes. The msgspec type at the error's path tells both.
"""

from __future__ import annotations

import re
from typing import Any

from msgspec import inspect as mi

_MSG = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_VALUE = re.compile(r"^Invalid (?:enum )?value (?P<value>.+)$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`$")
_REGEX = re.compile(r"^Expected `str` matching regex '\^\((?P<alts>[\w|]+)\)\$'$")


def _unwrap(t: Any) -> Any:
    while isinstance(t, mi.Metadata):
        t = t.type
    return t


def _structs(t: Any) -> list[mi.StructType]:
    t = _unwrap(t)
    if isinstance(t, mi.StructType):
        return [t]
    if isinstance(t, mi.UnionType):
        return [s for u in t.types for s in _structs(u)]
    return []


def _pick(t: Any, data: Any) -> Any:
    """The variant of a tagged union that ``data``'s tag names (else ``t``)."""
    structs = _structs(t)
    if len(structs) > 1 and isinstance(data, dict):
        for s in structs:
            if s.tag_field and data.get(s.tag_field) == s.tag:
                return s
    return _unwrap(t)


def _step(t: Any, name: str | None, index: int | None) -> Any:
    t = _unwrap(t)
    if name is not None:
        for s in _structs(t):
            if name == s.tag_field:
                return mi.LiteralType(values=tuple(x.tag for x in _structs(t) if x.tag))
            for f in s.fields:
                if f.encode_name == name:
                    return f.type
        if isinstance(t, mi.DictType):
            return t.value_type
        return None
    for u in (t.types if isinstance(t, mi.UnionType) else (t,)):
        if isinstance(u, (mi.ListType, mi.VarTupleType)):
            return u.item_type
        if isinstance(u, mi.TupleType) and index is not None and index < len(u.item_types):
            return u.item_types[index]
    return None


def walk(root: type, path: str, data: Any) -> tuple[Any, Any]:
    """The msgspec type info at ``path`` (``.strategies[0].frequency``) of ``data``, and the
    value there (``None`` when the type or the value cannot be followed)."""
    t: Any = mi.type_info(root)
    for m in _STEP.finditer(path):
        t = _pick(t, data)
        name, index = m.group(1), (int(m.group(2)) if m.group(2) else None)
        if name is not None:
            data = data.get(name) if isinstance(data, dict) else None
        else:
            data = data[index] if isinstance(data, list) and index is not None \
                and index < len(data) else None
        t = _step(t, name, index)
        if t is None:
            return None, data
    return _pick(t, data), data


def _fields(t: Any) -> list[str]:
    names: list[str] = []
    for s in _structs(t):
        if s.tag_field and s.tag_field not in names:
            names.append(s.tag_field)
        names += [f.encode_name for f in s.fields if f.encode_name not in names]
    return names


def explain(message: str, root: type, data: Any, prefix: str = "") -> str:
    """``path: what is wrong; what is allowed`` for msgspec's ``message`` on ``data``;
    ``prefix`` names where ``data`` sits (``load`` for a scenario's ``[load]`` table)."""
    m = _MSG.match(message)
    msg, path = (m.group("msg"), m.group("path") or "") if m else (message, "")
    where = (prefix + path).lstrip(".")
    t, value = walk(root, path, data)
    if (v := _VALUE.match(msg)) and isinstance(_unwrap(t), mi.LiteralType):
        allowed = ", ".join(str(x) for x in _unwrap(t).values)
        msg = f"{v['value']} is not one of {allowed}"
    elif (u := _UNKNOWN.match(msg)) and _structs(t):
        msg = f"unknown field {u['name']!r}; allowed fields: {', '.join(_fields(t))}"
    elif r := _REGEX.match(msg):
        msg = f"{value!r} is not one of {', '.join(r['alts'].split('|'))}"
    return f"{where}: {msg}" if where else msg
