"""From alerts to the few tasks worth doing — without ever dropping one.

For each alert, in order:

1. **Store it** (idempotent on fingerprint + status + start). A re-send of a stored
   alert is a *duplicate* and changes nothing else.
2. **Silences and maintenance windows**: a matching active silence stores the alert as
   ``silenced:<id>`` and makes no task.
3. **Flapping**: an alert that fired more than ``flap_threshold`` times within
   ``flap_window`` is held (stored as ``flapping``) and summarised on its open task
   instead of being re-tasked.
4. **One open task per (host, alertname)**: a firing alert attaches to the open task
   if there is one, or creates it (unmanaged when the host is outside the inventory).
5. **Resolved**: closes a task that has not started (``resolved_upstream``) once every
   alert attached to it has resolved; on a task already being worked it is noted.

The alert is stored before anything is acknowledged; a hub error propagates so the
webhook answers 503 and the source retries (repeats are then duplicates).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from ccm_tui.core.errors import ConflictError, IllegalTransition
from ccm_tui.core.model import Alert, AlertStatus, Silence, Task, new_task_id, utcnow
from ccm_tui.core.states import TaskState
from ccm_tui.hub.base import Hub
from ccm_tui.ingest.hosts import HostDirectory
from ccm_tui.ingest.metrics import Metrics
from ccm_tui.ingest.parsers import ParsedAlert


class Outcome(StrEnum):
    """What became of one alert."""

    CREATED = "created"
    ATTACHED = "attached"
    DUPLICATE = "duplicate"
    SILENCED = "silenced"
    FLAPPING = "flapping"
    RESOLVED_UPSTREAM = "resolved_upstream"
    NOTED = "noted"
    RESOLVED_NO_TASK = "resolved_no_task"


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """Noise-reduction knobs."""

    flap_threshold: int = 3
    flap_window: timedelta = timedelta(minutes=30)
    host_cache_seconds: float = 5.0


@dataclass(slots=True)
class AlertResult:
    """One alert's fate."""

    fingerprint: str
    alertname: str
    host: str
    outcome: Outcome
    task_id: str | None = None
    detail: str = ""


@dataclass(slots=True)
class IngestReport:
    """What a batch of alerts did."""

    results: list[AlertResult] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(r.outcome.value for r in self.results))

    @property
    def task_ids(self) -> list[str]:
        return sorted({r.task_id for r in self.results if r.task_id})


def _summary(p: ParsedAlert, host: str) -> str:
    text = p.annotations.get("summary") or p.annotations.get("description") or ""
    text = " ".join(text.split())
    return (text or f"{p.alertname} on {host}")[:300]


