"""Which SSH host keys CCM trusts: OpenSSH ``known_hosts`` files, read and written.

CCM trusts what ``ssh`` trusts (``~/.ssh/known_hosts``) plus its own file,
``~/.config/ccm/known_hosts`` (``$XDG_CONFIG_HOME`` respected), which is the only
file CCM writes — with ``ccm fleet trust HOST``, after showing the fingerprint. Host
names follow OpenSSH: ``addr`` on port 22, ``[addr]:port`` otherwise; patterns,
hashed names, ``@cert-authority`` and ``@revoked`` lines work (asyncssh reads them).

:class:`TrustStore` caches the parsed files and re-reads one when it changes, so a
pool of hundreds of hosts parses them once.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import asyncssh

from ccm_tui.core.errors import HostKeyError
from ccm_tui.fleet.inventory import FleetHost

TrustStatus = Literal["trusted", "unknown", "changed", "revoked"]


def ccm_known_hosts_path() -> Path:
    """CCM's own known_hosts file: ``$XDG_CONFIG_HOME/ccm/known_hosts``."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "ccm" / "known_hosts"


def default_known_hosts_files() -> list[Path]:
    """What the pool checks by default: ``~/.ssh/known_hosts`` and CCM's own file."""
    return [Path("~/.ssh/known_hosts").expanduser(), ccm_known_hosts_path()]


def fingerprint(key: asyncssh.SSHKey) -> str:
    """``SHA256:…`` as ``ssh-keygen -l`` prints it."""
    return str(key.get_fingerprint("sha256"))


def key_line_name(host: FleetHost) -> str:
    """The name a known_hosts line uses for ``host``: ``addr`` or ``[addr]:port``."""
    return host.known_hosts_name


@dataclass(frozen=True, slots=True)
class TrustRecord:
    """What :meth:`TrustStore.record` wrote, for the audit log."""

    host: str
    name: str
    key_type: str
    fingerprint: str
    file: str
    replaced: tuple[str, ...] = ()


