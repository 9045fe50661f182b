"""Self-contained HTML: inline CSS, figures as base64 PNG, no scripts, no external URLs."""

from __future__ import annotations

import base64
import html
import struct
from collections.abc import Iterable, Sequence

from reports.figures import SavedFigure

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;
 margin:0 auto;max-width:1180px;padding:24px 28px 60px;color:#1d1d1f;line-height:1.45;
 background:#fff}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.25em;margin:34px 0 10px;
 border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:1.05em;margin:20px 0 8px}
p.lead{color:#444;margin:0 0 14px}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:10px 0}
dl.facts dt{color:#555}dl.facts dd{margin:0;font-weight:500}
.callout{border-left:5px solid #009E73;background:#f1f8f5;padding:12px 18px;margin:14px 0}
.callout.warn{border-color:#D55E00;background:#fdf3ee}
.callout h2{border:0;margin:0 0 6px;padding:0}
table{border-collapse:collapse;margin:8px 0 12px;font-size:0.9em}
th,td{border-bottom:1px solid #e3e3e3;padding:5px 9px;text-align:left;vertical-align:top}
th{background:#f5f5f7;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums;
 white-space:nowrap}
.better{color:#006d4f;font-weight:600}.worse{color:#b3401a;font-weight:600}.same{color:#666}
.pass{color:#006d4f;font-weight:700}.fail{color:#b3401a;font-weight:700}
figure{margin:22px 0;page-break-inside:avoid}figure img{max-width:100%;height:auto;
 display:block;border:1px solid #eee}
figcaption{color:#444;font-size:0.9em;margin-top:6px;max-width:900px}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px;
 vertical-align:-1px}
.scroll{overflow-x:auto;max-width:100%;margin:8px 0 12px}.scroll table{margin:0}
.scroll th:first-child,.scroll td:first-child{position:sticky;left:0;z-index:1;
 background:#fff;box-shadow:1px 0 0 #e3e3e3}.scroll th:first-child{background:#f5f5f7}
.scroll td:first-child{min-width:13em}.scroll th{overflow-wrap:anywhere}
td.num small{color:#555}
pre{background:#f7f7f9;padding:10px;overflow:auto;font-size:0.8em;max-height:420px}
footer{margin-top:40px;color:#777;font-size:0.85em}
"""


def esc(x: object) -> str:
    """HTML-escape anything printable."""
    return html.escape(str(x), quote=True)


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height of a PNG from its IHDR chunk."""
    w, h = struct.unpack(">II", png[16:24])
    return int(w), int(h)


def figure(fig: SavedFigure, folder: str = "figures/") -> str:
    """A ``<figure>`` with the PNG embedded as base64 and the caption under it; the caption
    names the figure's files, in ``folder`` beside the page."""
    data = base64.b64encode(fig.png).decode("ascii")
    w, h = png_size(fig.png)
    stem = f"{esc(folder)}{esc(fig.name)}"
    return (f'<figure id="fig-{esc(fig.name)}"><h3>{esc(fig.title)}</h3>'
            f'<img src="data:image/png;base64,{data}" alt="{esc(fig.title)}" width="{w}" '
            f'height="{h}"><figcaption>{esc(fig.caption)} Files: {stem}.png, '
            f'{stem}.svg.</figcaption></figure>')


Cell = str | tuple[str, str]
"""Cell text (escaped here), or (raw HTML, css class) when already marked up."""


def table(headers: Sequence[str], rows: Iterable[Sequence[Cell]],
          numeric: Sequence[int] = ()) -> str:
    """A plain table; columns in ``numeric`` are right-aligned."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, c in enumerate(row):
            cls = ["num"] if i in numeric else []
            if isinstance(c, tuple):
                text, extra = c
                cls.append(extra)
            else:
                text = esc(c)
            attr = f' class="{" ".join(cls)}"' if cls else ""
            cells.append(f"<td{attr}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    # Wide tables scroll sideways inside the page, their first column kept in view.
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def facts(items: Iterable[tuple[str, object]]) -> str:
    """A definition list of key facts."""
    return '<dl class="facts">' + "".join(
        f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>"


def swatch(colour: str) -> str:
    """A small coloured square (the strategy's colour in the figures)."""
    return f'<span class="swatch" style="background:{esc(colour)}"></span>'


def page(title: str, body: Sequence[str]) -> str:
    """The whole document."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
