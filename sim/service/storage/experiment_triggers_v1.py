"""The experiment stats' tables and triggers as migration 4 (SQLite) and 6 (PostgreSQL)
created them, frozen: a released migration never changes (``migrations.py``), while
``experiment_aggregates`` generates the triggers of the latest one. Generated once from
``experiment_aggregates.migration`` at that release; not to be edited."""

SQLITE: tuple[str, ...] = (
    ('CREATE TABLE experiment_meta (\n'
     '            app_id TEXT NOT NULL, experiment_id TEXT NOT NULL, end_at REAL,\n'
     '            server_clock INTEGER NOT NULL,\n'
     '            PRIMARY KEY (app_id, experiment_id)) WITHOUT ROWID'),
    ('CREATE TABLE experiment_cold (\n'
     '            app_id TEXT NOT NULL, experiment_id TEXT NOT NULL, campaign_id TEXT '
     'NOT NULL,\n'
     '            PRIMARY KEY (app_id, experiment_id, campaign_id)) WITHOUT ROWID'),
    ('CREATE TABLE experiment_units (\n'
     '            app_id TEXT NOT NULL, experiment_id TEXT NOT NULL, unit_id TEXT NOT '
     'NULL, arm TEXT NOT NULL, platform TEXT NOT NULL, profile TEXT NOT NULL, '
     'cohort_day TEXT NOT NULL,\n'
     '            device_id TEXT NOT NULL, device_at REAL NOT NULL, imp INTEGER NOT '
     'NULL DEFAULT 0, os INTEGER NOT NULL DEFAULT 0, gone INTEGER NOT NULL DEFAULT 0,\n'
     '            PRIMARY KEY (app_id, experiment_id, unit_id)) WITHOUT ROWID'),
    ('CREATE INDEX experiment_units_by_device ON experiment_units (app_id, device_id)'),
    ('CREATE TABLE experiment_cells (\n'
     '            app_id TEXT NOT NULL, experiment_id TEXT NOT NULL, arm TEXT NOT NULL, '
     'platform TEXT NOT NULL, profile TEXT NOT NULL, cohort_day TEXT NOT NULL,\n'
     '            shard INTEGER NOT NULL, units INTEGER NOT NULL DEFAULT 0, imp INTEGER '
     'NOT NULL DEFAULT 0, acc INTEGER NOT NULL DEFAULT 0, dis INTEGER NOT NULL DEFAULT '
     '0, u_imp INTEGER NOT NULL DEFAULT 0, os INTEGER NOT NULL DEFAULT 0, os_a INTEGER '
     'NOT NULL DEFAULT 0, os_d INTEGER NOT NULL DEFAULT 0, os_x INTEGER NOT NULL '
     'DEFAULT 0, u_os INTEGER NOT NULL DEFAULT 0, outs INTEGER NOT NULL DEFAULT 0, '
     'u_gone INTEGER NOT NULL DEFAULT 0,\n'
     '            PRIMARY KEY (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard)) WITHOUT ROWID'),
    ('CREATE TABLE experiment_states (\n'
     '            app_id TEXT NOT NULL, experiment_id TEXT NOT NULL, arm TEXT NOT NULL, '
     'platform TEXT NOT NULL, profile TEXT NOT NULL, cohort_day TEXT NOT NULL,\n'
     '            shard INTEGER NOT NULL, state_key TEXT NOT NULL, n INTEGER NOT NULL,\n'
     '            PRIMARY KEY (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, state_key)) WITHOUT ROWID'),
    ('CREATE INDEX assignments_by_device ON assignments (app_id, device_id)'),
    ('CREATE TRIGGER experiment_events_impression BEFORE INSERT ON events WHEN NEW.kind '
     "= 'impression' AND EXISTS (SELECT 1 FROM assignments WHERE app_id = NEW.app_id "
     'AND device_id = NEW.device_id) BEGIN\n'
     '  INSERT INTO experiment_cells (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, imp, u_imp) SELECT u.app_id, u.experiment_id, u.arm, '
     'u.platform, u.profile, u.cohort_day, 0, d.imp, CASE WHEN u.imp = 0 AND d.imp > 0 '
     'THEN 1 ELSE 0 END FROM (SELECT a.app_id, a.experiment_id, a.unit_id, CASE WHEN '
     '(CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) >= a.at AND '
     '(CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) < '
     "coalesce(m.end_at, 1e300) AND NEW.kind = 'impression' AND NEW.campaign_id IS NOT "
     'NULL AND NOT (EXISTS (SELECT 1 FROM experiment_cold c WHERE c.app_id = a.app_id '
     'AND c.experiment_id = a.experiment_id AND c.campaign_id = NEW.campaign_id)) THEN '
     '1 ELSE 0 END AS imp FROM assignments a INDEXED BY assignments_by_device JOIN '
     'experiment_meta m ON m.app_id = a.app_id AND m.experiment_id = a.experiment_id '
     'WHERE a.app_id = NEW.app_id AND a.device_id = NEW.device_id) d JOIN '
     'experiment_units u ON u.app_id = d.app_id AND u.experiment_id = d.experiment_id '
     'AND u.unit_id = d.unit_id WHERE d.imp > 0 ON CONFLICT (app_id, experiment_id, '
     'arm, platform, profile, cohort_day, shard) DO UPDATE SET imp = '
     'experiment_cells.imp + excluded.imp, u_imp = experiment_cells.u_imp + '
     'excluded.u_imp;\n'
     '  INSERT INTO experiment_units (app_id, experiment_id, unit_id, arm, platform, '
     'profile, cohort_day, device_id, device_at, imp) SELECT u.app_id, u.experiment_id, '
     'u.unit_id, u.arm, u.platform, u.profile, u.cohort_day, u.device_id, u.device_at, '
     'CASE WHEN d.imp > 0 THEN 1 ELSE u.imp END FROM (SELECT a.app_id, a.experiment_id, '
     'a.unit_id, CASE WHEN (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     'NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     "NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = 'impression' AND "
     'NEW.campaign_id IS NOT NULL AND NOT (EXISTS (SELECT 1 FROM experiment_cold c '
     'WHERE c.app_id = a.app_id AND c.experiment_id = a.experiment_id AND c.campaign_id '
     '= NEW.campaign_id)) THEN 1 ELSE 0 END AS imp FROM assignments a INDEXED BY '
     'assignments_by_device JOIN experiment_meta m ON m.app_id = a.app_id AND '
     'm.experiment_id = a.experiment_id WHERE a.app_id = NEW.app_id AND a.device_id = '
     'NEW.device_id) d JOIN experiment_units u ON u.app_id = d.app_id AND '
     'u.experiment_id = d.experiment_id AND u.unit_id = d.unit_id WHERE EXISTS (SELECT '
     '1 FROM assignments w INDEXED BY assignments_by_device JOIN experiment_units v ON '
     'v.app_id = w.app_id AND v.experiment_id = w.experiment_id AND v.unit_id = '
     'w.unit_id WHERE w.app_id = NEW.app_id AND w.device_id = NEW.device_id AND (v.imp '
     '= 0)) AND ((u.imp = 0 AND d.imp > 0)) ON CONFLICT (app_id, experiment_id, '
     'unit_id) DO UPDATE SET imp = excluded.imp;\n'
     'END'),
    ('CREATE TRIGGER experiment_events_soft_prompt_clicked BEFORE INSERT ON events WHEN '
     "NEW.kind = 'soft_prompt_clicked' AND EXISTS (SELECT 1 FROM assignments WHERE "
     'app_id = NEW.app_id AND device_id = NEW.device_id) BEGIN\n'
     '  INSERT INTO experiment_cells (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, acc) SELECT u.app_id, u.experiment_id, u.arm, u.platform, '
     'u.profile, u.cohort_day, 0, d.acc FROM (SELECT a.app_id, a.experiment_id, '
     'a.unit_id, CASE WHEN (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     'NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     "NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = 'soft_prompt_clicked' THEN "
     '1 ELSE 0 END AS acc FROM assignments a INDEXED BY assignments_by_device JOIN '
     'experiment_meta m ON m.app_id = a.app_id AND m.experiment_id = a.experiment_id '
     'WHERE a.app_id = NEW.app_id AND a.device_id = NEW.device_id) d JOIN '
     'experiment_units u ON u.app_id = d.app_id AND u.experiment_id = d.experiment_id '
     'AND u.unit_id = d.unit_id WHERE d.acc > 0 ON CONFLICT (app_id, experiment_id, '
     'arm, platform, profile, cohort_day, shard) DO UPDATE SET acc = '
     'experiment_cells.acc + excluded.acc;\n'
     'END'),
    ('CREATE TRIGGER experiment_events_soft_prompt_dismissed BEFORE INSERT ON events '
     "WHEN NEW.kind = 'soft_prompt_dismissed' AND EXISTS (SELECT 1 FROM assignments "
     'WHERE app_id = NEW.app_id AND device_id = NEW.device_id) BEGIN\n'
     '  INSERT INTO experiment_cells (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, dis) SELECT u.app_id, u.experiment_id, u.arm, u.platform, '
     'u.profile, u.cohort_day, 0, d.dis FROM (SELECT a.app_id, a.experiment_id, '
     'a.unit_id, CASE WHEN (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     'NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     "NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = 'soft_prompt_dismissed' "
     'AND NEW.detail IS NULL THEN 1 ELSE 0 END AS dis FROM assignments a INDEXED BY '
     'assignments_by_device JOIN experiment_meta m ON m.app_id = a.app_id AND '
     'm.experiment_id = a.experiment_id WHERE a.app_id = NEW.app_id AND a.device_id = '
     'NEW.device_id) d JOIN experiment_units u ON u.app_id = d.app_id AND '
     'u.experiment_id = d.experiment_id AND u.unit_id = d.unit_id WHERE d.dis > 0 ON '
     'CONFLICT (app_id, experiment_id, arm, platform, profile, cohort_day, shard) DO '
     'UPDATE SET dis = experiment_cells.dis + excluded.dis;\n'
     'END'),
    ('CREATE TRIGGER experiment_events_os_dialog_result BEFORE INSERT ON events WHEN '
     "NEW.kind = 'os_dialog_result' AND EXISTS (SELECT 1 FROM assignments WHERE app_id "
     '= NEW.app_id AND device_id = NEW.device_id) BEGIN\n'
     '  INSERT INTO experiment_cells (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, os, os_a, os_d, os_x, outs, u_os) SELECT u.app_id, '
     'u.experiment_id, u.arm, u.platform, u.profile, u.cohort_day, 0, d.os, d.os_a, '
     'd.os_d, d.os_x, d.outs, CASE WHEN u.os = 0 AND d.os > 0 THEN 1 ELSE 0 END FROM '
     '(SELECT a.app_id, a.experiment_id, a.unit_id, CASE WHEN (CASE WHEN m.server_clock '
     '= 1 THEN NEW.received_at ELSE NEW.at END) >= a.at AND (CASE WHEN m.server_clock = '
     '1 THEN NEW.received_at ELSE NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind '
     "= 'os_dialog_result' THEN 1 ELSE 0 END AS os, CASE WHEN (CASE WHEN m.server_clock "
     '= 1 THEN NEW.received_at ELSE NEW.at END) >= a.at AND (CASE WHEN m.server_clock = '
     '1 THEN NEW.received_at ELSE NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind '
     "= 'os_dialog_result' AND NEW.detail = 'allowed' THEN 1 ELSE 0 END AS os_a, CASE "
     'WHEN (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) >= a.at '
     'AND (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) < '
     "coalesce(m.end_at, 1e300) AND NEW.kind = 'os_dialog_result' AND NEW.detail = "
     "'denied' THEN 1 ELSE 0 END AS os_d, CASE WHEN (CASE WHEN m.server_clock = 1 THEN "
     'NEW.received_at ELSE NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN '
     'NEW.received_at ELSE NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = '
     "'os_dialog_result' AND NEW.detail = 'dismissed' THEN 1 ELSE 0 END AS os_x, CASE "
     'WHEN (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) >= a.at '
     'AND (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) < '
     "coalesce(m.end_at, 1e300) AND NEW.kind = 'permission_changed' AND NEW.detail = "
     "'denied' AND EXISTS (SELECT 1 FROM events g WHERE g.app_id = NEW.app_id AND "
     "g.device_id = NEW.device_id AND g.at < NEW.at AND ((g.kind = 'os_dialog_result' "
     "AND g.detail = 'allowed') OR (g.kind = 'permission_changed' AND g.detail = "
     "'granted'))) THEN 1 ELSE 0 END + CASE WHEN ((NEW.kind = 'os_dialog_result' AND "
     "NEW.detail = 'allowed') OR (NEW.kind = 'permission_changed' AND NEW.detail = "
     "'granted')) THEN (SELECT count(*) FROM events x WHERE x.app_id = NEW.app_id AND "
     "x.device_id = NEW.device_id AND x.kind = 'permission_changed' AND x.detail = "
     "'denied' AND x.at > NEW.at AND (CASE WHEN m.server_clock = 1 THEN x.received_at "
     'ELSE x.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN x.received_at ELSE '
     'x.at END) < coalesce(m.end_at, 1e300) AND NOT EXISTS (SELECT 1 FROM events g '
     'WHERE g.app_id = x.app_id AND g.device_id = x.device_id AND g.at < x.at AND '
     "((g.kind = 'os_dialog_result' AND g.detail = 'allowed') OR (g.kind = "
     "'permission_changed' AND g.detail = 'granted')))) ELSE 0 END AS outs FROM "
     'assignments a INDEXED BY assignments_by_device JOIN experiment_meta m ON m.app_id '
     '= a.app_id AND m.experiment_id = a.experiment_id WHERE a.app_id = NEW.app_id AND '
     'a.device_id = NEW.device_id) d JOIN experiment_units u ON u.app_id = d.app_id AND '
     'u.experiment_id = d.experiment_id AND u.unit_id = d.unit_id WHERE d.os + d.os_a + '
     'd.os_d + d.os_x + d.outs > 0 ON CONFLICT (app_id, experiment_id, arm, platform, '
     'profile, cohort_day, shard) DO UPDATE SET os = experiment_cells.os + excluded.os, '
     'os_a = experiment_cells.os_a + excluded.os_a, os_d = experiment_cells.os_d + '
     'excluded.os_d, os_x = experiment_cells.os_x + excluded.os_x, outs = '
     'experiment_cells.outs + excluded.outs, u_os = experiment_cells.u_os + '
     'excluded.u_os;\n'
     '  INSERT INTO experiment_units (app_id, experiment_id, unit_id, arm, platform, '
     'profile, cohort_day, device_id, device_at, os) SELECT u.app_id, u.experiment_id, '
     'u.unit_id, u.arm, u.platform, u.profile, u.cohort_day, u.device_id, u.device_at, '
     'CASE WHEN d.os > 0 THEN 1 ELSE u.os END FROM (SELECT a.app_id, a.experiment_id, '
     'a.unit_id, CASE WHEN (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     'NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     "NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = 'os_dialog_result' THEN 1 "
     'ELSE 0 END AS os, CASE WHEN (CASE WHEN m.server_clock = 1 THEN NEW.received_at '
     'ELSE NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN NEW.received_at '
     "ELSE NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = 'os_dialog_result' "
     "AND NEW.detail = 'allowed' THEN 1 ELSE 0 END AS os_a, CASE WHEN (CASE WHEN "
     'm.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) >= a.at AND (CASE WHEN '
     'm.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) < coalesce(m.end_at, '
     "1e300) AND NEW.kind = 'os_dialog_result' AND NEW.detail = 'denied' THEN 1 ELSE 0 "
     'END AS os_d, CASE WHEN (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     'NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     "NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = 'os_dialog_result' AND "
     "NEW.detail = 'dismissed' THEN 1 ELSE 0 END AS os_x, CASE WHEN (CASE WHEN "
     'm.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) >= a.at AND (CASE WHEN '
     'm.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) < coalesce(m.end_at, '
     "1e300) AND NEW.kind = 'permission_changed' AND NEW.detail = 'denied' AND EXISTS "
     '(SELECT 1 FROM events g WHERE g.app_id = NEW.app_id AND g.device_id = '
     "NEW.device_id AND g.at < NEW.at AND ((g.kind = 'os_dialog_result' AND g.detail = "
     "'allowed') OR (g.kind = 'permission_changed' AND g.detail = 'granted'))) THEN 1 "
     "ELSE 0 END + CASE WHEN ((NEW.kind = 'os_dialog_result' AND NEW.detail = "
     "'allowed') OR (NEW.kind = 'permission_changed' AND NEW.detail = 'granted')) THEN "
     '(SELECT count(*) FROM events x WHERE x.app_id = NEW.app_id AND x.device_id = '
     "NEW.device_id AND x.kind = 'permission_changed' AND x.detail = 'denied' AND x.at "
     '> NEW.at AND (CASE WHEN m.server_clock = 1 THEN x.received_at ELSE x.at END) >= '
     'a.at AND (CASE WHEN m.server_clock = 1 THEN x.received_at ELSE x.at END) < '
     'coalesce(m.end_at, 1e300) AND NOT EXISTS (SELECT 1 FROM events g WHERE g.app_id = '
     'x.app_id AND g.device_id = x.device_id AND g.at < x.at AND ((g.kind = '
     "'os_dialog_result' AND g.detail = 'allowed') OR (g.kind = 'permission_changed' "
     "AND g.detail = 'granted')))) ELSE 0 END AS outs FROM assignments a INDEXED BY "
     'assignments_by_device JOIN experiment_meta m ON m.app_id = a.app_id AND '
     'm.experiment_id = a.experiment_id WHERE a.app_id = NEW.app_id AND a.device_id = '
     'NEW.device_id) d JOIN experiment_units u ON u.app_id = d.app_id AND '
     'u.experiment_id = d.experiment_id AND u.unit_id = d.unit_id WHERE EXISTS (SELECT '
     '1 FROM assignments w INDEXED BY assignments_by_device JOIN experiment_units v ON '
     'v.app_id = w.app_id AND v.experiment_id = w.experiment_id AND v.unit_id = '
     'w.unit_id WHERE w.app_id = NEW.app_id AND w.device_id = NEW.device_id AND (v.os = '
     '0)) AND ((u.os = 0 AND d.os > 0)) ON CONFLICT (app_id, experiment_id, unit_id) DO '
     'UPDATE SET os = excluded.os;\n'
     'END'),
    ('CREATE TRIGGER experiment_events_permission_changed BEFORE INSERT ON events WHEN '
     "NEW.kind = 'permission_changed' AND EXISTS (SELECT 1 FROM assignments WHERE "
     'app_id = NEW.app_id AND device_id = NEW.device_id) BEGIN\n'
     '  INSERT INTO experiment_cells (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, outs) SELECT u.app_id, u.experiment_id, u.arm, u.platform, '
     'u.profile, u.cohort_day, 0, d.outs FROM (SELECT a.app_id, a.experiment_id, '
     'a.unit_id, CASE WHEN (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     'NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     "NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = 'permission_changed' AND "
     "NEW.detail = 'denied' AND EXISTS (SELECT 1 FROM events g WHERE g.app_id = "
     'NEW.app_id AND g.device_id = NEW.device_id AND g.at < NEW.at AND ((g.kind = '
     "'os_dialog_result' AND g.detail = 'allowed') OR (g.kind = 'permission_changed' "
     "AND g.detail = 'granted'))) THEN 1 ELSE 0 END + CASE WHEN ((NEW.kind = "
     "'os_dialog_result' AND NEW.detail = 'allowed') OR (NEW.kind = "
     "'permission_changed' AND NEW.detail = 'granted')) THEN (SELECT count(*) FROM "
     'events x WHERE x.app_id = NEW.app_id AND x.device_id = NEW.device_id AND x.kind = '
     "'permission_changed' AND x.detail = 'denied' AND x.at > NEW.at AND (CASE WHEN "
     'm.server_clock = 1 THEN x.received_at ELSE x.at END) >= a.at AND (CASE WHEN '
     'm.server_clock = 1 THEN x.received_at ELSE x.at END) < coalesce(m.end_at, 1e300) '
     'AND NOT EXISTS (SELECT 1 FROM events g WHERE g.app_id = x.app_id AND g.device_id '
     "= x.device_id AND g.at < x.at AND ((g.kind = 'os_dialog_result' AND g.detail = "
     "'allowed') OR (g.kind = 'permission_changed' AND g.detail = 'granted')))) ELSE 0 "
     'END AS outs FROM assignments a INDEXED BY assignments_by_device JOIN '
     'experiment_meta m ON m.app_id = a.app_id AND m.experiment_id = a.experiment_id '
     'WHERE a.app_id = NEW.app_id AND a.device_id = NEW.device_id) d JOIN '
     'experiment_units u ON u.app_id = d.app_id AND u.experiment_id = d.experiment_id '
     'AND u.unit_id = d.unit_id WHERE d.outs > 0 ON CONFLICT (app_id, experiment_id, '
     'arm, platform, profile, cohort_day, shard) DO UPDATE SET outs = '
     'experiment_cells.outs + excluded.outs;\n'
     'END'),
    ('CREATE TRIGGER experiment_events_uninstalled BEFORE INSERT ON events WHEN '
     "NEW.kind = 'uninstalled' AND EXISTS (SELECT 1 FROM assignments WHERE app_id = "
     'NEW.app_id AND device_id = NEW.device_id) BEGIN\n'
     '  INSERT INTO experiment_cells (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, u_gone) SELECT u.app_id, u.experiment_id, u.arm, u.platform, '
     'u.profile, u.cohort_day, 0, CASE WHEN u.gone = 0 AND d.gone > 0 THEN 1 ELSE 0 END '
     'FROM (SELECT a.app_id, a.experiment_id, a.unit_id, CASE WHEN (CASE WHEN '
     'm.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) >= a.at AND (CASE WHEN '
     'm.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) < coalesce(m.end_at, '
     "1e300) AND NEW.kind = 'uninstalled' THEN 1 ELSE 0 END AS gone FROM assignments a "
     'INDEXED BY assignments_by_device JOIN experiment_meta m ON m.app_id = a.app_id '
     'AND m.experiment_id = a.experiment_id WHERE a.app_id = NEW.app_id AND a.device_id '
     '= NEW.device_id) d JOIN experiment_units u ON u.app_id = d.app_id AND '
     'u.experiment_id = d.experiment_id AND u.unit_id = d.unit_id WHERE d.gone > 0 ON '
     'CONFLICT (app_id, experiment_id, arm, platform, profile, cohort_day, shard) DO '
     'UPDATE SET u_gone = experiment_cells.u_gone + excluded.u_gone;\n'
     '  INSERT INTO experiment_units (app_id, experiment_id, unit_id, arm, platform, '
     'profile, cohort_day, device_id, device_at, gone) SELECT u.app_id, '
     'u.experiment_id, u.unit_id, u.arm, u.platform, u.profile, u.cohort_day, '
     'u.device_id, u.device_at, CASE WHEN d.gone > 0 THEN 1 ELSE u.gone END FROM '
     '(SELECT a.app_id, a.experiment_id, a.unit_id, CASE WHEN (CASE WHEN m.server_clock '
     '= 1 THEN NEW.received_at ELSE NEW.at END) >= a.at AND (CASE WHEN m.server_clock = '
     '1 THEN NEW.received_at ELSE NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind '
     "= 'uninstalled' THEN 1 ELSE 0 END AS gone FROM assignments a INDEXED BY "
     'assignments_by_device JOIN experiment_meta m ON m.app_id = a.app_id AND '
     'm.experiment_id = a.experiment_id WHERE a.app_id = NEW.app_id AND a.device_id = '
     'NEW.device_id) d JOIN experiment_units u ON u.app_id = d.app_id AND '
     'u.experiment_id = d.experiment_id AND u.unit_id = d.unit_id WHERE EXISTS (SELECT '
     '1 FROM assignments w INDEXED BY assignments_by_device JOIN experiment_units v ON '
     'v.app_id = w.app_id AND v.experiment_id = w.experiment_id AND v.unit_id = '
     'w.unit_id WHERE w.app_id = NEW.app_id AND w.device_id = NEW.device_id AND (v.gone '
     '= 0)) AND ((u.gone = 0 AND d.gone > 0)) ON CONFLICT (app_id, experiment_id, '
     'unit_id) DO UPDATE SET gone = excluded.gone;\n'
     'END'),
    ('CREATE TRIGGER experiment_assigned AFTER INSERT ON assignments BEGIN\n'
     '  INSERT INTO experiment_states (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, state_key, n) SELECT u.app_id, u.experiment_id, u.arm, '
     "u.platform, u.profile, u.cohort_day, 0, coalesce(dv.state_key, ''), -1 FROM "
     'experiment_units u JOIN devices dv ON dv.app_id = u.app_id AND dv.device_id = '
     'u.device_id WHERE u.app_id = NEW.app_id AND u.experiment_id = NEW.experiment_id '
     'AND u.unit_id = NEW.unit_id AND (NEW.at > u.device_at OR (NEW.at = u.device_at '
     'AND NEW.device_id > u.device_id)) ON CONFLICT (app_id, experiment_id, arm, '
     'platform, profile, cohort_day, shard, state_key) DO UPDATE SET n = '
     'experiment_states.n + excluded.n;\n'
     '  INSERT INTO experiment_cells (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, units, imp, acc, dis, u_imp, os, os_a, os_d, os_x, u_os, outs, '
     'u_gone) SELECT NEW.app_id, NEW.experiment_id, NEW.arm, NEW.platform, NEW.profile, '
     'NEW.cohort_day, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 FROM experiment_meta m '
     'WHERE m.app_id = NEW.app_id AND m.experiment_id = NEW.experiment_id AND NOT '
     'EXISTS (SELECT 1 FROM experiment_units u WHERE u.app_id = NEW.app_id AND '
     'u.experiment_id = NEW.experiment_id AND u.unit_id = NEW.unit_id) ON CONFLICT '
     '(app_id, experiment_id, arm, platform, profile, cohort_day, shard) DO UPDATE SET '
     'units = experiment_cells.units + excluded.units, imp = experiment_cells.imp + '
     'excluded.imp, acc = experiment_cells.acc + excluded.acc, dis = '
     'experiment_cells.dis + excluded.dis, u_imp = experiment_cells.u_imp + '
     'excluded.u_imp, os = experiment_cells.os + excluded.os, os_a = '
     'experiment_cells.os_a + excluded.os_a, os_d = experiment_cells.os_d + '
     'excluded.os_d, os_x = experiment_cells.os_x + excluded.os_x, u_os = '
     'experiment_cells.u_os + excluded.u_os, outs = experiment_cells.outs + '
     'excluded.outs, u_gone = experiment_cells.u_gone + excluded.u_gone;\n'
     '  INSERT INTO experiment_units (app_id, experiment_id, unit_id, arm, platform, '
     'profile, cohort_day, device_id, device_at) SELECT NEW.app_id, NEW.experiment_id, '
     'NEW.unit_id, NEW.arm, NEW.platform, NEW.profile, NEW.cohort_day, NEW.device_id, '
     'NEW.at FROM experiment_meta m WHERE m.app_id = NEW.app_id AND m.experiment_id = '
     'NEW.experiment_id ON CONFLICT (app_id, experiment_id, unit_id) DO UPDATE SET '
     'device_id = excluded.device_id, device_at = excluded.device_at WHERE '
     'excluded.device_at > experiment_units.device_at OR (excluded.device_at = '
     'experiment_units.device_at AND excluded.device_id > experiment_units.device_id);\n'
     '  INSERT INTO experiment_states (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, state_key, n) SELECT u.app_id, u.experiment_id, u.arm, '
     "u.platform, u.profile, u.cohort_day, 0, coalesce(dv.state_key, ''), 1 FROM "
     'experiment_units u JOIN devices dv ON dv.app_id = u.app_id AND dv.device_id = '
     'u.device_id WHERE u.app_id = NEW.app_id AND u.experiment_id = NEW.experiment_id '
     'AND u.unit_id = NEW.unit_id AND u.device_id = NEW.device_id ON CONFLICT (app_id, '
     'experiment_id, arm, platform, profile, cohort_day, shard, state_key) DO UPDATE '
     'SET n = experiment_states.n + excluded.n;\n'
     '  INSERT INTO experiment_cells (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, imp, acc, dis, os, os_a, os_d, os_x, outs, u_imp, u_os, '
     'u_gone) SELECT u.app_id, u.experiment_id, u.arm, u.platform, u.profile, '
     'u.cohort_day, 0, d.imp, d.acc, d.dis, d.os, d.os_a, d.os_d, d.os_x, d.outs, CASE '
     'WHEN u.imp = 0 AND d.imp > 0 THEN 1 ELSE 0 END, CASE WHEN u.os = 0 AND d.os > 0 '
     'THEN 1 ELSE 0 END, CASE WHEN u.gone = 0 AND d.gone > 0 THEN 1 ELSE 0 END FROM '
     "(SELECT a.app_id, a.experiment_id, a.unit_id, sum(CASE WHEN e.kind = 'impression' "
     'AND e.campaign_id IS NOT NULL AND NOT (EXISTS (SELECT 1 FROM experiment_cold c '
     'WHERE c.app_id = a.app_id AND c.experiment_id = a.experiment_id AND c.campaign_id '
     '= e.campaign_id)) THEN 1 ELSE 0 END) AS imp, sum(CASE WHEN e.kind = '
     "'soft_prompt_clicked' THEN 1 ELSE 0 END) AS acc, sum(CASE WHEN e.kind = "
     "'soft_prompt_dismissed' AND e.detail IS NULL THEN 1 ELSE 0 END) AS dis, sum(CASE "
     "WHEN e.kind = 'os_dialog_result' THEN 1 ELSE 0 END) AS os, sum(CASE WHEN e.kind = "
     "'os_dialog_result' AND e.detail = 'allowed' THEN 1 ELSE 0 END) AS os_a, sum(CASE "
     "WHEN e.kind = 'os_dialog_result' AND e.detail = 'denied' THEN 1 ELSE 0 END) AS "
     "os_d, sum(CASE WHEN e.kind = 'os_dialog_result' AND e.detail = 'dismissed' THEN 1 "
     "ELSE 0 END) AS os_x, sum(CASE WHEN e.kind = 'permission_changed' AND e.detail = "
     "'denied' AND EXISTS (SELECT 1 FROM events g WHERE g.app_id = e.app_id AND "
     "g.device_id = e.device_id AND g.at < e.at AND ((g.kind = 'os_dialog_result' AND "
     "g.detail = 'allowed') OR (g.kind = 'permission_changed' AND g.detail = "
     "'granted'))) THEN 1 ELSE 0 END) AS outs, sum(CASE WHEN e.kind = 'uninstalled' "
     'THEN 1 ELSE 0 END) AS gone FROM assignments a JOIN experiment_meta m ON m.app_id '
     '= a.app_id AND m.experiment_id = a.experiment_id JOIN events e ON e.app_id = '
     'a.app_id AND e.device_id = a.device_id AND (CASE WHEN m.server_clock = 1 THEN '
     'e.received_at ELSE e.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN '
     'e.received_at ELSE e.at END) < coalesce(m.end_at, 1e300) WHERE a.app_id = '
     'NEW.app_id AND a.experiment_id = NEW.experiment_id AND a.device_id = '
     'NEW.device_id GROUP BY a.app_id, a.experiment_id, a.unit_id) d JOIN '
     'experiment_units u ON u.app_id = d.app_id AND u.experiment_id = d.experiment_id '
     'AND u.unit_id = d.unit_id WHERE d.imp + d.acc + d.dis + d.os + d.os_a + d.os_d + '
     'd.os_x + d.outs + d.gone > 0 ON CONFLICT (app_id, experiment_id, arm, platform, '
     'profile, cohort_day, shard) DO UPDATE SET imp = experiment_cells.imp + '
     'excluded.imp, acc = experiment_cells.acc + excluded.acc, dis = '
     'experiment_cells.dis + excluded.dis, os = experiment_cells.os + excluded.os, os_a '
     '= experiment_cells.os_a + excluded.os_a, os_d = experiment_cells.os_d + '
     'excluded.os_d, os_x = experiment_cells.os_x + excluded.os_x, outs = '
     'experiment_cells.outs + excluded.outs, u_imp = experiment_cells.u_imp + '
     'excluded.u_imp, u_os = experiment_cells.u_os + excluded.u_os, u_gone = '
     'experiment_cells.u_gone + excluded.u_gone;\n'
     '  INSERT INTO experiment_units (app_id, experiment_id, unit_id, arm, platform, '
     'profile, cohort_day, device_id, device_at, imp, os, gone) SELECT u.app_id, '
     'u.experiment_id, u.unit_id, u.arm, u.platform, u.profile, u.cohort_day, '
     'u.device_id, u.device_at, CASE WHEN d.imp > 0 THEN 1 ELSE u.imp END, CASE WHEN '
     'd.os > 0 THEN 1 ELSE u.os END, CASE WHEN d.gone > 0 THEN 1 ELSE u.gone END FROM '
     "(SELECT a.app_id, a.experiment_id, a.unit_id, sum(CASE WHEN e.kind = 'impression' "
     'AND e.campaign_id IS NOT NULL AND NOT (EXISTS (SELECT 1 FROM experiment_cold c '
     'WHERE c.app_id = a.app_id AND c.experiment_id = a.experiment_id AND c.campaign_id '
     '= e.campaign_id)) THEN 1 ELSE 0 END) AS imp, sum(CASE WHEN e.kind = '
     "'soft_prompt_clicked' THEN 1 ELSE 0 END) AS acc, sum(CASE WHEN e.kind = "
     "'soft_prompt_dismissed' AND e.detail IS NULL THEN 1 ELSE 0 END) AS dis, sum(CASE "
     "WHEN e.kind = 'os_dialog_result' THEN 1 ELSE 0 END) AS os, sum(CASE WHEN e.kind = "
     "'os_dialog_result' AND e.detail = 'allowed' THEN 1 ELSE 0 END) AS os_a, sum(CASE "
     "WHEN e.kind = 'os_dialog_result' AND e.detail = 'denied' THEN 1 ELSE 0 END) AS "
     "os_d, sum(CASE WHEN e.kind = 'os_dialog_result' AND e.detail = 'dismissed' THEN 1 "
     "ELSE 0 END) AS os_x, sum(CASE WHEN e.kind = 'permission_changed' AND e.detail = "
     "'denied' AND EXISTS (SELECT 1 FROM events g WHERE g.app_id = e.app_id AND "
     "g.device_id = e.device_id AND g.at < e.at AND ((g.kind = 'os_dialog_result' AND "
     "g.detail = 'allowed') OR (g.kind = 'permission_changed' AND g.detail = "
     "'granted'))) THEN 1 ELSE 0 END) AS outs, sum(CASE WHEN e.kind = 'uninstalled' "
     'THEN 1 ELSE 0 END) AS gone FROM assignments a JOIN experiment_meta m ON m.app_id '
     '= a.app_id AND m.experiment_id = a.experiment_id JOIN events e ON e.app_id = '
     'a.app_id AND e.device_id = a.device_id AND (CASE WHEN m.server_clock = 1 THEN '
     'e.received_at ELSE e.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN '
     'e.received_at ELSE e.at END) < coalesce(m.end_at, 1e300) WHERE a.app_id = '
     'NEW.app_id AND a.experiment_id = NEW.experiment_id AND a.device_id = '
     'NEW.device_id GROUP BY a.app_id, a.experiment_id, a.unit_id) d JOIN '
     'experiment_units u ON u.app_id = d.app_id AND u.experiment_id = d.experiment_id '
     'AND u.unit_id = d.unit_id WHERE EXISTS (SELECT 1 FROM assignments w INDEXED BY '
     'assignments_by_device JOIN experiment_units v ON v.app_id = w.app_id AND '
     'v.experiment_id = w.experiment_id AND v.unit_id = w.unit_id WHERE w.app_id = '
     'NEW.app_id AND w.device_id = NEW.device_id AND (v.imp = 0 OR v.os = 0 OR v.gone = '
     '0)) AND ((u.imp = 0 AND d.imp > 0) OR (u.os = 0 AND d.os > 0) OR (u.gone = 0 AND '
     'd.gone > 0)) ON CONFLICT (app_id, experiment_id, unit_id) DO UPDATE SET imp = '
     'excluded.imp, os = excluded.os, gone = excluded.gone;\n'
     'END'),
    ('CREATE TRIGGER experiment_device_state AFTER UPDATE OF state_key ON devices WHEN '
     'OLD.state_key IS DISTINCT FROM NEW.state_key AND EXISTS (SELECT 1 FROM '
     'experiment_units WHERE app_id = NEW.app_id AND device_id = NEW.device_id) BEGIN\n'
     '  INSERT INTO experiment_states (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, state_key, n) SELECT u.app_id, u.experiment_id, u.arm, '
     "u.platform, u.profile, u.cohort_day, 0, coalesce(OLD.state_key, ''), -1 FROM "
     'experiment_units u WHERE u.app_id = NEW.app_id AND u.device_id = NEW.device_id ON '
     'CONFLICT (app_id, experiment_id, arm, platform, profile, cohort_day, shard, '
     'state_key) DO UPDATE SET n = experiment_states.n + excluded.n;\n'
     '  INSERT INTO experiment_states (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, state_key, n) SELECT u.app_id, u.experiment_id, u.arm, '
     "u.platform, u.profile, u.cohort_day, 0, coalesce(NEW.state_key, ''), 1 FROM "
     'experiment_units u WHERE u.app_id = NEW.app_id AND u.device_id = NEW.device_id ON '
     'CONFLICT (app_id, experiment_id, arm, platform, profile, cohort_day, shard, '
     'state_key) DO UPDATE SET n = experiment_states.n + excluded.n;\n'
     'END'),
)

