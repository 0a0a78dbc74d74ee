"""``ccm tui`` on a hub path that names no file exits 2 with one line naming the file
and the remedy; it no longer opens the control centre on a new, empty hub. Nor on a hub
it cannot open, or a PostgreSQL hub whose schema is missing or behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from ccm_tui.hub import default_hub_path
from ccm_tui.hub.migrations import migration_files
from tests.unit.cli_support import ccm, ccm_proc, one_line


@pytest.mark.usefixtures("isolated_env")
def test_tui_on_a_mistyped_hub_exits_2_naming_the_file(tmp_path: Path) -> None:
    typo = tmp_path / "hbu.db"
    proc = ccm_proc("--hub", f"sqlite:///{typo}", "tui")
    assert proc.returncode == 2 and proc.stdout == ""
    line = one_line(proc.stderr)
    assert line.startswith(f"ccm: error: there is no hub at {typo} (from --hub)"), line
    assert f"ccm --hub sqlite:///{typo} db migrate" in line
    assert not typo.exists()

    env = ccm("tui", env={"CCM_HUB": f"sqlite:///{typo}"})
    assert env.exit_code == 2 and "(from CCM_HUB)" in env.stderr and not typo.exists()
    bad = ccm("--hub", "sqlite://host/x.db", "tui")
    assert bad.exit_code == 2 and "a sqlite URL has no host" in bad.stderr


@pytest.mark.usefixtures("isolated_env")
def test_tui_before_ccm_init_points_at_ccm_init() -> None:
    res = ccm("tui")
    assert res.exit_code == 2
    line = one_line(res.stderr)
    assert f"there is no hub yet: {default_hub_path()} does not exist" in line
    assert "run `ccm init`" in line
    assert not default_hub_path().parent.exists()


@pytest.mark.usefixtures("isolated_env")
def test_tui_on_an_existing_hub_goes_on_to_need_a_terminal(url: str) -> None:
    res = ccm("--hub", url, "tui")
    assert res.exit_code == 1 and "ccm tui needs a terminal" in res.stderr


@pytest.mark.usefixtures("isolated_env")
def test_tui_on_a_hub_it_cannot_open_exits_2_before_the_screen(tmp_path: Path) -> None:
    """Found once the full-screen app had started, these ended in a Textual traceback."""
    import sqlite3

    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.close()
    for url, said in ((f"sqlite:///{tmp_path}", "is a folder, not a hub file"),
                      (f"sqlite:///{other}", "an SQLite database of something else"),
                      ("postgresql://ccm@127.0.0.1:1/ccm", "cannot connect to PostgreSQL")):
        res = ccm("--hub", url, "tui")
        assert res.exit_code == 2 and res.stdout == ""
        line = one_line(res.stderr)
        assert line.startswith("ccm: error: ") and said in line, line


@pytest.mark.usefixtures("isolated_env")
def test_tui_on_a_postgres_hub_without_its_schema_says_migrate(pg_url: str) -> None:
    """Before, it opened on an empty fleet and no incidents, as if all were well."""
    res = ccm("--hub", pg_url, "tui")
    assert res.exit_code == 2 and res.stdout == ""
    line = one_line(res.stderr)
    assert "has no CCM schema yet" in line and "`ccm db migrate`" in line, line

    asyncio.run(_apply_the_first(pg_url, 3))
    behind = ccm("--hub", pg_url, "tui")
    assert behind.exit_code == 2
    assert f"is {len(migration_files()) - 3} migrations behind this CCM" in behind.stderr

    assert ccm("--hub", pg_url, "db", "migrate").exit_code == 0
    ready = ccm("--hub", pg_url, "tui")
    assert ready.exit_code == 1 and "ccm tui needs a terminal" in ready.stderr


async def _apply_the_first(url: str, n: int) -> None:
    """The hub as a CCM knowing only the first ``n`` migrations left it."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE ccm_schema_migrations (version text PRIMARY KEY, "
                           "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        for mig in migration_files()[:n]:
            await conn.execute(mig.sql)
            await conn.execute("INSERT INTO ccm_schema_migrations (version, name) "
                               "VALUES ($1, $2)", mig.version, mig.name)
    finally:
        await conn.close()
