"""A real OpenSSH ``sshd`` on 127.0.0.1 for tests (re-exported by :mod:`tests.support.ssh`)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def _me() -> str:
    import getpass

    return getpass.getuser()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- OpenSSH sshd ----------------------------------------------------------------------------
SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {dir}/ssh_host_ed25519_key
PidFile {dir}/sshd.pid
AuthorizedKeysFile {dir}/authorized_keys
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
MaxStartups 100:30:200
MaxSessions 20
Subsystem sftp internal-sftp
LogLevel INFO
"""


class SshdUnavailable(RuntimeError):
    """sshd is not installed or cannot start here."""


@dataclass
class Sshd:
    """A real OpenSSH sshd on 127.0.0.1 (foreground child, logs kept in :attr:`log`)."""

    workdir: Path
    authorized_keys: Sequence[str]
    port: int = 0
    #: More sshd_config lines (``KexAlgorithms curve25519-sha256``, say).
    extra_config: str = ""
    log: list[str] = field(default_factory=list)
    proc: subprocess.Popen[str] | None = None

    @property
    def user(self) -> str:
        """The user it lets in: the one running the tests."""
        return _me()

    @property
    def host_public_line(self) -> str:
        return (self.workdir / "ssh_host_ed25519_key.pub").read_text().strip()

    def start(self, timeout: float = 15) -> Sshd:
        if not os.path.exists(SSHD):
            raise SshdUnavailable("sshd is not installed (apt-get install openssh-server)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        key = self.workdir / "ssh_host_ed25519_key"
        if not key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                           check=True)
        (self.workdir / "authorized_keys").write_text("\n".join(self.authorized_keys) + "\n")
        self.port = self.port or free_port()
        cfg = self.workdir / "sshd_config"
        cfg.write_text(SSHD_CONFIG.format(port=self.port, dir=self.workdir) + self.extra_config
                       + "\n")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(cfg)], text=True,
                                     stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        listening = threading.Event()

        def drain() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:
                self.log.append(line.rstrip())
                if "Server listening" in line:
                    listening.set()
            listening.set()

        threading.Thread(target=drain, daemon=True).start()
        if not listening.wait(timeout) or self.proc.poll() is not None:
            self.stop()
            raise SshdUnavailable("sshd did not start: " + " | ".join(self.log[-5:]))
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Sshd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["Sshd", "SshdUnavailable"]
