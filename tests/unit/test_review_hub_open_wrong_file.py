"""``--hub`` naming the wrong thing: a folder, a file that is not a database, another
program's SQLite database, a relative path, an option SQLite URLs do not take. Each is
one line that says what is wrong and what to do; nothing is changed in the file."""

from __future__ import annotations

import shlex
import sqlite3
from pathlib import Path

import pytest

from tests.unit.cli_support import ccm, one_line

pytestmark = pytest.mark.usefixtures("isolated_env")


@pytest.mark.parametrize("args", [("status",), ("db", "migrate"), ("tasks", "list")])
def test_a_folder_is_not_a_hub_file(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = ccm("--hub", f"sqlite://{tmp_path}", *args)
    assert result.exit_code == 1
    assert one_line(result.stderr) == (f"ccm: error: {tmp_path} is a folder, not a hub "
                                       f"file — name a file in it: sqlite://{tmp_path}/hub.db")


def test_a_text_file_is_not_a_hub(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    line = one_line(ccm("--hub", f"sqlite://{notes}", "status").stderr)
    assert f"{notes} is not a usable SQLite database" in line
    assert "this file is not a CCM hub" in line and "database is running" not in line
    assert notes.read_text() == "hello\n"


@pytest.mark.parametrize("args", [("status",), ("db", "migrate"), ("pause",)])
def test_another_programs_database_is_left_alone(tmp_path: Path,
                                                 args: tuple[str, ...]) -> None:
    other = tmp_path / "grafana.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE dashboard (id INTEGER)")
    conn.close()
    result = ccm("--hub", f"sqlite://{other}", *args)
    assert result.exit_code == 1
    assert one_line(result.stderr) == (
        f"ccm: error: {other} is an SQLite database of something else, not a CCM hub (it "
        "holds 'dashboard') — check the hub's path; CCM makes its hub in a new file")
    with sqlite3.connect(other) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    assert names == ["dashboard"] and mode == "delete"  # not even switched to WAL


def test_an_empty_file_becomes_a_hub(tmp_path: Path) -> None:
    empty = tmp_path / "hub.db"
    empty.touch()  # e.g. made by a provisioning tool, for the permissions
    assert ccm("--hub", f"sqlite://{empty}", "status", "--json").exit_code == 0


def test_a_relative_path_is_named_in_full(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    line = one_line(ccm("--hub", "sqlite:hub.db", "tasks", "list").stderr)
    assert f"there is no hub at {tmp_path / 'hub.db'} (from --hub)" in line
    assert "`ccm --hub sqlite:hub.db db migrate`" in line


def test_the_suggested_command_can_be_pasted(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/on call.db"
    line = one_line(ccm("--hub", url, "status").stderr)
    assert f"`ccm --hub {shlex.quote(url)} db migrate`" in line
    assert ccm("--hub", url, "db", "migrate").exit_code == 0
    assert ccm("--hub", url, "status").exit_code == 0


def test_a_bad_option_is_said_before_the_missing_file(tmp_path: Path) -> None:
    line = one_line(ccm("--hub", f"sqlite://{tmp_path}/x.db?mode=ro", "status").stderr)
    assert "unknown option 'mode'" in line and "there is no hub" not in line
