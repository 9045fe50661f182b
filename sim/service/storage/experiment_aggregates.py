"""The stats of an experiment kept up to date as devices write, so that a read is ~cells rows.

``GET /v1/experiments/{id}/stats`` scanned every assignment and its events (8 s for
1,000,000 devices on PostgreSQL). Instead, triggers on the tables the service writes keep:

- ``experiment_units``: per unit, its cell, its current device (the latest assigned: the
  one whose state speaks for the unit), whether it has any impression, dialog answer and
  uninstall counted, and ``seen``: when it was last active, a day late at most
  (:data:`SEEN_LAG`);
- ``experiment_cells``: per cell and *shard*, the units and the sums the stats read, with
  the units whose impressions, dialogs and uninstalls went from 0 to more;
- ``experiment_states``: per cell, shard and ``devices.state_key`` of the current devices,
  how many units (plus one on the new key, minus one on the old).

They run in the transaction of the write that causes them (an event row, an assignment, a
device's new state), whichever code path writes it (both stores, every worker and host), so
the aggregates commit or roll back with it; a resent event is refused before its row exists
(the events' primary key), so it counts once. On PostgreSQL the rows are sharded by the
writing backend (``pg_backend_pid() % SHARDS``) so that concurrent writers seldom update the
same row; the triggers lock the unit's row (``FOR UPDATE``) before reading it, and an
assignment locks its device's row before reading its events, so that an event and an
assignment written at once are each counted by the one that commits second.

Which experiments have aggregates: those with a row in ``experiment_meta`` (their end and
cold campaigns, which the triggers read), written by ``PUT /v1/experiments``. The first put
builds them (:func:`rebuild`, the same SQL as the scan). A moved end changes the figures of
the units with an event at or after the earlier of the two ends only: :func:`move` rescans
those units (found by ``seen``), each by its own events, and adds the differences to the
cells, in the PUT's transaction (on PostgreSQL after the writes under way, :data:`MOVE_LOCK`);
a unit idle since before both ends costs nothing. An experiment stored before migration 4
has no aggregates, and its stats keep scanning (``experiment_sql.event_cells``) until it is
put again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from sim.service.storage import experiment_sql as xsql

Dialect = Literal["sqlite", "postgres"]
SHARDS = 64
"""Rows per cell on PostgreSQL: concurrent writers (backends) mostly land on different ones."""
_CELL = "arm, platform, profile, cohort_day"
_FLAGS = {"imp": "u_imp", "os": "u_os", "gone": "u_gone"}
"""The figures of which the stats count the units that have any (marked 0 or 1 per unit in
``experiment_units``), and the cells' columns of those counts."""
_SUMS = ("units, imp, acc, dis, u_imp, os, os_a, os_d, os_x, u_os, outs, u_gone")
"""``experiment_cells``'s figures in the order the stats read them (``ExperimentCell``)."""
SEEN_LAG = 86400.0
"""How far a unit's ``seen`` may lag behind its latest event (seconds): every event of the
unit's devices since their assignment (on the app's clock) is before ``seen + SEEN_LAG``,
and the triggers rewrite ``seen`` only for an event at least that much later, so a unit's
row is rewritten for it about once a day of activity, not on every event."""
NEVER = -1e300
"""``seen`` of a unit with no event since its assignment."""
UNKNOWN = 1e300
"""``seen`` of the units stored before it was kept (migration 5 / 7): any moved end rescans
them, and the rescan sets it."""


def _shard(d: Dialect) -> str:
    return f"(pg_backend_pid() % {SHARDS})" if d == "postgres" else "0"


def _cold(e: str) -> str:
    """The campaign of event ``e`` is a cold one of the experiment of assignment ``a``."""
    return (f"EXISTS (SELECT 1 FROM experiment_cold c WHERE c.app_id = a.app_id AND "
            f"c.experiment_id = a.experiment_id AND c.campaign_id = {e}.campaign_id)")


def _when(e: str) -> str:
    """The time of event ``e`` on the app's clock (``m``: the experiment's meta row)."""
    return f"(CASE WHEN m.server_clock = 1 THEN {e}.received_at ELSE {e}.at END)"


