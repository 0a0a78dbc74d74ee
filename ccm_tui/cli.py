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
import gc
import os
import sys
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.main
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
from ccm_tui.commands._common import CLIState, debug_enabled, state
from ccm_tui.commands._help_layout import plain_flags, unwrap_help
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
    return debug_enabled()


def _store_global(ctx: Any, param: Any, value: Any) -> Any:
    """Callback of a global option repeated on a subcommand: it beats the root's value."""
    if value is not None:
        setattr(state(ctx), param.name, value)
    return value


def _collect_from_now_on() -> None:
    """Re-enable the collector :func:`ccm_tui.__main__.main` paused for start-up.

    What start-up built is frozen first: it lives as long as the process, so no
    later collection needs to walk it again (the daemon and the TUI benefit most).
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


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

        def add_to(cmd: Any) -> Any:
            plain_flags(cmd)
            unwrap_help(cmd)
            if _is_group(cmd):
                for sub in cmd.commands.values():
                    add_to(sub)
                return cmd
            have = {p.name for p in cmd.params}
            for p in globals_:
                if p.name not in have:
                    q = copy.copy(p)
                    q.envvar = None
                    q.callback = _store_global
                    q.expose_value = False
                    cmd.params.append(q)
            return cmd

        self.commands = _LazyCommands(_COMMANDS, add_to)

    def get_params(self, ctx: Any) -> list[Any]:
        """The root's options (typer adds its completion flags after ``__init__``)."""
        params: list[Any] = super().get_params(ctx)
        for p in params:
            if getattr(p, "is_flag", False) and p.metavar is None:
                p.metavar = ""
        return params

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """The subcommand ``args`` names; for a group's command typed without its group
        (``ccm probe``), the usage error suggests ``fleet probe`` instead of a look-alike."""
        try:
            return super().resolve_command(ctx, args)
        except Exception as exc:  # UsageError, of typer's own copy of click
            typo = args[0] if args and args[0] not in self.commands else ""
            found = [repr(f"{n} {typo}") for n in self.commands
                     if typo and typo in getattr(self.commands[n], "commands", ())]
            if found and type(exc).__name__ == "UsageError":
                exc.message = f"No such command {typo!r}. Did you mean {', '.join(found)}?"  # type: ignore[attr-defined]
            raise

    def list_commands(self, ctx: Any) -> list[str]:
        """The subcommand names in registration order (without building them)."""
        return list(self.commands)

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        """Run the command; turn CCM's errors (and unexpected ones) into one line."""
        _collect_from_now_on()
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


class _LazyCommands(MutableMapping[str, Any]):
    """The root's subcommands, each built from its function on first use.

    Building all ~35 click commands (typer inspects every signature) took about
    45 ms of every ``ccm`` start; a run of ``ccm run`` needs one of them. Listing
    names (help, suggestions) builds nothing; looking one up builds just that one.
    """

    def __init__(self, builders: dict[str, Callable[[], Any]],
                 finish: Callable[[Any], Any]) -> None:
        self._builders = builders
        self._finish = finish
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            self._built[name] = self._finish(self._builders[name]())
        return self._built[name]

    def __setitem__(self, name: str, cmd: Any) -> None:
        self._built[name] = self._finish(cmd)
        self._builders.setdefault(name, lambda: cmd)

    def __delitem__(self, name: str) -> None:
        del self._builders[name]
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._builders)

    def __len__(self) -> int:
        return len(self._builders)


#: name → builder of the click command, in the order ``ccm --help`` lists them.
_COMMANDS: dict[str, Callable[[], Any]] = {}


def _command(name: str, fn: Callable[..., Any], panel: str) -> None:
    def build() -> Any:
        one = typer.Typer(add_completion=False)
        one.command(name, rich_help_panel=panel)(fn)
        return typer.main.get_command(one)

    _COMMANDS[name] = build


def _group(name: str, sub: typer.Typer, panel: str, help: str | None = None) -> None:
    def build() -> Any:
        group = typer.main.get_group(sub)
        group.name, group.rich_help_panel = name, panel
        if help is not None:
            group.help = help
        return group

    _COMMANDS[name] = build


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
            help="The fleet: CCM's inventory.yaml, an Ansible inventory (INI or YAML, or a "
            "folder holding one; its group_vars/ and host_vars/ are read too) or an ssh "
            "config. ~/.ssh/config fills in what a host leaves unset (user, port, keys, "
            "ProxyJump). Default: ~/.config/ccm/inventory.yaml, or the hosts of "
            "~/.ssh/config while that file does not exist (env CCM_INVENTORY).",
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

_command("init", init.init, SETUP)
_group("db", db.app, SETUP)

_group("tasks", tasks.app, WORK)
for _name, _fn in decide.COMMANDS.items():
    _command(_name, _fn, WORK)
_command("pause", control.pause, WORK)
_command("resume", control.resume, WORK)
_command("status", control.status, WORK)

_group("runbooks", runbooks.app, WORK,
       help="The knowledge base: list, show and lint runbooks.")

_command("webhook", webhook.webhook, SERVICES)
_command("daemon", daemon_cmd.daemon, SERVICES)
_command("up", daemon_cmd.up, SERVICES)
_group("silence", silence.app, SERVICES)
_group("ingest", ingest.app, SERVICES)
_group("fleet", fleet.app, FLEET,
       help="The fleet: inventory, host keys, health probes (`ccm fleet probe`), the agent "
       "on each host.")
_command("run", run.run, FLEET)
_command("tui", tui_cmd.tui, SERVICES)
_command("demo", demo_cmd.demo, SERVICES)

_command("report", report.report, WORK)
_group("notify", notify.app, SERVICES)


def main(argv: list[str] | None = None) -> None:
    """The console-script entry point: ``ccm``."""
    from ccm_tui.commands._quick_probe import install

    install()
    try:
        app(args=argv if argv is not None else sys.argv[1:], prog_name="ccm")
    finally:
        # Everything left is freed by the process exit; the interpreter's last full
        # collection over it would only cost time.
        gc.freeze()


__all__ = ["app", "error_line", "main"]
