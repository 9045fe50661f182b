"""The API's one error shape and how every failure becomes it.

``{"error": code, "field": path-or-null, "detail": text}``. Domain errors
(:mod:`sim.service.errors`) map to a status by class; :class:`HttpError` is for
what only HTTP knows (400 bad JSON, 405, 413, 415). :func:`from_validation`
turns msgspec's decode errors into a 422 whose ``detail`` says what would have
been accepted, built from the msgspec type of the request body.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from msgspec import inspect as mi

from sim.service.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    ServiceError,
    Unauthorized,
    Unavailable,
)
from sim.service.schemas import RFC3339, OsVersionText


class ErrorBody(msgspec.Struct, frozen=True):
    """Body of every 4xx and 5xx."""

    error: str
    """A stable code: ``invalid_json``, ``unknown_field``, ``unknown_device``, ..."""
    field: str | None
    """Where in the request the problem is (``events[3].outcome``), or null."""
    detail: str
    """Human text naming what is allowed."""


Headers = list[tuple[bytes, bytes]]


class HttpError(ServiceError):
    """An error only the HTTP layer knows, with its status and extra headers."""

    def __init__(self, status: int, code: str, detail: str, field: str | None = None,
                 headers: Headers | None = None) -> None:
        super().__init__(code, detail, field)
        self.status = status
        self.headers = headers or []


STATUS: dict[type[ServiceError], int] = {
    InvalidInput: 422, NotFound: 404, Conflict: 409, Unauthorized: 401, Unavailable: 503,
}
"""HTTP status of each domain error class."""

_encode = msgspec.json.Encoder().encode


def render(exc: ServiceError) -> tuple[int, bytes, Headers]:
    """``(status, JSON body, extra headers)`` of an error."""
    body = _encode(ErrorBody(error=exc.code, field=exc.field, detail=exc.detail))
    if isinstance(exc, HttpError):
        return exc.status, body, exc.headers
    if isinstance(exc, Unavailable):
        return 503, body, [(b"retry-after", str(exc.retry_after).encode())]
    if isinstance(exc, Unauthorized):
        return 401, body, [(b"www-authenticate", b"Bearer")]
    return STATUS[type(exc)], body, []


def from_validation(exc: msgspec.DecodeError, root: Any, body: bytes | None = None) -> ServiceError:
    """Translate a msgspec decode error on a body of type ``root`` into an error.

    ``body``, when given, picks the variant of a tagged union that the client meant,
    so "allowed fields" lists that event type's fields.
    """
    text = str(exc)
    if not isinstance(exc, msgspec.ValidationError):
        return HttpError(400, "invalid_json", f"the body is not valid JSON ({text})")
    m = _MSG.match(text)
    msg = m.group("msg") if m else text
    path = (m.group("path") or "") if m else ""
    field = path.lstrip(".") or None
    t = type_at(root, path, _data(body))
    named = _NAMED.search(msg)
    if msg.startswith("Object contains unknown field") and named:
        allowed = ", ".join(_field_names(t)) or "none"
        return InvalidInput("unknown_field", f"unknown field {named['name']!r}; "
                            f"allowed fields: {allowed}", _join(field or "", named["name"]))
    if msg.startswith("Object missing required field") and named:
        name = named["name"]
        sub = _field_type(t, name)
        want = f"; expected {describe(sub)}" if sub is not None else ""
        return InvalidInput("missing_field", f"required field {name!r} is missing{want}",
                            _join(field or "", name))
    code = "wrong_type" if ", got `" in msg else "invalid_value"
    if msg.startswith("Expected `str` matching regex"):
        msg = "the string does not have an allowed form"
    return InvalidInput(code, f"{msg}; allowed: {describe(t)}" if t is not None else msg, field)


_MSG = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_NAMED = re.compile(r"field `(?P<name>[^`]+)`")
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


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
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
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


def _pattern(t: Any) -> str:
    info = _unwrap(mi.type_info(t))
    assert isinstance(info, mi.StrType) and info.pattern
    return info.pattern


_STRINGS = {
    _pattern(RFC3339): "an RFC 3339 date-time with an offset such as 2026-01-05T09:00:00Z "
                         "(years 1971 to 9999)",
    _pattern(OsVersionText): "a version string such as 14 or 17.4.1",
}
"""Plain words for the string types whose pattern would not be read."""


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
        words = _STRINGS.get(t.pattern or "")
        if words is not None:
            return words
        return "a string" + (f" matching {t.pattern}" if t.pattern else "")
    if isinstance(t, (mi.ListType, mi.VarTupleType)):
        return f"a list of {describe(t.item_type)}"
    if isinstance(t, mi.DictType):
        return f"an object of {describe(t.value_type)}"
    if isinstance(t, mi.AnyType):
        return "any JSON value"
    return type(t).__name__.removesuffix("Type").lower()
