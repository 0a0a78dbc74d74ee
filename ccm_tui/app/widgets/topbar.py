"""The one-line status bar at the top: fleet health and what waits for you."""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual.widgets import Static

from ccm_tui.app.model import HostStatus, Snapshot
from ccm_tui.core.states import TaskState
from ccm_tui.core.text import plural


def status_text(snap: Snapshot, *, hub_kind: str, actor: str, theme: str) -> Text:
    """``CCM · 50 hosts: 2 critical 1 unreachable · 3 awaiting approval · …``."""
    names = set(snap.hosts) | set(snap.history)
    counts = Counter(snap.host_status(n) for n in names)
    waiting = sum(1 for t in snap.tasks.values() if t.state is TaskState.AWAITING_APPROVAL)
    active = sum(1 for t in snap.tasks.values() if t.state.is_active)
    t = Text()
    t.append(" CCM ", style="bold reverse")
    t.append(f" {plural(len(names), 'host')}")
    for status, style in ((HostStatus.CRITICAL, "bold red"), (HostStatus.UNREACHABLE, "dim"),
                          (HostStatus.WARNING, "yellow"), (HostStatus.WORKING, "cyan")):
        if counts[status]:
            t.append(f" {counts[status]} {status}", style=style)
    t.append(" · ")
    t.append(f"{waiting} awaiting approval", style="bold yellow" if waiting else "")
    t.append(f" · {active} active")
    if snap.control.paused:
        t.append(" · ")
        t.append(" PAUSED ", style="bold reverse red")
    silenced = snap.active_silences()
    if silenced:  # a forgotten silence hides real incidents: always in sight
        t.append(" · ")
        t.append(plural(len(silenced), "silence") + " on", style="magenta")
    t.append(f" · {hub_kind} · {actor} · {theme}", style="dim")
    return t


class TopBar(Static):
    """Shows :func:`status_text`."""

    def show(self, snap: Snapshot, *, hub_kind: str, actor: str, theme: str) -> None:
        """Redraw from the snapshot."""
        self.update(status_text(snap, hub_kind=hub_kind, actor=actor, theme=theme))
