"""Fixtures for the notification tests: an SQLite hub, the loopback fakes, helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ccm_tui.config import NotifySettings
from ccm_tui.core.model import Decision, DecisionKind, Event, Host, Risk, Severity, Task
from ccm_tui.core.states import TaskState
from ccm_tui.hub import open_hub
from ccm_tui.hub.base import Hub
from ccm_tui.notify.delivery import RateLimiter
from ccm_tui.notify.outbox import OutboxWorker, default_senders
from tests.fakes.fake_grafana import FakeGrafana
from tests.fakes.fake_json_webhook import FakeJsonWebhook
from tests.fakes.fake_pagerduty import FakePagerDuty
from tests.fakes.fake_slack import FakeSlack

ROUTING_KEY = "R0UTINGKEY0123456789abcdefABCDEF"
assert len(ROUTING_KEY) == 32
#: The worker's clock in tests: an hour behind, so every retry time is already due.
PAST = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
async def nhub(tmp_path: Path) -> AsyncIterator[Hub]:
    hub = open_hub(f"sqlite:///{tmp_path / 'hub.db'}")
    async with hub:
        await hub.upsert_hosts([Host("db-01", groups=("db",)), Host("web-01", groups=("web",)),
                                Host("worker-41", groups=("worker",))])
        yield hub


@pytest.fixture
async def fake_pd() -> AsyncIterator[FakePagerDuty]:
    fake = FakePagerDuty()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def fake_json() -> AsyncIterator[FakeJsonWebhook]:
    fake = FakeJsonWebhook()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def fake_grafana() -> AsyncIterator[FakeGrafana]:
    fake = FakeGrafana()
    await fake.start()
    yield fake
    await fake.stop()


def notify_settings(pd: FakePagerDuty | None = None, sl: FakeSlack | None = None,
                    gf: FakeGrafana | None = None, **extra: Any) -> NotifySettings:
    data: dict[str, Any] = {"slack_min_interval": 0}
    if pd is not None:
        data.update(pagerduty_routing_key=ROUTING_KEY, pagerduty_url=pd.enqueue_url)
    if sl is not None:
        data["slack_webhook_url"] = sl.webhook_url
    if gf is not None:
        data.update(grafana_url=gf.url, grafana_token=gf.token)
    data.update(extra)
    return NotifySettings(**data)


class Sleeps:
    """A fake clock for the rate limiter: records sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


async def run_worker(hub: Hub, settings: NotifySettings, *, rounds: int = 1,
                     clock: datetime = PAST, sleeps: Sleeps | None = None,
                     batch: int = 10) -> list[Any]:
    """Run ``rounds`` worker cycles with a fixed clock; return each cycle's result."""
    results = []
    async with aiohttp.ClientSession() as session:
        senders = default_senders(settings, session)
        if sleeps is not None:
            senders["slack"].limiter = RateLimiter(  # type: ignore[attr-defined]
                settings.slack_min_interval, clock=sleeps.clock, sleep=sleeps.sleep)
        worker = OutboxWorker(hub, settings, senders, owner="test-worker", batch=batch,
                              clock=lambda: clock)
        for _ in range(rounds):
            results.append(await worker.run_once())
    return results


DECISION = Decision(kind=DecisionKind.ESCALATE, confidence=0.31, evidence_match=0.35,
                    prior=0.95, risk=Risk.MEDIUM, risk_cap=0.95, runbook="pg-disk",
                    cause="WAL archive stuck", reasons=("archive_command failing for 40 min",))


async def make_task(hub: Hub, host: str, alertname: str, *, severity: Severity =
                    Severity.CRITICAL, path: tuple[TaskState, ...] = (),
                    created_at: datetime | None = None, finish_after: float | None = None,
                    **fields: Any) -> Task:
    """Create a task and walk it along ``path``; the last step may set ``finished_at``."""
    created = created_at or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    task = await hub.create_task(Task(id=f"t-{host}-{alertname}".lower(), host=host,
                                      alertname=alertname, severity=severity,
                                      summary=f"{alertname} on {host}", created_at=created,
                                      updated_at=created))
    if fields:
        task = await hub.update_task(task.id, task.version, **fields)
    for i, state in enumerate(path):
        extra = {}
        if i == len(path) - 1 and finish_after is not None:
            extra["finished_at"] = created + timedelta(seconds=finish_after)
        task = await hub.transition(task.id, state, **extra)
    return task


FIX_PATH = (TaskState.CLAIMED, TaskState.DIAGNOSING, TaskState.REMEDIATING,
            TaskState.VERIFYING, TaskState.RESOLVED)


async def add_events(hub: Hub, task: Task, *specs: tuple[str, dict[str, Any]]) -> None:
    ts = task.created_at
    await hub.append_events([Event(task.id, i, typ, ts + timedelta(seconds=i), data)
                             for i, (typ, data) in enumerate(specs, 1)])


__all__ = ["DECISION", "FIX_PATH", "PAST", "ROUTING_KEY", "Sleeps", "add_events", "make_task",
           "notify_settings", "replace", "run_worker"]
