"""The locustfiles' own options: declared, read and checked once.

Locust fills options from the command line, from environment variables and from its web
UI's start form. The form sends every value as text, and Locust keeps the text when an
option's default is ``None`` (``--day-seconds 0.5`` became the string ``"0.5"``, and
every simulated device crashed on it). So every option here is declared as text, and
:func:`parse` turns the three sources alike into typed, checked :class:`LoadOptions`,
or an :class:`OptionError` naming the option and what it allows. Locust-free: the web
UI's check, the test start and the tests call the same function.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sim.loadtest import budgets as bud
from sim.loadtest.shapes import SHAPES
from sim.loadtest.world import read_scenario
from sim.model.load_table import LoadConfig
from sim.model.scenario import Scenario, ScenarioError, Strategy, pick_strategy
from sim.rules.config.campaigns import id_pattern

MAX_DAY_SECONDS = 86_400.0
"""Real seconds per simulated day, at most one day: real time is never slower than life."""
RUN_ID = re.compile(id_pattern(64, at=True))
"""A run id prefixes device and user ids, which are at most 128 of these characters."""
OPTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("--scenario", "PROMPTSIM_SCENARIO", "scenarios/quickstart.toml", "scenario TOML file"),
    ("--strategy", "PROMPTSIM_STRATEGY", "", "strategy whose campaigns the service runs "
     "(default: the scenario's baseline, else its first)"),
    ("--api-key", "PROMPTSIM_API_KEY", "", "bearer key of an app created with "
     "'promptsim apps create NAME --clock client' (required)"),
    ("--day-seconds", "PROMPTSIM_DAY_SECONDS", "", "real seconds per simulated day, 0 to "
     "86400 (default: the scenario's [load] day_seconds, else 1; 0: no waiting)"),
    ("--replication", "PROMPTSIM_REPLICATION", "", "population replication devices are "
     "drawn from, 0 or more (default: the scenario's [load], else 0)"),
    ("--run-id", "PROMPTSIM_RUN_ID", "", "prefix of device and user ids (default: random)"),
    ("--load-out", "PROMPTSIM_LOAD_OUT", "", "directory for the devices' logs and the "
     "histograms (for the consistency check)"),
    ("--budget", "PROMPTSIM_BUDGETS", "", "budgets: 'eligibility:p99_ms<50; "
     "all:fail_ratio<0.001' or JSON"),
    ("--shape", "PROMPTSIM_SHAPE", "steady", "load shape (with scenarios/locust/shapes.py): "
     + ", ".join(SHAPES)),
    ("--shape-seconds", "PROMPTSIM_SHAPE_SECONDS", "", "duration the shape is scaled to "
     "(default --run-time, else 60)"),
)
"""``(flag, variable, default, help)``: every default is text (see the module)."""


class OptionError(ValueError):
    """An option the load test cannot use; the message names it and what it allows."""


@dataclass(frozen=True)
class LoadOptions:
    """The options of one test start, typed and checked."""

    scenario: Scenario
    config: LoadConfig
    strategy: Strategy
    api_key: str
    day_seconds: float
    replication: int
    run_id: str
    load_out: str
    budgets: dict[str, dict[str, float]]
    shape: str
    shape_seconds: float
    """0: scaled to ``--run-time``, else 60 s."""
    skip_setup: bool


def add_options(parser: Any) -> None:
    """Declare the options on Locust's parser (each also read from its variable)."""
    for flag, env, default, text in OPTIONS:
        parser.add_argument(flag, env_var=env, default=default, help=text,
                            is_secret=flag == "--api-key")
    parser.add_argument("--skip-setup", env_var="PROMPTSIM_SKIP_SETUP", action="store_true",
                        help="do not PUT the strategy's settings and campaigns at test start")


def _text(values: Mapping[str, Any], name: str) -> str:
    v = values.get(name)
    return "" if v is None else str(v).strip()


def _number(values: Mapping[str, Any], name: str, low: float, high: float,
            integer: bool = False) -> float | None:
    """The option as a number in ``[low, high]``; None when empty."""
    raw = _text(values, name)
    if raw == "":
        return None
    flag = "--" + name.replace("_", "-")
    kind = "an integer" if integer else "a number"
    try:
        x = float(int(raw)) if integer else float(raw)
    except ValueError:
        raise OptionError(f"{flag}: {raw!r} is not {kind}; allowed: {kind} from {low:g} "
                          f"to {high:g}") from None
    if not math.isfinite(x) or not low <= x <= high:
        raise OptionError(f"{flag}: {raw} is out of range; allowed: {kind} from {low:g} "
                          f"to {high:g}")
    return x


def _budgets(raw: str, config: LoadConfig) -> dict[str, dict[str, float]]:
    try:
        if raw.startswith("{"):
            doc = json.loads(raw)
            if not isinstance(doc, dict):
                raise ValueError("a JSON object of endpoint -> {metric: limit}")
            return bud.resolve(doc)
        specs = [s for s in raw.replace("\n", ";").split(";") if s.strip()]
        return bud.resolve(config.budgets, specs=specs)
    except (ValueError, TypeError, AttributeError) as exc:
        raise OptionError(f"--budget: {exc}") from None


def parse(values: Mapping[str, Any]) -> LoadOptions:
    """Typed, checked options from Locust's parsed options (``vars(parsed_options)``),
    whichever source set them; :class:`OptionError` at the first that does not fit."""
    api_key = _text(values, "api_key")
    if not api_key:
        raise OptionError("--api-key: required: the key of an app created with 'promptsim "
                          "apps create NAME --clock client' (or set PROMPTSIM_API_KEY)")
    path = _text(values, "scenario") or "scenarios/quickstart.toml"
    try:
        sc, cfg = read_scenario(path)
        strategy = pick_strategy(sc, _text(values, "strategy") or cfg.strategy, "--strategy")
    except ScenarioError as exc:
        text = str(exc)
        raise OptionError(text if text.startswith("--") else f"--scenario: {text}") from None
    day = _number(values, "day_seconds", 0.0, MAX_DAY_SECONDS)
    rep = _number(values, "replication", 0, 1_000_000, integer=True)
    run_id = _text(values, "run_id") or secrets.token_hex(3)
    if not RUN_ID.match(run_id):
        raise OptionError(f"--run-id: {run_id!r} is not allowed; allowed: 1-64 letters, "
                          "digits or _ . : @ - (not starting with .)")
    shape = _text(values, "shape") or "steady"
    if shape not in SHAPES:
        raise OptionError(f"--shape: {shape!r} is not a shape; allowed: {', '.join(SHAPES)}")
    seconds = _number(values, "shape_seconds", 0.0, 365 * 86_400.0)
    skip = values.get("skip_setup", False)
    return LoadOptions(
        scenario=sc, config=cfg, strategy=strategy, api_key=api_key,
        day_seconds=day if day is not None else (
            cfg.day_seconds if cfg.day_seconds is not None else 1.0),
        replication=int(rep) if rep is not None else (cfg.replication or 0),
        run_id=run_id, load_out=_text(values, "load_out"),
        budgets=_budgets(_text(values, "budget"), cfg), shape=shape,
        shape_seconds=seconds or 0.0,
        skip_setup=skip is True or str(skip).lower() == "true")


def shape_seconds(values: Mapping[str, Any]) -> float:
    """The duration shapes and bursts are scaled to: ``--shape-seconds``, else the run
    time, else 60 s (unchecked values count as unset: :func:`parse` reports them)."""
    try:
        given = float(_text(values, "shape_seconds") or 0)
    except ValueError:
        given = 0.0
    return given or float(values.get("run_time") or 0) or 60.0
