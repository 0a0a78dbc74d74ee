"""``ccm report``: the morning summary — fixed, waiting, escalated; MTTR; pages avoided."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ccm_tui.commands._common import parse_duration, print_json, with_hub
from ccm_tui.core.markdown import md_code, md_line, md_text
from ccm_tui.core.text import duration, printable

if TYPE_CHECKING:
    from collections.abc import Callable

    from ccm_tui.notify.report import ModeChange, MorningReport


def _when(text: str, option: str) -> datetime:
    from datetime import UTC

    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        what = "neither a duration (12h) nor" if option == "--since" else "not"
        raise typer.BadParameter(f"{text!r} is {what} an RFC 3339 time "
                                 "(e.g. 2026-11-27T08:00Z)", param_hint=option) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def window(since: str, until: str | None) -> tuple[datetime, datetime]:
    """``--since`` (a duration back from ``--until``, or a time) and ``--until`` (default now)."""
    from ccm_tui.core.model import utcnow

    end = _when(until, "--until") if until else utcnow()
    try:
        start = end - parse_duration(since)
    except ValueError:
        start = _when(since, "--since")
    if start >= end:
        raise typer.BadParameter("the window is empty: --since must be before --until",
                                 param_hint="--since")
    return start, end


def _dur(seconds: float | None) -> str:
    """A time to fix: ``1.3s`` (a fix within seconds is not ``0s``), ``4m12s``, ``3h05m``."""
    return "-" if seconds is None else duration(seconds, fine=True)


def _full_in(hours: float) -> str:
    """When a disk fills, as a duration (a disk filling within the minute: ``<1m``)."""
    return "<1m" if hours < 1 / 60 else duration(hours * 3600)


def _rate(pct_per_hour: float) -> str:
    """A fill rate with the digits that mean something (``0.42%/h``, ``12.5%/h``, ``3,224%/h``)."""
    digits = 2 if pct_per_hour < 10 else 1 if pct_per_hour < 100 else 0
    return f"{pct_per_hour:,.{digits}f}%/h"


def as_markdown(r: MorningReport) -> str:
    """The report as Markdown (for a wiki page, an email, a chat).

    Every value from outside CCM goes through :func:`md_text` (:func:`md_line` where it
    starts a list item, :func:`md_code` in code): a
    ``|`` in a host name split its table cell, a backtick or ``<`` swallowed the rest.
    """
    out = ["# CCM morning report", "",
           f"{r.since:%Y-%m-%d %H:%M} → {r.until:%Y-%m-%d %H:%M} UTC · {r.tasks} tasks", "",
           "| | count |", "| --- | ---: |",
           f"| fixed automatically | {len(r.fixed_automatically)} |",
           f"| fixed with approval | {len(r.fixed_with_approval)} |",
           f"| waiting for approval | {len(r.waiting)} |",
           f"| escalated | {len(r.escalated)} |", f"| failed | {len(r.failed)} |",
           f"| in progress | {len(r.in_progress)} |",
           f"| closed upstream or cancelled | {r.closed_upstream} |", "",
           f"**Pages**: {r.pages_sent} sent for {r.alerts_received} alerts received "
           "(firing episodes; repeats counted once); "
           f"{r.pages_without_ccm} without CCM, **{r.pages_avoided} avoided**"
           f"{_pending(r)}.", ""]
    if r.alerts_silenced or r.alerts_flapping:
        out += [f"**Held back**: {r.alerts_silenced} silenced, {r.alerts_flapping} flapping.",
                ""]
    if r.silences:
        out += ["## Silences in force", ""] + [
            f"- {md_code(x.matchers)} until {x.ends_at:%Y-%m-%d %H:%M} UTC"
            + (f" — {md_text(x.reason)}" if x.reason else "")
            + (f" ({md_text(x.created_by)})" if x.created_by else "")
            for x in r.silences] + [""]
    if r.mttr:
        out += ["## Time to fix", "", "| runbook | fixed | median | p90 |",
                "| --- | ---: | ---: | ---: |"]
        out += [f"| {md_text(m.runbook)} | {m.fixed} | {_dur(m.median_seconds)} | "
                f"{_dur(m.p90_seconds)} |" for m in r.mttr]
        out += [f"| **all** | {r.fixed} | {_dur(r.mttr_median_seconds)} | "
                f"{_dur(r.mttr_p90_seconds)} |", ""]
    for title, items in (("Waiting for you", r.waiting), ("Escalated", r.escalated),
                         ("Failed", r.failed)):
        if items:
            out += [f"## {title}", ""] + [
                f"- {md_code(t.id)} {md_text(t.alertname)} on {md_text(t.host)} "
                f"({md_text(t.severity)})" for t in items] + [""]
    if r.noisy_alerts:
        out += ["## Noisiest alerts (notifications, repeats included)", ""] + [
            f"- {md_line(n.name)} on {md_text(n.host)}: {n.count}"
            for n in r.noisy_alerts] + [""]
    if r.busiest_hosts:
        out += ["## Hosts with the most incidents", ""] + [f"- {md_line(h.name)}: {h.count}"
                                                           for h in r.busiest_hosts] + [""]
    if r.disk_forecasts:
        out += ["## Disks filling up", ""] + [
            f"- {md_line(d.host)}: {d.disk_pct:.0f}% now, {_rate(d.pct_per_hour)}, full "
            + ("within a minute" if d.hours_to_full < 1 / 60 else
               f"in ~{_full_in(d.hours_to_full)}")
            for d in r.disk_forecasts] + [""]
    if r.runbooks:
        out += ["## Runbooks", "", "| runbook | group | ok | failed | rate | mode |",
                "| --- | --- | ---: | ---: | ---: | --- |"]
        out += [f"| {md_text(x.runbook)} | {md_text(x.host_group)} | {x.successes} | "
                f"{x.failures} | {x.success_rate:.0%} | {md_text(x.mode or '-')} |"
                for x in r.runbooks] + [""]
    if r.mode_changes:
        out += ["## Runbook mode changes", ""] + [
            f"- {md_line(c.runbook)}: {_changed(c, md_text)} {md_text(c.from_mode)} → "
            f"{md_text(c.to_mode)}" for c in r.mode_changes]
    # one line per item: a label or an annotation cannot add a line, or act on a terminal
    return "\n".join(printable(line) for line in out).rstrip() + "\n"


def _changed(c: ModeChange, shown: Callable[[object], str] = str) -> str:
    """``promoted`` / ``demoted`` by the daemon, or ``set by alice,`` by hand (the actor
    as ``shown`` writes it)."""
    return f"set by {shown(c.actor)}," if c.change == "set" else f"{c.change}d"


def render_rich(r: MorningReport) -> None:
    """The report as rich tables on the terminal."""
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    from ccm_tui.commands._render import console, fit_widths, plain

    out = console()
    out.print(f"[bold]CCM morning report[/]  {r.since:%Y-%m-%d %H:%M} → {r.until:%H:%M} UTC"
              f"  ·  {r.tasks} tasks")
    grid = Table(box=None, show_header=False, pad_edge=False)
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    for label, value in (
            ("fixed automatically", len(r.fixed_automatically)),
            ("fixed with approval", len(r.fixed_with_approval)),
            ("waiting for approval", len(r.waiting)), ("escalated", len(r.escalated)),
            ("failed", len(r.failed)), ("in progress", len(r.in_progress)),
            ("closed upstream / cancelled", r.closed_upstream),
            ("alerts received (episodes)", r.alerts_received),
            ("  held by a silence", r.alerts_silenced),
            ("  held as flapping", r.alerts_flapping),
            ("pages without CCM", r.pages_without_ccm),
            ("pages sent", r.pages_sent),
            ("pages avoided", f"{r.pages_avoided}{_pending(r)}"),
            ("MTTR median", _dur(r.mttr_median_seconds)), ("MTTR p90", _dur(r.mttr_p90_seconds))):
        grid.add_row(label, str(value))
    out.print(grid)

    def table(title: str, cols: tuple[str, ...], rows: list[tuple[Any, ...]],
              wrap: tuple[str, ...] = ()) -> None:
        """``wrap``: the free-text columns that wrap on a narrow terminal (with every
        column ``no_wrap``, rich dropped ID, UNTIL and BY of the silences at 80 columns).
        IDs and states never shrink: a long host name cut a task id to ``t…``."""
        if not rows:
            return
        t = Table(title=title, title_justify="left", title_style="bold", box=None,
                  header_style="bold", pad_edge=False)
        cells = [[x if isinstance(x, Text) else plain(x) for x in row] for row in rows]
        natural = [max([len(c)] + [cell_len(line) for r in cells
                                   for line in r[i].plain.split("\n")])
                   for i, c in enumerate(cols)]
        widths = fit_widths(natural, out.width, 2 * (len(cols) - 1),
                            [i for i, c in enumerate(cols) if c not in _WHOLE])
        for c, n, w in zip(cols, natural, widths, strict=True):
            t.add_column(c, no_wrap=c not in wrap, overflow="fold" if c in wrap else "ellipsis",
                         min_width=w, max_width=w if w < n else None)
        for row in cells:
            t.add_row(*row)
        out.print()
        out.print(t)

    table("Silences in force (a forgotten one hides incidents)",
          ("ID", "MATCHERS", "UNTIL", "BY", "REASON"),
          [(x.id, Text("\n").join(plain(m) for m in x.each or (x.matchers,)),
            f"{x.ends_at.astimezone():%m-%d %H:%M}", x.created_by or "-", x.reason or "-")
           for x in r.silences], wrap=("MATCHERS", "BY", "REASON"))
    table("Time to fix per runbook", ("RUNBOOK", "FIXED", "MEDIAN", "P90"),
          [(m.runbook, m.fixed, _dur(m.median_seconds), _dur(m.p90_seconds)) for m in r.mttr])
    table("Needs you", ("ID", "STATE", "HOST", "ALERT"),
          [(t.id, t.state, t.host, t.alertname) for t in (*r.waiting, *r.escalated, *r.failed)])
    table("Noisiest alerts", ("ALERT", "HOST", "NOTIFICATIONS"),
          [(n.name, n.host, n.count) for n in r.noisy_alerts])
    table("Hosts with the most incidents", ("HOST", "TASKS"),
          [(h.name, h.count) for h in r.busiest_hosts])
    table("Disks filling up", ("HOST", "DISK", "RATE", "FULL IN"),
          [(d.host, f"{d.disk_pct:.0f}%", _rate(d.pct_per_hour), _full_in(d.hours_to_full))
           for d in r.disk_forecasts])
    table("Runbooks", ("RUNBOOK", "GROUP", "OK", "FAILED", "RATE", "MODE"),
          [(x.runbook, x.host_group, x.successes, x.failures, f"{x.success_rate:.0%}",
            x.mode or "-") for x in r.runbooks])
    table("Runbook mode changes", ("WHEN", "RUNBOOK", "CHANGE"),
          [(f"{c.ts:%m-%d %H:%M}", c.runbook, f"{_changed(c)} {c.from_mode} → {c.to_mode}")
           for c in r.mode_changes])


#: Columns a row is acted on by: never narrowed (``ccm approve ID``); the widest of the
#: others gives way first (a long host name cut a task id to ``t…``).
_WHOLE = frozenset({"ID", "STATE"})


def _pending(r: MorningReport) -> str:
    """The critical episodes still open, which may page yet (nothing when none)."""
    return f" ({r.pages_pending} still open: they may page)" if r.pages_pending else ""


def to_data(r: MorningReport) -> dict[str, Any]:
    """The report as JSON data, with the derived figures included."""
    from ccm_tui.commands._common import to_jsonable

    data: dict[str, Any] = to_jsonable(r)
    data["fixed"] = r.fixed
    # the field names of the other --json outputs (`ccm tasks`, `ccm silence list`)
    data["noisy_alerts"] = [{"alertname": c.name, "host": c.host, "count": c.count}
                            for c in r.noisy_alerts]
    data["busiest_hosts"] = [{"host": c.name, "count": c.count} for c in r.busiest_hosts]
    for line in data["silences"]:
        line["matchers"] = line.pop("each")
    return data


def report(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(
        "--since", metavar="DURATION|TIME",
        help="How far back from --until (12h, 2d) or a start time (2026-11-27T00:00Z).")]
    = "12h",
    until: Annotated[str | None, typer.Option(
        "--until", metavar="TIME", help="End of the window, an RFC 3339 time (default: now).")]
    = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print Markdown.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The morning summary: what was fixed, what waits for you, what was escalated.

    Fixed automatically, waiting, escalated and failed tasks; MTTR per runbook; pages sent versus alerts received; alerts held back and the silences still in force; the noisiest alerts and busiest hosts; disks filling up; runbook success rates and promotions.
    """
    if markdown and as_json:
        raise typer.BadParameter("choose one of --markdown and --json", param_hint="--json")
    from ccm_tui.notify.report import build_report

    start, end = window(since, until)
    r = with_hub(ctx, lambda hub: build_report(hub, since=start, until=end))
    if as_json:
        print_json(to_data(r))
    elif markdown:
        typer.echo(as_markdown(r), nl=False)
    else:
        render_rich(r)


__all__ = ["as_markdown", "report", "to_data", "window"]
