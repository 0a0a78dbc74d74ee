"""Endorsing a shadow run's plan (`ccm approve` on the task it escalated), and how the
endorsements are counted (ccm_tui.daemon.endorse) — on a real SQLite hub."""

from __future__ import annotations

import asyncio
import json

import pytest

from ccm_tui.core.errors import InvalidDecision
from ccm_tui.core.lifecycle import decision_from_agent
from ccm_tui.core.model import RunbookMode, Task, new_task_id
from ccm_tui.core.states import TaskState
from ccm_tui.daemon.endorse import learn_endorsement
from ccm_tui.hub import Hub, open_hub
from tests.unit.cli_support import ccm

pytestmark = pytest.mark.usefixtures("isolated_env")

WEB = {"web-01", "web-02"}


async def _escalated(hub: Hub, host: str, verdict: str = "shadow",
                     runbook: str = "disk-full") -> Task:
    """A task the agent ended the way a run in ``verdict`` mode ends: escalated."""
    t = await hub.create_task(Task(id=new_task_id(), host=host, alertname="DiskFull"))
    decision = decision_from_agent({"verdict": verdict, "confidence": 0.95, "risk": "low",
                                    "runbook": runbook, "mode": verdict})
    for state in (TaskState.CLAIMED, TaskState.DIAGNOSING):
        t = await hub.transition(t.id, state, runbook=runbook, decision=decision)
    return await hub.transition(t.id, TaskState.ESCALATED, outcome="noop")


async def _learn(hub: Hub, task: Task, group_hosts: set[str] = WEB,
                 file_mode: str = "auto") -> object:
    return await learn_endorsement(hub, await hub.get_task(task.id), "web", group_hosts,
                                   file_mode, 3, "daemon d1")


async def test_three_endorsed_shadow_runs_promote_to_suggest(url: str) -> None:
    async with open_hub(url) as hub:
        await hub.set_runbook_mode("disk-full", "web", RunbookMode.SHADOW)
        await hub.audit("alice", "runbook.set", "disk-full@web", {"to": "shadow"})
        outside = await _escalated(hub, "db-01")  # another group's host: not counted
        await hub.decide(outside.id, "approve", actor="alice")
        runs = [await _escalated(hub, h) for h in ("web-01", "web-02", "web-01")]
        unendorsed = await _escalated(hub, "web-02")
        assert await _learn(hub, unendorsed) is None  # nobody endorsed it
        seen = []
        for t in runs:
            await hub.decide(t.id, "approve", actor="bob")
            seen.append(await _learn(hub, t))
        assert [(e.endorsed, e.promoted, e.mode) for e in seen] == [  # type: ignore[attr-defined]
            (1, False, "shadow"), (2, False, "shadow"), (3, True, "suggest")]
        (stats,) = await hub.runbook_stats("disk-full")
        assert stats.mode is RunbookMode.SUGGEST
        promote = [e for e in await hub.list_audit() if e.action == "runbook.promote"]
        assert [(p.target, p.detail["after_endorsements"]) for p in promote] == \
            [("disk-full@web", 3)]
        again = await _learn(hub, runs[-1])  # evaluated twice: nothing counted twice
        assert (again.endorsed, again.promoted, again.mode) == (0, False, "suggest")  # type: ignore[attr-defined]


async def test_endorsements_before_the_last_mode_change_do_not_count(url: str) -> None:
    async with open_hub(url) as hub:
        old = [await _escalated(hub, "web-01") for _ in range(2)]
        for t in old:
            await hub.decide(t.id, "approve", actor="bob")
        await hub.set_runbook_mode("disk-full", "web", RunbookMode.SHADOW)
        await hub.audit("alice", "runbook.set", "disk-full@web", {"to": "shadow"})
        fresh = await _escalated(hub, "web-02")
        await hub.decide(fresh.id, "approve", actor="bob")
        result = await _learn(hub, fresh)
        assert (result.endorsed, result.promoted) == (1, False)  # type: ignore[attr-defined]


async def test_a_file_in_shadow_mode_counts_too_and_other_runs_are_not_endorsable(
        url: str) -> None:
    async with open_hub(url) as hub:
        runs = [await _escalated(hub, "web-01") for _ in range(3)]
        for t in runs:
            await hub.decide(t.id, "approve", actor="bob")
        done = await _learn(hub, runs[-1], file_mode="shadow")
        assert (done.endorsed, done.promoted) == (3, True)  # type: ignore[attr-defined]

        plain = await _escalated(hub, "web-02", verdict="escalate")
        with pytest.raises(InvalidDecision, match="not awaiting_approval"):
            await hub.decide(plain.id, "approve", actor="bob")
        with pytest.raises(InvalidDecision, match="already endorsed by bob"):
            await hub.decide(runs[0].id, "approve", actor="carol")
        with pytest.raises(InvalidDecision, match="already endorsed by bob"):
            await hub.decide(runs[0].id, "reject", actor="carol")


async def test_a_rejected_plan_starts_the_count_again(url: str) -> None:
    async with open_hub(url) as hub:
        await hub.set_runbook_mode("disk-full", "web", RunbookMode.SHADOW)
        runs = [await _escalated(hub, "web-01") for _ in range(5)]
        for t in runs[:2]:
            await hub.decide(t.id, "approve", actor="bob")
        await hub.decide(runs[2].id, "reject", actor="carol", note="would delete the wrong logs")
        wrong = await _learn(hub, runs[2])
        assert (wrong.endorsed, wrong.promoted, wrong.rejected) == (0, False, True)  # type: ignore[attr-defined]
        assert (await hub.get_task(runs[2].id)).state is TaskState.ESCALATED  # still a human's
        with pytest.raises(InvalidDecision, match="already rejected by carol"):
            await hub.decide(runs[2].id, "approve", actor="bob")
        for t in runs[3:]:
            await hub.decide(t.id, "approve", actor="bob")
        after = await _learn(hub, runs[4])
        assert (after.endorsed, after.promoted) == (2, False)  # type: ignore[attr-defined]
        assert (await hub.runbook_stats("disk-full"))[0].mode is RunbookMode.SHADOW


def test_ccm_approve_on_a_shadow_escalation_says_it_endorses(url: str) -> None:
    async def make() -> Task:
        async with open_hub(url) as hub:
            return await _escalated(hub, "web-01")

    task = asyncio.run(make())
    out = ccm("--hub", url, "approve", task.id, "--as", "alice")
    assert out.exit_code == 0, out.output
    assert f"endorsed {task.id}" in out.stdout and "out of shadow mode" in out.stdout
    doc = json.loads(ccm("--hub", url, "tasks", "show", task.id, "--json").stdout)
    assert doc["state"] == "escalated"  # the incident is still a human's


def test_ccm_reject_on_a_shadow_escalation_says_the_plan_was_wrong(url: str) -> None:
    async def make() -> Task:
        async with open_hub(url) as hub:
            return await _escalated(hub, "web-01")

    task = asyncio.run(make())
    out = ccm("--hub", url, "reject", task.id, "--as", "alice", "--note", "wrong unit")
    assert out.exit_code == 0, out.output
    assert f"rejected {task.id}" in out.stdout and "plan" in out.stdout
    assert "endorsements start again" in out.stdout
    doc = json.loads(ccm("--hub", url, "tasks", "show", task.id, "--json").stdout)
    assert doc["state"] == "escalated"
