"""``ccm fleet``: the inventory, host keys, and the agent on each host."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ccm_tui.commands._common import print_json, settings, with_hub
from ccm_tui.core.errors import CCMError, FleetError, InventoryError, SSHError
from ccm_tui.core.text import plural

if TYPE_CHECKING:
    from ccm_tui.fleet.install import InstallResult
    from ccm_tui.fleet.inventory import FleetHost, Inventory
    from ccm_tui.hub.base import Hub

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
HostsOpt = Annotated[
    str,
    typer.Option(
        "--hosts", "-H", metavar="PATTERN",
        help="Which hosts: a name glob (web-*), a range (web-[01-10,12]), group:NAME, "
        "label:KEY=VALUE or all; "
        "join with commas, exclude with !PATTERN, intersect with &PATTERN "
        "(e.g. group:web,&label:env=prod,!web-03).",
    ),
]

app = typer.Typer(
    help="The fleet: inventory, host keys, the agent on each host.", no_args_is_help=True,
)


# -- shared with `ccm run` -------------------------------------------------------------------
def load_fleet(ctx: typer.Context) -> Inventory:
    """The inventory the settings name; ``~/.ssh/config`` when the default file is absent."""
    from ccm_tui.config import config_dir
    from ccm_tui.fleet.inventory import DEFAULT_SSH_CONFIG, load_inventory

    path = Path(settings(ctx).inventory).expanduser()
    ssh_config = DEFAULT_SSH_CONFIG.expanduser()
    if not path.exists() and path == config_dir() / "inventory.yaml" and ssh_config.is_file():
        return load_inventory(ssh_config)
    return load_inventory(path)


def select_hosts(inventory: Inventory, pattern: str) -> list[FleetHost]:
    """The hosts ``pattern`` matches; :class:`InventoryError` when none."""
    hosts = inventory.select(pattern)
    if not hosts:
        raise InventoryError(
            f"no host matches {pattern!r} ({plural(len(inventory), 'host')} in the inventory)",
            hint="see the hosts, groups and labels with `ccm fleet list`",
        )
    return hosts


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()


# -- list ------------------------------------------------------------------------------------
@app.command("list")
def fleet_list(ctx: typer.Context, hosts: HostsOpt = "all", as_json: JsonOpt = False) -> None:
    """List the hosts of the inventory: address, user, groups, labels, jump host.

    Reads CCM's inventory.yaml, an Ansible inventory (INI or YAML, with its group_vars/
    and host_vars/) or an ssh config; ~/.ssh/config fills in what a host leaves unset.
    Hosts that set their own SSH key exchanges or ciphers show them in an extra column.
    What was read but not used (Match blocks, hosts Ansible reaches other than by SSH)
    is noted on stderr.
    """
    from ccm_tui.commands._render import console, markup_safe, plain
    from ccm_tui.core.text import printable

    inventory = load_fleet(ctx)
    selected = select_hosts(inventory, hosts) if len(inventory) else []
    for note in inventory.notes:  # on stderr, so --json stays JSON
        console(stderr=True).print(f"[dim]note: {markup_safe(note)}[/]")
    if as_json:
        print_json(selected)
        return
    out = console()
    src = markup_safe(", ".join(inventory.sources))
    if not len(inventory):
        out.print(f"no hosts in {src} — add some (see `ccm init` for the format), or pass "
                  "--inventory with an Ansible inventory or ~/.ssh/config")
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    own_algorithms = any(h.kex_algs or h.ciphers for h in selected)
    columns = ["NAME", "ADDRESS", "USER", "GROUPS", "LABELS", "JUMP"]
    for col in columns + ["SSH ALGORITHMS"] * own_algorithms:
        table.add_column(col, no_wrap=col in {"NAME", "ADDRESS"}, overflow="fold")
    rows = []
    for h in selected:
        address = f"[{h.target}]" if ":" in h.target else h.target  # IPv6: [addr]:port
        row = [h.name, f"{address}:{h.port}", h.user or "-", ",".join(h.groups) or "-",
               " ".join(f"{k}={v}" for k, v in sorted(h.labels.items())) or "-", h.jump or "-"]
        if own_algorithms:  # only hosts that change [ssh]'s lists have any
            row.append(" ".join(f"{k} {v}" for k, v in (("kex", h.kex_algs),
                                                         ("ciphers", h.ciphers)) if v) or "-")
        # inventories are files from elsewhere: cells are never markup (an IPv6 address
        # such as [fe80::1] read as a tag) and never act on the terminal
        rows.append([printable(cell) for cell in row])
    for row in _fit_labels(rows, table.columns, out):
        table.add_row(*(plain(cell) for cell in row))
    out.print(table)
    out.print(f"[dim]{len(selected)} of {len(inventory)} hosts · {src}[/]")


def _fit_labels(rows: list[list[str]], columns: list[Any], out: Any) -> list[list[str]]:
    """One line per host. Ansible group vars make long LABELS cells, which wrapped into
    dozens of lines: on a terminal they are cut to the width left (all of them are in
    --json); piped, the table is as wide as it needs to be, so grep sees whole labels."""
    from rich.cells import cell_len

    widths = [max([cell_len(str(c.header))] + [cell_len(r[i]) for r in rows])
              for i, c in enumerate(columns)]
    needed = sum(widths) + 2 * (len(widths) - 1)
    if not out.is_terminal:
        out.width = max(out.width, needed)
        return rows
    if needed <= out.width:
        return rows
    # GROUPS may wrap between names (down to the longest name); LABELS get what is left
    groups_min = max([6] + [cell_len(g) + 1 for r in rows for g in r[3].split(",")])
    spare = out.width - (needed - widths[4])
    squeeze = spare < 16
    if squeeze:
        spare = out.width - (needed - widths[4] - widths[3] + min(widths[3], groups_min))
    if spare >= 16:
        columns[4].no_wrap = True  # rich would otherwise share the width out its own way
    else:
        spare = 32  # a narrow terminal: a few wrapped lines, not one per label
    return [[*r[:3], r[3].replace(",", ", ") if squeeze else r[3],
             r[4] if cell_len(r[4]) <= spare else r[4][:spare - 1] + "…", *r[5:]]
            for r in rows]


# -- sync ------------------------------------------------------------------------------------
@app.command("sync")
def fleet_sync(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Write the inventory's hosts to the hub, so the TUI and ingest know them."""
    from ccm_tui.fleet.inventory import sync_to_hub

    inventory = load_fleet(ctx)
    changed = with_hub(ctx, lambda hub: sync_to_hub(hub, inventory))
    total = len(inventory)
    if as_json:
        print_json({"hosts": total, "changed": changed})
    else:
        typer.echo(f"{total} hosts in the hub match the inventory "
                   f"({changed} added or changed now)")


