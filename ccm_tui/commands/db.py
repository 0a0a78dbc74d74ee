"""``ccm db migrate`` and ``ccm db status``: the hub's schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ccm_tui.commands._common import (
    print_json,
    redact_url,
    require_hub,
    run_hub,
    settings,
    with_hub,
)
from ccm_tui.core.errors import HubError, HubUnavailable, SchemaError
from ccm_tui.core.text import plural

if TYPE_CHECKING:
    from ccm_tui.hub.base import Hub
    from ccm_tui.hub.migrations import MigrationStatus

app = typer.Typer(
    help="The hub's database: apply the schema, check it.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _adapter(url: str) -> str:
    scheme = url.split(":", 1)[0].lower()
    return {"postgres": "postgresql"}.get(scheme, scheme)


@app.command("migrate")
def migrate(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Apply the schema to the hub; safe to run again (only what is missing is applied)."""
    url = settings(ctx).hub

    async def go(hub: Hub) -> tuple[list[str], list[str]]:
        from ccm_tui.hub.sqlite import SqliteHub

        try:
            applied = await hub.migrate()
            if isinstance(hub, SqliteHub):
                return applied, []  # it refuses a newer schema outright
            from ccm_tui.hub.postgres import PostgresHub

            assert isinstance(hub, PostgresHub)  # works on with a newer schema: said
            return applied, list((await hub.migration_status()).newer)
        except Exception as exc:
            denied = _denied(url, exc)
            if denied is None:
                raise
            raise SchemaError(f"{denied} may not change the hub's schema: {exc}",
                              hint="run `ccm db migrate` once as the database's owner (or "
                              "a user allowed to CREATE in its schema); the daemon's user "
                              "needs only to read and write the tables") from exc

    applied, newer = run_hub(url, go)
    if newer:
        typer.echo(f"warning: the hub also has {plural(len(newer), 'migration')} this CCM "
                   f"does not know ({', '.join(newer)}), applied by a newer CCM: upgrade "
                   "CCM", err=True)
    if as_json:
        print_json({"hub": redact_url(url), "applied": applied, "newer": newer})
        return
    from ccm_tui.commands._render import console

    out = console()
    state = "newer than this CCM" if newer else "up to date"
    if applied:
        for name in applied:
            out.print(f"[green]applied[/] {name}")
        out.print(f"{redact_url(url)}: schema {state} "
                  f"({len(applied)} migration{'s' if len(applied) != 1 else ''} applied now)")
    else:
        out.print(f"{redact_url(url)}: schema {state} (nothing to apply)")


def _denied(url: str, exc: BaseException) -> str | None:
    """``the PostgreSQL user NAME`` when ``exc`` is PostgreSQL refusing that user."""
    if _adapter(url) != "postgresql":
        return None
    from ccm_tui.hub.postgres import refused_privilege  # the driver stays inside the hub

    if not refused_privilege(exc):
        return None
    from urllib.parse import urlsplit

    user = urlsplit(url).username
    return f"the PostgreSQL user {user!r}" if user else "the PostgreSQL user"


