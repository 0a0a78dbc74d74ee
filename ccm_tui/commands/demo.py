"""``ccm demo``: the whole pipeline on this machine, with no accounts and no keys."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ccm_tui.commands._common import has_terminal, hub_from_command_line, state

if TYPE_CHECKING:
    from ccm_tui.demo.runner import Demo, DemoOptions

#: The fewest hosts that give every scenario a host of its own.
MIN_HOSTS = 5


def demo(
    ctx: typer.Context,
    hosts: Annotated[
        int, typer.Option("--hosts", metavar="N", min=MIN_HOSTS, max=200,
                          help="How many simulated hosts to run (web-01, app-01, db-01, …).")
    ] = 12,
    seed: Annotated[
        int | None,
        typer.Option("--seed", metavar="N", help="Seed for the fault injector (repeatable runs)."),
    ] = None,
    headless: Annotated[
        bool, typer.Option("--headless", help="Run without the TUI and print the outcome.")
    ] = False,
    duration: Annotated[
        float, typer.Option("--duration", metavar="S", min=1,
                            help="With --headless: stop after S seconds at most (sooner "
                            "once every fault has reached its end state).")
    ] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="With --headless: print JSON.")] = False,
) -> None:
    """Run the whole pipeline on this machine, with no accounts and no keys.

    Simulated hosts (real SSH servers on 127.0.0.1, each with a sandboxed disk
    and a stand-in systemctl), a fault injector, the webhook, the daemon with
    agents in a private tmux server, and the TUI on top.

    Faults: a disk filling with old logs (fixed automatically), a crashed service
    (restarted), a memory hog (press a to approve the suggested restart), a disk
    filled by an unknown file (escalated), a flapping alert (suppressed) and a
    security update (broadcast it with ctrl+p).

    With --hub URL on the command line the hub is kept there for `ccm report` and
    `ccm tasks list`; otherwise everything is removed on exit (q or Ctrl-C).
    The CCM_HUB variable is ignored: the demo's simulated web-01, db-01… must not
    land in a real hub. With --headless it exits 0 only when every fault ended as
    expected. Without a terminal (output piped, CI) it runs headless by itself.
    """
    from ccm_tui.demo.runner import DemoOptions

    kept = hub_from_command_line(ctx)
    if kept is None and state(ctx).hub:
        typer.echo("ccm demo: CCM_HUB is ignored; the demo runs on a throwaway hub (give "
                   "--hub URL on the command line to keep it)", err=True)
    options = DemoOptions(hosts=hosts, seed=seed, hub_url=kept)
    if not headless and not has_terminal():
        # a TUI drawn into a pipe would run until killed, with nobody to press q
        typer.echo("ccm demo: no terminal to draw the TUI on, so running headless (as "
                   f"--headless, for at most {duration:g}s); run it in a terminal for the TUI",
                   err=True)
        headless = True
    if not headless:
        asyncio.run(_tui(options, ctx))
        return
    result = asyncio.run(_headless(options, duration))
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
    else:
        typer.echo(summary_text(result))
    if result.get("interrupted"):
        raise typer.Exit(130)
    raise typer.Exit(0 if result["ok"] else 1)


def _on_signals(loop: asyncio.AbstractEventLoop, demo: Demo,
                signalled: asyncio.Event | None = None) -> None:
    def stop() -> None:
        if signalled is not None:
            signalled.set()
        demo.stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop)


async def _headless(options: DemoOptions, duration: float) -> dict[str, Any]:
    from ccm_tui.demo.runner import Demo

    demo = Demo(options)
    signalled = asyncio.Event()
    _on_signals(asyncio.get_running_loop(), demo, signalled)
    if not as_quiet():
        print(f"ccm demo: starting {options.hosts} simulated hosts…", file=sys.stderr)
    async with demo:
        result = await demo.run_headless(duration)
    # Ctrl-C while the demo cleans up asked to stop as much as one during the run:
    # report it, and exit 130 as an interrupted command does.
    result["interrupted"] = result["interrupted"] or signalled.is_set()
    return result


def as_quiet() -> bool:
    return not sys.stderr.isatty()


async def _tui(options: DemoOptions, ctx: typer.Context) -> None:
    from ccm_tui.commands._common import settings
    from ccm_tui.demo.runner import Demo

    s = settings(ctx)
    demo = Demo(options)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGHUP):  # Ctrl-C is a key in the TUI
        loop.add_signal_handler(sig, demo.stop.set)
    print(f"ccm demo: starting {options.hosts} simulated hosts…", file=sys.stderr)
    async with demo:
        await demo.run_tui(actor=s.actor, theme=s.tui.theme)
    print("ccm demo: stopped; nothing left behind.", file=sys.stderr)


def summary_text(r: dict[str, Any]) -> str:
    """The outcome as text: totals, then one line per scenario."""
    def secs(v: Any) -> str:
        return "-" if v is None else f"{v:.1f}s"

    lines = [
        f"incidents {r['incidents']} · fixed automatically {r['fixed_automatically']} · "
        f"awaiting approval {r['awaiting_approval']} · escalated {r['escalated']} · "
        f"alerts suppressed {r['alerts_suppressed']}",
        f"MTTR median {secs(r['mttr_median_seconds'])} · p90 {secs(r['mttr_p90_seconds'])}",
        "",
    ]
    for row in r["scenarios"]:
        mark = "ok  " if row["ok"] else "FAIL"
        extra = ""
        if row.get("mttr_seconds") is not None:
            extra = f" (fixed in {secs(row['mttr_seconds'])})"
        elif row.get("escalated_after_seconds") is not None:
            extra = f" (escalated in {secs(row['escalated_after_seconds'])})"
        lines.append(f"{mark} {row['name']:<16} {row['host']:<10} expected "
                     f"{row['expected']}, got {row['actual']}{extra}")
    if r.get("interrupted"):
        lines.append("interrupted before the end")
    lines.append("every fault ended as expected" if r["ok"] else "some faults did not end "
                 "as expected")
    return "\n".join(lines)


__all__ = ["demo", "summary_text"]
