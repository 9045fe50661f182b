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
    "SELECT platform, profile, cohort_day FROM assignments WHERE app_id = ? AND "
    "experiment_id = ? AND unit_id = ? ORDER BY at LIMIT 1")
"""The cell a unit was first assigned in: every device of a unit counts in it."""
HAS_UNITS = "SELECT 1 FROM assignments WHERE app_id = ? AND experiment_id = ? LIMIT 1"
EXPERIMENT_DOCS = "SELECT experiment_id, doc FROM experiments WHERE app_id = ?"

_CELL = "arm, platform, profile, cohort_day"


def event_cells(cold: int, server_clock: bool) -> str:
    """Per cell: units, then the event figures of ``ExperimentCell`` in its order (with
    ``cold`` placeholders for the ids of campaigns with no soft prompt, whose impressions
    are OS dialogs opened cold, not soft prompts). An event's time is the app's clock: the
    server's when it received it, or the client's ``at``. Parameters: the cold ids (at
    least one), the end (Unix seconds), app id, experiment id."""
    marks = ", ".join("?" * cold)
    when = "e.received_at" if server_clock else "e.at"
    grant = ("(g.kind = 'os_dialog_result' AND g.detail = 'allowed') OR "
             "(g.kind = 'permission_changed' AND g.detail = 'granted')")
    return f"""
SELECT {_CELL}, count(*),
  sum(imp), sum(acc), sum(dis), sum(CASE WHEN imp > 0 THEN 1 ELSE 0 END),
  sum(os), sum(os_a), sum(os_d), sum(os_x), sum(CASE WHEN os > 0 THEN 1 ELSE 0 END),
  sum(outs), sum(CASE WHEN gone > 0 THEN 1 ELSE 0 END)
FROM (
  SELECT a.unit_id, a.arm, a.platform, a.profile, a.cohort_day,
    sum(CASE WHEN e.kind = 'impression' AND e.campaign_id NOT IN ({marks}) THEN 1 ELSE 0 END)
      AS imp,
    sum(CASE WHEN e.kind = 'soft_prompt_clicked' THEN 1 ELSE 0 END) AS acc,
    sum(CASE WHEN e.kind = 'soft_prompt_dismissed' AND e.detail IS NULL THEN 1 ELSE 0 END)
      AS dis,  -- a dismissal of nothing shown has a detail (ops.NO_IMPRESSION)
    sum(CASE WHEN e.kind = 'os_dialog_result' THEN 1 ELSE 0 END) AS os,
    sum(CASE WHEN e.kind = 'os_dialog_result' AND e.detail = 'allowed' THEN 1 ELSE 0 END)
      AS os_a,
    sum(CASE WHEN e.kind = 'os_dialog_result' AND e.detail = 'denied' THEN 1 ELSE 0 END)
      AS os_d,
    sum(CASE WHEN e.kind = 'os_dialog_result' AND e.detail = 'dismissed' THEN 1 ELSE 0 END)
      AS os_x,
    sum(CASE WHEN e.kind = 'permission_changed' AND e.detail = 'denied' THEN
          (CASE WHEN EXISTS (SELECT 1 FROM events g WHERE g.app_id = e.app_id
                             AND g.device_id = e.device_id AND g.at < e.at AND ({grant}))
           THEN 1 ELSE 0 END) ELSE 0 END) AS outs,
    sum(CASE WHEN e.kind = 'uninstalled' THEN 1 ELSE 0 END) AS gone
  FROM assignments a LEFT JOIN events e
    ON e.app_id = a.app_id AND e.device_id = a.device_id AND {when} >= a.at AND {when} < ?
  WHERE a.app_id = ? AND a.experiment_id = ?
  GROUP BY a.unit_id, {_CELL}
) u
GROUP BY {_CELL} ORDER BY {_CELL}"""


_CURRENT = ("AND a.at = (SELECT max(b.at) FROM assignments b WHERE b.app_id = a.app_id "
            "AND b.experiment_id = a.experiment_id AND b.unit_id = a.unit_id)")
"""A user's latest assigned device (its current install) speaks for the unit's state."""


def state_cells(per_user: bool) -> str:
    """Per cell and device state that the rules read for ``blocked`` (the devices'
    ``state_key``: ``sim.service.experiments.state_key``): how many units. Parameters: app
    id, experiment id."""
    return f"""
SELECT a.arm, a.platform, a.profile, a.cohort_day, d.state_key, count(*)
FROM assignments a JOIN devices d ON d.app_id = a.app_id AND d.device_id = a.device_id
WHERE a.app_id = ? AND a.experiment_id = ? {_CURRENT if per_user else ""}
GROUP BY a.arm, a.platform, a.profile, a.cohort_day, d.state_key"""
