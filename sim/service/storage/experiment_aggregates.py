"""The stats of an experiment kept up to date as devices write, so that a read is ~cells rows.

``GET /v1/experiments/{id}/stats`` scanned every assignment and its events (8 s for
1,000,000 devices on PostgreSQL). Instead, triggers on the tables the service writes keep:

- ``experiment_units``: per unit, its cell, its current device (the latest assigned: the
  one whose state speaks for the unit) and its figures (``experiment_sql.FIGURES``);
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
cold campaigns, which the triggers read), written by ``PUT /v1/experiments``. A change of
the end rebuilds the experiment's aggregates from scratch (:func:`rebuild`, the same SQL as
the scan); an experiment stored before this migration has none, and its stats keep
scanning (``experiment_sql.event_cells``) until it is put again.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def _shard(d: Dialect) -> str:
    return f"(pg_backend_pid() % {SHARDS})" if d == "postgres" else "0"


def tables(d: Dialect) -> tuple[str, ...]:
    """The tables and indexes of the aggregates."""
    real, big = ("DOUBLE PRECISION", "BIGINT") if d == "postgres" else ("REAL", "INTEGER")
    rowid = "" if d == "postgres" else " WITHOUT ROWID"
    figs = ", ".join(f"{f} {big} NOT NULL DEFAULT 0" for f in _FLAGS)
    sums = ", ".join(f"{f} {big} NOT NULL DEFAULT 0" for f in _SUMS.split(", "))
    cell = "arm TEXT NOT NULL, platform TEXT NOT NULL, profile TEXT NOT NULL, " \
           "cohort_day TEXT NOT NULL"
    return (
        f"""CREATE TABLE experiment_meta (
            app_id TEXT NOT NULL, experiment_id TEXT NOT NULL, end_at {real},
            server_clock INTEGER NOT NULL,
            PRIMARY KEY (app_id, experiment_id)){rowid}""",
        f"""CREATE TABLE experiment_cold (
            app_id TEXT NOT NULL, experiment_id TEXT NOT NULL, campaign_id TEXT NOT NULL,
            PRIMARY KEY (app_id, experiment_id, campaign_id)){rowid}""",
        f"""CREATE TABLE experiment_units (
            app_id TEXT NOT NULL, experiment_id TEXT NOT NULL, unit_id TEXT NOT NULL, {cell},
            device_id TEXT NOT NULL, device_at {real} NOT NULL, {figs},
            PRIMARY KEY (app_id, experiment_id, unit_id)){rowid}""",
        "CREATE INDEX experiment_units_by_device ON experiment_units (app_id, device_id)",
        f"""CREATE TABLE experiment_cells (
            app_id TEXT NOT NULL, experiment_id TEXT NOT NULL, {cell},
            shard INTEGER NOT NULL, {sums},
            PRIMARY KEY (app_id, experiment_id, {_CELL}, shard)){rowid}""",
        f"""CREATE TABLE experiment_states (
            app_id TEXT NOT NULL, experiment_id TEXT NOT NULL, {cell},
            shard INTEGER NOT NULL, state_key TEXT NOT NULL, n {big} NOT NULL,
            PRIMARY KEY (app_id, experiment_id, {_CELL}, shard, state_key)){rowid}""",
        "CREATE INDEX assignments_by_device ON assignments (app_id, device_id)",
    )


def _cold(e: str) -> str:
    """The campaign of event ``e`` is a cold one of the experiment of assignment ``a``."""
    return (f"EXISTS (SELECT 1 FROM experiment_cold c WHERE c.app_id = a.app_id AND "
            f"c.experiment_id = a.experiment_id AND c.campaign_id = {e}.campaign_id)")
_WHEN_NEW = "(CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE NEW.at END)"
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
    """``assignments`` looked up by device: SQLite, with no statistics (the service never
    runs ANALYZE), scanned the app's assignments through the covering ``assignments_by_unit``
    instead (1.4 ms an event at 1,000 devices; 0.1 ms with the index named)."""
    return f"assignments {alias}" + (" INDEXED BY assignments_by_device" if d == "sqlite"
                                     else "")


def _event_deltas(figs: tuple[str, ...], d: Dialect) -> str:
    """Per assignment of the device of the event ``NEW`` (not stored yet): what it adds to
    the unit's ``figs``. A grant also turns into opt-outs the stored denials after it that
    had no grant before them (events may arrive out of order)."""
    inside = f"{_WHEN_NEW} >= a.at AND {_WHEN_NEW} < {_END}"
    conds = xsql.figure_conditions("NEW", _cold("NEW"))
    cols = [f"CASE WHEN {inside} AND {conds[f]} THEN 1 ELSE 0 END AS {f}"
            for f in figs if f != "outs"]
    if "outs" in figs:
        x_when = "(CASE WHEN m.server_clock = 1 THEN x.received_at ELSE x.at END)"
        later_denials = (
            f"(SELECT count(*) FROM events x WHERE x.app_id = NEW.app_id AND x.device_id = "
            f"NEW.device_id AND x.kind = 'permission_changed' AND x.detail = 'denied' AND "
            f"x.at > NEW.at AND {x_when} >= a.at AND {x_when} < {_END} AND NOT "
            f"{xsql.earlier_grant('x')})")
        cols.append(f"CASE WHEN {inside} AND {conds['outs']} THEN 1 ELSE 0 END + CASE WHEN "
                    f"{xsql.is_grant('NEW')} THEN {later_denials} ELSE 0 END AS outs")
    return (f"SELECT a.app_id, a.experiment_id, a.unit_id, {', '.join(cols)} "
            f"FROM {_by_device('a', d)} {_JOIN_META} "
            f"WHERE a.app_id = NEW.app_id AND a.device_id = NEW.device_id")


def _fold_deltas() -> str:
    """For the assignment ``NEW``: the figures of its device's events stored already."""
    when = "(CASE WHEN m.server_clock = 1 THEN e.received_at ELSE e.at END)"
    conds = xsql.figure_conditions("e", _cold("e"))
    cols = ", ".join(f"sum(CASE WHEN {conds[f]} THEN 1 ELSE 0 END) AS {f}"
                     for f in xsql.FIGURES)
    return (f"SELECT a.app_id, a.experiment_id, a.unit_id, {cols} "
            f"FROM assignments a {_JOIN_META} JOIN events e ON e.app_id = a.app_id AND "
            f"e.device_id = a.device_id AND {when} >= a.at AND {when} < {_END} "
            f"WHERE a.app_id = NEW.app_id AND a.experiment_id = NEW.experiment_id AND "
            f"a.device_id = NEW.device_id GROUP BY a.app_id, a.experiment_id, a.unit_id")


