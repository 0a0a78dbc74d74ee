"""``ccm init``: write a documented config, an example inventory and a runbooks folder,
pick the hub and apply its schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ccm_tui.commands._common import redact_url, run_hub, state
from ccm_tui.core.errors import CCMError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ccm_tui.hub.base import Hub

#: Example values for settings whose default is "unset" (``None``): the template shows
#: one of these, marked as an example, so that uncommenting the line gives a value of
#: the right form to fill in rather than the string "None". Relative paths are relative
#: to the config file's folder.
_EXAMPLES: dict[str, Any] = {
    "token_file": "webhook.token",
    "basic_auth_file": "webhook.users",
    "grafana_secret_file": "grafana.secret",
    "slack_webhook_url": "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX",
    "pagerduty_routing_key": "0123456789abcdef0123456789abcdef",
    "quiet_hours": "22:00-07:00",
    "quiet_timezone": "Europe/Berlin",
    "grafana_url": "https://grafana.example.com",
    "grafana_token": "glsa_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX_0000000",
    "transcript_url": "https://ccm.example.com/tasks/{task}",
}

#: What follows the example value of an unset setting (a TOML comment, so the line
#: still loads once uncommented).
UNSET_NOTE = "# example (unset by default)"

INVENTORY_EXAMPLE = """\
# CCM inventory: the servers CCM watches and fixes.
# Edit the addresses, then check with `ccm fleet list` and `ccm fleet probe`.
# An Ansible inventory works too: `ccm --inventory hosts.ini fleet list`.
#
#   address  IP or DNS name to connect to (default: the host's name)
#   port     SSH port (default 22)
#   user     SSH user (default: `defaults.user`, else your login name)
#   groups   roles; the first is the host's primary group (the TUI groups tiles by it)
#   labels   free-form key/value pairs; select with `--hosts label:env=prod`

defaults:
  user: ops
  port: 22

hosts:
  web-01:
    address: 192.0.2.11
    groups: [web]
    labels: {env: prod, dc: fra1}
  web-02:
    address: 192.0.2.12
    groups: [web]
    labels: {env: prod, dc: fra1}
  web-03:
    address: 192.0.2.13
    groups: [web]
    labels: {env: prod, dc: ams1}
  app-01:
    address: 192.0.2.21
    groups: [app]
    labels: {env: prod, dc: fra1}
  db-01:
    address: 192.0.2.31
    port: 2222
    user: dba
    groups: [db]
    labels: {env: prod, dc: fra1, role: primary}
  worker-01:
    address: 192.0.2.41
    groups: [worker]
    labels: {env: prod, dc: fra1, queue: default}
"""

RUNBOOKS_README = """\
# Your runbooks

Put your own runbooks here, one YAML file each. CCM reads them after its built-in
ones (list both with `ccm runbooks list`; read one with `ccm runbooks show disk-full`).

A runbook says, for one kind of alert, what to look at (`diagnose`), what it may mean
(`classify`), what to do about it (`remediate`) and how to tell it worked (`verify`).
The built-in ones are good starting points: copy one, give it a new `id`, edit it.

Check your files before CCM uses them:

    ccm runbooks lint

New runbooks should start with `mode: shadow`: CCM then only reports what it would
have done. Move them to `suggest` (fixes wait for your approval) and to `auto` once
you trust them; CCM promotes a runbook after enough approved successes and demotes it
after a failure.

