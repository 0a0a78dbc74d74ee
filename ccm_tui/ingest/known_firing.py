"""Firing alerts this receiver has stored, so their re-sends are known without a read.

Alertmanager re-sends every firing alert each ``group_interval`` and
``repeat_interval``: under load about half of all requests are re-sends. An alert
is identified by (fingerprint, status, start); once such a firing alert is stored
with its task (or held as silenced or flapping), any later receipt of the same
identity is a duplicate, whatever happened since — the hub would say so too. So a
re-send found here is acknowledged at once: the alert is already durable, and only
its ``seen_count`` is written later (:meth:`Ingestor.flush`).

A refire after a resolve carries a new start, hence a new identity, and is never
answered from here; entries also expire, so a task deleted by retention is seen.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import datetime

#: Entries kept (least recently stored dropped first).
CAPACITY = 20_000
#: An entry is trusted this long after it was stored, then the hub is asked again.
TTL_SECONDS = 3600.0


class KnownFirings:
    """(fingerprint, start) → (alert id, task id) of stored firing alerts."""

    def __init__(self, capacity: int = CAPACITY, ttl: float = TTL_SECONDS) -> None:
        self.capacity = capacity
        self.ttl = ttl
        self._entries: OrderedDict[tuple[str, datetime], tuple[int, str | None, float]] = \
            OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def remember(self, fingerprint: str, starts_at: datetime, alert_id: int,
                 task_id: str | None) -> None:
        """Note a firing alert stored with its task (or held: ``task_id`` ``None``)."""
        key = (fingerprint, starts_at)
        self._entries[key] = (alert_id, task_id, time.monotonic() + self.ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def lookup(self, fingerprint: str, starts_at: datetime) -> tuple[int, str | None] | None:
        """(alert id, task id) when this firing alert is known to be stored."""
        key = (fingerprint, starts_at)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[2] < time.monotonic():
            del self._entries[key]
            return None
        return entry[0], entry[1]

    def clear(self) -> None:
        """Forget everything (the next receipt of each alert asks the hub)."""
        self._entries.clear()
