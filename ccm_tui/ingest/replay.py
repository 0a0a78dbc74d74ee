"""Replay a trace through the receiver's own code, and count what the night would have been.

Each request line is decoded and parsed as ``POST /alerts/<endpoint>`` would be
(:func:`~ccm_tui.ingest.parsers.common.load_json`, then
:func:`~ccm_tui.ingest.parsers.parsers`), and its alerts go through
:meth:`Ingestor.ingest <ccm_tui.ingest.pipeline.Ingestor.ingest>` with ``now`` set to
the line's ``ts`` — so flap windows and silences follow the trace's clock. Nothing
is simulated: the tasks, alerts and silences end up in the hub replayed into.
Credentials and Grafana signatures are not checked (a trace holds no secrets); a
``Content-Type`` header in the trace is, as the receiver checks it.

**Pages.** Both figures count notifications that would wake someone up:

- *without CCM*: the pager wired straight to the sources (Alertmanager's PagerDuty
  receiver, or Grafana's or Kibana's own). One page per **firing episode of severity
  critical** — the first receipt of a (source, fingerprint, ``startsAt``) that is
  firing and critical. Re-sends of an episode (Alertmanager's ``group_interval`` and
  ``repeat_interval`` notifications, which the pager dedupes on its incident key)
  do not page again; every new episode does, flapping ones included. Resolved
  notifications, warnings, info and rejected alerts never page. Silences count as
  pages here: the trace's silences are CCM silences, which the bare pager lacks.
- *with CCM, before remediation*: every task created for a host outside the
  inventory (unmanaged), whatever its severity — no agent can work it, so it
  escalates to a human at once. Everything else waits for an agent, is attached,
  deduplicated, silenced, held as flapping, or closed because it resolved upstream.
  Tasks that remediation later escalates are not known to a replay; as an upper
  bound, ``with_ccm_if_all_remediation_fails`` adds every managed task left open
  at the end of the trace.

``avoided`` is the difference of the first two.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ccm_tui.core.errors import PayloadError
from ccm_tui.core.model import AlertStatus, Severity, Silence
from ccm_tui.core.states import OPEN_STATES
from ccm_tui.hub.base import Hub
from ccm_tui.ingest.metrics import Metrics
from ccm_tui.ingest.parsers import ParsedAlert, parsers
from ccm_tui.ingest.parsers.common import load_json
from ccm_tui.ingest.pipeline import AlertResult, Ingestor, IngestSettings, Outcome
from ccm_tui.ingest.trace import TraceLine

REPLAY_ACTOR = "ccm ingest replay"
#: The Content-Types the receiver reads (others get 415); no header reads as JSON.
JSON_TYPES = ("application/json", "text/plain", "application/octet-stream", "")
TOP = 10
MAX_REJECTIONS = 20

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class Pages:
    """Pages the night would have sent (see the module docstring for the definitions)."""

    without_ccm: int = 0
    with_ccm: int = 0
    with_ccm_if_all_remediation_fails: int = 0

    @property
    def avoided(self) -> int:
        """Pages CCM spares the on-call engineer before any remediation."""
        return self.without_ccm - self.with_ccm


@dataclass(slots=True)
class ReplaySummary:
    """What replaying a trace did, with the figures an on-call engineer asks for."""

    trace: str = ""
    hub: str = ""
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    requests: int = 0
    hosts_registered: int = 0
    #: Hosts the hub knew at the end (0: every alert's host counted as unmanaged).
    hosts_known: int = 0
    silences_added: int = 0
    alerts_received: int = 0
    received_by_source: dict[str, int] = field(default_factory=dict)
    received_by_status: dict[str, int] = field(default_factory=dict)
    #: Requests answered 4xx as a whole, by reason (``json``, ``schema``, ``no_alerts``…).
    rejected_requests: dict[str, int] = field(default_factory=dict)
    #: Single alerts dropped from an otherwise good request, by reason (``alert_schema``…).
    rejected_alerts: dict[str, int] = field(default_factory=dict)
    #: Alerts the senders said they left out (``truncatedAlerts``: their max_alerts).
    truncated_by_sender: int = 0
    #: The first few rejections: line, endpoint, reason and the receiver's message.
    rejections: list[dict[str, Any]] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    tasks_created: int = 0
    attached: int = 0
    resolved_before_start: int = 0
    resolved_noted: int = 0
    resolved_without_task: int = 0
    #: One entry per silence that held alerts: id, matchers, reason, alerts held.
    silenced: list[dict[str, Any]] = field(default_factory=list)
    #: One entry per flapping alert held: alertname, host, fingerprint, alerts held.
    flapping: list[dict[str, Any]] = field(default_factory=list)
    unmanaged_hosts: list[str] = field(default_factory=list)
    unmanaged_tasks: int = 0
    tasks_by_host: dict[str, int] = field(default_factory=dict)
    tasks_by_state: dict[str, int] = field(default_factory=dict)
    #: Every task the replay created: id, host, alertname, severity, state, managed.
    tasks: list[dict[str, Any]] = field(default_factory=list)
    #: The alerts received most often: alertname, host, received (firing and resolved).
    top_noisy: list[dict[str, Any]] = field(default_factory=list)
    pages: Pages = field(default_factory=Pages)
    #: What the replay assumed: ``flap_threshold``, ``flap_window_minutes``,
    #: ``max_body_bytes`` (0: no limit).
    settings: dict[str, int] = field(default_factory=dict)

    @property
    def suppressed(self) -> int:
        """Alerts held by a silence or as flapping."""
        return sum(int(x["alerts"]) for x in (*self.silenced, *self.flapping))

    @property
    def span(self) -> timedelta:
        """From the first line's ``ts`` to the last's."""
        if self.first_ts is None or self.last_ts is None:
            return timedelta(0)
        return self.last_ts - self.first_ts

    @property
    def task_ratio(self) -> float:
        """Tasks created per alert received."""
        return self.tasks_created / self.alerts_received if self.alerts_received else 0.0


class _Tally:
    """Running counts while the trace plays."""

    def __init__(self) -> None:
        self.by_source: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.rejected_requests: Counter[str] = Counter()
        self.rejected_alerts: Counter[str] = Counter()
        self.rejections: list[dict[str, Any]] = []
        self.noisy: Counter[tuple[str, str]] = Counter()
        self.silenced: Counter[str] = Counter()
        self.flapping: Counter[tuple[str, str, str]] = Counter()
        self.created: list[str] = []
        self.paged: set[tuple[str, str, datetime]] = set()

    def reject(self, line: TraceLine, reason: str, error: str, *, whole: bool) -> None:
        (self.rejected_requests if whole else self.rejected_alerts)[reason] += 1
        if len(self.rejections) < MAX_REJECTIONS:
            self.rejections.append({"line": line.lineno, "endpoint": line.endpoint,
                                    "reason": reason, "error": error})

    def count(self, line: TraceLine, parsed: ParsedAlert, result: AlertResult) -> None:
        self.by_source[parsed.source] += 1
        self.by_status[parsed.status.value] += 1
        self.outcomes[result.outcome.value] += 1
        self.noisy[(result.alertname, result.host)] += 1
        if result.outcome is Outcome.CREATED and result.task_id:
            self.created.append(result.task_id)
        elif result.outcome is Outcome.SILENCED:
            self.silenced[result.detail] += 1
        elif result.outcome is Outcome.FLAPPING:
            self.flapping[(result.alertname, result.host, result.fingerprint)] += 1
        if parsed.status is AlertStatus.FIRING and parsed.severity is Severity.CRITICAL:
            self.paged.add((parsed.source, parsed.fingerprint, parsed.starts_at or line.ts))


class Replayer:
    """Plays trace lines into a hub, one at a time, through an :class:`Ingestor`."""

    def __init__(self, hub: Hub, *, settings: IngestSettings | None = None,
                 metrics: Metrics | None = None, max_body: int | None = None) -> None:
        self.hub = hub
        self.settings = settings or IngestSettings()
        #: The receiver's ``webhook.max_body_bytes``: a larger body is refused (413).
        self.max_body = max_body
        self.metrics = metrics or Metrics()
        self.ingestor = Ingestor(hub, settings=self.settings, metrics=self.metrics)
        self.summary = ReplaySummary(hub=getattr(hub, "url", ""))
        self._tally = _Tally()

    async def play(self, line: TraceLine) -> None:
        """Replay one line (hub errors propagate)."""
        s = self.summary
        s.first_ts = s.first_ts or line.ts
        s.last_ts = line.ts
        if line.endpoint == "inventory":
            await self._inventory(line)
        elif line.endpoint == "silence":
            await self._silence(line)
        else:
            s.requests += 1
            await self._request(line)

    async def _inventory(self, line: TraceLine) -> None:
        known = {h.name for h in await self.hub.list_hosts()}
        new = [h for h in line.hosts if h.name not in known]
        if new:
            self.summary.hosts_registered += await self.hub.upsert_hosts(new)
        self.ingestor.forget_caches()  # it caches the host directory for a few seconds

    async def _silence(self, line: TraceLine) -> None:
        spec = line.silence
        assert spec is not None
        wanted = Silence(spec.matchers, line.ts, line.ts + spec.duration,
                         spec.reason or "replayed silence", REPLAY_ACTOR, created_at=line.ts)
        for s in await self.hub.list_silences(include_expired=True):
            if (s.matchers, s.starts_at, s.ends_at) == (wanted.matchers, wanted.starts_at,
                                                        wanted.ends_at):
                return  # added by an earlier replay of this trace
        await self.hub.add_silence(wanted)
        self.ingestor.forget_caches()
        self.summary.silences_added += 1

    async def _request(self, line: TraceLine) -> None:
        t = self._tally
        ctype = next((v for k, v in line.headers.items() if k.lower() == "content-type"), "")
        mime = ctype.split(";", 1)[0].strip().lower()
        if mime not in JSON_TYPES:  # as the receiver answers it: 415
            t.reject(line, "content_type",
                     f"Content-Type {mime[:60]!r} is not JSON; send application/json", whole=True)
            return
        payload = line.payload()
        if self.max_body is not None and len(payload) > self.max_body:
            t.reject(line, "too_large", f"body of {len(payload)} bytes exceeds {self.max_body}",
                     whole=True)
            return
        try:
            result = parsers()[line.endpoint](load_json(payload))
        except PayloadError as exc:
            t.reject(line, exc.reason, str(exc), whole=True)
            return
        self.summary.truncated_by_sender += result.truncated
        if not result.alerts:  # refused whole, counted once, as the receiver does
            reason = "invalid_alerts" if result.rejected else "no_alerts"
            error = str(result.rejected[0][1]) if result.rejected else \
                "the payload holds no alerts"
            t.reject(line, reason, error, whole=True)
            return
        for _index, bad in result.rejected:
            t.reject(line, f"alert_{bad.reason}", str(bad), whole=False)
        report = await self.ingestor.ingest(result.alerts, now=line.ts)
        for parsed, res in zip(result.alerts, report.results, strict=True):
            t.count(line, parsed, res)

    async def finish(self) -> ReplaySummary:
        """Read back the tasks and silences the replay touched, and fill in the summary."""
        s, t = self.summary, self._tally
        s.received_by_source = dict(t.by_source.most_common())
        s.received_by_status = dict(t.by_status.most_common())
        s.alerts_received = sum(t.by_source.values())
        s.rejected_requests = dict(t.rejected_requests.most_common())
        s.rejected_alerts = dict(t.rejected_alerts.most_common())
        s.rejections = t.rejections
        s.outcomes = dict(t.outcomes.most_common())
        s.duplicates = t.outcomes[Outcome.DUPLICATE.value]
        s.tasks_created = len(t.created)
        s.attached = t.outcomes[Outcome.ATTACHED.value]
        s.resolved_before_start = t.outcomes[Outcome.RESOLVED_UPSTREAM.value]
        s.resolved_noted = t.outcomes[Outcome.NOTED.value]
        s.resolved_without_task = t.outcomes[Outcome.RESOLVED_NO_TASK.value]
        s.top_noisy = [{"alertname": a, "host": h, "received": n}
                       for (a, h), n in t.noisy.most_common(TOP)]
        s.flapping = [{"alertname": a, "host": h, "fingerprint": fp, "alerts": n}
                      for (a, h, fp), n in t.flapping.most_common()]
        s.silenced = await self._silences()
        s.hosts_known = len(await self.hub.list_hosts())
        by_host: Counter[str] = Counter()
        by_state: Counter[str] = Counter()
        unmanaged: set[str] = set()
        open_managed = 0
        for task_id in t.created:
            task = await self.hub.get_task(task_id)
            by_host[task.host] += 1
            s.tasks.append({"id": task.id, "host": task.host, "alertname": task.alertname,
                            "severity": task.severity.value, "state": task.state.value,
                            "managed": task.managed, "repeat_count": task.repeat_count})
            by_state[task.state.value] += 1
            if not task.managed:
                unmanaged.add(task.host)
                s.unmanaged_tasks += 1
            elif task.state in OPEN_STATES:
                open_managed += 1
        s.tasks_by_host = dict(sorted(by_host.items(), key=lambda kv: (-kv[1], kv[0])))
        s.tasks_by_state = dict(by_state.most_common())
        s.unmanaged_hosts = sorted(unmanaged)
        s.pages = Pages(without_ccm=len(t.paged), with_ccm=s.unmanaged_tasks,
                        with_ccm_if_all_remediation_fails=s.unmanaged_tasks + open_managed)
        return s

    async def _silences(self) -> list[dict[str, Any]]:
        known = {x.id: x for x in await self.hub.list_silences(include_expired=True)}
        out: list[dict[str, Any]] = []
        for detail, n in self._tally.silenced.most_common():
            raw_id = detail.partition(":")[2]
            found = known.get(int(raw_id)) if raw_id.isdigit() else None
            out.append({"id": found.id if found else raw_id,
                        "matchers": [str(m) for m in found.matchers] if found else [],
                        "reason": found.reason if found else "", "alerts": n})
        return out


async def replay(hub: Hub, lines: list[TraceLine], *, trace: str = "",
                 settings: IngestSettings | None = None, max_body: int | None = None,
                 progress: Progress | None = None) -> ReplaySummary:
    """Replay checked trace ``lines`` into ``hub`` and summarise; ``progress(done, total)``.

    ``settings`` and ``max_body`` should be the receiver's (``webhook.*``), so that the
    replay refuses and holds what that receiver would.
    """
    player = Replayer(hub, settings=settings, max_body=max_body)
    player.summary.trace = trace
    noise = player.settings
    player.summary.settings = {"flap_threshold": noise.flap_threshold,
                               "flap_window_minutes": int(noise.flap_window.total_seconds() // 60),
                               "max_body_bytes": max_body or 0}
    total = len(lines)
    for done, line in enumerate(lines, 1):
        await player.play(line)
        if progress is not None:
            progress(done, total)
    await player.ingestor.flush(lines[-1].ts if lines else None)
    return await player.finish()
