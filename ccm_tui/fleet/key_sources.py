"""What a login could offer: the keys' sources, loaded once and named for an error message.

When a host refuses the login, the usual cause at 2 AM is not the host but the
client: the daemon runs without ``SSH_AUTH_SOCK``, the agent socket is from a
session that ended, or the inventory points at a key that is not the one in
``authorized_keys``. :func:`describe_key_sources` says which of these applies,
without asking the agent or reading any key.

:class:`ClientKeys` holds the keys a pool's logins offer: each host's identity
files, and the default keys of ``~/.ssh`` (:class:`DefaultKeys`), which asyncssh would
otherwise read and parse again for every connection (about 0.25 ms each).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

import asyncssh

from ccm_tui.core.errors import LoginRefused, SSHError

#: The private keys OpenSSH (and asyncssh) try from ``~/.ssh`` when none is configured.
DEFAULT_KEY_NAMES = ("id_ed25519", "id_ecdsa", "id_rsa", "id_ed25519_sk", "id_ecdsa_sk",
                     "id_ed448", "id_dsa")


def default_keys(home: Path | None = None) -> list[Path]:
    """The default private keys present in ``~/.ssh``, in the order they are tried."""
    folder = (home or Path.home()) / ".ssh"
    return [folder / name for name in DEFAULT_KEY_NAMES if (folder / name).is_file()]


class DefaultKeys:
    """The default private keys of ``~/.ssh``, as asyncssh would load them for a host with
    no identity file (encrypted ones skipped), re-read when a key file changes."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = home
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self._keys: list[asyncssh.SSHKeyPair] = []

    def _stamps(self) -> tuple[tuple[str, int, int], ...]:
        out = []
        for path in default_keys(self.home):
            try:
                st = path.stat()
            except OSError:
                continue
            out.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(out)

    def get(self) -> list[asyncssh.SSHKeyPair]:
        """The loaded keys (an empty list when there are none)."""
        stamp = self._stamps()
        if stamp != self._stamp:
            keys: list[asyncssh.SSHKeyPair] = []
            for path, _, _ in stamp:
                try:
                    keys.extend(asyncssh.load_keypairs(path, ignore_encrypted=True))
                except (OSError, asyncssh.KeyImportError, ValueError):
                    continue  # unreadable or of a kind this build cannot use, as ssh skips it
            self._keys, self._stamp = keys, stamp
        return self._keys


class ClientKeys:
    """The keys a login offers, loaded once per pool: a host's identity files (inventory,
    ssh config), else the default keys of ``~/.ssh``; the ssh-agent comes on top."""

    def __init__(self, home: Path | None = None) -> None:
        self._files: dict[tuple[str, ...], list[asyncssh.SSHKeyPair]] = {}
        self._default = DefaultKeys(home)

    def for_host(self, identity_files: tuple[str, ...]) -> list[asyncssh.SSHKeyPair]:
        """The keys for a host with these identity files (empty: let asyncssh look).

        Raises :class:`SSHError` naming the file when an identity file cannot be read.
        """
        if not identity_files:
            return self._default.get()
        keys = self._files.get(identity_files)
        if keys is None:
            keys = []
            for f in identity_files:
                path = os.path.expanduser(f)
                try:
                    keys.extend(asyncssh.load_keypairs(path))
                except (OSError, asyncssh.KeyImportError, ValueError) as exc:
                    # the remedy in the message too: a broadcast shows only the message
                    raise SSHError(f"cannot load identity file {path}: {exc} (nothing was "
                                   "sent to the host) — fix identity_file in the inventory, "
                                   "or add the key to ssh-agent", hint="") from None
            self._files[identity_files] = keys
        return keys


def login_refused(host: str, user: str, identity_files: Sequence[str],
                  agent_path: str | None) -> LoginRefused:
    """The error for a host that accepted none of our keys, naming what was offered."""
    sources, offered = describe_key_sources(identity_files, agent_path)
    if not offered:
        return LoginRefused(f"{host}: no key to log in as {user!r} with: {sources}")
    return LoginRefused(f"{host}: the server refused our key for user {user!r} "
                        f"(offered: {sources})")


def _agent(agent_path: str | None) -> str | None:
    """The agent part, or ``None`` when there is no agent to mention."""
    if not agent_path:
        return None
    try:
        is_socket = stat.S_ISSOCK(os.stat(agent_path).st_mode)
    except OSError:
        return f"the ssh-agent socket {agent_path} is gone"
    return f"the ssh-agent at {agent_path}" if is_socket else \
        f"{agent_path} (SSH_AUTH_SOCK) is not a socket"


def describe_key_sources(identity_files: Sequence[str], agent_path: str | None,
                         home: Path | None = None) -> tuple[str, bool]:
    """``(text, offered_any)``: where the login's keys came from, for a refusal message.

    ``identity_files`` are the host's own (inventory, ssh config); without them the
    default keys in ``~/.ssh`` are tried. ``offered_any`` is false when no key at all
    could have been offered (no file, and no agent socket that exists).
    """
    parts: list[str] = []
    offered = False
    if identity_files:
        parts += [os.path.expanduser(f) for f in identity_files]
        offered = True
    else:
        found = default_keys(home)
        parts += [str(p) for p in found] or ["no key in ~/.ssh"]
        offered = bool(found)
    agent = _agent(agent_path)
    if agent is None:
        parts.append("no ssh-agent (SSH_AUTH_SOCK is not set)")
    else:
        parts.append(agent)
        offered = offered or agent.startswith("the ssh-agent at")
    return ", ".join(parts), offered


__all__ = ["DEFAULT_KEY_NAMES", "ClientKeys", "DefaultKeys", "default_keys",
           "describe_key_sources", "login_refused"]