# -- trust -----------------------------------------------------------------------------------
def _target(inventory: Inventory, spec: str) -> FleetHost:
    from ccm_tui.fleet.inventory import FleetHost
    from ccm_tui.fleet.ssh import parse_jump_spec

    if spec in inventory:
        return inventory.get(spec)
    if any(c in spec for c in ":@") or "." in spec:
        literal = parse_jump_spec(spec)
        return FleetHost(name=spec, address=literal.address, port=literal.port)
    return inventory.get(spec)  # raises: no such host


@app.command("trust")
def fleet_trust(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(
        metavar="HOST", help="An inventory host, or ADDRESS[:PORT] for one outside it.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Trust without asking.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Fetch a host's SSH key, show its fingerprint, and trust it (audited).

    The key goes to CCM's own known_hosts (~/.config/ccm/known_hosts); the hub's
    audit log records who trusted which fingerprint for which host.
    """
    from ccm_tui.fleet.ssh import SSHPool

    inventory = load_fleet(ctx)
    target = _target(inventory, host)
    pool = SSHPool(inventory, options=settings(ctx).ssh.pool_options())

    async def fetch() -> Any:
        try:
            return await pool.fetch_host_key(target)
        except SSHError as exc:
            if target.name in inventory:
                raise
            # no inventory entry to check: the address itself is what to look at
            raise SSHError(str(exc), hint=f"check that {target.target} listens for SSH on "
                           f"port {target.port} (ADDRESS:PORT for another port)") from None
        finally:
            await pool.close()

    key = asyncio.run(fetch())
    from ccm_tui.core.text import printable
    from ccm_tui.fleet.known_hosts import fingerprint

    store = pool.trust
    status = store.status(target, key)
    fp, name = fingerprint(key), target.known_hosts_name
    key_type = key.get_algorithm()
    # what the engineer compares before trusting: an inventory name cannot rewrite the line
    shown, shown_name = printable(target.name), printable(name)
    if status == "revoked":
        raise FleetError(f"{target.name} ({name}) presents a key that known_hosts marks @revoked "
                         f"({key_type} {fp})", hint="do not trust it; ask the host's owner")
    if status == "trusted":
        if as_json:
            print_json({"host": target.name, "name": name, "fingerprint": fp,
                        "key_type": key_type, "status": "already trusted", "recorded": False})
        else:
            typer.echo(f"{shown} ({shown_name}) is already trusted: {key_type} {fp}")
        return
    old = store.recorded_fingerprints(target)
    if not as_json:
        typer.echo(f"{shown} ({shown_name}) presents {key_type} key {fp}", err=True)
        if status == "changed":
            typer.echo("WARNING: this differs from the key recorded before ("
                       + ", ".join(old) + "). Trust it only if you know the host was "
                       "reinstalled or re-keyed.", err=True)
    if not yes:
        if not sys.stdin.isatty():
            raise CCMError(f"not trusting {target.name} without confirmation",
                           hint="compare the fingerprint above with the host's own "
                           "(`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), then run "
                           "again with --yes")
        if not typer.confirm("Trust this key?", default=False, err=True):
            typer.echo(f"not trusted: {shown} stays refused until its key is trusted",
                       err=True)
            raise typer.Exit(1)
    actor = settings(ctx).actor

    async def record(hub: Hub) -> Any:
        rec = store.record(target, key)
        await hub.audit(actor, "fleet.trust", target.name, {
            "name": rec.name, "key_type": rec.key_type, "fingerprint": rec.fingerprint,
            "file": rec.file, "status": status, "previous": old, "replaced": list(rec.replaced),
        })
        return rec

    rec = with_hub(ctx, record)
    if as_json:
        print_json({"host": target.name, "name": rec.name, "fingerprint": rec.fingerprint,
                    "key_type": rec.key_type, "status": status, "recorded": True,
                    "file": rec.file})
        return
    typer.echo(f"trusted {shown}: {rec.key_type} {rec.fingerprint} → {rec.file}")
    for stale in store.files_with_other_keys(target, key) if status == "changed" else []:
        typer.echo(f"note: {stale} still lists the old key (CCM does not edit that file); "
                   f"remove it with ssh-keygen -R '{rec.name}' -f {stale}", err=True)


# -- install ---------------------------------------------------------------------------------
_INSTALL_STYLE = {"installed": "green", "unchanged": "green", "failed": "red",
                  "unreachable": "red"}


def _install_table(results: list[InstallResult]) -> Any:
    from rich.table import Table
    from rich.text import Text

    from ccm_tui.commands._render import plain, without_host

    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("HOST", "STATUS", "PYTHON", "TMUX", "AGENT", "PROBLEMS"):
        table.add_column(col, no_wrap=col != "PROBLEMS", overflow="fold")
    for r in results:
        table.add_row(plain(r.host), Text(r.status, style=_INSTALL_STYLE.get(r.status, "red")),
                      plain(r.python or "-"), plain(r.tmux or "-"), plain(r.agent_version or "-"),
                      plain("; ".join(without_host(r.host, p) for p in r.problems)))
    return table


@app.command("install")
def fleet_install(
    ctx: typer.Context,
    hosts: HostsOpt = "all",
    forks: Annotated[int, typer.Option("--forks", "-f", metavar="N", min=1,
                                       help="How many hosts to install on at once.")] = 20,
    timeout: Annotated[float, typer.Option("--timeout", "-t", min=1, metavar="S",
                                           help="Give up on a step after this many seconds.")
                       ] = 60.0,
    dest: Annotated[str | None, typer.Option(
        "--dest", metavar="DIR", help="Folder for agent.pyz on each host, relative to the "
        "login's home unless absolute (default .local/share/ccm-agent).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Push the agent to hosts over SFTP and check python3 ≥ 3.9 and tmux on each.

    The agent lands in ~/.local/share/ccm-agent/agent.pyz (uploaded under a temporary
    name, then renamed); hosts that already have the same file are left alone.
    Exits 1 when any host failed.
    """
    import tempfile

    from ccm_tui.fleet.install import REMOTE_DIR, build_agent, install
    from ccm_tui.fleet.ssh import SSHPool

    inventory = load_fleet(ctx)
    selected = select_hosts(inventory, hosts)
    ssh = settings(ctx).ssh.pool_options()
    with tempfile.TemporaryDirectory(prefix="ccm-agent-") as tmp:
        agent = build_agent(Path(tmp))

        async def go() -> list[InstallResult]:
            async with SSHPool(inventory, options=ssh) as pool:
                return await install(pool, selected, agent, forks=forks, timeout=timeout,
                                     remote_dir=dest or REMOTE_DIR)

        if stderr_is_tty() and not as_json:
            from ccm_tui.commands._render import console

            with console(stderr=True).status(f"installing the agent on {plural(len(selected), 'host')}…"):
                results = asyncio.run(go())
        else:
            results = asyncio.run(go())
    failed = [r for r in results if not r.ok]
    if as_json:
        print_json({"agent": {"version": agent.version, "sha256": agent.sha256,
                              "bytes": agent.size}, "ok": not failed, "hosts": results})
    else:
        from ccm_tui.commands._render import console

        out = console()
        out.print(_install_table(results))
        out.print(f"[dim]agent {agent.version} · {len(results) - len(failed)} ok · "
                  f"{len(failed)} failed[/]")
    if failed:
        raise typer.Exit(1)


# -- probe -----------------------------------------------------------------------------------
@app.command("probe")
def fleet_probe(
    ctx: typer.Context,
    hosts: HostsOpt = "all",
    timeout: Annotated[float, typer.Option("--timeout", "-t", min=1, metavar="S",
                                           help="Give up on a host after this many seconds.")
                       ] = 20.0,
    as_json: JsonOpt = False,
) -> None:
    """Check each host's health now: reachable, CPU, memory, worst disk, failed units.

    Runs the agent's probe on the hosts in parallel (pushing the agent where it is
    missing) and stores the snapshots in the hub. Exits 1 when a host could not be
    probed.
    """
    from ccm_tui.commands.probe import probe_fleet, probe_row, probe_table

    inventory = load_fleet(ctx)
    selected = select_hosts(inventory, hosts)
    hub_url = settings(ctx).hub
    go = probe_fleet(hub_url, inventory, selected, timeout=timeout,
                     ssh=settings(ctx).ssh.pool_options())
    if stderr_is_tty() and not as_json:
        from ccm_tui.commands._render import console

        with console(stderr=True).status(f"probing {plural(len(selected), 'host')}…"):
            snaps = asyncio.run(go)
    else:
        snaps = asyncio.run(go)
    rows = [probe_row(s) for s in snaps]
    failed = [r for r in rows if not r["ok"]]
    if as_json:
        print_json({"ok": not failed, "hosts": rows})
    else:
        from ccm_tui.commands._render import console, host_problems

        out = console()
        out.print(probe_table(rows))
        if failed:
            for line in host_problems(f"{len(failed)} not probed",
                                      [(r["host"], str(r["error"] or "")) for r in failed]):
                out.print(line)
        out.print(f"[dim]{len(rows) - len(failed)} ok · {len(failed)} failed · stored in the "
                  "hub[/]")
    if failed:
        raise typer.Exit(1)


__all__ = ["app", "load_fleet", "select_hosts"]
