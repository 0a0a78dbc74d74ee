"""What every ``ccm`` command shares: global state, the hub, JSON output, durations.

Heavy modules (the hub adapters, pydantic) are imported inside the functions, so
importing a command module stays cheap.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import typer

from ccm_tui.core.text import duration

if TYPE_CHECKING:
    from ccm_tui.config import Settings
    from ccm_tui.hub.base import Hub

T = TypeVar("T")


# -- global state ------------------------------------------------------------------------
@dataclass
class CLIState:
    """The global options of one ``ccm`` run; settings are loaded on first use."""

    hub: str | None = None
    config: Path | None = None
    inventory: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        """The validated settings (config file + ``CCM_*`` + these flags)."""
        if self._settings is None:
            from ccm_tui.config import load_settings

            self._settings = load_settings(
                self.config, {"hub": self.hub, "inventory": self.inventory}
            )
        return self._settings


def debug_enabled() -> bool:
    """Whether ``CCM_DEBUG`` asks for tracebacks and the SSH library's own log lines."""
    import os

    return os.environ.get("CCM_DEBUG", "").strip().lower() not in {"", "0", "false", "no"}


#: Libraries whose INFO lines would drown a service's own: asyncssh logs every
#: connection, authentication and channel (thousands of lines an hour on a fleet).
CHATTY_LOGGERS = ("asyncssh",)


def service_logging(name: str) -> None:
    """Log lines of a long-running command (``ccm up``, ``daemon``, ``webhook``) on stderr.

    CCM's own INFO lines are shown; the chatty libraries' only from WARNING up, and the
    database driver's warnings in one line each, a repeat not at all (while a PostgreSQL
    hub is down, asyncpg's pool logs a 30-line traceback every few seconds) — unless
    ``CCM_DEBUG=1``, which keeps everything.
    """
    logging.basicConfig(level=logging.INFO, format=f"ccm {name}: %(message)s")
    if not debug_enabled():
        for lib in CHATTY_LOGGERS:
            logging.getLogger(lib).setLevel(logging.WARNING)
        for handler in logging.getLogger().handlers:
            if not any(isinstance(f, _DriverTracebacks) for f in handler.filters):
                handler.addFilter(_DriverTracebacks())


class _DriverTracebacks(logging.Filter):
    """The database driver's own warnings in one line, and a repeat not at all."""

    def __init__(self) -> None:
        super().__init__()
        self._last = ""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("asyncpg"):
            return True
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"hub connection: {record.getMessage()}: {record.exc_info[1]}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        said, self._last = self._last, record.getMessage()
        return said != self._last


async def connect_or_wait(hub: Hub, url: str, log: logging.Logger,
                          ) -> asyncio.Task[bool] | None:
    """Connect a service's hub in the background (the returned task), for ``ccm webhook``:
    it serves at once and answers 503 until the hub is reachable. An SQLite hub is
    opened now (``None``): one that cannot open is an error at once.
    """
    from ccm_tui.hub.patience import connect_patiently

    if hub.url.lower().startswith("sqlite"):
        await hub.connect()  # a local file that cannot open is not an outage to wait out
        return None
    return asyncio.create_task(connect_patiently(
        hub, asyncio.Event(), log=log, shown=redact_url(url),
        meanwhile="alerts get 503 until then"), name="ccm-hub-connect")


def has_terminal() -> bool:
    """Whether a full-screen UI can run here: standard input and output are a terminal."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def state(ctx: typer.Context) -> CLIState:
    """The :class:`CLIState` the root callback stored (a fresh one if there is none)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CLIState):
        root.obj = CLIState()
    return root.obj


def hub_from_command_line(ctx: typer.Context) -> str | None:
    """The hub named with ``--hub`` on this very command line (not ``CCM_HUB``, not the
    config): for commands that must not write into a configured hub by accident."""
    for c in (ctx, ctx.find_root()):
        source = c.get_parameter_source("hub")
        if source is not None and source.name == "COMMANDLINE":
            return state(ctx).hub
    return None


def settings(ctx: typer.Context) -> Settings:
    """Shortcut for ``state(ctx).settings()``."""
    return state(ctx).settings()


# -- the hub ----------------------------------------------------------------------------
def run_hub(url: str, fn: Callable[[Hub], Awaitable[T]], *, create: bool = True) -> T:
    """Open the hub at ``url``, run ``fn(hub)`` inside ``async with hub``, return its result.

    ``create``: whether a missing SQLite file may be made (set-up and services); see
    :func:`with_hub` for the commands that read or act on an existing hub.
    """
    from ccm_tui.hub import open_hub

    return _run_on(open_hub(url, create=create), fn)


def _run_on(hub: Hub, fn: Callable[[Hub], Awaitable[T]]) -> T:
    async def _run() -> T:
        async with hub:
            return await fn(hub)

    return asyncio.run(_run())


