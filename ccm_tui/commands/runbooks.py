"""``ccm runbooks list · show ID · lint [PATHS] · stats · mode``: the knowledge base.

Runbooks come from the built-in folder, the configured ``runbook_dirs`` (the ones the
daemon loads) and any ``--dir`` folders (a user runbook with the same id replaces the
built-in one).  ``lint`` exits 1 when any file has an error and prints
``file:line:column: reason`` for each.  ``stats`` and ``mode`` (in
:mod:`ccm_tui.commands.runbook_record`) show and override what the daemon has learned.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ccm_tui.commands._common import print_json, settings
from ccm_tui.core.errors import CCMError, NotFound
from ccm_tui.core.text import plural

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    help="The knowledge base: list, show and lint runbooks.",
    no_args_is_help=True,
)

DirsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--dir", "-d", metavar="DIR",
        help="Also load runbooks from this folder (or file), besides the built-in ones and "
        "the configured runbook_dirs; repeat for several.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

MODE_STYLES = {"auto": "green", "suggest": "yellow", "shadow": "dim"}
RISK_STYLES = {"low": "green", "medium": "yellow", "high": "bold red"}


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def runbook_dirs(ctx: typer.Context, extra: list[Path] | None) -> list[Path]:
    """The user's runbook folders: the configured ``runbook_dirs`` that exist (as the
    daemon loads them), then the ``--dir`` ones."""
    configured = [Path(d) for d in settings(ctx).runbook_dirs if Path(d).exists()]
    return configured + [d for d in (extra or []) if d not in configured]


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": data.get("id"), "title": data.get("title", ""), "risk": data.get("risk"),
        "mode": data.get("mode"), "strategy": data.get("strategy", "best"),
        "match": list(data.get("match", {}).get("labels", [])),
        "causes": [c.get("cause") for c in data.get("classify", [])],
    }


@app.command("list")
def list_runbooks(ctx: typer.Context, dirs: DirsOption = None, as_json: JsonOption = False
                  ) -> None:
    """List the runbooks in effect: id, title, risk, mode and causes.

    The mode is the one the file sets; `ccm runbooks stats` shows the mode the daemon has
    learned per host group.
    """
    from ccm_tui.runbooks import load_catalog

    catalog = load_catalog(runbook_dirs(ctx, dirs))
    rows = [(rb, _summary(rb.data or {})) for rb in catalog.valid()]
    rows.sort(key=lambda r: str(r[1]["id"]))
    broken = [rb for rb in catalog.runbooks if not rb.ok]
    if as_json:
        print_json([dict(s, path=str(rb.path), builtin=rb.builtin) for rb, s in rows])
        return
    show_source = any(not rb.builtin for rb, _ in rows)
    from rich.table import Table

    table = Table(title="Runbooks", title_justify="left", expand=False)
    table.add_column("id", style="bold cyan", no_wrap=True)
    table.add_column("risk", no_wrap=True)
    table.add_column("mode", no_wrap=True)
    table.add_column("title", ratio=2)
    table.add_column("causes", ratio=3)
    if show_source:
        table.add_column("source", style="dim")
    for rb, s in rows:
        cells = [
            str(s["id"]),
            f"[{RISK_STYLES.get(str(s['risk']), '')}]{s['risk']}[/]",
            f"[{MODE_STYLES.get(str(s['mode']), '')}]{s['mode']}[/]",
            str(s["title"]),
            ", ".join(str(c) for c in s["causes"]),
        ]
        if show_source:
            cells.append("built-in" if rb.builtin else str(rb.path))
        table.add_row(*cells)
    out = _console()
    out.print(table)
    if broken:
        verb = "is" if len(broken) == 1 else "are"
        out.print(f"[red]{plural(len(broken), 'runbook file')} with errors {verb} not listed; "
                  "run `ccm runbooks lint` for details.[/]")


@app.command("show")
def show_runbook(
    ctx: typer.Context,
    runbook_id: Annotated[str, typer.Argument(metavar="ID", help="The runbook id.")],
    dirs: DirsOption = None,
    as_json: JsonOption = False,
    source: Annotated[
        bool, typer.Option("--source", help="Also print the YAML file with line numbers.")
    ] = False,
) -> None:
    """Show one runbook: its match rules, steps, causes and verify check."""
    from ccm_tui.runbooks import load_catalog, to_agent_json

    catalog = load_catalog(runbook_dirs(ctx, dirs))
    rb = catalog.get(runbook_id)
    if rb is None:
        known = ", ".join(sorted(r.id for r in catalog.valid()))
        raise NotFound(f"no runbook {runbook_id!r} (known: {known})",
                       hint="list them with `ccm runbooks list`")
    if rb.data is None:
        raise CCMError(f"runbook {runbook_id!r} ({rb.path}) does not load",
                       hint=f"see why with `ccm runbooks lint {rb.path}`")
    if as_json:
        print_json(dict(to_agent_json(rb), _path=str(rb.path), _errors=[
            {"line": e.line, "reason": e.reason} for e in rb.errors]))
        return
    out = _console()
    data = rb.data
    from rich.panel import Panel
    from rich.syntax import Syntax
    from rich.table import Table

    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    for key in ("id", "title", "risk", "mode", "strategy"):
        head.add_row(key, str(data.get(key, "best" if key == "strategy" else "")))
    head.add_row("file", str(rb.path))
    head.add_row("match", "\n".join(data.get("match", {}).get("labels", [])))
    out.print(Panel(head, title=str(data.get("title", rb.id)), title_align="left"))
    if data.get("description"):
        out.print(str(data["description"]).strip())
    causes = Table(title="Causes", title_justify="left")
    causes.add_column("cause", style="cyan")
    causes.add_column("weight", justify="right")
    causes.add_column("when")
    causes.add_column("fix")
    for c in data.get("classify", []):
        fix = [x if isinstance(x, str) else x.get("id", "?") for x in c.get("remediate", [])]
        causes.add_row(str(c.get("cause")), str(c.get("weight")),
                       "\n".join(str(w) for w in c.get("when", [])),
                       ", ".join(fix) or "[red]escalate[/]")
    out.print(causes)
    steps = Table(title="Steps", title_justify="left")
    steps.add_column("phase", style="dim")
    steps.add_column("id", style="cyan")
    steps.add_column("action", style="bold")
    for phase in ("diagnose", "remediate"):
        for s in data.get(phase, []):
            steps.add_row(phase, str(s.get("id")), str(s.get("action")))
    if data.get("verify"):
        steps.add_row("verify", "-", str(data["verify"].get("action")))
    out.print(steps)
    for e in rb.errors:
        out.print(f"[red]{e.file}:{e.line}: {e.reason}[/]")
    if source and rb.path.is_file():
        out.print(Syntax(rb.path.read_text(encoding="utf-8"), "yaml", line_numbers=True))


@app.command("lint")
def lint_runbooks(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(metavar="[PATHS]...",
                       help="Runbook files or folders (default: the built-in runbooks and "
                       "the configured runbook_dirs)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check runbook files; print file:line:column and the reason of every error.

    Exits 1 when any file has an error, or when there was no runbook file to check;
    warnings are printed and counted but do not fail.
    """
    from ccm_tui.runbooks import builtin_dir, lint_paths

    report = lint_paths(paths or [builtin_dir(), *runbook_dirs(ctx, None)])
    if as_json:
        print_json({"ok": report.ok, "files": report.files,
                    "issues": [i.to_dict() for i in report.issues]})
    else:
        from rich.console import Console
        from rich.markup import escape

        out = Console(highlight=False, soft_wrap=True)
        for i in report.issues:  # file:line:col: reason, like a compiler (editors jump to it)
            out.print(f"[cyan]{escape(i.file)}:{i.line}:{i.column}:[/] {escape(i.reason)}",
                      markup=True)
        errors = sum(1 for i in report.issues if i.severity == "error")
        warnings = len(report.issues) - errors
        found = [plural(n, word) for n, word in ((errors, "error"), (warnings, "warning")) if n]
        if not report.files:
            out.print("[red]no runbook files (*.yaml, *.yml) there: nothing was checked[/]")
        elif found:
            out.print(f"[{'red' if errors else 'yellow'}]{' and '.join(found)} in "
                      f"{plural(len(report.files), 'file')}[/]")
        else:
            out.print(f"[green]{plural(len(report.files), 'runbook file')} OK[/]")
    if not report.ok or not report.files:  # a mistyped folder checks nothing: not a pass
        raise typer.Exit(1)


def _register_track_record() -> None:
    from ccm_tui.commands.runbook_record import mode, stats

    app.command("stats")(stats)
    app.command("mode")(mode)


_register_track_record()
