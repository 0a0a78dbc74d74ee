"""The one-line status bar at the top: fleet health and what waits for you."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.widgets import Static

from ccm_tui.app.model import HostStatus, Snapshot
from ccm_tui.core.model import utcnow
from ccm_tui.core.states import TaskState
from ccm_tui.core.text import duration, plural, printable
from ccm_tui.daemon.health_rules import PROBE_STALE_SECONDS

#: Characters of a pause reason the bar shows (``ccm status`` shows all of it).
PAUSE_REASON_W = 40
#: Seconds between redraws that only age the bar (a stopped daemon sends no updates).
AGE_EVERY = 15.0


def probe_age(snap: Snapshot, now: datetime) -> float | None:
    """Seconds since the newest probe of any host (``None``: never probed)."""
    newest = max((h[-1].taken_at for h in snap.history.values() if h), default=None)
    return (now - newest).total_seconds() if newest is not None else None


def status_text(snap: Snapshot, *, hub_kind: str, actor: str, theme: str,
                now: datetime | None = None) -> Text:
    """``CCM · 50 hosts: 2 critical 1 unreachable · 3 awaiting approval · …``; with
    ``no probe for 2h`` when the figures on screen are old (is ``ccm up`` running?)."""
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
    age = probe_age(snap, now or utcnow())
    if age is not None and age > PROBE_STALE_SECONDS:  # every tile shows old figures
        t.append(" · ")
        t.append(f" no probe for {duration(age)} ", style="bold reverse yellow")
    t.append(" · ")
    t.append(f"{waiting} awaiting approval", style="bold yellow" if waiting else "")
    t.append(f" · {active} active")
    if snap.control.paused:  # who paused, and why: what on-call asks first
        t.append(" · ")
        t.append(" PAUSED ", style="bold reverse red")
        c = snap.control
        why = printable(c.reason)
        why = why if len(why) <= PAUSE_REASON_W else why[:PAUSE_REASON_W - 1] + "…"
        t.append(f" by {printable(c.actor or '?')}{f': {why}' if why else ''}", style="red")
    silenced = snap.active_silences()
    if silenced:  # a forgotten silence hides real incidents: always in sight
        t.append(" · ")
        t.append(plural(len(silenced), "silence") + " on", style="magenta")
    t.append(f" · {hub_kind} · {printable(actor)} · {theme}", style="dim")
    return t


class TopBar(Static):
    """Shows :func:`status_text`; redraws every :data:`AGE_EVERY` seconds on its own, so
    a fleet nobody probes any more is flagged even though no update arrives."""

    def __init__(self, *, clock: Callable[[], datetime] = utcnow, **kw: Any) -> None:
        super().__init__(**kw)
        self.clock = clock
        self._last: tuple[Snapshot, dict[str, str]] | None = None

    def on_mount(self) -> None:
        self.set_interval(AGE_EVERY, self._age)

    def show(self, snap: Snapshot, *, hub_kind: str, actor: str, theme: str) -> None:
        """Redraw from the snapshot."""
        self._last = (snap, {"hub_kind": hub_kind, "actor": actor, "theme": theme})
        self.update(status_text(snap, hub_kind=hub_kind, actor=actor, theme=theme,
                                now=self.clock()))

    def _age(self) -> None:
        if self._last is not None:
            snap, kw = self._last
            self.show(snap, **kw)