def _upsert(table: str, keys: str, cols: str) -> str:
    sets = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in cols.split(", "))
    return f"ON CONFLICT ({keys}) DO UPDATE SET {sets}"


_CELL_KEY = f"app_id, experiment_id, {_CELL}, shard"
_STATE_KEY = f"app_id, experiment_id, {_CELL}, shard, state_key"


def _apply(deltas: str, figs: tuple[str, ...], d: Dialect) -> list[str]:
    """Add the units' ``deltas`` of ``figs`` to the cells (with the units whose figure goes
    from 0 to more, read from the unit rows before they change), then mark the units
    (only when a mark is new: most events write no unit row)."""
    any_ = " + ".join(f"d.{f}" for f in figs)
    sums = [f for f in figs if f != "gone"]
    flags = [f for f in figs if f in _FLAGS]
    cols = ", ".join([*sums, *(_FLAGS[f] for f in flags)])
    vals = ", ".join([*(f"d.{f}" for f in sums),
                      *(f"CASE WHEN u.{f} = 0 AND d.{f} > 0 THEN 1 ELSE 0 END" for f in flags)])
    join = (f"FROM ({deltas}) d JOIN experiment_units u ON u.app_id = d.app_id AND "
            f"u.experiment_id = d.experiment_id AND u.unit_id = d.unit_id ")
    out = [f"INSERT INTO experiment_cells (app_id, experiment_id, {_CELL}, shard, {cols}) "
           f"SELECT u.app_id, u.experiment_id, u.arm, u.platform, u.profile, u.cohort_day, "
           f"{_shard(d)}, {vals} {join}WHERE {any_} > 0 "
           + _upsert("experiment_cells", _CELL_KEY, cols)]
    if flags:
        marks = ", ".join(flags)
        new = " OR ".join(f"(u.{f} = 0 AND d.{f} > 0)" for f in flags)
        # checked once, before the deltas: most events meet units marked already
        unmarked = " OR ".join(f"v.{f} = 0" for f in flags)
        new = (f"EXISTS (SELECT 1 FROM {_by_device('w', d)} JOIN experiment_units v ON v.app_id = "
               f"w.app_id AND v.experiment_id = w.experiment_id AND v.unit_id = w.unit_id "
               f"WHERE w.app_id = NEW.app_id AND w.device_id = NEW.device_id AND "
               f"({unmarked})) AND ({new})")
        sets = ", ".join(f"{f} = excluded.{f}" for f in flags)
        out.append(
            f"INSERT INTO experiment_units (app_id, experiment_id, unit_id, {_CELL}, "
            f"device_id, device_at, {marks}) SELECT u.app_id, u.experiment_id, u.unit_id, "
            f"u.arm, u.platform, u.profile, u.cohort_day, u.device_id, u.device_at, "
            + ", ".join(f"CASE WHEN d.{f} > 0 THEN 1 ELSE u.{f} END" for f in flags)
            + f" {join}WHERE {new} ON CONFLICT (app_id, experiment_id, unit_id) "
            f"DO UPDATE SET {sets}")
    return out


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
        f"device_at) SELECT NEW.app_id, NEW.experiment_id, NEW.unit_id, NEW.arm, "
        f"NEW.platform, NEW.profile, NEW.cohort_day, NEW.device_id, NEW.at {_META_NEW} "
        f"ON CONFLICT (app_id, experiment_id, unit_id) DO UPDATE SET device_id = "
        f"excluded.device_id, device_at = excluded.device_at WHERE excluded.device_at > "
        f"experiment_units.device_at OR (excluded.device_at = experiment_units.device_at "
        f"AND excluded.device_id > experiment_units.device_id)",
        # the device is the unit's current one now
        _state(d, "dv.state_key", 1, f"{_NEW_UNIT} AND u.device_id = NEW.device_id", True),
        *_apply(_fold_deltas(), xsql.FIGURES, d),
    ]


