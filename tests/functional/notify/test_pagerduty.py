"""PagerDuty Events API v2 against the loopback fake: exact bodies and the retry rules."""

from __future__ import annotations

from datetime import timedelta

from ccm_tui.core.model import Severity
from ccm_tui.core.states import TaskState
from ccm_tui.hub.base import Hub
from ccm_tui.notify.hooks import on_task_escalated, on_task_finished, on_task_taken
from tests.fakes.fake_pagerduty import FakePagerDuty
from tests.fakes.fake_slack import FakeSlack
from tests.functional.notify.conftest import (
    DECISION,
    PAST,
    ROUTING_KEY,
    add_events,
    make_task,
    notify_settings,
    run_worker,
)

ESC = (TaskState.CLAIMED, TaskState.DIAGNOSING, TaskState.ESCALATED)


async def escalated_task(hub: Hub):  # type: ignore[no-untyped-def]
    task = await make_task(hub, "db-01", "PostgresDiskFull", path=ESC, decision=DECISION,
                           runbook="pg-disk", confidence=0.31)
    await add_events(hub, task, ("evidence", {"step": "wal_size", "summary": "pg_wal is 41 GiB"}))
    return task


async def test_trigger_body_is_the_documented_event(nhub: Hub, fake_pd: FakePagerDuty) -> None:
    s = notify_settings(fake_pd)
    task = await escalated_task(nhub)
    keys = await on_task_escalated(nhub, task, {"disk": "97%"}, settings=s, now=PAST)
    assert keys == [f"pd:{task.id}:trigger"]
    assert await on_task_escalated(nhub, task, settings=s, now=PAST) == []  # idempotent
    [r] = await run_worker(nhub, s)
    assert (r.sent, r.retried, r.dead) == (1, 0, 0)
    [req] = fake_pd.requests
    assert req.headers["Content-Type"].startswith("application/json")
    assert req.body == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": f"ccm-{task.id}",
        "payload": {
            "summary": "[CRITICAL] PostgresDiskFull on db-01: WAL archive stuck",
            "source": "db-01",
            "severity": "critical",
            "timestamp": PAST.isoformat(),
            "component": "PostgresDiskFull",
            "group": "db",
            "class": "pg-disk",
            "custom_details": {
                "task": task.id, "alert": "PostgresDiskFull", "host": "db-01",
                "host_group": "db", "state": "escalated",
                "transcript": f"ccm tasks show {task.id}",
                "runbook": "pg-disk", "decision": "escalate", "confidence": 0.31,
                "cause": "WAL archive stuck",
                "reasons": ["archive_command failing for 40 min"],
                "evidence": {"wal_size": "pg_wal is 41 GiB"},
                "findings": {"disk": "97%"},
            },
        },
        "client": "CCM",
    }
    assert fake_pd.incidents == {f"ccm-{task.id}": "triggered"}


async def test_acknowledge_and_resolve_reach_the_same_incident(
        nhub: Hub, fake_pd: FakePagerDuty) -> None:
    s = notify_settings(fake_pd, transcript_url="https://ccm.example/tasks/{task}")
    task = await escalated_task(nhub)
    await on_task_escalated(nhub, task, settings=s, now=PAST)
    await on_task_taken(nhub, task, "jordan", settings=s)
    done = await nhub.transition(task.id, TaskState.RESOLVED)
    assert await on_task_finished(nhub, done, settings=s) == [f"pd:{task.id}:resolve"]
    await run_worker(nhub, s)
    key = f"ccm-{task.id}"
    assert [e["event_action"] for e in fake_pd.events] == ["trigger", "acknowledge", "resolve"]
    assert fake_pd.events[0]["client_url"] == f"https://ccm.example/tasks/{task.id}"
    assert fake_pd.requests[1].body == {"routing_key": ROUTING_KEY,
                                        "event_action": "acknowledge", "dedup_key": key}
    assert fake_pd.requests[2].body == {"routing_key": ROUTING_KEY,
                                        "event_action": "resolve", "dedup_key": key}
    assert fake_pd.incidents == {key: "resolved"} and fake_pd.incidents_opened[key] == 1