_WHEN_NEW = _when("NEW")
_END = "coalesce(m.end_at, 1e300)"
_JOIN_META = ("JOIN experiment_meta m ON m.app_id = a.app_id AND m.experiment_id = "
              "a.experiment_id")


EVENT_KINDS: dict[str, tuple[str, ...]] = {
    "impression": ("imp",),
    "soft_prompt_clicked": ("acc",),
    "soft_prompt_dismissed": ("dis",),
    "os_dialog_result": ("os", "os_a", "os_d", "os_x", "outs"),  # an allowed one is a grant
    "permission_changed": ("outs",),
    "uninstalled": ("gone",),
}
"""The figures an event of each kind can change (``experiment_sql.figure_conditions``): one
trigger per kind, so that an event computes only its own (an impression: one CASE)."""


def _by_device(alias: str, d: Dialect) -> str:
    """``assignments`` of the event's device. SQLite, with no statistics (the service never
    runs ANALYZE), scanned the app's assignments through the covering ``assignments_by_unit``
    instead (1.4 ms an event at 1,000 devices; 0.1 ms with the index named). PostgreSQL: the
    one assignment ``r`` of the trigger's loop (:data:`_PG_DEVICE_ASSIGNMENTS`), so that
    every table after it is reached by its whole primary key, whatever the statistics."""
    if d == "postgres":
        return ("(SELECT r.app_id AS app_id, r.experiment_id AS experiment_id, r.unit_id AS "
                f"unit_id, r.device_id AS device_id, r.at AS at) {alias}")
    return f"assignments {alias} INDEXED BY assignments_by_device"


def _event_deltas(figs: tuple[str, ...], d: Dialect) -> str:
    """Per assignment of the device of the event ``NEW`` (not stored yet): what it adds to
    the unit's ``figs``, and its time as ``at`` if it is since the assignment (else
    :data:`NEVER`). A grant also turns into opt-outs the stored denials after it that had no
    grant before them (events may arrive out of order)."""
    inside = f"{_WHEN_NEW} >= a.at AND {_WHEN_NEW} < {_END}"
    conds = xsql.figure_conditions("NEW", _cold("NEW"))
    cols = [f"CASE WHEN {inside} AND {conds[f]} THEN 1 ELSE 0 END AS {f}"
            for f in figs if f != "outs"]
    if "outs" in figs:
        x_when = _when("x")
        later_denials = (
            f"(SELECT count(*) FROM events x WHERE x.app_id = NEW.app_id AND x.device_id = "
            f"NEW.device_id AND x.kind = 'permission_changed' AND x.detail = 'denied' AND "
            f"x.at > NEW.at AND {x_when} >= a.at AND {x_when} < {_END} AND NOT "
            f"{xsql.earlier_grant('x')})")
        cols.append(f"CASE WHEN {inside} AND {conds['outs']} THEN 1 ELSE 0 END + CASE WHEN "
                    f"{xsql.is_grant('NEW')} THEN {later_denials} ELSE 0 END AS outs")
    cols.append(f"CASE WHEN {_WHEN_NEW} >= a.at THEN {_WHEN_NEW} ELSE {NEVER} END AS at")
    return (f"SELECT a.app_id, a.experiment_id, a.unit_id, {', '.join(cols)} "
            f"FROM {_by_device('a', d)} {_JOIN_META} "
            f"WHERE a.app_id = NEW.app_id AND a.device_id = NEW.device_id")


def _fold_deltas(figs: tuple[str, ...], d: Dialect) -> str:
    """For the assignment ``NEW``: the figures ``figs`` of its device's events stored
    already, and the latest of their times since the assignment as ``at``."""
    when = _when("e")
    conds = xsql.figure_conditions("e", _cold("e"))
    cols = "".join(f"sum(CASE WHEN {when} < {_END} AND {conds[f]} THEN 1 ELSE 0 END) AS {f}, "
                   for f in figs)
    # PostgreSQL: the new row itself, so that no plan reads the app's other assignments
    a = ("(SELECT NEW.app_id AS app_id, NEW.experiment_id AS experiment_id, NEW.unit_id AS "
         "unit_id, NEW.device_id AS device_id, NEW.at AS at) a" if d == "postgres"
         else "assignments a")
    return (f"SELECT a.app_id, a.experiment_id, a.unit_id, {cols}max({when}) AS at "
            f"FROM {a} {_JOIN_META} JOIN events e ON e.app_id = a.app_id AND "
            f"e.device_id = a.device_id AND {when} >= a.at "
            f"WHERE a.app_id = NEW.app_id AND a.experiment_id = NEW.experiment_id AND "
            f"a.device_id = NEW.device_id GROUP BY a.app_id, a.experiment_id, a.unit_id")


