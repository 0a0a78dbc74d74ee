"""Fan-out of hub changes to in-process subscribers.

An adapter has one source of changes (SQLite: a 50 ms poll of ``ccm_changes``;
PostgreSQL: LISTEN/NOTIFY) and any number of subscribers; each subscriber gets
its own queue, so a slow one never holds up another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from ccm_tui.core.model import Event
from ccm_tui.core.records import Change, ChangeKind
from ccm_tui.hub import rows
from ccm_tui.hub.rows import Row

#: Loads stored changes after a change id, with each event change's event joined.
CHANGES_AFTER_SQL = (
    "SELECT c.id AS change_id, c.kind AS change_kind, c.task_id AS change_task,"
    " c.ref AS change_ref, e.task_id, e.seq, e.type, e.ts, e.data"
    " FROM ccm_changes c LEFT JOIN ccm_events e ON c.kind = 'event'"
    " AND e.task_id = c.task_id AND CAST(e.seq AS TEXT) = c.ref"
    " WHERE c.id > ? ORDER BY c.id LIMIT ?"
)


def changes_from_rows(found: Iterable[Row]) -> list[Change]:
    """The changes of these rows, skipping kinds this CCM does not know (written by a
    newer CCM sharing the hub), which must not stop the feed."""
    return [change_from_row(r) for r in found
            if r["change_kind"] in ChangeKind._value2member_map_]


def change_from_row(r: Row) -> Change:
    """A :class:`Change` from a row of :data:`CHANGES_AFTER_SQL`."""
    event: Event | None = None
    if r["change_kind"] == "event" and r["seq"] is not None:
        event = rows.event_from_row(r)
    return Change(
        id=int(r["change_id"]), kind=ChangeKind(r["change_kind"]), task_id=r["change_task"],
        ref=r["change_ref"], event=event,
    )


class Fanout:
    """Hands every published change to every subscriber queue, in order."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Change | None]] = set()

    def add(self) -> asyncio.Queue[Change | None]:
        """Register a subscriber; ``None`` on its queue means the hub closed."""
        q: asyncio.Queue[Change | None] = asyncio.Queue()
        self._queues.add(q)
        return q

    def remove(self, q: asyncio.Queue[Change | None]) -> None:
        """Unregister a subscriber."""
        self._queues.discard(q)

    @property
    def active(self) -> bool:
        """Whether anyone is subscribed."""
        return bool(self._queues)

    def publish(self, changes: Iterable[Change]) -> None:
        """Deliver changes to every subscriber."""
        batch = list(changes)
        for q in self._queues:
            for ch in batch:
                q.put_nowait(ch)

    def close(self) -> None:
        """End every subscription."""
        for q in self._queues:
            q.put_nowait(None)
        self._queues.clear()


def wanted(kinds: Iterable[ChangeKind] | None) -> frozenset[ChangeKind] | None:
    """Normalise a subscription's kind filter (``None``: everything)."""
    return None if kinds is None else frozenset(ChangeKind(k) for k in kinds)
