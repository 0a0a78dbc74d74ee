"""The fleet inventory: which hosts exist and how to reach them over SSH.

Three sources, one result (:class:`Inventory` of :class:`FleetHost`):

* CCM's own ``inventory.yaml`` (what ``ccm init`` writes)::

      defaults: {user: ops, port: 22}
      hosts:
        web-01:
          address: 192.0.2.11
          groups: [web]
          labels: {env: prod}
          jump: bastion            # inventory hosts or user@host:port specs: a,b (none: no jump)
          identity_file: ~/.ssh/ops_ed25519
          python: /usr/bin/python3
        legacy-db:
          kex_algs: +diffie-hellman-group1-sha1   # OpenSSH syntax, on top of [ssh]
          ciphers: ^aes256-ctr

* Ansible inventories as they are, INI or YAML (:mod:`.inventory_ansible`);
* ``~/.ssh/config`` (:mod:`.inventory_sshconfig`): passed as the inventory it lists
  its concrete ``Host`` entries; otherwise its settings fill in what an inventory
  host leaves unset (user, port, identity files, ProxyJump, KexAlgorithms, Ciphers),
  as ``ssh`` would.

Errors in a file raise :class:`~ccm_tui.core.errors.InventoryError` with one line:
``FILE:LINE: reason``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from ccm_tui.core.errors import InventoryError
from ccm_tui.core.model import Host
from ccm_tui.core.text import printable
from ccm_tui.fleet.fields import CONTROL_IN_FILE, algorithm_list, check_names, parse_port

#: Where ``ssh`` keeps its per-user configuration.
DEFAULT_SSH_CONFIG = Path("~/.ssh/config")


@dataclass(frozen=True, slots=True)
class FleetHost:
    """One inventory host with everything needed to reach it over SSH.

    ``address`` is what to connect to (the name when the inventory gives none);
    ``jump`` is a chain of hops as in OpenSSH's ``ProxyJump`` (``bastion`` or ``a,b``),
    each another inventory host or a ``[user@]host[:port]`` spec (see :mod:`.jump`);
    ``python`` is the interpreter that runs the agent on the host. ``kex_algs`` and
    ``ciphers`` (OpenSSH's list syntax: ``a,b``, ``+a``, ``-a*``, ``^a``) change the
    pool's ``[ssh]`` lists for this host alone, as ``KexAlgorithms`` in a ``Host``
    block of ``~/.ssh/config`` does.
    """

    name: str
    address: str = ""
    port: int = 22
    user: str = ""
    groups: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    identity_files: tuple[str, ...] = ()
    jump: str | None = None
    python: str = "python3"
    source: str = ""
    kex_algs: str = ""
    ciphers: str = ""

    @property
    def target(self) -> str:
        """The address to connect to: ``address``, else the name."""
        return self.address or self.name

    @property
    def known_hosts_name(self) -> str:
        """How known_hosts names this host: ``addr`` on port 22, else ``[addr]:port``."""
        return self.target if self.port == 22 else f"[{self.target}]:{self.port}"

    def to_host(self) -> Host:
        """The hub's view of this host (no SSH details)."""
        return Host(
            name=self.name, address=self.target, port=self.port, user=self.user,
            groups=self.groups, labels=dict(self.labels),
        )


@dataclass(slots=True)
class Inventory:
    """The hosts of an inventory, in file order, by name."""

    hosts: dict[str, FleetHost] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    #: What was read but not used (``FILE:LINE: why``): Match blocks, non-SSH hosts.
    notes: tuple[str, ...] = ()
    #: Jump hosts that are no inventory hosts but have a ``Host`` block in the ssh
    #: config (``jump: bastion`` with ``Host bastion / HostName …``), by their spec.
    hops: dict[str, FleetHost] = field(default_factory=dict)

    def __iter__(self) -> Iterator[FleetHost]:
        return iter(self.hosts.values())

    def __len__(self) -> int:
        return len(self.hosts)

    def __contains__(self, name: object) -> bool:
        return name in self.hosts

    def get(self, name: str) -> FleetHost:
        """The host called ``name``; :class:`InventoryError` naming the remedy if unknown."""
        try:
            return self.hosts[name]
        except KeyError:
            if hop := self.hops.get(name):  # an ~/.ssh/config alias: the address is its name
                where = f"[{hop.target}]" if ":" in hop.target else hop.target
                raise InventoryError(f"{name!r} is a jump host from the ssh config, not an "
                                     "inventory host", hint=f"name it by its address, as "
                                     f"in `ccm fleet trust {where}:{hop.port}`") from None
            where = f" in {', '.join(self.sources)}" if self.sources else ""
            raise InventoryError(
                f"no host named {name!r}{where}",
                hint="list the hosts with `ccm fleet list`",
            ) from None

    def select(self, pattern: str) -> list[FleetHost]:
        """The hosts a pattern matches (see :mod:`ccm_tui.fleet.patterns`), in file order."""
        from ccm_tui.fleet.patterns import select

        try:
            return select(self, pattern)
        except InventoryError:
            for term in pattern.split(","):
                name = term.strip().lstrip("!&").strip()
                note = next((n for n in self.notes if f": {name} left out: " in n), None)
                if name and name not in self.hosts and note:
                    raise InventoryError(f"host {name!r} is not in the fleet: {note}",
                                         hint="CCM reaches hosts over SSH only") from None
            raise

    def to_hosts(self) -> list[Host]:
        """Every host as the hub's :class:`~ccm_tui.core.model.Host`."""
        return [h.to_host() for h in self]

    @classmethod
    def of(cls, hosts: Iterable[FleetHost], sources: Iterable[str] = (),
           notes: Iterable[str] = ()) -> Inventory:
        """An inventory of the given hosts (later duplicates replace earlier ones)."""
        return cls({h.name: h for h in hosts}, tuple(sources), tuple(notes))


class HostSink(Protocol):
    """What :func:`sync_to_hub` needs of a hub (any :class:`ccm_tui.hub.Hub` has it)."""

    async def upsert_hosts(self, hosts: Iterable[Host]) -> int: ...


async def sync_to_hub(hub: HostSink, inventory: Inventory | Iterable[FleetHost]) -> int:
    """Write the inventory's hosts to the hub (insert or update by name); return the count."""
    return await hub.upsert_hosts([h.to_host() for h in inventory])


# -- reading -------------------------------------------------------------------------------
def detect_format(path: Path, text: str) -> str:
    """``ccm``, ``ansible-yaml``, ``ansible-ini`` or ``ssh-config`` for a file's content."""
    name = path.name.lower()
    if name in {"config", "ssh_config"} or name.endswith(".ssh_config"):
        return "ssh-config"
    meaningful = [ln for ln in text.splitlines()
                  if ln.strip() and not ln.lstrip().startswith(("#", ";"))]
    has_host = any(re.match(r"\s*Host(\s*=\s*|\s+)\S", ln, re.I) for ln in meaningful)
    ini_or_yaml = any(ln.lstrip().startswith("[") or re.match(r"\s*[^\s:=]+:(\s|$)", ln)
                      or "ansible_" in ln for ln in meaningful)
    if has_host and not ini_or_yaml:
        return "ssh-config"
    if path.suffix.lower() in {".yml", ".yaml", ".json"} or (
            meaningful and re.match(r"^[^\s=\[]+:\s*$|^---|^\{", meaningful[0])):
        from ccm_tui.fleet.yaml_lines import load_yaml

        data = load_yaml(text, str(path))
        if isinstance(data, Mapping) and "hosts" in data and set(data) <= {
                "defaults", "hosts", "version"}:
            return "ccm"
        return "ansible-yaml"
    return "ansible-ini"


def load_inventory(
    path: str | os.PathLike[str], *, ssh_config: str | os.PathLike[str] | None = DEFAULT_SSH_CONFIG,
) -> Inventory:
    """Read an inventory file of any supported format.

    ``ssh_config`` (default ``~/.ssh/config``; ``None`` to skip) fills in what the
    inventory leaves unset for a host, matching its ``Host`` patterns on the host's
    name or address. When ``path`` itself is an ssh config, its concrete hosts are the
    inventory; when it is a folder, the one inventory file in it. What was read but
    not used is described in :attr:`Inventory.notes`.
    """
    p = _inventory_file(Path(path).expanduser())
    try:
        text = p.read_text(encoding="utf-8-sig")  # -sig: Notepad starts files with a BOM
    except FileNotFoundError:
        raise InventoryError(
            f"{p}: no such inventory file",
            hint="create one with `ccm init`, or pass --inventory PATH (CCM, Ansible INI/YAML "
            "or ~/.ssh/config)",
        ) from None
    except UnicodeDecodeError as exc:
        raw = p.read_bytes()
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InventoryError(f"{p}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                             hint="save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None
    except OSError as exc:
        raise InventoryError(f"{p}: cannot read: {exc.strerror or exc}",
                             hint="check the path and its permissions") from None
    if bad := CONTROL_IN_FILE.search(text):  # YAML's reader refuses them with no line
        raise InventoryError(f"{p}:{text.count(chr(10), 0, bad.start()) + 1}: a control "
                             f"character ({printable(bad.group())}) in the inventory",
                             hint="remove it: an inventory is plain text")
    kind = detect_format(p, text)
    notes: list[str] = []
    if kind == "ssh-config":
        from ccm_tui.fleet.inventory_sshconfig import SSHConfig
        from ccm_tui.fleet.jump import config_hops

        own = SSHConfig.parse(text, p)
        found = own.hosts()
        if not found and any(b.patterns and b.line for b in own.blocks):
            own.skipped.append(f"{p}: its Host lines are all patterns (*, ?, !), which name "
                               "no host to list")
        inventory = Inventory.of(check_names(found), [str(p)], own.skipped)
        inventory.hops = config_hops(found, own.fill_in)
        return inventory
    if kind == "ccm":
        hosts = check_names(_parse_ccm(text, p))
    elif kind == "ansible-yaml":
        from ccm_tui.fleet.inventory_ansible import parse_ansible_yaml

        hosts = parse_ansible_yaml(text, p, notes)
    else:
        from ccm_tui.fleet.inventory_ansible import parse_ansible_ini

        hosts = parse_ansible_ini(text, p, notes)
    hosts = check_names(hosts)
    sources = [str(p)]
    cfg_path = Path(ssh_config).expanduser() if ssh_config is not None else None
    hops: dict[str, FleetHost] = {}
    if cfg_path is not None and cfg_path.is_file():
        from ccm_tui.fleet.inventory_sshconfig import SSHConfig
        from ccm_tui.fleet.jump import config_hops

        cfg = SSHConfig.read(cfg_path)
        hosts = [cfg.fill_in(h) for h in hosts]
        notes += cfg.skipped
        hops = config_hops(hosts, cfg.fill_in)
    from ccm_tui.fleet.jump import check_jumps

    hosts = check_jumps(hosts, p, hops)
    inventory = Inventory.of(hosts, sources, notes)
    inventory.hops = hops
    return inventory


#: What Ansible does not read as an inventory in an inventory folder.
_NOT_INVENTORY = (".cfg", ".retry", ".pyc", ".pyo", ".md", ".txt", ".orig", "~", ".bak")


def _inventory_file(p: Path) -> Path:
    """``p``, or for an Ansible inventory folder (``-i inventories/prod``) its one file."""
    if not p.is_dir():
        return p
    files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")
                   and not f.name.lower().endswith(_NOT_INVENTORY))
    if len(files) == 1:
        return files[0]
    names = ", ".join(f.name for f in files[:6]) + (" …" if len(files) > 6 else "")
    raise InventoryError(
        f"{p} is a folder with {len(files) or 'no'} inventory files"
        + (f" ({names})" if files else ""),
        hint="pass one file with --inventory PATH/FILE (its group_vars/ and host_vars/ "
        "next to it are read too)")


# -- CCM's own format ----------------------------------------------------------------------
_CCM_HOST_KEYS = {"address", "port", "user", "groups", "labels", "jump", "identity_file",
                  "identity_files", "python", "kex_algs", "ciphers"}


def _parse_ccm(text: str, path: Path) -> list[FleetHost]:
    from ccm_tui.fleet.yaml_lines import line_of, load_yaml

    twice: list[str] = []
    data = load_yaml(text, str(path), twice)
    if twice:  # in CCM's own file, a host or setting written twice is a copy-paste slip
        raise InventoryError(twice[0].replace("the later one wins", "remove one"))
    if not isinstance(data, Mapping):
        raise InventoryError(f"{path}:1: expected a mapping with `hosts:`")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        raise InventoryError(f"{path}:{line_of(data, 'defaults')}: `defaults` must be a mapping")
    hosts_node = data.get("hosts") or {}
    if not isinstance(hosts_node, Mapping):
        raise InventoryError(f"{path}:{line_of(data, 'hosts')}: `hosts` must be a mapping of "
                             "host name to settings")
    base = _ccm_fields(defaults, path, "defaults", line_of(data, "defaults"))
    out: list[FleetHost] = []
    for name, spec in hosts_node.items():
        line = line_of(hosts_node, name)
        if not isinstance(name, str) or not name.strip():
            raise InventoryError(f"{path}:{line}: a host name must be a non-empty string")
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            raise InventoryError(f"{path}:{line}: host {name!r} must be a mapping of settings")
        fields = {**base, **_ccm_fields(spec, path, name, line)}
        out.append(FleetHost(name=name, source=f"{path}:{line}", **fields))
    return out


def _ccm_fields(spec: Mapping[str, Any], path: Path, what: str, line: int) -> dict[str, Any]:
    from ccm_tui.fleet.yaml_lines import line_of

    unknown = sorted(set(spec) - _CCM_HOST_KEYS)
    if unknown:
        key = unknown[0]
        raise InventoryError(
            f"{path}:{line_of(spec, key, line)}: unknown setting {key!r} for {what}; "
            f"known: {', '.join(sorted(_CCM_HOST_KEYS))}")
    out: dict[str, Any] = {}

    def where(key: str) -> str:
        return f"{path}:{line_of(spec, key, line)}"

    for key in ("address", "user", "jump", "python"):
        if key in spec and spec[key] is not None:
            if not isinstance(spec[key], str | int):
                raise InventoryError(f"{where(key)}: `{key}` of {what} must be a string")
            out[key] = str(spec[key])
    if out.get("jump"):
        from ccm_tui.fleet.jump import jump_chain

        out["jump"] = jump_chain(out["jump"], f"{where('jump')}: `jump` of {what}")
    if "port" in spec:
        out["port"] = parse_port(spec["port"], where("port"))
    if "groups" in spec:
        groups = spec["groups"]
        if isinstance(groups, str):
            groups = [groups]
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise InventoryError(f"{where('groups')}: `groups` of {what} must be a list of names")
        out["groups"] = tuple(groups)
    if "labels" in spec:
        labels = spec["labels"] or {}
        if not isinstance(labels, Mapping):
            raise InventoryError(f"{where('labels')}: `labels` of {what} must be a mapping")
        out["labels"] = {str(k): str(v) for k, v in labels.items()}
    for key in ("identity_file", "identity_files"):
        if spec.get(key):
            files = spec[key]
            files = [files] if isinstance(files, str) else files
            if not isinstance(files, list):
                raise InventoryError(f"{where(key)}: `{key}` of {what} must be a path or list")
            out["identity_files"] = tuple(str(f) for f in files)
    for key in ("kex_algs", "ciphers"):
        if spec.get(key):
            out[key] = algorithm_list(spec[key], f"{where(key)}: `{key}` of {what}")
    return out


def with_defaults(host: FleetHost, **fields: Any) -> FleetHost:
    """``host`` with ``fields`` filled in where it has none (empty / default values)."""
    empty = {"address": "", "user": "", "port": 22, "identity_files": (), "jump": None,
             "kex_algs": "", "ciphers": ""}
    changes = {k: v for k, v in fields.items()
               if v not in (None, "", ()) and getattr(host, k) == empty.get(k)}
    return replace(host, **changes) if changes else host


__all__ = [
    "DEFAULT_SSH_CONFIG", "FleetHost", "Inventory", "detect_format", "load_inventory",
    "sync_to_hub", "with_defaults",
]
