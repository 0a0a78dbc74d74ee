"""Typed messages: what workers and widgets tell the app.

The hub feed turns the hub's realtime changes into these; widgets post the
selection and decision messages. Handlers update :class:`~ccm_tui.app.model.Snapshot`
and the widgets that show it.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from ccm_tui.app.model import Snapshot
from ccm_tui.core.model import Approval, ApprovalKind, Event, HealthSnapshot, Host, Silence, Task
from ccm_tui.core.records import Control
from ccm_tui.fleet.broadcast import BroadcastReport
from ccm_tui.fleet.ssh_types import RunResult


@dataclass
class SnapshotLoaded(Message):
    """The first full load of the hub finished."""

    snapshot: Snapshot


@dataclass
class TaskUpdated(Message):
    """A task was created or changed in the hub."""

    task: Task


@dataclass
class EventArrived(Message):
    """A transcript event was appended in the hub."""

    event: Event


@dataclass
class ApprovalsUpdated(Message):
    """A task's approvals changed (someone approved, rejected or escalated)."""

    task_id: str
    approvals: list[Approval]


@dataclass
class HostsUpdated(Message):
    """Hosts changed or reported health; each with its recent history."""

    hosts: list[tuple[Host, list[HealthSnapshot]]]


@dataclass
class ControlUpdated(Message):
    """The fleet-wide switches changed (pause/resume)."""

    switches: Control


@dataclass
class SilencesUpdated(Message):
    """The silences and maintenance windows not yet over changed."""

    silences: list[Silence]


@dataclass
class FeedError(Message):
    """The hub could not be read; the feed retries."""

    error: str


@dataclass
class TaskSelected(Message):
    """The operator selected a task (in the timeline or on a host tile)."""

    task_id: str | None


@dataclass
class HostSelected(Message):
    """The operator selected a host on the fleet grid."""

    host: str


@dataclass
class TranscriptLoaded(Message):
    """A task's stored events, loaded for the transcript."""

    task_id: str
    events: list[Event]


@dataclass
class DecisionDone(Message):
    """An approve / reject / escalate was stored in the hub."""

    approval: Approval


@dataclass
class DecisionFailed(Message):
    """An approve / reject / escalate was refused (wrong state, already decided…)."""

    task_id: str
    kind: ApprovalKind
    error: str


@dataclass
class BroadcastStarted(Message):
    """A broadcast found its hosts and started running on them."""

    hosts: list[str]


@dataclass
class BroadcastProgress(Message):
    """One host of a broadcast finished (ran, failed, or could not be reached)."""

    result: RunResult


@dataclass
class BroadcastFinished(Message):
    """Every host finished; ``unrecorded`` says why the hub has no record, if it has none."""

    report: BroadcastReport
    unrecorded: str


@dataclass
class BroadcastFailed(Message):
    """A broadcast could not start (no inventory, no matching host…)."""

    error: str
