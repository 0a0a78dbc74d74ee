"""Which SSH algorithms CCM offers: its defaults, and checking the ``[ssh]`` settings' names."""

from __future__ import annotations

import asyncssh

from ccm_tui.core.errors import ConfigError
from ccm_tui.fleet.ssh_types import PoolOptions

#: AES-GCM first: as strong as chacha20-poly1305 and, with AES-NI, far cheaper in asyncssh
#: (which builds a ChaCha20 cipher per packet). The rest is asyncssh's usual order.
DEFAULT_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
                   "chacha20-poly1305@openssh.com", "aes256-ctr", "aes192-ctr", "aes128-ctr")


def check_algorithms(options: PoolOptions) -> None:
    """Refuse algorithm names this SSH library does not implement, naming those it does."""
    for kind, names, what in (("kex_algs", options.kex_algs, "key exchange"),
                              ("ciphers", options.encryption_algs, "encryption")):
        if not names:
            continue
        try:
            asyncssh.SSHClientConnectionOptions(
                config=None, known_hosts=None, client_keys=None, agent_path=None,
                **{"kex_algs" if kind == "kex_algs" else "encryption_algs": list(names)})
        except ValueError as exc:
            raise ConfigError(f"[ssh] {kind}: {exc}",
                              hint=f"use {what} algorithms this CCM supports: "
                              f"{', '.join(supported_algorithms(kind))}") from None


def supported_algorithms(kind: str) -> list[str]:
    """The names ``[ssh] kex_algs`` (``kind`` "kex_algs") or ``ciphers`` may use."""
    if kind == "kex_algs":
        from asyncssh.kex import get_kex_algs as names
    else:
        from asyncssh.encryption import get_encryption_algs as names
    return [n.decode() for n in names() if not n.startswith(b"gss-")]


__all__ = ["DEFAULT_CIPHERS", "check_algorithms", "supported_algorithms"]
