"""Which SSH algorithms CCM offers: its defaults, and the ``[ssh]`` settings that change them.

``[ssh] kex_algs`` and ``ciphers`` use OpenSSH's syntax (``KexAlgorithms`` and
``Ciphers`` in ssh_config(5)), so what works in ``~/.ssh/config`` works here:

* ``curve25519-sha256,mlkem768x25519-sha256`` — exactly these, in this order;
* ``+diffie-hellman-group14-sha1`` — the defaults, then these (an old host);
* ``-chacha20*`` — the defaults without these (a FIPS policy, say);
* ``^curve25519-sha256`` — these first, then the rest of the defaults.

Names may hold ``*`` and ``?`` wildcards. A pattern that matches nothing this SSH
library implements is refused before any connection, with the names it does.

An inventory host's own ``kex_algs`` / ``ciphers`` (``KexAlgorithms`` / ``Ciphers`` in
its ``~/.ssh/config`` block, ``-o KexAlgorithms=`` in Ansible's ssh arguments) change
the ``[ssh]`` lists for that host alone: ``+diffie-hellman-group1-sha1`` on the one
old database server, not on the fleet.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from functools import cache

from ccm_tui.core.errors import ConfigError, InventoryError
from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.ssh_types import PoolOptions

#: AES-GCM first: as strong as chacha20-poly1305 and, with AES-NI, far cheaper in asyncssh
#: (which builds a ChaCha20 cipher per packet). The rest is asyncssh's usual order.
DEFAULT_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
                   "chacha20-poly1305@openssh.com", "aes256-ctr", "aes192-ctr", "aes128-ctr")

_WHAT = {"kex_algs": "key exchange", "ciphers": "cipher"}


def supported_algorithms(kind: str) -> list[str]:
    """The names ``[ssh] kex_algs`` (``kind`` "kex_algs") or ``ciphers`` may use."""
    return list(_supported(kind))


@cache
def _supported(kind: str) -> tuple[str, ...]:
    if kind == "kex_algs":
        from asyncssh.kex import get_kex_algs as names
    else:
        from asyncssh.encryption import get_encryption_algs as names
    return tuple(n.decode() for n in names() if not n.startswith(b"gss-"))  # no GSSAPI


def default_algorithms(kind: str) -> list[str]:
    """What CCM offers when the setting is empty."""
    if kind == "ciphers":
        return list(DEFAULT_CIPHERS)
    from asyncssh.kex import get_default_kex_algs

    return [n.decode() for n in get_default_kex_algs() if not n.startswith(b"gss-")]


def expand(spec: str, default: Sequence[str], supported: Sequence[str], what: str
           ) -> tuple[str, ...]:
    """The algorithms an OpenSSH-style ``spec`` means (raises ValueError saying why not)."""
    spec = spec.strip()
    if not spec:
        return tuple(default)
    prefix = spec[0] if spec[0] in "+-^" else ""
    patterns = [p.strip() for p in spec[len(prefix):].split(",") if p.strip()]
    matched: list[str] = []
    for pattern in patterns:
        hits = [a for a in supported if fnmatchcase(a, pattern)]
        if not hits:
            raise ValueError(f"{pattern!r} is not a {what} algorithm this CCM supports")
        matched += [h for h in hits if h not in matched]
    if prefix == "+":
        chosen = [*default, *(m for m in matched if m not in default)]
    elif prefix == "-":
        chosen = [a for a in default if a not in matched]
    elif prefix == "^":
        chosen = [*matched, *(a for a in default if a not in matched)]
    else:
        chosen = matched
    if not chosen:
        raise ValueError(f"{spec!r} leaves no {what} algorithm to offer")
    return tuple(chosen)


_Offer = tuple["tuple[str, ...] | None", "tuple[str, ...]"]


class AlgorithmChoice:
    """What a pool offers each host: ``[ssh]``'s lists, changed by the host's own."""

    def __init__(self, options: PoolOptions) -> None:
        self.kex, self.ciphers = resolve(options)
        self._by_spec: dict[tuple[str, str], _Offer] = {}

    def for_host(self, h: FleetHost) -> _Offer:
        """(key exchanges or ``None`` for the library's, ciphers) for ``h``.

        Raises :class:`InventoryError` at the host's inventory line when its lists
        name nothing this SSH library implements.
        """
        if not h.kex_algs and not h.ciphers:
            return self.kex, self.ciphers
        spec = (h.kex_algs, h.ciphers)
        offer = self._by_spec.get(spec)
        if offer is None:
            kex, ciphers = self.kex, self.ciphers
            try:
                if h.kex_algs:
                    kex = expand(h.kex_algs, self.kex or default_algorithms("kex_algs"),
                                 _supported("kex_algs"), _WHAT["kex_algs"])
                if h.ciphers:
                    ciphers = expand(h.ciphers, ciphers, _supported("ciphers"), _WHAT["ciphers"])
            except ValueError as exc:
                raise InventoryError(
                    f"{h.source or 'inventory'}: host {h.name}: {exc}",
                    hint="use OpenSSH's names (`ssh -Q kex`, `ssh -Q cipher`) this CCM "
                    "supports") from None
            offer = self._by_spec[spec] = (kex, ciphers)
        return offer


def resolve(options: PoolOptions) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """(key exchanges, ciphers) to offer; ``None`` for the SSH library's own key exchanges.

    Raises :class:`ConfigError` naming the setting and listing the supported names.
    """
    kex: tuple[str, ...] | None = None
    ciphers: tuple[str, ...] = DEFAULT_CIPHERS
    for kind, spec in (("kex_algs", options.kex_algs), ("ciphers", options.encryption_algs)):
        if not spec.strip():
            continue
        try:
            chosen = expand(spec, default_algorithms(kind), supported_algorithms(kind),
                            _WHAT[kind])
        except ValueError as exc:
            raise ConfigError(f"[ssh] {kind}: {exc}", hint=f"use OpenSSH's {_WHAT[kind]} "
                              f"names: {', '.join(supported_algorithms(kind))}") from None
        if kind == "kex_algs":
            kex = chosen
        else:
            ciphers = chosen
    return kex, ciphers


__all__ = ["DEFAULT_CIPHERS", "AlgorithmChoice", "default_algorithms", "expand", "resolve",
           "supported_algorithms"]
