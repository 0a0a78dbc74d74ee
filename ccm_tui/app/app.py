"""The control centre: a thin :class:`~textual.app.App` around :class:`MainScreen`.

It loads the theme files, keeps the global keys (``?``, ``ctrl+t``, ``q``),
connects the hub when it owns it, and shows the summary on start when something
happened since the last visit. The command palette (``ctrl+p``) adds CCM's
commands (:mod:`ccm_tui.app.palette`), among them "Broadcast a command…".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from textual import events
from textual.app import App
from textual.binding import Binding

from ccm_tui.app import messages as m
from ccm_tui.app.collector import PacedCollector
from ccm_tui.app.fleet_access import FleetAccess
from ccm_tui.app.palette import CCMCommands
from ccm_tui.app.screens.broadcast import BroadcastPrompt, BroadcastRequest, BroadcastScreen
from ccm_tui.app.screens.help import HelpScreen
from ccm_tui.app.screens.main import MainScreen
from ccm_tui.app.summary import summarize
from ccm_tui.app.themes import HIGH_CONTRAST, available, next_theme
from ccm_tui.core.model import utcnow
from ccm_tui.hub.base import Hub


class CCMApp(App[None]):
    """``ccm tui``: fleet grid, incidents, transcripts and one-key decisions."""

    TITLE = "CCM"
    COMMANDS = App.COMMANDS | {CCMCommands}
    BINDINGS = [
        Binding("question_mark", "help", "Keys"),
        Binding("ctrl+t", "next_theme", "Theme"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self, hub: Hub, *, actor: str = "operator", theme: str = "dark",
        clock: Callable[[], datetime] = utcnow, own_hub: bool = False,
        last_visit: Path | None = None, fleet: FleetAccess | None = None,
    ) -> None:
        self.themes = available()
        super().__init__(css_path=[t.path for t in self.themes.values()])
        self.hub = hub
        self.actor = actor
        self.clock = clock
        self.own_hub = own_hub
        self.last_visit = last_visit
        self.fleet = fleet
        self.theme_name = theme if theme in self.themes else next(iter(self.themes), "dark")
        self.collector = PacedCollector()

    async def on_mount(self) -> None:
        """Connect the hub (if ours), apply the theme, open the main screen."""
        self.collector.start()
        self.set_interval(1.0, self.collector.tick, name="paced full collections")
        self.register_theme(HIGH_CONTRAST)
        self.apply_theme(self.theme_name)
        if self.own_hub:
            await self.hub.connect()
        await self.push_screen(MainScreen(self.hub, actor=self.actor, clock=self.clock))
        if self.last_visit is not None:
            self.set_timer(1.0, self._summary_since_last_visit)

    async def on_event(self, event: events.Event) -> None:
        """Note input, so full collections wait until the user pauses (see :mod:`.collector`)."""
        if isinstance(event, (events.Key, events.MouseDown)):
            self.collector.input_seen()
        await super().on_event(event)

    def on_snapshot_loaded(self, message: m.SnapshotLoaded) -> None:
        """The first load is on screen: it lives as long as the app, so freeze it."""
        self.collector.freeze_loaded()

    async def on_unmount(self) -> None:
        """Remember this visit; close the hub if we opened it."""
        self.collector.stop()
        if self.last_visit is not None:
            self.last_visit.parent.mkdir(parents=True, exist_ok=True)
            self.last_visit.write_text(self.clock().isoformat(), encoding="utf-8")
        if self.own_hub:
            await self.hub.close()

    def _summary_since_last_visit(self) -> None:
        assert self.last_visit is not None
        try:
            since = datetime.fromisoformat(self.last_visit.read_text(encoding="utf-8").strip())
        except FileNotFoundError:
            return  # a first visit: nothing to catch up on
        except (OSError, ValueError):
            since = self.clock() - timedelta(hours=12)
        screen = self.screen
        if isinstance(screen, MainScreen) and summarize(screen.snap, since).anything:
            screen.run_worker(screen.show_summary(
                since, f"since your last visit ({since:%a %H:%M} UTC)"))

    def apply_theme(self, name: str) -> None:
        """Switch to theme ``name``: its class on the app and its Textual base theme."""
        for other in self.themes:
            self.remove_class(f"theme-{other}")
        self.add_class(f"theme-{name}")
        self.theme = self.themes[name].base
        self.theme_name = name
        if isinstance(self.screen, MainScreen):
            # once the new classes are applied: the grid and timeline read component styles
            self.call_after_refresh(self.screen.repaint, True)

    def action_next_theme(self) -> None:
        """``ctrl+t``: the next theme."""
        self.apply_theme(next_theme(self.theme_name, list(self.themes)))
        self.notify(f"theme: {self.theme_name}", timeout=2)

    def action_help(self) -> None:
        """``?``: every key."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_broadcast(self) -> None:
        """Palette: ask for a host pattern and a command, then run it on the fleet."""
        if self.fleet is None:
            self.notify("no inventory: start ccm tui with --inventory or set it in the config",
                        title="broadcast", severity="error")
            return
        fleet = self.fleet

        def run(request: BroadcastRequest | None) -> None:
            if request is not None:
                self.push_screen(BroadcastScreen(self.hub, fleet, request, actor=self.actor))

        self.push_screen(BroadcastPrompt(), run)