async def test_a_task_that_never_paged_sends_no_acknowledge_or_resolve(
        nhub: Hub, fake_pd: FakePagerDuty) -> None:
    s = notify_settings(fake_pd)
    task = await make_task(nhub, "web-01", "DiskFull", path=ESC[:2])
    assert await on_task_taken(nhub, task, "jordan", settings=s) == []
    done = await nhub.transition(task.id, TaskState.RESOLVED)
    assert await on_task_finished(nhub, done, settings=s) == []


async def test_429_honours_retry_after_then_202(nhub: Hub, fake_pd: FakePagerDuty) -> None:
    s = notify_settings(fake_pd)
    task = await escalated_task(nhub)
    await on_task_escalated(nhub, task, settings=s, now=PAST)
    fake_pd.script(429, headers={"Retry-After": "7"}, body='{"status":"throttled"}')
    [r] = await run_worker(nhub, s)
    assert (r.sent, r.retried) == (0, 1)
    [m] = await nhub.list_outbox()
    assert m.state == "pending" and m.attempts == 1 and "429" in m.last_error
    assert m.next_attempt_at == PAST + timedelta(seconds=7)  # Retry-After, not the backoff
    [r] = await run_worker(nhub, s)
    assert r.sent == 1
    assert len(fake_pd.requests) == 2 and len(fake_pd.events) == 1


async def test_5xx_backs_off_exponentially(nhub: Hub, fake_pd: FakePagerDuty) -> None:
    s = notify_settings(fake_pd, backoff_seconds=3)
    task = await escalated_task(nhub)
    await on_task_escalated(nhub, task, settings=s, now=PAST)
    fake_pd.script(500, times=2, body="internal error")
    delays = []
    for _ in range(2):
        await run_worker(nhub, s)
        [m] = await nhub.list_outbox()
        assert m.state == "pending" and "HTTP 500" in m.last_error
        assert m.next_attempt_at is not None
        delays.append((m.next_attempt_at - PAST).total_seconds())
    assert delays == [3.0, 6.0]
    await run_worker(nhub, s)
    [m] = await nhub.list_outbox()
    assert (m.state, m.attempts) == ("sent", 3)
    assert fake_pd.incidents_opened[f"ccm-{task.id}"] == 1


async def test_400_is_never_retried(nhub: Hub, fake_pd: FakePagerDuty) -> None:
    s = notify_settings(fake_pd)
    task = await escalated_task(nhub)
    await on_task_escalated(nhub, task, settings=s, now=PAST)
    fake_pd.script(400, body='{"status":"invalid event","message":"Event object is invalid"}')
    [r] = await run_worker(nhub, s)
    assert (r.dead, r.retried) == (1, 0)
    [m] = await nhub.list_outbox()
    assert m.state == "dead" and "HTTP 400 (not retried)" in m.last_error
    [again] = await run_worker(nhub, s)
    assert again.claimed == 0 and len(fake_pd.requests) == 1


async def test_the_fake_rejects_what_pagerduty_rejects(nhub: Hub, fake_pd: FakePagerDuty) -> None:
    s = notify_settings(fake_pd, pagerduty_routing_key="too-short")
    task = await escalated_task(nhub)
    await on_task_escalated(nhub, task, settings=s, now=PAST)
    await run_worker(nhub, s)
    [m] = await nhub.list_outbox()
    assert m.state == "dead" and "routing_key" in m.last_error


async def test_gives_up_after_max_attempts(nhub: Hub, fake_pd: FakePagerDuty) -> None:
    s = notify_settings(fake_pd, max_attempts=2)
    task = await escalated_task(nhub)
    await on_task_escalated(nhub, task, settings=s, now=PAST)
    fake_pd.script(503, times=5)
    await run_worker(nhub, s, rounds=3)
    [m] = await nhub.list_outbox()
    assert m.state == "dead" and m.last_error.startswith("gave up after 2 attempts")
    assert len(fake_pd.requests) == 2