def with_hub(ctx: typer.Context, fn: Callable[[Hub], Awaitable[T]]) -> T:
    """Run ``fn(hub)`` against the hub the settings name (``--hub``, ``CCM_HUB``, config).

    The hub must exist: an SQLite file that does not is an error naming the file, where
    its name came from and what to do (:func:`require_hub`), never a new, empty hub that
    no daemon uses.
    """
    from ccm_tui.hub import open_hub

    url = settings(ctx).hub
    hub = open_hub(url, create=False)  # a malformed URL is said first
    require_hub(ctx, url)
    return _run_on(hub, fn)


def hub_origin(ctx: typer.Context) -> str | None:
    """Where the hub's URL came from: ``--hub``, ``CCM_HUB`` or the config file (named);
    ``None`` for the default hub under the XDG data folder."""
    import os

    from ccm_tui.hub import default_hub_url

    st = state(ctx)
    if hub_from_command_line(ctx):
        return "--hub"
    if os.environ.get("CCM_HUB", "").strip():
        return "CCM_HUB"
    if settings(ctx).hub.strip() == default_hub_url():
        return None
    from ccm_tui.config import resolve_config_path

    return f"`hub` in {resolve_config_path(st.config)[0]}"


def require_hub(ctx: typer.Context, url: str) -> None:
    """Stop with a clear error when ``url`` is an SQLite hub whose file does not exist.

    Opening it would make a new, empty hub: ``ccm tasks list`` would show nothing and
    ``ccm pause`` would pause no daemon. The error names the file, where its name came
    from, and how to make a hub or find the right one. Other URLs pass.
    """
    import shlex

    from ccm_tui.core.errors import HubError, HubURLError
    from ccm_tui.hub import sqlite_path

    text = url.strip()
    if not text.lower().startswith("sqlite:"):
        return
    try:
        path = sqlite_path(text)
    except HubURLError:
        return  # opening the hub says what is wrong with the URL
    if path.exists():
        return
    path = path.absolute()  # sqlite:hub.db is relative to where ccm runs: say where
    origin = hub_origin(ctx)
    if origin is None:
        # with a config already there, `ccm init` would refuse (or, --force, rewrite it)
        make = ("run `ccm db migrate` to make it" if settings(ctx).config_file is not None
                else "run `ccm init` to set CCM up and make it")
        raise HubError(f"there is no hub yet: {path} does not exist",
                       hint=f"{make} (`ccm up` also makes it when it starts); if your hub "
                       "is elsewhere, name it with --hub or CCM_HUB")
    raise HubError(f"there is no hub at {path} (from {origin})",
                   hint="check the path (`ccm up` and `ccm daemon` print their hub when "
                   f"they start), or make a new hub there with `ccm --hub {shlex.quote(text)} db "
                   "migrate`")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe to print."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = f"{parts.username or ''}:***"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{netloc[-1]}"))


# -- JSON -------------------------------------------------------------------------------
def to_jsonable(obj: Any) -> Any:
    """Plain JSON data for ``obj``: dataclasses as objects, datetimes as ISO-8601,
    enums as their values, paths as strings, tuples and sets as lists."""
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj.value if isinstance(obj, enum.Enum) else obj
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value)
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, timedelta):
        return obj.total_seconds()
    if isinstance(obj, Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "model_dump"):  # pydantic models
        return to_jsonable(obj.model_dump(mode="json"))
    return str(obj)


def print_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on standard output (plain, no colour)."""
    typer.echo(json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False))


# -- durations --------------------------------------------------------------------------
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)


def parse_duration(text: str | timedelta) -> timedelta:
    """Parse ``30s``, ``30m``, ``12h``, ``2d``, ``1w`` or combinations like ``1h30m``.

    Raises :class:`ValueError` with a message fit for the command line.
    """
    if isinstance(text, timedelta):
        return text
    s = text.strip().replace(" ", "")
    pos, seconds = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        seconds += float(m.group(1)) * _UNITS[m.group(2).lower()]
        pos = m.end()
    if not s or pos != len(s):
        raise ValueError(f"{text!r} is not a duration; use e.g. 30m, 12h, 2d or 1h30m")
    return timedelta(seconds=seconds)


def format_duration(td: timedelta | float) -> str:
    """A short human duration (:func:`ccm_tui.core.text.duration`): ``42s``, ``4m12s``,
    ``3h12m``, ``2d4h``."""
    return duration(td.total_seconds() if isinstance(td, timedelta) else td)


__all__ = [
    "CLIState",
    "format_duration",
    "hub_from_command_line",
    "hub_origin",
    "parse_duration",
    "print_json",
    "redact_url",
    "require_hub",
    "run_hub",
    "settings",
    "state",
    "to_jsonable",
    "with_hub",
]
