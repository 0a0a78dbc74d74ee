"""Install the agent on hosts: push ``agent.pyz`` over SFTP and check the host.

Per host, over the pool's one connection:

1. **check** in one round trip: the host's ``python3`` (or the inventory's
   ``python``) must be ≥ 3.9, ``tmux`` must be there (agent sessions run in it), and
   the content digest of any agent already installed (:func:`content_digest`);
2. **push** the zipapp over SFTP to ``~/.local/share/ccm-agent/agent.pyz``: uploaded
   under a temporary name, then renamed over the old one (atomic: a running agent
   or a concurrent install never sees half a file); skipped when the same file is
   there already;
3. **verify**: ``python3 agent.pyz --version`` must print the version just built.

:func:`install` returns one :class:`InstallResult` per host; nothing raises for a
host's trouble.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import shlex
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from ccm_tui.core.errors import FleetError
from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.ssh import SSHPool

#: Where the agent lives on a host, relative to the login user's home
#: (``ccm fleet install --dest`` puts it elsewhere).
REMOTE_DIR = ".local/share/ccm-agent"
REMOTE_PATH = f"{REMOTE_DIR}/agent.pyz"
MIN_PYTHON = (3, 9)

_CHECK = r"""
if command -v "$1" >/dev/null 2>&1; then
  "$1" -c 'import sys, hashlib, os, zipfile
print("python=%d.%d.%d" % sys.version_info[:3])
p = sys.argv[1]
if os.path.isfile(p):
    try:
        h = hashlib.sha256()
        for i in sorted(zipfile.ZipFile(p).infolist(), key=lambda i: i.filename):
            h.update(("%s:%08x\n" % (i.filename, i.CRC)).encode())
        print("agent_digest=" + h.hexdigest())
    except Exception:
        print("agent_digest=unreadable")' "$2"
else
  echo "python=missing"
