"""The fleet grid's layout: which host tile sits on which line, as plain data.

Kept apart from the widget so it is cheap to test and to rebuild: rebuilding for
1,000 hosts is a list of a few hundred rows, and rendering only ever looks at
the rows on screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ccm_tui.app.model import HostStatus, Snapshot

#: Columns a tile takes (plus one column of gap) and lines it takes.
TILE_W = 28
TILE_H = 3
GAP = 1

_WORST = {
    HostStatus.UNREACHABLE: 0, HostStatus.CRITICAL: 1, HostStatus.WORKING: 2,
    HostStatus.WARNING: 3, HostStatus.OK: 4,
}


class SortKey(StrEnum):
    """How the tiles of a group are ordered."""

    NAME = "name"
    STATUS = "status"
    CPU = "cpu"
    DISK = "disk"

    def next(self) -> SortKey:
        """The next sort key, cycling."""
        keys = list(SortKey)
        return keys[(keys.index(self) + 1) % len(keys)]


@dataclass(frozen=True, slots=True)
class Row:
    """A group header (``hosts`` empty) or a row of tiles, starting at ``line``."""

    line: int
    group: str
    hosts: tuple[str, ...] = ()

    @property
    def is_header(self) -> bool:
        """Whether this row is a group header."""
        return not self.hosts


def matches(snap: Snapshot, name: str, text: str) -> bool:
    """Whether a host passes the ``/`` filter: a substring of its name, group or status."""
    if not text:
        return True
    t = text.lower()
    host = snap.hosts.get(name)
    groups = host.groups if host else ()
    return t in name.lower() or any(t in g.lower() for g in groups) or t == snap.host_status(name)


def _sort(snap: Snapshot, names: list[str], key: SortKey) -> list[str]:
    def metric(n: str, attr: str) -> float:
        latest = snap.latest(n)
        value = getattr(latest, attr) if latest else None
        return -(value if value is not None else -1.0)

    if key is SortKey.STATUS:
        return sorted(names, key=lambda n: (_WORST[snap.host_status(n)], n))
    if key is SortKey.CPU:
        return sorted(names, key=lambda n: (metric(n, "cpu_pct"), n))
    if key is SortKey.DISK:
        return sorted(names, key=lambda n: (metric(n, "disk_pct"), n))
    return sorted(names)


def build_rows(snap: Snapshot, width: int, text: str = "",
               sort: SortKey = SortKey.NAME) -> tuple[list[Row], int]:
    """The grid's rows for a given width, filter and sort; and its total height in lines."""
    per_row = max(1, (width + GAP) // (TILE_W + GAP))
    names = set(snap.hosts) | set(snap.history)
    groups: dict[str, list[str]] = {}
    for name in names:
        if not matches(snap, name, text):
            continue
        host = snap.hosts.get(name)
        groups.setdefault(host.group if host else "ungrouped", []).append(name)
    rows: list[Row] = []
    line = 0
    for group in sorted(groups):
        rows.append(Row(line, group))
        line += 1
        ordered = _sort(snap, groups[group], sort)
        for i in range(0, len(ordered), per_row):
            rows.append(Row(line, group, tuple(ordered[i:i + per_row])))
            line += TILE_H
    return rows, line


def row_at(rows: list[Row], line: int) -> Row | None:
    """The row covering ``line`` (binary search), or ``None`` past the end."""
    lo, hi = 0, len(rows) - 1
    found: Row | None = None
    while lo <= hi:
        mid = (lo + hi) // 2
        if rows[mid].line <= line:
            found, lo = rows[mid], mid + 1
        else:
            hi = mid - 1
    if found is None:
        return None
    height = 1 if found.is_header else TILE_H
    return found if line < found.line + height else None