def _upsert(table: str, keys: str, cols: str) -> str:
    sets = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in cols.split(", "))
    return f"ON CONFLICT ({keys}) DO UPDATE SET {sets}"


_CELL_KEY = f"app_id, experiment_id, {_CELL}, shard"
_STATE_KEY = f"app_id, experiment_id, {_CELL}, shard, state_key"


def _apply(deltas: Callable[[tuple[str, ...], Dialect], str], figs: tuple[str, ...],
           d: Dialect) -> list[str]:
    """Add the units' ``deltas(figs)`` to the cells (with the units whose figure goes from 0
    to more, read from the unit rows before they change), then mark the units and move
    their ``seen`` (only when a mark is new or ``seen`` lags a day: most events write no unit
    row; ``deltas`` of the marks alone, as a grant's opt-outs are no mark)."""
    any_ = " + ".join(f"d.{f}" for f in figs)
    sums = [f for f in figs if f != "gone"]
    flags = [f for f in figs if f in _FLAGS]
    cols = ", ".join([*sums, *(_FLAGS[f] for f in flags)])
    vals = ", ".join([*(f"d.{f}" for f in sums),
                      *(f"CASE WHEN u.{f} = 0 AND d.{f} > 0 THEN 1 ELSE 0 END" for f in flags)])
    unit = ("u.app_id = d.app_id AND u.experiment_id = d.experiment_id AND "
            "u.unit_id = d.unit_id")
    cells = (f"INSERT INTO experiment_cells (app_id, experiment_id, {_CELL}, shard, {cols}) "
             f"SELECT u.app_id, u.experiment_id, u.arm, u.platform, u.profile, u.cohort_day, "
             f"{_shard(d)}, {vals} FROM ({deltas(figs, d)}) d JOIN experiment_units u ON {unit} "
             f"WHERE {any_} > 0 " + _upsert("experiment_cells", _CELL_KEY, cols))
    # the target has no alias: SQLite allows none in a trigger
    me = "experiment_units"
    moved = f"d.at >= {me}.seen + {SEEN_LAG}"
    sets = [f"{f} = CASE WHEN d.{f} > 0 THEN 1 ELSE {me}.{f} END" for f in flags]
    sets.append(f"seen = CASE WHEN {moved} THEN d.at ELSE {me}.seen END")
    new = " OR ".join([*(f"({me}.{f} = 0 AND d.{f} > 0)" for f in flags), moved])
    units = (f"UPDATE {me} SET {', '.join(sets)} FROM ({deltas(tuple(flags), d)}) d WHERE "
             f"{unit.replace('u.', me + '.')} AND ({new})")
    return [cells, units]


def _state(d: Dialect, key: str, n: int, where: str, join_device: bool) -> str:
    """Add ``n`` units to the state ``key`` of the cells of the units ``u`` ``where``."""
    dev = (" JOIN devices dv ON dv.app_id = u.app_id AND dv.device_id = u.device_id"
           if join_device else "")
    return (f"INSERT INTO experiment_states (app_id, experiment_id, {_CELL}, shard, "
            f"state_key, n) SELECT u.app_id, u.experiment_id, u.arm, u.platform, u.profile, "
            f"u.cohort_day, {_shard(d)}, coalesce({key}, ''), {n} FROM experiment_units u"
            f"{dev} WHERE {where} " + _upsert("experiment_states", _STATE_KEY, "n"))


_NEW_UNIT = ("u.app_id = NEW.app_id AND u.experiment_id = NEW.experiment_id AND "
             "u.unit_id = NEW.unit_id")
_LATER = ("(NEW.at > u.device_at OR (NEW.at = u.device_at AND NEW.device_id > "
          "u.device_id))")