async def test_an_acknowledge_waits_for_its_trigger(nhub: Hub, fake_pd: FakePagerDuty) -> None:
    s = notify_settings(fake_pd)
    task = await escalated_task(nhub)
    await on_task_escalated(nhub, task, settings=s, now=PAST)
    await on_task_taken(nhub, task, "jordan", settings=s)
    fake_pd.script(500)
    [r] = await run_worker(nhub, s)
    assert (r.retried, r.deferred, r.sent) == (1, 1, 0)  # the ack did not overtake
    await run_worker(nhub, s, rounds=3)
    assert [e["event_action"] for e in fake_pd.events] == ["trigger", "acknowledge"]
    ack = next(m for m in await nhub.list_outbox() if m.dedup_key.endswith("acknowledge"))
    assert ack.state == "sent"


async def test_routing_db_pages_workers_do_not(nhub: Hub, fake_pd: FakePagerDuty) -> None:
    s = notify_settings(fake_pd, page_groups=["db"])
    db = await make_task(nhub, "db-01", "Down", path=ESC)
    worker = await make_task(nhub, "worker-41", "Down", path=ESC)
    warn = await make_task(nhub, "db-01", "Slow", path=ESC, severity=Severity.INFO)
    assert await on_task_escalated(nhub, db, settings=s) == [f"pd:{db.id}:trigger"]
    assert await on_task_escalated(nhub, worker, settings=s) == []
    assert await on_task_escalated(nhub, warn, settings=s) == []  # below page_min_severity


async def test_a_silence_holds_the_page_until_it_ends(nhub: Hub, fake_pd: FakePagerDuty,
                                                      fake_slack: FakeSlack) -> None:
    """As Alertmanager's notifications do: the page for a task a silence covers waits
    until the silence ends, and goes out only if the task is still unfixed then."""
    import asyncio

    from ccm_tui.core import Silence, parse_matcher, utcnow

    s = notify_settings(fake_pd, sl=fake_slack)
    now = utcnow()
    long = await nhub.add_silence(Silence((parse_matcher("alertname=PostgresDiskFull"),),
                                          now - timedelta(minutes=1), now + timedelta(hours=1),
                                          "migration", "jordan"))
    task = await escalated_task(nhub)
    assert await on_task_escalated(nhub, task, settings=s, now=now) == [
        f"pd:{task.id}:trigger", f"slack:{task.id}:escalated"]
    await run_worker(nhub, s, clock=now)
    assert fake_pd.events == []  # held during the silence
    [msg] = fake_slack.messages
    assert f"page held until {long.ends_at:%Y-%m-%d %H:%M} UTC by silence {long.id} " \
        "(migration), sent then if still unfixed" in str(msg["blocks"])

    # A silence about to end: one task still escalated when it does, one cleared before.
    short = now + timedelta(seconds=1)
    await nhub.add_silence(Silence((parse_matcher("host=db-01"),), now - timedelta(minutes=1),
                                   short, "failover"))
    lag = await make_task(nhub, "db-01", "ReplicaLag", path=ESC, decision=DECISION)
    gone = await make_task(nhub, "db-01", "ConnectionsHigh", path=ESC, decision=DECISION)
    for t in (lag, gone):
        await on_task_escalated(nhub, t, settings=s, now=utcnow())
    await nhub.transition(gone.id, TaskState.RESOLVED)  # it cleared during the silence
    await asyncio.sleep(max((short - utcnow()).total_seconds(), 0) + 0.2)
    await run_worker(nhub, s, clock=utcnow())
    assert [e["dedup_key"] for e in fake_pd.events] == [f"ccm-{lag.id}"]  # no page for gone
