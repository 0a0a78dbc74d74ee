"""What an inventory's fields may hold: names, ports, SSH algorithm lists.

Shared by every inventory reader (CCM's YAML, Ansible's INI and YAML, ssh config). A
name reaches ssh's command line (``ccm fleet trust``, the TUI's ``t``), tmux, the
terminal and the hub: one with whitespace or a control character is refused when the
inventory loads, at its ``FILE:LINE``, and so is a host or address starting with ``-``,
which ssh would read as an option.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any

from ccm_tui.core.errors import InventoryError
from ccm_tui.core.text import printable

if TYPE_CHECKING:
    from ccm_tui.fleet.inventory import FleetHost

#: Never in an inventory file: C0 controls but tab and line ends, DEL, C1, line separators.
CONTROL_IN_FILE = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
#: Whitespace, control characters, and what :func:`printable` escapes: never in a name.
_NOT_IN_NAME = re.compile("[\\s\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                          "\u202a-\u202e\u2066-\u2069]")


def check_name(name: str, what: str, where: str) -> None:
    """Refuse (:class:`InventoryError` at ``where``, ``FILE:LINE``) a ``what`` (``host``,
    ``group``, ``user``, ``address``...) that is empty or holds whitespace or a control character, or a host or
    address starting with ``-``, which ``ssh`` would read as an option."""
    label = what if what == "address" else f"{what} name"
    hint = (f"write the {what} as an IP address or DNS name" if what in ("address", "jump host")
            else f"write the {what} with letters, digits, dots, dashes, underscores only")
    if not name:
        raise InventoryError(f"{where}: a {label} is empty", hint=f"name the {what}, or remove it")
    if name.startswith("-") and what != "group":
        raise InventoryError(f"{where}: {label} '{printable(name)}' starts with '-', which ssh "
                             "would read as an option", hint=hint)
    if bad := _NOT_IN_NAME.search(name):
        c = bad.group()
        kind = (f"a space (U+{ord(c):04X})" if unicodedata.category(c) == "Zs"
                else f"a control character ({printable(c)})")
        raise InventoryError(f"{where}: {label} '{printable(name)}' holds {kind}", hint=hint)


def check_names(hosts: list[FleetHost]) -> list[FleetHost]:
    """``hosts``, once each one's name, groups, address, user and jump hosts (and their
    users) passed :func:`check_name`."""
    from ccm_tui.fleet.jump import NO_JUMP, parse_jump_spec

    for h in hosts:
        hops = [parse_jump_spec(j) for j in (h.jump or "").split(",") if j and j != NO_JUMP]
        for what, value in (("host", h.name), ("address", h.address or h.name),
                            *(("group", g) for g in h.groups),
                            *(("user", u) for u in (h.user, *(j.user for j in hops)) if u),
                            *(("jump host", j.address) for j in hops)):
            check_name(value, what, h.source or "inventory")
    return hosts


#: OpenSSH's algorithm list syntax (``KexAlgorithms``, ``Ciphers``): an optional ``+``,
#: ``-`` or ``^``, then names or wildcard patterns joined with ``,``. Whether the SSH
#: library implements them is checked when a connection pool starts.
_ALGORITHM_NAME = r"[A-Za-z0-9*?][A-Za-z0-9@._*?-]{0,63}"
ALGORITHM_LIST = re.compile(rf"^[+^-]?{_ALGORITHM_NAME}(,{_ALGORITHM_NAME})*$")


def algorithm_list(value: Any, what: str) -> str:
    """``value`` (a string, or a list joined with ``,``) as an OpenSSH algorithm list;
    :class:`InventoryError` starting with ``what`` when it is not one."""
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        value = ",".join(value)
    text = ",".join(p.strip() for p in value.split(",")) if isinstance(value, str) else ""
    if not ALGORITHM_LIST.match(text):
        raise InventoryError(f"{what}: {str(value)[:70]!r} is not a list of SSH algorithm "
                             "names (like 'curve25519-sha256,mlkem768x25519-sha256', '+NAME' "
                             "or '-chacha20*')")
    return text


def parse_port(value: Any, where: str) -> int:
    """A TCP port from an inventory value; :class:`InventoryError` at ``where`` if invalid."""
    try:
        port = int(str(value).strip())
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise InventoryError(f"{where}: port {value!r} is not a number from 1 to 65535")
    return port


__all__ = ["ALGORITHM_LIST", "CONTROL_IN_FILE", "algorithm_list", "check_name", "check_names",
           "parse_port"]
