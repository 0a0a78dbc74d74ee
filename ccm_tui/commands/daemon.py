"""``ccm daemon`` (the dispatcher) and ``ccm up`` (receiver + dispatcher in one process)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ccm_tui.commands._common import redact_url, service_logging, settings
from ccm_tui.commands.webhook import (
    BasicFileOpt,
    GrafanaOpt,
    InsecureOpt,
    ListenOpt,
    TokenFileOpt,
    receiver_config,
)
from ccm_tui.core.text import plural

if TYPE_CHECKING:
    from ccm_tui.config import Settings
    from ccm_tui.daemon.options import DaemonOptions
    from ccm_tui.fleet.inventory import Inventory
    from ccm_tui.fleet.ssh import SSHPool
    from ccm_tui.hub.base import Hub
    from ccm_tui.ingest.service import RunningReceiver

log = logging.getLogger("ccm.daemon")

TmuxOpt = Annotated[str | None, typer.Option(
    "--tmux-socket", metavar="NAME",
    help="Run agent sessions on a private tmux server (tmux -L NAME) on each host.")]
OwnerOpt = Annotated[str | None, typer.Option(
    "--owner", metavar="NAME", help="This daemon's name in task leases (default host:pid).")]
NoNotifyOpt = Annotated[bool, typer.Option(
    "--no-notify", help="Do not deliver notifications here (run `ccm notify worker` instead).")]
KnownHostsOpt = Annotated[list[Path] | None, typer.Option(
    "--known-hosts", metavar="FILE",
    help="known_hosts files to trust (default ~/.ssh/known_hosts and CCM's own).")]


def daemon_options(s: Settings, owner: str | None, tmux_socket: str | None) -> DaemonOptions:
    """The dispatcher's options from the settings."""
    from ccm_tui.daemon.options import DaemonOptions, default_owner

    return DaemonOptions(
        owner=owner or default_owner(),
        lease_seconds=s.policy.lease_seconds,
        max_concurrent_fixes=s.policy.max_concurrent_fixes,
        policy=s.policy.to_policy(),
        tmux_socket=tmux_socket,
        runbook_dirs=tuple(str(d) for d in s.runbook_dirs if Path(d).exists()),
    )


