"""The command palette (``ctrl+p``): CCM's own commands next to Textual's.

:class:`CCMCommands` offers "Broadcast a command…", which asks for a host pattern
and a command and runs it on the fleet (the app's ``broadcast`` action).
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

#: (palette text, help, app action)
COMMANDS: list[tuple[str, str, str]] = [
    ("Broadcast a command…",
     "run a shell command on web-*, group:db, label:env=prod or all; grouped summary",
     "broadcast"),
    ("Morning summary", "what happened in the last 12 hours", "screen.summary"),
]


class CCMCommands(Provider):
    """CCM's commands in the palette."""

    async def discover(self) -> Hits:
        """Shown before anything is typed."""
        for text, help_text, action in COMMANDS:
            yield DiscoveryHit(text, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        """Fuzzy-match the typed text."""
        matcher = self.matcher(query)
        for text, help_text, action in COMMANDS:
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self.app.run_action, action),
                          text=text, help=help_text)


__all__ = ["COMMANDS", "CCMCommands"]
