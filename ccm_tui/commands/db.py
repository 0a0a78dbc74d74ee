"""``ccm db migrate`` and ``ccm db status``: the hub's schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ccm_tui.commands._common import (
    print_json,
    redact_url,
    run_hub,
    settings,
    with_hub,
)

if TYPE_CHECKING:
    from ccm_tui.hub.base import Hub

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

    async def go(hub: Hub) -> list[str]:
        return await hub.migrate()

    applied = run_hub(url, go)
    if as_json:
        print_json({"hub": redact_url(url), "applied": applied})
        return
    from ccm_tui.commands._render import console

    out = console()
    if applied:
        for name in applied:
            out.print(f"[green]applied[/] {name}")
        out.print(f"{redact_url(url)}: schema up to date "
                  f"({len(applied)} migration{'s' if len(applied) != 1 else ''} applied now)")
    else:
        out.print(f"{redact_url(url)}: schema up to date (nothing to apply)")


@app.command("status")
def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Check that the hub is reachable and its schema current; count what it holds."""
    from ccm_tui.core.states import OPEN_STATES

    url = settings(ctx).hub

    async def go(hub: Hub) -> dict[str, Any]:
        control = await hub.get_control()
        hosts = await hub.list_hosts()
        counts = await hub.count_tasks()
        return {
            "hub": redact_url(url),
            "adapter": _adapter(url),
            "reachable": True,
            "schema": "up to date",
            "paused": control.paused,
            "hosts": len(hosts),
            "tasks": sum(counts.values()),
            "open_tasks": sum(n for s, n in counts.items() if s in OPEN_STATES),
        }

    info = with_hub(ctx, go)  # checking a hub must not make one
    if as_json:
        print_json(info)
        return
    from ccm_tui.commands._render import console

    out = console()
    for key in ("hub", "adapter", "reachable", "schema", "paused", "hosts", "tasks",
                "open_tasks"):
        value = info[key]
        shown = ("yes" if value else "no") if isinstance(value, bool) else str(value)
        out.print(f"[bold]{key.replace('_', ' '):<11}[/] {shown}")


__all__ = ["app", "migrate", "status"]
