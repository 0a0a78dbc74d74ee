"""``ccm tasks list|show`` and ``ccm approve|reject|escalate`` on a real SQLite hub file."""

from __future__ import annotations

import json

import pytest

from ccm_tui.core.model import Event, Risk, utcnow
from ccm_tui.core.policy import Policy, decide
from ccm_tui.core.states import TaskState
from tests.unit.cli_support import TO_APPROVAL, ccm, ccm_proc, hub_call, one_line, seed

pytestmark = pytest.mark.usefixtures("isolated_env")


# -- tasks ---------------------------------------------------------------------------------
def test_tasks_list_json_on_an_empty_hub_prints_exactly_brackets(url: str) -> None:
    seed(url, [])
    proc = ccm_proc("--hub", url, "tasks", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[]\n"
    assert proc.stderr == ""


def test_tasks_list_json_empty_in_process(url: str) -> None:
    seed(url, [])
    result = ccm("tasks", "list", "--json", "--hub", url)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "[]\n"


def test_tasks_list_human_on_an_empty_hub(url: str) -> None:
    seed(url, [])
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
    seed(url, [])
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
