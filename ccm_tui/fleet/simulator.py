"""A simulated fleet on this machine: real SSH servers on 127.0.0.1, sandboxed hosts.

:class:`SimulatedFleet` is what ``ccm demo`` runs on. Each host is an asyncssh server
on a free 127.0.0.1 port whose sessions run real local subprocesses (``/bin/sh -c``),
with a filesystem root of its own (a sandbox with a disk quota declared in
``.ccm-host.json``, so disk use is the size of its files; its memory, from its
services, and its CPU, wandering around its role's usual load, are declared there
too) and a small stand-in service manager: ``systemctl`` and ``journalctl`` over unit files in the host's folder, and
``apt``/``apt-get`` over a list of pending updates. Everything lives under one folder::

    <base>/hosts/<name>/root/     the host's "/"   (inventory label ccm_root)
    <base>/hosts/<name>/bin/      systemctl, journalctl, apt, apt-get (label ccm_path)
    <base>/hosts/<name>/units/    <unit>.json state and <unit>.log journal
    <base>/hosts/<name>/updates   pending package updates (one ``apt list`` line each)
    <base>/ssh/                   the host key, the client key and known_hosts
    <base>/inventory.yaml         a CCM inventory of the fleet (groups = roles)

SFTP paths are relative to the host's ``home/`` (as on a real host), where commands
start too. The servers run on the caller's event loop; a command still running when
its session closes is killed (as sshd does), and :meth:`SimulatedFleet.stop` closes
the servers and kills every command left; what a command started in tmux lives on.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import os
import posixpath
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import yaml

from ccm_tui.fleet.shell_session import kill_group, serve_in_shell
from ccm_tui.fleet.simulator_load import CpuWander
from ccm_tui.fleet.simulator_standins import APT, JOURNALCTL, SYSTEMCTL

LOOPBACK = "127.0.0.1"
MB = 1024 * 1024
#: Roles in the order hosts are dealt out (web-01, app-01, db-01, worker-01, web-02 …).
ROLES = ("web", "app", "db", "worker")
#: The service each role runs (a stand-in unit, active at start).
SERVICES = {"web": "nginx.service", "app": "app.service", "db": "postgresql.service",
            "worker": "queue-worker.service"}
_BASE_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
#: Each simulated host's memory, and what its OS takes before any unit (its services'
#: ``mem_mb`` come on top; see :meth:`SimHost.declare_memory`).
MEMORY_MB, OS_MEMORY_MB = 8192, 350

@dataclass
class SimHost:
    """One simulated host: its name, role, port and folders."""

    name: str
    role: str
    port: int
    dir: Path

    @property
    def root(self) -> Path:
        return self.dir / "root"

    @property
    def bin(self) -> Path:
        return self.dir / "bin"

    @property
    def home(self) -> Path:
        """The login user's home: where commands start and relative SFTP paths land."""
        return self.dir / "home"

    @property
    def units(self) -> Path:
        return self.dir / "units"

    @property
    def updates(self) -> Path:
        return self.dir / "updates"

    @property
    def service(self) -> str:
        return SERVICES[self.role]

    def unit(self, name: str) -> dict[str, Any]:
        """The stand-in unit's state."""
        return dict(json.loads((self.units / f"{name}.json").read_text()))

    def set_unit(self, name: str, **changes: Any) -> None:
        """Change a stand-in unit's state (``active=False``: it crashed; ``mem_mb``: its RSS)."""
        state = self.unit(name) if (self.units / f"{name}.json").exists() else {}
        state.update(changes)
        tmp = self.units / f"{name}.json.tmp"
        tmp.write_text(json.dumps(state))
        tmp.replace(self.units / f"{name}.json")
        self.declare()

    def declare(self, cpu: tuple[float, Sequence[float]] | None = None) -> None:
        """Rewrite the host's quota file: its memory use (the OS plus its running units),
        and ``cpu`` (percent, load averages) when given.

        The probe and the agent's actions read them there. The stand-in ``systemctl``
        rewrites the memory after a restart; should the two writes cross, the next
        declaration (every :data:`~.simulator_load.EVERY` seconds) puts both right.
        """
        quota = self.root / ".ccm-host.json"
        if not quota.exists():
            return
        units = [json.loads(f.read_text()) for f in self.units.glob("*.json")]
        used = OS_MEMORY_MB + sum(u.get("mem_mb", 0) for u in units if u.get("active"))
        doc = json.loads(quota.read_text())
        doc["memory"] = {"total_bytes": MEMORY_MB * MB, "used_bytes": min(used, MEMORY_MB) * MB,
                         "os_bytes": OS_MEMORY_MB * MB}  # for the stand-in systemctl
        if cpu is not None:
            doc["cpu"] = {"pct": round(cpu[0], 1), "load": [round(x, 2) for x in cpu[1]]}
        tmp = quota.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        tmp.replace(quota)

    def journal(self, unit: str, line: str) -> None:
        """Append a line to a unit's journal."""
        import time

        with (self.units / f"{unit.removesuffix('.service')}.log").open("a") as fh:
            fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")

    def write(self, host_path: str, size: int, *, age_days: float = 0.0) -> Path:
        """A file of ``size`` bytes at ``host_path`` (under the root), ``age_days`` old."""
        import time

        path = self.root / host_path.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            fh.truncate(0)
            fh.write(b"\0" * size)  # real bytes: the quota counts file sizes
        stamp = time.time() - age_days * 86400
        os.utime(path, (stamp, stamp))
        return path

    def used_bytes(self) -> int:
        """Bytes used on the simulated "/" (what the probe computes)."""
        return sum(p.stat().st_size for p in self.root.rglob("*")
                   if p.is_file() and p.name != ".ccm-host.json")