def _device_steps(d: Dialect) -> list[str]:
    where = "u.app_id = NEW.app_id AND u.device_id = NEW.device_id"
    return [_state(d, "OLD.state_key", -1, where, False),
            _state(d, "NEW.state_key", 1, where, False)]


_HAS_ASSIGNMENT = ("EXISTS (SELECT 1 FROM assignments WHERE app_id = NEW.app_id AND "
                   "device_id = NEW.device_id)")
_HAS_UNIT = ("EXISTS (SELECT 1 FROM experiment_units WHERE app_id = NEW.app_id AND "
             "device_id = NEW.device_id)")
_LOCK_UNITS_OF_DEVICE = (
    "PERFORM 1 FROM experiment_units WHERE (app_id, experiment_id, unit_id) IN (SELECT "
    "app_id, experiment_id, unit_id FROM assignments WHERE app_id = NEW.app_id AND "
    "device_id = NEW.device_id) ORDER BY experiment_id, unit_id FOR UPDATE")


def _pg_function(name: str, guard: str | None, locks: list[str], steps: list[str]) -> str:
    body = "\n  ".join(f"{s};" for s in (*locks, *steps))
    skip = f"  IF NOT {guard} THEN RETURN NEW; END IF;\n" if guard else ""
    return (f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$\nBEGIN\n"
            f"{skip}  {body}\n  RETURN NEW;\nEND\n$fn$")


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
                            _apply(_event_deltas(figs, d), figs, d))
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
            _pg_function(f"experiment_events_{kind}", _HAS_ASSIGNMENT, [_LOCK_UNITS_OF_DEVICE],
                         _apply(_event_deltas(figs, d), figs, d)),
            f"CREATE TRIGGER experiment_events_{kind} BEFORE INSERT ON events FOR EACH ROW "
            f"WHEN (NEW.kind = '{kind}') EXECUTE FUNCTION experiment_events_{kind}()")),
        _pg_function("experiment_assigned", None, [
            # one unit's assignments one at a time (with record_assignment's read of its
            # cell); then the device's events as committed, then its unit as committed
            "PERFORM " + UNIT_LOCK[7:].replace("$1", "NEW.app_id").replace(
                "$2", "NEW.experiment_id").replace("$3", "NEW.unit_id"),
            "PERFORM 1 FROM devices WHERE app_id = NEW.app_id AND device_id = NEW.device_id "
            "FOR UPDATE", unit_lock], _assignment_steps(d)),
        "CREATE TRIGGER experiment_assigned AFTER INSERT ON assignments FOR EACH ROW "
        "EXECUTE FUNCTION experiment_assigned()",
        _pg_function("experiment_device_state", _HAS_UNIT, [
            "PERFORM 1 FROM experiment_units WHERE app_id = NEW.app_id AND device_id = "
            "NEW.device_id ORDER BY experiment_id, unit_id FOR UPDATE"], _device_steps(d)),
        f"CREATE TRIGGER experiment_device_state AFTER UPDATE OF state_key ON devices "
        f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION experiment_device_state()",
    )


