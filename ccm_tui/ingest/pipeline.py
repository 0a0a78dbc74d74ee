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
   alert attached to it has resolved, and an escalated one (``resolved``: the page is
   resolved too); on a task already being worked it is noted.

The alert is stored before anything is acknowledged; a hub error propagates so the
webhook answers 503 and the source retries (repeats are then duplicates). A firing
alert that counts is stored together with its task in one transaction
(:meth:`Hub.record_firings`: concurrent requests share it, see :mod:`.group_commit`),
so a crash never leaves it without one; a re-send of a stored firing alert is
recognised from memory (:mod:`.known_firing`) or one light read
(:meth:`Hub.latest_alert`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import datetime

from ccm_tui.core.errors import ConflictError, IllegalTransition
from ccm_tui.core.model import (
    CLEARED_AFTER_ESCALATION,
    Alert,
    AlertStatus,
    Silence,
    Task,
    new_task_id,
    utcnow,
)
from ccm_tui.core.states import TaskState
from ccm_tui.hub.base import Hub
from ccm_tui.ingest.group_commit import GroupCommit
from ccm_tui.ingest.hosts import HostDirectory
from ccm_tui.ingest.known_firing import KnownFirings
from ccm_tui.ingest.metrics import Metrics
from ccm_tui.ingest.outcomes import AlertResult, IngestReport, IngestSettings, Outcome
from ccm_tui.ingest.parsers import ParsedAlert

__all__ = ["AlertResult", "IngestReport", "IngestSettings", "Ingestor", "Outcome"]

log = logging.getLogger("ccm.webhook")


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
        self._silences: tuple[float, list[Silence]] | None = None
        self._resends: dict[int, int] = {}
        self._resends_since = time.monotonic()
        self.group_commit = GroupCommit(hub, self.metrics)
        self.known = KnownFirings()

    async def flush(self, now: datetime | None = None) -> None:
        """Write the re-send counts gathered since the last flush (one transaction).

        A re-send of a stored alert is acknowledged without a write — the alert is
        already durable — and only its ``seen_count`` waits here, at most a second.
        """
        pending, self._resends = self._resends, {}
        self._resends_since = time.monotonic()
        if pending:
            try:
                await self.hub.note_resends(pending, now or utcnow())
            except BaseException:
                for k, n in pending.items():  # keep them for the next flush
                    self._resends[k] = self._resends.get(k, 0) + n
                raise

    def forget_caches(self) -> None:
        """Re-read hosts and silences on the next batch (after adding either)."""
        self._directory = None
        self._silences = None
        self.known.clear()

    async def _active_silences(self, now: datetime) -> list[Silence]:
        """Current silences and maintenance windows, re-read at most once a second.

        Fetched with a margin around ``now`` and filtered per alert, so a window
        that opens within the cache second still applies.
        """
        cached = self._silences
        if cached is None or time.monotonic() - cached[0] > 1.0:
            cached = (time.monotonic(), await self.hub.list_silences(ending_after=now))
            self._silences = cached
        return cached[1]

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
        silences = await self._active_silences(now)
        for parsed in alerts:
            report.results.append(await self._one(parsed, directory, silences, now))
        if self._resends and (len(self._resends) >= 200
                              or time.monotonic() - self._resends_since > 1.0):
            await self.flush(now)
        return report

    async def _one(self, p: ParsedAlert, directory: HostDirectory, silences: list[Silence],
                   now: datetime) -> AlertResult:
        m = self.metrics
        m.inc("ccm_ingest_alerts_received_total", source=p.source, status=p.status.value)
        match = directory.resolve(p.hosts)
        starts_at = p.starts_at or now
        if p.status is AlertStatus.RESOLVED:
            return await self._resolved(self._alert(p, match.name, starts_at, now))

        known = self.known.lookup(p.fingerprint, starts_at)
        if known is not None:  # a re-send of a firing alert this receiver stored
            return self._resend(p, match.name, *known)
        latest = await self.hub.latest_alert(p.fingerprint)
        firing = latest is not None and latest.status is AlertStatus.FIRING
        if latest is not None and firing:
            if latest.task_id or latest.suppressed:
                if latest.starts_at == starts_at:
                    self.known.remember(p.fingerprint, starts_at, latest.id, latest.task_id)
                return self._resend(p, match.name, latest.id, latest.task_id)
            # Still the same firing episode (a re-send, or a source such as Kibana that
            # re-notifies with a new start time): it keeps the episode's start.
            starts_at = latest.starts_at
        suppressed: str | None = None
        alert = self._alert(p, match.name, starts_at, now)
        silence = next((s for s in silences if s.silences(alert, now)), None)
        if silence is not None:
            suppressed = f"silenced:{silence.id}"
        elif not firing:
            earlier = 0 if latest is None else await self.hub.count_firings(  # never stored: 0
                alert.fingerprint, now - self.settings.flap_window)
            if earlier + 1 > self.settings.flap_threshold:
                suppressed = "flapping"
        if suppressed is None:
            return await self._firing(alert, match.managed, p)
        record = await self.hub.record_alert(replace(alert, suppressed=suppressed))
        stored = record.alert
        result = AlertResult(stored.fingerprint, stored.alertname, stored.host, Outcome.DUPLICATE,
                             stored.task_id)
        if not record.is_new and (stored.task_id or stored.suppressed):
            m.inc("ccm_ingest_duplicates_total")
            return result
        assert stored.id is not None
        self.known.remember(stored.fingerprint, stored.starts_at, stored.id, stored.task_id)
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
                self.known.remember(stored.fingerprint, stored.starts_at, stored.id, open_task.id)
            result.detail = (f"fired more than {self.settings.flap_threshold} times in "
                             f"{int(self.settings.flap_window.total_seconds() // 60)} min")
            return result
        task, created = await self._task_for(stored, match.managed, p)
        result.task_id = task.id
        self._count_task(result, created, match.managed)
        return result

    def _resend(self, p: ParsedAlert, host: str, alert_id: int, task_id: str | None
                ) -> AlertResult:
        self._resends[alert_id] = self._resends.get(alert_id, 0) + 1
        self.metrics.inc("ccm_ingest_duplicates_total")
        return AlertResult(p.fingerprint, p.alertname, host, Outcome.DUPLICATE, task_id)

    @staticmethod
    def _alert(p: ParsedAlert, host: str, starts_at: datetime, now: datetime) -> Alert:
        return Alert(
            fingerprint=p.fingerprint, status=p.status, source=p.source, alertname=p.alertname,
            host=host, starts_at=starts_at, labels=p.labels, annotations=p.annotations,
            severity=p.severity, ends_at=p.ends_at, received_at=now,
        )

    def _count_task(self, result: AlertResult, created: bool, managed: bool) -> None:
        m = self.metrics
        result.outcome = Outcome.CREATED if created else Outcome.ATTACHED
        m.inc("ccm_ingest_tasks_created_total" if created else "ccm_ingest_attached_total")
        if created and not managed:
            m.inc("ccm_ingest_unmanaged_total")
        if created:
            log.info("%s: new task · %s %s%s", result.task_id, result.host, result.alertname,
                     "" if managed else " · host not in the inventory: it will be escalated")

    def _new_task(self, alert: Alert, managed: bool, p: ParsedAlert) -> Task:
        return Task(
            id=new_task_id(), host=alert.host, alertname=alert.alertname,
            severity=alert.severity, alert_fingerprint=alert.fingerprint,
            summary=_summary(p, alert.host), managed=managed,
            spec={"alert": {
                "source": alert.source, "fingerprint": alert.fingerprint,
                "labels": alert.labels, "annotations": alert.annotations,
                "starts_at": alert.starts_at.isoformat(),
                "generator_url": p.generator_url,
            }},
        )

    async def _firing(self, alert: Alert, managed: bool, p: ParsedAlert) -> AlertResult:
        """Store a firing alert that counts and create or join its task, atomically."""
        for _ in range(5):
            try:
                record = await self.group_commit.record(
                    alert, lambda: self._new_task(alert, managed, p))
            except ConflictError:
                continue  # another receiver created the task a moment ago: join that
            stored = record.alert
            if stored.id is not None and (stored.task_id or stored.suppressed):
                self.known.remember(stored.fingerprint, stored.starts_at, stored.id,
                                    stored.task_id)
            result = AlertResult(stored.fingerprint, stored.alertname, stored.host,
                                 Outcome.DUPLICATE, stored.task_id)
            if record.created or record.joined:
                self._count_task(result, record.created, managed)
            else:  # a repeat of an alert that already has its task (or was held)
                self.metrics.inc("ccm_ingest_duplicates_total")
            return result
        raise ConflictError(f"could not settle the task for {alert.host}/{alert.alertname}")

    async def _task_for(self, alert: Alert, managed: bool, p: ParsedAlert) -> tuple[Task, bool]:
        assert alert.id is not None
        for _ in range(5):
            open_task = await self.hub.find_open_task(alert.host, alert.alertname)
            if open_task is not None:
                await self._attach(open_task, alert)
                return open_task, False
            try:
                task = await self.hub.create_task(self._new_task(alert, managed, p))
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
        history = await self.hub.list_alerts(fingerprint=alert.fingerprint, limit=20)
        firing = next((a for a in history if a.status is AlertStatus.FIRING), None)
        if history and history[0].status is AlertStatus.FIRING:
            alert = replace(alert, starts_at=history[0].starts_at)  # ends that episode
        record = await self.hub.record_alert(alert)
        stored = record.alert
        result = AlertResult(stored.fingerprint, stored.alertname, stored.host,
                             Outcome.RESOLVED_NO_TASK, stored.task_id)
        if not record.is_new:
            pending = stored.task_id and not (await self.hub.get_task(stored.task_id)).state \
                .is_terminal and not await self._still_firing(stored.task_id)
            if not pending:
                m.inc("ccm_ingest_duplicates_total")
                result.outcome = Outcome.DUPLICATE
                return result
            # A re-send after a crash between storing and closing: finish the job.
        if firing is not None and firing.task_id is None and stored.task_id is None:
            m.inc("ccm_ingest_resolved_total", effect="none")
            return result  # its firing made no task (silenced, flapping): nothing to close
        task = await self._task_of_firing(stored)
        if task is None:
            m.inc("ccm_ingest_resolved_total", effect="none")
            return result
        assert stored.id is not None
        await self.hub.link_alert(stored.id, task.id)
        result.task_id = task.id
        if task.state is TaskState.ESCALATED and not await self._still_firing(task.id):
            # Escalated to a human, and the problem went away: close it (and its page).
            try:
                await self.hub.transition(task.id, TaskState.RESOLVED,
                                          outcome=CLEARED_AFTER_ESCALATION)
                result.outcome = Outcome.RESOLVED_AFTER_ESCALATION
                log.info("%s: closed · %s %s resolved upstream after escalation", task.id,
                         task.host, task.alertname)
                m.inc("ccm_ingest_resolved_total", effect="closed_after_escalation")
                return result
            except IllegalTransition:
                task = await self.hub.get_task(task.id)
        if task.state.is_terminal:
            m.inc("ccm_ingest_resolved_total", effect="none")
            return result
        if await self._still_firing(task.id):
            result.outcome, result.detail = Outcome.NOTED, "other alerts of the task still fire"
            m.inc("ccm_ingest_resolved_total", effect="noted")
            return result
        # Only a task no daemon has taken: once claimed, an agent may be fixing it
        # (that is often *why* the alert resolved) and must be allowed to finish.
        if task.state is TaskState.NEW:
            try:
                await self.hub.transition(task.id, TaskState.RESOLVED_UPSTREAM,
                                          outcome="resolved upstream before work started")
                result.outcome = Outcome.RESOLVED_UPSTREAM
                log.info("%s: closed · %s %s resolved upstream before work started", task.id,
                         task.host, task.alertname)
                m.inc("ccm_ingest_resolved_total", effect="closed_before_start")
                return result
            except IllegalTransition:
                task = await self.hub.get_task(task.id)  # started meanwhile: note it instead
        await self._note_resolved(task, stored)
        result.outcome = Outcome.NOTED
        m.inc("ccm_ingest_resolved_total", effect="noted")
        return result

    async def _task_of_firing(self, resolved: Alert) -> Task | None:
        """The task the resolved alert's firing episode made or joined.

        Only when CCM never saw that firing (it started before the receiver did)
        does it fall back to the open task of the same host and alert name.
        """
        if resolved.task_id:
            return await self.hub.get_task(resolved.task_id)
        seen_firing = False
        for a in await self.hub.list_alerts(fingerprint=resolved.fingerprint, limit=20):
            if a.status is AlertStatus.FIRING:
                seen_firing = True
                if a.task_id and a.starts_at <= resolved.starts_at:
                    return await self.hub.get_task(a.task_id)
        if seen_firing:
            return None
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
