"""`agent.pyz tail` followed over a real OpenSSH sshd: when the daemon drops the channel
and the agent writes nothing more, the tail process does not stay behind on the host."""

from __future__ import annotations

import asyncio
import shlex
import sys
import time
from pathlib import Path

from ccm_tui.fleet.inventory import FleetHost
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.ssh import SSHPool
from tests.support.ssh import KeyFiles, Sshd, write_known_hosts

REPO = Path(__file__).resolve().parents[3]


def _tails(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"tail" in cmdline and marker.encode() in cmdline:
                found.append(int(entry.name))
    return found


def test_a_dropped_tail_channel_leaves_no_tail_on_the_host(
        tmp_path: Path, sshd: Sshd, client_key: KeyFiles) -> None:
    from agent_runtime.journal import Journal

    task = f"t-taildrop{int(time.time() * 1000) % 10**8}"
    jdir = tmp_path / "journal"
    jdir.mkdir()
    with Journal(jdir / f"{task}.jsonl", task) as j:
        j.append("step", {"i": 0})  # the agent died here: nothing more comes
    known = write_known_hosts(tmp_path / "known_hosts", [(sshd.port, sshd.host_public_line)])
    host = FleetHost("real-01", address="127.0.0.1", port=sshd.port, user=sshd.user,
                     identity_files=(str(client_key.private),))
    cmd = shlex.join(["env", f"PYTHONPATH={REPO}", sys.executable, "-m", "agent_runtime",
                      "tail", task, "--journal-dir", str(jdir)])

    async def follow_then_drop() -> str:
        async with SSHPool([host], trust=TrustStore([known])) as pool, \
                pool.connection(host) as conn:
            proc = await conn.create_process(cmd, encoding="utf-8")
            first = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert _tails(task), "the tail runs on the host"
            proc.close()  # what the daemon does when it stops following
            # sshd closes the channel once the command has exited (before: never)
            await asyncio.wait_for(proc.wait_closed(), 20)
            return first

    assert '"seq":1' in asyncio.run(follow_then_drop())
    deadline = time.monotonic() + 20
    while _tails(task):
        assert time.monotonic() < deadline, "agent tail is still running on the host"
        time.sleep(0.1)