_META_NEW = ("FROM experiment_meta m WHERE m.app_id = NEW.app_id AND m.experiment_id = "
             "NEW.experiment_id")


def _assignment_steps(d: Dialect) -> list[str]:
    zeros = ", ".join("0" for _ in _SUMS.split(", ")[1:])
    return [
        # the unit's current device is no longer: its state leaves the unit's cell
        _state(d, "dv.state_key", -1, f"{_NEW_UNIT} AND {_LATER}", True),
        # a new unit
        f"INSERT INTO experiment_cells (app_id, experiment_id, {_CELL}, shard, {_SUMS}) "
        f"SELECT NEW.app_id, NEW.experiment_id, NEW.arm, NEW.platform, NEW.profile, "
        f"NEW.cohort_day, {_shard(d)}, 1, {zeros} {_META_NEW} AND NOT EXISTS (SELECT 1 "
        f"FROM experiment_units u WHERE {_NEW_UNIT}) "
        + _upsert("experiment_cells", _CELL_KEY, _SUMS),
        f"INSERT INTO experiment_units (app_id, experiment_id, unit_id, {_CELL}, device_id, "
        f"device_at, seen) SELECT NEW.app_id, NEW.experiment_id, NEW.unit_id, NEW.arm, "
        f"NEW.platform, NEW.profile, NEW.cohort_day, NEW.device_id, NEW.at, {NEVER} "
        f"{_META_NEW} "
        f"ON CONFLICT (app_id, experiment_id, unit_id) DO UPDATE SET device_id = "
        f"excluded.device_id, device_at = excluded.device_at WHERE excluded.device_at > "
        f"experiment_units.device_at OR (excluded.device_at = experiment_units.device_at "
        f"AND excluded.device_id > experiment_units.device_id)",
        # the device is the unit's current one now
        _state(d, "dv.state_key", 1, f"{_NEW_UNIT} AND u.device_id = NEW.device_id", True),
        *_apply(_fold_deltas, xsql.FIGURES, d),
    ]


def _device_steps(d: Dialect) -> list[str]:
    """The device's units (PostgreSQL: the loop's unit ``r``) move from its old state key to
    its new one."""
    where = (_UNIT_OF_R if d == "postgres" else
             "u.app_id = NEW.app_id AND u.device_id = NEW.device_id")
    return [_state(d, "OLD.state_key", -1, where, False),
            _state(d, "NEW.state_key", 1, where, False)]


_HAS_ASSIGNMENT = ("EXISTS (SELECT 1 FROM assignments WHERE app_id = NEW.app_id AND "
                   "device_id = NEW.device_id)")
_HAS_UNIT = ("EXISTS (SELECT 1 FROM experiment_units WHERE app_id = NEW.app_id AND "
             "device_id = NEW.device_id)")
_PG_HAS_EXPERIMENT = "EXISTS (SELECT 1 FROM experiment_meta WHERE app_id = NEW.app_id)"
"""PostgreSQL's first test in each trigger: the app has an experiment with aggregates (a
handful of rows, so any plan reads it at once); the events of the other apps stop here."""
_PG_DEVICE_ASSIGNMENTS = (
    "FOR r IN EXECUTE 'SELECT app_id, experiment_id, unit_id, device_id, at FROM assignments "
    "WHERE app_id = $1 AND device_id = $2 ORDER BY experiment_id' USING NEW.app_id, "
    "NEW.device_id LOOP")
_PG_DEVICE_UNITS = (
    "FOR r IN EXECUTE 'SELECT u.app_id, u.experiment_id, u.unit_id FROM assignments a JOIN "
    "experiment_units u ON u.app_id = a.app_id AND u.experiment_id = a.experiment_id AND "
    "u.unit_id = a.unit_id WHERE a.app_id = $1 AND a.device_id = $2 AND u.device_id = $2 "
    "ORDER BY u.experiment_id, u.unit_id FOR UPDATE OF u' USING NEW.app_id, NEW.device_id "
    "LOOP")
