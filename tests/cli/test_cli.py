"""The ``promptsim`` command line as a user meets it: piped output and run directories."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import BROKEN_PIPE_EXIT, main

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--devices", "60", "--days", "5", "--replications", "1", "--jobs", "1",
         "--no-progress"]


@pytest.mark.parametrize("argv", [["validate", "scenarios/quickstart.toml"],
                                  ["simulate", "scenarios/quickstart.toml", *SMALL]])
@pytest.mark.slow
def test_output_to_a_closed_pipe_ends_quietly(argv, tmp_path):
    """`promptsim ... | head` whose reader already left: no BrokenPipeError traceback, the
    shell's SIGPIPE exit code (141), handled once in sim/cli for every command."""
    if argv[0] == "simulate":
        argv = [*argv, "--out", str(tmp_path / "run")]
    r, w = os.pipe()
    os.close(r)  # the reader is gone before the first byte
    try:
        p = subprocess.run([sys.executable, "-m", "sim", *argv], stdout=w,
                           stderr=subprocess.PIPE, cwd=ROOT, timeout=120)
    finally:
        os.close(w)
    assert p.stderr.decode() == ""
    assert p.returncode == BROKEN_PIPE_EXIT


def test_a_copied_scenario_does_not_overwrite_the_original_run(tmp_path, capsys):
    """A copy of a scenario that kept its `name` must not silently replace the original's run
    directory: refused with one line saying what to do; `--overwrite` replaces it; rerunning
    the same file replaces its own run."""
    original = tmp_path / "quickstart.toml"
    shutil.copy(ROOT / "scenarios" / "quickstart.toml", original)
    copy = tmp_path / "copy.toml"
    copy.write_text(original.read_text().replace("seed = 7", "seed = 8"))
    out = tmp_path / "runs" / "quickstart"
    assert main(["simulate", str(original), *SMALL, "--out", str(out)]) == 0
    before = (out / "summary.csv").read_bytes()
    capsys.readouterr()

    assert main(["simulate", str(copy), *SMALL, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f"already holds a run of {original}" in err and "--overwrite" in err
    assert (out / "summary.csv").read_bytes() == before

    assert main(["simulate", str(original), *SMALL, "--out", str(out)]) == 0  # a rerun
    assert main(["simulate", str(copy), *SMALL, "--out", str(out), "--overwrite"]) == 0
    assert (out / "summary.csv").read_bytes() != before


def test_a_directory_that_is_not_a_run_is_not_overwritten(tmp_path, capsys):
    """--out pointing at a folder of other files is refused, naming the folder."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["simulate", "scenarios/quickstart.toml", *SMALL, "--out", str(out)]) == 2
    assert "not a run of this scenario file" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
