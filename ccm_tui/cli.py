"""The ``ccm`` command: parse the command line, then call into the packages.

Thin by design: each command lives in :mod:`ccm_tui.commands` and imports what it
needs (the hub, the fleet, the TUI) only when it runs, so ``ccm --help`` is quick
and importing this module loads neither textual, asyncssh, asyncpg, supabase nor
anthropic.

Errors: every :class:`~ccm_tui.core.errors.CCMError` ends the run with ONE line on
standard error, ``ccm: error: <message> — <what to do>``, and exit status 1. Usage
errors exit 2. Anything unexpected prints one line too (``CCM_DEBUG=1`` shows the
traceback).
"""

from __future__ import annotations

import contextlib
import copy
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ccm_tui import __version__
from ccm_tui.commands import (
    control,
    db,
    decide,
    fleet,
    ingest,
    init,
    notify,
    report,
    run,
    runbooks,
    silence,
    tasks,
    webhook,
)
from ccm_tui.commands import daemon as daemon_cmd
from ccm_tui.commands import demo as demo_cmd
from ccm_tui.commands import tui as tui_cmd
from ccm_tui.commands._common import CLIState, state
from ccm_tui.core.errors import (
    CCMError,
    ConflictError,
    IllegalTransition,
    InvalidDecision,
    LeaseLost,
    NotFound,
)

#: The root options every subcommand accepts too (``ccm tasks list --hub URL``).
GLOBAL_OPTIONS = ("hub", "config", "inventory")
GLOBAL_PANEL = "Global options"

#: What to do next, for errors whose class carries no hint of its own.
_FALLBACK_HINTS: tuple[tuple[type[CCMError], str], ...] = (
    (NotFound, "list what exists with `ccm tasks list`"),
    (InvalidDecision, "check the task's state with `ccm tasks show ID`"),
    (IllegalTransition, "check the task's state with `ccm tasks show ID`"),
    (ConflictError, "someone else changed it just now; run the command again"),
    (LeaseLost, "another daemon took the task over; nothing to do here"),
)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def error_line(exc: BaseException) -> str:
    """The one line ``ccm`` prints for an error (without the trailing newline)."""
    if isinstance(exc, CCMError):
        hint = exc.hint or next((h for c, h in _FALLBACK_HINTS if isinstance(exc, c)), "")
        msg = _one_line(str(exc)) or type(exc).__name__
        return f"ccm: error: {msg} — {_one_line(hint)}" if hint else f"ccm: error: {msg}"
    detail = _one_line(str(exc))
    what = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return f"ccm: error: unexpected {what} — run with CCM_DEBUG=1 for the traceback"


def _debug() -> bool:
    return os.environ.get("CCM_DEBUG", "").strip().lower() not in {"", "0", "false", "no"}


def _store_global(ctx: Any, param: Any, value: Any) -> Any:
    """Callback of a global option repeated on a subcommand: it beats the root's value."""
    if value is not None:
        setattr(state(ctx), param.name, value)
    return value


def _is_group(cmd: Any) -> bool:
    return hasattr(cmd, "commands")


class CCMGroup(TyperGroup):
    """The root command group.

    It repeats the global options on every subcommand, so ``ccm db migrate --hub URL``
    works as well as ``ccm --hub URL db migrate``, and it turns errors into one line.
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        globals_ = [p for p in self.params if p.name in GLOBAL_OPTIONS]

        def add_to(cmd: Any) -> None:
            for sub in cmd.commands.values():
                if _is_group(sub):
                    add_to(sub)
                    continue
                have = {p.name for p in sub.params}
                for p in globals_:
                    if p.name not in have:
                        q = copy.copy(p)
                        q.envvar = None
                        q.callback = _store_global
                        q.expose_value = False
                        sub.params.append(q)

        add_to(self)

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        """Run the command; turn CCM's errors (and unexpected ones) into one line."""
        try:
            return super().invoke(ctx)
        except CCMError as exc:
            if _debug():
                raise
            typer.echo(error_line(exc), err=True)
            raise typer.Exit(1) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except BrokenPipeError:  # `ccm … | head`: the reader left; nothing to report
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None
        except Exception as exc:
            if _is_click_exception(exc) or _debug():
                raise
            typer.echo(error_line(exc), err=True)
            raise typer.Exit(1) from None


