"""The README's service walkthrough works as written on a fresh directory: it is
``docs/examples/service_walkthrough.sh`` line for line, and running that script against a
real ``promptsim serve`` gives the answer the README shows."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from service_helpers import ROOT, free_port

SCRIPT = ROOT / "docs" / "examples" / "service_walkthrough.sh"


def _body() -> str:
    """The script without its first (comment) line."""
    return SCRIPT.read_text().split("\n", 1)[1]


def test_the_readme_shows_the_script_line_for_line():
    """The README's block is the script CI runs, so the two cannot drift."""
    readme = (ROOT / "README.md").read_text()
    assert "```sh\n" + _body() + "```" in readme


def test_the_walkthrough_answers_as_the_readme_shows(tmp_path: Path):
    """On an empty directory (a fresh SQLite file): the campaign and the device are created
    (201), and the eligibility answer is the README's line; the script stops its server."""
    if shutil.which("curl") is None:
        if os.environ.get("CI"):
            pytest.fail("CI: the walkthrough needs curl (apt-get install curl)")
        pytest.skip("curl is not installed")
    bindir = str(Path(sys.executable).parent)  # the venv's `promptsim`
    env = os.environ | {"PORT": str(free_port()), "PATH": f"{bindir}:{os.environ['PATH']}"}
    proc = subprocess.Popen(["bash", str(SCRIPT)], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever the script left running
    assert proc.returncode == 0, err
    expected = [line.split("# ", 1)[1] for line in _body().splitlines()
                if line.startswith("# {")]
    assert out.split() == ["201", "201", *expected], (out, err)
    assert (tmp_path / "data" / "promptsim.sqlite3").exists()  # under the data folder
    assert not (tmp_path / "promptsim.sqlite3").exists()