fi
if command -v tmux >/dev/null 2>&1; then echo "tmux=$(tmux -V 2>&1)"; else echo "tmux=missing"; fi
"""


def content_digest(path: Path) -> str:
    """sha256 over the zipapp's member names and CRCs: equal for equal content even when
    two builds differ in timestamps (the check script computes the same on the host)."""
    h = hashlib.sha256()
    with zipfile.ZipFile(path) as z:
        for i in sorted(z.infolist(), key=lambda i: i.filename):
            h.update(f"{i.filename}:{i.CRC:08x}\n".encode())
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class InstallResult:
    """What happened on one host.

    ``status``: ``installed`` (pushed and verified), ``unchanged`` (the same agent
    was there; verified), ``failed`` (checks or verify failed; see ``problems``), or
    what kept CCM from running anything there, in the words ``ccm run`` uses
    (``unreachable``, ``host key refused``, ``login refused``, ``timed out`` …;
    ``error_kind`` as in :class:`~ccm_tui.fleet.ssh.RunResult`).
    """

    host: str
    status: str
    python: str = ""
    tmux: str = ""
    agent_version: str = ""
    bytes_sent: int = 0
    duration: float = 0.0
    problems: tuple[str, ...] = ()
    error_kind: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in {"installed", "unchanged"}


@dataclass(frozen=True, slots=True)
class AgentBuild:
    """The zipapp to push: its file, sha256, content digest and version."""

    path: Path
    sha256: str
    version: str
    size: int = field(default=0)
    digest: str = ""


def build_agent(out_dir: Path) -> AgentBuild:
    """Build the agent zipapp into ``out_dir`` (``agent_runtime.zipapp_build``)."""
    from agent_runtime import __version__ as agent_version
    from agent_runtime.zipapp_build import build

    path = build(out_dir / "agent.pyz")
    data = path.read_bytes()
    return AgentBuild(path, hashlib.sha256(data).hexdigest(), agent_version, len(data),
                      content_digest(path))


def _parse_check(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, eq, value = line.partition("=")
        if eq:
            out[key.strip()] = value.strip()
    return out


def _version_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split("."))
    except ValueError:
        return ()


async def install_one(pool: SSHPool, host: FleetHost, agent: AgentBuild, *,
                      timeout: float = 60.0, remote_dir: str = REMOTE_DIR) -> InstallResult:
    """Check, push and verify the agent on one host.

    ``remote_dir`` is relative to the login user's home unless absolute.
    """
    t0 = time.monotonic()
    remote_path = f"{remote_dir.rstrip('/')}/agent.pyz"

    def done(status: str, problems: Sequence[str] = (), **kw: object) -> InstallResult:
        return InstallResult(host.name, status, duration=round(time.monotonic() - t0, 3),
                             problems=tuple(problems), **kw)  # type: ignore[arg-type]

    check = await pool.run(host, ["sh", "-c", _CHECK, "ccm-check", host.python, remote_path],
                           timeout=timeout)
    if check.error:
        return done(check.error_label, [check.error], error_kind=check.error_kind)
    facts = _parse_check(check.stdout)
    python, tmux = facts.get("python", "missing"), facts.get("tmux", "missing")
    problems: list[str] = []
    if python == "missing":
        problems.append(f"{host.python} not found — install Python ≥ 3.9 (or set `python` for "
                        "this host in the inventory)")
    elif _version_tuple(python) < MIN_PYTHON:
        problems.append(f"{host.python} is {python}, the agent needs ≥ 3.9 — install a newer "
                        "python3 or point `python` at one")
    if tmux == "missing":
        problems.append("tmux not found — install tmux (agent sessions run inside it)")
    if check.exit_status != 0 and not problems:
        problems.append(f"host check exited {check.exit_status}: {check.stderr.strip()[:200]}")
    facts_kw = {"python": python, "tmux": tmux.removeprefix("tmux ")}
    if any("python" in p or "exited" in p for p in problems):
        return done("failed", problems, **facts_kw)

    sent = 0
    if facts.get("agent_digest") != agent.digest:
        try:
            sent = await asyncio.wait_for(_push(pool, host, agent, remote_dir), timeout)
        except (FleetError, asyncssh.Error, OSError, TimeoutError) as exc:
            return done("failed", [*problems, f"upload failed: {exc}"], **facts_kw)

    verify = await pool.run(host, [host.python, remote_path, "--version"], timeout=timeout)
    version = verify.stdout.strip()
    if verify.error or verify.exit_status != 0:
        problems.append(f"`{host.python} {remote_path} --version` failed: "
                        f"{verify.error or verify.stderr.strip()[:200]}")
    elif version.split()[-1:] != [agent.version]:
        problems.append(f"the agent reports {version!r}, expected {agent.version}")
    status = "failed" if problems else ("installed" if sent else "unchanged")
    return done(status, problems, agent_version=version, bytes_sent=sent, **facts_kw)


async def _push(pool: SSHPool, host: FleetHost, agent: AgentBuild, remote_dir: str) -> int:
    final = f"{remote_dir.rstrip('/')}/agent.pyz"
    tmp = f"{final}.tmp-{secrets.token_hex(4)}"
    async with pool.connection(host) as conn, conn.start_sftp_client() as sftp:
        await sftp.makedirs(remote_dir, exist_ok=True)
        try:
            await sftp.put(str(agent.path), tmp)
            await sftp.chmod(tmp, 0o755)
            try:
                await sftp.posix_rename(tmp, final)
            except asyncssh.SFTPOpUnsupported:
                await sftp.rename(tmp, final, flags=asyncssh.FXR_OVERWRITE)
        except BaseException:
            try:
                await sftp.remove(tmp)
            except (asyncssh.SFTPError, OSError):
                pass
            raise
    return agent.size


async def install(
    pool: SSHPool, hosts: Sequence[FleetHost], agent: AgentBuild, *, forks: int = 20,
    timeout: float = 60.0, remote_dir: str = REMOTE_DIR,
    on_result: Callable[[InstallResult], None] | None = None,
) -> list[InstallResult]:
    """Install on every host, ``forks`` at a time; results in the order of ``hosts``."""
    sem = asyncio.Semaphore(forks)

    async def one(h: FleetHost) -> InstallResult:
        async with sem:
            r = await install_one(pool, h, agent, timeout=timeout, remote_dir=remote_dir)
        if on_result is not None:
            on_result(r)
        return r

    return list(await asyncio.gather(*(one(h) for h in hosts)))


def remote_command(host: FleetHost, *args: str) -> str:
    """The shell-quoted command that runs the installed agent with ``args`` on ``host``."""
    return shlex.join([host.python, REMOTE_PATH, *args])


__all__ = [
    "MIN_PYTHON",
    "REMOTE_PATH",
    "AgentBuild",
    "InstallResult",
    "build_agent",
    "install",
    "install_one",
    "remote_command",
]