"""The two lookups by device of PostgreSQL's triggers, planned at each call (``EXECUTE``)
and then looped over, one row (``r``) at a time. Static SQL in a PL/pgSQL function keeps a
generic plan made on its first calls, when the tables of a new experiment hold a few rows
and have no statistics: the planner then took ``app_id = $1`` for a selective condition
and cached, for the life of the connection, a nested loop over every unit of the app with
a scan of its assignments inside (64-107 ms an event at 400 units; 1,200 devices took
5-7 minutes, with writes past the store's 5 s timeout). Planned at each call, the lookup
by device takes ``assignments_by_device`` as soon as the table has more than a few hundred
rows, and what follows in the loop names the whole primary key of each table it reads. A
generic plan also prefers, on tiny tables, the index that matches the fewest conditions, so
PostgreSQL's ``experiment_units`` keeps its primary key only (migration 9): a device's
units are found through its assignments."""
_UNIT_OF_R = ("u.app_id = r.app_id AND u.experiment_id = r.experiment_id AND "
              "u.unit_id = r.unit_id")
_MOVE_KEY = 7215523
"""The first key of the advisory lock of :data:`MOVE_LOCK` (the migrations' lock is the
one-key 7215522)."""
MOVE_LOCK = f"SELECT pg_advisory_xact_lock({_MOVE_KEY}, hashtext($1))"
"""PostgreSQL: a PUT of one of the app's experiments (app id) waits for the writes under way
whose triggers read an experiment's end, and holds back those that start meanwhile: each
trigger takes this lock shared before it reads ``experiment_meta`` (:data:`_END_READ`), so
an end moved by the PUT is read by every write either before (and its rows are in the PUT's
rescan) or after (and it counts with the new end)."""
_END_READ = f"PERFORM pg_advisory_xact_lock_shared({_MOVE_KEY}, hashtext(NEW.app_id))"
_LOCK_UNIT_OF_R = ("PERFORM 1 FROM experiment_units WHERE app_id = r.app_id AND "
                   "experiment_id = r.experiment_id AND unit_id = r.unit_id FOR UPDATE")