def _is_click_exception(exc: BaseException) -> bool:
    """Usage errors and friends, which typer prints and turns into exit status 2."""
    return any(c.__name__ in {"ClickException", "Exit", "Abort"} for c in type(exc).__mro__)


app = typer.Typer(
    cls=CCMGroup,
    name="ccm",
    help="CCM turns alerts into verified fixes on a fleet of Linux servers, and gives the "
    "on-call engineer one terminal control centre for all of it.",
    epilog="Start with `ccm init`, then `ccm demo` or `ccm tui`. Set CCM_DEBUG=1 to see "
    "tracebacks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ccm {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    hub: Annotated[
        str | None,
        typer.Option(
            "--hub", envvar="CCM_HUB", show_envvar=False, metavar="URL",
            rich_help_panel=GLOBAL_PANEL,
            help="The hub: sqlite:///PATH or postgresql://USER@HOST/DB (for a Supabase "
            "project, its database connection string) (env CCM_HUB; default: an SQLite "
            "file under the XDG data folder).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", envvar="CCM_CONFIG", show_envvar=False, metavar="PATH",
            rich_help_panel=GLOBAL_PANEL,
            help="The config file (env CCM_CONFIG; default ~/.config/ccm/config.toml).",
        ),
    ] = None,
    inventory: Annotated[
        Path | None,
        typer.Option(
            "--inventory", envvar="CCM_INVENTORY", show_envvar=False, metavar="PATH",
            rich_help_panel=GLOBAL_PANEL,
            help="The fleet inventory, CCM's inventory.yaml or an Ansible inventory "
            "(env CCM_INVENTORY).",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """CCM: alerts in, verified fixes out — and one terminal control centre for the fleet."""
    ctx.obj = CLIState(hub=hub, config=config, inventory=inventory)


# -- the commands, in the order `ccm --help` lists them ---------------------------------
SETUP, WORK, FLEET, SERVICES = "Set-up", "Tasks and decisions", "Fleet", "Services"

app.command("init", rich_help_panel=SETUP)(init.init)
app.add_typer(db.app, name="db", rich_help_panel=SETUP)

app.add_typer(tasks.app, name="tasks", rich_help_panel=WORK)
for _name, _fn in decide.COMMANDS.items():
    app.command(_name, rich_help_panel=WORK)(_fn)
app.command("pause", rich_help_panel=WORK)(control.pause)
app.command("resume", rich_help_panel=WORK)(control.resume)
app.command("status", rich_help_panel=WORK)(control.status)

app.add_typer(
    runbooks.app, name="runbooks", rich_help_panel=WORK,
    help="The knowledge base: list, show and lint runbooks.",
)

app.command("webhook", rich_help_panel=SERVICES)(webhook.webhook)
app.command("daemon", rich_help_panel=SERVICES)(daemon_cmd.daemon)
app.command("up", rich_help_panel=SERVICES)(daemon_cmd.up)
app.add_typer(silence.app, name="silence", rich_help_panel=SERVICES)
app.add_typer(ingest.app, name="ingest", rich_help_panel=SERVICES)
app.add_typer(fleet.app, name="fleet", rich_help_panel=FLEET)
app.command("run", rich_help_panel=FLEET)(run.run)
app.command("tui", rich_help_panel=SERVICES)(tui_cmd.tui)
app.command("demo", rich_help_panel=SERVICES)(demo_cmd.demo)

app.command("report", rich_help_panel=WORK)(report.report)
app.add_typer(notify.app, name="notify", rich_help_panel=SERVICES)


def main(argv: list[str] | None = None) -> None:
    """The console-script entry point: ``ccm``."""
    from ccm_tui.commands._quick_probe import install

    install()
    app(args=argv if argv is not None else sys.argv[1:], prog_name="ccm")


__all__ = ["app", "error_line", "main"]
