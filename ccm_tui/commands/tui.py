"""``ccm tui``: open the control centre (the Textual app is imported only here, lazily)."""

from __future__ import annotations

from typing import Annotated

import typer

from ccm_tui.commands._common import settings

THEMES = ("dark", "light", "high-contrast")


def tui(
    ctx: typer.Context,
    theme: Annotated[
        str | None,
        typer.Option("--theme", metavar="NAME",
                     help="Colour theme: dark, light or high-contrast (default: tui.theme "
                     "from the config). ctrl+t cycles them while running."),
    ] = None,
) -> None:
    """Open the control centre: fleet grid, incidents, transcripts, one-key approvals.

    Keys: ? lists them all; a approves, r rejects, e escalates, t jumps into the
    agent's tmux session, / filters hosts, m shows the morning summary.
    """
    if theme is not None and theme not in THEMES:
        raise typer.BadParameter(f"unknown theme {theme!r}; use one of {', '.join(THEMES)}",
                                 param_hint="--theme")
    s = settings(ctx)
    from ccm_tui.app import run

    run(s.hub, actor=s.actor, theme=theme or s.tui.theme)


__all__ = ["tui"]
