"""Faults: kill -9 the daemon mid-task, or drop the SSH connection — the agent goes on,
a daemon re-attaches, and the hub's transcript ends complete: no gap, no duplicate."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ccm_tui.core.model import TaskState
from ccm_tui.hub import Hub
from tests.functional.daemon.conftest import FleetEnv, full_disk


def host_journal(env: FleetEnv, task_id: str) -> list[dict[str, object]]:
    path = env.tmp / "home" / ".local/state/ccm-agent/journal" / f"{task_id}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def assert_transcript_matches_journal(env: FleetEnv, hub: Hub, task_id: str) -> None:
    stored = await hub.list_events(task_id)
    journal = host_journal(env, task_id)
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    assert [(e.seq, e.type) for e in stored] == [(j["seq"], j["type"]) for j in journal]
    assert stored[-1].type == "finished"


def start_daemon_process(env: FleetEnv, hub_url: str) -> subprocess.Popen[bytes]:
    env_vars = {**os.environ, "CCM_POLICY__LEASE_SECONDS": "2", "HOME": str(env.tmp),
                "XDG_CONFIG_HOME": str(env.tmp / "config")}
    return subprocess.Popen(
        [sys.executable, "-m", "ccm_tui", "--hub", hub_url, "--inventory",
         str(env.inventory_path), "daemon", "--owner", "doomed-daemon",
         "--tmux-socket", env.tmux_socket, "--known-hosts", str(env.known_hosts)],
        env=env_vars, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)


async def test_kill_9_daemon_mid_task_then_another_daemon_takes_over(
        env: FleetEnv, hub: Hub, hub_url: str) -> None:
    root = full_disk(env.roots["web-01"])
    await hub.set_paused(True, actor="jordan", reason="hold every fix for review")
    task = await env.alert("web-01")
    doomed = start_daemon_process(env, hub_url)
    try:
        waiting = await env.wait_state(task.id, TaskState.AWAITING_APPROVAL, timeout=60)
        assert waiting.lease_owner == "doomed-daemon"
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
        assert doomed.stderr is not None
        log = doomed.stderr.read().decode()
        assert log.startswith("ccm daemon doomed-daemon: ")
        assert "[conn=" not in log  # asyncssh's per-channel chatter stays out of the log
    finally:
        if doomed.poll() is None:
            os.killpg(doomed.pid, signal.SIGKILL)
    # The agent kept running on the host, in its tmux session.
    assert f"ccm-{task.id}" in env.tmux_sessions()
    await hub.decide(task.id, "approve", actor="jordan", note="after the crash")
    survivor = await env.start_daemon(lease_seconds=3.0)
    done = await env.wait_state(task.id, TaskState.RESOLVED, TaskState.FAILED,
                                TaskState.ESCALATED, timeout=60)
    assert done.state is TaskState.RESOLVED, done.outcome
    assert done.attempts == 2  # claimed by the doomed daemon, then taken over
    assert len(list((root / "var/log/app").iterdir())) == 1
    await assert_transcript_matches_journal(env, hub, task.id)
    assert survivor.options.owner != "doomed-daemon"


async def test_dropped_ssh_connection_is_survived(env: FleetEnv, hub: Hub,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ccm.daemon")
    root = full_disk(env.roots["web-01"])
    await hub.set_paused(True, actor="jordan")
    await env.start_daemon()
    task = await env.alert("web-01")
    await env.wait_state(task.id, TaskState.AWAITING_APPROVAL)
    assert env.fleet.drop_connections() >= 1
    await asyncio.sleep(0.3)
    env.fleet.drop_connections()  # and once more while it reconnects
    await hub.decide(task.id, "approve", actor="jordan")
    done = await env.wait_state(task.id, TaskState.RESOLVED, TaskState.FAILED,
                                TaskState.ESCALATED, timeout=60)
    assert done.state is TaskState.RESOLVED, done.outcome
    assert len(list((root / "var/log/app").iterdir())) == 1
    await assert_transcript_matches_journal(env, hub, task.id)
    said = [r.getMessage() for r in caplog.records]  # what `ccm up` prints about the task
    assert f"{task.id}: waiting for approval (`ccm approve {task.id}` or reject/escalate)" \
        in said
    assert any(m.startswith(f"{task.id}: resolved · web-01 DiskFull · runbook disk-full")
               for m in said), said


async def test_unknown_host_key_is_refused(env: FleetEnv, hub: Hub) -> None:
    env.known_hosts.write_text("")  # nothing trusted
    await env.start_daemon()
    task = await env.alert("web-01")
    done = await env.wait_state(task.id, TaskState.ESCALATED, timeout=60)
    assert "ccm fleet trust" in (done.outcome or ""), done.outcome
    assert await hub.list_events(task.id) == []
    assert not Path(env.tmp / "home" / ".local/state/ccm-agent/journal").exists()


async def test_a_refused_login_escalates_naming_the_key_and_the_remedy(
        env: FleetEnv, hub: Hub) -> None:
    from tests.support.ssh import make_keypair

    stranger = make_keypair(env.tmp / "stranger" / "id_ed25519")
    env.inventory_path.write_text(env.inventory_path.read_text().replace(
        str(env.key.private), str(stranger.private)))
    await env.start_daemon()
    task = await env.alert("web-01")
    done = await env.wait_state(task.id, TaskState.ESCALATED, timeout=60)
    outcome = done.outcome or ""
    assert outcome.startswith("escalated: could not start the agent on web-01: web-01: the "
                              "server refused our key for user"), outcome
    assert f"(offered: {stranger.private}" in outcome
    assert "— load the key into ssh-agent (ssh-add) where ccm runs" in outcome
    assert await hub.list_events(task.id) == []
