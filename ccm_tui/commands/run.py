"""``ccm run``: broadcast a shell command to many hosts, then a grouped summary."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ccm_tui.commands._common import print_json, require_hub, settings, with_hub
from ccm_tui.commands._run_ctrl_c import INTERRUPTED_STATUS, STOPPING, CtrlC
from ccm_tui.commands.fleet import load_fleet, select_hosts, stderr_is_tty
from ccm_tui.core.errors import CCMError, HubError
from ccm_tui.core.text import plural

if TYPE_CHECKING:
    from ccm_tui.fleet.broadcast_report import BroadcastReport
    from ccm_tui.fleet.broadcast_workers import Workers
    from ccm_tui.fleet.inventory import FleetHost, Inventory
    from ccm_tui.fleet.ssh import RunResult
    from ccm_tui.fleet.ssh_types import PoolOptions
    from ccm_tui.hub.base import Hub

#: The audit action a broadcast is recorded under (the TUI lists these).
AUDIT_ACTION = "run"
PREVIEW_LINES = 12


def run(
    ctx: typer.Context,
    command: Annotated[str | None, typer.Argument(
        metavar="CMD", help="The shell command, as you would type it on each host "
        "(quote it). With --retry-failed it defaults to the last run's command.")] = None,
    hosts: Annotated[str | None, typer.Option(
        "--hosts", "-H", metavar="PATTERN",
        help="Which hosts (required): a name glob (web-*), a range (web-[01-10,12]), "
        "group:NAME, label:KEY=VALUE or all; join with commas, exclude with !PATTERN.")] = None,
    forks: Annotated[int, typer.Option(
        "--forks", "-f", metavar="N", min=1, help="How many hosts to run on at once.")] = 50,
    procs: Annotated[int | None, typer.Option(
        "--procs", metavar="N", min=1,
        help="Processes to spread the hosts over, each with its part of --forks (default: "
        "one per CPU once each gets 32 hosts; 1: this process alone).")] = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", "-t", min=0.1, metavar="S",
        help="Give up on a host after this many seconds (connecting included).")] = 30.0,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="Run again on the hosts that failed, were unreachable or did not "
        "finish (Ctrl-C) in the last `ccm run` (read from the hub); --hosts narrows them "
        "further.")] = False,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print one JSON document (no progress bar).")] = False,
) -> None:
    """Broadcast a command to many hosts, with live progress and a grouped summary.

    Identical outputs (same exit status, stdout and stderr) are grouped; the summary reads
    like `47 identical · 2 differ · 1 unreachable` and lists each host's exit code.
    The run is recorded in the hub's audit log; with no hub yet (`ccm init` makes it)
    it still runs, and a warning says it was not recorded. Exits 0 only if every host
    ran the command and exited 0; 1 otherwise. Ctrl-C starts no more hosts, cuts off the
    running ones, then prints and records every host's result and exits 130 (a second
    Ctrl-C quits at once).
    """
    inventory = load_fleet(ctx)
    s = settings(ctx)
    pattern = hosts or "all"
    if retry_failed:
        command, selected, pattern, why_none = _retry_targets(ctx, inventory, command, hosts)
        if not selected:
            _say(as_json, {"summary": f"nothing to retry: {why_none}", "ok": True,
                           "hosts": []}, f"nothing to retry: {why_none}")
            return
    else:
        if not command:
            raise CCMError("no command given", hint='quote it: ccm run "uptime" --hosts all')
        if hosts is None:
            raise CCMError("say which hosts to run on",
                           hint="add --hosts all, --hosts 'web-*' or --hosts group:db")
        selected = select_hosts(inventory, hosts)
    missing = _missing_hub(ctx, s.hub)
    ctrl_c = CtrlC()
    try:
        report, recorded, why = _broadcast(inventory, selected, command, pattern, forks,
                                           timeout, None if missing else s.hub, s.actor,
                                           s.ssh.pool_options(), procs=procs,
                                           progress=not as_json and stderr_is_tty(),
                                           ctrl_c=ctrl_c)
        why = missing or why
        try:
            if as_json:
                print_json({**report.to_dict(), "recorded": recorded,
                            "not_recorded_because": None if recorded else why})
            else:
                _print_report(report, recorded)
            sys.stdout.flush()  # a reader that left shows here, not at exit
        except (BrokenPipeError, SystemExit):  # SystemExit(1): rich's, on a closed pipe
            # The reader left (`| head`, or a Ctrl-C that ended `| tee` too): the run's
            # own status still stands — 130, 1 for a host that failed, else 0.
            _drop_stdout()
        if not recorded:  # on stderr with --json too: a script's log shows it
            typer.echo(f"warning: this run was not recorded in the hub: {why}", err=True)
    except KeyboardInterrupt:  # before the broadcast could watch for it
        raise typer.Exit(INTERRUPTED_STATUS) from None
    finally:
        ctrl_c.release()
    if report.interrupted:
        raise typer.Exit(INTERRUPTED_STATUS)
    if not report.ok:
        raise typer.Exit(1)


def _drop_stdout() -> None:
    """Point standard output at /dev/null: what is still buffered for a reader that
    left cannot fail the exit."""
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _missing_hub(ctx: typer.Context, url: str) -> str:
    """Why the run cannot be recorded when the hub's SQLite file does not exist ("" when
    it does, or the hub is not SQLite): the broadcast still runs, but no new, empty hub
    is made at a mistyped path."""
    try:
        require_hub(ctx, url)
    except HubError as exc:
        return _reason(exc)
    return ""


def _reason(exc: HubError) -> str:
    return f"{exc} — {exc.hint}" if exc.hint else str(exc)


def _say(as_json: bool, doc: dict[str, Any], text: str) -> None:
    if as_json:
        print_json(doc)
    else:
        typer.echo(text)


# -- retry -----------------------------------------------------------------------------------
def _retry_targets(ctx: typer.Context, inventory: Inventory, command: str | None,
                   pattern: str | None) -> tuple[str, list[FleetHost], str, str]:
    """(command, hosts, the pattern to record, why no host is left when none is)."""
    async def last_run(hub: Hub) -> Any:
        for entry in await hub.list_audit(limit=1000):
            if entry.action == AUDIT_ACTION:
                return entry
        return None

    entry = with_hub(ctx, last_run)  # the failed hosts are in the hub: it must exist
    if entry is None:
        raise CCMError("no earlier `ccm run` is recorded in the hub",
                       hint='run a command first: ccm run "CMD" --hosts PATTERN')
    detail = entry.detail
    failed_before = [str(h) for h in detail.get("failed", [])]
    chosen = [inventory.get(h) for h in failed_before if h in inventory]
    why_none = "every host succeeded last time"
    if failed_before and not chosen:
        why_none = (f"{plural(len(failed_before), 'host')} failed last time "
                    f"({_names(failed_before)}), none of them in the inventory now")
    base = str(entry.target).removeprefix("retry-failed:")
    recorded = f"retry-failed:{base}"
    if pattern is not None:
        keep = {h.name for h in inventory.select(pattern)}
        if chosen and not any(h.name in keep for h in chosen):
            why_none = (f"none of the {plural(len(chosen), 'host')} that failed last time "
                        f"({_names([h.name for h in chosen])}) matches {pattern!r}")
        chosen = [h for h in chosen if h.name in keep]
        recorded = f"{recorded} ∩ {pattern}"
    return command or str(detail.get("command", "")), chosen, recorded, why_none


def _names(hosts: list[str], most: int = 5) -> str:
    """``a, b, c`` or ``a, b, c, d, e and 3 more``."""
    shown = ", ".join(hosts[:most])
    return shown if len(hosts) <= most else f"{shown} and {len(hosts) - most} more"


# -- the broadcast -----------------------------------------------------------------------------
def _broadcast(inventory: Inventory, hosts: list[FleetHost], command: str, pattern: str,
               forks: int, timeout: float, hub_url: str | None, actor: str, ssh: PoolOptions,
               *, procs: int | None = None, progress: bool, ctrl_c: CtrlC
               ) -> tuple[BroadcastReport, bool, str]:
    """Run the broadcast and record it (not when ``hub_url`` is None); (report, recorded,
    why not). ``ctrl_c`` stops it (see :mod:`._run_ctrl_c`): the report of a stopped
    broadcast is recorded too, marked interrupted.

    The hub opens while the hosts are being contacted (one event loop for both),
    so recording the run adds next to nothing to what the user waits for. It opens
    when the first host is done rather than before the first connection: by then
    every connection of the first wave is under way and the loop mostly waits, where
    opening first held every connection back by its ~20 ms of imports and SQL.

    Hundreds of hosts are spread over worker processes, one per CPU (see
    :mod:`ccm_tui.fleet.broadcast_workers`), forked before the event loop or the
    progress bar's thread exists; from the console script, the broadcast helper forked
    at start-up runs them all (:mod:`ccm_tui.fleet.broadcast_helper`).
    """
    from ccm_tui.fleet import broadcast_helper
    from ccm_tui.fleet.broadcast_workers import process_count, spread_broadcast, start_workers

    processes = process_count(len(hosts), forks, procs)
    helper = broadcast_helper.take()
    if helper is not None and procs == 1:  # "this process alone"
        helper.dismiss()
        helper = None
    workers: Workers | None
    if helper is not None:  # it has loaded SSH meanwhile: it runs every host
        workers = helper.assign(inventory, hosts, command, forks=forks, timeout=timeout,
                                options=ssh, processes=processes)
    else:
        workers = start_workers(inventory, hosts, command, forks=forks, timeout=timeout,
                                options=ssh, processes=processes)
    ctrl_c.workers = workers

    def new_pool() -> contextlib.AbstractAsyncContextManager[Any]:
        if helper is not None:
            return contextlib.nullcontext()  # this process connects to no host
        from ccm_tui.fleet.ssh import SSHPool

        return SSHPool(inventory, options=ssh)

    async def go(on_result: Any = None) -> tuple[BroadcastReport, bool, str]:
        opening: asyncio.Task[Hub] | None = None

        def done(r: RunResult) -> None:
            nonlocal opening
            if opening is None and hub_url is not None:
                opening = asyncio.create_task(_open_hub(hub_url))
            if on_result is not None:
                on_result(r)

        stop = ctrl_c.watch()
        try:
            async with new_pool() as pool:
                report = await spread_broadcast(pool, hosts, command, workers=workers,
                                                forks=forks, timeout=timeout, pattern=pattern,
                                                on_result=done, stop=stop)
        except BaseException:
            if opening is not None:
                opening.cancel()
                with contextlib.suppress(BaseException):
                    await (await opening).close()
            raise
        ctrl_c.broadcast_over()
        if hub_url is None:
            return report, False, ""
        if opening is None:  # no host at all
            opening = asyncio.create_task(_open_hub(hub_url))
        recorded, why = await _record(opening, actor, report, forks, timeout)
        return report, recorded, why

    try:
        return _with_progress(go, len(hosts), ctrl_c) if progress else asyncio.run(go())
    finally:
        ctrl_c.hold()  # the loop is gone: a Ctrl-C while the summary prints quits at once
        if workers is not None:
            workers.stop()  # reaped already, unless the broadcast failed


_Outcome = tuple["BroadcastReport", bool, str]


def _with_progress(go: Callable[[Callable[[RunResult], None]], Coroutine[Any, Any, _Outcome]],
                   total: int, ctrl_c: CtrlC) -> _Outcome:
    """Run ``go(tick)`` under a live progress bar on stderr, ticking once per host; the
    bar says when Ctrl-C is stopping the broadcast."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ccm_tui.commands._render import console

    failed = 0
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[failed]}"), TimeElapsedColumn(),
                  console=console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"running on {plural(total, 'host')}", total=total, failed="")
        ctrl_c.announce = lambda: bar.update(task, description=STOPPING)
        ctrl_c.before_exit.append(bar.stop)  # the cursor back, the bar erased

        def tick(r: RunResult) -> None:
            nonlocal failed
            failed += 0 if r.ok else 1
            bar.update(task, advance=1, failed=f"[red]{failed} failed[/]" if failed else "")

        return asyncio.run(go(tick))


