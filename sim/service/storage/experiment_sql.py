"""The SQL of experiments, shared by both stores: assignments in, cells of the stats out.

Queries are written with ``?`` placeholders (SQLite's); :func:`numbered` turns them into
PostgreSQL's ``$1, $2...``. The stats aggregate in the database (``GROUP BY``): first per
unit (its devices' events since its assignment and before the experiment's end), then per
cell (arm, platform, profile, cohort day), so one row per cell leaves the database.
"""

from __future__ import annotations

import itertools
import re

_QMARK = re.compile(r"\?")


def numbered(sql: str) -> str:
    """``?`` placeholders as ``$1, $2...``."""
    n = itertools.count(1)
    return _QMARK.sub(lambda _: f"${next(n)}", sql)


INSERT_ASSIGNMENT = (
    "INSERT INTO assignments (app_id, experiment_id, device_id, unit_id, arm, platform, "
    "profile, cohort_day, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
"""One device's assignment (a device already assigned keeps its first row)."""
UNIT_CELL = (
    "SELECT platform, profile, cohort_day, arm FROM assignments WHERE app_id = ? AND "
    "experiment_id = ? AND unit_id = ? ORDER BY at LIMIT 1")
"""The cell a unit was first assigned in, and its arm: every device of a unit counts in it
and is in that arm."""
HAS_UNITS = "SELECT 1 FROM assignments WHERE app_id = ? AND experiment_id = ? LIMIT 1"
EXPERIMENT_DOCS = "SELECT experiment_id, doc FROM experiments WHERE app_id = ?"

_CELL = "arm, platform, profile, cohort_day"
FIGURES = ("imp", "acc", "dis", "os", "os_a", "os_d", "os_x", "outs", "gone")
"""A unit's figures: soft prompts shown, accepted, dismissed; OS dialog answers, allowed,
denied, dismissed; opt-outs; uninstalls."""


def is_grant(e: str) -> str:
    """The event ``e`` grants the permission: an allowed dialog or a change to granted."""
    return (f"(({e}.kind = 'os_dialog_result' AND {e}.detail = 'allowed') OR "
            f"({e}.kind = 'permission_changed' AND {e}.detail = 'granted'))")


def earlier_grant(e: str) -> str:
    """A grant of the device of ``e`` is stored with an earlier ``at``."""
    return (f"EXISTS (SELECT 1 FROM events g WHERE g.app_id = {e}.app_id AND "
            f"g.device_id = {e}.device_id AND g.at < {e}.at AND {is_grant('g')})")


def figure_conditions(e: str, cold: str) -> dict[str, str]:
    """Per figure of :data:`FIGURES`, when the event ``e`` counts in it; ``cold`` is the
    condition (SQL) that its campaign is one of the experiment's with no soft prompt, whose
    impressions are OS dialogs opened cold, not soft prompts."""
    kind = f"{e}.kind = "
    return {
        "imp": f"{kind}'impression' AND {e}.campaign_id IS NOT NULL AND NOT ({cold})",
        "acc": f"{kind}'soft_prompt_clicked'",
        # a dismissal of nothing shown has a detail (ops.NO_IMPRESSION)
        "dis": f"{kind}'soft_prompt_dismissed' AND {e}.detail IS NULL",
        "os": f"{kind}'os_dialog_result'",
        "os_a": f"{kind}'os_dialog_result' AND {e}.detail = 'allowed'",
        "os_d": f"{kind}'os_dialog_result' AND {e}.detail = 'denied'",
        "os_x": f"{kind}'os_dialog_result' AND {e}.detail = 'dismissed'",
        "outs": f"{kind}'permission_changed' AND {e}.detail = 'denied' AND "
                f"{earlier_grant(e)}",
        "gone": f"{kind}'uninstalled'",
    }


LATEST = ("(SELECT b.device_id FROM assignments b WHERE b.app_id = a.app_id AND "
          "b.experiment_id = a.experiment_id AND b.unit_id = a.unit_id "
          "ORDER BY b.at DESC, b.device_id DESC LIMIT 1)")
"""The unit's latest assigned device (its current install; ties go to the larger id)."""


def unit_figures(cold: int, server_clock: bool) -> str:
    """Per unit: app id, experiment id, unit id, its cell, then :data:`FIGURES`: its devices'
    events since their assignment and before the experiment's end. An event's time is the
    app's clock: the server's when it received it, or the client's ``at``. Parameters: the
    ``cold`` ids of :func:`figure_conditions` (at least one), the end (Unix seconds), app
    id, experiment id."""
    marks = "(" + ", ".join("?" * cold) + ")"
    when = "e.received_at" if server_clock else "e.at"
    conds = figure_conditions("e", f"e.campaign_id IN {marks}")
    sums = ", ".join(f"sum(CASE WHEN {conds[f]} THEN 1 ELSE 0 END) AS {f}" for f in FIGURES)
    group = "a.app_id, a.experiment_id, a.unit_id, a.arm, a.platform, a.profile, a.cohort_day"
    return f"""SELECT {group}, {sums}
  FROM assignments a LEFT JOIN events e
    ON e.app_id = a.app_id AND e.device_id = a.device_id AND {when} >= a.at AND {when} < ?
  WHERE a.app_id = ? AND a.experiment_id = ?
  GROUP BY {group}"""


def event_cells(cold: int, server_clock: bool) -> str:
    """The scan: per cell, units, then the event figures of ``ExperimentCell`` in its order.
    Parameters: those of :func:`unit_figures`."""
    return f"""
SELECT {_CELL}, count(*),
  sum(imp), sum(acc), sum(dis), sum(CASE WHEN imp > 0 THEN 1 ELSE 0 END),
  sum(os), sum(os_a), sum(os_d), sum(os_x), sum(CASE WHEN os > 0 THEN 1 ELSE 0 END),
  sum(outs), sum(CASE WHEN gone > 0 THEN 1 ELSE 0 END)
FROM ({unit_figures(cold, server_clock)}) u
GROUP BY {_CELL} ORDER BY {_CELL}"""


def state_cells(per_user: bool) -> str:
    """The scan: per cell and device state that the rules read for ``blocked`` (the
    devices' ``state_key``: ``sim.service.experiments.state_key``), how many units; a
    user's latest assigned device speaks for the unit. Parameters: app id, experiment id."""
    current = f"AND a.device_id = {LATEST}" if per_user else ""
    return f"""
SELECT a.arm, a.platform, a.profile, a.cohort_day, d.state_key, count(*)
FROM assignments a JOIN devices d ON d.app_id = a.app_id AND d.device_id = a.device_id
WHERE a.app_id = ? AND a.experiment_id = ? {current}
GROUP BY a.arm, a.platform, a.profile, a.cohort_day, d.state_key"""