def migration(d: Dialect) -> tuple[str, ...]:
    """The migration's statements."""
    return (*tables(d), *triggers(d))


def rebuild(app_id: str, experiment_id: str, cold: Sequence[str], end: float | None,
            server_clock: bool) -> list[tuple[str, tuple[Any, ...]]]:
    """The experiment's aggregates from scratch, by the scan (``experiment_sql``): the
    statements (``?`` placeholders) with their parameters."""
    key = (app_id, experiment_id)
    ids = tuple(cold) or ("",)
    unit = "app_id = ? AND experiment_id = ?"
    sums = ("count(*), sum(imp), sum(acc), sum(dis), sum(CASE WHEN imp > 0 THEN 1 ELSE 0 "
            "END), sum(os), sum(os_a), sum(os_d), sum(os_x), sum(CASE WHEN os > 0 THEN 1 "
            "ELSE 0 END), sum(outs), sum(CASE WHEN gone > 0 THEN 1 ELSE 0 END)")
    scan = (*ids, 1e300 if end is None else end, *key)
    marks = ", ".join(f"CASE WHEN {f} > 0 THEN 1 ELSE 0 END" for f in _FLAGS)
    return [
        (f"DELETE FROM experiment_units WHERE {unit}", key),
        (f"DELETE FROM experiment_cells WHERE {unit}", key),
        (f"DELETE FROM experiment_states WHERE {unit}", key),
        (f"INSERT INTO experiment_units (app_id, experiment_id, unit_id, {_CELL}, device_id, "
         f"device_at, {', '.join(_FLAGS)}) SELECT app_id, experiment_id, unit_id, {_CELL}, "
         f"device_id, device_at, {marks} FROM "
         f"({xsql.unit_figures(len(ids), server_clock, current=True)}) f "
         f"WHERE true ON CONFLICT DO NOTHING", scan),
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


def put(app_id: str, experiment_id: str, end: float | None, cold: Sequence[str],
        had: tuple[float | None] | None, server_clock: bool
        ) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements that record an experiment's end and cold campaigns for the triggers
    (``had``: its ``experiment_meta`` row before), and rebuild its aggregates when it had
    none or its end moved (the events counted depend on the end)."""
    key = (app_id, experiment_id)
    out: list[tuple[str, tuple[Any, ...]]] = [
        (PUT_META, (*key, end, int(server_clock))), (DELETE_COLD, key),
        *((INSERT_COLD, (*key, c)) for c in cold)]
    if had is None or had[0] != end:
        out += rebuild(app_id, experiment_id, cold, end, server_clock)
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
