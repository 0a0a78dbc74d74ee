"""The ``Hub``: the one store every CCM process shares.

An abstract base class with documented methods; adapters implement it:
:mod:`ccm_tui.hub.sqlite` (the embedded default) and :mod:`ccm_tui.hub.postgres`
(any PostgreSQL, including a Supabase project's database). One contract test suite
(``tests/adapters/test_hub_contract.py``) runs against every adapter.

All methods are coroutines. Errors are those of :mod:`ccm_tui.core.errors`:
:class:`HubUnavailable` when the store cannot be reached, :class:`NotFound`,
:class:`ConflictError` for a stale ``expected_version``, :class:`LeaseLost`,
:class:`IllegalTransition` for a state change the life cycle forbids.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from ccm_tui.core.model import (
    Alert,
    AlertStatus,
    Approval,
    ApprovalKind,
    Event,
    HealthSnapshot,
    Host,
    RunbookMode,
    Silence,
    Task,
)
from ccm_tui.core.records import (
    AuditEntry,
    Change,
    ChangeKind,
    Control,
    OutboxMessage,
    RunbookStats,
)
from ccm_tui.core.states import TaskState

#: The task :meth:`Hub.record_firing` creates when there is no open one to join, or a
#: function that builds it (called only then).
NewTask = Task | Callable[[], Task]


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """What :meth:`Hub.record_alert` did: the stored alert and whether it was new."""

    alert: Alert
    is_new: bool


@dataclass(frozen=True, slots=True)
class AlertHead:
    """The newest stored alert of a fingerprint, without its labels and annotations.

    What :meth:`Hub.latest_alert` returns: enough to tell a re-send from a new
    episode without decoding the alert's documents.
    """

    id: int
    status: AlertStatus
    starts_at: datetime
    task_id: str | None
    suppressed: str | None


@dataclass(frozen=True, slots=True)
class FiringRecord:
    """What :meth:`Hub.record_firing` did.

    ``alert`` is the alert as stored (with its ``id`` and, once settled, its
    ``task_id``); ``is_new`` as in :class:`AlertRecord`. ``created`` when this call
    created the alert's task, ``joined`` when it attached the alert to the open task
    that was there; neither when the stored alert already had a task or was
    suppressed (a repeat: only its ``seen_count`` moved) or is suppressed.
    """

    alert: Alert
    is_new: bool
    created: bool = False
    joined: bool = False


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """Filters for :meth:`Hub.list_tasks`; every field is optional."""

    states: Sequence[TaskState] | None = None
    host: str | None = None
    alertname: str | None = None
    since: datetime | None = None
    limit: int = 200


class Hub(ABC):
    """The store behind CCM. Open it with :func:`ccm_tui.hub.open_hub`.

    Use it as an async context manager, or call :meth:`connect` and :meth:`close`.
    """

    url: str

    # -- life cycle -----------------------------------------------------------------
    @abstractmethod
    async def connect(self) -> None:
        """Open connections; raise :class:`HubUnavailable` or :class:`SchemaError`."""

    @abstractmethod
    async def close(self) -> None:
        """Close every connection and end every subscription."""

    @abstractmethod
    async def migrate(self) -> list[str]:
        """Apply the schema idempotently; return the migrations applied now (maybe none)."""

    async def __aenter__(self) -> Hub:
        await self.connect()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- hosts and health -------------------------------------------------------------
    @abstractmethod
    async def upsert_hosts(self, hosts: Iterable[Host]) -> int:
        """Insert or update hosts by name; return how many were written."""

    @abstractmethod
    async def list_hosts(self) -> list[Host]:
        """Every known host, by name."""

    @abstractmethod
    async def get_host(self, name: str) -> Host:
        """One host; :class:`NotFound` when unknown."""

    @abstractmethod
    async def record_health(self, snapshot: HealthSnapshot, *, keep: int = 720) -> None:
        """Store a health snapshot, keeping at most ``keep`` per host (oldest dropped)."""

    @abstractmethod
    async def health_history(self, host: str, *, limit: int = 60) -> list[HealthSnapshot]:
        """The newest ``limit`` snapshots of a host, oldest first (ready for sparklines)."""

    @abstractmethod
    async def latest_health(self) -> dict[str, HealthSnapshot]:
        """The newest snapshot of every host that has one."""

    # -- alerts -----------------------------------------------------------------------
    @abstractmethod
    async def record_alert(self, alert: Alert) -> AlertRecord:
        """Store an alert, idempotent on (fingerprint, status, starts_at).

        A repeat of a stored alert bumps its ``seen_count`` and returns
        ``is_new=False``; the first receipt returns ``is_new=True``.
        """

    @abstractmethod
    async def record_firing(self, alert: Alert, task: NewTask) -> FiringRecord:
        """Store a firing alert and settle its task, all in one transaction.

        The alert is stored as by :meth:`record_alert` (a repeat of a stored alert
        bumps its ``seen_count`` and returns ``is_new=False``). Then, unless the
        stored alert already has a task or is suppressed (``alert.suppressed`` set,
        or the stored repeat's), it joins the open task of (``alert.host``,
        ``alert.alertname``) — whose ``repeat_count`` goes up by one, whose severity
        rises to critical for a critical alert, and whose version is bumped — or,
        when there is none, ``task`` (state ``new``, same host and alert name) is
        created; either way the alert is linked to it. A crash leaves either all of
        this or none of it. ``task`` may be a function that builds the task: it is
        then called only when a task has to be created.

        Raises :class:`ConflictError` (and stores nothing) when a concurrent writer
        created the open task first: call again to join it. :class:`ValueError`
        for an alert that is not firing, or a ``task`` that does not fit it.
        """

    @abstractmethod
    async def record_firings(self, pairs: Sequence[tuple[Alert, NewTask]]
                             ) -> list[FiringRecord]:
        """:meth:`record_firing` for several alerts, in order, in one transaction.

        Group commit for a receiver under load: one commit for everything that
        arrived together. All or nothing — a :class:`ConflictError` stores none of
        them (settle each with :meth:`record_firing` then); every alert is checked
        before anything is written.
        """

    @abstractmethod
    async def note_resends(self, counts: dict[int, int], when: datetime) -> None:
        """Add re-sends to stored alerts' ``seen_count`` in one write (alert id → count)."""

    @abstractmethod
    async def link_alert(self, alert_id: int, task_id: str) -> None:
        """Attach a stored alert to the task it created or joined."""

    @abstractmethod
    async def list_alerts(
        self, *, since: datetime | None = None, fingerprint: str | None = None,
        task_id: str | None = None, limit: int = 500,
    ) -> list[Alert]:
        """Alerts received, newest first, optionally of one fingerprint or one task."""

    @abstractmethod
    async def latest_alert(self, fingerprint: str) -> AlertHead | None:
        """The newest stored alert of ``fingerprint`` (as :meth:`list_alerts` orders
        them), without its labels and annotations; ``None`` when none is stored."""

    @abstractmethod
    async def count_firings(self, fingerprint: str, since: datetime) -> int:
        """How many distinct firing episodes of an alert were received since ``since``."""

    # -- silences ---------------------------------------------------------------------
    @abstractmethod
    async def add_silence(self, silence: Silence) -> Silence:
        """Store a silence (or a maintenance window: one that starts later); audited."""

    @abstractmethod
    async def list_silences(
        self, *, active_at: datetime | None = None, include_expired: bool = False,
        ending_after: datetime | None = None,
    ) -> list[Silence]:
        """Silences, soonest-ending first: those active at ``active_at``; else those not
        expired that end after ``ending_after`` (default now), scheduled ones included."""

    @abstractmethod
    async def expire_silence(self, silence_id: int, *, actor: str) -> Silence:
        """End a silence now; audited. :class:`NotFound` when unknown."""

    # -- tasks ------------------------------------------------------------------------
    @abstractmethod
    async def create_task(self, task: Task) -> Task:
        """Insert a new task (state ``new``, version 1); return it as stored.

        Raises :class:`ConflictError` if (host, alertname) already has an open task:
        there is at most one, and repeats attach to it.
        """

    @abstractmethod
    async def get_task(self, task_id: str) -> Task:
        """One task; :class:`NotFound` when unknown. Accepts a unique id prefix."""

    @abstractmethod
    async def list_tasks(self, query: TaskQuery | None = None) -> list[Task]:
        """Tasks newest first, filtered by ``query``."""

    @abstractmethod
    async def count_tasks(self, *, since: datetime | None = None) -> dict[TaskState, int]:
        """How many tasks are in each state (states with none are left out)."""

    @abstractmethod
    async def find_open_task(self, host: str, alertname: str) -> Task | None:
        """The open (new or active) task for (host, alertname), if any."""

    @abstractmethod
    async def update_task(self, task_id: str, expected_version: int, **fields: Any) -> Task:
        """Update fields of a task if its version is still ``expected_version``.

        Bumps the version. A ``state`` field is checked against the life cycle
        (:class:`IllegalTransition`); ``finished_at`` is set on a terminal state.
        Raises :class:`ConflictError` when the version moved, :class:`NotFound`.
        """

    async def transition(
        self, task_id: str, target: TaskState | str, *, expected_version: int | None = None,
        **fields: Any,
    ) -> Task:
        """Move a task to ``target``; with no ``expected_version``, re-read and retry on conflict."""
        from ccm_tui.core.errors import ConflictError

        for _ in range(20):
            version = expected_version
            if version is None:
                version = (await self.get_task(task_id)).version
            try:
                return await self.update_task(task_id, version, state=TaskState(target), **fields)
            except ConflictError:
                if expected_version is not None:
                    raise
        raise ConflictError(f"task {task_id} kept changing; gave up after 20 tries")

    # -- leases -----------------------------------------------------------------------
    @abstractmethod
    async def claim_next_task(
        self, owner: str, *, lease_seconds: float = 30.0, hosts: Collection[str] | None = None,
        others_after: float | None = None,
    ) -> Task | None:
        """Claim the most urgent claimable task for ``owner`` with a lease, or ``None``.

        Claimable: a ``new`` task whose host has no active task, or an active task
        whose lease expired or was released (a dead or stopped daemon's task, taken
        over as it is). A ``new`` task moves to ``claimed``. Concurrent claimers never
        get the same task.

        ``hosts`` (default: any host) limits the claim to the hosts a daemon can reach:
        tasks on other hosts are left for a daemon whose inventory has them. Tasks
        ingest marked unmanaged (``managed`` false) stay claimable by anyone, to be
        escalated at once, unless a daemon has put their host in the hub since. With
        ``others_after``, a task on another host becomes claimable too once no daemon
        has held it, none has finished a task on its host, and none has said it can
        reach the host (:meth:`note_daemon_hosts`), for that many seconds: no daemon
        that knows the host is there.
        """

    @abstractmethod
    async def note_daemon_hosts(self, owner: str, hosts: Collection[str]) -> None:
        """Record that daemon ``owner`` can reach ``hosts`` now (and no other host).

        A running daemon calls it every lease period; an empty ``hosts`` (a daemon
        stopping) forgets the owner. Entries nobody refreshed for a day are pruned.
        """

    @abstractmethod
    async def renew_lease(self, task_id: str, owner: str, *, lease_seconds: float = 30.0) -> Task:
        """Extend ``owner``'s lease; :class:`LeaseLost` if another owner holds it now."""

    @abstractmethod
    async def release_lease(self, task_id: str, owner: str, *, requeue: bool = False) -> Task:
        """Drop ``owner``'s lease; with ``requeue`` a ``claimed`` task goes back to ``new``."""

    # -- events -----------------------------------------------------------------------
    @abstractmethod
    async def append_events(self, events: Sequence[Event]) -> int:
        """Append transcript events; idempotent on (task, seq). Return how many were new."""

    async def append_event(self, event: Event) -> bool:
        """Append one event; ``False`` when (task, seq) was already stored."""
        return await self.append_events([event]) == 1

    @abstractmethod
    async def list_events(
        self, task_id: str, *, after_seq: int = 0, limit: int = 10_000
    ) -> list[Event]:
        """A task's events with ``seq > after_seq``, in order."""

    @abstractmethod
    async def last_seq(self, task_id: str) -> int:
        """The highest stored ``seq`` of a task (0 when none): where to resume from."""

    # -- realtime ---------------------------------------------------------------------
    @abstractmethod
    def subscribe(
        self, kinds: Iterable[ChangeKind] | None = None, *, since: int | None = None
    ) -> AsyncIterator[Change]:
        """Changes as they are committed, in commit order, each once.

        ``kinds`` filters (default: all). ``since`` replays stored changes after that
        change id first (default: only new ones). Event changes carry the event.
        Works across processes; ends when the hub is closed.
        """

    # -- approvals --------------------------------------------------------------------
    @abstractmethod
    async def decide(
        self, task_id: str, kind: ApprovalKind | str, *, actor: str, note: str = ""
    ) -> Approval:
        """Record an operator's approve / reject / escalate, with who and when.

        Validated against the task's state (:class:`InvalidDecision`); a task is
        approved at most once (a second approve raises too). Reject moves
        the task to ``cancelled`` (outcome ``rejected``), escalate to ``escalated``;
        approve leaves the state to the agent. Each is written to the audit log too.
        """

    @abstractmethod
    async def list_approvals(
        self, task_id: str | None = None, *, unrelayed_only: bool = False
    ) -> list[Approval]:
        """Approvals, oldest first; ``unrelayed_only`` for those not yet sent to an agent."""

    @abstractmethod
    async def mark_relayed(self, approval_id: int) -> None:
        """Note that an approval reached its agent."""

    # -- audit ------------------------------------------------------------------------
    @abstractmethod
    async def audit(
        self, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None
    ) -> AuditEntry:
        """Append to the audit log."""

    @abstractmethod
    async def list_audit(
        self, *, since: datetime | None = None, limit: int = 200
    ) -> list[AuditEntry]:
        """Audit entries, newest first."""

    # -- runbook stats ----------------------------------------------------------------
    @abstractmethod
    async def record_runbook_outcome(
        self, runbook: str, host_group: str, *, success: bool | None = None,
        approved: bool | None = None,
    ) -> RunbookStats:
        """Count a success/failure and/or an approval/rejection; return the new stats."""

    @abstractmethod
    async def record_task_outcome(
        self, task_id: str, runbook: str, host_group: str, *, success: bool,
        approved: bool | None = None,
    ) -> RunbookStats | None:
        """Count a finished task's outcome once: ``None`` if this task was already counted.

        The daemon that finishes a task calls it; a daemon that takes the task over
        after a lease loss and finishes it again must not count it twice.
        """

    @abstractmethod
    async def set_runbook_mode(
        self, runbook: str, host_group: str, mode: RunbookMode | None
    ) -> RunbookStats:
        """Promote or demote a runbook on a host group (``None``: back to its file's mode)."""

    @abstractmethod
    async def runbook_stats(self, runbook: str | None = None) -> list[RunbookStats]:
        """Stats per (runbook, host group)."""

    # -- outbox -----------------------------------------------------------------------
    @abstractmethod
    async def enqueue(self, channel: str, payload: dict[str, Any], *, dedup_key: str) -> bool:
        """Write a notification for later delivery; ``False`` if ``dedup_key`` exists."""

    @abstractmethod
    async def claim_outbox(
        self, owner: str, *, limit: int = 10, lease_seconds: float = 60.0
    ) -> list[OutboxMessage]:
        """Lease up to ``limit`` due messages (pending, next attempt reached, lease free)."""

    @abstractmethod
    async def mark_sent(self, message_id: int, owner: str) -> None:
        """A message was delivered; it will not be sent again."""

    @abstractmethod
    async def mark_failed(
        self, message_id: int, owner: str, *, error: str, retry_at: datetime | None
    ) -> None:
        """A delivery attempt failed; retry at ``retry_at``, or give up (``dead``) if None."""

    @abstractmethod
    async def list_outbox(self, *, state: str | None = None, limit: int = 200) -> list[OutboxMessage]:
        """Messages, newest first."""

    # -- control ----------------------------------------------------------------------
    @abstractmethod
    async def get_control(self) -> Control:
        """Fleet-wide switches (pause)."""

    @abstractmethod
    async def set_paused(self, paused: bool, *, actor: str, reason: str = "") -> Control:
        """Pause or resume every automatic fix; audited."""