More folders can be listed in `runbook_dirs` in config.toml.
"""


def _toml_value(value: Any) -> str:
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and not hasattr(value, "value"):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if hasattr(value, "value"):  # enums
        value = value.value
    return json.dumps(str(value), ensure_ascii=False)


def _comment(text: str) -> list[str]:
    import textwrap

    return ["# " + line for line in textwrap.wrap(text, 86)]


def _setting_line(name: str, value: Any) -> str:
    """The commented line of one setting: its default, or for an unset one an example
    marked as such (never ``None``, which TOML cannot say and "None" would be a value)."""
    if value is not None:
        return f"# {name} = {_toml_value(value)}"
    if name in _EXAMPLES:
        return f"# {name} = {_toml_value(_EXAMPLES[name])}  {UNSET_NOTE}"
    return f"# {name}: unset by default"  # (no example known: nothing to uncomment)


def _section_lines(model: type[BaseModel], defaults: BaseModel) -> list[str]:
    lines: list[str] = []
    for name, info in model.model_fields.items():
        lines += _comment(info.description or name)
        lines.append(_setting_line(name, getattr(defaults, name)))
        lines.append("")
    return lines


def config_template(*, hub: str, inventory: str, runbook_dirs: list[str]) -> str:
    """A complete, commented config.toml: the chosen values set, every other documented."""
    from pydantic import BaseModel

    from ccm_tui.config import Settings, default_actor

    fields = Settings.model_fields
    chosen = {"hub": hub, "inventory": inventory, "runbook_dirs": runbook_dirs}
    lines = [
        "# CCM configuration, written by `ccm init`.",
        "# Environment variables beat this file (CCM_HUB, CCM_POLICY__AUTO_THRESHOLD=0.95, ...)",
        "# and command-line flags beat both. Relative paths are relative to this file's folder.",
        "# Lines starting with '#' show the defaults; uncomment one to change it. A setting",
        "# that is unset by default shows an example value to fill in instead, marked",
        f"# '{UNSET_NOTE.removeprefix('# ')}'.",
        "",
    ]
    sections: list[str] = []
    for name, info in fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            sections.append(name)
            continue
        lines += _comment(info.description or name)
        if name in chosen:
            lines.append(f"{name} = {_toml_value(chosen[name])}")
        elif name == "actor":
            lines.append(f"# actor = {_toml_value(default_actor())}")
        else:
            lines.append(_setting_line(name, info.get_default(call_default_factory=True)))
        lines.append("")
    for name in sections:
        info = fields[name]
        model = info.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        lines += _comment(info.description or name)
        lines.append(f"[{name}]")
        lines += _section_lines(model, model())
    return "\n".join(lines).rstrip() + "\n"


def _write(path: Path, text: str, *, force: bool, private: bool = False) -> str:
    """Write ``text`` unless the file exists (and ``force`` is off); say what happened.
    ``private``: readable by its owner alone (0600), for a file holding a password."""
    if path.exists() and not force:
        return "kept"
    existed = path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    if private:
        import os

        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a file that existed keeps no wider mode
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return "replaced" if existed else "wrote"


def _absolute_sqlite(url: str) -> str:
    """``url`` with a relative SQLite path made absolute: the config keeps naming the hub
    that was made here, wherever ccm runs next (a relative path would follow the
    working directory)."""
    from ccm_tui.hub import sqlite_path

    text = url.strip()
    if not text.lower().startswith("sqlite:"):
        return text
    path = sqlite_path(text)
    if path.is_absolute():
        return text
    query = f"?{text.split('?', 1)[1]}" if "?" in text else ""
    return f"sqlite://{path.absolute()}{query}"


def _has_password(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password is not None
    except ValueError:
        return False


def init(
    ctx: typer.Context,
    force: Annotated[
        bool,
        typer.Option("--force", "-f", help="Overwrite config.toml, inventory.yaml and the "
                     "runbooks README if they exist."),
    ] = False,
    hub: Annotated[
        str | None,
        typer.Option(
            "--hub", metavar="URL",
            help="The hub to record in config.toml and migrate (default: the global --hub or "
            "CCM_HUB, else an SQLite file under the XDG data folder).",
        ),
    ] = None,
) -> None:
    """Set CCM up: a config, an example inventory, a runbooks folder, the hub's schema.

    Files go to ~/.config/ccm/ (or next to --config PATH). Nothing is overwritten without --force.
    """
    from ccm_tui.config import resolve_config_path
    from ccm_tui.hub import default_hub_url

    st = state(ctx)
    config_path, _ = resolve_config_path(st.config)
    if config_path.exists() and not force:
        raise CCMError(
            f"{config_path} already exists",
            hint="edit it, or run `ccm init --force` to rewrite it (inventory.yaml and the "
            "runbooks folder are kept unless --force)",
        )
    folder = config_path.parent
    url = _absolute_sqlite(hub or st.hub or default_hub_url())
    inventory_path = (st.inventory or folder / "inventory.yaml").expanduser()
    runbooks_dir = folder / "runbooks"

    # The hub first: a wrong URL or an unreachable database fails before any file is written.
    async def migrate(h: Hub) -> list[str]:
        return await h.migrate()

    applied = run_hub(url, migrate)

    def rel(p: Path) -> str:
        try:
            return str(p.relative_to(folder))
        except ValueError:
            return str(p)

    results = [
        (_write(config_path, config_template(
            hub=url, inventory=rel(inventory_path), runbook_dirs=[rel(runbooks_dir)]),
            force=force, private=_has_password(url)), config_path),
        (_write(inventory_path, INVENTORY_EXAMPLE, force=force), inventory_path),
        (_write(runbooks_dir / "README.md", RUNBOOKS_README, force=force),
         runbooks_dir / "README.md"),
    ]
    from ccm_tui.commands._render import console

    out = console()
    for what, path in results:
        colour = {"wrote": "green", "replaced": "yellow"}.get(what, "dim")
        note = " (exists; --force overwrites)" if what == "kept" else ""
        out.print(f"[{colour}]{what:<8}[/] {path}{note}")
    schema = (f"schema applied ({', '.join(applied)})" if applied else "schema up to date")
    out.print(f"[green]{'hub':<8}[/] {redact_url(url)} — {schema}")
    out.print(
        f"\nnext: edit {inventory_path}; a host whose key is not in ~/.ssh/known_hosts "
        "needs `ccm fleet trust HOST`; then `ccm fleet probe`. Or try everything on this "
        "machine with `ccm demo`"
    )


__all__ = ["INVENTORY_EXAMPLE", "RUNBOOKS_README", "UNSET_NOTE", "config_template", "init"]
