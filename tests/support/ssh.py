"""Real SSH servers on 127.0.0.1 for tests and benchmarks.

Two kinds, both with real key exchange, real host keys and public-key login:

* :class:`Sshd` — a real OpenSSH ``sshd`` (package openssh-server) run in the
  foreground (``-D -e -f CONFIG``) with its own config, host key and
  ``authorized_keys`` in a temp folder, on a free port. It logs in as the current
  user (root in CI; ``PermitRootLogin prohibit-password``). Commands run in that
  user's login shell, so expect its ``.bashrc`` cost (~90 ms with pyenv).
* :class:`AsyncsshFleet` — N asyncssh servers in one background thread with its own
  event loop, cheap enough for 20–200 "hosts". Each session runs the command as a
  real local subprocess (``/bin/sh -c CMD``, clean environment plus
  ``CCM_TEST_HOST_INDEX`` = the server's index, cwd = ``home``), with stdin, stdout,
  stderr and the exit status wired through. SFTP (on the local filesystem, rooted at
  ``home`` when given) and TCP forwarding to 127.0.0.1 (so a server can be a jump
  host; requests are logged in :attr:`AsyncsshFleet.forwards`) are on by default.
  :meth:`AsyncsshFleet.drop_connections` cuts every client connection (reconnect
  tests); a fleet started with another ``host_key`` plays a reinstalled host.

Helpers: :func:`make_keypair` (files an SSH client can use), :func:`write_known_hosts`
(``[127.0.0.1]:PORT`` lines), :func:`write_ccm_inventory` / :func:`write_ansible_ini`
(inventories pointing at the servers), :func:`free_port`.

Typical use in a test::

    key = make_keypair(tmp_path / "client")
    with AsyncsshFleet(20, authorized_keys=[key.public_line]) as fleet:
        inv = write_ccm_inventory(tmp_path / "inv.yaml", fleet.hosts(), identity=key.private)
        kh = write_known_hosts(tmp_path / "known_hosts", fleet.known_hosts_entries())

Run as a program it serves a fleet until killed (the benchmark uses that so the
servers do not share a process with the clients)::

    python -m tests.support.ssh --count 200 --authorized-keys F --host-key F --ports-file F
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncssh

from ccm_tui.fleet.shell_session import kill_group, serve_in_shell
from tests.support.sshd import Sshd, SshdUnavailable

T = TypeVar("T")
LOOPBACK = "127.0.0.1"
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


# -- keys and files --------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyFiles:
    """A key pair on disk: ``private`` (mode 600), ``public`` and its one-line text."""

    private: Path
    public: Path
    public_line: str


def make_keypair(path: Path, *, comment: str = "ccm-test") -> KeyFiles:
    """Generate an Ed25519 key pair at ``path`` and ``path.pub`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    key.write_private_key(str(path))
    os.chmod(path, 0o600)
    pub = path.with_name(path.name + ".pub")
    key.write_public_key(str(pub))
    return KeyFiles(path, pub, pub.read_text().strip())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def known_hosts_line(port: int, public_line: str, address: str = LOOPBACK) -> str:
    """``[addr]:port TYPE BASE64`` (``addr TYPE BASE64`` on port 22)."""
    name = address if port == 22 else f"[{address}]:{port}"
    return f"{name} {' '.join(public_line.split()[:2])}"


def write_known_hosts(path: Path, entries: Iterable[tuple[int, str]]) -> Path:
    """Write ``(port, host public key line)`` entries as a known_hosts file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(known_hosts_line(p, k) + "\n" for p, k in entries))
    return path


def write_ccm_inventory(
    path: Path, hosts: Sequence[tuple[str, int]], *, identity: Path | None = None,
    user: str | None = None, groups: dict[str, list[str]] | None = None,
    labels: dict[str, dict[str, str]] | None = None, jump: dict[str, str] | None = None,
    python: str | None = None,
) -> Path:
    """A CCM ``inventory.yaml`` for ``(name, port)`` hosts on 127.0.0.1."""
    import yaml

    defaults: dict[str, Any] = {"user": user or _me()}
    if identity is not None:
        defaults["identity_file"] = str(identity)
    if python:
        defaults["python"] = python
    body: dict[str, Any] = {}
    for name, port in hosts:
        spec: dict[str, Any] = {"address": LOOPBACK, "port": port}
        if groups and name in groups:
            spec["groups"] = groups[name]
        if labels and name in labels:
            spec["labels"] = labels[name]
        if jump and name in jump:
            spec["jump"] = jump[name]
        body[name] = spec
    path.write_text(yaml.safe_dump({"defaults": defaults, "hosts": body}, sort_keys=False))
    return path


def write_ansible_ini(path: Path, hosts: Sequence[tuple[str, int]], *, identity: Path,
                      user: str | None = None, group: str = "fleet",
                      known_hosts: Path | None = None) -> Path:
    """An Ansible INI inventory for ``(name, port)`` hosts on 127.0.0.1.

    With ``known_hosts``, OpenSSH clients (Ansible) check host keys against it.
    """
    lines = [f"[{group}]"]
    lines += [f"{n} ansible_host={LOOPBACK} ansible_port={p}" for n, p in hosts]
    lines += [f"[{group}:vars]", f"ansible_user={user or _me()}",
              f"ansible_ssh_private_key_file={identity}"]
    if known_hosts is not None:
        lines.append(f"ansible_ssh_common_args='-o UserKnownHostsFile={known_hosts} "
                     "-o StrictHostKeyChecking=yes -o ControlMaster=no'")
    path.write_text("\n".join(lines) + "\n")
    return path


def _me() -> str:
    import getpass

    return getpass.getuser()


# -- asyncssh servers ------------------------------------------------------------------------
_CLEAN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8"}


class _Server(asyncssh.SSHServer):
    def __init__(self, fleet: AsyncsshFleet, port_index: int) -> None:
        self.fleet, self.index = fleet, port_index

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.fleet._conns.add(conn)
        conn.set_extra_info(ccm_index=self.index)
        self.fleet.accepted[self.index] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.fleet._conns = {c for c in self.fleet._conns if not c.is_closed()}

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str,
                             orig_port: int) -> bool:
        self.fleet.forwards.append((self.index, dest_host, dest_port))
        return self.fleet.allow_forwarding and dest_host in {LOOPBACK, "localhost", "::1"}



@dataclass
class AsyncsshFleet:
    """``count`` asyncssh servers on 127.0.0.1 ports, served from a background thread.

    ``authorized_keys``: public key lines allowed to log in (any user name).
    ``host_key``: one private key shared by every server (default: generated);
    ``home``: the working folder of commands (default: the current one).
    """

    count: int = 1
    authorized_keys: Sequence[str] = ()
    host_key: asyncssh.SSHKey | None = None
    home: Path | None = None
    allow_forwarding: bool = True
    sftp: bool = True
    env: dict[str, str] = field(default_factory=lambda: dict(_CLEAN_ENV))
    ports: list[int] = field(default_factory=list)
    accepted: list[int] = field(default_factory=list)
    forwards: list[tuple[int, str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.host_key = self.host_key or asyncssh.generate_private_key("ssh-ed25519")
        self._conns: set[asyncssh.SSHServerConnection] = set()
        self._running: dict[int, set[asyncio.subprocess.Process]] = {}  # by server index
        self._sessions: set[asyncio.Task[None]] = set()
        self._acceptors: list[asyncssh.SSHAcceptor] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.accepted = [0] * self.count

    # life cycle
    def start(self) -> AsyncsshFleet:
        """Start the loop thread and every server; return when all listen."""
        ready = threading.Event()

        def main() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=main, name="asyncssh-fleet", daemon=True)
        self._thread.start()
        ready.wait()
        self.call(self._start())
        return self

    def stop(self) -> None:
        """Close every server and connection and end the thread."""
        if self._loop is None:
            return
        self.call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> AsyncsshFleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the fleet's loop and return its result."""
        assert self._loop is not None, "fleet not started"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # what tests use
    @property
    def host_public_line(self) -> str:
        """The servers' host key, as a public key line."""
        assert self.host_key is not None
        return self.host_key.export_public_key().decode().strip()

    def hosts(self, prefix: str = "host-") -> list[tuple[str, int]]:
        """``(name, port)`` per server: ``host-00``, ``host-01``, …"""
        width = max(2, len(str(self.count - 1)))
        return [(f"{prefix}{i:0{width}d}", p) for i, p in enumerate(self.ports)]

    def known_hosts_entries(self) -> list[tuple[int, str]]:
        """``(port, host key line)`` per server, for :func:`write_known_hosts`."""
        return [(p, self.host_public_line) for p in self.ports]

    def open_connections(self) -> int:
        """How many client connections are open now."""
        return self.call(self._count())

    def running_commands(self, index: int | None = None) -> int:
        """How many commands (shells included) the servers are running now: all of them,
        or server ``index`` alone (other tests' commands end at times of their own)."""
        return self.call(self._running_count(index))

    def drop_connections(self) -> int:
        """Cut every client connection (as a crashed or restarted server would); return how
        many were cut."""
        return self.call(self._drop())

    # on the loop
    async def _count(self) -> int:
        return sum(1 for c in self._conns if not c.is_closed())

    async def _start(self) -> None:
        keys = asyncssh.import_authorized_keys("\n".join(self.authorized_keys) + "\n") \
            if self.authorized_keys else None
        for i in range(self.count):
            acceptor = await asyncssh.create_server(
                lambda i=i: _Server(self, i), LOOPBACK, 0,
                server_host_keys=[self.host_key], authorized_client_keys=keys,
                process_factory=self._session, encoding=None,
                sftp_factory=self._sftp if self.sftp else None, allow_scp=False,
                keepalive_interval=0, login_timeout=30,
            )
            self._acceptors.append(acceptor)
            self.ports.append(acceptor.sockets[0].getsockname()[1])

    async def _running_count(self, index: int | None) -> int:
        if index is None:
            return sum(len(procs) for procs in self._running.values())
        return len(self._running.get(index, ()))

    async def _drop(self) -> int:
        conns = [c for c in self._conns if not c.is_closed()]
        for c in conns:
            c.abort()
        for c in conns:
            await c.wait_closed()
        return len(conns)

    async def _stop(self) -> None:
        await self._drop()
        for procs in self._running.values():  # long-lived shells end with their host
            for proc in list(procs):
                kill_group(proc)
        if self._sessions:
            await asyncio.wait(list(self._sessions), timeout=5)
        for a in self._acceptors:
            a.close()
        for a in self._acceptors:
            await a.wait_closed()

    def _sftp(self, chan: asyncssh.SSHServerChannel[bytes]) -> asyncssh.SFTPServer:
        return asyncssh.SFTPServer(chan, chroot=str(self.home) if self.home else None)

    async def _session(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        command = process.command
        index = process.get_extra_info("ccm_index", 0)
        if not command:
            process.stderr.write(b"this test server runs commands only\n")
            process.exit(1)
            return
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            await serve_in_shell(
                process, command, env={**self.env, "CCM_TEST_HOST_INDEX": str(index)},
                cwd=str(self.home or Path.cwd()),
                running=self._running.setdefault(index, set()))
        finally:
            self._sessions.discard(task)


# -- a fleet as a program --------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Serve an :class:`AsyncsshFleet` until SIGTERM; write its ports to ``--ports-file``."""
    ap = argparse.ArgumentParser(prog="python -m tests.support.ssh")
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--authorized-keys", required=True, type=Path)
    ap.add_argument("--host-key", required=True, type=Path, help="private host key file")
    ap.add_argument("--ports-file", required=True, type=Path)
    args = ap.parse_args(argv)
    fleet = AsyncsshFleet(
        args.count, authorized_keys=args.authorized_keys.read_text().splitlines(),
        host_key=asyncssh.read_private_key(str(args.host_key)),
    ).start()
    tmp = args.ports_file.with_suffix(".tmp")
    tmp.write_text("\n".join(map(str, fleet.ports)) + "\n")
    tmp.replace(args.ports_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    fleet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "AsyncsshFleet",
    "KeyFiles",
    "Sshd",
    "SshdUnavailable",
    "free_port",
    "known_hosts_line",
    "make_keypair",
    "write_ansible_ini",
    "write_ccm_inventory",
    "write_known_hosts",
]