class TrustStore:
    """The known_hosts files to check, and the one to write.

    ``files`` default to :func:`default_known_hosts_files`; ``write_to`` defaults to
    :func:`ccm_known_hosts_path` and is always checked too.
    """

    def __init__(self, files: Sequence[str | os.PathLike[str]] | None = None,
                 write_to: str | os.PathLike[str] | None = None) -> None:
        self.write_to = Path(write_to) if write_to else ccm_known_hosts_path()
        paths = [Path(f).expanduser() for f in (files if files is not None
                                                 else default_known_hosts_files())]
        if self.write_to not in paths:
            paths.append(self.write_to)
        self.files: tuple[Path, ...] = tuple(paths)
        self._stamp: tuple[tuple[int, int], ...] | None = None
        self._checked = 0.0
        self._parsed: asyncssh.SSHKnownHosts = asyncssh.SSHKnownHosts()

    def _stamps(self) -> tuple[tuple[int, int], ...]:
        out = []
        for f in self.files:
            try:
                st = f.stat()
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((0, -1))
        return tuple(out)

    def known_hosts(self) -> asyncssh.SSHKnownHosts:
        """The parsed trusted keys of every file (re-read when a file changed; the files
        are looked at no more than once a second)."""
        now = time.monotonic()
        if self._stamp is not None and now - self._checked < 1.0:
            return self._parsed
        self._checked = now
        stamp = self._stamps()
        if stamp != self._stamp:
            parsed = asyncssh.SSHKnownHosts()
            for f, (_, size) in zip(self.files, stamp, strict=True):
                if size >= 0:
                    parsed.load(f.read_text(encoding="utf-8", errors="replace"))
            self._parsed, self._stamp = parsed, stamp
        return self._parsed

    def _match(self, host: FleetHost) -> tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey]]:
        result = self.known_hosts().match(host.target, "", host.port if host.port != 22 else None)
        return list(result[0]), list(result[2])

    def status(self, host: FleetHost, key: asyncssh.SSHKey) -> TrustStatus:
        """Whether ``key`` is trusted for ``host``, unknown, changed or revoked."""
        trusted, revoked = self._match(host)
        blob = key.public_data
        if any(k.public_data == blob for k in revoked):
            return "revoked"
        if any(k.public_data == blob for k in trusted):
            return "trusted"
        return "changed" if trusted else "unknown"

    def refusal(self, h: FleetHost) -> HostKeyError:
        """The error for ``h`` presenting a key this store does not trust: changed or unknown."""
        files = ", ".join(str(f) for f in self.files)
        if self.has_entry(h):
            return HostKeyError(
                f"{h.name} ({h.known_hosts_name}): host key CHANGED — it differs from the one "
                "recorded in known_hosts; someone may be intercepting the connection, or the "
                "host was reinstalled",
                host=h.name, changed=True,
                hint=f"confirm the new key with the host's owner, then run `ccm fleet trust "
                f"{h.name}`",
            )
        return HostKeyError(
            f"{h.name} ({h.known_hosts_name}): host key unknown — not in {files}",
            host=h.name,
            hint=f"check and record its fingerprint with `ccm fleet trust {h.name}`",
        )

    def has_entry(self, host: FleetHost) -> bool:
        """Whether any key at all is recorded for ``host`` (so a mismatch means 'changed')."""
        return bool(self._match(host)[0])

    def recorded_fingerprints(self, host: FleetHost) -> list[str]:
        """Fingerprints of the keys recorded for ``host`` (empty when none)."""
        return [fingerprint(k) for k in self._match(host)[0]]

    def files_with_other_keys(self, host: FleetHost, key: asyncssh.SSHKey) -> list[Path]:
        """The files other than :attr:`write_to` that list another key for ``host``
        (after a re-key: stale lines CCM does not edit, for the user to remove)."""
        found = []
        for f in self.files:
            if f == self.write_to:
                continue
            try:
                text = f.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            one = asyncssh.SSHKnownHosts(text)
            trusted = one.match(host.target, "", host.port if host.port != 22 else None)[0]
            if any(k.public_data != key.public_data for k in trusted):
                found.append(f)
        return found

    def record(self, host: FleetHost, key: asyncssh.SSHKey) -> TrustRecord:
        """Trust ``key`` for ``host``: write it to :attr:`write_to` (atomically).

        Lines of that file naming exactly this host with another key of the same
        type are replaced (a reinstalled host); other files are never touched.
        """
        name = key_line_name(host)
        line = f"{name} {key.export_public_key('openssh').decode().strip()}"
        key_type = line.split()[1]
        self.write_to.parent.mkdir(parents=True, exist_ok=True)
        try:
            old = self.write_to.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            old = []
        kept, replaced = [], []
        for ln in old:
            parts = ln.split()
            if len(parts) >= 3 and not ln.startswith(("#", "@")) and name in parts[0].split(",") \
                    and parts[1] == key_type:
                replaced.append(ln)
                continue
            kept.append(ln)
        kept.append(line)
        fd, tmp = tempfile.mkstemp(dir=self.write_to.parent, prefix=".known_hosts.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(kept) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.write_to)
        self._stamp = None
        return TrustRecord(host=host.name, name=name, key_type=key_type,
                           fingerprint=fingerprint(key), file=str(self.write_to),
                           replaced=tuple(replaced))


def write_known_hosts(path: str | os.PathLike[str], entries: Sequence[tuple[str, int, str]]) -> Path:
    """Write a known_hosts file from ``(address, port, public key line)`` triples.

    A helper for tests and benchmarks: ``[addr]:port`` names for ports other than 22.
    """
    p = Path(path)
    lines = []
    for addr, port, pub in entries:
        name = addr if port == 22 else f"[{addr}]:{port}"
        lines.append(f"{name} {' '.join(pub.split()[:2])}")
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


__all__ = [
    "TrustRecord",
    "TrustStatus",
    "TrustStore",
    "ccm_known_hosts_path",
    "default_known_hosts_files",
    "fingerprint",
    "key_line_name",
    "write_known_hosts",
]
