"""Ansible inventories, INI and YAML, read as they are.

Also read: what ``ansible-inventory --list`` prints (JSON), so dynamic inventories
(plugins, scripts) can be exported once and passed in. Understood: hosts (with ``[01:10]`` / ``[a:f]`` ranges and ``host:port``), groups,
``children``, ``[group:vars]`` / ``vars:``, and the connection variables
``ansible_host``, ``ansible_port``, ``ansible_user``, ``ansible_ssh_private_key_file``,
``ansible_python_interpreter``, and in ``ansible_ssh_common_args`` /
``ansible_ssh_extra_args`` a jump host (``-J``, ``-o ProxyJump=``, ``ProxyCommand="ssh
-W %h:%p JUMP"``) and the algorithms (``-o KexAlgorithms=``, ``-o Ciphers=``, ``-c``).
(read by :mod:`.ssh_args`).
Other scalar variables become labels, so ``label:env=prod`` works, except those
named like secrets (``*password*``, ``*token*``…). Hosts whose
``ansible_connection`` is not SSH (``local``, ``winrm``, ``docker``…) are left out, with a note.

Variable precedence is Ansible's: ``all`` < parent group < child group < host (groups
of one depth by ``ansible_group_priority``, then name), and
``group_vars/`` / ``host_vars/`` next to the inventory over the inventory's own.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccm_tui.core.errors import InventoryError
from ccm_tui.fleet.fields import check_name, parse_port
from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.ssh_args import proxy_jump, ssh_algorithms

_IMPLICIT = {"all", "ungrouped"}

#: ``ansible_connection`` values that mean SSH, the only way CCM reaches a host.
_SSH_CONNECTIONS = {"ssh", "smart", "paramiko", "paramiko_ssh", "ansible.builtin.ssh",
                    "ansible.legacy.ssh", "ansible.builtin.paramiko_ssh",
                    "ansible.legacy.paramiko_ssh"}


@dataclass
class _Group:
    name: str
    hosts: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)


@dataclass
class _Tree:
    """Groups and host variables as read; turned into hosts by :meth:`hosts`."""

    path: Path
    groups: dict[str, _Group] = field(default_factory=dict)
    host_vars: dict[str, dict[str, Any]] = field(default_factory=dict)
    host_lines: dict[str, int] = field(default_factory=dict)
    notes: list[str] | None = None

    def group(self, name: str) -> _Group:
        return self.groups.setdefault(name, _Group(name))

    def add_host(self, group: str, host: str, hvars: Mapping[str, Any], line: int) -> None:
        g = self.group(group)
        if host not in g.hosts:
            g.hosts.append(host)
        self.host_vars.setdefault(host, {}).update(hvars)
        self.host_lines.setdefault(host, line)

    def _parents(self) -> dict[str, list[str]]:
        parents: dict[str, list[str]] = {}
        for g in self.groups.values():
            for c in g.children:
                parents.setdefault(c, []).append(g.name)
        return parents

    def _depth(self, name: str, parents: dict[str, list[str]], seen: frozenset[str]) -> int:
        if name in seen:
            raise InventoryError(f"{self.path}: group {name!r} is its own ancestor (children loop)")
        ps = parents.get(name, [])
        return 1 + max((self._depth(p, parents, seen | {name}) for p in ps), default=0)

    def _ancestors(self, name: str, parents: dict[str, list[str]]) -> Iterator[str]:
        for p in parents.get(name, []):
            yield p
            yield from self._ancestors(p, parents)

    def read_var_files(self) -> None:
        """Ansible's ``group_vars/`` and ``host_vars/`` next to the inventory: over the
        inventory's own variables of that group or host, as in Ansible."""
        from ccm_tui.fleet.yaml_lines import load_vars

        base = self.path.parent
        targets: dict[str, dict[str, dict[str, Any]]] = {
            "group_vars": {g.name: g.vars for g in self.groups.values()},
            "host_vars": self.host_vars}
        for folder, by_name in targets.items():
            if not (base / folder).is_dir():
                continue
            for name, variables in by_name.items():
                for f in (base / folder / (name + ext) for ext in ("", ".yml", ".yaml", ".json")):
                    if f.exists():
                        variables.update(load_vars(f, self.notes))

    def _priority(self, name: str) -> int:
        try:
            return int(self.groups[name].vars.get("ansible_group_priority", 1))
        except (TypeError, ValueError):
            return 1

    def hosts(self) -> list[FleetHost]:
        self.read_var_files()
        parents = self._parents()
        depth = {g: self._depth(g, parents, frozenset()) for g in self.groups}
        direct: dict[str, list[str]] = {h: [] for h in self.host_vars}
        for grp in self.groups.values():
            for h in grp.hosts:
                direct[h].append(grp.name)
        out: list[FleetHost] = []
        for host, hvars in self.host_vars.items():
            member: list[str] = []
            for gname in direct[host]:
                for x in (gname, *self._ancestors(gname, parents)):
                    if x not in member:
                        member.append(x)
            merged: dict[str, Any] = dict(self.groups["all"].vars) if "all" in self.groups else {}
            for gname in sorted(member, key=lambda x: (depth[x], self._priority(x), x)):
                merged.update(self.groups[gname].vars)
            merged.update(hvars)
            connection = str(merged.get("ansible_connection") or "ssh")
            if connection not in _SSH_CONNECTIONS:
                if self.notes is not None:
                    self.notes.append(f"{self.path}:{self.host_lines.get(host, 1)}: {host} left "
                                      f"out: ansible_connection={connection} is not SSH")
                continue
            groups = tuple(g for g in direct[host] if g not in _IMPLICIT) + tuple(
                g for g in member if g not in _IMPLICIT and g not in direct[host])
            out.append(self._make(host, groups, merged))
        return out

    def _make(self, name: str, groups: tuple[str, ...], v: dict[str, Any]) -> FleetHost:
        where = f"{self.path}:{self.host_lines.get(name, 1)}"

        def get(*keys: str) -> str:  # a vault-encrypted value counts as unset
            for k in keys:
                if isinstance(v.get(k), str | int | float) and v[k] != "":
                    text = _INVENTORY_HOSTNAME.sub(
                        lambda m: name.split(".")[0] if m.group(1) else name, str(v[k]))
                    said = f"{k}={text} is a template CCM does not evaluate; left unset"
                    if "{{" in text and self.notes is not None and not any(
                            n.endswith(said) for n in self.notes):  # once, not per host
                        self.notes.append(f"{where}: {name}: {said}")
                    return "" if "{{" in text else text
            return ""

        port_text = get("ansible_port", "ansible_ssh_port")
        ssh_args = get("ansible_ssh_common_args") + " " + get("ansible_ssh_extra_args")
        key = get("ansible_ssh_private_key_file", "ansible_private_key_file")
        labels = {k: str(val).lower() if isinstance(val, bool) else str(val)
                  for k, val in v.items() if not k.startswith("ansible_")
                  and isinstance(val, str | int | float | bool) and not _SECRET.search(k)}
        return FleetHost(
            name=name,
            address=get("ansible_host", "ansible_ssh_host"),
            port=parse_port(port_text, where) if port_text else 22,
            user=get("ansible_user", "ansible_ssh_user", "ansible_remote_user"),
            groups=groups,
            labels=labels,
            identity_files=(key,) if key else (),
            jump=proxy_jump(ssh_args, where),
            kex_algs=ssh_algorithms(ssh_args, "kexalgorithms", where),
            ciphers=ssh_algorithms(ssh_args, "ciphers", where),
            python=python if (python := get("ansible_python_interpreter")) and not
            python.startswith("auto") else "python3",  # auto*: Ansible's discovery modes
            source=where,
        )