POSTGRES: tuple[str, ...] = (
    ('CREATE TABLE experiment_meta (\n'
     '            app_id TEXT NOT NULL, experiment_id TEXT NOT NULL, end_at DOUBLE '
     'PRECISION,\n'
     '            server_clock INTEGER NOT NULL,\n'
     '            PRIMARY KEY (app_id, experiment_id))'),
    ('CREATE TABLE experiment_cold (\n'
     '            app_id TEXT NOT NULL, experiment_id TEXT NOT NULL, campaign_id TEXT '
     'NOT NULL,\n'
     '            PRIMARY KEY (app_id, experiment_id, campaign_id))'),
    ('CREATE TABLE experiment_units (\n'
     '            app_id TEXT NOT NULL, experiment_id TEXT NOT NULL, unit_id TEXT NOT '
     'NULL, arm TEXT NOT NULL, platform TEXT NOT NULL, profile TEXT NOT NULL, '
     'cohort_day TEXT NOT NULL,\n'
     '            device_id TEXT NOT NULL, device_at DOUBLE PRECISION NOT NULL, imp '
     'BIGINT NOT NULL DEFAULT 0, os BIGINT NOT NULL DEFAULT 0, gone BIGINT NOT NULL '
     'DEFAULT 0,\n'
     '            PRIMARY KEY (app_id, experiment_id, unit_id))'),
    ('CREATE INDEX experiment_units_by_device ON experiment_units (app_id, device_id)'),
    ('CREATE TABLE experiment_cells (\n'
     '            app_id TEXT NOT NULL, experiment_id TEXT NOT NULL, arm TEXT NOT NULL, '
     'platform TEXT NOT NULL, profile TEXT NOT NULL, cohort_day TEXT NOT NULL,\n'
     '            shard INTEGER NOT NULL, units BIGINT NOT NULL DEFAULT 0, imp BIGINT '
     'NOT NULL DEFAULT 0, acc BIGINT NOT NULL DEFAULT 0, dis BIGINT NOT NULL DEFAULT 0, '
     'u_imp BIGINT NOT NULL DEFAULT 0, os BIGINT NOT NULL DEFAULT 0, os_a BIGINT NOT '
     'NULL DEFAULT 0, os_d BIGINT NOT NULL DEFAULT 0, os_x BIGINT NOT NULL DEFAULT 0, '
     'u_os BIGINT NOT NULL DEFAULT 0, outs BIGINT NOT NULL DEFAULT 0, u_gone BIGINT NOT '
     'NULL DEFAULT 0,\n'
     '            PRIMARY KEY (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard))'),
    ('CREATE TABLE experiment_states (\n'
     '            app_id TEXT NOT NULL, experiment_id TEXT NOT NULL, arm TEXT NOT NULL, '
     'platform TEXT NOT NULL, profile TEXT NOT NULL, cohort_day TEXT NOT NULL,\n'
     '            shard INTEGER NOT NULL, state_key TEXT NOT NULL, n BIGINT NOT NULL,\n'
     '            PRIMARY KEY (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, state_key))'),
    ('CREATE INDEX assignments_by_device ON assignments (app_id, device_id)'),
    ('CREATE FUNCTION experiment_events_impression() RETURNS trigger LANGUAGE plpgsql '
     'AS $fn$\n'
     'BEGIN\n'
     '  IF NOT EXISTS (SELECT 1 FROM assignments WHERE app_id = NEW.app_id AND '
     'device_id = NEW.device_id) THEN RETURN NEW; END IF;\n'
     '  PERFORM 1 FROM experiment_units WHERE (app_id, experiment_id, unit_id) IN '
     '(SELECT app_id, experiment_id, unit_id FROM assignments WHERE app_id = NEW.app_id '
     'AND device_id = NEW.device_id) ORDER BY experiment_id, unit_id FOR UPDATE;\n'
     '  INSERT INTO experiment_cells (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, imp, u_imp) SELECT u.app_id, u.experiment_id, u.arm, '
     'u.platform, u.profile, u.cohort_day, (pg_backend_pid() % 64), d.imp, CASE WHEN '
     'u.imp = 0 AND d.imp > 0 THEN 1 ELSE 0 END FROM (SELECT a.app_id, a.experiment_id, '
     'a.unit_id, CASE WHEN (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     'NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     "NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = 'impression' AND "
     'NEW.campaign_id IS NOT NULL AND NOT (EXISTS (SELECT 1 FROM experiment_cold c '
     'WHERE c.app_id = a.app_id AND c.experiment_id = a.experiment_id AND c.campaign_id '
     '= NEW.campaign_id)) THEN 1 ELSE 0 END AS imp FROM assignments a JOIN '
     'experiment_meta m ON m.app_id = a.app_id AND m.experiment_id = a.experiment_id '
     'WHERE a.app_id = NEW.app_id AND a.device_id = NEW.device_id) d JOIN '
     'experiment_units u ON u.app_id = d.app_id AND u.experiment_id = d.experiment_id '
     'AND u.unit_id = d.unit_id WHERE d.imp > 0 ON CONFLICT (app_id, experiment_id, '
     'arm, platform, profile, cohort_day, shard) DO UPDATE SET imp = '
     'experiment_cells.imp + excluded.imp, u_imp = experiment_cells.u_imp + '
     'excluded.u_imp;\n'
     '  INSERT INTO experiment_units (app_id, experiment_id, unit_id, arm, platform, '
     'profile, cohort_day, device_id, device_at, imp) SELECT u.app_id, u.experiment_id, '
     'u.unit_id, u.arm, u.platform, u.profile, u.cohort_day, u.device_id, u.device_at, '
     'CASE WHEN d.imp > 0 THEN 1 ELSE u.imp END FROM (SELECT a.app_id, a.experiment_id, '
     'a.unit_id, CASE WHEN (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     'NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     "NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = 'impression' AND "
     'NEW.campaign_id IS NOT NULL AND NOT (EXISTS (SELECT 1 FROM experiment_cold c '
     'WHERE c.app_id = a.app_id AND c.experiment_id = a.experiment_id AND c.campaign_id '
     '= NEW.campaign_id)) THEN 1 ELSE 0 END AS imp FROM assignments a JOIN '
     'experiment_meta m ON m.app_id = a.app_id AND m.experiment_id = a.experiment_id '
     'WHERE a.app_id = NEW.app_id AND a.device_id = NEW.device_id) d JOIN '
     'experiment_units u ON u.app_id = d.app_id AND u.experiment_id = d.experiment_id '
     'AND u.unit_id = d.unit_id WHERE EXISTS (SELECT 1 FROM assignments w JOIN '
     'experiment_units v ON v.app_id = w.app_id AND v.experiment_id = w.experiment_id '
     'AND v.unit_id = w.unit_id WHERE w.app_id = NEW.app_id AND w.device_id = '
     'NEW.device_id AND (v.imp = 0)) AND ((u.imp = 0 AND d.imp > 0)) ON CONFLICT '
     '(app_id, experiment_id, unit_id) DO UPDATE SET imp = excluded.imp;\n'
     '  RETURN NEW;\n'
     'END\n'
     '$fn$'),
    ('CREATE TRIGGER experiment_events_impression BEFORE INSERT ON events FOR EACH ROW '
     "WHEN (NEW.kind = 'impression') EXECUTE FUNCTION experiment_events_impression()"),
    ('CREATE FUNCTION experiment_events_soft_prompt_clicked() RETURNS trigger LANGUAGE '
     'plpgsql AS $fn$\n'
     'BEGIN\n'
     '  IF NOT EXISTS (SELECT 1 FROM assignments WHERE app_id = NEW.app_id AND '
     'device_id = NEW.device_id) THEN RETURN NEW; END IF;\n'
     '  PERFORM 1 FROM experiment_units WHERE (app_id, experiment_id, unit_id) IN '
     '(SELECT app_id, experiment_id, unit_id FROM assignments WHERE app_id = NEW.app_id '
     'AND device_id = NEW.device_id) ORDER BY experiment_id, unit_id FOR UPDATE;\n'
     '  INSERT INTO experiment_cells (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, acc) SELECT u.app_id, u.experiment_id, u.arm, u.platform, '
     'u.profile, u.cohort_day, (pg_backend_pid() % 64), d.acc FROM (SELECT a.app_id, '
     'a.experiment_id, a.unit_id, CASE WHEN (CASE WHEN m.server_clock = 1 THEN '
     'NEW.received_at ELSE NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN '
     'NEW.received_at ELSE NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = '
     "'soft_prompt_clicked' THEN 1 ELSE 0 END AS acc FROM assignments a JOIN "
     'experiment_meta m ON m.app_id = a.app_id AND m.experiment_id = a.experiment_id '
     'WHERE a.app_id = NEW.app_id AND a.device_id = NEW.device_id) d JOIN '
     'experiment_units u ON u.app_id = d.app_id AND u.experiment_id = d.experiment_id '
     'AND u.unit_id = d.unit_id WHERE d.acc > 0 ON CONFLICT (app_id, experiment_id, '
     'arm, platform, profile, cohort_day, shard) DO UPDATE SET acc = '
     'experiment_cells.acc + excluded.acc;\n'
     '  RETURN NEW;\n'
     'END\n'
     '$fn$'),
    ('CREATE TRIGGER experiment_events_soft_prompt_clicked BEFORE INSERT ON events FOR '
     "EACH ROW WHEN (NEW.kind = 'soft_prompt_clicked') EXECUTE FUNCTION "
     'experiment_events_soft_prompt_clicked()'),
    ('CREATE FUNCTION experiment_events_soft_prompt_dismissed() RETURNS trigger '
     'LANGUAGE plpgsql AS $fn$\n'
     'BEGIN\n'
     '  IF NOT EXISTS (SELECT 1 FROM assignments WHERE app_id = NEW.app_id AND '
     'device_id = NEW.device_id) THEN RETURN NEW; END IF;\n'
     '  PERFORM 1 FROM experiment_units WHERE (app_id, experiment_id, unit_id) IN '
     '(SELECT app_id, experiment_id, unit_id FROM assignments WHERE app_id = NEW.app_id '
     'AND device_id = NEW.device_id) ORDER BY experiment_id, unit_id FOR UPDATE;\n'
     '  INSERT INTO experiment_cells (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, dis) SELECT u.app_id, u.experiment_id, u.arm, u.platform, '
     'u.profile, u.cohort_day, (pg_backend_pid() % 64), d.dis FROM (SELECT a.app_id, '
     'a.experiment_id, a.unit_id, CASE WHEN (CASE WHEN m.server_clock = 1 THEN '
     'NEW.received_at ELSE NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN '
     'NEW.received_at ELSE NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = '
     "'soft_prompt_dismissed' AND NEW.detail IS NULL THEN 1 ELSE 0 END AS dis FROM "
     'assignments a JOIN experiment_meta m ON m.app_id = a.app_id AND m.experiment_id = '
     'a.experiment_id WHERE a.app_id = NEW.app_id AND a.device_id = NEW.device_id) d '
     'JOIN experiment_units u ON u.app_id = d.app_id AND u.experiment_id = '
     'd.experiment_id AND u.unit_id = d.unit_id WHERE d.dis > 0 ON CONFLICT (app_id, '
     'experiment_id, arm, platform, profile, cohort_day, shard) DO UPDATE SET dis = '
     'experiment_cells.dis + excluded.dis;\n'
     '  RETURN NEW;\n'
     'END\n'
     '$fn$'),
    ('CREATE TRIGGER experiment_events_soft_prompt_dismissed BEFORE INSERT ON events '
     "FOR EACH ROW WHEN (NEW.kind = 'soft_prompt_dismissed') EXECUTE FUNCTION "
     'experiment_events_soft_prompt_dismissed()'),
    ('CREATE FUNCTION experiment_events_os_dialog_result() RETURNS trigger LANGUAGE '
     'plpgsql AS $fn$\n'
     'BEGIN\n'
     '  IF NOT EXISTS (SELECT 1 FROM assignments WHERE app_id = NEW.app_id AND '
     'device_id = NEW.device_id) THEN RETURN NEW; END IF;\n'
     '  PERFORM 1 FROM experiment_units WHERE (app_id, experiment_id, unit_id) IN '
     '(SELECT app_id, experiment_id, unit_id FROM assignments WHERE app_id = NEW.app_id '
     'AND device_id = NEW.device_id) ORDER BY experiment_id, unit_id FOR UPDATE;\n'
     '  INSERT INTO experiment_cells (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, os, os_a, os_d, os_x, outs, u_os) SELECT u.app_id, '
     'u.experiment_id, u.arm, u.platform, u.profile, u.cohort_day, (pg_backend_pid() % '
     '64), d.os, d.os_a, d.os_d, d.os_x, d.outs, CASE WHEN u.os = 0 AND d.os > 0 THEN 1 '
     'ELSE 0 END FROM (SELECT a.app_id, a.experiment_id, a.unit_id, CASE WHEN (CASE '
     'WHEN m.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) >= a.at AND (CASE '
     'WHEN m.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) < '
     "coalesce(m.end_at, 1e300) AND NEW.kind = 'os_dialog_result' THEN 1 ELSE 0 END AS "
     'os, CASE WHEN (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) '
     '>= a.at AND (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) < '
     "coalesce(m.end_at, 1e300) AND NEW.kind = 'os_dialog_result' AND NEW.detail = "
     "'allowed' THEN 1 ELSE 0 END AS os_a, CASE WHEN (CASE WHEN m.server_clock = 1 THEN "
     'NEW.received_at ELSE NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN '
     'NEW.received_at ELSE NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = '
     "'os_dialog_result' AND NEW.detail = 'denied' THEN 1 ELSE 0 END AS os_d, CASE WHEN "
     '(CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) >= a.at AND '
     '(CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) < '
     "coalesce(m.end_at, 1e300) AND NEW.kind = 'os_dialog_result' AND NEW.detail = "
     "'dismissed' THEN 1 ELSE 0 END AS os_x, CASE WHEN (CASE WHEN m.server_clock = 1 "
     'THEN NEW.received_at ELSE NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 '
     'THEN NEW.received_at ELSE NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = '
     "'permission_changed' AND NEW.detail = 'denied' AND EXISTS (SELECT 1 FROM events g "
     'WHERE g.app_id = NEW.app_id AND g.device_id = NEW.device_id AND g.at < NEW.at AND '
     "((g.kind = 'os_dialog_result' AND g.detail = 'allowed') OR (g.kind = "
     "'permission_changed' AND g.detail = 'granted'))) THEN 1 ELSE 0 END + CASE WHEN "
     "((NEW.kind = 'os_dialog_result' AND NEW.detail = 'allowed') OR (NEW.kind = "
     "'permission_changed' AND NEW.detail = 'granted')) THEN (SELECT count(*) FROM "
     'events x WHERE x.app_id = NEW.app_id AND x.device_id = NEW.device_id AND x.kind = '
     "'permission_changed' AND x.detail = 'denied' AND x.at > NEW.at AND (CASE WHEN "
     'm.server_clock = 1 THEN x.received_at ELSE x.at END) >= a.at AND (CASE WHEN '
     'm.server_clock = 1 THEN x.received_at ELSE x.at END) < coalesce(m.end_at, 1e300) '
     'AND NOT EXISTS (SELECT 1 FROM events g WHERE g.app_id = x.app_id AND g.device_id '
     "= x.device_id AND g.at < x.at AND ((g.kind = 'os_dialog_result' AND g.detail = "
     "'allowed') OR (g.kind = 'permission_changed' AND g.detail = 'granted')))) ELSE 0 "
     'END AS outs FROM assignments a JOIN experiment_meta m ON m.app_id = a.app_id AND '
     'm.experiment_id = a.experiment_id WHERE a.app_id = NEW.app_id AND a.device_id = '
     'NEW.device_id) d JOIN experiment_units u ON u.app_id = d.app_id AND '
     'u.experiment_id = d.experiment_id AND u.unit_id = d.unit_id WHERE d.os + d.os_a + '
     'd.os_d + d.os_x + d.outs > 0 ON CONFLICT (app_id, experiment_id, arm, platform, '
     'profile, cohort_day, shard) DO UPDATE SET os = experiment_cells.os + excluded.os, '
     'os_a = experiment_cells.os_a + excluded.os_a, os_d = experiment_cells.os_d + '
     'excluded.os_d, os_x = experiment_cells.os_x + excluded.os_x, outs = '
     'experiment_cells.outs + excluded.outs, u_os = experiment_cells.u_os + '
     'excluded.u_os;\n'
     '  INSERT INTO experiment_units (app_id, experiment_id, unit_id, arm, platform, '
     'profile, cohort_day, device_id, device_at, os) SELECT u.app_id, u.experiment_id, '
     'u.unit_id, u.arm, u.platform, u.profile, u.cohort_day, u.device_id, u.device_at, '
     'CASE WHEN d.os > 0 THEN 1 ELSE u.os END FROM (SELECT a.app_id, a.experiment_id, '
     'a.unit_id, CASE WHEN (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     'NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     "NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = 'os_dialog_result' THEN 1 "
     'ELSE 0 END AS os, CASE WHEN (CASE WHEN m.server_clock = 1 THEN NEW.received_at '
     'ELSE NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN NEW.received_at '
     "ELSE NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = 'os_dialog_result' "
     "AND NEW.detail = 'allowed' THEN 1 ELSE 0 END AS os_a, CASE WHEN (CASE WHEN "
     'm.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) >= a.at AND (CASE WHEN '
     'm.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) < coalesce(m.end_at, '
     "1e300) AND NEW.kind = 'os_dialog_result' AND NEW.detail = 'denied' THEN 1 ELSE 0 "
     'END AS os_d, CASE WHEN (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     'NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE '
     "NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = 'os_dialog_result' AND "
     "NEW.detail = 'dismissed' THEN 1 ELSE 0 END AS os_x, CASE WHEN (CASE WHEN "
     'm.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) >= a.at AND (CASE WHEN '
     'm.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) < coalesce(m.end_at, '
     "1e300) AND NEW.kind = 'permission_changed' AND NEW.detail = 'denied' AND EXISTS "
     '(SELECT 1 FROM events g WHERE g.app_id = NEW.app_id AND g.device_id = '
     "NEW.device_id AND g.at < NEW.at AND ((g.kind = 'os_dialog_result' AND g.detail = "
     "'allowed') OR (g.kind = 'permission_changed' AND g.detail = 'granted'))) THEN 1 "
     "ELSE 0 END + CASE WHEN ((NEW.kind = 'os_dialog_result' AND NEW.detail = "
     "'allowed') OR (NEW.kind = 'permission_changed' AND NEW.detail = 'granted')) THEN "
     '(SELECT count(*) FROM events x WHERE x.app_id = NEW.app_id AND x.device_id = '
     "NEW.device_id AND x.kind = 'permission_changed' AND x.detail = 'denied' AND x.at "
     '> NEW.at AND (CASE WHEN m.server_clock = 1 THEN x.received_at ELSE x.at END) >= '
     'a.at AND (CASE WHEN m.server_clock = 1 THEN x.received_at ELSE x.at END) < '
     'coalesce(m.end_at, 1e300) AND NOT EXISTS (SELECT 1 FROM events g WHERE g.app_id = '
     'x.app_id AND g.device_id = x.device_id AND g.at < x.at AND ((g.kind = '
     "'os_dialog_result' AND g.detail = 'allowed') OR (g.kind = 'permission_changed' "
     "AND g.detail = 'granted')))) ELSE 0 END AS outs FROM assignments a JOIN "
     'experiment_meta m ON m.app_id = a.app_id AND m.experiment_id = a.experiment_id '
     'WHERE a.app_id = NEW.app_id AND a.device_id = NEW.device_id) d JOIN '
     'experiment_units u ON u.app_id = d.app_id AND u.experiment_id = d.experiment_id '
     'AND u.unit_id = d.unit_id WHERE EXISTS (SELECT 1 FROM assignments w JOIN '
     'experiment_units v ON v.app_id = w.app_id AND v.experiment_id = w.experiment_id '
     'AND v.unit_id = w.unit_id WHERE w.app_id = NEW.app_id AND w.device_id = '
     'NEW.device_id AND (v.os = 0)) AND ((u.os = 0 AND d.os > 0)) ON CONFLICT (app_id, '
     'experiment_id, unit_id) DO UPDATE SET os = excluded.os;\n'
     '  RETURN NEW;\n'
     'END\n'
     '$fn$'),
    ('CREATE TRIGGER experiment_events_os_dialog_result BEFORE INSERT ON events FOR '
     "EACH ROW WHEN (NEW.kind = 'os_dialog_result') EXECUTE FUNCTION "
     'experiment_events_os_dialog_result()'),
    ('CREATE FUNCTION experiment_events_permission_changed() RETURNS trigger LANGUAGE '
     'plpgsql AS $fn$\n'
     'BEGIN\n'
     '  IF NOT EXISTS (SELECT 1 FROM assignments WHERE app_id = NEW.app_id AND '
     'device_id = NEW.device_id) THEN RETURN NEW; END IF;\n'
     '  PERFORM 1 FROM experiment_units WHERE (app_id, experiment_id, unit_id) IN '
     '(SELECT app_id, experiment_id, unit_id FROM assignments WHERE app_id = NEW.app_id '
     'AND device_id = NEW.device_id) ORDER BY experiment_id, unit_id FOR UPDATE;\n'
     '  INSERT INTO experiment_cells (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, outs) SELECT u.app_id, u.experiment_id, u.arm, u.platform, '
     'u.profile, u.cohort_day, (pg_backend_pid() % 64), d.outs FROM (SELECT a.app_id, '
     'a.experiment_id, a.unit_id, CASE WHEN (CASE WHEN m.server_clock = 1 THEN '
     'NEW.received_at ELSE NEW.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN '
     'NEW.received_at ELSE NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind = '
     "'permission_changed' AND NEW.detail = 'denied' AND EXISTS (SELECT 1 FROM events g "
     'WHERE g.app_id = NEW.app_id AND g.device_id = NEW.device_id AND g.at < NEW.at AND '
     "((g.kind = 'os_dialog_result' AND g.detail = 'allowed') OR (g.kind = "
     "'permission_changed' AND g.detail = 'granted'))) THEN 1 ELSE 0 END + CASE WHEN "
     "((NEW.kind = 'os_dialog_result' AND NEW.detail = 'allowed') OR (NEW.kind = "
     "'permission_changed' AND NEW.detail = 'granted')) THEN (SELECT count(*) FROM "
     'events x WHERE x.app_id = NEW.app_id AND x.device_id = NEW.device_id AND x.kind = '
     "'permission_changed' AND x.detail = 'denied' AND x.at > NEW.at AND (CASE WHEN "
     'm.server_clock = 1 THEN x.received_at ELSE x.at END) >= a.at AND (CASE WHEN '
     'm.server_clock = 1 THEN x.received_at ELSE x.at END) < coalesce(m.end_at, 1e300) '
     'AND NOT EXISTS (SELECT 1 FROM events g WHERE g.app_id = x.app_id AND g.device_id '
     "= x.device_id AND g.at < x.at AND ((g.kind = 'os_dialog_result' AND g.detail = "
     "'allowed') OR (g.kind = 'permission_changed' AND g.detail = 'granted')))) ELSE 0 "
     'END AS outs FROM assignments a JOIN experiment_meta m ON m.app_id = a.app_id AND '
     'm.experiment_id = a.experiment_id WHERE a.app_id = NEW.app_id AND a.device_id = '
     'NEW.device_id) d JOIN experiment_units u ON u.app_id = d.app_id AND '
     'u.experiment_id = d.experiment_id AND u.unit_id = d.unit_id WHERE d.outs > 0 ON '
     'CONFLICT (app_id, experiment_id, arm, platform, profile, cohort_day, shard) DO '
     'UPDATE SET outs = experiment_cells.outs + excluded.outs;\n'
     '  RETURN NEW;\n'
     'END\n'
     '$fn$'),
    ('CREATE TRIGGER experiment_events_permission_changed BEFORE INSERT ON events FOR '
     "EACH ROW WHEN (NEW.kind = 'permission_changed') EXECUTE FUNCTION "
     'experiment_events_permission_changed()'),
    ('CREATE FUNCTION experiment_events_uninstalled() RETURNS trigger LANGUAGE plpgsql '
     'AS $fn$\n'
     'BEGIN\n'
     '  IF NOT EXISTS (SELECT 1 FROM assignments WHERE app_id = NEW.app_id AND '
     'device_id = NEW.device_id) THEN RETURN NEW; END IF;\n'
     '  PERFORM 1 FROM experiment_units WHERE (app_id, experiment_id, unit_id) IN '
     '(SELECT app_id, experiment_id, unit_id FROM assignments WHERE app_id = NEW.app_id '
     'AND device_id = NEW.device_id) ORDER BY experiment_id, unit_id FOR UPDATE;\n'
     '  INSERT INTO experiment_cells (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, u_gone) SELECT u.app_id, u.experiment_id, u.arm, u.platform, '
     'u.profile, u.cohort_day, (pg_backend_pid() % 64), CASE WHEN u.gone = 0 AND d.gone '
     '> 0 THEN 1 ELSE 0 END FROM (SELECT a.app_id, a.experiment_id, a.unit_id, CASE '
     'WHEN (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) >= a.at '
     'AND (CASE WHEN m.server_clock = 1 THEN NEW.received_at ELSE NEW.at END) < '
     "coalesce(m.end_at, 1e300) AND NEW.kind = 'uninstalled' THEN 1 ELSE 0 END AS gone "
     'FROM assignments a JOIN experiment_meta m ON m.app_id = a.app_id AND '
     'm.experiment_id = a.experiment_id WHERE a.app_id = NEW.app_id AND a.device_id = '
     'NEW.device_id) d JOIN experiment_units u ON u.app_id = d.app_id AND '
     'u.experiment_id = d.experiment_id AND u.unit_id = d.unit_id WHERE d.gone > 0 ON '
     'CONFLICT (app_id, experiment_id, arm, platform, profile, cohort_day, shard) DO '
     'UPDATE SET u_gone = experiment_cells.u_gone + excluded.u_gone;\n'
     '  INSERT INTO experiment_units (app_id, experiment_id, unit_id, arm, platform, '
     'profile, cohort_day, device_id, device_at, gone) SELECT u.app_id, '
     'u.experiment_id, u.unit_id, u.arm, u.platform, u.profile, u.cohort_day, '
     'u.device_id, u.device_at, CASE WHEN d.gone > 0 THEN 1 ELSE u.gone END FROM '
     '(SELECT a.app_id, a.experiment_id, a.unit_id, CASE WHEN (CASE WHEN m.server_clock '
     '= 1 THEN NEW.received_at ELSE NEW.at END) >= a.at AND (CASE WHEN m.server_clock = '
     '1 THEN NEW.received_at ELSE NEW.at END) < coalesce(m.end_at, 1e300) AND NEW.kind '
     "= 'uninstalled' THEN 1 ELSE 0 END AS gone FROM assignments a JOIN experiment_meta "
     'm ON m.app_id = a.app_id AND m.experiment_id = a.experiment_id WHERE a.app_id = '
     'NEW.app_id AND a.device_id = NEW.device_id) d JOIN experiment_units u ON u.app_id '
     '= d.app_id AND u.experiment_id = d.experiment_id AND u.unit_id = d.unit_id WHERE '
     'EXISTS (SELECT 1 FROM assignments w JOIN experiment_units v ON v.app_id = '
     'w.app_id AND v.experiment_id = w.experiment_id AND v.unit_id = w.unit_id WHERE '
     'w.app_id = NEW.app_id AND w.device_id = NEW.device_id AND (v.gone = 0)) AND '
     '((u.gone = 0 AND d.gone > 0)) ON CONFLICT (app_id, experiment_id, unit_id) DO '
     'UPDATE SET gone = excluded.gone;\n'
     '  RETURN NEW;\n'
     'END\n'
     '$fn$'),
    ('CREATE TRIGGER experiment_events_uninstalled BEFORE INSERT ON events FOR EACH ROW '
     "WHEN (NEW.kind = 'uninstalled') EXECUTE FUNCTION experiment_events_uninstalled()"),
    ('CREATE FUNCTION experiment_assigned() RETURNS trigger LANGUAGE plpgsql AS $fn$\n'
     'BEGIN\n'
     "  PERFORM pg_advisory_xact_lock(hashtext(NEW.app_id || ' ' || NEW.experiment_id "
     "|| ' ' || NEW.unit_id));\n"
     '  PERFORM 1 FROM devices WHERE app_id = NEW.app_id AND device_id = NEW.device_id '
     'FOR UPDATE;\n'
     '  PERFORM 1 FROM experiment_units WHERE app_id = NEW.app_id AND experiment_id = '
     'NEW.experiment_id AND unit_id = NEW.unit_id FOR UPDATE;\n'
     '  INSERT INTO experiment_states (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, state_key, n) SELECT u.app_id, u.experiment_id, u.arm, '
     'u.platform, u.profile, u.cohort_day, (pg_backend_pid() % 64), '
     "coalesce(dv.state_key, ''), -1 FROM experiment_units u JOIN devices dv ON "
     'dv.app_id = u.app_id AND dv.device_id = u.device_id WHERE u.app_id = NEW.app_id '
     'AND u.experiment_id = NEW.experiment_id AND u.unit_id = NEW.unit_id AND (NEW.at > '
     'u.device_at OR (NEW.at = u.device_at AND NEW.device_id > u.device_id)) ON '
     'CONFLICT (app_id, experiment_id, arm, platform, profile, cohort_day, shard, '
     'state_key) DO UPDATE SET n = experiment_states.n + excluded.n;\n'
     '  INSERT INTO experiment_cells (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, units, imp, acc, dis, u_imp, os, os_a, os_d, os_x, u_os, outs, '
     'u_gone) SELECT NEW.app_id, NEW.experiment_id, NEW.arm, NEW.platform, NEW.profile, '
     'NEW.cohort_day, (pg_backend_pid() % 64), 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 FROM '
     'experiment_meta m WHERE m.app_id = NEW.app_id AND m.experiment_id = '
     'NEW.experiment_id AND NOT EXISTS (SELECT 1 FROM experiment_units u WHERE u.app_id '
     '= NEW.app_id AND u.experiment_id = NEW.experiment_id AND u.unit_id = NEW.unit_id) '
     'ON CONFLICT (app_id, experiment_id, arm, platform, profile, cohort_day, shard) DO '
     'UPDATE SET units = experiment_cells.units + excluded.units, imp = '
     'experiment_cells.imp + excluded.imp, acc = experiment_cells.acc + excluded.acc, '
     'dis = experiment_cells.dis + excluded.dis, u_imp = experiment_cells.u_imp + '
     'excluded.u_imp, os = experiment_cells.os + excluded.os, os_a = '
     'experiment_cells.os_a + excluded.os_a, os_d = experiment_cells.os_d + '
     'excluded.os_d, os_x = experiment_cells.os_x + excluded.os_x, u_os = '
     'experiment_cells.u_os + excluded.u_os, outs = experiment_cells.outs + '
     'excluded.outs, u_gone = experiment_cells.u_gone + excluded.u_gone;\n'
     '  INSERT INTO experiment_units (app_id, experiment_id, unit_id, arm, platform, '
     'profile, cohort_day, device_id, device_at) SELECT NEW.app_id, NEW.experiment_id, '
     'NEW.unit_id, NEW.arm, NEW.platform, NEW.profile, NEW.cohort_day, NEW.device_id, '
     'NEW.at FROM experiment_meta m WHERE m.app_id = NEW.app_id AND m.experiment_id = '
     'NEW.experiment_id ON CONFLICT (app_id, experiment_id, unit_id) DO UPDATE SET '
     'device_id = excluded.device_id, device_at = excluded.device_at WHERE '
     'excluded.device_at > experiment_units.device_at OR (excluded.device_at = '
     'experiment_units.device_at AND excluded.device_id > experiment_units.device_id);\n'
     '  INSERT INTO experiment_states (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, state_key, n) SELECT u.app_id, u.experiment_id, u.arm, '
     'u.platform, u.profile, u.cohort_day, (pg_backend_pid() % 64), '
     "coalesce(dv.state_key, ''), 1 FROM experiment_units u JOIN devices dv ON "
     'dv.app_id = u.app_id AND dv.device_id = u.device_id WHERE u.app_id = NEW.app_id '
     'AND u.experiment_id = NEW.experiment_id AND u.unit_id = NEW.unit_id AND '
     'u.device_id = NEW.device_id ON CONFLICT (app_id, experiment_id, arm, platform, '
     'profile, cohort_day, shard, state_key) DO UPDATE SET n = experiment_states.n + '
     'excluded.n;\n'
     '  INSERT INTO experiment_cells (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, imp, acc, dis, os, os_a, os_d, os_x, outs, u_imp, u_os, '
     'u_gone) SELECT u.app_id, u.experiment_id, u.arm, u.platform, u.profile, '
     'u.cohort_day, (pg_backend_pid() % 64), d.imp, d.acc, d.dis, d.os, d.os_a, d.os_d, '
     'd.os_x, d.outs, CASE WHEN u.imp = 0 AND d.imp > 0 THEN 1 ELSE 0 END, CASE WHEN '
     'u.os = 0 AND d.os > 0 THEN 1 ELSE 0 END, CASE WHEN u.gone = 0 AND d.gone > 0 THEN '
     '1 ELSE 0 END FROM (SELECT a.app_id, a.experiment_id, a.unit_id, sum(CASE WHEN '
     "e.kind = 'impression' AND e.campaign_id IS NOT NULL AND NOT (EXISTS (SELECT 1 "
     'FROM experiment_cold c WHERE c.app_id = a.app_id AND c.experiment_id = '
     'a.experiment_id AND c.campaign_id = e.campaign_id)) THEN 1 ELSE 0 END) AS imp, '
     "sum(CASE WHEN e.kind = 'soft_prompt_clicked' THEN 1 ELSE 0 END) AS acc, sum(CASE "
     "WHEN e.kind = 'soft_prompt_dismissed' AND e.detail IS NULL THEN 1 ELSE 0 END) AS "
     "dis, sum(CASE WHEN e.kind = 'os_dialog_result' THEN 1 ELSE 0 END) AS os, sum(CASE "
     "WHEN e.kind = 'os_dialog_result' AND e.detail = 'allowed' THEN 1 ELSE 0 END) AS "
     "os_a, sum(CASE WHEN e.kind = 'os_dialog_result' AND e.detail = 'denied' THEN 1 "
     "ELSE 0 END) AS os_d, sum(CASE WHEN e.kind = 'os_dialog_result' AND e.detail = "
     "'dismissed' THEN 1 ELSE 0 END) AS os_x, sum(CASE WHEN e.kind = "
     "'permission_changed' AND e.detail = 'denied' AND EXISTS (SELECT 1 FROM events g "
     'WHERE g.app_id = e.app_id AND g.device_id = e.device_id AND g.at < e.at AND '
     "((g.kind = 'os_dialog_result' AND g.detail = 'allowed') OR (g.kind = "
     "'permission_changed' AND g.detail = 'granted'))) THEN 1 ELSE 0 END) AS outs, "
     "sum(CASE WHEN e.kind = 'uninstalled' THEN 1 ELSE 0 END) AS gone FROM assignments "
     'a JOIN experiment_meta m ON m.app_id = a.app_id AND m.experiment_id = '
     'a.experiment_id JOIN events e ON e.app_id = a.app_id AND e.device_id = '
     'a.device_id AND (CASE WHEN m.server_clock = 1 THEN e.received_at ELSE e.at END) '
     '>= a.at AND (CASE WHEN m.server_clock = 1 THEN e.received_at ELSE e.at END) < '
     'coalesce(m.end_at, 1e300) WHERE a.app_id = NEW.app_id AND a.experiment_id = '
     'NEW.experiment_id AND a.device_id = NEW.device_id GROUP BY a.app_id, '
     'a.experiment_id, a.unit_id) d JOIN experiment_units u ON u.app_id = d.app_id AND '
     'u.experiment_id = d.experiment_id AND u.unit_id = d.unit_id WHERE d.imp + d.acc + '
     'd.dis + d.os + d.os_a + d.os_d + d.os_x + d.outs + d.gone > 0 ON CONFLICT '
     '(app_id, experiment_id, arm, platform, profile, cohort_day, shard) DO UPDATE SET '
     'imp = experiment_cells.imp + excluded.imp, acc = experiment_cells.acc + '
     'excluded.acc, dis = experiment_cells.dis + excluded.dis, os = experiment_cells.os '
     '+ excluded.os, os_a = experiment_cells.os_a + excluded.os_a, os_d = '
     'experiment_cells.os_d + excluded.os_d, os_x = experiment_cells.os_x + '
     'excluded.os_x, outs = experiment_cells.outs + excluded.outs, u_imp = '
     'experiment_cells.u_imp + excluded.u_imp, u_os = experiment_cells.u_os + '
     'excluded.u_os, u_gone = experiment_cells.u_gone + excluded.u_gone;\n'
     '  INSERT INTO experiment_units (app_id, experiment_id, unit_id, arm, platform, '
     'profile, cohort_day, device_id, device_at, imp, os, gone) SELECT u.app_id, '
     'u.experiment_id, u.unit_id, u.arm, u.platform, u.profile, u.cohort_day, '
     'u.device_id, u.device_at, CASE WHEN d.imp > 0 THEN 1 ELSE u.imp END, CASE WHEN '
     'd.os > 0 THEN 1 ELSE u.os END, CASE WHEN d.gone > 0 THEN 1 ELSE u.gone END FROM '
     "(SELECT a.app_id, a.experiment_id, a.unit_id, sum(CASE WHEN e.kind = 'impression' "
     'AND e.campaign_id IS NOT NULL AND NOT (EXISTS (SELECT 1 FROM experiment_cold c '
     'WHERE c.app_id = a.app_id AND c.experiment_id = a.experiment_id AND c.campaign_id '
     '= e.campaign_id)) THEN 1 ELSE 0 END) AS imp, sum(CASE WHEN e.kind = '
     "'soft_prompt_clicked' THEN 1 ELSE 0 END) AS acc, sum(CASE WHEN e.kind = "
     "'soft_prompt_dismissed' AND e.detail IS NULL THEN 1 ELSE 0 END) AS dis, sum(CASE "
     "WHEN e.kind = 'os_dialog_result' THEN 1 ELSE 0 END) AS os, sum(CASE WHEN e.kind = "
     "'os_dialog_result' AND e.detail = 'allowed' THEN 1 ELSE 0 END) AS os_a, sum(CASE "
     "WHEN e.kind = 'os_dialog_result' AND e.detail = 'denied' THEN 1 ELSE 0 END) AS "
     "os_d, sum(CASE WHEN e.kind = 'os_dialog_result' AND e.detail = 'dismissed' THEN 1 "
     "ELSE 0 END) AS os_x, sum(CASE WHEN e.kind = 'permission_changed' AND e.detail = "
     "'denied' AND EXISTS (SELECT 1 FROM events g WHERE g.app_id = e.app_id AND "
     "g.device_id = e.device_id AND g.at < e.at AND ((g.kind = 'os_dialog_result' AND "
     "g.detail = 'allowed') OR (g.kind = 'permission_changed' AND g.detail = "
     "'granted'))) THEN 1 ELSE 0 END) AS outs, sum(CASE WHEN e.kind = 'uninstalled' "
     'THEN 1 ELSE 0 END) AS gone FROM assignments a JOIN experiment_meta m ON m.app_id '
     '= a.app_id AND m.experiment_id = a.experiment_id JOIN events e ON e.app_id = '
     'a.app_id AND e.device_id = a.device_id AND (CASE WHEN m.server_clock = 1 THEN '
     'e.received_at ELSE e.at END) >= a.at AND (CASE WHEN m.server_clock = 1 THEN '
     'e.received_at ELSE e.at END) < coalesce(m.end_at, 1e300) WHERE a.app_id = '
     'NEW.app_id AND a.experiment_id = NEW.experiment_id AND a.device_id = '
     'NEW.device_id GROUP BY a.app_id, a.experiment_id, a.unit_id) d JOIN '
     'experiment_units u ON u.app_id = d.app_id AND u.experiment_id = d.experiment_id '
     'AND u.unit_id = d.unit_id WHERE EXISTS (SELECT 1 FROM assignments w JOIN '
     'experiment_units v ON v.app_id = w.app_id AND v.experiment_id = w.experiment_id '
     'AND v.unit_id = w.unit_id WHERE w.app_id = NEW.app_id AND w.device_id = '
     'NEW.device_id AND (v.imp = 0 OR v.os = 0 OR v.gone = 0)) AND ((u.imp = 0 AND '
     'd.imp > 0) OR (u.os = 0 AND d.os > 0) OR (u.gone = 0 AND d.gone > 0)) ON CONFLICT '
     '(app_id, experiment_id, unit_id) DO UPDATE SET imp = excluded.imp, os = '
     'excluded.os, gone = excluded.gone;\n'
     '  RETURN NEW;\n'
     'END\n'
     '$fn$'),
    ('CREATE TRIGGER experiment_assigned AFTER INSERT ON assignments FOR EACH ROW '
     'EXECUTE FUNCTION experiment_assigned()'),
    ('CREATE FUNCTION experiment_device_state() RETURNS trigger LANGUAGE plpgsql AS '
     '$fn$\n'
     'BEGIN\n'
     '  IF NOT EXISTS (SELECT 1 FROM experiment_units WHERE app_id = NEW.app_id AND '
     'device_id = NEW.device_id) THEN RETURN NEW; END IF;\n'
     '  PERFORM 1 FROM experiment_units WHERE app_id = NEW.app_id AND device_id = '
     'NEW.device_id ORDER BY experiment_id, unit_id FOR UPDATE;\n'
     '  INSERT INTO experiment_states (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, state_key, n) SELECT u.app_id, u.experiment_id, u.arm, '
     'u.platform, u.profile, u.cohort_day, (pg_backend_pid() % 64), '
     "coalesce(OLD.state_key, ''), -1 FROM experiment_units u WHERE u.app_id = "
     'NEW.app_id AND u.device_id = NEW.device_id ON CONFLICT (app_id, experiment_id, '
     'arm, platform, profile, cohort_day, shard, state_key) DO UPDATE SET n = '
     'experiment_states.n + excluded.n;\n'
     '  INSERT INTO experiment_states (app_id, experiment_id, arm, platform, profile, '
     'cohort_day, shard, state_key, n) SELECT u.app_id, u.experiment_id, u.arm, '
     'u.platform, u.profile, u.cohort_day, (pg_backend_pid() % 64), '
     "coalesce(NEW.state_key, ''), 1 FROM experiment_units u WHERE u.app_id = "
     'NEW.app_id AND u.device_id = NEW.device_id ON CONFLICT (app_id, experiment_id, '
     'arm, platform, profile, cohort_day, shard, state_key) DO UPDATE SET n = '
     'experiment_states.n + excluded.n;\n'
     '  RETURN NEW;\n'
     'END\n'
     '$fn$'),
    ('CREATE TRIGGER experiment_device_state AFTER UPDATE OF state_key ON devices FOR '
     'EACH ROW WHEN (OLD.state_key IS DISTINCT FROM NEW.state_key) EXECUTE FUNCTION '
     'experiment_device_state()'),
)