@app.command("status")
def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Check that the hub is reachable and its schema current; count what it holds.

    Lists the migrations applied and those pending (changing nothing: `ccm db migrate`
    applies them). Exits 1 when the schema is not up to date; the counts are then left
    out, as the tables they read may not be there yet.
    """
    url = settings(ctx).hub
    try:
        if url.strip().lower().startswith("sqlite:"):
            info = _sqlite_status(ctx, url)
        else:
            info = with_hub(ctx, lambda hub: _status(url, hub))
    except HubUnavailable as exc:
        if not as_json:
            raise
        # a check's answer, not only an error: a script reads "reachable": false
        from ccm_tui.cli import error_line

        print_json({"hub": redact_url(url), "adapter": _adapter(url), "reachable": False,
                    "error": error_line(exc).removeprefix("ccm: error: "),
                    **dict.fromkeys(("schema", "applied", "pending", "newer", "paused",
                                     "hosts", "tasks", "open_tasks"))})
        typer.echo(error_line(exc), err=True)
        raise typer.Exit(1) from None
    if as_json:
        print_json(info)
    else:
        _print_status(info)
    if info["pending"] or info["newer"]:
        raise typer.Exit(1)


async def require_current_schema(hub: Hub, url: str, *, then: str) -> None:
    """Raise :class:`SchemaError` when a PostgreSQL hub's schema is missing or has
    migrations pending (``then``: the command to run again once migrated). An SQLite
    hub applies what is pending when it opens, so it passes."""
    from ccm_tui.hub.migrations import migration_files
    from ccm_tui.hub.sqlite import SqliteHub

    if isinstance(hub, SqliteHub):
        return
    from ccm_tui.hub.postgres import PostgresHub  # loads the driver: not for SQLite

    assert isinstance(hub, PostgresHub)
    pending = (await hub.migration_status()).pending
    if not pending:
        return
    where = f"the hub at {redact_url(url)}"
    raise SchemaError(f"{where} has no CCM schema yet" if len(pending) == len(migration_files())
                      else f"{where} is {plural(len(pending), 'migration')} behind this CCM",
                      hint=f"apply the schema with `ccm db migrate` (on the same hub), then "
                      f"run `{then}` again")


def _sqlite_status(ctx: typer.Context, url: str) -> dict[str, Any]:
    """Read first: opening an SQLite hub applies its pending migrations."""
    from ccm_tui.hub import open_hub, sqlite_path
    from ccm_tui.hub.sqlite_schema import schema_status

    open_hub(url, create=False)  # a malformed URL is said first
    require_hub(ctx, url)  # checking a hub must not make one
    schema = schema_status(sqlite_path(url.strip()))
    if not schema.up_to_date:
        return _doc(url, schema)
    return with_hub(ctx, lambda hub: _status(url, hub, schema))


async def _status(url: str, hub: Hub, schema: MigrationStatus | None = None) -> dict[str, Any]:
    try:
        return await _read_status(url, hub, schema)
    except Exception as exc:
        denied = _denied(url, exc)
        if denied is None:
            raise
        raise HubError(f"{denied} may not read the hub: {exc}",
                       hint="connect as the user the daemon uses (it reads and writes the "
                       "CCM tables), or grant this one access to them") from exc


async def _read_status(url: str, hub: Hub, schema: MigrationStatus | None) -> dict[str, Any]:
    from ccm_tui.core.states import OPEN_STATES

    if schema is None:
        from ccm_tui.hub.postgres import PostgresHub

        assert isinstance(hub, PostgresHub)
        schema = await hub.migration_status()
    doc = _doc(url, schema)
    if not schema.up_to_date:
        return doc
    control = await hub.get_control()
    counts = await hub.count_tasks()
    doc.update(paused=control.paused, hosts=len(await hub.list_hosts()),
               tasks=sum(counts.values()),
               open_tasks=sum(n for s, n in counts.items() if s in OPEN_STATES))
    return doc


def _doc(url: str, schema: MigrationStatus) -> dict[str, Any]:
    """The status without the counts (``null`` until the schema is up to date)."""
    return {"hub": redact_url(url), "adapter": _adapter(url), "reachable": True,
            "schema": schema.summary(), "applied": list(schema.applied),
            "pending": list(schema.pending), "newer": list(schema.newer), "paused": None,
            "hosts": None, "tasks": None, "open_tasks": None}


def _print_status(info: dict[str, Any]) -> None:
    from rich.markup import escape

    from ccm_tui.commands._render import console

    out = console()
    for key in ("hub", "adapter", "reachable", "schema", "applied", "pending", "newer",
                "paused", "hosts", "tasks", "open_tasks"):
        value = info[key]
        if isinstance(value, list):
            if not value and key != "applied":
                continue
            shown = ", ".join(value) if value else "none"
            if key == "applied" and len(value) > 1:  # --json lists them all
                shown = f"{len(value)}, the latest {value[-1]}"
        elif isinstance(value, bool):
            shown = "yes" if value else "no"
        else:
            shown = "-" if value is None else str(value)
        out.print(f"[bold]{key.replace('_', ' '):<11}[/] {escape(shown)}")
    if info["newer"]:
        out.print("[yellow]this hub was migrated by a newer CCM: upgrade CCM to use it[/]")
    elif info["pending"]:
        out.print("[yellow]run `ccm db migrate` (on the same hub) to apply "
                  f"{'them' if len(info['pending']) > 1 else 'it'}[/]")


__all__ = ["app", "migrate", "require_current_schema", "status"]
