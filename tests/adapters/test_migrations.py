"""The Postgres schema: applied idempotently, row-level security, Supabase realtime."""

from __future__ import annotations

import re
import subprocess

import pytest

from ccm_tui.hub import open_hub
from ccm_tui.hub.migrations import migration_files, migrations_dir
from tests.support.postgres import PgCluster

pytestmark = pytest.mark.postgres


def test_migration_files_follow_supabase_convention() -> None:
    files = migration_files()
    assert files, "no migrations found"
    for f in files:
        assert re.fullmatch(r"\d{14}_[a-z0-9_]+\.sql", f.filename)
    assert migrations_dir().name == "migrations"


async def test_migrate_twice_is_idempotent(pg_url: str) -> None:
    hub = open_hub(pg_url)
    try:
        first = await hub.migrate()
        second = await hub.migrate()
    finally:
        await hub.close()
    assert first == [f.filename for f in migration_files()]
    assert second == []


def _db(url: str) -> str:
    return url.rsplit("/", 1)[1]


async def test_row_level_security_policies(pg_url: str, pg_cluster: PgCluster) -> None:
    async with open_hub(pg_url) as hub:
        await hub.migrate()
        from ccm_tui.core import Task, TaskState, new_task_id

        t = await hub.create_task(Task(id=new_task_id(), host="web-01", alertname="DiskFull"))
        for s in (TaskState.CLAIMED, TaskState.DIAGNOSING, TaskState.AWAITING_APPROVAL):
            t = await hub.transition(t.id, s)
    db = _db(pg_url)

    def as_role(role: str, sql: str, claims: str = "") -> str:
        setup = f"SET ROLE {role};"
        if claims:
            setup += f" SELECT set_config('request.jwt.claims', '{claims}', false);"
        return pg_cluster.psql(setup + sql, database=db)

    assert "1" in as_role("authenticated", "SELECT count(*) FROM ccm_tasks;")
    with pytest.raises(subprocess.CalledProcessError):
        as_role("anon", "SELECT count(*) FROM ccm_tasks;")  # no grant for anon at all
    with pytest.raises(subprocess.CalledProcessError):  # operators cannot write tasks
        as_role("authenticated", f"UPDATE ccm_tasks SET state = 'resolved' WHERE id = '{t.id}';")
    claims = '{"email": "jordan@example.com", "sub": "u1"}'
    as_role("authenticated", "INSERT INTO ccm_approvals (task_id, kind, actor) VALUES "
            f"('{t.id}', 'approve', 'jordan@example.com');", claims)
    with pytest.raises(subprocess.CalledProcessError):  # not in someone else's name
        as_role("authenticated", "INSERT INTO ccm_approvals (task_id, kind, actor) VALUES "
                f"('{t.id}', 'approve', 'mallory@example.com');", claims)
    assert "1" in as_role("service_role", "SELECT count(*) FROM ccm_approvals;")


async def test_tables_join_supabase_realtime_publication(pg_url: str,
                                                         pg_cluster: PgCluster) -> None:
    db = _db(pg_url)
    pg_cluster.psql("CREATE PUBLICATION supabase_realtime;", database=db)
    hub = open_hub(pg_url)
    try:
        await hub.migrate()
    finally:
        await hub.close()
    tables = pg_cluster.psql(
        "SELECT tablename FROM pg_publication_tables WHERE pubname = 'supabase_realtime'"
        " ORDER BY 1;", database=db).split()
    assert {"ccm_tasks", "ccm_events", "ccm_approvals"} <= set(tables)
    # Re-applying the schema file by hand (as the Supabase CLI might) stays harmless.
    from ccm_tui.hub.migrations import migration_files as files

    pg_cluster.psql(files()[0].sql, database=db)
