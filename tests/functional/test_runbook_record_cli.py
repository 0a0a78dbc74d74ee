"""`ccm runbooks stats` and `ccm runbooks mode`, and the configured runbook folders in
`list`, `show` and `lint` — the whole `ccm` app on a real SQLite hub."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ccm_tui.core.model import RunbookMode, Task, new_task_id
from ccm_tui.core.states import TaskState
from ccm_tui.daemon.options import DaemonOptions
from ccm_tui.daemon.rails import learn_from
from ccm_tui.hub import open_hub
from ccm_tui.runbooks import builtin_dir
from tests.unit.cli_support import ccm, hub_call

pytestmark = pytest.mark.usefixtures("isolated_env")


def _user_runbooks(home: Path) -> Path:
    folder = home / ".config" / "ccm" / "runbooks"
    folder.mkdir(parents=True)
    text = (builtin_dir() / "disk-full.yaml").read_text()
    (folder / "mine.yaml").write_text(text.replace("id: disk-full", "id: my-disk", 1))
    (folder / "disk-full.yaml").write_text(text.replace("mode: auto", "mode: suggest", 1))
    return folder


def test_configured_runbook_folder_is_listed_shown_and_linted(isolated_env: Path) -> None:
    folder = _user_runbooks(isolated_env)
    listed = json.loads(ccm("runbooks", "list", "--json").stdout)
    by_id = {r["id"]: r for r in listed}
    assert by_id["my-disk"]["path"] == str(folder / "mine.yaml")
    # the user's disk-full replaces the built-in one, as the daemon loads them
    assert by_id["disk-full"]["builtin"] is False and by_id["disk-full"]["mode"] == "suggest"
    assert ccm("runbooks", "show", "my-disk").exit_code == 0
    lint = ccm("runbooks", "lint", "--json")
    report = json.loads(lint.stdout)
    assert lint.exit_code == 0, report["issues"]  # a replacement is not a duplicate id
    assert str(folder / "mine.yaml") in report["files"]


def _failed_task(url: str, host: str, runbook: str) -> None:
    async def go() -> None:
        async with open_hub(url) as hub:
            t = await hub.create_task(Task(id=new_task_id(), host=host, alertname="DiskFull"))
            for state in (TaskState.CLAIMED, TaskState.DIAGNOSING, TaskState.REMEDIATING):
                t = await hub.transition(t.id, state, runbook=runbook)
            await hub.transition(t.id, TaskState.FAILED, outcome="verify failed")

    asyncio.run(go())


def test_stats_show_the_track_record_and_open_breakers(url: str) -> None:
    empty = json.loads(ccm("--hub", url, "runbooks", "stats", "--json").stdout)
    assert empty["rows"] == [] and "disk-full" in empty["without_record"]
    for _ in range(2):
        hub_call(url, "record_runbook_outcome", "disk-full", "web", success=True, approved=True)
    hub_call(url, "record_runbook_outcome", "service-down", "db", success=False)
    for host in ("web-01", "web-02", "db-01"):
        _failed_task(url, host, "service-down")

    doc = json.loads(ccm("--hub", url, "runbooks", "stats", "--json").stdout)
    rows = {(r["runbook"], r["host_group"]): r for r in doc["rows"]}
    web = rows[("disk-full", "web")]
    assert (web["successes"], web["approvals"], web["streak"]) == (2, 2, 2)
    assert (web["mode"], web["mode_source"], web["promotes_to"]) == ("auto", "file", None)
    assert web["prior"] == round(21 / 22, 4)
    db = rows[("service-down", "db")]
    assert (db["failures"], db["mode"], db["promotes_to"], db["successes_to_promotion"]) == \
        (1, "auto", None, None)
    scopes = sorted((b["runbook"], b["scope"], b["host"]) for b in doc["breakers"])
    assert scopes == [("service-down", "fleet", ""), ("service-down", "host", "db-01"),
                      ("service-down", "host", "web-01"), ("service-down", "host", "web-02")]

    text = ccm("--hub", url, "runbooks", "stats", "service-down").stdout
    assert "Circuit breakers open" in text and "failed 3 times fleet-wide" in text
    only_web = json.loads(ccm("--hub", url, "runbooks", "stats", "-g", "web", "--json").stdout)
    assert {r["host_group"] for r in only_web["rows"]} == {"web"}


def test_mode_overrides_and_the_daemon_climbs_from_there(url: str, tmp_path: Path) -> None:
    set_ = ccm("--hub", url, "runbooks", "mode", "disk-full", "shadow", "-g", "web",
               "--reason", "deploy week", "--as", "alice", "--json")
    assert set_.exit_code == 0, set_.output
    assert json.loads(set_.stdout)["changes"] == [
        {"runbook": "disk-full", "host_group": "web", "from": "auto (file)", "to": "shadow"}]
    shadow = ccm("--hub", url, "runbooks", "stats", "disk-full")
    assert "suggest: 3 endorsed" in shadow.stdout  # dry runs earn no successes
    assert ccm("--hub", url, "runbooks", "mode", "disk-full", "suggest", "-g", "web",
               "--as", "bob").exit_code == 0
    audit = [(e.actor, e.action, e.target, e.detail["to"], e.detail["reason"])
             for e in reversed(hub_call(url, "list_audit"))]
    assert audit == [("alice", "runbook.set", "disk-full@web", "shadow", "deploy week"),
                     ("bob", "runbook.set", "disk-full@web", "suggest", "")]

    async def approved_success() -> None:
        async with open_hub(url) as hub:
            t = await hub.create_task(Task(id=new_task_id(), host="web-01", alertname="DiskFull"))
            for state in (TaskState.CLAIMED, TaskState.DIAGNOSING, TaskState.AWAITING_APPROVAL):
                t = await hub.transition(t.id, state, runbook="disk-full")
            await hub.decide(t.id, "approve", actor="alice")
            t = await hub.transition(t.id, TaskState.REMEDIATING)
            t = await hub.transition(t.id, TaskState.VERIFYING)
            t = await hub.transition(t.id, TaskState.RESOLVED)
            await learn_from(hub, t, "web", "auto", DaemonOptions(), "daemon")

    for n in range(1, 4):  # the daemon goes on from the operator's mode: 3 approved → up one
        asyncio.run(approved_success())
        row = json.loads(ccm("--hub", url, "runbooks", "stats", "disk-full", "--json").stdout)
        (web,) = row["rows"]
        assert web["successes"] == n
        assert (web["mode"], web["successes_to_promotion"]) == \
            (("suggest", 3 - n) if n < 3 else ("auto", None))

    back = ccm("--hub", url, "runbooks", "mode", "disk-full", "FILE", "-g", "web")
    assert back.exit_code == 0 and "auto → auto (file)" in back.stdout
    stats = hub_call(url, "runbook_stats", "disk-full")
    assert stats[0].mode is None


def test_mode_without_group_covers_the_inventory_and_the_record(url: str,
                                                                tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text("hosts:\n  web-01: {address: 127.0.0.1, groups: [web]}\n"
                   "  db-01: {address: 127.0.0.1, groups: [db, prod]}\n"
                   "  lone: {address: 127.0.0.1}\n")
    hub_call(url, "set_runbook_mode", "disk-full", "workers", RunbookMode.AUTO)
    done = ccm("--hub", url, "--inventory", str(inv), "runbooks", "mode", "disk-full",
               "suggest", "--json")
    assert done.exit_code == 0, done.output
    groups = [c["host_group"] for c in json.loads(done.stdout)["changes"]]
    assert groups == ["db", "ungrouped", "web", "workers"]


def test_mode_refusals_say_what_to_do(url: str, tmp_path: Path) -> None:
    nothing = ccm("--hub", url, "--inventory", str(tmp_path / "none.yaml"), "runbooks",
                  "mode", "disk-full", "auto")
    assert nothing.exit_code == 1 and "--group GROUP" in nothing.stderr
    unknown = ccm("--hub", url, "runbooks", "mode", "nope", "auto", "-g", "web")
    assert unknown.exit_code == 1 and "no runbook 'nope'" in unknown.stderr
    bad = ccm("--hub", url, "runbooks", "mode", "disk-full", "yolo", "-g", "web")
    assert bad.exit_code == 2 and "shadow, suggest, auto, file" in bad.output
    blank = ccm("--hub", url, "runbooks", "mode", "disk-full", "auto", "-g", " ")
    assert blank.exit_code == 2 and "cannot be empty" in blank.output
    assert hub_call(url, "runbook_stats") == []


def test_a_manual_change_reaches_the_morning_report(url: str) -> None:
    ccm("--hub", url, "runbooks", "mode", "disk-full", "shadow", "-g", "web", "--as", "bob")
    md = ccm("--hub", url, "report", "--markdown").stdout
    assert "- disk-full@web: set by bob, auto (file) → shadow" in md, md


def test_an_automatic_failure_demotes_and_stats_and_report_say_so(url: str) -> None:
    from ccm_tui.core.lifecycle import decision_from_agent

    async def fail_automatically() -> None:
        async with open_hub(url) as hub:
            t = await hub.create_task(Task(id=new_task_id(), host="db-01", alertname="DiskFull"))
            auto = decision_from_agent({"verdict": "auto", "confidence": 0.95, "risk": "low",
                                        "runbook": "disk-full", "mode": "auto"})
            for state in (TaskState.CLAIMED, TaskState.DIAGNOSING, TaskState.REMEDIATING):
                t = await hub.transition(t.id, state, runbook="disk-full", decision=auto)
            t = await hub.transition(t.id, TaskState.FAILED, outcome="verify failed")
            await learn_from(hub, t, "db", "auto", DaemonOptions(), "daemon d1")

    asyncio.run(fail_automatically())
    doc = json.loads(ccm("--hub", url, "runbooks", "stats", "disk-full", "--json").stdout)
    (db,) = doc["rows"]
    assert (db["mode"], db["mode_source"], db["failures"], db["promotes_to"]) == \
        ("suggest", "hub", 1, "auto")
    assert [(b["scope"], b["host"]) for b in doc["breakers"]] == [("host", "db-01")]
    md = ccm("--hub", url, "report", "--markdown").stdout
    assert "- disk-full@db: demoted auto → suggest" in md, md
