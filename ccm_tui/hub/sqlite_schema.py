"""The hub schema for SQLite: the equivalent of ``supabase/migrations`` (no RLS, no NOTIFY).

Versioned with ``PRAGMA user_version``; each entry is applied once, in order.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from pathlib import Path

    from ccm_tui.hub.migrations import MigrationStatus

_NOW = "(strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))"

_CHANGE = (
    "INSERT INTO ccm_changes (kind, task_id, ref, created_at) VALUES ({kind}, {task}, {ref}, "
    + _NOW + ");"
)


def _trigger(name: str, when: str, table: str, kind: str, task: str, ref: str,
             condition: str = "") -> str:
    cond = f" WHEN {condition}" if condition else ""
    body = _CHANGE.format(kind=f"'{kind}'", task=task, ref=ref)
    return f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {when} ON {table}{cond} BEGIN {body} END;"


SCHEMA_V1 = f"""
CREATE TABLE IF NOT EXISTS ccm_hosts (
    name TEXT PRIMARY KEY, address TEXT NOT NULL DEFAULT '', port INTEGER NOT NULL DEFAULT 22,
    ssh_user TEXT NOT NULL DEFAULT '', groups TEXT NOT NULL DEFAULT '[]',
    labels TEXT NOT NULL DEFAULT '{{}}', managed INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL DEFAULT {_NOW});
CREATE TABLE IF NOT EXISTS ccm_health (
    id INTEGER PRIMARY KEY AUTOINCREMENT, host TEXT NOT NULL, taken_at TEXT NOT NULL,
    reachable INTEGER NOT NULL DEFAULT 1, cpu_pct REAL, mem_pct REAL, disk_pct REAL, load1 REAL,
    data TEXT NOT NULL DEFAULT '{{}}');
CREATE INDEX IF NOT EXISTS ccm_health_host_time ON ccm_health (host, taken_at DESC);
CREATE TABLE IF NOT EXISTS ccm_tasks (
    id TEXT PRIMARY KEY, host TEXT NOT NULL, alertname TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'new' CHECK (state IN ('new','claimed','diagnosing',
        'awaiting_approval','remediating','verifying','resolved','escalated','failed',
        'cancelled','resolved_upstream')),
    severity TEXT NOT NULL DEFAULT 'warning', alert_fingerprint TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '', managed INTEGER NOT NULL DEFAULT 1, runbook TEXT,
    confidence REAL, risk TEXT, decision TEXT, outcome TEXT, note TEXT NOT NULL DEFAULT '',
    spec TEXT NOT NULL DEFAULT '{{}}', result TEXT NOT NULL DEFAULT '{{}}', lease_owner TEXT,
    lease_expires_at TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    repeat_count INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, started_at TEXT, finished_at TEXT);
CREATE INDEX IF NOT EXISTS ccm_tasks_state ON ccm_tasks (state, created_at);
CREATE INDEX IF NOT EXISTS ccm_tasks_host ON ccm_tasks (host, alertname, state);
CREATE INDEX IF NOT EXISTS ccm_tasks_created ON ccm_tasks (created_at DESC);
CREATE TABLE IF NOT EXISTS ccm_alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, fingerprint TEXT NOT NULL, status TEXT NOT NULL,
    source TEXT NOT NULL, alertname TEXT NOT NULL, host TEXT NOT NULL,
    severity TEXT NOT NULL DEFAULT 'warning', labels TEXT NOT NULL DEFAULT '{{}}',
    annotations TEXT NOT NULL DEFAULT '{{}}', starts_at TEXT NOT NULL, ends_at TEXT,
    received_at TEXT NOT NULL, last_seen_at TEXT NOT NULL, seen_count INTEGER NOT NULL DEFAULT 1,
    task_id TEXT REFERENCES ccm_tasks (id) ON DELETE SET NULL,
    UNIQUE (fingerprint, status, starts_at));