def host_names(count: int) -> list[tuple[str, str]]:
    """``(name, role)`` for ``count`` hosts, roles dealt in turn: web-01, app-01, …"""
    seen: dict[str, int] = {}
    out = []
    for i in range(count):
        role = ROLES[i % len(ROLES)]
        seen[role] = seen.get(role, 0) + 1
        out.append((f"{role}-{seen[role]:02d}", role))
    return out


def _script(path: Path, body: str, python: str) -> None:
    path.write_text(f"#!{python} -S\n{body.lstrip()}")
    path.chmod(0o755)


@dataclass
class SimulatedFleet:
    """``count`` simulated hosts under ``base`` (see the module docstring).

    ``disk_bytes``: each host's "/" quota. Use as ``async with`` or call
    :meth:`start` and :meth:`stop`.
    """

    base: Path
    count: int = 6
    disk_bytes: int = 32 * MB
    python: str = field(default_factory=lambda: sys.executable)
    hosts: list[SimHost] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._acceptors: list[asyncssh.SSHAcceptor] = []
        self._conns: set[asyncssh.SSHServerConnection] = set()
        #: The commands running, one set per session (killed when it closes, or at stop).
        self._procs: list[set[asyncio.subprocess.Process]] = []
        self._wander: asyncio.Task[None] | None = None
        self.inventory_path = self.base / "inventory.yaml"
        self.known_hosts = self.base / "ssh" / "known_hosts"
        self.client_key = self.base / "ssh" / "id_ed25519"

    def get(self, name: str) -> SimHost:
        return next(h for h in self.hosts if h.name == name)

    def by_role(self, role: str) -> list[SimHost]:
        return [h for h in self.hosts if h.role == role]

    async def __aenter__(self) -> SimulatedFleet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Lay out the hosts, start one SSH server each, write keys and the inventory."""
        ssh_dir = self.base / "ssh"
        ssh_dir.mkdir(parents=True, exist_ok=True)
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        client = asyncssh.generate_private_key("ssh-ed25519", comment="ccm-demo")
        client.write_private_key(str(self.client_key))
        os.chmod(self.client_key, 0o600)
        keys = asyncssh.import_authorized_keys(client.export_public_key().decode())
        for name, role in host_names(self.count):
            host = SimHost(name, role, 0, self.base / "hosts" / name)
            self._lay_out(host)
            index = len(self.hosts)
            acceptor = await asyncssh.create_server(
                lambda index=index: _Server(self, index), LOOPBACK, 0,
                server_host_keys=[host_key], authorized_client_keys=keys,
                process_factory=self._session, encoding=None, allow_scp=False,
                sftp_factory=lambda chan, home=host.home: _HomeSFTP(chan, home),
                keepalive_interval=0, login_timeout=30)
            self._acceptors.append(acceptor)
            host.port = int(acceptor.sockets[0].getsockname()[1])
            self.hosts.append(host)
        wander = CpuWander(self.hosts)
        wander.step()  # declared before the first probe
        self._wander = asyncio.create_task(wander.run())
        public = " ".join(host_key.export_public_key().decode().split()[:2])
        self.known_hosts.write_text("".join(f"[{LOOPBACK}]:{h.port} {public}\n"
                                            for h in self.hosts))
        self._write_inventory()

    def _lay_out(self, host: SimHost) -> None:
        for d in (host.root, host.bin, host.units, host.home):
            d.mkdir(parents=True, exist_ok=True)
        (host.root / ".ccm-host.json").write_text(json.dumps(
            {"mounts": [{"mount": "/", "total_bytes": self.disk_bytes,
                         "total_inodes": 100_000}]}))
        _script(host.bin / "systemctl", SYSTEMCTL, self.python)
        _script(host.bin / "journalctl", JOURNALCTL, self.python)
        _script(host.bin / "apt", APT, self.python)
        _script(host.bin / "apt-get", APT, self.python)
        host.updates.write_text("")
        host.set_unit(host.service, active=True, restarts=0, pid=4242, mem_mb=120,
                      base_mem_mb=120, description=f"{host.role} service")
        host.journal(host.service, f"systemd[1]: Started {host.service}.")
        (host.root / "etc").mkdir(exist_ok=True)
        (host.root / "etc" / "hostname").write_text(host.name + "\n")
        host.write(f"/var/lib/{host.role}/data.db", int(self.disk_bytes * 0.3))
        host.write("/var/log/app/app.log", 40_000)

    def _write_inventory(self) -> None:
        body: dict[str, Any] = {}
        for h in self.hosts:
            body[h.name] = {"address": LOOPBACK, "port": h.port, "groups": [h.role],
                            "labels": {"ccm_root": str(h.root), "ccm_path": str(h.bin),
                                       "role": h.role, "simulated": "true"}}
        doc = {"defaults": {"user": getpass.getuser(), "identity_file": str(self.client_key),
                            "python": self.python},
               "hosts": body}
        self.inventory_path.write_text(yaml.safe_dump(doc, sort_keys=False))

    async def stop(self) -> None:
        """Close every server and connection; kill what sessions left running."""
        if self._wander is not None:
            self._wander.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._wander
            self._wander = None
        for conn in list(self._conns):
            conn.abort()
        for acceptor in self._acceptors:
            acceptor.close()
        for acceptor in self._acceptors:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(acceptor.wait_closed(), 5)
        self._acceptors.clear()
        procs = [proc for running in self._procs for proc in running]
        for proc in procs:
            kill_group(proc)
        for proc in procs:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 5)
        self._procs.clear()

    async def _session(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        command = process.command
        if not command:
            process.stderr.write(b"this simulated host runs commands only\n")
            process.exit(1)
            return
        host = self.hosts[process.get_extra_info("ccm_index", 0)]
        env = {"PATH": f"{host.bin}:{_BASE_PATH}", "LANG": "C.UTF-8",
               "HOME": str(host.home), "USER": getpass.getuser(),
               "CCM_SIM_HOST": host.name}
        running: set[asyncio.subprocess.Process] = set()
        self._procs.append(running)
        serve = asyncio.ensure_future(serve_in_shell(process, command, env=env,
                                                     cwd=str(host.home), running=running))
        closed = asyncio.ensure_future(process.channel.wait_closed())
        try:
            await asyncio.wait({serve, closed}, return_when=asyncio.FIRST_COMPLETED)
            if not serve.done():
                # The client closed the session (or the connection dropped) while the
                # command ran, e.g. an `agent.pyz tail` waiting for lines: end it, as a
                # real host's sshd does. What it started in tmux lives on (own session).
                for proc in list(running):
                    kill_group(proc)
            with contextlib.suppress(asyncio.CancelledError, TimeoutError, asyncssh.Error,
                                     OSError):
                await asyncio.wait_for(serve, 10)
        finally:
            closed.cancel()
            serve.cancel()  # done already, unless this session itself was cancelled
            self._procs.remove(running)


class _HomeSFTP(asyncssh.SFTPServer):
    """SFTP as on a real host: relative paths from the login user's home (not from this
    process's directory), absolute paths as they are (the commands see the same)."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], home: Path) -> None:
        super().__init__(chan)
        self._home = os.fsencode(home)

    def map_path(self, path: bytes) -> bytes:
        return path if path.startswith(b"/") else posixpath.join(self._home, path)


class _Server(asyncssh.SSHServer):
    def __init__(self, fleet: SimulatedFleet, index: int) -> None:
        self.fleet, self.index = fleet, index
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self.fleet._conns.add(conn)
        conn.set_extra_info(ccm_index=self.index)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.fleet._conns.discard(self.conn)


__all__: Sequence[str] = ["MB", "ROLES", "SERVICES", "SimHost", "SimulatedFleet",
                          "host_names"]
