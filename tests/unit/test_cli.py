"""The ``ccm`` command, run for real: in-process with typer's CliRunner and as a
subprocess (``python -m ccm_tui``), against a real SQLite hub file in tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from ccm_tui.cli import app, error_line
from ccm_tui.commands._common import parse_duration, redact_url, to_jsonable
from ccm_tui.core.errors import HubUnavailable, InvalidDecision
from ccm_tui.core.model import Approval, ApprovalKind, Risk, Task
from ccm_tui.core.policy import Policy, decide
from ccm_tui.core.records import Control
from tests.unit.cli_support import ROOT, UNREACHABLE_PG, ccm, ccm_proc, one_line, seed

pytestmark = pytest.mark.usefixtures("isolated_env")


# -- help, version, imports ----------------------------------------------------------------
def test_help_lists_every_command() -> None:
    result = ccm("--help")
    assert result.exit_code == 0
    for command in ("init", "db", "tasks", "approve", "reject", "escalate", "pause", "resume",
                    "status", "runbooks", "webhook", "daemon", "up", "tui", "demo", "run",
                    "fleet", "report", "ingest", "silence"):
        assert f" {command} " in result.stdout, command
    for option in ("--hub", "--config", "--inventory", "--version"):
        assert option in result.stdout


def test_help_of_subcommands_shows_global_options() -> None:
    result = ccm("tasks", "list", "--help")
    assert result.exit_code == 0
    assert "--json" in result.stdout and "--hub" in result.stdout


def test_version() -> None:
    result = ccm("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("ccm ")


def test_importing_the_cli_loads_no_heavy_module() -> None:
    heavy = ["textual", "asyncssh", "asyncpg", "supabase", "anthropic", "aiosqlite"]
    code = (
        "import sys, ccm_tui.cli; "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_command_builds_only_itself() -> None:
    import typer.main

    group = typer.main.get_command(app)
    assert "run" in group.list_commands(None) and "fleet" in group.list_commands(None)
    assert group.get_command(None, "run").name == "run"
    assert set(group.commands._built) == {"run"}  # type: ignore[attr-defined]
    assert "--hub" in {o for p in group.get_command(None, "run").params for o in p.opts}


def test_collection_paused_for_start_up_is_back_on_when_the_command_runs(url: str) -> None:
    import gc

    seed(url, [])  # a hub to read: reading never makes one
    gc.disable()
    try:
        result = ccm("tasks", "list", "--hub", url, "--json")
        assert result.exit_code == 0, result.output
        assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_the_console_script_runs_the_cli() -> None:
    code = "import sys; sys.argv = ['ccm', '--version']; from ccm_tui.__main__ import main; main()"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ccm ")


def test_python_dash_m_help() -> None:
    proc = ccm_proc("--help")
    assert proc.returncode == 0
    assert "Usage: ccm" in proc.stdout


def test_tui_without_a_terminal_says_so_instead_of_drawing_into_a_pipe(url: str) -> None:
    proc = ccm_proc("--hub", url, "tui")
    assert proc.returncode == 1
    assert one_line(proc.stderr).startswith("ccm: error: ccm tui needs a terminal")
    assert "ccm status --json" in proc.stderr
    assert proc.stdout == ""


# -- db and init ---------------------------------------------------------------------------
def test_db_migrate_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    first = ccm("db", "migrate", "--hub", url, "--json")
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["applied"]  # a fresh file gets the schema
    second = ccm("db", "migrate", "--hub", url)
    assert second.exit_code == 0
    assert "schema up to date" in second.stdout
    status = ccm("db", "status", "--hub", url, "--json")
    assert json.loads(status.stdout)["schema"] == "up to date"


@pytest.mark.postgres
def test_db_migrate_twice_on_postgres(pg_url: str) -> None:
    first = ccm_proc("db", "migrate", "--hub", pg_url)
    assert first.returncode == 0, first.stderr
    assert "applied" in first.stdout
    second = ccm_proc("db", "migrate", "--hub", pg_url)
    assert second.returncode == 0, second.stderr
    assert "nothing to apply" in second.stdout
    assert ccm_proc("tasks", "list", "--json", "--hub", pg_url).stdout == "[]\n"


def test_init_writes_config_inventory_runbooks_and_migrates(isolated_env: Path) -> None:
    result = ccm("init")
    assert result.exit_code == 0, result.stderr
    folder = isolated_env / ".config" / "ccm"
    config = folder / "config.toml"
    for path in (config, folder / "inventory.yaml", folder / "runbooks" / "README.md"):
        assert path.is_file()
        assert str(path) in result.stdout
    hub_file = isolated_env / ".local" / "share" / "ccm" / "hub.db"
    assert hub_file.is_file()
    import yaml

    inventory = yaml.safe_load((folder / "inventory.yaml").read_text())
    assert {"web-01", "app-01", "db-01", "worker-01"} <= set(inventory["hosts"])
    assert inventory["hosts"]["db-01"]["groups"] == ["db"]

    from ccm_tui.config import load_settings

    settings = load_settings()
    assert settings.config_file == config
    assert settings.hub == f"sqlite:///{hub_file}"
    assert settings.inventory == folder / "inventory.yaml"
    assert settings.runbook_dirs == [folder / "runbooks"]

    again = ccm("init")
    assert again.exit_code == 1
    assert "--force" in one_line(again.stderr)

    (folder / "inventory.yaml").write_text("hosts: {}\n")
    forced = ccm("init", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert "replaced" in forced.stdout
    assert "web-01" in (folder / "inventory.yaml").read_text()


def test_init_with_its_own_hub_and_config_path(tmp_path: Path, url: str) -> None:
    config = tmp_path / "etc" / "config.toml"
    result = ccm("--config", str(config), "init", "--hub", url)
    assert result.exit_code == 0, result.stderr
    assert f'hub = "{url}"' in config.read_text()
    assert (tmp_path / "etc" / "inventory.yaml").is_file()
    assert Path(url.removeprefix("sqlite:///")).is_file()
    # The written config is used from then on.
    listed = ccm("--config", str(config), "tasks", "list", "--json")
    assert listed.stdout == "[]\n"


def test_init_with_an_unreachable_hub_writes_nothing(isolated_env: Path) -> None:
    result = ccm("init", "--hub", UNREACHABLE_PG)
    assert result.exit_code == 1
    assert "PostgreSQL" in one_line(result.stderr)
    assert not (isolated_env / ".config" / "ccm" / "config.toml").exists()


# -- global options ------------------------------------------------------------------------
def test_global_options_work_before_and_after_the_subcommand(tmp_path: Path) -> None:
    a, b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    (task,) = seed(a, [("web-01", "DiskFull", ())])
    seed(b, [])
    assert task.id in ccm("--hub", a, "tasks", "list", "--json").stdout
    assert task.id in ccm("tasks", "list", "--json", "--hub", a).stdout
    assert task.id in ccm("tasks", "list", "--json", env={"CCM_HUB": a}).stdout
    # A flag beats the environment, wherever it is written.
    assert ccm("tasks", "list", "--json", "--hub", b, env={"CCM_HUB": a}).stdout == "[]\n"
    assert ccm("--hub", b, "tasks", "list", "--json", env={"CCM_HUB": a}).stdout == "[]\n"
    # A flag after the subcommand beats one before it.
    assert ccm("--hub", b, "tasks", "list", "--json", "--hub", a).stdout != "[]\n"


def test_hub_from_the_config_file(tmp_path: Path, url: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'hub = "{url}"\n')
    (task,) = seed(url, [("web-01", "DiskFull", ())])
    assert task.id in ccm("--config", str(config), "tasks", "list", "--json").stdout
    assert task.id in ccm("tasks", "list", "--json", env={"CCM_CONFIG": str(config)}).stdout


# -- bad input: one line on stderr that says what to fix ----------------------------------
def test_unknown_hub_url_scheme() -> None:
    proc = ccm_proc("--hub", "foo://x", "tasks", "list")
    assert proc.returncode == 1
    line = one_line(proc.stderr)
    assert line.startswith("ccm: error: ") and "'foo'" in line
    assert "sqlite:///" in line and "postgresql://" in line  # what to use instead
    assert proc.stdout == ""


def test_unreachable_postgres() -> None:
    proc = ccm_proc("tasks", "list", "--json", "--hub", UNREACHABLE_PG)
    assert proc.returncode == 1
    line = one_line(proc.stderr)
    assert line.startswith("ccm: error: ")
    assert "127.0.0.1" in line and "--hub" in line
    assert proc.stdout == ""


def test_config_file_with_a_wrong_type(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[policy]\nauto_threshold = "high"\n')
    proc = ccm_proc("--config", str(config), "tasks", "list")
    assert proc.returncode == 1
    line = one_line(proc.stderr)
    assert f"{config}: policy.auto_threshold: Input should be a valid number, " \
           'got "high"' in line
    assert line.startswith("ccm: error: ")


def test_environment_variable_with_a_wrong_type(url: str) -> None:
    result = ccm("--hub", url, "status", env={"CCM_POLICY__MAX_CONCURRENT_FIXES": "lots"})
    assert result.exit_code == 1
    line = one_line(result.stderr)
    assert "CCM_POLICY__MAX_CONCURRENT_FIXES: policy.max_concurrent_fixes" in line


def test_config_file_that_is_not_toml(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("hub = \n")
    result = ccm("--config", str(config), "tasks", "list")
    assert result.exit_code == 1
    assert str(config) in one_line(result.stderr)


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    result = ccm("--config", str(tmp_path / "nope.toml"), "status")
    assert result.exit_code == 1
    assert "ccm init" in one_line(result.stderr)


def test_unexpected_errors_are_one_line_with_a_debug_hint(url: str) -> None:
    """A hub whose data was damaged by hand: not a CCMError, still one line."""
    import sqlite3

    from ccm_tui.hub import sqlite_path

    ccm("--hub", url, "db", "migrate")  # creates the schema
    conn = sqlite3.connect(sqlite_path(url))
    conn.execute("INSERT INTO ccm_tasks (id, host, alertname, spec, created_at, updated_at)"
                 " VALUES ('t-broken', 'web-01', 'DiskFull', '{not json', '2026-11-27T00:00:00+00:00',"
                 " '2026-11-27T00:00:00+00:00')")
    conn.commit()
    conn.close()
    result = ccm("--hub", url, "tasks", "list")
    assert result.exit_code == 1
    line = one_line(result.stderr)
    assert "JSONDecodeError" in line and "CCM_DEBUG=1" in line

    debug = ccm("--hub", url, "tasks", "list", env={"CCM_DEBUG": "1"})
    assert isinstance(debug.exception, ValueError)


# -- helpers -------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("30m", 1800), ("12h", 43200), ("2d", 172800), ("1w", 604800),
    ("1h30m", 5400), ("1.5h", 5400), ("2D", 172800),
])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "12", "h", "12x", "tomorrow", "1h 2", "-1h"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_to_jsonable_handles_core_types() -> None:
    task = Task(id="t-1", host="h", alertname="A", risk=Risk.LOW,
                decision=decide(Policy(), evidence_match=1, prior=1, risk=Risk.LOW))
    data = to_jsonable(task)
    json.dumps(data)
    assert data["state"] == "new" and data["risk"] == "low"
    assert data["decision"]["kind"] == "auto" and isinstance(data["decision"]["reasons"], list)
    assert data["created_at"].endswith("+00:00")
    assert to_jsonable(Control())["paused"] is False
    assert to_jsonable(Approval("t-1", ApprovalKind.APPROVE, "me"))["kind"] == "approve"


def test_redact_url() -> None:
    assert redact_url("postgresql://ccm:s3cret@db:5432/ccm") == "postgresql://ccm:***@db:5432/ccm"
    assert redact_url("sqlite:////tmp/hub.db") == "sqlite:////tmp/hub.db"


def test_error_line_formats() -> None:
    assert error_line(HubUnavailable("down")) == (
        "ccm: error: down — check that the database is running and the --hub URL is right")
    assert "ccm tasks show" in error_line(InvalidDecision("task t-1 is new"))
    assert error_line(InvalidDecision("x", hint="do y")) == "ccm: error: x — do y"
