"""The ``ccm`` command, run for real: in-process with typer's CliRunner and as a
subprocess (``python -m ccm_tui``), against a real SQLite hub file in tmp_path."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ccm_tui.cli import app, error_line
from ccm_tui.commands._common import parse_duration, redact_url, to_jsonable
from ccm_tui.core.errors import HubUnavailable, InvalidDecision
from ccm_tui.core.model import Approval, ApprovalKind, Event, Risk, Task, new_task_id, utcnow
from ccm_tui.core.policy import Policy, decide
from ccm_tui.core.records import Control
from ccm_tui.core.states import TaskState
from ccm_tui.hub import open_hub

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE_PG = "postgresql://ccm@127.0.0.1:1/ccm"


# -- fixtures and helpers ------------------------------------------------------------------
@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No user config, no user hub: HOME and the XDG folders point into tmp_path."""
    for key in list(os.environ):
        if key.startswith("CCM_"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("USER", "tester")
    monkeypatch.setenv("COLUMNS", "200")
    yield home


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A real SQLite hub file (created on first use)."""
    return f"sqlite:///{tmp_path / 'hub.db'}"


def ccm(*args: str, env: dict[str, str] | None = None) -> Any:
    """Run ``ccm`` in-process; stdout and stderr are kept apart."""
    return CliRunner().invoke(app, list(args), env=env)


def ccm_proc(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ccm_tui`` in a subprocess, as a user would."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ccm_tui", *args], capture_output=True, text=True,
        env=full_env, cwd=ROOT, timeout=60,
    )


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, f"expected exactly one line on stderr, got {lines!r}"
    return lines[0]


def seed(url: str, specs: Sequence[tuple[str, str, Sequence[TaskState]]]) -> list[Task]:
    """Create tasks through the hub API, each moved along ``path``."""

    async def go() -> list[Task]:
        out = []
        async with open_hub(url) as hub:
            for host, alertname, path in specs:
                task = await hub.create_task(Task(
                    id=new_task_id(), host=host, alertname=alertname,
                    summary=f"{alertname} on {host}",
                ))
                for target in path:
                    task = await hub.transition(task.id, target)
                out.append(task)
        return out

    return asyncio.run(go())


TO_APPROVAL = (TaskState.CLAIMED, TaskState.DIAGNOSING, TaskState.AWAITING_APPROVAL)


def hub_call(url: str, name: str, *args: Any, **kwargs: Any) -> Any:
    async def go() -> Any:
        async with open_hub(url) as hub:
            return await getattr(hub, name)(*args, **kwargs)

    return asyncio.run(go())


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


# -- tasks ---------------------------------------------------------------------------------
def test_tasks_list_json_on_an_empty_hub_prints_exactly_brackets(url: str) -> None:
    proc = ccm_proc("--hub", url, "tasks", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[]\n"
    assert proc.stderr == ""


def test_tasks_list_json_empty_in_process(url: str) -> None:
    result = ccm("tasks", "list", "--json", "--hub", url)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "[]\n"


def test_tasks_list_human_on_an_empty_hub(url: str) -> None:
    result = ccm("--hub", url, "tasks", "list")
    assert result.exit_code == 0
    assert "no tasks" in result.stdout


def test_tasks_list_with_data_and_filters(url: str) -> None:
    web, db, app_ = seed(url, [
        ("web-01", "DiskFull", ()),
        ("db-01", "HighMemory", TO_APPROVAL),
        ("app-01", "ServiceDown", (TaskState.ESCALATED,)),
    ])
    result = ccm("--hub", url, "tasks", "list", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == [app_.id, db.id, web.id]  # newest first
    assert rows[1]["state"] == "awaiting_approval"
    assert rows[0]["created_at"].endswith("+00:00")  # ISO-8601, timezone-aware

    def ids(*args: str) -> list[str]:
        r = ccm("--hub", url, "tasks", "list", "--json", *args)
        assert r.exit_code == 0, r.stderr
        return [t["id"] for t in json.loads(r.stdout)]

    assert ids("--state", "awaiting_approval") == [db.id]
    assert ids("--state", "new", "--state", "escalated") == [app_.id, web.id]
    assert ids("--host", "web-01") == [web.id]
    assert ids("--alert", "ServiceDown") == [app_.id]
    assert ids("--open") == [db.id, web.id]
    assert ids("--open", "--state", "escalated") == []
    assert ids("--limit", "1") == [app_.id]
    assert ids("--since", "1h") == [app_.id, db.id, web.id]

    human = ccm("--hub", url, "tasks", "list")
    assert human.exit_code == 0
    for task in (web, db, app_):
        assert task.id in human.stdout
    assert "awaiting_approval" in human.stdout and "3 tasks" in human.stdout


def test_tasks_list_bad_since_is_a_usage_error(url: str) -> None:
    result = ccm("--hub", url, "tasks", "list", "--since", "yesterday")
    assert result.exit_code == 2
    assert "--since" in result.stderr


def test_tasks_list_bad_state_is_a_usage_error(url: str) -> None:
    result = ccm("--hub", url, "tasks", "list", "--state", "sleeping")
    assert result.exit_code == 2


def test_tasks_show_with_decision_events_and_prefix(url: str) -> None:
    (task,) = seed(url, [("db-01", "HighMemory", TO_APPROVAL)])
    decision = decide(Policy(), evidence_match=0.9, prior=0.8, risk=Risk.MEDIUM,
                      runbook="high-memory", cause="leak")
    hub_call(url, "update_task", task.id, task.version, decision=decision,
             confidence=decision.confidence, runbook="high-memory", risk=Risk.MEDIUM)
    hub_call(url, "append_events", [
        Event(task.id, 1, "started", utcnow(), {"host": "db-01"}),
        Event(task.id, 2, "step", utcnow(), {"phase": "diagnose", "runbook": "high-memory"}),
    ])

    result = ccm("--hub", url, "tasks", "show", task.id, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["id"] == task.id and data["state"] == "awaiting_approval"
    assert data["decision"]["kind"] == "suggest" and data["decision"]["risk"] == "medium"
    assert [e["seq"] for e in data["events"]] == [1, 2]
    assert data["events"][0]["type"] == "started" and data["approvals"] == []

    no_events = json.loads(ccm("--hub", url, "tasks", "show", task.id, "--json",
                               "--no-events").stdout)
    assert "events" not in no_events

    prefix = task.id[:5]  # "t-" plus three hex digits: unique among one task
    human = ccm("--hub", url, "tasks", "show", prefix)
    assert human.exit_code == 0, human.stderr
    assert task.id in human.stdout
    assert "high-memory" in human.stdout and "diagnose" in human.stdout
    assert "ccm approve" in human.stdout  # tells the operator what to do next


def test_tasks_show_unknown_id_is_one_line(url: str) -> None:
    result = ccm("--hub", url, "tasks", "show", "t-nope")
    assert result.exit_code == 1
    line = one_line(result.stderr)
    assert line.startswith("ccm: error: ") and "t-nope" in line


# -- decisions -----------------------------------------------------------------------------
def test_approve_stores_an_approval_with_actor(url: str) -> None:
    (task,) = seed(url, [("db-01", "HighMemory", TO_APPROVAL)])
    result = ccm("--hub", url, "approve", task.id, "--as", "alice", "--note", "go ahead",
                 "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["approval"]["actor"] == "alice"
    assert data["approval"]["kind"] == "approve"
    assert data["task"]["id"] == task.id
    stored = hub_call(url, "list_approvals", task.id)
    assert [(a.kind.value, a.actor, a.note) for a in stored] == [
        ("approve", "alice", "go ahead")]


def test_a_second_approve_is_refused_with_one_line(url: str) -> None:
    (task,) = seed(url, [("db-01", "HighMemory", TO_APPROVAL)])
    assert ccm("--hub", url, "approve", task.id, "--as", "alice").exit_code == 0
    again = ccm("--hub", url, "approve", task.id, "--as", "bob")
    assert again.exit_code == 1
    line = one_line(again.stderr)
    assert "already approved by alice" in line and "ccm tasks show" in line
    assert len(hub_call(url, "list_approvals", task.id)) == 1


def test_approve_actor_defaults_to_config_then_user(url: str) -> None:
    a, b = seed(url, [("db-01", "HighMemory", TO_APPROVAL), ("db-02", "HighMemory", TO_APPROVAL)])
    assert ccm("--hub", url, "approve", a.id, env={"CCM_ACTOR": "bob"}).exit_code == 0
    result = ccm("--hub", url, "approve", b.id)
    assert result.exit_code == 0, result.stderr
    assert "approved" in result.stdout
    actors = {x.task_id: x.actor for x in hub_call(url, "list_approvals")}
    assert actors[a.id] == "bob"
    assert actors[b.id].startswith("tester@")


def test_reject_cancels_the_task(url: str) -> None:
    (task,) = seed(url, [("web-02", "DiskFull", TO_APPROVAL)])
    result = ccm("--hub", url, "reject", task.id, "--note", "not during the deploy")
    assert result.exit_code == 0, result.stderr
    assert "rejected" in result.stdout
    assert hub_call(url, "get_task", task.id).state is TaskState.CANCELLED


def test_escalate_in_a_subprocess(url: str) -> None:
    (task,) = seed(url, [("web-03", "ServiceDown", (TaskState.CLAIMED,))])
    proc = ccm_proc("--hub", url, "escalate", task.id, "--as", "carol", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["task"]["state"] == "escalated"
    assert hub_call(url, "get_task", task.id).state is TaskState.ESCALATED


def test_approve_on_a_new_task_exits_1_with_one_line(url: str) -> None:
    (task,) = seed(url, [("web-01", "DiskFull", ())])
    result = ccm("--hub", url, "approve", task.id)
    assert result.exit_code == 1
    line = one_line(result.stderr)
    assert line.startswith("ccm: error: ")
    assert "new" in line and "awaiting_approval" in line and "ccm tasks show" in line
    assert result.stdout == ""
    assert hub_call(url, "list_approvals", task.id) == []


# -- pause / resume / status ---------------------------------------------------------------
def test_pause_resume_round_trip(url: str) -> None:
    result = ccm("--hub", url, "pause", "--reason", "incident 42", "--as", "dave")
    assert result.exit_code == 0, result.stderr
    assert "PAUSED" in result.stdout and "incident 42" in result.stdout
    control = hub_call(url, "get_control")
    assert control.paused and control.actor == "dave" and control.reason == "incident 42"

    status = json.loads(ccm("--hub", url, "status", "--json").stdout)
    assert status["paused"] is True

    result = ccm("--hub", url, "resume", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["paused"] is False
    assert hub_call(url, "get_control").paused is False


def test_status_counts_tasks_per_state(url: str) -> None:
    seed(url, [("a", "X", ()), ("b", "X", ()), ("c", "X", TO_APPROVAL)])
    data = json.loads(ccm("--hub", url, "status", "--json").stdout)
    assert data["tasks"]["new"] == 2 and data["tasks"]["awaiting_approval"] == 1
    assert data["tasks"]["resolved"] == 0
    human = ccm("--hub", url, "status")
    assert human.exit_code == 0
    assert "1 waiting for approval" in human.stdout


def test_status_sums_up_the_fleet_from_the_latest_probes(url: str) -> None:
    from ccm_tui.core.model import HealthSnapshot, Host

    now = utcnow()

    async def go() -> None:
        async with open_hub(url) as hub:
            await hub.upsert_hosts([Host(n) for n in ("web-01", "web-02", "db-01", "db-02",
                                                      "app-01")])
            for snap in (
                    HealthSnapshot("web-01", now - timedelta(seconds=40), cpu_pct=10,
                                   mem_pct=20, disk_pct=30),
                    HealthSnapshot("web-02", now - timedelta(seconds=12), disk_pct=93),
                    HealthSnapshot("db-01", now - timedelta(seconds=20), reachable=False,
                                   data={"error": "db-01: no key…", "error_kind": "auth"}),
                    HealthSnapshot("db-02", now - timedelta(seconds=20), reachable=False,
                                   data={"error": "refused", "error_kind": "unreachable"})):
                await hub.record_health(snap)

    empty = ccm("--hub", url, "status")
    asyncio.run(go())
    fleet = json.loads(ccm("--hub", url, "status", "--json").stdout)["fleet"]
    human = ccm("--hub", url, "status").stdout

    assert "fleet    " not in empty.stdout  # an empty hub: nothing to say about a fleet
    assert {k: v for k, v in fleet.items() if k != "last_probe_seconds_ago"} == {
        "hosts": 5, "probed": 4, "ok": 1, "critical": 1, "unreachable": 1, "no_login": 1,
        "stale": False}
    assert 11 <= fleet["last_probe_seconds_ago"] < 60
    assert ("fleet    5 hosts · 1 ok · 1 critical · 1 unreachable · 1 no login · 1 never "
            "probed — probed 1") in human
    assert "`ccm fleet probe` says why there is no login" in human


def test_status_says_when_nothing_has_probed_for_a_while(url: str) -> None:
    from ccm_tui.core.model import HealthSnapshot, Host

    async def go() -> None:
        async with open_hub(url) as hub:
            await hub.upsert_hosts([Host("web-01")])
            for host in ("web-01", "web-02"):  # web-02: probed (ccm fleet probe), not synced
                await hub.record_health(HealthSnapshot(host, utcnow() - timedelta(hours=3)))

    asyncio.run(go())
    assert "last probe 3h ago: is `ccm up` running?" in ccm("--hub", url, "status").stdout
    fleet = json.loads(ccm("--hub", url, "status", "--json").stdout)["fleet"]
    assert (fleet["stale"], fleet["hosts"], fleet["probed"], fleet["ok"]) == (True, 2, 2, 2)


# -- db and init ---------------------------------------------------------------------------
def test_db_migrate_twice(url: str) -> None:
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

    ccm("--hub", url, "tasks", "list")  # creates the schema
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
