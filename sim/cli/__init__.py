"""The ``promptsim`` command line.

Each command module exposes ``register(subparsers)``, which adds its parser and
sets ``func`` to a function taking the parsed arguments and returning an exit
code. Heavy imports happen inside those functions, not here.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

COMMAND_MODULES: tuple[str, ...] = (
    "sim.cli.simulate",
    "sim.cli.optimize",
    "sim.cli.serve",
    "sim.cli.load",
    "sim.cli.parity",
    "sim.cli.report",
    "sim.cli.pilot",
)
"""Modules whose ``register`` adds subcommands, in the order ``--help`` lists them."""


EXAMPLES: dict[str, str] = {
    "simulate": "promptsim simulate scenarios/quickstart.toml --report",
    "validate": "promptsim validate scenarios/frequency_showdown.toml",
    "scenario-docs": "promptsim scenario-docs --check",
    "rules-native": "promptsim rules-native --check",
    "optimize": "promptsim optimize scenarios/optimize.toml --devices 2000 --budget 4",
    "serve": "promptsim serve --db data/promptsim.sqlite3 --port 8000 --workers 2",
    "apps": "promptsim apps create my-app --clock client",
    "load": "promptsim load scenarios/quickstart.toml --start-local --users 20 "
            "--duration 5s",
    "parity": "promptsim parity scenarios/platform_rules.toml --url http://127.0.0.1:8000",
    "report": "promptsim report runs/quickstart",
    "forecast": "promptsim forecast scenarios/quickstart.toml --installs-per-day 500 "
                "--horizon 90",
    "pilot": "promptsim pilot design scenarios/frequency_showdown.toml --out experiment.json",
}
"""One example per subcommand, printed at the end of its ``--help`` (a test parses each)."""


def positive_int(text: str) -> int:
    """An ``argparse`` type: a whole number >= 1 (the error names the option)."""
    return _whole(text, 1)


def non_negative_int(text: str) -> int:
    """An ``argparse`` type: a whole number >= 0 (the error names the option)."""
    return _whole(text, 0)


def http_url(text: str) -> str:
    """An ``argparse`` type: an ``http://`` or ``https://`` URL with a host."""
    from urllib.parse import urlsplit

    u = urlsplit(text)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL "
                                         "(like http://127.0.0.1:8000)")
    return text


def scheduler_address(text: str) -> str:
    """An ``argparse`` type: a Dask scheduler's address, refused at once when it cannot be
    one (the dashboard's ``http://`` URL)."""
    from sim.engine.executor import SchedulerError, check_scheduler_address

    try:
        check_scheduler_address(text)
    except SchedulerError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--scheduler: ")) from None
    return text


def _whole(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{value} is less than {least}")
    return value


class Parser(argparse.ArgumentParser):
    """``argparse``'s parser, whose errors about one option's value are one line (the option
    and what is wrong); other usage errors (an unknown flag, a missing argument) print the
    usage too, as ``argparse`` does (``error`` is the documented hook for this)."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("argument "):
            self.exit(2, f"{self.prog}: error: {message}\n")
        super().error(message)


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2, nothing written."""


BROKEN_PIPE_EXIT = 128 + 13
"""The exit code of a command whose reader went away (``| head``): what a process killed by
SIGPIPE reports to the shell."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    return _parsers()[0]


def _parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and each subcommand's, by name."""
    parser = Parser(
        prog="promptsim",
        description="Simulate, serve and load-test push-permission soft prompts.",
    )
    from sim import __version__

    parser.add_argument("--version", action="version", version=f"promptsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for command, example in EXAMPLES.items():
        p = sub.choices[command]
        p.epilog = f"example:\n  {example}"
        p.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser, dict(sub.choices)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``promptsim`` console script.

    Usage errors are one line and exit code 2. Output to a reader that went away
    (``promptsim ... | head``) ends the command quietly with :data:`BROKEN_PIPE_EXIT`,
    whichever command wrote it (``--help`` included).
    """
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # inside the try: a closed pipe shows here, not at exit
    except BrokenPipeError:
        # Point stdout at /dev/null so that the interpreter's last flush cannot raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE_EXIT


def _run(argv: Sequence[str] | None) -> int:
    parser, commands = _parsers()
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the subcommand's parser, with its usage, not the top level's
        commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        code: int = args.func(args)
    except UsageError as exc:
        step = getattr(args, "pilot_command", None)  # a command with steps names its step
        name = f"{args.command} {step}" if step else args.command
        print(f"promptsim {name}: error: {exc}", file=sys.stderr)
        return 2
    return code
