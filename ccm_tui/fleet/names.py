"""What an inventory may call a host, group, user, address or jump host.

A name reaches ssh's command line (``ccm fleet trust``, the TUI's ``t``), tmux, the
terminal and the hub: one with whitespace or a control character is refused when the
inventory loads, at its ``FILE:LINE``, and so is a host or address starting with ``-``,
which ssh would read as an option.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

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


__all__ = ["CONTROL_IN_FILE", "check_name", "check_names"]