CREATE INDEX IF NOT EXISTS ccm_alerts_received ON ccm_alerts (received_at DESC);
CREATE INDEX IF NOT EXISTS ccm_alerts_host ON ccm_alerts (host, alertname);
CREATE TABLE IF NOT EXISTS ccm_events (
    task_id TEXT NOT NULL REFERENCES ccm_tasks (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL CHECK (seq >= 1), type TEXT NOT NULL, ts TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{{}}', PRIMARY KEY (task_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ccm_approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL REFERENCES ccm_tasks (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('approve', 'reject', 'escalate')), actor TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, relayed_at TEXT);
CREATE INDEX IF NOT EXISTS ccm_approvals_task ON ccm_approvals (task_id, id);
CREATE TABLE IF NOT EXISTS ccm_audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '{{}}');
CREATE INDEX IF NOT EXISTS ccm_audit_ts ON ccm_audit_log (ts DESC);
CREATE TABLE IF NOT EXISTS ccm_runbook_stats (
    runbook TEXT NOT NULL, host_group TEXT NOT NULL, successes INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0, approvals INTEGER NOT NULL DEFAULT 0,
    rejections INTEGER NOT NULL DEFAULT 0, mode TEXT, updated_at TEXT NOT NULL,
    PRIMARY KEY (runbook, host_group));
CREATE TABLE IF NOT EXISTS ccm_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, dedup_key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending','sent','dead')),
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, sent_at TEXT,
    lease_owner TEXT, lease_expires_at TEXT);
