"""Where a msgspec validation error points: the type and the value at its path.

msgspec says ``Invalid value 'sometimes' - at `$.strategies[0].frequency.type```. To say
what *is* allowed (a choice's values, a table's fields), the scenario loader and the
service both follow that path through the msgspec type of what was decoded; this module
is that walk, usable from every layer (it knows msgspec, nothing of promptsim).
"""

from __future__ import annotations

import re
from typing import Any

from msgspec import inspect as mi

_MSG = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def split(message: str) -> tuple[str, str]:
    """``(what is wrong, path)`` of a msgspec error message (path ``""`` at the root,
    else like ``.strategies[0].frequency``)."""
    m = _MSG.match(message)
    return (m.group("msg"), m.group("path") or "") if m else (message, "")


def unwrap(t: Any) -> Any:
    """``t`` without its ``Annotated`` metadata."""
    while isinstance(t, mi.Metadata):
        t = t.type
    return t


def structs(t: Any) -> list[mi.StructType]:
    """The struct types ``t`` is, or is a union of."""
    t = unwrap(t)
    if isinstance(t, mi.StructType):
        return [t]
    if isinstance(t, mi.UnionType):
        return [s for u in t.types for s in structs(u)]
    return []


def field_names(t: Any) -> list[str]:
    """The fields an object of type ``t`` may have (a union's tag first)."""
    names: list[str] = []
    for s in structs(t):
        if s.tag_field and s.tag_field not in names:
            names.append(s.tag_field)
        names += [f.encode_name for f in s.fields if f.encode_name not in names]
    return names


def field_type(t: Any, name: str) -> Any:
    """The type of field ``name`` of ``t`` (a union's tag: its tags as a literal), or
    ``None``."""
    for s in structs(t):
        if name == s.tag_field:
            return mi.LiteralType(values=tuple(x.tag for x in structs(t) if x.tag))
        for f in s.fields:
            if f.encode_name == name:
                return f.type
    return None


def _variant(t: Any, data: Any) -> Any:
    """The struct of a tagged union whose tag ``data`` carries, else ``t``."""
    found = structs(t)
    if len(found) > 1 and isinstance(data, dict):
        for s in found:
            if s.tag_field and data.get(s.tag_field) == s.tag:
                return s
    return unwrap(t)


def _step(t: Any, name: str | None, index: int | None) -> Any:
    if name is not None:
        sub = field_type(t, name)
        if sub is None and isinstance(unwrap(t), mi.DictType):
            return unwrap(t).value_type
        return sub
    for u in (t.types if isinstance(t, mi.UnionType) else (t,)):
        if isinstance(u, (mi.ListType, mi.VarTupleType)):
            return u.item_type
        if isinstance(u, mi.TupleType) and index is not None and index < len(u.item_types):
            return u.item_types[index]
    return None


def at(root: Any, path: str, data: Any = None) -> tuple[Any, Any]:
    """The msgspec type info at ``path`` (``.events[2].at``) of a ``root`` value, and the
    value there in ``data`` (the decoded input, which also picks tagged-union variants);
    ``(None, ...)`` when the path cannot be followed."""
    t: Any = mi.type_info(root) if root is not None else None
    for m in _STEP.finditer(path):
        if t is None:
            return None, data
        t = _variant(t, data)
        name, index = m.group(1), (int(m.group(2)) if m.group(2) else None)
        if name is not None:
            data = data.get(name) if isinstance(data, dict) else None
        else:
            data = data[index] if isinstance(data, list) and index is not None \
                and index < len(data) else None
        t = _step(t, name, index)
    return (_variant(t, data) if t is not None else None), data
