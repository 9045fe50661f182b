"""The one error shape of the API: ``{"error": code, "field": path-or-null, "detail": text}``.

Handlers raise :class:`ApiError`; the app turns it (and msgspec's decode
errors) into a JSON response. ``detail`` always says what would have been
accepted, built from the msgspec type of the request body.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from msgspec import inspect as mi


class ErrorBody(msgspec.Struct, frozen=True):
    """Body of every 4xx (and of the rare 5xx)."""

    error: str
    """A stable code: ``invalid_json``, ``unknown_field``, ``not_found``, ..."""
    field: str | None
    """Where in the request the problem is (``events[3].outcome``), or null."""
    detail: str
    """Human text naming what is allowed."""


class ApiError(Exception):
    """An error answered to the client with ``status`` and an :class:`ErrorBody`."""

    def __init__(self, status: int, error: str, detail: str, field: str | None = None,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.body = ErrorBody(error=error, field=field, detail=detail)
        self.headers = headers or []


def not_found(what: str, ident: str, field: str | None) -> ApiError:
    """404 for an unknown device, campaign, user or path."""
    return ApiError(404, f"unknown_{what}", f"no {what} {ident!r} in this app", field)


_MSG = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_NAMED = re.compile(r"field `(?P<name>[^`]+)`")
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def from_validation(exc: msgspec.DecodeError, root: Any, body: bytes | None = None) -> ApiError:
    """Translate a msgspec decode error on a body of type ``root`` into an :class:`ApiError`.

    ``body``, when given, picks the variant of a tagged union that the client meant,
    so "allowed fields" lists that event type's fields.
    """
    text = str(exc)
    if not isinstance(exc, msgspec.ValidationError):
        return ApiError(400, "invalid_json", f"the body is not valid JSON ({text})")
    m = _MSG.match(text)
    msg = m.group("msg") if m else text
    path = (m.group("path") or "") if m else ""
    field = path.lstrip(".") or None
    t = type_at(root, path, _data(body))
    named = _NAMED.search(msg)
    if msg.startswith("Object contains unknown field") and named:
        allowed = ", ".join(_field_names(t)) or "none"
        return ApiError(422, "unknown_field", f"unknown field {named['name']!r}; "
                        f"allowed fields: {allowed}", _join(field or "", named["name"]))
    if msg.startswith("Object missing required field") and named:
        name = named["name"]
        sub = _field_type(t, name)
        want = f"; expected {describe(sub)}" if sub is not None else ""
        return ApiError(422, "missing_field", f"required field {name!r} is missing{want}",
                        _join(field or "", name))
    code = "wrong_type" if ", got `" in msg else "invalid_value"
    return ApiError(422, code, f"{msg}; allowed: {describe(t)}" if t is not None else msg, field)


# --- walking msgspec types ---------------------------------------------------

def _unwrap(t: Any) -> Any:
    while isinstance(t, (mi.Metadata,)):
        t = t.type
    return t


def _structs(t: Any) -> list[mi.StructType]:
    t = _unwrap(t)
    if isinstance(t, mi.StructType):
        return [t]
    if isinstance(t, mi.UnionType):
        return [s for u in t.types for s in _structs(u)]
    return []


def _field_names(t: Any) -> list[str]:
    names: list[str] = []
    for s in _structs(t):
        if s.tag_field and s.tag_field not in names:
            names.append(s.tag_field)
        names += [f.encode_name for f in s.fields if f.encode_name not in names]
    return names


def _field_type(t: Any, name: str) -> Any:
    for s in _structs(t):
        if name == s.tag_field:
            return mi.LiteralType(values=tuple(x.tag for x in _structs(t) if x.tag))
        for f in s.fields:
            if f.encode_name == name:
                return f.type
    return None


def _data(body: bytes | None) -> Any:
    try:
        return msgspec.json.decode(body) if body else None
    except msgspec.DecodeError:
        return None


def _variant(t: Any, data: Any) -> Any:
    """The struct of a tagged union whose tag ``data`` carries, else ``t``."""
    structs = _structs(t)
    if len(structs) > 1 and isinstance(data, dict):
        for st in structs:
            if st.tag_field and data.get(st.tag_field) == st.tag:
                return st
    return t


def type_at(root: Any, path: str, data: Any = None) -> Any:
    """The msgspec type info found at a ``$``-less JSON path such as ``.events[2].at``.

    ``data`` is the decoded body, used to choose among tagged-union variants.
    """
    t: Any = mi.type_info(root) if root is not None else None
    for m in _STEP.finditer(path):
        if t is None:
            return None
        t = _variant(_unwrap(t), data)
        if m.group(1) is not None:
            t = _field_type(t, m.group(1))
            data = data.get(m.group(1)) if isinstance(data, dict) else None
        else:
            i = int(m.group(2))
            data = data[i] if isinstance(data, list) and i < len(data) else None
            inner = [u for u in (t.types if isinstance(t, mi.UnionType) else (t,))
                     if isinstance(u, (mi.ListType, mi.TupleType, mi.VarTupleType))]
            t = inner[0].item_type if inner and hasattr(inner[0], "item_type") else None
    return _variant(_unwrap(t), data) if t is not None else None


def _bounds(t: Any) -> str:
    parts = [f"{op} {v}" for op, v in (("> ", getattr(t, "gt", None)),
                                       (">=", getattr(t, "ge", None)),
                                       ("< ", getattr(t, "lt", None)),
                                       ("<=", getattr(t, "le", None))) if v is not None]
    return (" " + " and ".join(p.replace("  ", " ") for p in parts)) if parts else ""


def describe(t: Any) -> str:
    """Plain words for what a value of type ``t`` may be."""
    t = _unwrap(t)
    if isinstance(t, mi.LiteralType):
        return "one of " + ", ".join(str(v) for v in t.values)
    if isinstance(t, mi.UnionType):
        structs = _structs(t)
        if structs and all(s.tag for s in structs):
            return (f'an object whose "{structs[0].tag_field}" is one of '
                    + ", ".join(str(s.tag) for s in structs))
        return " or ".join(describe(u) for u in t.types)
    if isinstance(t, mi.StructType):
        req = [f.encode_name for f in t.fields if f.required]
        return ("an object with fields " + ", ".join(_field_names(t))
                + (f" (required: {', '.join(req)})" if req else ""))
    if isinstance(t, mi.NoneType):
        return "null"
    if isinstance(t, mi.BoolType):
        return "true or false"
    if isinstance(t, mi.IntType):
        return "an integer" + _bounds(t)
    if isinstance(t, mi.FloatType):
        return "a number" + _bounds(t)
    if isinstance(t, mi.StrType):
        return "a string" + (f" matching {t.pattern}" if t.pattern else "")
    if isinstance(t, (mi.ListType, mi.VarTupleType)):
        return f"a list of {describe(t.item_type)}"
    if isinstance(t, mi.DictType):
        return f"an object of {describe(t.value_type)}"
    if isinstance(t, mi.AnyType):
        return "any JSON value"
    return type(t).__name__.removesuffix("Type").lower()
