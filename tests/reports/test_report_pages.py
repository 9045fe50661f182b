"""Issue 23 item 7, issue 25 item 6: every page is rendered from its template with
autoescape, so the text a reader sees never holds markup, backticks or a bare ``&``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reports import html as h

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("report", "report_psa", "optimize", "optimize_draws", "forecast", "forecast_fitted",
         "load")
BACKTICKS = re.compile(r"`[^`\n]+`")
BARE_AMPERSAND = re.compile(r"&(?!#\d+;|#x[0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)")


class _Text(HTMLParser):
    """The text a reader sees: every text node outside ``<script>`` and ``<style>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hidden = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hidden += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def defects(page: str) -> list[str]:
    """What a reader would see that they should not: markup, backtick pairs, and (in the
    HTML itself) an ``&`` that starts no entity."""
    parser = _Text()
    parser.feed(page)
    parser.close()
    text = "\n".join(parser.parts)
    found = [f"markup in the text: ...{text[max(0, i - 40):i + 60]!r}"
             for i in (m.start() for m in re.finditer("<span", text))]
    found += [f"backticks in the text: {m.group()!r}" for m in BACKTICKS.finditer(text)]
    found += [f"bare & in the HTML: ...{page[max(0, m.start() - 40):m.end() + 40]!r}"
              for m in BARE_AMPERSAND.finditer(page)]
    return found


def test_the_check_sees_each_defect() -> None:
    """The report's former P(best) row and weight sentence, and a bare &: each is found."""
    old = ('<td>&lt;span class="swatch" style="background:#0072B2"&gt;&lt;/span&gt;once</td>'
           "<li>`once` would beat `twice` if ...</li><p>R&D</p>")
    assert [d.split(":")[0] for d in defects(old)] == [
        "markup in the text", "backticks in the text", "backticks in the text",
        "bare & in the HTML"]
    assert defects("<style>a{}</style><p>R&amp;D <code>once</code> &#8805; &lt;3</p>") == []


@pytest.mark.parametrize("name", PAGES)
def test_no_page_shows_markup_backticks_or_a_bare_ampersand(
        pages: dict[str, Path], name: str) -> None:
    assert defects(pages[name].read_text()) == []


def test_the_report_marks_code_and_shows_swatches(pages: dict[str, Path]) -> None:
    """With prior draws: the weight sentences' strategy names are <code>, and the P(best)
    table's rows start with a real swatch."""
    page = pages["report_psa"].read_text()
    assert re.search(r"<li><code>\w+</code> would beat <code>\w+</code> if ", page)
    assert re.search(r'<tr><td><span class="swatch" style="background:#[0-9A-Fa-f]{6}">'
                     r"</span>once</td>", page)


def test_values_are_escaped_and_backticks_become_code() -> None:
    """Autoescape: a value that looks like markup is shown as text, in every partial."""
    t = h.table(["a <b>", h.Cell("x", colour='"><script>')],
                [["1 & 2 `code`", h.Cell("<i>", under="`u` & v", css="pass")]], numeric=(1,))
    page = h.render("base.html", title="<title> & co")
    assert "<title>&lt;title&gt; &amp; co</title>" in page
    out = h.environment().from_string(
        '{% import "macros.html" as m %}{{ m.table(t) }}').render(t=t)
    assert "<th>a &lt;b&gt;</th>" in out
    assert 'style="background:&#34;&gt;&lt;script&gt;"' in out
    assert "<td>1 &amp; 2 <code>code</code></td>" in out
    assert ('<td class="num pass">&lt;i&gt;<div class="under"><code>u</code> &amp; v</div>'
            "</td>") in out
    assert defects(out) == []


def test_the_templates_ship_with_the_package(tmp_path: Path) -> None:
    """What a wheel holds (setuptools' build_py, package data included) has every template,
    and ``reports.html`` renders a page from that copy, not from the checkout. Built from a
    clean copy of the sources: a checkout's egg-info would list the files anyway."""
    src, build = tmp_path / "src", tmp_path / "build"
    junk = shutil.ignore_patterns("__pycache__", "*.so", "*.c", "*.egg-info")
    for d in ("sim", "reports"):
        shutil.copytree(ROOT / d, src / d, ignore=junk)
    for f in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / f, src / f)
    env = {**os.environ, "PROMPTSIM_PURE_PYTHON": "1"}  # no mypyc: only the files matter
    subprocess.run([sys.executable, "setup.py", "-q", "build_py", "-d", str(build)],
                   cwd=src, env=env, check=True, capture_output=True)
    templates = ROOT / "reports" / "templates"
    files = [p.relative_to(templates) for p in templates.rglob("*") if p.is_file()]
    assert len(files) >= 6
    assert [f for f in files if not (build / "reports" / "templates" / f).is_file()] == []
    out = subprocess.run(
        [sys.executable, "-c", "import reports.html as h; print(h.__file__); "
         "print(h.render('base.html', title='shipped'))"],
        cwd=build, env={**env, "PYTHONPATH": str(build)}, check=True,
        capture_output=True, text=True).stdout
    assert out.startswith(str(build / "reports" / "html.py"))
    assert "<title>shipped</title>" in out and "font-family" in out  # style.css included
