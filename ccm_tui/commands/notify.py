"""``ccm notify worker`` · ``ccm notify list`` · ``ccm notify test CHANNEL``: the outbox."""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ccm_tui.commands._common import print_json, settings, with_hub
from ccm_tui.core.errors import ConfigError

if TYPE_CHECKING:
    from ccm_tui.hub.base import Hub

app = typer.Typer(
    help="Notifications: deliver the outbox (PagerDuty, Slack, Grafana, apprise), list it, "
    "send a test.",
    no_args_is_help=True,
)

CHANNELS = ("pagerduty", "slack", "grafana", "apprise")


@app.command("worker")
def worker(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due now, then exit.")]
    = False,
    batch: Annotated[int, typer.Option("--batch", metavar="N", min=1, max=500,
                                       help="Messages claimed per round.")] = 10,
    lease: Annotated[float, typer.Option("--lease", metavar="S", min=0.1,
                                         help="Seconds a claim lasts; a crashed worker's "
                                         "messages are taken over after it.")] = 60.0,
    poll: Annotated[float, typer.Option("--poll", metavar="S", min=0.01,
                                        help="Seconds to wait when nothing is due.")] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line per round.")]
    = False,
) -> None:
    """Deliver notifications from the hub's outbox, with retries, until interrupted.

    429 and 5xx answers are retried with exponential backoff (Retry-After honoured);
    a 400 is never retried. Safe to run several: each message is claimed with a lease.
    """
    from ccm_tui.notify.outbox import CycleResult, deliver_forever

    notify = settings(ctx).notify

    def report(r: CycleResult) -> None:
        if as_json:
            print_json({"claimed": r.claimed, "sent": r.sent, "retried": r.retried,
                        "dead": r.dead, "deferred": r.deferred, "errors": r.errors})
        else:
            typer.echo(f"claimed {r.claimed} · sent {r.sent} · retry {r.retried} · "
                       f"deferred {r.deferred} · dead {r.dead}")
            for e in r.errors:
                typer.echo(f"  dead: {e}", err=True)

    async def run(hub: Hub) -> None:
        if once:
            import aiohttp

            from ccm_tui.notify.outbox import OutboxWorker, default_senders

            async with aiohttp.ClientSession() as session:
                w = OutboxWorker(hub, notify, default_senders(notify, session), batch=batch,
                                 lease_seconds=lease)
                report(await w.run_once())
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await deliver_forever(hub, notify, stop=stop, poll=poll, batch=batch,
                              lease_seconds=lease, on_cycle=report)

    with_hub(ctx, run)


@app.command("list")
def list_outbox(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option("--state", metavar="STATE",
                                              help="pending, sent or dead.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", metavar="N", min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List notifications, newest first."""
    if state is not None and state not in ("pending", "sent", "dead"):
        raise typer.BadParameter("expected pending, sent or dead", param_hint="--state")
    found = with_hub(ctx, lambda hub: hub.list_outbox(state=state, limit=limit))
    if as_json:
        print_json(found)
        return
    from rich.table import Table

    from ccm_tui.commands._render import console

    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("ID", "CHANNEL", "KEY", "STATE", "TRIES", "LAST ERROR"):
        table.add_column(col, no_wrap=col != "LAST ERROR", overflow="ellipsis")
    for m in found:
        table.add_row(str(m.id), m.channel, m.dedup_key, m.state.value, str(m.attempts),
                      m.last_error)
    console().print(table if found else "[dim]the outbox is empty[/]")


@app.command("test")
def test_channel(
    ctx: typer.Context,
    channel: Annotated[str, typer.Argument(metavar="CHANNEL",
                                           help="pagerduty, slack, grafana or apprise.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Send one test notification through CHANNEL now (via the outbox), and say how it went.

    For pagerduty it triggers a test incident and resolves it straight away.
    """
    if channel not in CHANNELS:
        raise typer.BadParameter(f"expected one of {', '.join(CHANNELS)}",
                                 param_hint="CHANNEL")
    from ccm_tui.notify.testsend import missing_setting, send_test

    notify = settings(ctx).notify
    missing = missing_setting(notify, channel)
    if missing is not None:  # nothing to send with: say so rather than queue a dead message
        raise ConfigError(f"{channel} is not configured: notify.{missing} is not set",
                          hint=f"set {missing} under [notify] in config.toml (or "
                          f"CCM_NOTIFY__{missing.upper()}), then run this again")
    result: dict[str, Any] = with_hub(ctx, lambda hub: send_test(hub, notify, channel))
    if as_json:
        print_json(result)
    else:
        typer.echo(f"{channel}: {result['state']}" + (f" — {result['error']}"
                                                      if result["error"] else ""))
    if result["state"] != "sent":
        raise typer.Exit(1)


__all__ = ["app"]