def _stop_on_signals(stop: asyncio.Event, banner: str) -> None:
    """SIGINT/SIGTERM set ``stop`` (a clean stop: leases handed back); a second one
    cancels the service at once, leaving its leases to expire."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()

    def on_signal(sig: signal.Signals) -> None:
        if not stop.is_set():
            typer.echo(f"{banner}: {sig.name}: stopping — handing running tasks back "
                       "(again to stop at once)", err=True)
            stop.set()
        elif main is not None:
            typer.echo(f"{banner}: {sig.name} again: stopping now; leases not handed back "
                       "expire and the next daemon takes the tasks over", err=True)
            main.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, on_signal, sig)


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """Run a service until it stops; one cancelled by a second signal exits with 130."""
    try:
        asyncio.run(coro)
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise typer.Exit(130) from None


async def _serve(ctx: typer.Context, owner: str | None, tmux_socket: str | None,
                 known_hosts: list[Path] | None, receiver: tuple[str, object] | None,
                 notifications: bool = True) -> None:
    from ccm_tui.fleet.inventory import load_inventory
    from ccm_tui.fleet.known_hosts import TrustStore
    from ccm_tui.fleet.ssh import SSHPool
    from ccm_tui.hub import open_hub
    from ccm_tui.hub.patience import connect_patiently
    from ccm_tui.ingest.pipeline import IngestSettings
    from ccm_tui.ingest.server import ReceiverConfig
    from ccm_tui.ingest.service import start_receiver

    s = settings(ctx)
    inventory = load_inventory(s.inventory)
    options = daemon_options(s, owner, tmux_socket)
    trust = TrustStore([str(p) for p in known_hosts] if known_hosts else None)
    name = "ccm up" if receiver is not None else "ccm daemon"
    stop = asyncio.Event()
    _stop_on_signals(stop, name)
    hub = open_hub(s.hub)
    running = None
    try:
        if receiver is not None:  # first: it answers 503 until the hub is reachable
            listen, config = receiver
            assert isinstance(config, ReceiverConfig)
            # the same duplicate/flap handling as `ccm webhook`, from the same settings
            ingest = IngestSettings(
                flap_threshold=s.webhook.flap_threshold,
                flap_window=timedelta(minutes=s.webhook.flap_window_minutes))
            running = await start_receiver(hub, listen, config, settings=ingest)
            auth = " ".join(k for k, on in (("bearer", config.credentials.tokens),
                                            ("basic", config.credentials.basic)) if on)
            typer.echo(f"ccm up: receiving on {running.url}/alerts/"
                       "{alertmanager,grafana,kibana,generic} · auth "
                       f"{auth or 'none'}"
                       f"{' · grafana signatures checked' if config.grafana else ''}",
                       err=True)
        if not await connect_patiently(hub, stop, log=log, shown=redact_url(s.hub),
                                       meanwhile="alerts get 503 until then"
                                       if running else ""):
            typer.echo(f"{name}: stopped before the hub answered; no task was claimed",
                       err=True)
            return
        async with SSHPool(inventory, trust=trust, options=s.ssh.pool_options()) as pool:
            await _dispatch(hub, pool, inventory, options, s, stop, running, notifications)
    finally:
        if running is not None:
            await running.stop()
        await hub.close()


async def _dispatch(hub: Hub, pool: SSHPool, inventory: Inventory, options: DaemonOptions,
                    s: Settings, stop: asyncio.Event, running: RunningReceiver | None,
                    notifications: bool) -> None:
    from ccm_tui.commands.probe import health_alert_sink
    from ccm_tui.commands.services import run_notifications, task_notifier
    from ccm_tui.daemon.dispatcher import Daemon
    from ccm_tui.ingest.pipeline import Ingestor

    d = Daemon(hub, pool, inventory, options, health_sink=health_alert_sink(Ingestor(hub)),
               notifier=task_notifier(hub, s.notify))
    notifier = asyncio.create_task(run_notifications(hub, s.notify, stop)) \
        if notifications else None
    typer.echo(f"ccm daemon {options.owner}: {plural(len(inventory), 'host')} from "
               f"{s.inventory} · {plural(len(d.knowledge.catalog.valid()), 'runbook')} · hub "
               f"{redact_url(s.hub)}"
               + (f" · alerts on {running.url}/alerts/…" if running else ""),
               err=True)
    if not len(inventory):
        log.warning("the inventory %s lists no hosts: this daemon runs no agent (tasks "
                    "on hosts another daemon has are left to it; alerts for hosts no "
                    "inventory has are escalated); add hosts to it (`ccm fleet list` shows "
                    "what it holds)", s.inventory)
    try:
        await d.run(stop)
    finally:
        stop.set()
        if notifier is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(notifier, 10)
    back = d.handed_back
    typer.echo(f"ccm daemon {options.owner}: stopped"
               + (f"; handed back {plural(len(back), 'running task')} ({', '.join(back)}): "
                  "the agents keep running on their hosts and the next daemon re-attaches"
                  if back else "; no task was running"), err=True)

def daemon(
    ctx: typer.Context,
    owner: OwnerOpt = None,
    tmux_socket: TmuxOpt = None,
    known_hosts: KnownHostsOpt = None,
    no_notify: NoNotifyOpt = False,
) -> None:
    """Run the dispatcher: one agent per task on its host, events streamed to the hub.

    Claims tasks with leases (renewed while they run), starts the agent in tmux
    session ccm-<task> on the host, streams every event into the hub, relays
    approvals, and stores the outcome. Stop it with Ctrl-C: agents keep running on
    their hosts and the next daemon re-attaches.
    """
    service_logging("daemon")
    _run(_serve(ctx, owner, tmux_socket, known_hosts, None, not no_notify))


def up(
    ctx: typer.Context,
    listen: ListenOpt = None,
    token_file: TokenFileOpt = None,
    basic_auth_file: BasicFileOpt = None,
    grafana_secret_file: GrafanaOpt = None,
    insecure_no_auth: InsecureOpt = False,
    owner: OwnerOpt = None,
    tmux_socket: TmuxOpt = None,
    known_hosts: KnownHostsOpt = None,
    no_notify: NoNotifyOpt = False,
) -> None:
    """Run the alert receiver and the dispatcher in one process."""
    s = settings(ctx)
    where = listen or s.webhook.listen
    config = receiver_config(ctx, token_file, basic_auth_file, grafana_secret_file, where,
                             insecure_no_auth)
    service_logging("up")
    _run(_serve(ctx, owner, tmux_socket, known_hosts, (where, config), not no_notify))
