"""``ccm tui``: open the control centre (the Textual app is imported only here, lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ccm_tui.commands._common import has_terminal, require_hub, settings
from ccm_tui.core.errors import CCMError, HubError

THEMES = ("dark", "light", "high-contrast")


def tui(
    ctx: typer.Context,
    theme: Annotated[
        str | None,
        typer.Option("--theme", metavar="NAME",
                     help="Colour theme: dark, light or high-contrast (default: tui.theme "
                     "from the config). ctrl+t cycles them while running."),
    ] = None,
    known_hosts: Annotated[
        list[Path] | None,
        typer.Option("--known-hosts", metavar="FILE",
                     help="known_hosts files a broadcast trusts (default ~/.ssh/known_hosts "
                     "and CCM's own)."),
    ] = None,
) -> None:
    """Open the control centre: fleet grid, incidents, transcripts, one-key approvals.

    Keys: ? lists them all; a approves, r rejects, e escalates, t jumps into the
    agent's tmux session, / filters hosts, m shows the morning summary; ctrl+p
    "Broadcast a command…" runs a command on the inventory's hosts like `ccm run`.
    """
    if theme is not None and theme not in THEMES:
        raise typer.BadParameter(f"unknown theme {theme!r}; use one of {', '.join(THEMES)}",
                                 param_hint="--theme")
    s = settings(ctx)
    _require_hub(ctx, s.hub)
    if not has_terminal():
        raise CCMError("ccm tui needs a terminal: its standard input and output are not one",
                       hint="run it in a terminal (or a tmux pane); scripts can read `ccm "
                       "status --json` and `ccm tasks list --json`")
    from ccm_tui.app import run

    run(s.hub, actor=s.actor, theme=theme or s.tui.theme, inventory=_inventory_path(s.inventory),
        known_hosts=known_hosts, ssh=s.ssh.pool_options())


def _require_hub(ctx: typer.Context, url: str) -> None:
    """Exit 2 with one line saying what is wrong and what to do when the hub cannot be
    opened: an SQLite file that does not exist (the control centre would otherwise open
    on a new, empty hub at a mistyped path, showing no task and pausing no daemon), a
    folder, another program's database, an unreachable PostgreSQL (found once the
    full-screen app had started, those ended in a Textual traceback), a PostgreSQL
    database whose CCM schema is missing or behind."""
    import asyncio

    from ccm_tui.cli import error_line
    from ccm_tui.hub import open_hub

    async def try_it() -> None:
        from ccm_tui.commands.db import require_current_schema

        async with open_hub(url, create=False) as hub:
            # else the screen would show an empty fleet, as if all were well
            await require_current_schema(hub, url, then="ccm tui")

    try:
        open_hub(url, create=False)  # a malformed URL is said first
        require_hub(ctx, url)
        asyncio.run(try_it())
    except HubError as exc:
        typer.echo(error_line(exc), err=True)
        raise typer.Exit(2) from None


def _inventory_path(path: Path) -> Path:
    """The inventory (``~/.ssh/config`` when the default file is absent, as ``ccm run``)."""
    from ccm_tui.config import config_dir
    from ccm_tui.fleet.inventory import DEFAULT_SSH_CONFIG

    path = path.expanduser()
    ssh_config = DEFAULT_SSH_CONFIG.expanduser()
    if not path.exists() and path == config_dir() / "inventory.yaml" and ssh_config.is_file():
        return ssh_config
    return path


__all__ = ["tui"]