#: Variables never made labels: labels are shown, and stored in the hub.
_SECRET = re.compile(r"(?i)passw(or)?d|(^|_)pass($|_)|secret|(^|_)tokens?($|_)|credential"
                     r"|api_?key|private_?key")
_INVENTORY_HOSTNAME = re.compile(r"\{\{\s*inventory_hostname(_short)?\s*\}\}")


#: Characters after which ``str.split`` and ``shlex`` could disagree (quotes, escapes,
#: comments, and whitespace that only ``str.split`` splits on).
_SHELL_SYNTAX = frozenset("'\"\\#\x0b\x0c\x1c\x1d\x1e\x1f")


def _split(line: str) -> list[str]:
    """``shlex.split(line, comments=True)``; plain lines (no quotes, escapes or ``#``)
    take ``str.split``, which gives the same words far faster (inventories are long)."""
    if line.isascii() and _SHELL_SYNTAX.isdisjoint(line):
        return line.split()
    return shlex.split(line, comments=True)


# -- host ranges -------------------------------------------------------------------------
#: The most hosts one ``[START:END]`` range may make.
MAX_RANGE = 10_000
_RANGE = re.compile(r"\[([0-9a-zA-Z]+):([0-9a-zA-Z]+)(?::(\d+))?\]")


def expand_range(pattern: str, where: str) -> list[str]:
    """``web-[01:03]`` → ``web-01, web-02, web-03``; ``db-[a:c]`` → ``db-a, db-b, db-c``."""
    m = _RANGE.search(pattern)
    if not m:
        if "[" in pattern or "]" in pattern:
            raise InventoryError(f"{where}: cannot read the host range in {pattern!r}; write "
                                 "[START:END] or [START:END:STEP], e.g. web[01:20]")
        return [pattern]
    lo, hi, step_s = m.group(1), m.group(2), m.group(3)
    step = int(step_s) if step_s else 1
    head, tail = pattern[: m.start()], pattern[m.end():]
    if step < 1:
        raise InventoryError(f"{where}: the step of the host range {m.group(0)} must be 1 or more")
    if lo.isdigit() and hi.isdigit():
        width = len(lo) if lo.startswith("0") else 0
        count = len(range(int(lo), int(hi) + 1, step))
        if count > MAX_RANGE:  # checked before building: web[1:10000000] is a typo
            raise InventoryError(f"{where}: the host range {m.group(0)} makes {count} hosts; "
                                 f"more than {MAX_RANGE} in one range is taken for a typo")
        values = [str(i).zfill(width) for i in range(int(lo), int(hi) + 1, step)]
    elif len(lo) == 1 and len(hi) == 1 and lo.isalpha() and hi.isalpha():
        letters = string.ascii_letters
        values = list(letters[letters.index(lo): letters.index(hi) + 1: step])
    else:
        raise InventoryError(f"{where}: cannot expand the host range [{lo}:{hi}]")
    if not values:
        raise InventoryError(f"{where}: the host range [{lo}:{hi}] is empty")
    return [x for v in values for x in expand_range(head + v + tail, where)]


