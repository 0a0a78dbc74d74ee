"""Slack Block Kit messages (rate limit and batching) and Grafana annotations, on fakes."""

from __future__ import annotations

from ccm_tui.core.model import CLEARED_AFTER_ESCALATION, Severity
from ccm_tui.core.states import TaskState
from ccm_tui.hub.base import Hub
from ccm_tui.notify.hooks import on_task_escalated, on_task_finished
from tests.fakes.fake_grafana import FakeGrafana
from tests.fakes.fake_slack import FakeSlack
from tests.functional.notify.conftest import (
    DECISION,
    FIX_PATH,
    Sleeps,
    add_events,
    make_task,
    notify_settings,
    run_worker,
)

CLEANUP = ("action", {"action": "clean_old_files", "ok": True, "dry_run": False,
                      "summary": "deleted 12 files older than 7d under /var/log",
                      "data": {"bytes_freed": 3 * 1024**3}})
RESTART = ("action", {"action": "service_restart", "ok": True, "dry_run": False,
                      "summary": "restarted nginx; it is active",
                      "data": {"name": "nginx", "restarted": True}})
DRY = ("action", {"action": "clean_old_files", "ok": True, "dry_run": True,
                  "summary": "would delete", "data": {"bytes_freed": 999}})


async def fixed(hub: Hub, host: str = "web-01", alert: str = "DiskFull"):  # type: ignore[no-untyped-def]
    task = await make_task(hub, host, alert, path=FIX_PATH, finish_after=252,
                           runbook="disk-cleanup", severity=Severity.WARNING)
    await add_events(hub, task, DRY, CLEANUP, RESTART)
    return task


