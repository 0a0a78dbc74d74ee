"""The daemon against a real OpenSSH sshd on 127.0.0.1: alert → agent in tmux → fixed."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from pathlib import Path

from ccm_tui.core.model import DecisionKind, TaskState
from ccm_tui.daemon.dispatcher import Daemon
from ccm_tui.daemon.options import DaemonOptions
from ccm_tui.fleet.inventory import load_inventory
from ccm_tui.fleet.known_hosts import TrustStore
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.hub import Hub
from ccm_tui.ingest.parsers import parsers
from ccm_tui.ingest.pipeline import Ingestor
from tests.functional.daemon.conftest import full_disk
from tests.support.ssh import Sshd, make_keypair, write_ccm_inventory, write_known_hosts


async def test_disk_full_fixed_through_openssh(hub: Hub, tmp_path: Path) -> None:
    key = make_keypair(tmp_path / "client")
    root = full_disk(tmp_path / "root-web-01")
    sock = f"ccm-test-{secrets.token_hex(4)}"
    with Sshd(tmp_path / "sshd", [key.public_line]) as sshd:
        inv = write_ccm_inventory(tmp_path / "inventory.yaml", [("web-01", sshd.port)],
                                  identity=key.private, python="/usr/bin/python3",
                                  groups={"web-01": ["web"]},
                                  labels={"web-01": {"ccm_root": str(root)}})
        kh = write_known_hosts(tmp_path / "known_hosts", [(sshd.port, sshd.host_public_line)])
        inventory = load_inventory(inv, ssh_config=None)
        # Keep the agent and its journals in the test's folder, not in the user's home.
        options = DaemonOptions(owner="openssh-test", lease_seconds=5, poll_interval=0.5,
                                tmux_socket=sock, health_interval=None,
                                agent_path=str(tmp_path / "agent" / "agent.pyz"),
                                state_dir=str(tmp_path / "state"))
        pool = SSHPool(inventory, trust=TrustStore([kh], write_to=tmp_path / "ccm_kh"))
        daemon = Daemon(hub, pool, inventory, options)
        stop = asyncio.Event()
        runner = asyncio.create_task(daemon.run(stop))
        try:
            await asyncio.wait_for(daemon.started.wait(), 30)
            body = {"name": "DiskFull", "host": "web-01", "severity": "critical",
                    "labels": {"mountpoint": "/"}}
            [task_id] = (await Ingestor(hub).ingest(parsers()["generic"](body).alerts)).task_ids
            for _ in range(600):
                task = await hub.get_task(task_id)
                if task.state.is_terminal:
                    break
                await asyncio.sleep(0.1)
            assert task.state is TaskState.RESOLVED, task.outcome
            assert task.decision is not None and task.decision.kind is DecisionKind.AUTO
            events = await hub.list_events(task_id)
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
            assert events[-1].type == "finished"
            assert len(list((root / "var/log/app").iterdir())) == 1
            assert (tmp_path / "agent" / "agent.pyz").exists()  # pushed over SFTP
        finally:
            stop.set()
            await asyncio.wait_for(runner, 30)
            await pool.close()
            subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