class Ingestor:
    """Applies noise reduction and writes alerts and tasks to the hub."""

    def __init__(self, hub: Hub, *, settings: IngestSettings | None = None,
                 metrics: Metrics | None = None) -> None:
        self.hub = hub
        self.settings = settings or IngestSettings()
        self.metrics = metrics or Metrics()
        self._directory: HostDirectory | None = None

    async def directory(self) -> HostDirectory:
        """The inventory as the hub knows it (cached for a few seconds)."""
        d = self._directory
        if d is None or time.monotonic() - d.loaded_at > self.settings.host_cache_seconds:
            d = HostDirectory(await self.hub.list_hosts())
            self._directory = d
        return d

    async def ingest(self, alerts: list[ParsedAlert], *, now: datetime | None = None
                     ) -> IngestReport:
        """Store and act on a batch of parsed alerts (raises hub errors)."""
        now = now or utcnow()
        report = IngestReport()
        if not alerts:
            return report
        directory = await self.directory()
        silences = await self.hub.list_silences(active_at=now)
        for parsed in alerts:
            report.results.append(await self._one(parsed, directory, silences, now))
        return report

    async def _one(self, p: ParsedAlert, directory: HostDirectory, silences: list[Silence],
                   now: datetime) -> AlertResult:
        m = self.metrics
        m.inc("ccm_ingest_alerts_received_total", source=p.source, status=p.status.value)
        match = directory.resolve(p.hosts)
        alert = Alert(
            fingerprint=p.fingerprint, status=p.status, source=p.source, alertname=p.alertname,
            host=match.name, starts_at=p.starts_at or now, labels=p.labels,
            annotations=p.annotations, severity=p.severity, ends_at=p.ends_at, received_at=now,
        )
        if p.status is AlertStatus.RESOLVED:
            return await self._resolved(alert)

        silence = next((s for s in silences if s.silences(alert, now)), None)
        suppressed: str | None = None
        if silence is not None:
            suppressed = f"silenced:{silence.id}"
        else:
            earlier = await self.hub.count_firings(alert.fingerprint, now - self.settings.flap_window)
            already = await self.hub.list_alerts(fingerprint=alert.fingerprint, limit=1)
            is_repeat = bool(already) and already[0].starts_at == alert.starts_at \
                and already[0].status is AlertStatus.FIRING
            if not is_repeat and earlier + 1 > self.settings.flap_threshold:
                suppressed = "flapping"
        record = await self.hub.record_alert(replace(alert, suppressed=suppressed))
        stored = record.alert
        result = AlertResult(stored.fingerprint, stored.alertname, stored.host, Outcome.DUPLICATE,
                             stored.task_id)
        if not record.is_new and (stored.task_id or stored.suppressed):
            m.inc("ccm_ingest_duplicates_total")
            return result
        if stored.suppressed and stored.suppressed.startswith("silenced"):
            m.inc("ccm_ingest_suppressed_total", reason="silenced")
            result.outcome, result.detail = Outcome.SILENCED, stored.suppressed
            return result
        if stored.suppressed == "flapping":
            m.inc("ccm_ingest_suppressed_total", reason="flapping")
            result.outcome = Outcome.FLAPPING
            open_task = await self.hub.find_open_task(stored.host, stored.alertname)
            if open_task is not None:
                await self._attach(open_task, stored, flapping=True)
                result.task_id = open_task.id
            result.detail = (f"fired more than {self.settings.flap_threshold} times in "
                             f"{int(self.settings.flap_window.total_seconds() // 60)} min")
            return result
        task, created = await self._task_for(stored, match.managed, p)
        result.task_id = task.id
        result.outcome = Outcome.CREATED if created else Outcome.ATTACHED
        m.inc("ccm_ingest_tasks_created_total" if created else "ccm_ingest_attached_total")
        if created and not match.managed:
            m.inc("ccm_ingest_unmanaged_total")
        return result

    async def _task_for(self, alert: Alert, managed: bool, p: ParsedAlert) -> tuple[Task, bool]:
        assert alert.id is not None
        for _ in range(5):
            open_task = await self.hub.find_open_task(alert.host, alert.alertname)
            if open_task is not None:
                await self._attach(open_task, alert)
                return open_task, False
            try:
                task = await self.hub.create_task(Task(
                    id=new_task_id(), host=alert.host, alertname=alert.alertname,
                    severity=alert.severity, alert_fingerprint=alert.fingerprint,
                    summary=_summary(p, alert.host), managed=managed,
                    spec={"alert": {
                        "source": alert.source, "fingerprint": alert.fingerprint,
                        "labels": alert.labels, "annotations": alert.annotations,
                        "starts_at": alert.starts_at.isoformat(),
                        "generator_url": p.generator_url,
                    }},
                ))
            except ConflictError:
                continue  # another receiver created it a moment ago: attach to that
            await self.hub.link_alert(alert.id, task.id)
            return task, True
        raise ConflictError(f"could not settle the task for {alert.host}/{alert.alertname}")

    async def _attach(self, task: Task, alert: Alert, *, flapping: bool = False) -> None:
        assert alert.id is not None
        await self.hub.link_alert(alert.id, task.id)
        for _ in range(10):
            current = await self.hub.get_task(task.id)
            fields: dict[str, object] = {"repeat_count": current.repeat_count + 1}
            if flapping and "flapping" not in current.note:
                fields["note"] = (current.note + " " if current.note else "") + \
                    f"flapping: {alert.alertname} keeps firing and resolving; repeats held"
            if current.severity.value != "critical" and alert.severity.value == "critical":
                fields["severity"] = alert.severity
            try:
                await self.hub.update_task(current.id, current.version, **fields)
                return
            except ConflictError:
                continue

    async def _resolved(self, alert: Alert) -> AlertResult:
        m = self.metrics
        record = await self.hub.record_alert(alert)
        stored = record.alert
        result = AlertResult(stored.fingerprint, stored.alertname, stored.host,
                             Outcome.RESOLVED_NO_TASK, stored.task_id)
        if not record.is_new and stored.task_id:
            m.inc("ccm_ingest_duplicates_total")
            result.outcome = Outcome.DUPLICATE
            return result
        task = await self._task_of_firing(stored)
        if task is None:
            m.inc("ccm_ingest_resolved_total", effect="none")
            return result
        assert stored.id is not None
        await self.hub.link_alert(stored.id, task.id)
        result.task_id = task.id
        if task.state.is_terminal:
            m.inc("ccm_ingest_resolved_total", effect="none")
            return result
        if await self._still_firing(task.id):
            result.outcome, result.detail = Outcome.NOTED, "other alerts of the task still fire"
            m.inc("ccm_ingest_resolved_total", effect="noted")
            return result
        if task.state in (TaskState.NEW, TaskState.CLAIMED):
            try:
                await self.hub.transition(task.id, TaskState.RESOLVED_UPSTREAM,
                                          outcome="resolved upstream before work started")
                result.outcome = Outcome.RESOLVED_UPSTREAM
                m.inc("ccm_ingest_resolved_total", effect="closed_before_start")
                return result
            except IllegalTransition:
                task = await self.hub.get_task(task.id)  # started meanwhile: note it instead
        await self._note_resolved(task, stored)
        result.outcome = Outcome.NOTED
        m.inc("ccm_ingest_resolved_total", effect="noted")
        return result

    async def _task_of_firing(self, resolved: Alert) -> Task | None:
        for a in await self.hub.list_alerts(fingerprint=resolved.fingerprint, limit=20):
            if a.status is AlertStatus.FIRING and a.task_id and a.starts_at <= resolved.starts_at:
                return await self.hub.get_task(a.task_id)
        return await self.hub.find_open_task(resolved.host, resolved.alertname)

    async def _still_firing(self, task_id: str) -> bool:
        linked = await self.hub.list_alerts(task_id=task_id, limit=500)
        resolved = {(a.fingerprint, a.starts_at) for a in linked if a.status is AlertStatus.RESOLVED}
        resolved_fps = {fp for fp, _ in resolved}
        for a in linked:
            if a.status is AlertStatus.FIRING and (a.fingerprint, a.starts_at) not in resolved:
                # A later firing episode of a fingerprint resolved earlier still counts.
                later = [r for r in resolved if r[0] == a.fingerprint and r[1] >= a.starts_at]
                if a.fingerprint not in resolved_fps or not later:
                    return True
        return False

    async def _note_resolved(self, task: Task, alert: Alert) -> None:
        for _ in range(10):
            current = await self.hub.get_task(task.id)
            result = dict(current.result)
            result["upstream_resolved_at"] = alert.received_at.isoformat()
            try:
                await self.hub.update_task(current.id, current.version, result=result)
                return
            except ConflictError:
                continue