async def test_resolved_incident_message(nhub: Hub, fake_slack: FakeSlack) -> None:
    s = notify_settings(sl=fake_slack)
    task = await fixed(nhub)
    assert await on_task_finished(nhub, task, settings=s) == [f"slack:{task.id}:resolved"]
    await run_worker(nhub, s)
    [msg] = fake_slack.messages
    assert msg["text"] == ("Fixed automatically: DiskFull on web-01 — freed 3.0 GiB; "
                           "restarted nginx in 4m12s")
    assert msg["blocks"][0] == {"type": "header", "text": {
        "type": "plain_text", "text": "✅ Fixed: DiskFull on web-01", "emoji": True}}
    fields = [f["text"] for f in msg["blocks"][1]["fields"]]
    assert fields == ["*What fired*\nDiskFull on `web-01` (warning)",
                      "*Result*\nfreed 3.0 GiB; restarted nginx", "*Time to fix*\n4m12s",
                      "*Runbook*\ndisk-cleanup (automatically)"]
    assert msg["blocks"][2]["text"]["text"] == (
        "*What was done*\n• deleted 12 files older than 7d under /var/log\n"
        "• restarted nginx; it is active")
    assert msg["blocks"][-1] == {"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"ccm:slack:{task.id}:resolved"}]}
    assert fake_slack.delivered == {f"slack:{task.id}:resolved": 1}


async def test_an_escalation_cleared_upstream_is_not_reported_as_fixed(
        nhub: Hub, fake_slack: FakeSlack) -> None:
    """Escalated, then its alert resolved on its own: CCM fixed nothing and must not say
    it did (the morning report counts it as closed upstream too)."""
    s = notify_settings(sl=fake_slack)
    task = await make_task(nhub, "db-01", "PostgresDiskFull", decision=DECISION,
                           runbook="pg-disk",
                           path=(TaskState.CLAIMED, TaskState.DIAGNOSING, TaskState.ESCALATED))
    done = await nhub.transition(task.id, TaskState.RESOLVED, outcome=CLEARED_AFTER_ESCALATION)
    assert not done.fixed_by_ccm
    assert await on_task_finished(nhub, done, settings=s) == [f"slack:{task.id}:cleared"]
    await run_worker(nhub, s)
    [msg] = fake_slack.messages
    assert msg["text"].startswith("Cleared upstream after escalation: PostgresDiskFull on "
                                  "db-01 (CCM changed nothing)")
    assert msg["blocks"][0]["text"]["text"] == "☑️ Cleared upstream: PostgresDiskFull on db-01"
    assert "Fixed" not in str(msg)


async def test_escalation_carries_the_findings(nhub: Hub, fake_slack: FakeSlack) -> None:
    s = notify_settings(sl=fake_slack)
    task = await make_task(nhub, "db-01", "PgDown", path=(*FIX_PATH[:2], TaskState.ESCALATED),
                           decision=DECISION)
    await on_task_escalated(nhub, task, settings=s)
    await run_worker(nhub, s)
    [msg] = fake_slack.messages
    findings = msg["blocks"][2]["text"]["text"]
    assert findings == "*Findings*\n*Cause*: WAL archive stuck\n• archive_command failing for 40 min"
    assert "not paged (routing)" in msg["blocks"][3]["elements"][0]["text"]


async def test_one_message_per_second_and_the_rest_batched(
        nhub: Hub, fake_slack: FakeSlack) -> None:
    s = notify_settings(sl=fake_slack, slack_min_interval=1.0)
    for i in range(12):
        await fixed(nhub, f"web-{i:02d}", "DiskFull")
        await on_task_finished(nhub, await nhub.get_task(f"t-web-{i:02d}-diskfull"), settings=s)
    sleeps = Sleeps()
    [r] = await run_worker(nhub, s, sleeps=sleeps, batch=50)
    assert r.sent == 12
    # 12 messages of 5 blocks (+ a divider between) fit two posts of at most 50 blocks.
    assert len(fake_slack.requests) == 2
    assert all(len(m["blocks"]) <= 50 for m in fake_slack.messages)
    assert sleeps.slept == [1.0]  # the second post waited its second
    assert sorted(fake_slack.delivered) == sorted(f"slack:t-web-{i:02d}-diskfull:resolved"
                                                  for i in range(12))


async def test_slack_429_is_retried(nhub: Hub, fake_slack: FakeSlack) -> None:
    s = notify_settings(sl=fake_slack)
    await on_task_finished(nhub, await fixed(nhub), settings=s)
    fake_slack.script(429, headers={"Retry-After": "30"}, body="rate_limited")
    fake_slack.script(500)
    r1, r2, r3 = await run_worker(nhub, s, rounds=3)
    assert (r1.retried, r2.retried, r3.sent) == (1, 1, 1)
    assert len(fake_slack.messages) == 1


async def test_grafana_annotates_each_fix_once(nhub: Hub, fake_grafana: FakeGrafana) -> None:
    s = notify_settings(gf=fake_grafana)
    task = await fixed(nhub)
    key = f"grafana:{task.id}:fix"
    assert await on_task_finished(nhub, task, settings=s) == [key]
    await run_worker(nhub, s)
    [ann] = fake_grafana.annotations
    assert ann["tags"] == ["ccm", "auto-fix", "runbook:disk-cleanup", "host:web-01",
                           "alert:DiskFull", f"ccm:{key}"]
    assert ann["timeEnd"] - ann["time"] == 252_000
    assert ann["text"].startswith("CCM fixed DiskFull on web-01: freed 3.0 GiB; restarted nginx")
    post = next(r for r in fake_grafana.requests if r.method == "POST")
    assert post.headers["Authorization"] == f"Bearer {fake_grafana.token}"


async def test_grafana_lookup_makes_a_resend_harmless(nhub: Hub,
                                                      fake_grafana: FakeGrafana) -> None:
    """A worker killed after Grafana stored the annotation, before the hub noted it."""
    s = notify_settings(gf=fake_grafana)
    task = await fixed(nhub)
    key = f"grafana:{task.id}:fix"
    await on_task_finished(nhub, task, settings=s)
    fake_grafana.annotations.append({"id": 1, "text": "stored before the crash",
                                     "tags": ["ccm", f"ccm:{key}"]})
    await run_worker(nhub, s)
    assert [r.method for r in fake_grafana.requests] == ["GET"]
    assert len(fake_grafana.annotations) == 1
    [m] = await nhub.list_outbox()
    assert m.state == "sent"


async def test_no_annotation_when_nothing_changed(nhub: Hub, fake_grafana: FakeGrafana) -> None:
    s = notify_settings(gf=fake_grafana)
    task = await make_task(nhub, "web-01", "Blip", path=(*FIX_PATH[:2], TaskState.RESOLVED))
    assert await on_task_finished(nhub, task, settings=s) == []