#: Ansible's ``host:port``: no ``:`` in the host outside ``[..]`` ranges, so a bare IPv6
#: address keeps its last group; an IPv6 address with a port is written ``[ADDR]:PORT``.
_HOST_PORT = re.compile(r"((?:[^:\[\]]|\[[^\]]*\])+):(\d+)")
_BRACKETED_PORT = re.compile(r"\[([^\]]+)\]:(\d+)")


def _split_host_port(token: str, where: str) -> tuple[str, dict[str, Any]]:
    m = _BRACKETED_PORT.fullmatch(token) or _HOST_PORT.fullmatch(token)
    if m:
        return m.group(1), {"ansible_port": parse_port(m.group(2), where)}
    return token, {}


def _hosts_of(token: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    """The hosts a host token names (port split off first, then ranges expanded)."""
    name, extra = _split_host_port(token, where)
    return [(h, extra) for h in expand_range(name, where)]


# -- INI ---------------------------------------------------------------------------------
def _ini_value(raw: str) -> Any:
    """As Ansible reads an INI value (a Python literal where it is one): quotes go,
    ``True``/``False`` are booleans (so the label reads ``true`` as from YAML)."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    return raw == "True" if raw in ("True", "False") else raw


def parse_ansible_ini(text: str, path: Path, notes: list[str] | None = None) -> list[FleetHost]:
    """Hosts of an Ansible INI inventory; hosts left out (not reached over SSH) are
    described in ``notes``."""
    tree = _Tree(path, notes=notes)
    tree.group("all")
    section, kind = "ungrouped", "hosts"
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        where = f"{path}:{n}"
        if not line or line.startswith(("#", ";")):
            continue
        # `[2001:db8::1]:22` is a host, as in Ansible; a header may end in a comment
        if line.startswith("[") and not _BRACKETED_PORT.fullmatch(line.split()[0]):
            section_line = re.sub(r"\s*[#;].*$", "", line)
            m = re.fullmatch(r"\[([^\]:\s]+)(?::(vars|children|hosts))?\]", section_line)
            if not m:
                raise InventoryError(f"{where}: cannot read section header {line!r}; "
                                     "use [group], [group:vars] or [group:children]")
            section, kind = m.group(1), m.group(2) or "hosts"
            check_name(section, "group", where)
            tree.group(section)
            if section != "all" and kind != "vars" and section not in tree.group("all").children:
                tree.group("all").children.append(section)
            continue
        try:
            words = _split(line)
        except ValueError as exc:
            raise InventoryError(f"{where}: {exc}") from None
        cut = next((i for i, w in enumerate(words) if w.startswith(";")), None)
        words = words[:cut] if cut is not None else words
        if not words:
            continue
        if kind == "vars":
            m = re.fullmatch(r"([A-Za-z_][\w.]*)\s*[=:]\s*(.*)", line)
            if not m:
                raise InventoryError(f"{where}: expected KEY=VALUE in [{section}:vars]")
            tree.group(section).vars[m.group(1)] = _ini_value(m.group(2).split(" #")[0].strip())
            continue
        if kind == "children":
            if len(words) != 1:
                raise InventoryError(f"{where}: one group name per line in [{section}:children]")
            check_name(words[0], "group", where)
            tree.group(words[0])
            if words[0] not in tree.group(section).children:
                tree.group(section).children.append(words[0])
            continue
        hvars: dict[str, Any] = {}
        for w in words[1:]:
            if "=" not in w:
                raise InventoryError(f"{where}: expected KEY=VALUE after the host name, got {w!r}")
            k, _, v = w.partition("=")
            hvars[k] = _ini_value(v)
        for name, extra in _hosts_of(words[0], where):
            tree.add_host(section, name, {**extra, **hvars}, n)
    return tree.hosts()


# -- YAML --------------------------------------------------------------------------------
def _key(key: Any) -> str:
    """A host or group name as written (``~``, YAML's null, is no name: empty)."""
    return "" if key is None else str(key)


def parse_ansible_yaml(text: str, path: Path, notes: list[str] | None = None) -> list[FleetHost]:
    """Hosts of an Ansible YAML inventory (``all:`` / groups with hosts, vars, children);
    hosts left out (not reached over SSH) are described in ``notes``."""
    from ccm_tui.fleet.yaml_lines import from_list_output, line_of, load_yaml

    data = load_yaml(text, str(path), notes)
    if data is None:
        return []
    if not isinstance(data, Mapping):
        raise InventoryError(f"{path}:1: expected groups at the top level (e.g. `all:`)")
    data = from_list_output(data, str(path))
    tree = _Tree(path, notes=notes)
    tree.group("all")

    def walk(name: str, node: Any, line: int) -> None:
        where = f"{path}:{line}"
        check_name(name, "group", where)
        tree.group(name)
        if node is None:
            return
        if not isinstance(node, Mapping):
            raise InventoryError(f"{where}: group {name!r} must be a mapping of hosts/vars/children")
        unknown = set(node) - {"hosts", "vars", "children"}
        if unknown:
            key = sorted(map(str, unknown))[0]
            raise InventoryError(f"{path}:{line_of(node, key, line)}: unexpected key {key!r} in "
                                 f"group {name!r}; expected hosts, vars or children")
        for section in ("hosts", "vars", "children"):
            value = node.get(section)
            if value is not None and not isinstance(value, Mapping):
                raise InventoryError(f"{path}:{line_of(node, section, line)}: `{section}` of "
                                     f"group {name!r} must be a mapping")
        for host, hvars in (node.get("hosts") or {}).items():
            hline = line_of(node["hosts"], host, line)
            if hvars is not None and not isinstance(hvars, Mapping):
                raise InventoryError(f"{path}:{hline}: variables of host {host!r} must be a "
                                     "mapping")
            for hn, extra in _hosts_of(_key(host), f"{path}:{hline}"):
                tree.add_host(name, hn, {**extra, **dict(hvars or {})}, hline)
        tree.group(name).vars.update(dict(node.get("vars") or {}))
        for child, cnode in (node.get("children") or {}).items():
            if _key(child) not in tree.group(name).children:
                tree.group(name).children.append(_key(child))
            walk(_key(child), cnode, line_of(node["children"], child, line))

    for name, node in data.items():
        walk(_key(name), node, line_of(data, name))
        if name != "all" and _key(name) not in tree.group("all").children:
            tree.group("all").children.append(_key(name))
    return tree.hosts()


__all__ = ["expand_range", "parse_ansible_ini", "parse_ansible_yaml", "proxy_jump"]