def _pg_function(name: str, guard: str | None, locks: list[str], steps: list[str],
                 loop: str | None = None) -> str:
    """A PL/pgSQL trigger function: ``guard`` false returns at once; then ``locks``; then
    ``steps``, inside ``loop`` (a ``FOR r IN ... LOOP`` header) when it is given."""
    if loop:
        inner = "\n    ".join(f"{s};" for s in steps)
        steps = [f"{loop}\n    {inner}\n  END LOOP"]
        decl = "DECLARE\n  r record;\n"
    else:
        decl = ""
    body = "\n  ".join(f"{s};" for s in (*locks, *steps))
    skip = f"  IF NOT {guard} THEN RETURN NEW; END IF;\n" if guard else ""
    return (f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$fn$\n{decl}BEGIN\n{skip}  {body}\n  RETURN NEW;\nEND\n$fn$")


def triggers(d: Dialect) -> tuple[str, ...]:
    """The triggers: events (before insert: the new row is not visible to its own
    statements on either store), assignments (after insert: not for a row ``ON CONFLICT DO
    NOTHING`` skipped), devices (after a new ``state_key``)."""
    changed = "OLD.state_key IS DISTINCT FROM NEW.state_key"
    if d == "sqlite":
        def trig(name: str, when: str, steps: list[str]) -> str:
            return f"CREATE TRIGGER {name} {when} BEGIN\n" + "".join(
                f"  {s};\n" for s in steps) + "END"
        events = tuple(trig(f"experiment_events_{kind}", f"BEFORE INSERT ON events WHEN "
                            f"NEW.kind = '{kind}' AND {_HAS_ASSIGNMENT}",
                            _apply(_event_deltas, figs, d))
                       for kind, figs in EVENT_KINDS.items())
        assigned = (trig("experiment_assigned", "AFTER INSERT ON assignments",
                         _assignment_steps(d)),)
        device = (trig("experiment_device_state", f"AFTER UPDATE OF state_key ON devices "
                       f"WHEN {changed} AND {_HAS_UNIT}", _device_steps(d)),)
        return (*events, *assigned, *device)
    unit_lock = ("PERFORM 1 FROM experiment_units WHERE app_id = NEW.app_id AND "
                 "experiment_id = NEW.experiment_id AND unit_id = NEW.unit_id FOR UPDATE")
    return (
        *(sql for kind, figs in EVENT_KINDS.items() for sql in (
            _pg_function(f"experiment_events_{kind}", _PG_HAS_EXPERIMENT, [_END_READ],
                         [_LOCK_UNIT_OF_R, *_apply(_event_deltas, figs, d)],
                         _PG_DEVICE_ASSIGNMENTS),
            f"CREATE TRIGGER experiment_events_{kind} BEFORE INSERT ON events FOR EACH ROW "
            f"WHEN (NEW.kind = '{kind}') EXECUTE FUNCTION experiment_events_{kind}()")),
        _pg_function("experiment_assigned", None, [
            _END_READ,
            # one unit's assignments one at a time (with record_assignment's read of its
            # cell); then the device's events as committed, then its unit as committed
            "PERFORM " + UNIT_LOCK[7:].replace("$1", "NEW.app_id").replace(
                "$2", "NEW.experiment_id").replace("$3", "NEW.unit_id"),
            "PERFORM 1 FROM devices WHERE app_id = NEW.app_id AND device_id = NEW.device_id "
            "FOR UPDATE", unit_lock], _assignment_steps(d)),
        "CREATE TRIGGER experiment_assigned AFTER INSERT ON assignments FOR EACH ROW "
        "EXECUTE FUNCTION experiment_assigned()",
        # it reads no end, but holds unit rows a PUT's rescan writes
        _pg_function("experiment_device_state", _PG_HAS_EXPERIMENT, [_END_READ],
                     _device_steps(d), _PG_DEVICE_UNITS),
        f"CREATE TRIGGER experiment_device_state AFTER UPDATE OF state_key ON devices "
        f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION experiment_device_state()",
    )


def pg_functions() -> tuple[str, ...]:
    """PostgreSQL's migration "the triggers look devices up by a plan of the call": the
    functions of :func:`triggers` replaced in place (the triggers that call them stay), and
    ``experiment_units_by_device`` dropped (:data:`_PG_DEVICE_UNITS`)."""
    return ("DROP INDEX experiment_units_by_device",
            *(sql for sql in triggers("postgres") if sql.startswith("CREATE OR REPLACE")))


def _unit_scan(ends: dict[str, str], figs: tuple[str, ...]) -> tuple[str, str]:
    """Per unit (grouped by the caller: its assignments ``a``, joined here to the meta ``m``
    and to their events ``e`` since the assignment, however late): for each end ``name: SQL``
    of ``ends``, the figures ``figs`` as ``{figure}_{name}``, then ``seen`` (the latest
    event's time, :data:`NEVER` with none). Returns (columns, joins)."""
    when = _when("e")
    conds = xsql.figure_conditions("e", _cold("e"))
    cols = [f"sum(CASE WHEN {when} < {end} AND {conds[f]} THEN 1 ELSE 0 END) AS {f}_{name}"
            for name, end in ends.items() for f in figs]
    cols.append(f"coalesce(max({when}), {NEVER}) AS seen")
    joins = (f"JOIN experiment_meta m ON m.app_id = a.app_id AND m.experiment_id = "
             f"a.experiment_id LEFT JOIN events e ON e.app_id = a.app_id AND e.device_id = "
             f"a.device_id AND {when} >= a.at")
    return ", ".join(cols), joins


def rebuild(app_id: str, experiment_id: str, cold: Sequence[str], end: float | None,
            server_clock: bool) -> list[tuple[str, tuple[Any, ...]]]:
    """The experiment's aggregates from scratch, by the scan (``experiment_sql``), its
    ``experiment_meta`` and ``experiment_cold`` rows written: the statements (``?``
    placeholders) with their parameters."""
    key = (app_id, experiment_id)
    ids = tuple(cold) or ("",)
    unit = "app_id = ? AND experiment_id = ?"
    sums = ("count(*), sum(imp), sum(acc), sum(dis), sum(CASE WHEN imp > 0 THEN 1 ELSE 0 "
            "END), sum(os), sum(os_a), sum(os_d), sum(os_x), sum(CASE WHEN os > 0 THEN 1 "
            "ELSE 0 END), sum(outs), sum(CASE WHEN gone > 0 THEN 1 ELSE 0 END)")
    scan = (*ids, 1e300 if end is None else end, *key)
    figures, joins = _unit_scan({"now": _END}, tuple(_FLAGS))
    group = "a.app_id, a.experiment_id, a.unit_id, a.arm, a.platform, a.profile, a.cohort_day"
    marks = ", ".join(f"CASE WHEN {f}_now > 0 THEN 1 ELSE 0 END" for f in _FLAGS)
    return [
        (f"DELETE FROM experiment_units WHERE {unit}", key),
        (f"DELETE FROM experiment_cells WHERE {unit}", key),
        (f"DELETE FROM experiment_states WHERE {unit}", key),
        (f"INSERT INTO experiment_units (app_id, experiment_id, unit_id, {_CELL}, device_id, "
         f"device_at, {', '.join(_FLAGS)}, seen) SELECT app_id, experiment_id, unit_id, "
         f"{_CELL}, device_id, device_at, {marks}, seen FROM (SELECT {group}, "
         f"{xsql.LATEST} AS device_id, max(a.at) AS device_at, {figures} FROM assignments a "
         f"{joins} WHERE a.app_id = ? AND a.experiment_id = ? GROUP BY {group}) f "
         f"WHERE true ON CONFLICT DO NOTHING", key),
        (f"INSERT INTO experiment_cells (app_id, experiment_id, {_CELL}, shard, {_SUMS}) "
         f"SELECT app_id, experiment_id, {_CELL}, 0, {sums} FROM "
         f"({xsql.unit_figures(len(ids), server_clock)}) f "
         f"GROUP BY app_id, experiment_id, {_CELL}", scan),
        (f"INSERT INTO experiment_states (app_id, experiment_id, {_CELL}, shard, state_key, "
         f"n) SELECT u.app_id, u.experiment_id, u.arm, u.platform, u.profile, u.cohort_day, "
         f"0, coalesce(d.state_key, ''), count(*) FROM experiment_units u JOIN devices d ON "
         f"d.app_id = u.app_id AND d.device_id = u.device_id WHERE u.app_id = ? AND "
         f"u.experiment_id = ? GROUP BY u.app_id, u.experiment_id, u.arm, u.platform, "
         f"u.profile, u.cohort_day, coalesce(d.state_key, '')", key),
    ]


_CELL_SUMS = [c for c in _SUMS.split(", ") if c != "units"]


def move(app_id: str, experiment_id: str, was: float | None, end: float | None
         ) -> list[tuple[str, tuple[Any, ...]]]:
    """The end moved from ``was`` to ``end`` (``experiment_meta`` holds ``end`` already):
    only the units with an event at or after the earlier of the two can count otherwise, so
    only the units whose ``seen`` is that recent are rescanned, each by its own events
    under both ends, and the differences are added to their cells. The statements (``?``
    placeholders) with their parameters."""
    key = (app_id, experiment_id)
    since = min(1e300 if was is None else was, 1e300 if end is None else end) - SEEN_LAG
    figures, joins = _unit_scan({"was": "o.was", "now": _END}, xsql.FIGURES)
    cols = [f"{f}_{n} BIGINT" for n in ("was", "now") for f in xsql.FIGURES]
    group = "u.app_id, u.experiment_id, u.unit_id, u.arm, u.platform, u.profile, u.cohort_day"

    def delta(c: str) -> str:
        if c in _FLAGS.values():
            f = next(k for k, v in _FLAGS.items() if v == c)
            return (f"sum(CASE WHEN {f}_now > 0 THEN 1 ELSE 0 END - "
                    f"CASE WHEN {f}_was > 0 THEN 1 ELSE 0 END)")
        return f"sum({c}_now - {c}_was)"

    me = "experiment_units"
    marks = {f: f"CASE WHEN r.{f}_now > 0 THEN 1 ELSE 0 END" for f in _FLAGS}
    flags = ", ".join(f"{f} = {mark}" for f, mark in marks.items())
    changed = " OR ".join([*(f"{me}.{f} <> {mark}" for f, mark in marks.items()),
                           f"{me}.seen <> r.seen"])
    cells = ", ".join(_CELL_SUMS)
    return [
        (f"CREATE TEMP TABLE experiment_moved (app_id TEXT, experiment_id TEXT, unit_id TEXT, "
         f"arm TEXT, platform TEXT, profile TEXT, cohort_day TEXT, {', '.join(cols)}, "
         f"seen DOUBLE PRECISION)", ()),
        (f"INSERT INTO experiment_moved SELECT {group}, {figures} FROM experiment_units u "
         f"CROSS JOIN (SELECT CAST(? AS DOUBLE PRECISION) AS was) o JOIN assignments a ON "
         f"a.app_id = u.app_id AND a.experiment_id = u.experiment_id AND a.unit_id = u.unit_id "
         f"{joins} WHERE u.app_id = ? AND u.experiment_id = ? AND u.seen > ? GROUP BY {group}",
         (1e300 if was is None else was, *key, since)),
        (f"INSERT INTO experiment_cells (app_id, experiment_id, {_CELL}, shard, {cells}) "
         f"SELECT app_id, experiment_id, {_CELL}, 0, "
         f"{', '.join(delta(c) for c in _CELL_SUMS)} FROM experiment_moved WHERE true "
         f"GROUP BY app_id, experiment_id, {_CELL} "
         + _upsert("experiment_cells", _CELL_KEY, cells), ()),
        (f"UPDATE {me} SET {flags}, seen = r.seen FROM experiment_moved r WHERE "
         f"{me}.app_id = r.app_id AND {me}.experiment_id = r.experiment_id AND "
         f"{me}.unit_id = r.unit_id AND ({changed})", ()),
        ("DROP TABLE experiment_moved", ()),
    ]


def put(app_id: str, experiment_id: str, end: float | None, cold: Sequence[str],
        had: tuple[float | None] | None, server_clock: bool
        ) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements that record an experiment's end and cold campaigns for the triggers
    (``had``: its ``experiment_meta`` row before), and rebuild its aggregates when it had
    none, or rescan the units a moved end can change (:func:`move`)."""
    key = (app_id, experiment_id)
    out: list[tuple[str, tuple[Any, ...]]] = [
        (PUT_META, (*key, end, int(server_clock))), (DELETE_COLD, key),
        *((INSERT_COLD, (*key, c)) for c in cold)]
    if had is None:
        out += rebuild(app_id, experiment_id, cold, end, server_clock)
    elif had[0] != end:
        out += move(app_id, experiment_id, had[0], end)
    return out


UNIT_LOCK = "SELECT pg_advisory_xact_lock(hashtext($1 || ' ' || $2 || ' ' || $3))"
"""PostgreSQL: one unit's assignments one at a time (app id, experiment id, unit id)."""
HAS_META = "SELECT end_at FROM experiment_meta WHERE app_id = ? AND experiment_id = ?"
PUT_META = ("INSERT INTO experiment_meta VALUES (?, ?, ?, ?) ON CONFLICT (app_id, "
            "experiment_id) DO UPDATE SET end_at = excluded.end_at")
DELETE_COLD = "DELETE FROM experiment_cold WHERE app_id = ? AND experiment_id = ?"
INSERT_COLD = "INSERT INTO experiment_cold VALUES (?, ?, ?)"
CELLS = (f"SELECT {_CELL}, sum(units), sum(imp), sum(acc), sum(dis), sum(u_imp), sum(os), "
         f"sum(os_a), sum(os_d), sum(os_x), sum(u_os), sum(outs), sum(u_gone) "
         f"FROM experiment_cells WHERE app_id = ? AND experiment_id = ? GROUP BY {_CELL} "
         f"HAVING sum(units) > 0 ORDER BY {_CELL}")
"""The cells as ``experiment_sql.event_cells`` gives them, summed over shards."""
STATES = (f"SELECT {_CELL}, state_key, sum(n) FROM experiment_states WHERE app_id = ? AND "
          f"experiment_id = ? AND state_key <> '' GROUP BY {_CELL}, state_key "
          f"HAVING sum(n) <> 0")
"""The states as ``experiment_sql.state_cells`` gives them, summed over shards."""
