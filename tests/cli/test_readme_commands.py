"""Every ``sh`` block of the README runs as written, in order, in one fresh directory.

A block is a shell script: it runs with ``bash -e -o pipefail`` in a copy of the
repository's files (no ``runs/``, no ``.venv``), one block after the other, so a later
block may use what an earlier one wrote (``runs/quickstart``). ``synopsis`` blocks (a
command's options, placeholders in capitals) are not run; ``EXEMPT`` names the blocks that
cannot run inside the suite, and why. The ``python`` blocks (the API) run after them.
Nothing is relaxed: ``promptsim load`` keeps the budgets the README's scenario states (its
``[load.budgets]`` table says why they hold on a loaded 2-core machine).

The first block installs promptsim into a fresh ``.venv`` (``pip install -e .``). Its
dependencies are taken from the suite's own environment (``PYTHONPATH``), which pip counts
as installed: a full install of them is what CI does at its start (``.ci/run``, the same
``python3 -m venv .venv && pip install -e``), and repeating it here would add a minute.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXEMPT = {"bash .ci/run": "what CI runs: the whole suite, this test included"}
COPY = ("pyproject.toml", "README.md", "CHANGELOG.md", "sim", "reports", "scenarios", "docs",
        "bench")


def sh_blocks(text: str) -> list[tuple[int, str]]:
    """``(line, script)`` of every ```` ```sh ```` block."""
    return [(text[:m.start()].count("\n") + 1, m.group(1))
            for m in re.finditer(r"^```sh\n(.*?)^```$", text, re.S | re.M)]


def python_blocks(text: str) -> list[tuple[int, str]]:
    """``(line, code)`` of every ```` ```python ```` block."""
    return [(text[:m.start()].count("\n") + 1, m.group(1))
            for m in re.finditer(r"^```python\n(.*?)^```$", text, re.S | re.M)]


def test_every_fence_is_sh_synopsis_or_plain() -> None:
    """Command blocks say what they are: run (``sh``) or not (``synopsis``)."""
    fences = re.findall(r"^```(\S*)$", (ROOT / "README.md").read_text(), re.M)
    assert set(fences) <= {"", "sh", "synopsis", "toml", "python"}, set(fences)
    assert "synopsis" in fences


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_every_sh_block_of_the_readme_runs_as_written(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        if os.environ.get("CI"):
            pytest.fail("CI: the README's walkthrough needs curl (apt-get install curl)")
        pytest.skip("curl is not installed")
    work = tmp_path / "clone"
    work.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "runs")
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=ignore)
        elif src.exists():
            shutil.copy(src, work / name)
    bindir = str(Path(sys.executable).parent)  # the suite's `promptsim` and `python`
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "PORT": str(_free_port()),
           "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    env.pop("VIRTUAL_ENV", None)
    blocks = sh_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 5
    took = []
    for line, script in blocks:
        if script.strip() in EXEMPT:
            continue
        t0 = time.monotonic()
        r = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=work,
                           env=env,
                           capture_output=True, text=True, timeout=240, start_new_session=True,
                           check=False)
        took.append((line, round(time.monotonic() - t0, 1)))
        assert r.returncode == 0, (f"README.md:{line}: exit {r.returncode}\n{script}\n"
                                   f"--- stdout\n{r.stdout[-3000:]}\n--- stderr\n"
                                   f"{r.stderr[-3000:]}")
    for line, code in python_blocks((ROOT / "README.md").read_text()):  # the API example
        r = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True,
                           text=True, timeout=240, check=False)
        assert r.returncode == 0, f"README.md:{line}:\n{code}\n{r.stderr[-3000:]}"
    assert (work / "runs" / "nb" / "report.html").is_file()
    print("seconds per block (README line, s):", took)
    assert (work / "runs" / "quickstart" / "report.html").is_file()
    assert (work / "runs" / "showdown" / "summary.csv").is_file()
    assert (work / "runs" / "quickstart-forecast" / "forecast.html").is_file()
    assert len(list((work / "runs" / "load").iterdir())) == 2