async def _open_hub(url: str) -> Hub:
    from ccm_tui.hub import open_hub

    hub = open_hub(url, create=False)  # removed since the check: not recorded, not remade
    await hub.connect()
    return hub


async def _record(opening: asyncio.Task[Hub], actor: str, report: BroadcastReport, forks: int,
                  timeout: float) -> tuple[bool, str]:
    from ccm_tui.fleet.broadcast_report import AUDIT_OUTPUT_CHARS

    detail = {**report.to_dict(output_chars=AUDIT_OUTPUT_CHARS), "failed": report.failed_hosts(),
              "forks": forks, "timeout": timeout}
    try:
        hub = await opening
        try:
            await hub.audit(actor, AUDIT_ACTION, report.pattern, detail)
        finally:
            await hub.close()
    except HubError as exc:
        return False, _reason(exc)
    return True, ""


# -- the summary -------------------------------------------------------------------------------
def _exit_text(status: int | None) -> str:
    if status is None:
        return "no exit status"
    return f"killed by signal {-status}" if status < 0 else f"exit {status}"


def _print_report(report: BroadcastReport, recorded: bool) -> None:
    from rich.rule import Rule
    from rich.text import Text

    from ccm_tui.commands._render import console, host_problems
    from ccm_tui.fleet.hostlist import folded
    from ccm_tui.fleet.ssh_types import ERROR_LABELS, UNFINISHED_KINDS

    out = console()
    for i, g in enumerate(report.groups):
        style = "green" if g.exit_status == 0 else "yellow"
        label = "identical" if i == 0 and report.identical else "differs"
        out.print(Rule(Text(f"{plural(g.size, 'host')} · {_exit_text(g.exit_status)} · {label}",
                            style=style), align="left"))
        out.print(Text(folded(g.hosts), style="bold"))
        lines = g.stdout.rstrip("\n").splitlines()
        for line in lines[:PREVIEW_LINES]:
            out.print(Text("  " + line))
        if len(lines) > PREVIEW_LINES:
            out.print(Text(f"  … {len(lines) - PREVIEW_LINES} more lines (see --json)",
                           style="dim"))
        err = g.stderr.strip().splitlines()
        for line in err[:3]:
            out.print(Text("  stderr: " + line, style="red"))
    problems = report.unreachable + report.refused + report.timed_out
    if problems:
        for rendered in host_problems(f"{len(problems)} not run to completion",
                                      [(r.host, r.error or "") for r in problems]):
            out.print(rendered)
    for rendered in _unfinished(report):
        out.print(rendered)
    codes: dict[str, list[str]] = {}
    for r in report.results:
        key = r.error_label or _exit_text(r.exit_status)
        codes.setdefault(key, []).append(r.host)
    out.print(Rule(style="dim"))
    how = "interrupted by Ctrl-C after " if report.interrupted else ""
    out.print(Text(f"{report.summary_line()}  ({how}{report.duration:.1f}s, "
                   f"{plural(len(report.results), 'host')})", style="bold"))
    unfinished = {ERROR_LABELS[k] for k in UNFINISHED_KINDS}
    for key, names in sorted(codes.items(),
                             key=lambda kv: (kv[0] != "exit 0", kv[0] in unfinished, kv[0])):
        listed = key not in ("exit 0", "not started") or len(names) <= 8  # else named above
        shown = folded(names) if listed else f"{len(names)} hosts"
        out.print(Text(f"  {key}: {shown}", style="green" if key == "exit 0" else "red"))
    if report.interrupted and recorded and report.failed_hosts():
        out.print(Text("  ccm run --retry-failed runs the failed, unreachable and unfinished "
                       "hosts again", style="dim"))


def _unfinished(report: BroadcastReport) -> list[Any]:
    """The hosts Ctrl-C left unfinished: cut off while running, then not started."""
    from rich.rule import Rule
    from rich.text import Text

    from ccm_tui.commands._render import plain
    from ccm_tui.fleet.hostlist import folded

    lines: list[Any] = []
    for results, title in (
            (report.cut_off, "cut off by Ctrl-C while running: the command may have run "
                             "partly on them, or still be running"),
            (report.not_started, "not started (Ctrl-C came first)")):
        if results:
            lines.append(Rule(Text(f"{plural(len(results), 'host')} {title}", style="red"),
                              align="left"))
            lines.append(plain(folded(r.host for r in results), "bold"))
    return lines


__all__ = ["AUDIT_ACTION", "run"]
