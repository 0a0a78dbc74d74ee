"""Commands that later issues fill in.

Each has its real options and help text already, so ``ccm --help`` shows the whole
tool; running one says which issue brings it and exits 2. When an issue lands, its
command moves to its own module and is mounted in :mod:`ccm_tui.cli` instead.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer

INGEST_ISSUE, FLEET_ISSUE, TUI_ISSUE, REPORT_ISSUE, DEMO_ISSUE = 4, 5, 6, 7, 8

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
HostsOpt = Annotated[
    str,
    typer.Option(
        "--hosts", "-H", metavar="PATTERN",
        help="Which hosts: a name glob (web-*), group:NAME, label:KEY=VALUE, or all.",
    ),
]
ListenOpt = Annotated[
    str | None,
    typer.Option(
        "--listen", metavar="HOST:PORT",
        help="Address to listen on (default: webhook.listen from the config, 127.0.0.1:9797).",
    ),
]
TokenFileOpt = Annotated[
    str | None,
    typer.Option(
        "--token-file", metavar="FILE",
        help="File holding the bearer token senders must present (default: webhook.token_file).",
    ),
]


def not_available(command: str, issue: int) -> NoReturn:
    """Say that ``ccm <command>`` comes with a later issue, and exit 2."""
    typer.echo(f"ccm: {command} is not available yet (issue {issue})", err=True)
    raise typer.Exit(2)


def register(app: typer.Typer, *, panels: dict[str, str]) -> None:
    """Mount every not-yet-available command on ``app`` (none left for now)."""


__all__ = ["not_available", "register"]
