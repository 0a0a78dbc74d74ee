"""`ccm run --procs N`: a broadcast spread over forked worker processes, and run by the
helper forked as `ccm run` starts, against real asyncssh servers — the same report as
one process, a dead worker's hosts reported as lost, the same errors, Ctrl-C leaving no
process behind, and an unused helper leaving."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ccm_tui.fleet.broadcast_workers import (
    MIN_HOSTS_PER_WORKER,
    deal,
    process_count,
    split_forks,
)
from ccm_tui.fleet.inventory import FleetHost
from tests.support.processes import in_session
from tests.support.ssh import (
    AsyncsshFleet,
    KeyFiles,
    free_port,
    write_ccm_inventory,
    write_known_hosts,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def inventory(tmp_path: Path, fleet: AsyncsshFleet, client_key: KeyFiles,
              isolated_home: Path) -> Path:
    """20 fleet hosts (host-00…host-19) + one that is down, keys trusted in ~/.ssh."""
    hosts = [*fleet.hosts()[:20], ("host-dead", free_port())]
    write_known_hosts(isolated_home / ".ssh" / "known_hosts", fleet.known_hosts_entries())
    return write_ccm_inventory(tmp_path / "inventory.yaml", hosts, identity=client_key.private)


def ccm_run(inventory: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "ccm_tui", "run", *args, "--inventory", str(inventory),
         "--json", "--timeout", "20"],
        capture_output=True, text=True, timeout=180, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """A report without what differs between two runs of it (timings, error wording)."""
    return {"summary": doc["summary"], "counts": doc["counts"], "groups": doc["groups"],
            "hosts": [(h["host"], h["exit_status"], h["ok"], h["error_kind"], h["group"],
                       h["stdout"]) for h in doc["hosts"]]}


def test_three_processes_report_what_one_does(inventory: Path) -> None:
    cmd = 'if [ "$CCM_TEST_HOST_INDEX" -lt 3 ]; then echo odd; exit 2; fi; echo same'
    one_rc, one, _ = ccm_run(inventory, cmd, "--hosts", "all", "--procs", "1")
    three_rc, three, err = ccm_run(inventory, cmd, "--hosts", "all", "--procs", "3",
                                   "--forks", "6")
    assert one_rc == three_rc == 1, err
    assert comparable(three) == comparable(one)
    assert three["summary"] == "17 identical · 3 differ · 1 unreachable"
    assert [h["host"] for h in three["hosts"]] == [f"host-{i:02d}" for i in range(20)] + [
        "host-dead"]  # the inventory's order, whichever process ran the host


def test_a_worker_that_dies_leaves_its_hosts_lost_not_missing(inventory: Path) -> None:
    script = """
import asyncio, json, os, signal, sys
from ccm_tui.fleet.broadcast_workers import spread_broadcast, start_workers
from ccm_tui.fleet.inventory import load_inventory
from ccm_tui.fleet.ssh import SSHPool
from ccm_tui.fleet.ssh_types import PoolOptions

inv = load_inventory(sys.argv[1], ssh_config=None)
hosts = [h for h in inv if h.name != "host-dead"]
workers = start_workers(inv, hosts, "echo ran", forks=10, timeout=20,
                        options=PoolOptions(), processes=2)
os.kill(workers.pids[0], signal.SIGKILL)

async def go():
    async with SSHPool(inv) as pool:
        return await spread_broadcast(pool, hosts, "echo ran", workers=workers, forks=10)

