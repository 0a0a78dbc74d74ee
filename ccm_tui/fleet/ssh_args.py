"""What ssh command-line arguments say about reaching a host.

Ansible inventories carry ``ansible_ssh_common_args`` / ``ansible_ssh_extra_args``,
written for OpenSSH's ``ssh``; CCM reads the two things in them that change how it
connects: a jump host (``-J``, ``-o ProxyJump=``, ``ProxyCommand="ssh -W %h:%p JUMP"``)
and the algorithms (``-o KexAlgorithms=``, ``-o Ciphers=``, ``-c``). Both skip the
shell-style parse when the option cannot be there (the common case, once per host).
"""

from __future__ import annotations

import re
import shlex

from ccm_tui.fleet.fields import algorithm_list
from ccm_tui.fleet.jump import jump_chain, proxy_command_jump


def proxy_jump(args: str, where: str = "ssh arguments") -> str | None:
    """The jump hosts in ssh arguments (``-J a,b``, ``ProxyJump=``, ``ProxyCommand=ssh
    -W``), as :func:`~.jump.jump_chain` keeps them; :class:`InventoryError` at ``where``
    for a hop that is not one."""
    lowered = args.lower()
    if "-j" not in lowered and "proxy" not in lowered:
        return None  # the common case, without a shell-style parse per host
    try:
        words = shlex.split(args)
    except ValueError:
        return None
    for i, w in enumerate(words):
        opt = words[i + 1] if i + 1 < len(words) else ""
        if w == "-J" and opt:
            return jump_chain(opt, f"{where}: -J")
        if w.startswith("-J") and len(w) > 2:
            return jump_chain(w[2:], f"{where}: -J")
        text = w[2:] if w.startswith("-o") and len(w) > 2 else opt if w == "-o" else ""
        m = re.match(r"(?i)\s*(ProxyJump|ProxyCommand)\s*[= ]\s*(.+)", text)
        if m and m.group(1).lower() == "proxyjump":
            return jump_chain(m.group(2), f"{where}: -o ProxyJump")
        if m:
            through = proxy_command_jump(m.group(2))
            return jump_chain(through, f"{where}: -o ProxyCommand") if through else None
    return None


def ssh_algorithms(args: str, option: str, where: str) -> str:
    """``-o KexAlgorithms=…`` / ``-o Ciphers=…`` (or ``-c …``) in ssh arguments, checked."""
    lowered = args.lower()
    if option not in lowered and (option != "ciphers" or "-c" not in args):
        return ""  # the common case, without a shell-style parse per host
    try:
        words = shlex.split(args)
    except ValueError:
        return ""
    for i, w in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if option == "ciphers" and w.startswith("-c") and (w[2:] or nxt):  # -c L, or -cL
            return algorithm_list(w[2:] or nxt, f"{where}: -c")
        text = nxt if w == "-o" else w[2:] if w.startswith("-o") else ""
        m = re.match(r"\s*(\w+)\s*[= ]\s*(.+)", text)
        if m and m.group(1).lower() == option:
            return algorithm_list(m.group(2).strip(), f"{where}: -o {m.group(1)}")
    return ""


__all__ = ["proxy_jump", "ssh_algorithms"]
