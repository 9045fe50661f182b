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


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2, nothing written."""


BROKEN_PIPE_EXIT = 128 + 13
"""The exit code of a command whose reader went away (``| head``): what a process killed by
SIGPIPE reports to the shell."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="promptsim",
        description="Simulate, serve and load-test push-permission soft prompts.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


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
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except UsageError as exc:
        step = getattr(args, "pilot_command", None)  # a command with steps names its step
        name = f"{args.command} {step}" if step else args.command
        print(f"promptsim {name}: error: {exc}", file=sys.stderr)
        return 2
    return code
