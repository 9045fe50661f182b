"""The conventions a user of command-line tools expects (issue 26, items 3, 4, 7 and 9):
``--version``, help text with defaults and an example, a subcommand's own usage for its
mistakes, and one line (exit 2), never a traceback, for a value that cannot work."""

from __future__ import annotations

import argparse
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim import __version__
from sim.cli import EXAMPLES, _parsers

ROOT = Path(__file__).resolve().parents[2]


def promptsim(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *argv], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, check=False)


def one_line_error(r: subprocess.CompletedProcess[str]) -> str:
    """The run failed with exit 2 and said why in one line, with no traceback."""
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1, r.stderr
    return r.stderr.strip()


def test_version() -> None:
    r = promptsim("--version")
    assert (r.returncode, r.stdout.strip()) == (0, f"promptsim {__version__}")


def test_every_subcommand_has_an_example_that_parses() -> None:
    """Each ``--help`` ends with one example, and the example is a valid command line."""
    parser, commands = _parsers()
    assert set(EXAMPLES) == set(commands)
    for name, example in EXAMPLES.items():
        assert commands[name].format_help().rstrip().endswith(example), name
        argv = shlex.split(example)
        assert argv[0] == "promptsim"
        args = parser.parse_args(argv[1:])
        assert args.command == name


def test_every_option_has_help_and_states_its_default() -> None:
    """An option with a default says it in its help (``(default ...)``), so a user need not
    read the code; argparse has no public list of a parser's options, hence ``_actions``."""
    _, commands = _parsers()
    missing = []
    for name, p in commands.items():
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        parsers = [(name, p)] + [(f"{name} {k}", q) for a in subs for k, q in a.choices.items()]
        for label, q in parsers:
            for a in q._actions:
                if (a.help in (None, argparse.SUPPRESS) and a.dest not in ("help", "command")
                        and not isinstance(a, argparse._SubParsersAction)):
                    missing.append(f"{label} {a.dest}: no help")
                quiet = a.default in (None, False, [], argparse.SUPPRESS) or a.required
                if not quiet and "default" not in (a.help or ""):
                    missing.append(f"{label} {'/'.join(a.option_strings) or a.dest}: "
                                   f"default {a.default!r} not stated")
    assert not missing, "\n".join(missing)


def test_an_unknown_flag_prints_the_subcommands_usage() -> None:
    r = promptsim("simulate", "scenarios/quickstart.toml", "--bogus")
    assert r.returncode == 2
    assert r.stderr.startswith("usage: promptsim simulate ")
    assert r.stderr.strip().endswith("promptsim simulate: error: unrecognized arguments: --bogus")


@pytest.mark.parametrize(("argv", "says"), [
    (["simulate", "scenarios/quickstart.toml", "--devices", "0"],
     "argument --devices: 0 is less than 1"),
    (["simulate", "scenarios/quickstart.toml", "--jobs", "two"],
     "argument --jobs: 'two' is not a whole number"),
    (["load", "scenarios/quickstart.toml", "--url", "127.0.0.1:18432", "--api-key", "k"],
     "argument --url: '127.0.0.1:18432' is not an http(s) URL"),
    (["load", "scenarios/quickstart.toml", "--start-local", "--budget",
      "eligibilty:p99_ms<50"], "budget endpoint 'eligibilty' is not one a load run calls"),
])
def test_a_value_that_cannot_work_is_one_line_naming_the_flag(argv: list[str],
                                                               says: str) -> None:
    assert says in one_line_error(promptsim(*argv))


@pytest.mark.parametrize("command", ["simulate", "optimize"])
def test_a_dashboard_url_as_scheduler_fails_at_once(command: str) -> None:
    """The Dask dashboard's http:// address is not a scheduler's: said at once (it took 43 s
    and 49 lines of traceback)."""
    scenario = "scenarios/optimize.toml" if command == "optimize" else "scenarios/quickstart.toml"
    t0 = time.monotonic()
    line = one_line_error(promptsim(command, scenario, "--scheduler", "http://127.0.0.1:18799"))
    assert time.monotonic() - t0 < 20
    assert "is not a Dask scheduler address" in line and "tcp://HOST:8786" in line


def test_serve_on_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    """Nothing about serving is printed for a port another process holds."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        r = promptsim("serve", "--db", str(tmp_path / "s.sqlite3"), "--port", str(port))
    assert r.stderr.count("\n") == 1
    assert one_line_error(r) == (f"promptsim serve: error: --port {port}: cannot listen on "
                                 f"127.0.0.1:{port} (Address already in use); is another "
                                 "server running there?")


@pytest.mark.slow
def test_headless_locust_without_an_api_key_exits_2() -> None:
    """Headless, with no run time and no key, Locust sent nothing and never exited."""
    r = subprocess.run([sys.executable, "-m", "locust", "-f", "scenarios/locust/devices.py",
                        "--headless", "--host", "http://127.0.0.1:9"], capture_output=True,
                       text=True, cwd=ROOT, timeout=60, check=False,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT)})
    assert r.returncode == 2, r.stderr[-2000:]
    assert "promptsim: --api-key: required" in r.stderr