CREATE INDEX IF NOT EXISTS ccm_outbox_due ON ccm_outbox (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS ccm_control (
    key TEXT PRIMARY KEY, paused INTEGER NOT NULL DEFAULT 0, actor TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL DEFAULT {_NOW});
INSERT OR IGNORE INTO ccm_control (key) VALUES ('fleet');
CREATE TABLE IF NOT EXISTS ccm_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, task_id TEXT, ref TEXT,
    created_at TEXT NOT NULL);
{_trigger("ccm_events_change", "INSERT", "ccm_events", "event", "NEW.task_id", "NEW.seq")}
{_trigger("ccm_tasks_change_ins", "INSERT", "ccm_tasks", "task", "NEW.id", "NEW.state")}
{_trigger("ccm_tasks_change_upd", "UPDATE", "ccm_tasks", "task", "NEW.id", "NEW.state",
          "NEW.state IS NOT OLD.state OR NEW.version IS NOT OLD.version")}
{_trigger("ccm_approvals_change", "INSERT", "ccm_approvals", "approval", "NEW.task_id", "NEW.id")}
{_trigger("ccm_hosts_change_ins", "INSERT", "ccm_hosts", "host", "NULL", "NEW.name")}
{_trigger("ccm_hosts_change_upd", "UPDATE", "ccm_hosts", "host", "NULL", "NEW.name")}
{_trigger("ccm_health_change", "INSERT", "ccm_health", "host", "NULL", "NEW.host")}
{_trigger("ccm_alerts_change", "INSERT", "ccm_alerts", "alert", "NEW.task_id", "NEW.id")}
{_trigger("ccm_outbox_change", "INSERT", "ccm_outbox", "outbox", "NULL", "NEW.id")}
{_trigger("ccm_control_change", "UPDATE", "ccm_control", "control", "NULL", "NEW.key")}
"""

SCHEMA_V2 = """
ALTER TABLE ccm_alerts ADD COLUMN suppressed TEXT;
CREATE INDEX IF NOT EXISTS ccm_alerts_fp_received ON ccm_alerts (fingerprint, received_at);
CREATE TABLE IF NOT EXISTS ccm_silences (
    id INTEGER PRIMARY KEY AUTOINCREMENT, matchers TEXT NOT NULL, starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', created_by TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL, expired_at TEXT, CHECK (ends_at > starts_at));
CREATE INDEX IF NOT EXISTS ccm_silences_ends ON ccm_silences (ends_at);
CREATE UNIQUE INDEX IF NOT EXISTS ccm_tasks_one_open ON ccm_tasks (host, alertname)
    WHERE state IN ('new', 'claimed', 'diagnosing', 'awaiting_approval', 'remediating',
                    'verifying');
"""

#: See supabase/migrations/20261128090000_alert_indexes.sql.
SCHEMA_V4 = """
DROP INDEX IF EXISTS ccm_alerts_host;
CREATE INDEX IF NOT EXISTS ccm_alerts_task ON ccm_alerts (task_id) WHERE task_id IS NOT NULL;
"""

#: See supabase/migrations/20261128110000_silence_changes.sql: silences reach the
#: realtime feed, so a daemon holds fixes and the TUI redraws as soon as one is added.
SCHEMA_V5 = f"""
{_trigger("ccm_silences_change_ins", "INSERT", "ccm_silences", "silence", "NULL", "NEW.id")}
{_trigger("ccm_silences_change_upd", "UPDATE", "ccm_silences", "silence", "NULL", "NEW.id")}
"""

#: See supabase/migrations/20261129100000_daemon_hosts.sql: which daemon can reach which
#: host, refreshed while it runs (no trigger: the realtime feed does not carry it).
SCHEMA_V6 = """
CREATE TABLE IF NOT EXISTS ccm_daemon_hosts (
    host TEXT NOT NULL, owner TEXT NOT NULL, seen_at TEXT NOT NULL, PRIMARY KEY (host, owner));
CREATE INDEX IF NOT EXISTS ccm_daemon_hosts_seen ON ccm_daemon_hosts (seen_at);
"""

#: See supabase/migrations/20261129160000_runbook_outcomes.sql: which task's outcome a
#: runbook's record already counts, so finishing a task twice counts it once.
SCHEMA_V7 = """
CREATE TABLE IF NOT EXISTS ccm_runbook_outcomes (
    task_id TEXT PRIMARY KEY, runbook TEXT NOT NULL, host_group TEXT NOT NULL,
    success INTEGER NOT NULL, approved INTEGER, recorded_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ccm_runbook_outcomes_runbook
    ON ccm_runbook_outcomes (runbook, host_group, recorded_at);
"""

#: (version, name, script), applied in order to a database whose user_version is lower.
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "ccm_core", SCHEMA_V1),
    (2, "ingest", SCHEMA_V2),
    (3, "runbook_streak",
     "ALTER TABLE ccm_runbook_stats ADD COLUMN streak INTEGER NOT NULL DEFAULT 0;"),
    (4, "alert_indexes", SCHEMA_V4),
    (5, "silence_changes", SCHEMA_V5),
    (6, "daemon_hosts", SCHEMA_V6),
    (7, "runbook_outcomes", SCHEMA_V7),
)


def split_statements(script: str) -> list[str]:
    """Split a schema script into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements


def schema_status(path: Path) -> MigrationStatus:
    """The migrations applied to and pending on the SQLite hub at ``path``, read without
    changing it (opening the hub applies what is pending, so ``ccm db status`` looks first).

    Raises :class:`~ccm_tui.core.errors.HubError` for a folder or a missing file,
    :class:`~ccm_tui.core.errors.SchemaError` for a database of another program and
    :class:`~ccm_tui.core.errors.HubUnavailable` for a file SQLite cannot read.
    """
    from ccm_tui.core.errors import HubUnavailable
    from ccm_tui.hub import refuse_a_foreign_database, sqlite_preflight
    from ccm_tui.hub.migrations import MigrationStatus

    sqlite_preflight(path, create=False)
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.absolute()))}?mode=ro", uri=True,
                               timeout=5)
        try:
            refuse_a_foreign_database(conn, path)
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise HubUnavailable(f"{path} is not a usable SQLite database: {exc}",
                             hint="check the hub's path: this file is not a CCM hub "
                             "(a CCM hub is made by `ccm init` or `ccm db migrate`)") from exc
    latest = MIGRATIONS[-1][0]
    return MigrationStatus(
        applied=tuple(f"{v:04d}_{name}" for v, name, _ in MIGRATIONS if v <= current),
        pending=tuple(f"{v:04d}_{name}" for v, name, _ in MIGRATIONS if v > current),
        newer=tuple(f"{v:04d}" for v in range(latest + 1, current + 1)))
