"""The ``promptsim`` command line.

Each command module exposes ``register(subparsers)``, which adds its parser and
sets ``func`` to a function taking the parsed arguments and returning an exit
code. Heavy imports happen inside those functions, not here.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES: tuple[str, ...] = (
    "sim.cli.simulate",
    "sim.cli.serve",
    "sim.cli.load",
    "sim.cli.parity",
    "sim.cli.report",
)
"""Modules whose ``register`` adds subcommands, in the order ``--help`` lists them."""


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2, nothing written."""


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
    """Entry point of the ``promptsim`` console script."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except UsageError as exc:
        print(f"promptsim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return code

