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


# -- services ------------------------------------------------------------------------------

def daemon() -> None:
    """Run the dispatcher: one agent per task on its host, events streamed to the hub.

    Claims tasks with leases, applies the policy, starts the agent in tmux on the
    host, streams its events into the hub and relays approvals.
    """
    not_available("daemon", FLEET_ISSUE)


def up(listen: ListenOpt = None, token_file: TokenFileOpt = None) -> None:
    """Run the webhook and the daemon in one process."""
    not_available("up", FLEET_ISSUE)


def tui() -> None:
    """Open the control centre: fleet grid, incidents, transcripts, one-key approvals."""
    not_available("tui", TUI_ISSUE)


def demo(
    hosts: Annotated[
        int, typer.Option("--hosts", min=1, max=200, help="How many simulated hosts to run.")
    ] = 12,
    seed: Annotated[
        int | None,
        typer.Option("--seed", metavar="N", help="Seed for the fault injector (repeatable runs)."),
    ] = None,
    headless: Annotated[
        bool, typer.Option("--headless", help="Run without the TUI and print the outcome.")
    ] = False,
    duration: Annotated[
        float | None,
        typer.Option("--duration", metavar="S", min=1,
                     help="With --headless: stop after this many seconds."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the whole pipeline on this machine, with no accounts and no keys.

    Simulated hosts (real SSH servers on 127.0.0.1), injected faults, the webhook,
    the daemon and the TUI.
    """
    not_available("demo", DEMO_ISSUE)


def run(
    command: Annotated[str, typer.Argument(metavar="CMD", help="The shell command to run.")],
    hosts: HostsOpt = "all",
    forks: Annotated[
        int, typer.Option("--forks", "-f", min=1, help="How many hosts to run on at once.")
    ] = 50,
    timeout: Annotated[
        float, typer.Option("--timeout", "-t", min=0.1, metavar="S",
                            help="Give up on a host after this many seconds.")
    ] = 30.0,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Run again only on the hosts that failed "
                           "last time.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Broadcast a command to many hosts, with live progress and a grouped summary.

    Ends with a summary such as `49/50 ok · 1 failed`, identical outputs grouped.
    """
    not_available("run", FLEET_ISSUE)


def report(
    since: Annotated[
        str, typer.Option("--since", metavar="DURATION", help="How far back, e.g. 12h or 2d.")
    ] = "12h",
    markdown: Annotated[bool, typer.Option("--markdown", help="Print Markdown.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The morning summary: fixed automatically, waiting, escalated; MTTR; pages avoided."""
    not_available("report", REPORT_ISSUE)


# -- groups -------------------------------------------------------------------------------
fleet_app = typer.Typer(help="The fleet: inventory, health, the agent on each host.",
                        no_args_is_help=True)


@fleet_app.command("list")
def fleet_list(hosts: HostsOpt = "all", as_json: JsonOpt = False) -> None:
    """List the hosts of the inventory."""
    not_available("fleet list", FLEET_ISSUE)


@fleet_app.command("probe")
def fleet_probe(hosts: HostsOpt = "all", as_json: JsonOpt = False) -> None:
    """Check each host's health now: reachable, CPU, memory, disk."""
    not_available("fleet probe", FLEET_ISSUE)


@fleet_app.command("install")
def fleet_install(hosts: HostsOpt = "all", as_json: JsonOpt = False) -> None:
    """Push the agent to hosts and check python3 ≥ 3.9 and tmux on each."""
    not_available("fleet install", FLEET_ISSUE)


@fleet_app.command("trust")
def fleet_trust(
    host: Annotated[str, typer.Argument(metavar="HOST", help="The host whose key to trust.")],
) -> None:
    """Record a host's SSH key in known_hosts (audited)."""
    not_available("fleet trust", FLEET_ISSUE)


ingest_app = typer.Typer(help="Alert ingest tools.", no_args_is_help=True)


@ingest_app.command("replay")
def ingest_replay(
    trace: Annotated[str, typer.Argument(metavar="TRACE",
                                         help="A trace: JSON lines of timestamped payloads.")],
    as_json: JsonOpt = False,
) -> None:
    """Replay recorded alerts through ingest: what was received, tasked, paged, suppressed."""
    not_available("ingest replay", INGEST_ISSUE)



def register(app: typer.Typer, *, panels: dict[str, str]) -> None:
    """Mount every not-yet-available command on ``app``."""
    service, fleet, work = panels["service"], panels["fleet"], panels["work"]
    app.command("tui", rich_help_panel=service)(tui)
    app.command("demo", rich_help_panel=service)(demo)
    app.command("daemon", rich_help_panel=service)(daemon)
    app.command("up", rich_help_panel=service)(up)
    app.add_typer(fleet_app, name="fleet", rich_help_panel=fleet)
    app.command("run", rich_help_panel=fleet)(run)
    app.command("report", rich_help_panel=work)(report)
    app.add_typer(ingest_app, name="ingest", rich_help_panel=service)


__all__ = ["not_available", "register"]
