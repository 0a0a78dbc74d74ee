"""The hub: the store every CCM process shares, behind one :class:`Hub` protocol.

``open_hub(url)`` picks the adapter from the URL scheme:

- ``sqlite:///path/hub.db`` — the embedded default (:mod:`ccm_tui.hub.sqlite`)
- ``postgresql://user:pass@host:5432/db`` — any PostgreSQL, including a Supabase
  project's database connection string (:mod:`ccm_tui.hub.postgres`)

Adapters are imported lazily, so importing this package loads no database driver.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from ccm_tui.core.errors import HubError, HubURLError, SchemaError
from ccm_tui.hub.base import AlertHead, AlertRecord, FiringRecord, Hub, TaskQuery

if TYPE_CHECKING:
    import sqlite3

    from ccm_tui.hub.postgres import PostgresHub
    from ccm_tui.hub.sqlite import SqliteHub

__all__ = ["SQLITE_SYNCHRONOUS", "AlertHead", "AlertRecord", "FiringRecord", "Hub", "TaskQuery",
           "default_hub_path", "default_hub_url", "open_hub", "sqlite_path"]


def default_hub_path() -> Path:
    """``$XDG_DATA_HOME/ccm/hub.db`` (``~/.local/share/ccm/hub.db`` by default)."""
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "ccm" / "hub.db"


def default_hub_url() -> str:
    """The embedded default hub's URL."""
    return f"sqlite:///{default_hub_path()}"


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:`` URL: ``sqlite:///abs/path``, ``sqlite:rel/path``."""
    rest = url[len("sqlite:"):]
    if rest.startswith("//"):
        rest = rest[2:]
        if rest and not rest.startswith("/"):
            raise HubURLError(f"{url!r}: a sqlite URL has no host; write sqlite:///{rest}")
    path = unquote(rest.split("?", 1)[0])
    if path.startswith("//"):  # sqlite:////abs/path, the four-slash spelling of a full path
        path = "/" + path.lstrip("/")
    if not path or path == "/":
        raise HubURLError(f"{url!r} names no database file")
    return Path(path).expanduser()


#: ``?synchronous=`` of a ``sqlite:`` URL. ``normal`` (the default): a commit is in the
#: write-ahead log when a request is answered, so it survives the process being killed;
#: an OS crash or power cut may lose the last commits. ``full``: every commit is also
#: fsync'ed, so it survives those too, at the cost of one fsync per (group) commit.
SQLITE_SYNCHRONOUS = ("normal", "full")


def _sqlite_sync(url: str) -> str:
    """The ``synchronous`` query option of a ``sqlite:`` URL (``normal`` or ``full``)."""
    query = parse_qs(url.split("?", 1)[1]) if "?" in url else {}
    unknown = set(query) - {"synchronous"}
    if unknown:
        raise HubURLError(f"{url!r}: unknown option {sorted(unknown)[0]!r}",
                          hint="a sqlite URL takes only ?synchronous=normal|full")
    value = query.get("synchronous", ["normal"])[-1].lower()
    if value not in SQLITE_SYNCHRONOUS:
        raise HubURLError(f"{url!r}: synchronous must be normal or full, not {value!r}",
                          hint="use ?synchronous=normal (survives a killed process) or "
                          "?synchronous=full (also a power cut)")
    return value


def sqlite_preflight(path: Path, *, create: bool) -> None:
    """Before opening an SQLite hub: a folder is an error, and so is a missing file
    unless ``create`` (see :func:`open_hub`)."""
    if path.is_dir():
        where = f"sqlite:{'//' if path.is_absolute() else ''}{path / 'hub.db'}"
        raise HubError(f"{path} is a folder, not a hub file", hint=f"name a file in it: {where}")
    if not create and not path.exists():
        raise HubError(f"there is no hub at {path}",
                       hint="make it with `ccm init` or `ccm db migrate`, or check the hub's path")


def refuse_a_foreign_database(conn: sqlite3.Connection, path: Path) -> None:
    """A file with no CCM schema yet must be empty: CCM does not add its tables to
    another program's database (a --hub that names the wrong .db file)."""
    if conn.execute("PRAGMA user_version").fetchone()[0]:
        return
    row = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
                       "LIKE 'ccm\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                       "LIMIT 1").fetchone()
    if row is not None:
        raise SchemaError(f"{path} is an SQLite database of something else, not a CCM hub "
                          f"(it holds {row[0]!r})",
                          hint="check the hub's path; CCM makes its hub in a new file")


def open_hub(url: str | None = None, *, create: bool = True) -> SqliteHub | PostgresHub:
    """An adapter for ``url`` (not yet connected: ``async with open_hub(url) as hub:``).

    ``create=False``: an SQLite file that does not exist is an error when connecting
    (:class:`~ccm_tui.core.errors.HubError`) instead of a new, empty hub. A PostgreSQL
    database is never created here, so the flag changes nothing for it.
    """
    url = (url or default_hub_url()).strip()
    scheme = urlsplit(url).scheme.lower() if "://" in url else url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from ccm_tui.hub.sqlite import SqliteHub

        return SqliteHub(sqlite_path(url), url=url, synchronous=_sqlite_sync(url),
                         create=create)
    if scheme in {"postgresql", "postgres"}:
        parts = urlsplit(url)
        if not parts.hostname and "host=" not in parts.query:
            raise HubURLError(f"{url!r} names no PostgreSQL host")
        from ccm_tui.hub.postgres import PostgresHub

        return PostgresHub(url)
    if scheme in {"http", "https"}:
        raise HubURLError(
            f"{url!r}: the Supabase API adapter is not part of this build; connect to the "
            "project's database instead",
            hint="use its connection string: postgresql://postgres.REF:PASSWORD@HOST:5432/postgres",
        )
    raise HubURLError(f"unknown hub URL scheme {scheme!r} in {url!r}")
