"""Plain words for msgspec's validation errors on a scenario: where, and what is allowed.

msgspec says ``Invalid value 'sometimes' - at `$.strategies[0].frequency.type```; a
scenario's author needs the allowed values of that choice and, for an unknown field, the
fields the table takes. The msgspec type at the error's path tells both.
"""

from __future__ import annotations

import re
from typing import Any

from msgspec import inspect as mi

from sim import msgspec_paths as mp

_VALUE = re.compile(r"^Invalid (?:enum )?value (?P<value>.+)$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`$")
_REGEX = re.compile(r"^Expected `str` matching regex '\^\((?P<alts>[\w|]+)\)\$'$")


def explain(message: str, root: type, data: Any, prefix: str = "") -> str:
    """``path: what is wrong; what is allowed`` for msgspec's ``message`` on ``data``;
    ``prefix`` names where ``data`` sits (``load`` for a scenario's ``[load]`` table)."""
    msg, path = mp.split(message)
    where = (prefix + path).lstrip(".")
    t, value = mp.at(root, path, data)
    if (v := _VALUE.match(msg)) and isinstance(mp.unwrap(t), mi.LiteralType):
        allowed = ", ".join(str(x) for x in mp.unwrap(t).values)
        msg = f"{v['value']} is not one of {allowed}"
    elif (u := _UNKNOWN.match(msg)) and mp.structs(t):
        msg = f"unknown field {u['name']!r}; allowed fields: {', '.join(mp.field_names(t))}"
    elif r := _REGEX.match(msg):
        msg = f"{value!r} is not one of {', '.join(r['alts'].split('|'))}"
    return f"{where}: {msg}" if where else msg
