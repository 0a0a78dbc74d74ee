"""What every ``ccm`` command shares: global state, the hub, JSON output, durations.

Heavy modules (the hub adapters, pydantic) are imported inside the functions, so
importing a command module stays cheap.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
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
    import logging

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

    CCM's own INFO lines are shown; the chatty libraries' only from WARNING up, unless
    ``CCM_DEBUG=1``.
    """
    import logging

    logging.basicConfig(level=logging.INFO, format=f"ccm {name}: %(message)s")
    if not debug_enabled():
        for lib in CHATTY_LOGGERS:
            logging.getLogger(lib).setLevel(logging.WARNING)


async def connect_or_wait(hub: Hub, url: str, log: logging.Logger,
                          ) -> asyncio.Task[bool] | None:
    """Connect a service's hub in the background (the returned task), for ``ccm webhook``:
    it serves at once and answers 503 until the hub is reachable. An SQLite hub is
    opened now (``None``): one that cannot open is an error at once.
    """
    from ccm_tui.hub.patience import connect_patiently

    if hub.url.startswith("sqlite"):
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
def run_hub(url: str, fn: Callable[[Hub], Awaitable[T]]) -> T:
    """Open the hub at ``url``, run ``fn(hub)`` inside ``async with hub``, return its result."""
    from ccm_tui.hub import open_hub

    hub = open_hub(url)

    async def _run() -> T:
        async with hub:
            return await fn(hub)

    return asyncio.run(_run())


def with_hub(ctx: typer.Context, fn: Callable[[Hub], Awaitable[T]]) -> T:
    """Run ``fn(hub)`` against the hub the settings name (``--hub``, ``CCM_HUB``, config)."""
    return run_hub(settings(ctx).hub, fn)



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
    "parse_duration",
    "print_json",
    "redact_url",
    "run_hub",
    "settings",
    "state",
    "to_jsonable",
    "with_hub",
]