print(json.dumps(asyncio.run(go()).to_dict()))
"""
    proc = subprocess.run([sys.executable, "-c", script, str(inventory)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    by_host = {h["host"]: h for h in doc["hosts"]}
    assert len(by_host) == 20  # every host has a result: none silently missing
    for i in range(20):
        h = by_host[f"host-{i:02d}"]
        if i % 2 == 0:  # the caller's own share ran
            assert h["ok"] and h["stdout"] == "ran\n"
        else:
            assert h["error_kind"] == "lost" and not h["ok"]
            assert h["error"] == "the worker process running it was killed by signal 9"


def test_a_result_cut_short_by_a_dying_worker_is_reported_lost() -> None:
    """A worker killed while writing a result leaves half a line: the host is lost,
    the command does not fail on it."""
    import asyncio

    from ccm_tui.fleet.broadcast_workers import Workers

    whole = json.dumps({"host": "h1", "exit_status": 0, "stdout": "ok\n"})
    script = f"import os, sys; sys.stdout.write({whole!r} + '\\n' + '{{\"host\": \"h2\", \"std');" \
        " sys.stdout.flush(); os._exit(9)"
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    got: list[Any] = []
    workers = Workers.reading(proc.pid, [FleetHost("h1"), FleetHost("h2")], proc.stdout)
    asyncio.run(workers.results(got.append))
    assert [(r.host, r.ok, r.error_kind) for r in got] == [("h1", True, None),
                                                           ("h2", False, "lost")]
    assert got[1].error == "the worker process running it exited (9) before it finished"


def _sleeping(marker: str) -> int:
    found = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found += marker in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
    return found


def test_ctrl_c_stops_every_worker(inventory: Path) -> None:
    marker = "sleep 29.25"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ccm_tui", "run", marker, "--hosts", "host-0*", "--procs", "2",
         "--inventory", str(inventory), "--json", "--timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while _sleeping(marker) < 10:  # both processes' shares are running
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the hosts never started the command"
            time.sleep(0.1)
        # ccm, the broadcast helper it forked at start, and the helper's one worker
        assert len(in_session(proc.pid)) == 3
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in in_session(proc.pid)}
    assert left == {}  # no worker left behind


def test_the_command_process_leaves_ssh_to_its_helper(inventory: Path) -> None:
    """From the console script, asyncssh is imported by the helper forked at start-up
    (while the command line is parsed), never by the command process itself."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ccm_tui", "run", "echo hi", "--hosts",
         "host-0*", "--inventory", str(inventory), "--json", "--timeout", "20"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["summary"] == "10 identical"
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")]
    assert "ccm_tui.commands.run" in imported  # the command process's own imports
    assert "asyncssh" not in imported and "ccm_tui.fleet.ssh" not in imported


def test_an_error_the_helper_meets_reads_as_in_one_process(
        inventory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCM_SSH__KEX_ALGS", "curve25519-sha999")
    outputs = []
    for procs in ("1", "2"):
        proc = subprocess.run(
            [sys.executable, "-m", "ccm_tui", "run", "echo hi", "--hosts", "all", "--procs",
             procs, "--inventory", str(inventory), "--timeout", "20"],
            capture_output=True, text=True, timeout=120, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.returncode == 1 and proc.stdout == "", proc.stderr
        outputs.append(proc.stderr)
    assert "'curve25519-sha999' is not a key exchange algorithm" in outputs[0]
    assert outputs[1] == outputs[0]


def test_a_helper_nobody_uses_leaves(inventory: Path) -> None:
    """`ccm run` that stops before broadcasting (no --hosts): the helper forked at start
    sees its job pipe closed and exits; the caller is not kept waiting on its output."""
    marker = "echo helper-unused-0529"
    proc = subprocess.run([sys.executable, "-m", "ccm_tui", "run", marker, "--inventory",
                           str(inventory)], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1 and "say which hosts to run on" in proc.stderr
    deadline = time.monotonic() + 20
    while _sleeping(marker):
        assert time.monotonic() < deadline, "the helper is still running"
        time.sleep(0.1)


def hosts(n: int) -> list[FleetHost]:
    return [FleetHost(f"h{i:03d}") for i in range(n)]


def test_shares_are_dealt_round_robin_and_forks_add_up() -> None:
    shares = deal(hosts(7), 3)
    assert [[h.name for h in s] for s in shares] == [
        ["h000", "h003", "h006"], ["h001", "h004"], ["h002", "h005"]]
    assert split_forks(50, 3) == [17, 17, 16]
    assert split_forks(2, 2) == [1, 1]


def test_process_count_needs_enough_hosts_per_process() -> None:
    cpus = len(os.sched_getaffinity(0))
    assert process_count(MIN_HOSTS_PER_WORKER - 1, 50) == 1
    assert process_count(MIN_HOSTS_PER_WORKER * 64, 50) == min(cpus, 50)
    assert process_count(MIN_HOSTS_PER_WORKER * 64, 1) == 1  # one fork: one process
    assert process_count(10, 50, wanted=4) == 4  # asked for: honoured
    assert process_count(3, 50, wanted=8) == 3  # never more processes than hosts
    assert process_count(100, 2, wanted=8) == 2  # nor than forks


def test_which_command_lines_fork_a_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    from ccm_tui.fleet.broadcast_helper import wanted

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    assert wanted(["run", "uptime", "--hosts", "all"])
    assert wanted(["--hub", "sqlite:///x.db", "--inventory", "run", "run", "uptime"])
    assert not wanted(["--inventory", "run", "fleet", "list"])  # "run" is a file name
    assert not wanted(["tasks", "list", "run"])
    assert not wanted(["run", "--help"]) and not wanted(["run", "x", "--procs=1"])
    monkeypatch.setenv("CCM_BROADCAST_HELPER", "0")
    assert not wanted(["run", "uptime", "--hosts", "all"])
    monkeypatch.delenv("CCM_BROADCAST_HELPER")
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    assert not wanted(["run", "uptime", "--hosts", "all"])  # one CPU: nothing to gain
