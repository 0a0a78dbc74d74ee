"""``ccm db status`` tells the applied and pending migrations the same way on SQLite and
PostgreSQL, in text and JSON, changing nothing. Before, PostgreSQL had no word of a
pending migration and SQLite's status applied what was pending while looking."""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from ccm_tui.hub.migrations import migration_files
from ccm_tui.hub.sqlite_schema import MIGRATIONS, split_statements
from tests.support.postgres import PgCluster
from tests.unit.cli_support import ccm, one_line

pytestmark = pytest.mark.usefixtures("isolated_env")

#: How many migrations the "older CCM" of these tests applied.
OLD = 3


def _sqlite_hub(tmp_path: Path, upto: int) -> str:
    """An SQLite hub as a CCM knowing only the first ``upto`` migrations left it."""
    path = tmp_path / "hub.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for version, _name, script in MIGRATIONS[:upto]:
        for statement in split_statements(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")
    conn.close()
    return f"sqlite:///{path}"


def _pg_hub(url: str, upto: int) -> str:
    """A PostgreSQL hub as a CCM knowing only the first ``upto`` migrations left it."""
    async def go() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "CREATE TABLE ccm_schema_migrations (version text PRIMARY KEY, "
                "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
            for mig in migration_files()[:upto]:
                await conn.execute(mig.sql)
                await conn.execute("INSERT INTO ccm_schema_migrations (version, name) "
                                   "VALUES ($1, $2)", mig.version, mig.name)
        finally:
            await conn.close()
    asyncio.run(go())
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def older_hub(kind: str, request: pytest.FixtureRequest, tmp_path: Path, upto: int) -> str:
    if kind == "sqlite":
        return _sqlite_hub(tmp_path, upto)
    return _pg_hub(request.getfixturevalue("pg_url"), upto)


def _names(kind: str) -> list[str]:
    """The migrations as ``ccm db migrate`` names them on this adapter."""
    if kind == "sqlite":
        return [f"{v:04d}_{name}" for v, name, _ in MIGRATIONS]
    return [m.filename for m in migration_files()]


def status(url: str, *extra: str) -> tuple[int, dict[str, object], str]:
    res = ccm("--hub", url, "db", "status", "--json", *extra)
    assert res.stderr == "", res.stderr
    text = ccm("--hub", url, "db", "status")
    assert text.exit_code == res.exit_code, text.output
    return res.exit_code, json.loads(res.stdout), text.stdout


def test_pending_migrations_are_listed_and_left_pending_until_migrate(
        kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = older_hub(kind, request, tmp_path, OLD)
    names = _names(kind)
    code, doc, text = status(url)
    assert code == 1
    assert doc["adapter"] == ("sqlite" if kind == "sqlite" else "postgresql")
    assert (doc["schema"], doc["applied"], doc["pending"], doc["newer"]) == (
        f"{len(names) - OLD} migrations pending", names[:OLD], names[OLD:], [])
    assert (doc["hosts"], doc["tasks"], doc["open_tasks"], doc["paused"]) == (None,) * 4
    assert f"pending     {', '.join(names[OLD:])}" in text
    assert f"applied     {OLD}, the latest {names[OLD - 1]}\n" in text
    assert "run `ccm db migrate`" in text and "hosts       -" in text

    again = status(url)  # looking applied nothing
    assert again[1] == doc

    migrated = ccm("--hub", url, "db", "migrate", "--json")
    assert json.loads(migrated.stdout)["applied"] == names[OLD:]
    code, doc, text = status(url)
    assert code == 0
    assert (doc["schema"], doc["applied"], doc["pending"]) == ("up to date", names, [])
    assert (doc["hosts"], doc["tasks"], doc["open_tasks"], doc["paused"]) == (0, 0, 0, False)
    assert "\npending " not in text and "db migrate" not in text
    assert f"applied     {len(names)}, the latest {names[-1]}\n" in text


def test_a_database_with_no_ccm_schema_yet_has_every_migration_pending(
        kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if kind == "sqlite":
        (tmp_path / "hub.db").touch()  # an empty file: SQLite's empty database
        url = f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    code, doc, text = status(url)
    assert code == 1
    assert (doc["applied"], doc["pending"]) == ([], _names(kind))
    assert "applied     none" in text


def test_a_hub_migrated_by_a_newer_ccm_says_upgrade(
        kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = older_hub(kind, request, tmp_path, len(MIGRATIONS))
    if kind == "sqlite":
        conn = sqlite3.connect(tmp_path / "hub.db")
        conn.execute(f"PRAGMA user_version = {MIGRATIONS[-1][0] + 1}")
        conn.close()
        newer = [f"{MIGRATIONS[-1][0] + 1:04d}"]
    else:
        async def add() -> None:
            conn = await asyncpg.connect(url)
            await conn.execute("INSERT INTO ccm_schema_migrations (version, name) "
                               "VALUES ('29990101000000', 'from_the_future')")
            await conn.close()
        asyncio.run(add())
        newer = ["29990101000000_from_the_future.sql"]
    code, doc, text = status(url)
    assert code == 1
    assert (doc["schema"], doc["pending"], doc["newer"]) == ("newer than this CCM", [], newer)
    assert "upgrade CCM" in text

    # migrate: SQLite refuses to open it; PostgreSQL applies nothing and says why
    migrate = ccm("--hub", url, "db", "migrate", "--json")
    assert "upgrade CCM" in one_line(migrate.stderr)
    if kind == "sqlite":
        assert migrate.exit_code == 1 and migrate.stdout == ""
    else:
        assert migrate.exit_code == 0
        assert json.loads(migrate.stdout) == {"hub": url, "applied": [], "newer": newer}
        assert "schema newer than this CCM (nothing to apply)" in ccm(
            "--hub", url, "db", "migrate").stdout


def test_status_on_sqlite_says_what_is_wrong_with_the_file(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.close()
    junk = tmp_path / "junk.db"
    junk.write_text("not a database")
    for url, said in ((f"sqlite:///{other}", "an SQLite database of something else"),
                      (f"sqlite:///{junk}", "is not a usable SQLite database"),
                      (f"sqlite:///{tmp_path}", "is a folder, not a hub file")):
        res = ccm("--hub", url, "db", "status")
        assert res.exit_code == 1 and res.stdout == ""
        assert said in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "hub.db").exists()


def test_status_json_says_an_unreachable_hub_is_not_reachable(pg_cluster: PgCluster) -> None:
    """A check's answer for scripts ("reachable": false), with the error line for people."""
    for url, said in (("postgresql://ccm:s3cret@127.0.0.1:1/ccm", "cannot connect"),
                      (pg_cluster.url("no_such_db_here"), "no_such_db_here")):
        res = ccm("--hub", url, "db", "status", "--json")
        assert res.exit_code == 1
        doc = json.loads(res.stdout)
        assert (doc["reachable"], doc["adapter"], doc["schema"], doc["hosts"]) == (
            False, "postgresql", None, None)
        assert said in doc["error"] and "s3cret" not in res.stdout + res.stderr
        assert one_line(res.stderr) == f"ccm: error: {doc['error']}"
        text = ccm("--hub", url, "db", "status")
        assert text.exit_code == 1 and text.stdout == ""
        assert one_line(text.stderr) == f"ccm: error: {doc['error']}"


def test_a_postgres_user_without_rights_is_told_so(pg_cluster: PgCluster, pg_url: str) -> None:
    """Before: `unexpected InsufficientPrivilegeError … run with CCM_DEBUG=1`."""
    role = "weak_" + secrets.token_hex(4)
    database = pg_url.rsplit("/", 1)[1]
    pg_cluster.psql(f"CREATE ROLE {role} LOGIN")
    pg_cluster.psql("REVOKE CREATE ON SCHEMA public FROM PUBLIC", database)
    weak = pg_cluster.url(database, user=role)

    migrate = ccm("--hub", weak, "db", "migrate")
    assert migrate.exit_code == 1 and migrate.stdout == ""
    line = one_line(migrate.stderr)
    assert line.startswith(f"ccm: error: the PostgreSQL user {role!r} may not change the "
                           "hub's schema: permission denied"), line
    assert "as the database's owner" in line

    assert ccm("--hub", pg_url, "db", "migrate").exit_code == 0  # as the owner
    status = ccm("--hub", weak, "db", "status", "--json")
    assert status.exit_code == 1 and status.stdout == ""
    line = one_line(status.stderr)
    assert line.startswith(f"ccm: error: the PostgreSQL user {role!r} may not read the hub: "
                           "permission denied"), line
