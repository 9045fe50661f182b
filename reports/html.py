"""Self-contained HTML pages from Jinja2 templates (``reports/templates/``).

Autoescape is on: every value reaches the page escaped, so text never turns into markup.
A page module gathers its numbers as text, tables as :class:`Table`, figures as
``SavedFigure``; its template lays them out with the shared partials of ``macros.html``
(tables, facts, figures, swatches) inside ``base.html`` (the head and the inline CSS).
The pages load nothing: no scripts, no external URLs, figures as base64 PNG.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup, escape

_CODE = re.compile(r"`([^`\n]+)`")


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height of a PNG from its IHDR chunk."""
    w, h = struct.unpack(">II", png[16:24])
    return int(w), int(h)


def inline_code(text: object) -> Markup:
    """``text`` escaped, each `backtick pair` shown as ``<code>``."""
    return Markup(_CODE.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text))))


def data_uri(png: bytes) -> str:
    """A PNG as a ``data:`` URL (base64: nothing in it needs escaping)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@dataclass(frozen=True)
class Cell:
    """A table cell with more than its text."""

    text: str
    under: str = ""
    """A second, smaller line under the text (a unit, a difference from the baseline)."""
    css: str = ""
    """Classes of the cell (pass, fail, same, better, worse, pick)."""
    under_css: str = ""
    """Classes of the line under the text."""
    colour: str = ""
    """A swatch of this colour before the text (a strategy's colour in the figures)."""
    strong: bool = False
    """The text in bold."""


@dataclass(frozen=True)
class Table:
    """A table for ``macros.table``: wide ones scroll sideways inside the page."""

    headers: tuple[Cell, ...]
    rows: tuple[tuple[Cell, ...], ...]
    numeric: frozenset[int]
    """Columns right-aligned as numbers."""
    id: str = ""


def cell(c: str | Cell) -> Cell:
    """``c`` as a :class:`Cell`."""
    return c if isinstance(c, Cell) else Cell(c)


def table(headers: Sequence[str | Cell], rows: Iterable[Sequence[str | Cell]],
          numeric: Iterable[int] = (), id: str = "") -> Table:
    """A table; columns in ``numeric`` are right-aligned."""
    return Table(tuple(map(cell, headers)), tuple(tuple(map(cell, r)) for r in rows),
                 frozenset(numeric), id)


@cache
def environment() -> jinja2.Environment:
    """The templates shipped in ``reports/templates``, autoescaped, strict about names."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["code"] = inline_code
    env.filters["data_uri"] = data_uri
    env.globals["png_size"] = png_size
    return env


def render(template: str, **context: Any) -> str:
    """The page ``template`` rendered with ``context``."""
    # str(): the build environment of the compiled modules has no Jinja2, so its types are
    # Any there (setup.py), and mypyc refuses to return Any as str
    return str(environment().get_template(template).render(**context))
